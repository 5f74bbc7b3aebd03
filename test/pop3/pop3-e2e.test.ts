// POP3 end to end over sockets on 127.0.0.1 (issue 6, item 1): the POP3 listener and the IMAP server on
// one store. USER/PASS and AUTH PLAIN, STAT/LIST/UIDL/TOP/RETR (byte-stuffing, CRLF for bare-LF mail),
// DELE + RSET, QUIT's UPDATE state expunging only the marked messages (IMAP then sees EXPUNGE), the
// maildrop lock ([IN-USE]), the login snapshot, UIDL stability, STLS and POP3S, errors that keep the
// connection, pipelining, the failed-login lock-out answer and autologout.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { generate } from 'selfsigned';
import { startPop3Server, type RunningPop3Server, type Pop3ServerOptions } from '../../src/pop3/pop3-server.js';
import { ImapTestClient, logoutQuietly } from '../helpers/imap-client.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { hashPassword } from '../../src/auth/password.js';
import { provisionUser } from '../../src/store/provision.js';
import { LineClient } from './line-client.js';

let srv: TestServer;
const pop3Servers: RunningPop3Server[] = [];
const clients: LineClient[] = [];
let userCounter = 0;

before(async () => {
  srv = await startTestServer();
});

after(async () => {
  for (const c of clients) c.close();
  for (const p of pop3Servers) await p.close();
  await srv?.stop();
});

async function pop3(opts: Partial<Pop3ServerOptions> = {}): Promise<RunningPop3Server> {
  const p = await startPop3Server({ store: srv.store, host: '127.0.0.1', port: 0, tlsPort: null, tls: null, ...opts });
  pop3Servers.push(p);
  return p;
}

let shared: RunningPop3Server | null = null;
async function sharedServer(): Promise<RunningPop3Server> {
  shared ??= await pop3();
  return shared;
}

async function connect(port?: number): Promise<LineClient> {
  const c = await LineClient.connect({ port: port ?? (await sharedServer()).port! });
  clients.push(c);
  assert.match(c.greeting, /^\+OK /);
  return c;
}

/** A fresh account (each test gets its own maildrop) with the given messages in INBOX. */
async function account(messages: string[]): Promise<{ name: string; password: string; inboxId: number; uids: number[] }> {
  const name = `pop${++userCounter}`;
  const password = `secret ${userCounter}`;
  const user = await provisionUser(srv.store, name, await hashPassword(password));
  const inbox = (await srv.store.getMailbox(user.id, 'INBOX'))!;
  const uids: number[] = [];
  for (const m of messages) {
    const prepared = await srv.store.prepare(Buffer.from(m, 'latin1'));
    const r = await srv.store.append(inbox.id, [{ message: prepared, flags: [] }]);
    uids.push(...r.uids);
  }
  return { name, password, inboxId: inbox.id, uids };
}

async function login(c: LineClient, name: string, password: string): Promise<string> {
  assert.match(await c.command(`USER ${name}`), /^\+OK/);
  return c.command(`PASS ${password}`);
}

const M1 = 'From: a@example.org\r\nSubject: one\r\n\r\nHello\r\n.starts with a dot\r\n..two dots\r\n.\r\nend\r\n';
const M2 = 'Subject: two\n\nline a\nline b\n';
const M3 = 'Subject: three\r\n\r\nl1\r\nl2\r\nl3\r\n';

test('CAPA lists the extensions; USER/SASL only where plaintext login is allowed', async () => {
  const c = await connect();
  assert.match(await c.command('CAPA'), /^\+OK/);
  const caps = await c.multiline();
  for (const cap of ['TOP', 'UIDL', 'RESP-CODES', 'AUTH-RESP-CODE', 'PIPELINING', 'USER', 'SASL PLAIN SCRAM-SHA-256']) assert.ok(caps.includes(cap), cap);
  assert.ok(!caps.includes('STLS'), 'no STLS without a certificate');
  assert.match(await c.command('QUIT'), /^\+OK/);
  await c.waitClosed();
});

test('USER/PASS session: STAT, LIST, UIDL, TOP, RETR byte-exact with stuffing and CRLF, DELE, RSET, QUIT expunges', async () => {
  const acct = await account([M1, M2, M3]);
  // An IMAP session on the same INBOX, to see the EXPUNGE afterwards.
  const imap = await ImapTestClient.connect(srv.port);
  try {
    assert.match((await imap.command('L', `LOGIN ${acct.name} "${acct.password}"`)).tagged, /^L OK/);
    assert.match((await imap.command('S', 'SELECT INBOX')).tagged, /^S OK/);

    const c = await connect();
    assert.match(await login(c, acct.name, acct.password), /^\+OK .*3 messages/);
    // RFC 1939 §5: exact sizes as sent, so the bare-LF message M2 counts its line ends as CRLF.
    const sizes = [M1, M2, M3].map((m) => Buffer.byteLength(m.replace(/\r?\n/g, '\r\n'), 'latin1'));
    assert.notEqual(sizes[1], Buffer.byteLength(M2, 'latin1'));
    assert.equal(await c.command('STAT'), `+OK 3 ${sizes[0]! + sizes[1]! + sizes[2]!}`);
    assert.match(await c.command('LIST'), /^\+OK 3 messages/);
    assert.deepEqual(await c.multiline(), [`1 ${sizes[0]}`, `2 ${sizes[1]}`, `3 ${sizes[2]}`]);
    assert.equal(await c.command('LIST 2'), `+OK 2 ${sizes[1]}`);
    const mb = (await srv.store.getMailboxById(acct.inboxId))!;
    assert.match(await c.command('UIDL'), /^\+OK/);
    const uidl = await c.multiline();
    assert.deepEqual(uidl, acct.uids.map((u, i) => `${i + 1} ${mb.uidValidity}.${u}`));
    assert.equal(await c.command('UIDL 3'), `+OK 3 ${mb.uidValidity}.${acct.uids[2]}`);

    // RETR: the wire form is byte-stuffed; undone it is the stored message.
    assert.equal(await c.command('RETR 1'), `+OK ${sizes[0]} octets`);
    const wire = await c.multiline();
    assert.deepEqual(wire, ['From: a@example.org', 'Subject: one', '', 'Hello', '..starts with a dot', '...two dots', '..', 'end']);
    // Bare-LF mail goes out with CRLF, and the announced size is what is sent.
    assert.equal(await c.command('RETR 2'), `+OK ${sizes[1]} octets`);
    const m2 = await c.message();
    assert.equal(m2, 'Subject: two\r\n\r\nline a\r\nline b\r\n');
    assert.equal(Buffer.byteLength(m2, 'latin1'), sizes[1]);
    // TOP: header, blank line, n body lines.
    assert.match(await c.command('TOP 3 2'), /^\+OK/);
    assert.deepEqual(await c.multiline(), ['Subject: three', '', 'l1', 'l2']);
    assert.match(await c.command('TOP 1 0'), /^\+OK/);
    assert.deepEqual(await c.multiline(), ['From: a@example.org', 'Subject: one', '']);

    // DELE marks; the message disappears from listings and cannot be read, RSET brings it back.
    assert.match(await c.command('DELE 1'), /^\+OK/);
    assert.match(await c.command('DELE 1'), /^-ERR .*deleted/);
    assert.match(await c.command('RETR 1'), /^-ERR/);
    assert.equal(await c.command('STAT'), `+OK 2 ${sizes[1]! + sizes[2]!}`);
    assert.match(await c.command('LIST'), /^\+OK/);
    assert.deepEqual(await c.multiline(), [`2 ${sizes[1]}`, `3 ${sizes[2]}`]);
    assert.match(await c.command('RSET'), /^\+OK .*3 messages/);
    assert.equal(await c.command('LIST 1'), `+OK 1 ${sizes[0]}`);
    // Nothing is removed before QUIT.
    assert.match(await c.command('DELE 1'), /^\+OK/);
    assert.match(await c.command('DELE 3'), /^\+OK/);
    assert.equal((await srv.store.listMessages(acct.inboxId)).length, 3);
    assert.match(await c.command('QUIT'), /^\+OK .*2 messages deleted/);
    await c.waitClosed();

    const left = await srv.store.listMessages(acct.inboxId);
    assert.deepEqual(left.map((m) => m.uid), [acct.uids[1]]);
    // RETR gave message 2 \Seen (message 1 was retrieved too, but deleted).
    assert.ok(left[0]!.flags.includes('\\Seen'), left[0]!.flags.join(' '));

    const noop = await imap.command('N', 'NOOP');
    assert.match(noop.tagged, /^N OK/);
    const expunges = noop.untagged.filter((u) => /^\* \d+ EXPUNGE$/.test(u));
    // Two messages gone: "* 3 EXPUNGE, * 1 EXPUNGE" or "* 1 EXPUNGE, * 2 EXPUNGE", depending on order.
    assert.equal(expunges.length, 2, noop.untagged.join('\n'));
  } finally {
    await logoutQuietly(imap);
  }
});

test('DELE takes effect at QUIT and an IMAP session in IDLE sees the EXPUNGE at once (RFC 1939 §6, RFC 2177)', async () => {
  const acct = await account([M1, M2, M3]);
  const imap = await ImapTestClient.connect(srv.port);
  try {
    assert.match((await imap.command('L', `LOGIN ${acct.name} "${acct.password}"`)).tagged, /^L OK/);
    assert.match((await imap.command('S', 'SELECT INBOX')).tagged, /^S OK/);
    imap.send('I IDLE');
    await imap.waitFor(/^\+ /);
    const c = await connect();
    assert.match(await login(c, acct.name, acct.password), /^\+OK/);
    assert.match(await c.command('DELE 2'), /^\+OK/);
    // Marked only: still there for every other session until the POP3 session quits.
    assert.equal((await srv.store.listMessages(acct.inboxId)).length, 3);
    assert.match(await c.command('QUIT'), /^\+OK .*1 messages deleted/);
    await c.waitClosed();
    // The IDLE session hears of it without sending anything.
    await imap.waitFor(/^\* 2 EXPUNGE$/);
    imap.send('DONE');
    assert.match((await imap.readTagged('I')).tagged, /^I OK/);
    assert.deepEqual((await srv.store.listMessages(acct.inboxId)).map((m) => m.uid), [acct.uids[0], acct.uids[2]]);
  } finally {
    await logoutQuietly(imap);
  }
});

test('TOP n past the end of the body sends the whole message; a negative or missing n is -ERR (RFC 1939 §7)', async () => {
  const acct = await account([M3, M2]);
  const c = await connect();
  assert.match(await login(c, acct.name, acct.password), /^\+OK/);
  assert.match(await c.command('TOP 1 99999999'), /^\+OK/);
  assert.equal(await c.message(), M3);
  // Bare-LF mail: all of it, with CRLF.
  assert.match(await c.command('TOP 2 3'), /^\+OK/);
  assert.equal(await c.message(), M2.replace(/\n/g, '\r\n'));
  assert.match(await c.command('TOP 1 -1'), /^-ERR/);
  assert.match(await c.command('TOP 1'), /^-ERR/);
  assert.match(await c.command('TOP 3 1'), /^-ERR/);
  assert.match(await c.command('QUIT'), /^\+OK/);
  await c.waitClosed();
});

test('QUIT expunges only the messages marked over POP3, not other \\Deleted ones', async () => {
  const acct = await account([M1, M3, M3]);
  // Message 3 has \Deleted from an IMAP client but was not expunged.
  await srv.store.storeFlags(acct.inboxId, [acct.uids[2]!], 'add', ['\\Deleted']);
  const c = await connect();
  assert.match(await login(c, acct.name, acct.password), /^\+OK/);
  assert.match(await c.command('DELE 1'), /^\+OK/);
  assert.match(await c.command('QUIT'), /^\+OK .*1 messages deleted/);
  await c.waitClosed();
  assert.deepEqual((await srv.store.listMessages(acct.inboxId)).map((m) => m.uid), [acct.uids[1], acct.uids[2]]);
});

test('a dropped connection (no QUIT) deletes nothing', async () => {
  const acct = await account([M1, M3]);
  const c = await connect();
  assert.match(await login(c, acct.name, acct.password), /^\+OK/);
  assert.match(await c.command('DELE 1'), /^\+OK/);
  assert.match(await c.command('DELE 2'), /^\+OK/);
  c.close();
  // The lock is released when the server notices the close; a new session then sees both messages.
  let second: LineClient | null = null;
  for (let i = 0; i < 50; i++) {
    second = await connect();
    const r = await login(second, acct.name, acct.password);
    if (r.startsWith('+OK')) break;
    assert.match(r, /^-ERR \[IN-USE\]/);
    second.close();
    second = null;
    await new Promise((r) => setTimeout(r, 20));
  }
  assert.ok(second, 'lock released');
  assert.equal(await second.command('STAT'), `+OK 2 ${Buffer.byteLength(M1) + Buffer.byteLength(M3)}`);
  assert.equal((await srv.store.listMessages(acct.inboxId)).length, 2);
});

test('AUTH PLAIN: initial response, continuation, cancel, wrong password, foreign authzid', async () => {
  const acct = await account([M3]);
  const b64 = (s: string) => Buffer.from(s, 'utf8').toString('base64');
  const c = await connect();
  assert.match(await c.command(`AUTH PLAIN ${b64(`\0${acct.name}\0wrong`)}`), /^-ERR \[AUTH\]/);
  assert.match(await c.command(`AUTH PLAIN ${b64(`root\0${acct.name}\0${acct.password}`)}`), /^-ERR \[AUTH\]/);
  assert.equal(await c.command('AUTH PLAIN'), '+ ');
  assert.match(await c.command('*'), /^-ERR .*cancel/i);
  assert.match(await c.command('AUTH CRAM-MD5'), /^-ERR/);
  assert.match(await c.command('AUTH PLAIN !!!'), /^-ERR .*base64/);
  assert.equal(await c.command('AUTH PLAIN'), '+ ');
  assert.match(await c.command(b64(`\0${acct.name}\0${acct.password}`)), /^\+OK .*1 messages/);
  assert.match(await c.command('STAT'), /^\+OK 1 /);
  assert.match(await c.command('QUIT'), /^\+OK/);

  const d = await connect();
  assert.match(await d.command(`AUTH PLAIN ${b64(`${acct.name}\0${acct.name}\0${acct.password}`)}`), /^\+OK/);
  assert.match(await d.command('QUIT'), /^\+OK/);
});

test('a second session on the same maildrop is refused with [IN-USE] until the first quits', async () => {
  const acct = await account([M3]);
  const a = await connect();
  assert.match(await login(a, acct.name, acct.password), /^\+OK/);
  const b = await connect();
  assert.match(await login(b, acct.name, acct.password), /^-ERR \[IN-USE\]/);
  // b stays in AUTHORIZATION and may try again later.
  assert.match(await b.command('STAT'), /^-ERR/);
  assert.match(await a.command('QUIT'), /^\+OK/);
  await a.waitClosed();
  assert.match(await login(b, acct.name, acct.password), /^\+OK/);
  // Another POP3 listener on the same store shares the lock.
  const other = await pop3();
  const c = await connect(other.port!);
  assert.match(await login(c, acct.name, acct.password), /^-ERR \[IN-USE\]/);
});

test('the maildrop is a snapshot from login; UIDL stays the same across sessions and IMAP activity', async () => {
  const acct = await account([M1, M2]);
  const c = await connect();
  assert.match(await login(c, acct.name, acct.password), /^\+OK .*2 messages/);
  assert.match(await c.command('UIDL'), /^\+OK/);
  const first = await c.multiline();
  // Appended after login (as LMTP or IMAP APPEND would): not shown to this session.
  const late = await srv.store.prepare(Buffer.from(M3));
  await srv.store.append(acct.inboxId, [{ message: late, flags: [] }]);
  assert.match(await c.command('STAT'), /^\+OK 2 /);
  assert.match(await c.command('LIST 3'), /^-ERR/);
  assert.match(await c.command('QUIT'), /^\+OK/);
  await c.waitClosed();

  // IMAP activity: flags on message 2, message 1 expunged.
  await srv.store.storeFlags(acct.inboxId, [acct.uids[1]!], 'add', ['\\Flagged']);
  await srv.store.storeFlags(acct.inboxId, [acct.uids[0]!], 'add', ['\\Deleted']);
  await srv.store.expunge(acct.inboxId);

  const d = await connect();
  assert.match(await login(d, acct.name, acct.password), /^\+OK .*2 messages/);
  assert.match(await d.command('UIDL'), /^\+OK/);
  const second = await d.multiline();
  // Message 2's unique id is unchanged (now numbered 1); the late message has a new one.
  assert.equal(second[0]!.split(' ')[1], first[1]!.split(' ')[1]);
  assert.ok(!first.some((l) => l.split(' ')[1] === second[1]!.split(' ')[1]));
  assert.match(await d.command('QUIT'), /^\+OK/);
});

test('RETR of a message expunged over IMAP during the session answers -ERR', async () => {
  const acct = await account([M1, M3]);
  const c = await connect();
  assert.match(await login(c, acct.name, acct.password), /^\+OK/);
  await srv.store.storeFlags(acct.inboxId, [acct.uids[0]!], 'add', ['\\Deleted']);
  await srv.store.expunge(acct.inboxId);
  assert.match(await c.command('RETR 1'), /^-ERR .*removed/);
  assert.match(await c.command('RETR 2'), /^\+OK/);
  await c.multiline();
  assert.match(await c.command('QUIT'), /^\+OK/);
});

test('bad commands get -ERR and the connection lives on', async () => {
  const acct = await account([M3]);
  const c = await connect();
  assert.match(await c.command('STAT'), /^-ERR/);
  assert.match(await c.command('PASS x'), /^-ERR .*USER/);
  assert.match(await c.command('APOP alice 0123456789abcdef'), /^-ERR/);
  assert.match(await c.command('XYZZY'), /^-ERR/);
  assert.match(await c.command('12'), /^-ERR/);
  assert.match(await c.command(''), /^-ERR/);
  assert.match(await c.command(`NOOP ${'x'.repeat(10_000)}`), /^-ERR .*too long/i);
  assert.match(await login(c, acct.name, acct.password), /^\+OK/);
  assert.match(await c.command('USER again'), /^-ERR/);
  assert.match(await c.command('RETR'), /^-ERR/);
  assert.match(await c.command('RETR x'), /^-ERR/);
  assert.match(await c.command('RETR 0'), /^-ERR/);
  assert.match(await c.command('RETR 99'), /^-ERR/);
  assert.match(await c.command('TOP 1'), /^-ERR/);
  assert.match(await c.command('TOP 1 -1'), /^-ERR/);
  assert.match(await c.command('LIST 1 2'), /^-ERR/);
  assert.match(await c.command('DELE'), /^-ERR/);
  assert.match(await c.command('STAT 1'), /^-ERR/);
  assert.match(await c.command('STLS'), /^-ERR/);
  assert.equal(await c.command('NOOP'), '+OK');
  assert.match(await c.command('STAT'), /^\+OK 1 /);
  assert.match(await c.command('QUIT'), /^\+OK/);
});

test('pipelined commands are answered in order', async () => {
  const acct = await account([M1, M3]);
  const c = await connect();
  c.sendRaw(`USER ${acct.name}\r\nPASS ${acct.password}\r\nSTAT\r\nUIDL 2\r\nTOP 2 1\r\nDELE 2\r\nLIST\r\nNOOP\r\nQUIT\r\n`);
  assert.match(await c.line(), /^\+OK/);
  assert.match(await c.line(), /^\+OK Logged in/);
  assert.match(await c.line(), /^\+OK 2 /);
  assert.match(await c.line(), /^\+OK 2 \d+\.\d+$/);
  assert.match(await c.line(), /^\+OK/);
  assert.deepEqual(await c.multiline(), ['Subject: three', '', 'l1']);
  assert.match(await c.line(), /^\+OK/);
  assert.match(await c.line(), /^\+OK 1 messages/);
  assert.deepEqual(await c.multiline(), [`1 ${Buffer.byteLength(M1)}`]);
  assert.equal(await c.line(), '+OK');
  assert.match(await c.line(), /^\+OK .*1 messages deleted/);
  await c.waitClosed();
  assert.deepEqual((await srv.store.listMessages(acct.inboxId)).map((m) => m.uid), [acct.uids[0]]);
});

test('plaintext login refused without TLS when not allowed; STLS and POP3S make it work', async () => {
  const acct = await account([M3]);
  const pems = await generate([{ name: 'commonName', value: 'localhost' }], { keySize: 2048, algorithm: 'sha256' });
  const p = await pop3({ allowInsecureAuth: 'never', tls: { key: pems.private, cert: pems.cert }, tlsPort: 0 });
  const c = await connect(p.port!);
  assert.match(await c.command('CAPA'), /^\+OK/);
  const caps = await c.multiline();
  assert.ok(caps.includes('STLS'));
  assert.ok(!caps.includes('USER') && !caps.some((l) => l.startsWith('SASL')), caps.join(','));
  assert.match(await c.command(`USER ${acct.name}`), /^-ERR \[AUTH\]/);
  assert.match(await c.command('AUTH PLAIN'), /^-ERR \[AUTH\]/);
  // Commands pipelined after STLS are plaintext and must be dropped (RFC 2595 §4).
  c.sendRaw('STLS\r\nNOOP\r\n');
  assert.match(await c.line(), /^\+OK/);
  await c.startTls();
  assert.match(await c.command('CAPA'), /^\+OK/);
  const tlsCaps = await c.multiline();
  assert.ok(tlsCaps.includes('USER') && !tlsCaps.includes('STLS'), tlsCaps.join(','));
  assert.ok(tlsCaps.includes('SASL PLAIN SCRAM-SHA-256 SCRAM-SHA-256-PLUS'), tlsCaps.join(','));
  assert.match(await login(c, acct.name, acct.password), /^\+OK/);
  assert.match(await c.command('QUIT'), /^\+OK/);

  const s = await LineClient.connect({ port: p.tlsPort! }, true);
  clients.push(s);
  assert.match(s.greeting, /^\+OK/);
  assert.match(await login(s, acct.name, acct.password), /^\+OK/);
  assert.match(await s.command('STAT'), /^\+OK 1 /);
  assert.match(await s.command('QUIT'), /^\+OK/);
});

test('a locked-out address gets [SYS/TEMP]; failures are reported to the throttle', async () => {
  const acct = await account([M3]);
  const calls: string[] = [];
  let locked = false;
  const p = await pop3({
    throttle: {
      checkLogin: () => (locked ? -1 : 0),
      failLogin: (ip, user) => {
        calls.push(`fail ${ip} ${user}`);
        return 0;
      },
      succeedLogin: (ip, user) => void calls.push(`ok ${ip} ${user}`),
    },
  });
  const c = await connect(p.port!);
  assert.match(await login(c, acct.name, 'wrong'), /^-ERR \[AUTH\]/);
  assert.match(await login(c, 'nobody-here', 'wrong'), /^-ERR \[AUTH\]/);
  locked = true;
  assert.match(await login(c, acct.name, acct.password), /^-ERR \[SYS\/TEMP\]/);
  locked = false;
  assert.match(await login(c, acct.name, acct.password), /^\+OK/);
  assert.deepEqual(calls, [`fail 127.0.0.1 ${acct.name}`, 'fail 127.0.0.1 nobody-here', `ok 127.0.0.1 ${acct.name}`]);
});

test('autologout ends an idle TRANSACTION session without entering UPDATE', async () => {
  const acct = await account([M3]);
  const p = await pop3({ idleTimeoutMs: 300 });
  const c = await connect(p.port!);
  assert.match(await login(c, acct.name, acct.password), /^\+OK/);
  assert.match(await c.command('DELE 1'), /^\+OK/);
  assert.match(await c.line(), /^-ERR .*[Aa]utologout/);
  await c.waitClosed();
  assert.equal((await srv.store.listMessages(acct.inboxId)).length, 1);
});
