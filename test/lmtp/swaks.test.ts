// Interop (issue 6, item 5): Debian's swaks as the LMTP client (RFC 2033) delivering one message to several
// recipients at once, one of them unknown — over TCP and over the Unix-domain socket. Checks the replies
// swaks reports (250 2.1.5 / 550 5.1.1 per RCPT; after DATA one 250 2.0.0 per accepted recipient, in RCPT
// order, RFC 2033 §4.2), that the good recipients got the message (dot-unstuffed, with Return-Path and
// Delivered-To on top, `user+folder` filed into the folder) and that the unknown one changed nothing.
// swaks is installed with apt-get when missing (test/helpers/debian.ts), so the test always runs.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { hashPassword } from '../../src/auth/password.js';
import { startLmtpServer, type RunningLmtpServer } from '../../src/lmtp/lmtp-server.js';
import { provisionUser } from '../../src/store/provision.js';
import { ensureDebianPackages } from '../helpers/debian.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

let srv: TestServer;
let lmtp: RunningLmtpServer;
let work: string;

before(async () => {
  await ensureDebianPackages(['swaks']);
  srv = await startTestServer();
  work = await mkdtemp(join(tmpdir(), 'petrel-swaks-'));
  lmtp = await startLmtpServer({ store: srv.store, host: '127.0.0.1', port: 0, socketPath: join(work, 'lmtp.sock'), hostname: 'petrel.test' });
  for (const name of ['sw-ann', 'sw-bob', 'sw-cat']) await provisionUser(srv.store, name, await hashPassword('pw'));
  const cat = (await srv.store.getUser('sw-cat'))!;
  await srv.store.createMailbox(cat.id, 'Lists');
});

after(async () => {
  await lmtp?.close();
  await srv?.stop();
  if (work) await rm(work, { recursive: true, force: true });
});

function swaks(args: string[]): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve, reject) => {
    const p = spawn('swaks', ['--protocol', 'LMTP', '--helo', 'mta.example.net', '--timeout', '20', ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    p.stdout.on('data', (d: Buffer) => (out += d.toString()));
    p.stderr.on('data', (d: Buffer) => (out += d.toString()));
    p.on('error', reject);
    p.on('close', (code) => resolve({ code, out }));
  });
}

/** The server's replies in swaks's transcript ("<-  250 ..." and "<** 550 ..." lines), after the command `after`. */
function repliesAfter(out: string, command: RegExp): string[] {
  const lines = out.split('\n');
  const start = lines.findIndex((l) => command.test(l));
  assert.ok(start >= 0, out);
  const replies: string[] = [];
  for (const l of lines.slice(start + 1)) {
    if (/^ -> /.test(l)) break;
    const m = /^<(?:-|\*\*) +(\d{3} .*)$/.exec(l);
    if (m) replies.push(m[1]!);
  }
  return replies;
}

async function inbox(user: string, mailbox = 'INBOX'): Promise<string[]> {
  const u = (await srv.store.getUser(user))!;
  const box = (await srv.store.getMailbox(u.id, mailbox))!;
  const out: string[] = [];
  for (const m of await srv.store.listMessages(box.id)) {
    out.push((await srv.store.readBlob(m.blobId, 0, m.size)).toString('latin1'));
  }
  return out;
}

// Lines with leading dots (swaks dot-stuffs them, Petrel must unstuff) and 8-bit text. No line end after
// the last line: swaks always ends DATA with CRLF "." CRLF, whose CRLF ends that line.
const MESSAGE = 'From: sender@example.net\nSubject: for three of you\nMessage-ID: <sw-1@example.net>\n\n.leading dot\n..two dots\ncaf\xc3\xa9\nlast line';

test('swaks: one LMTP transaction, four recipients, one unknown: per-recipient replies, three deliveries', async () => {
  const file = join(work, 'msg.eml');
  await writeFile(file, Buffer.from(MESSAGE, 'latin1'));
  const r = await swaks([
    '--server', '127.0.0.1', '--port', String(lmtp.port),
    '--from', 'sender@example.net',
    '--to', 'sw-ann@example.org,nobody-such@example.org,sw-bob@example.org,sw-cat+Lists@example.org',
    '--data', `@${file}`,
  ]);
  assert.equal(r.code, 0, r.out);
  const rcpt = (to: string) => repliesAfter(r.out, new RegExp(`^ -> RCPT TO:<${to.replace(/[+.]/g, '\\$&')}>`));
  assert.match(rcpt('sw-ann@example.org')[0]!, /^250 2\.1\.5 /);
  assert.match(rcpt('nobody-such@example.org')[0]!, /^550 5\.1\.1 /);
  assert.match(rcpt('sw-bob@example.org')[0]!, /^250 2\.1\.5 /);
  assert.match(rcpt('sw-cat+Lists@example.org')[0]!, /^250 2\.1\.5 /);
  // After the final dot: one reply per accepted recipient, in RCPT order.
  const afterData = repliesAfter(r.out, /^ -> \.$/);
  assert.deepEqual(afterData, [
    '250 2.0.0 <sw-ann@example.org> Delivered',
    '250 2.0.0 <sw-bob@example.org> Delivered',
    '250 2.0.0 <sw-cat+Lists@example.org> Delivered',
  ], r.out);

  const body = `${MESSAGE.replace(/\n/g, '\r\n')}\r\n`;
  for (const [user, to, box] of [
    ['sw-ann', 'sw-ann@example.org', 'INBOX'],
    ['sw-bob', 'sw-bob@example.org', 'INBOX'],
    ['sw-cat', 'sw-cat+Lists@example.org', 'Lists'],
  ] as const) {
    const got = await inbox(user, box);
    assert.equal(got.length, 1, `${user} ${box}`);
    assert.equal(got[0], `Return-Path: <sender@example.net>\r\nDelivered-To: ${to}\r\n${body}`);
  }
  assert.equal((await inbox('sw-cat')).length, 0, 'cat+Lists went into Lists, not INBOX');
});

test('swaks over the Unix socket: the null sender is delivered; only unknown recipients means no DATA', async () => {
  const file = join(work, 'bounce.eml');
  await writeFile(file, 'From: MAILER-DAEMON@example.net\nSubject: a bounce\n\nreturned');
  const ok = await swaks(['--socket', join(work, 'lmtp.sock'), '--from', '<>', '--to', 'sw-bob@example.org', '--data', `@${file}`]);
  assert.equal(ok.code, 0, ok.out);
  assert.match(ok.out, /^ -> MAIL FROM:<>$/m);
  assert.deepEqual(repliesAfter(ok.out, /^ -> \.$/), ['250 2.0.0 <sw-bob@example.org> Delivered']);
  const bob = await inbox('sw-bob');
  const bounce = 'Return-Path: <>\r\nDelivered-To: sw-bob@example.org\r\nFrom: MAILER-DAEMON@example.net\r\nSubject: a bounce\r\n\r\nreturned\r\n';
  assert.ok(bob.includes(bounce), bob.join('\n---\n'));

  const before = (await inbox('sw-ann')).length;
  const none = await swaks(['--socket', join(work, 'lmtp.sock'), '--from', 'a@example.net',
    '--to', 'ghost1@example.org,ghost2@example.org', '--data', `@${file}`]);
  assert.notEqual(none.code, 0, 'swaks reports the failure');
  assert.match(none.out, /^<\*\* +550 5\.1\.1 .*ghost1/m);
  assert.match(none.out, /^<\*\* +550 5\.1\.1 .*ghost2/m);
  assert.doesNotMatch(none.out, /^ -> DATA/m);
  assert.equal((await inbox('sw-ann')).length, before);
});
