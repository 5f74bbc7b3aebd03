// `petrel fetch` against Petrel's own POP3 (RFC 1939) and IMAP (RFC 9051) servers: download and delete,
// --keep with incremental reruns (UIDL / UIDVALIDITY.UID), every destination kind, account files, and
// the journal's crash recovery for each destination.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFile, mkdtemp, readFile, rm, stat, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main } from '../../src/cli/main.js';
import { startPop3Server, type RunningPop3Server } from '../../src/pop3/pop3-server.js';
import { openSqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import { provisionUser } from '../../src/store/provision.js';
import { hashPassword } from '../../src/auth/password.js';
import { MaildirDestination, MboxDestination, maildirIdTag, sha256 } from '../../src/offline/destinations.js';
import { FetchJournal } from '../../src/offline/journal.js';
import { openJournal } from '../../src/offline/fetch-engine.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { Capture, inboxCount, makeMessage, readMaildir, readMbox, seedInbox, sortedHex } from './fetch-helpers.js';

let srv: TestServer;
let pop3: RunningPop3Server;
let work: string;

before(async () => {
  srv = await startTestServer();
  pop3 = await startPop3Server({ store: srv.store, host: '127.0.0.1', port: 0, tlsPort: null, tls: null, markSeen: false });
  work = await mkdtemp(join(tmpdir(), 'petrel-fetch-'));
});

after(async () => {
  await pop3?.close();
  await srv?.stop();
  if (work) await rm(work, { recursive: true, force: true });
});

async function runCli(args: string[]): Promise<{ code: number; stderr: string }> {
  const stderr = new Capture();
  const stdout = new Capture();
  const code = await main(['fetch', ...args, '--progress', 'lines'], {
    stderr,
    stdout,
    cwd: work,
    env: { FETCH_PW: srv.password },
  });
  return { code, stderr: stderr.text };
}

function account(protocol: 'pop3' | 'imap'): string[] {
  const port = protocol === 'pop3' ? pop3.port! : srv.port;
  return ['--protocol', protocol, '--host', '127.0.0.1', '--port', String(port), '--tls', 'none', '--user', srv.user, '--password-env', 'FETCH_PW'];
}

async function emptyInbox(): Promise<void> {
  const u = await srv.store.getUser(srv.user);
  const mb = await srv.store.getMailbox(u!.id, 'INBOX');
  const uids = (await srv.store.listMessages(mb!.id)).map((m) => m.uid);
  if (uids.length === 0) return;
  await srv.store.storeFlags(mb!.id, uids, 'add', ['\\Deleted']);
  await srv.store.expunge(mb!.id, uids);
  assert.equal(await inboxCount(srv.store, srv.user), 0);
}


describe('petrel fetch', () => {
  test('POP3 → Maildir: byte-identical copies, server emptied, a rerun fetches nothing', async () => {
    await emptyInbox();
    const msgs = Array.from({ length: 12 }, (_, i) => makeMessage(i));
    await seedInbox(srv.store, srv.user, msgs);
    const dest = join(work, 'pop-maildir');
    const r = await runCli([...account('pop3'), '--to', `maildir:${dest}`]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /fetched 12 messages/);
    assert.match(r.stderr, /12 deleted on the server/);
    assert.deepEqual(sortedHex(await readMaildir(dest)), sortedHex(msgs));
    assert.equal(await inboxCount(srv.store, srv.user), 0);
    const again = await runCli([...account('pop3'), '--to', `maildir:${dest}`]);
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stderr, /fetched 0 messages/);
    assert.equal((await readMaildir(dest)).length, 12);
  });

  test('IMAP → Maildir with --keep: server untouched; a rerun fetches only the new messages', async () => {
    await emptyInbox();
    const first = Array.from({ length: 5 }, (_, i) => makeMessage(100 + i));
    await seedInbox(srv.store, srv.user, first);
    const dest = join(work, 'imap-keep');
    const r = await runCli([...account('imap'), '--to', `maildir:${dest}`, '--keep']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /kept on the server/);
    assert.equal(await inboxCount(srv.store, srv.user), 5);
    const more = [makeMessage(200), makeMessage(201)];
    await seedInbox(srv.store, srv.user, more);
    const r2 = await runCli([...account('imap'), '--to', `maildir:${dest}`, '--keep']);
    assert.equal(r2.code, 0, r2.stderr);
    assert.match(r2.stderr, /fetched 2 messages/);
    assert.match(r2.stderr, /5 already fetched earlier/);
    assert.deepEqual(sortedHex(await readMaildir(dest)), sortedHex([...first, ...more]));
    assert.equal(await inboxCount(srv.store, srv.user), 7);
    // Without --keep the next run deletes everything, fetching nothing again.
    const r3 = await runCli([...account('imap'), '--to', `maildir:${dest}`]);
    assert.equal(r3.code, 0, r3.stderr);
    assert.match(r3.stderr, /fetched 0 messages.*7 already fetched earlier.*7 deleted/);
    assert.equal(await inboxCount(srv.store, srv.user), 0);
    assert.equal((await readMaildir(dest)).length, 7);
  });

  test('POP3 --keep: UIDL makes reruns incremental', async () => {
    await emptyInbox();
    await seedInbox(srv.store, srv.user, [makeMessage(300), makeMessage(301)]);
    const dest = join(work, 'pop-keep');
    assert.equal((await runCli([...account('pop3'), '--to', `maildir:${dest}`, '--keep'])).code, 0);
    await seedInbox(srv.store, srv.user, [makeMessage(302)]);
    const r = await runCli([...account('pop3'), '--to', `maildir:${dest}`, '--keep']);
    assert.match(r.stderr, /fetched 1 message .*2 already fetched earlier/);
    assert.equal(await inboxCount(srv.store, srv.user), 3);
    assert.deepEqual(sortedHex(await readMaildir(dest)), sortedHex([makeMessage(300), makeMessage(301), makeMessage(302)]));
  });

  test('IMAP → mbox: entries read back as the original messages (mboxrd quoting undone)', async () => {
    await emptyInbox();
    const msgs = Array.from({ length: 6 }, (_, i) => makeMessage(400 + i));
    await seedInbox(srv.store, srv.user, msgs);
    const file = join(work, 'out.mbox');
    const r = await runCli([...account('imap'), '--to', `mbox:${file}`]);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(sortedHex(await readMbox(file)), sortedHex(msgs));
    assert.equal(await inboxCount(srv.store, srv.user), 0);
  });

  test('POP3 → store:DIR (account file with passwordFile): messages land in the local INBOX', async () => {
    await emptyInbox();
    const msgs = Array.from({ length: 4 }, (_, i) => makeMessage(500 + i));
    await seedInbox(srv.store, srv.user, msgs);
    const local = join(work, 'local-store');
    await mkdir(local);
    const st = await openSqliteStore(local);
    await provisionUser(st, 'bob', await hashPassword('x'));
    await st.close();
    await writeFile(join(work, 'pw.txt'), srv.password + '\n');
    await writeFile(
      join(work, 'acct.toml'),
      `protocol = "pop3"\nhost = "127.0.0.1"\nport = ${pop3.port}\ntls = "none"\nuser = "${srv.user}"\npasswordFile = "pw.txt"\n`,
    );
    const r = await runCli(['--account', 'acct.toml', '--to', `store:${local}`]);
    assert.equal(r.code, 0, r.stderr);
    const st2 = await openSqliteStore(local);
    try {
      const u = await st2.getUser('bob');
      const mb = await st2.getMailbox(u!.id, 'INBOX');
      const metas = await st2.listMessages(mb!.id);
      assert.deepEqual(metas.map((m) => m.blobId).sort(), msgs.map((m) => sha256(m)).sort());
    } finally {
      await st2.close();
    }
    assert.equal(await inboxCount(srv.store, srv.user), 0);
  });

  test('one fetch per destination: a live lock refuses before connecting; a stale one is taken over', async () => {
    await emptyInbox();
    await seedInbox(srv.store, srv.user, [makeMessage(600)]);
    const dest = join(work, 'locked');
    await mkdir(dest, { recursive: true });
    const lock = join(dest, 'petrel-fetch.journal.lock');
    // A live process that is not this one: our parent.
    await writeFile(lock, `${process.ppid}\n`);
    const refused = await runCli([...account('imap'), '--to', `maildir:${dest}`]);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /another petrel fetch \(pid \d+\)/);
    assert.equal(await inboxCount(srv.store, srv.user), 1);
    // A PID that has exited (a finished child) leaves a stale lock.
    const { spawnSync } = await import('node:child_process');
    const gone = spawnSync(process.execPath, ['-e', '0']).pid;
    await writeFile(lock, `${gone}\n`);
    const ok = await runCli([...account('imap'), '--to', `maildir:${dest}`]);
    assert.equal(ok.code, 0, ok.stderr);
    assert.deepEqual(sortedHex(await readMaildir(dest)), sortedHex([makeMessage(600)]));
    await assert.rejects(stat(lock), /ENOENT/, 'the lock is released at the end');
  });

  test('JSON account file with passwordCommand; flags override the file', async () => {
    await emptyInbox();
    await seedInbox(srv.store, srv.user, [makeMessage(700)]);
    await writeFile(
      join(work, 'acct.json'),
      JSON.stringify({ protocol: 'pop3', host: '127.0.0.1', port: 1, tls: 'none', user: srv.user, passwordCommand: 'printf "%s\\n" "$FETCH_PW"' }),
    );
    const dest = join(work, 'json-acct');
    // The file names port 1 (nothing listens); --protocol/--port on the command line win.
    const r = await runCli(['--account', 'acct.json', '--protocol', 'imap', '--port', String(srv.port), '--to', `maildir:${dest}`]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /from imap:\/\//);
    assert.deepEqual(sortedHex(await readMaildir(dest)), sortedHex([makeMessage(700)]));
    const bad = await runCli(['--account', 'acct.json', '--to', `maildir:${dest}`]);
    assert.equal(bad.code, 1, 'port 1 from the file is used when no flag overrides it');
  });

  test('--progress bar draws a bar on stderr and clears it before the summary', async () => {
    await emptyInbox();
    await seedInbox(srv.store, srv.user, [makeMessage(800), makeMessage(801)]);
    const stderr = new Capture();
    const code = await main(['fetch', ...account('imap'), '--to', `maildir:${join(work, 'bar')}`, '--progress', 'bar'], {
      stderr,
      stdout: new Capture(),
      cwd: work,
      env: { FETCH_PW: srv.password },
    });
    assert.equal(code, 0, stderr.text);
    assert.match(stderr.text, /\rfetch \[#{24}\] 100% 2 messages/);
    assert.match(stderr.text, /\r\x1b\[Kpetrel: fetched 2 messages/);
  });

  test('usage errors: bad --to, missing password', async () => {
    assert.equal((await runCli([...account('imap'), '--to', 'nowhere'])).code, 2);
    const r = await runCli(['--protocol', 'imap', '--host', '127.0.0.1', '--user', 'x', '--to', `maildir:${join(work, 'x')}`]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /no password/);
  });
});

describe('fetch journal recovery', () => {
  test('Maildir: a complete file of a pending intent is recognised; a partial one in tmp/ is removed', async () => {
    const dir = join(work, 'recover-maildir');
    const dest = new MaildirDestination(dir);
    await dest.init();
    const j = await FetchJournal.open(dest.journalPath);
    const data = makeMessage(1);
    await j.append({ t: 'intent', id: 'acct#1', sha: sha256(data), size: data.length });
    await dest.write({ id: 'acct#1', data, sha: sha256(data) });
    await j.append({ t: 'intent', id: 'acct#2', sha: 'ff', size: 3 });
    await j.close();
    // Crash while writing #2 (a torn journal line too).
    await writeFile(join(dir, 'tmp', `1${maildirIdTag('acct#2')}host`), 'par');
    await appendFile(dest.journalPath, '{"t":"don');
    const { journal, recovered } = await openJournal(dest);
    assert.equal(recovered, 0, 'the pending intent is #2, whose file never reached new/');
    assert.equal(journal.done.has('acct#2'), false);
    await journal.close();
    // Now a crash between the rename of #3 and its "done".
    const j2 = await FetchJournal.open(dest.journalPath);
    const d3 = makeMessage(3);
    await j2.append({ t: 'intent', id: 'acct#3', sha: sha256(d3), size: d3.length });
    await dest.write({ id: 'acct#3', data: d3, sha: sha256(d3) });
    await j2.close();
    const again = await openJournal(dest);
    assert.equal(again.recovered, 1);
    assert.ok(again.journal.done.has('acct#3'));
    await again.journal.close();
    assert.deepEqual(await readMaildir(dir).then((b) => b.length), 2);
  });

  test('mbox: bytes written after the pending intent are cut off', async () => {
    const file = join(work, 'recover.mbox');
    const dest = new MboxDestination(file);
    await dest.init();
    const j = await FetchJournal.open(dest.journalPath);
    const a = makeMessage(1);
    await j.append({ t: 'intent', id: 'x#1', sha: sha256(a), size: a.length, ...(await dest.intentFields()) });
    const off = await dest.write({ id: 'x#1', data: a, sha: sha256(a) });
    await j.append({ t: 'done', id: 'x#1', sha: sha256(a), where: off });
    const sizeAfterFirst = (await stat(file)).size;
    await j.append({ t: 'intent', id: 'x#2', sha: 'ab', size: 10, ...(await dest.intentFields()) });
    await j.close();
    await appendFile(file, 'From partial entry\nSubject: half');
    const { journal } = await openJournal(dest);
    await journal.close();
    assert.equal((await stat(file)).size, sizeAfterFirst);
    assert.match(await readFile(file, 'latin1'), /message 1/);
  });
});
