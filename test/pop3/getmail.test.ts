// Interop (issue 6, item 5): Debian's getmail6 empties a Petrel mailbox into a Maildir, over POP3
// (SimplePOP3Retriever: UIDL, RETR, DELE, QUIT — RFC 1939) and over IMAP (SimpleIMAPRetriever: FETCH,
// STORE \Deleted, EXPUNGE — RFC 9051), with delete = true. Afterwards the INBOX is empty and each Maildir
// file equals the stored original byte for byte, apart from what getmail itself does: Unix line ends and a
// "Return-Path: <unknown>" line on top (its own trace fields and X-getmail-retrieved-from-mailbox are
// switched off), and over POP3 a line end after a last line that had none.
// getmail6 is installed with apt-get when missing (test/helpers/debian.ts), so the test always runs.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { chmod, chown, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { hashPassword } from '../../src/auth/password.js';
import { startPop3Server, type RunningPop3Server } from '../../src/pop3/pop3-server.js';
import { provisionUser } from '../../src/store/provision.js';
import { ensureDebianPackages } from '../helpers/debian.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

let srv: TestServer;
let pop3: RunningPop3Server;
let work: string;

before(async () => {
  await ensureDebianPackages(['getmail6']);
  srv = await startTestServer();
  pop3 = await startPop3Server({ store: srv.store, host: '127.0.0.1', port: 0, tlsPort: null, tls: null });
  work = await mkdtemp(join(tmpdir(), 'petrel-getmail-'));
});

after(async () => {
  await pop3?.close();
  await srv?.stop();
  if (work) await rm(work, { recursive: true, force: true });
});

const MESSAGES = [
  'From: one@example.org\r\nTo: gm@example.org\r\nSubject: first\r\nMessage-ID: <g1@example.org>\r\n\r\nHello\r\n.a line with a leading dot\r\n.\r\nbye\r\n',
  'From: two@example.org\r\nSubject: =?UTF-8?Q?caf=C3=A9?=\r\nMessage-ID: <g2@example.org>\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\ncaf\xc3\xa9 \xe2\x82\xac\r\n',
  `From: three@example.org\r\nSubject: bigger\r\nMessage-ID: <g3@example.org>\r\n\r\n${'0123456789 abcdefghij\r\n'.repeat(4000)}`,
  'From: four@example.org\r\nSubject: no final line end\r\nMessage-ID: <g4@example.org>\r\n\r\nlast line',
];

function run(args: string[]): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve, reject) => {
    const p = spawn('getmail', args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, HOME: work } });
    let out = '';
    p.stdout.on('data', (d: Buffer) => (out += d.toString()));
    p.stderr.on('data', (d: Buffer) => (out += d.toString()));
    p.on('error', reject);
    p.on('close', (code) => resolve({ code, out }));
  });
}

/** A user with MESSAGES in INBOX (the last one already \Seen); returns the INBOX id. */
async function mailbox(name: string, password: string): Promise<number> {
  const user = await provisionUser(srv.store, name, await hashPassword(password));
  const inbox = (await srv.store.getMailbox(user.id, 'INBOX'))!;
  for (const [i, m] of MESSAGES.entries()) {
    const message = await srv.store.prepare(Buffer.from(m, 'latin1'));
    await srv.store.append(inbox.id, [{ message, flags: i === MESSAGES.length - 1 ? ['\\Seen'] : [] }]);
  }
  return inbox.id;
}

/** Writes a getmailrc for `retriever` delivering into a fresh Maildir; returns [getmaildir, rcfile, maildir]. */
async function config(name: string, retriever: string[]): Promise<[string, string, string]> {
  const dir = join(work, name);
  const maildir = join(dir, 'Maildir');
  for (const sub of ['cur', 'new', 'tmp']) await mkdir(join(maildir, sub), { recursive: true });
  // getmail refuses to deliver as root: then it delivers as "nobody", who must reach and own the Maildir.
  const asRoot = process.getuid?.() === 0;
  if (asRoot) {
    const { uid, gid } = nobody();
    await chmod(work, 0o711);
    await chmod(dir, 0o711);
    for (const d of [maildir, ...['cur', 'new', 'tmp'].map((sub) => join(maildir, sub))]) await chown(d, uid, gid);
  }
  const rc = join(dir, 'getmailrc');
  await writeFile(
    rc,
    [
      '[retriever]',
      ...retriever,
      '',
      '[destination]',
      'type = Maildir',
      `path = ${maildir}/`,
      ...(asRoot ? ['user = nobody'] : []),
      '',
      '[options]',
      'verbose = 2',
      'read_all = true',
      'delete = true',
      // No trace fields of getmail's own, so the copies can be compared with the originals.
      'received = false',
      'delivered_to = false',
      '',
    ].join('\n'),
  );
  return [dir, rc, maildir];
}

/** The delivered messages, each without the Return-Path line getmail puts first (POP3 and IMAP carry no
 *  envelope sender, so it is always "<unknown>"; asserted here). */
async function maildirContents(maildir: string): Promise<string[]> {
  const files = [...(await readdir(join(maildir, 'new'))).map((f) => join(maildir, 'new', f)),
    ...(await readdir(join(maildir, 'cur'))).map((f) => join(maildir, 'cur', f))];
  const texts = await Promise.all(files.map((f) => readFile(f, 'latin1')));
  return texts
    .map((t) => {
      assert.ok(t.startsWith('Return-Path: <unknown>\n'), t.slice(0, 200));
      return t.slice('Return-Path: <unknown>\n'.length);
    })
    .sort();
}

/** The uid and gid of the account "nobody" (from /etc/passwd; Debian's 65534 otherwise). */
function nobody(): { uid: number; gid: number } {
  for (const line of readFileSync('/etc/passwd', 'utf8').split('\n')) {
    const f = line.split(':');
    if (f[0] === 'nobody' && f.length >= 4) return { uid: Number(f[2]), gid: Number(f[3]) };
  }
  return { uid: 65534, gid: 65534 };
}

/** The originals as getmail writes them: Unix line ends. */
const EXPECTED = MESSAGES.map((m) => m.replace(/\r\n/g, '\n')).sort();
/** Over POP3 a message always ends with a line end: RETR's answer ends with CRLF "." CRLF (RFC 1939 §3). */
const EXPECTED_POP3 = MESSAGES.map((m) => m.replace(/\r\n/g, '\n').replace(/([^\n])$/, '$1\n')).sort();

test('getmail6 over POP3 downloads and deletes every message; the Maildir copies equal the originals', async () => {
  const inbox = await mailbox('gp', 'getmail pop 1');
  const [dir, rc, maildir] = await config('pop3', [
    'type = SimplePOP3Retriever',
    'server = 127.0.0.1',
    `port = ${pop3.port}`,
    'username = gp',
    'password = getmail pop 1',
  ]);
  const r = await run(['--getmaildir', dir, '--rcfile', rc]);
  assert.equal(r.code, 0, r.out);
  assert.match(r.out, /4 messages \(\d+ bytes\) retrieved, 0 skipped/);
  assert.deepEqual(await maildirContents(maildir), EXPECTED_POP3, r.out);
  assert.equal((await srv.store.listMessages(inbox)).length, 0, 'the INBOX is empty afterwards');
  // A second run finds nothing.
  const again = await run(['--getmaildir', dir, '--rcfile', rc]);
  assert.equal(again.code, 0, again.out);
  assert.match(again.out, /0 messages \(0 bytes\) retrieved/);
  assert.equal((await maildirContents(maildir)).length, MESSAGES.length);
});

test('getmail6 over IMAP downloads and deletes every message; the Maildir copies equal the originals', async () => {
  const inbox = await mailbox('gi', 'getmail imap 2');
  const [dir, rc, maildir] = await config('imap', [
    'type = SimpleIMAPRetriever',
    'server = 127.0.0.1',
    `port = ${srv.port}`,
    'username = gi',
    'password = getmail imap 2',
    'mailboxes = ("INBOX",)',
    'record_mailbox = false',
  ]);
  const r = await run(['--getmaildir', dir, '--rcfile', rc]);
  assert.equal(r.code, 0, r.out);
  assert.match(r.out, /4 messages \(\d+ bytes\) retrieved, 0 skipped/);
  assert.deepEqual(await maildirContents(maildir), EXPECTED, r.out);
  assert.equal((await srv.store.listMessages(inbox)).length, 0, 'deleted and expunged');
  const again = await run(['--getmaildir', dir, '--rcfile', rc]);
  assert.equal(again.code, 0, again.out);
  assert.match(again.out, /0 messages \(0 bytes\) retrieved/);
});
