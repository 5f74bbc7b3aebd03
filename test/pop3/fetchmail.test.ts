// Interop (issue 6, item 5): Debian's fetchmail empties a Petrel mailbox over POP3 (RFC 1939) — it lists
// with UIDL, retrieves every message with RETR, hands each to an MDA that writes a file, then DELEs and
// QUITs — and over IMAP (RFC 9051: FETCH, STORE \Deleted, EXPUNGE); afterwards the store's INBOX is empty
// and the copies equal the originals. fetchmail is installed with apt-get when missing
// (test/helpers/debian.ts; .ci/run installs it up front), so the test always runs.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmod, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
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
  await ensureDebianPackages(['fetchmail']);
  srv = await startTestServer();
  pop3 = await startPop3Server({ store: srv.store, host: '127.0.0.1', port: 0, tlsPort: null, tls: null });
  work = await mkdtemp(join(tmpdir(), 'petrel-fetchmail-'));
});

after(async () => {
  await pop3?.close();
  await srv?.stop();
  if (work) await rm(work, { recursive: true, force: true });
});

const MESSAGES = [
  'From: one@example.org\r\nTo: fm@example.org\r\nSubject: first\r\nMessage-ID: <1@example.org>\r\n\r\nHello\r\n.a line with a leading dot\r\n.\r\nbye\r\n',
  'From: two@example.org\nSubject: stored with bare LF\nMessage-ID: <2@example.org>\n\nline 1\nline 2\n',
  `From: three@example.org\r\nSubject: bigger\r\nMessage-ID: <3@example.org>\r\n\r\n${'0123456789 abcdefghij\r\n'.repeat(5000)}`,
];

function run(cmd: string, args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve, reject) => {
    const p = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], env });
    let out = '';
    p.stdout.on('data', (d: Buffer) => (out += d.toString()));
    p.stderr.on('data', (d: Buffer) => (out += d.toString()));
    p.on('error', reject);
    p.on('close', (code) => resolve({ code, out }));
  });
}

test('fetchmail retrieves and deletes every message; the copies equal the originals', async () => {
  const password = 'fetch me 123';
  const user = await provisionUser(srv.store, 'fm', await hashPassword(password));
  const inbox = (await srv.store.getMailbox(user.id, 'INBOX'))!;
  for (const m of MESSAGES) {
    await srv.store.append(inbox.id, [{ message: await srv.store.prepare(Buffer.from(m)), flags: [] }]);
  }
  const out = join(work, 'out');
  await mkdir(out);
  const rc = join(work, 'fetchmailrc');
  // "invisible": no Received line of fetchmail's own, so the copies can be compared byte for byte.
  await writeFile(
    rc,
    [
      'set no bouncemail',
      'set invisible',
      `poll 127.0.0.1 with proto POP3 port ${pop3.port}`,
      `  user "fm" there with password "${password}" is "fm" here`,
      `  options fetchall no keep sslproto '' mda "cat > ${out}/msg.$$"`,
      '',
    ].join('\n'),
  );
  await chmod(rc, 0o600); // fetchmail refuses a readable run-control file
  const env = { ...process.env, HOME: work, FETCHMAILHOME: work };
  const r = await run('fetchmail', ['-f', rc, '--idfile', join(work, 'ids'), '--pidfile', join(work, 'pid'), '--nosyslog', '-v'], env);
  assert.equal(r.code, 0, r.out);
  if (process.env.PETREL_DEBUG_FETCHMAIL) process.stdout.write(r.out);

  const files = await readdir(out);
  assert.equal(files.length, MESSAGES.length, r.out);
  const got = (await Promise.all(files.map((f) => readFile(join(out, f), 'latin1')))).sort();
  // fetchmail hands the MDA Unix line ends.
  const want = MESSAGES.map((m) => m.replace(/\r\n/g, '\n')).sort();
  assert.deepEqual(got, want);
  assert.equal((await srv.store.listMessages(inbox.id)).length, 0, 'fetchmail deleted the messages');
  assert.match(r.out, /3 messages/);
});

test('fetchmail with keep fetches only new messages next time (UIDL tracking)', async () => {
  const password = 'keep me 456';
  const user = await provisionUser(srv.store, 'fk', await hashPassword(password));
  const inbox = (await srv.store.getMailbox(user.id, 'INBOX'))!;
  const append = async (m: string) =>
    srv.store.append(inbox.id, [{ message: await srv.store.prepare(Buffer.from(m)), flags: [] }]);
  await append(MESSAGES[0]!);
  await append(MESSAGES[1]!);
  const out = join(work, 'keep-out');
  await mkdir(out);
  const rc = join(work, 'keeprc');
  await writeFile(
    rc,
    [
      'set no bouncemail',
      'set invisible',
      `poll 127.0.0.1 with proto POP3 port ${pop3.port} uidl`,
      `  user "fk" there with password "${password}" is "fk" here`,
      `  options keep sslproto '' mda "cat > ${out}/msg.$$"`,
      '',
    ].join('\n'),
  );
  await chmod(rc, 0o600);
  const env = { ...process.env, HOME: work, FETCHMAILHOME: work };
  const args = ['-f', rc, '--idfile', join(work, 'keep-ids'), '--pidfile', join(work, 'keep-pid'), '--nosyslog', '-v'];
  const first = await run('fetchmail', args, env);
  assert.equal(first.code, 0, first.out);
  assert.equal((await readdir(out)).length, 2, first.out);
  // Nothing new: fetchmail exits with 1 ("no mail") and writes nothing.
  const second = await run('fetchmail', args, env);
  assert.equal(second.code, 1, second.out);
  assert.equal((await readdir(out)).length, 2, second.out);
  // One new message (as LMTP would deliver it): only that one is fetched.
  await append(MESSAGES[2]!);
  const third = await run('fetchmail', args, env);
  assert.equal(third.code, 0, third.out);
  const files = await readdir(out);
  assert.equal(files.length, 3, third.out);
  const got = (await Promise.all(files.map((f) => readFile(join(out, f), 'latin1')))).sort();
  assert.deepEqual(got, MESSAGES.map((m) => m.replace(/\r\n/g, '\n')).sort());
  // keep: everything is still on the server. fetchmail reads with "TOP n 99999999" in keep mode so
  // as not to mark messages read, and TOP does not set \Seen here.
  const left = await srv.store.listMessages(inbox.id);
  assert.equal(left.length, 3);
  assert.match(third.out, /POP3> UIDL/);
  assert.match(third.out, /POP3> TOP 3 /);
  assert.ok(left.every((m) => !m.flags.includes('\\Seen')), JSON.stringify(left.map((m) => m.flags)));
});

test('fetchmail over IMAP retrieves and deletes every message; the copies equal the originals', async () => {
  const password = 'fetch imap 789';
  const user = await provisionUser(srv.store, 'fi', await hashPassword(password));
  const inbox = (await srv.store.getMailbox(user.id, 'INBOX'))!;
  for (const m of MESSAGES) {
    await srv.store.append(inbox.id, [{ message: await srv.store.prepare(Buffer.from(m)), flags: [] }]);
  }
  // One already read: fetchall takes it too.
  await srv.store.append(inbox.id, [
    { message: await srv.store.prepare(Buffer.from('From: four@example.org\r\nSubject: read\r\n\r\nseen before\r\n')), flags: ['\\Seen'] },
  ]);
  const all = [...MESSAGES, 'From: four@example.org\r\nSubject: read\r\n\r\nseen before\r\n'];
  const out = join(work, 'imap-out');
  await mkdir(out);
  const rc = join(work, 'imaprc');
  await writeFile(
    rc,
    [
      'set no bouncemail',
      'set invisible',
      `poll 127.0.0.1 with proto IMAP port ${srv.port}`,
      `  user "fi" there with password "${password}" is "fi" here`,
      `  options fetchall no keep sslproto '' mda "cat > ${out}/msg.$$"`,
      '',
    ].join('\n'),
  );
  await chmod(rc, 0o600);
  const env = { ...process.env, HOME: work, FETCHMAILHOME: work };
  const args = ['-f', rc, '--idfile', join(work, 'imap-ids'), '--pidfile', join(work, 'imap-pid'), '--nosyslog', '-v'];
  const r = await run('fetchmail', args, env);
  assert.equal(r.code, 0, r.out);
  assert.match(r.out, /IMAP> A\d+ LOGIN/);
  const files = await readdir(out);
  assert.equal(files.length, all.length, r.out);
  const got = (await Promise.all(files.map((f) => readFile(join(out, f), 'latin1')))).sort();
  assert.deepEqual(got, all.map((m) => m.replace(/\r\n/g, '\n')).sort());
  assert.equal((await srv.store.listMessages(inbox.id)).length, 0, 'fetchmail deleted and expunged the messages');
  // Run again: nothing there, fetchmail says so with status 1.
  const again = await run('fetchmail', args, env);
  assert.equal(again.code, 1, again.out);
  assert.equal((await readdir(out)).length, all.length);
});
