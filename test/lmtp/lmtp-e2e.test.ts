// LMTP end to end over TCP on 127.0.0.1 and a Unix socket (issue 6, item 2): LHLO and its extensions,
// several recipients with one unknown (550 5.1.1) and one reply per accepted recipient after the
// final dot (RFC 2033 §4.2), Return-Path and Delivered-To, dot-unstuffing, user+folder delivery, SIZE
// (RFC 1870: at MAIL and during DATA), pipelining (RFC 2920), command-sequence errors, and an IMAP
// session in IDLE that sees the delivery through the store with no LMTP-specific code.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { lstatSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startLmtpServer, type LmtpServerOptions, type RunningLmtpServer } from '../../src/lmtp/lmtp-server.js';
import { ImapTestClient, logoutQuietly } from '../helpers/imap-client.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { LineClient } from '../pop3/line-client.js';
import { hashPassword } from '../../src/auth/password.js';
import { provisionUser } from '../../src/store/provision.js';

let srv: TestServer;
let lmtp: RunningLmtpServer;
const extra: RunningLmtpServer[] = [];
const clients: LineClient[] = [];
let socketDir: string;

before(async () => {
  srv = await startTestServer({ extraUsers: [{ user: 'bob', password: 'bob pw' }, { user: 'carol@example.org', password: 'c' }] });
  lmtp = await startLmtpServer({ store: srv.store, host: '127.0.0.1', port: 0, hostname: 'mx.test' });
  socketDir = await mkdtemp(join(tmpdir(), 'petrel-lmtp-'));
});

after(async () => {
  for (const c of clients) c.close();
  for (const s of extra) await s.close();
  await lmtp?.close();
  await srv?.stop();
  if (socketDir) await rm(socketDir, { recursive: true, force: true });
});

async function connect(where: { port: number } | { path: string } = { port: lmtp.port! }): Promise<LineClient> {
  const c = await LineClient.connect(where);
  clients.push(c);
  assert.match(c.greeting, /^220 mx\.test /);
  return c;
}

async function lhlo(c: LineClient): Promise<string[]> {
  c.send('LHLO client.test');
  const r = await c.reply();
  assert.match(r[r.length - 1]!, /^250 /);
  return r;
}

async function inbox(user: string, box = 'INBOX'): Promise<Array<{ uid: number; text: string }>> {
  const u = (await srv.store.getUser(user))!;
  const mb = (await srv.store.getMailbox(u.id, box))!;
  const out: Array<{ uid: number; text: string }> = [];
  for (const m of await srv.store.listMessages(mb.id)) {
    out.push({ uid: m.uid, text: (await srv.store.readBlob(m.blobId, 0, m.size)).toString('latin1') });
  }
  return out;
}

test('LHLO advertises PIPELINING, ENHANCEDSTATUSCODES, 8BITMIME, SIZE; HELO/EHLO are refused', async () => {
  const c = await connect();
  assert.match(await c.command('EHLO client.test'), /^500 5\.5\.1/);
  assert.match(await c.command('HELO client.test'), /^500 5\.5\.1/);
  assert.match(await c.command('MAIL FROM:<a@b>'), /^503 5\.5\.1/);
  const r = await lhlo(c);
  assert.equal(r[0], '250-mx.test');
  assert.deepEqual(r.slice(1).map((l) => l.slice(4)), ['PIPELINING', 'ENHANCEDSTATUSCODES', '8BITMIME', `SIZE ${64 * 1024 * 1024}`]);
  assert.match(await c.command('QUIT'), /^221 2\.0\.0/);
  await c.waitClosed();
});

test('several recipients, one unknown: one reply per accepted recipient; IDLE sees the delivery', async () => {
  const imap = await ImapTestClient.connect(srv.port);
  try {
    assert.match((await imap.command('L', 'LOGIN bob "bob pw"')).tagged, /^L OK/);
    assert.match((await imap.command('S', 'SELECT INBOX')).tagged, /^S OK/);
    imap.send('I IDLE');
    await imap.waitFor(/^\+ /);
    const before = (await inbox('bob')).length;

    const c = await connect();
    await lhlo(c);
    assert.match(await c.command('MAIL FROM:<sender@example.net> BODY=8BITMIME SIZE=200'), /^250 2\.1\.0/);
    assert.match(await c.command('RCPT TO:<alice@example.org>'), /^250 2\.1\.5/);
    assert.match(await c.command('RCPT TO:<nobody@example.org>'), /^550 5\.1\.1 <nobody@example\.org>/);
    assert.match(await c.command('RCPT TO:<bob@example.org>'), /^250 2\.1\.5/);
    assert.match(await c.command('RCPT TO:<carol@example.org>'), /^250 2\.1\.5/);
    assert.match(await c.command('DATA'), /^354 /);
    c.sendRaw('Subject: hi\r\nFrom: sender@example.net\r\n\r\n..dot line\r\nplain\r\n\xe9 8bit\r\n.\r\n');
    assert.match(await c.line(), /^250 2\.0\.0 <alice@example\.org>/);
    assert.match(await c.line(), /^250 2\.0\.0 <bob@example\.org>/);
    assert.match(await c.line(), /^250 2\.0\.0 <carol@example\.org>/);
    assert.equal(await c.command('NOOP'), '250 2.0.0 OK');

    const body = 'Subject: hi\r\nFrom: sender@example.net\r\n\r\n.dot line\r\nplain\r\n\xe9 8bit\r\n';
    const bob = await inbox('bob');
    assert.equal(bob.length, before + 1);
    assert.equal(bob[bob.length - 1]!.text, `Return-Path: <sender@example.net>\r\nDelivered-To: bob@example.org\r\n${body}`);
    const alice = await inbox('alice');
    assert.equal(alice[alice.length - 1]!.text, `Return-Path: <sender@example.net>\r\nDelivered-To: alice@example.org\r\n${body}`);
    // A user whose account name is the whole address.
    const carol = await inbox('carol@example.org');
    assert.equal(carol.length, 1);

    await imap.waitFor(new RegExp(`^\\* ${before + 1} EXISTS$`));
    imap.send('DONE');
    await imap.readTagged('I');
  } finally {
    await logoutQuietly(imap);
  }
});

test('user+folder delivers into the folder when it exists, else INBOX; a null sender gives Return-Path <>', async () => {
  const alice = (await srv.store.getUser('alice'))!;
  await srv.store.createMailbox(alice.id, 'Lists');
  await srv.store.createMailbox(alice.id, 'Lists/petrel');
  const listsBefore = (await inbox('alice', 'Lists')).length;
  const inboxBefore = (await inbox('alice')).length;
  const c = await connect();
  await lhlo(c);
  assert.match(await c.command('MAIL FROM:<>'), /^250/);
  assert.match(await c.command('RCPT TO:<alice+Lists@example.org>'), /^250/);
  assert.match(await c.command('RCPT TO:<alice+Lists/petrel@example.org>'), /^250/);
  assert.match(await c.command('RCPT TO:<alice+no-such-folder@example.org>'), /^250/);
  assert.match(await c.command('RCPT TO:<nobody+Lists@example.org>'), /^550 5\.1\.1/);
  assert.match(await c.command('DATA'), /^354/);
  c.sendRaw('Subject: list mail\r\n\r\nx\r\n.\r\n');
  for (let i = 0; i < 3; i++) assert.match(await c.line(), /^250 2\.0\.0/);
  const lists = await inbox('alice', 'Lists');
  assert.equal(lists.length, listsBefore + 1);
  assert.equal(lists[lists.length - 1]!.text, 'Return-Path: <>\r\nDelivered-To: alice+Lists@example.org\r\nSubject: list mail\r\n\r\nx\r\n');
  assert.equal((await inbox('alice', 'Lists/petrel')).length, 1);
  const box = await inbox('alice');
  assert.equal(box.length, inboxBefore + 1);
  assert.match(box[box.length - 1]!.text, /^Return-Path: <>\r\nDelivered-To: alice\+no-such-folder@example\.org\r\n/);
});

test('a recipient named twice is delivered once and answered twice', async () => {
  const before = (await inbox('bob')).length;
  const c = await connect();
  await lhlo(c);
  assert.match(await c.command('MAIL FROM:<x@y>'), /^250/);
  assert.match(await c.command('RCPT TO:<bob@a.example>'), /^250/);
  assert.match(await c.command('RCPT TO:<bob@b.example>'), /^250/);
  assert.match(await c.command('DATA'), /^354/);
  c.sendRaw('Subject: twice\r\n\r\n.\r\n');
  assert.match(await c.line(), /^250 2\.0\.0/);
  assert.match(await c.line(), /^250 2\.0\.0/);
  assert.equal((await inbox('bob')).length, before + 1);
});

test('SIZE: a declared size over the limit is refused at MAIL, a larger message at the final dot', async () => {
  const small = await startLmtpServer({ store: srv.store, host: '127.0.0.1', port: 0, hostname: 'mx.test', maxMessageSize: 1000 });
  extra.push(small);
  const before = (await inbox('bob')).length;
  const c = await connect({ port: small.port! });
  const caps = await lhlo(c);
  assert.equal(caps[caps.length - 1], '250 SIZE 1000');
  assert.match(await c.command('MAIL FROM:<x@y> SIZE=1001'), /^552 5\.3\.4/);
  assert.match(await c.command('MAIL FROM:<x@y> SIZE=900'), /^250/);
  assert.match(await c.command('RCPT TO:<bob>'), /^250/);
  assert.match(await c.command('RCPT TO:<alice>'), /^250/);
  assert.match(await c.command('DATA'), /^354/);
  c.sendRaw(`Subject: big\r\n\r\n${'0123456789abcdef\r\n'.repeat(100)}.\r\n`);
  assert.match(await c.line(), /^552 5\.3\.4/);
  assert.match(await c.line(), /^552 5\.3\.4/);
  assert.equal((await inbox('bob')).length, before);
  // The session goes on: a small message is delivered.
  assert.match(await c.command('MAIL FROM:<x@y>'), /^250/);
  assert.match(await c.command('RCPT TO:<bob>'), /^250/);
  assert.match(await c.command('DATA'), /^354/);
  c.sendRaw('Subject: small\r\n\r\nok\r\n.\r\n');
  assert.match(await c.line(), /^250 2\.0\.0/);
  assert.equal((await inbox('bob')).length, before + 1);
});

test('quota: a recipient the message would push over it gets 552 5.2.2 while the others get it; a full one is refused at RCPT', async () => {
  // Three fresh accounts: empty, 600 octets held, 800 octets held; a 700-octet quota.
  const held = async (name: string, octets: number) => {
    const u = await provisionUser(srv.store, name, await hashPassword('pw'));
    if (octets > 0) {
      const inboxBox = (await srv.store.getMailbox(u.id, 'INBOX'))!;
      const m = await srv.store.prepare(Buffer.from(`Subject: filler\r\n\r\n${'x'.repeat(octets - 23)}\r\n`));
      await srv.store.append(inboxBox.id, [{ message: m, flags: [] }]);
    }
  };
  await held('qempty', 0);
  await held('qhalf', 600);
  await held('qfull', 800);
  const q = await startLmtpServer({ store: srv.store, host: '127.0.0.1', port: 0, hostname: 'mx.test', quota: 700 });
  extra.push(q);
  const c = await connect({ port: q.port! });
  await lhlo(c);
  // Pipelined, one write: the full account is refused at RCPT, the unknown one too; the message then fits
  // the empty account but not the half-full one.
  c.sendRaw('MAIL FROM:<s@example.net>\r\nRCPT TO:<qempty>\r\nRCPT TO:<qfull>\r\nRCPT TO:<nobody>\r\nRCPT TO:<qhalf>\r\nDATA\r\n');
  assert.match(await c.line(), /^250 2\.1\.0/);
  assert.match(await c.line(), /^250 2\.1\.5 <qempty>/);
  assert.match(await c.line(), /^552 5\.2\.2 <qfull> Mailbox full/);
  assert.match(await c.line(), /^550 5\.1\.1 <nobody>/);
  assert.match(await c.line(), /^250 2\.1\.5 <qhalf>/);
  assert.match(await c.line(), /^354/);
  c.sendRaw(`Subject: q\r\n\r\n${'y'.repeat(150)}\r\n.\r\n`);
  assert.match(await c.line(), /^250 2\.0\.0 <qempty>/);
  assert.match(await c.line(), /^552 5\.2\.2 <qhalf> Mailbox full/);
  assert.equal((await inbox('qempty')).length, 1);
  assert.equal((await inbox('qhalf')).length, 1);
  assert.equal((await inbox('qfull')).length, 1);
  // A small one still fits the half-full account.
  assert.match(await c.command('MAIL FROM:<s@example.net>'), /^250/);
  assert.match(await c.command('RCPT TO:<qhalf>'), /^250/);
  assert.match(await c.command('DATA'), /^354/);
  c.sendRaw('Subject: s\r\n\r\nok\r\n.\r\n');
  assert.match(await c.line(), /^250 2\.0\.0 <qhalf>/);
  assert.equal((await inbox('qhalf')).length, 2);
});

test('a whole pipelined transaction in one write, QUIT included', async () => {
  const before = (await inbox('alice')).length;
  const c = await connect();
  c.sendRaw(
    'LHLO client.test\r\nMAIL FROM:<p@q>\r\nRCPT TO:<alice>\r\nRCPT TO:<ghost>\r\nDATA\r\n' +
      'Subject: piped\r\n\r\nbody\r\n.\r\nMAIL FROM:<p@q>\r\nRCPT TO:<alice>\r\nDATA\r\nSubject: second\r\n\r\n.\r\nQUIT\r\n',
  );
  const r = await c.reply();
  assert.equal(r[r.length - 1]!.slice(0, 4), '250 ');
  assert.match(await c.line(), /^250 2\.1\.0/);
  assert.match(await c.line(), /^250 2\.1\.5/);
  assert.match(await c.line(), /^550 5\.1\.1/);
  assert.match(await c.line(), /^354/);
  assert.match(await c.line(), /^250 2\.0\.0 <alice>/);
  assert.match(await c.line(), /^250 2\.1\.0/);
  assert.match(await c.line(), /^250 2\.1\.5/);
  assert.match(await c.line(), /^354/);
  assert.match(await c.line(), /^250 2\.0\.0 <alice>/);
  assert.match(await c.line(), /^221/);
  await c.waitClosed();
  const box = await inbox('alice');
  assert.equal(box.length, before + 2);
  assert.match(box[box.length - 2]!.text, /Subject: piped\r\n\r\nbody\r\n$/);
  assert.match(box[box.length - 1]!.text, /Subject: second\r\n\r\n$/);
});

test('command sequence and syntax errors get their codes and the session goes on', async () => {
  const c = await connect();
  await lhlo(c);
  assert.match(await c.command('RCPT TO:<alice>'), /^503 5\.5\.1/);
  assert.match(await c.command('DATA'), /^503 5\.5\.1/);
  assert.match(await c.command('MAIL FROM:alice'), /^501 5\.5\.4/);
  assert.match(await c.command('MAIL FROM:<a@b> BODY=BINARYMIME'), /^501 5\.5\.4/);
  assert.match(await c.command('MAIL FROM:<a@b> SMTPUTF8'), /^555 5\.5\.4/);
  assert.match(await c.command('MAIL FROM:<a@b> SIZE=abc'), /^501 5\.5\.4/);
  assert.match(await c.command('MAIL FROM:<a@b>'), /^250/);
  assert.match(await c.command('MAIL FROM:<a@b>'), /^503 5\.5\.1/);
  assert.match(await c.command('RCPT TO:<>'), /^501 5\.1\.3/);
  assert.match(await c.command('RCPT TO:<alice> NOTIFY=NEVER'), /^555 5\.5\.4/);
  assert.match(await c.command('RCPT TO:<nobody>'), /^550 5\.1\.1/);
  // No successful RCPT: DATA fails with 503 (RFC 2033 §4.2).
  assert.match(await c.command('DATA'), /^503 5\.5\.1/);
  assert.match(await c.command('RSET'), /^250 2\.0\.0/);
  assert.match(await c.command('RCPT TO:<alice>'), /^503/);
  assert.match(await c.command('VRFY alice'), /^252 2\.5\.0/);
  assert.match(await c.command('NOOP'), /^250 2\.0\.0/);
  assert.match(await c.command('EXPN staff'), /^500 5\.5\.1/);
  assert.match(await c.command('BDAT 10 LAST'), /^500 5\.5\.1/);
  assert.match(await c.command(`NOOP ${'x'.repeat(5000)}`), /^500 5\.5\.2/);
  assert.match(await c.command('\x01\x02'), /^500 5\.5\.2/);
  assert.match(await c.command('LHLO'), /^501/);
  assert.match(await c.command('QUIT'), /^221/);
});

test('a foreign domain is refused when domains are configured', async () => {
  const s = await startLmtpServer({ store: srv.store, host: '127.0.0.1', port: 0, hostname: 'mx.test', domains: ['Example.org'] });
  extra.push(s);
  const c = await connect({ port: s.port! });
  await lhlo(c);
  assert.match(await c.command('MAIL FROM:<a@b>'), /^250/);
  assert.match(await c.command('RCPT TO:<alice@example.ORG>'), /^250/);
  assert.match(await c.command('RCPT TO:<alice@elsewhere.net>'), /^550 5\.1\.2/);
  assert.match(await c.command('RCPT TO:<alice>'), /^250/);
});

test('Unix socket listener; a stale socket file is replaced, a regular file is not', async () => {
  const path = join(socketDir, 'lmtp.sock');
  const first = await startLmtpServer({ store: srv.store, host: '127.0.0.1', port: null, socketPath: path, hostname: 'mx.test' });
  assert.equal(first.port, null);
  assert.equal(first.socketPath, path);
  // A second server on a live socket is refused.
  await assert.rejects(startLmtpServer({ store: srv.store, host: '127.0.0.1', port: null, socketPath: path }), /in use/);
  const c = await connect({ path });
  await lhlo(c);
  assert.match(await c.command('MAIL FROM:<a@b>'), /^250/);
  assert.match(await c.command('RCPT TO:<bob>'), /^250/);
  assert.match(await c.command('DATA'), /^354/);
  c.sendRaw('Subject: via socket\r\n\r\n.\r\n');
  assert.match(await c.line(), /^250 2\.0\.0/);
  assert.match(await c.command('QUIT'), /^221/);
  await first.close();

  // A socket file left by a process killed with SIGKILL (nothing listens on it any more).
  await new Promise<void>((resolve, reject) => {
    const script = `require('net').createServer().listen(${JSON.stringify(path)}, () => process.kill(process.pid, 'SIGKILL'))`;
    const child = spawn(process.execPath, ['-e', script], { stdio: 'ignore' });
    child.on('error', reject);
    child.on('exit', () => resolve());
  });
  assert.ok(lstatSync(path).isSocket(), 'stale socket file present');
  const second = await startLmtpServer({ store: srv.store, host: '127.0.0.1', port: null, socketPath: path, hostname: 'mx.test' });
  extra.push(second);
  const d = await connect({ path });
  assert.match(await d.command('QUIT'), /^221/);

  const plain = join(socketDir, 'not-a-socket');
  await writeFile(plain, 'keep me');
  await assert.rejects(startLmtpServer({ store: srv.store, host: '127.0.0.1', port: null, socketPath: plain } as LmtpServerOptions), /not a socket/);
});
