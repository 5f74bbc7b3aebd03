// Crash safety of `petrel fetch` (issue 6 item 3; RFC 1733 §3 offline model): the real command, as a
// child process, is killed with SIGKILL at seeded random points while fetching ~200 messages from
// Petrel's POP3 (RFC 1939) or IMAP (RFC 9051) server, then run to completion. Afterwards the destination
// holds every message exactly once (byte-identical) and the server is empty, or untouched with --keep.
// Seed: PETREL_FETCH_KILL_SEED (printed, so a failure can be replayed).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { hashPassword } from '../../src/auth/password.js';
import { sha256 } from '../../src/offline/destinations.js';
import { startPop3Server, type RunningPop3Server } from '../../src/pop3/pop3-server.js';
import { provisionUser } from '../../src/store/provision.js';
import { openSqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import { REPO_ROOT, startTestServer, type TestServer } from '../helpers/server.js';
import { inboxCount, killAndRerun, makeMessage, readMaildir, readMbox, seedInbox, sortedHex } from './fetch-helpers.js';

const SEED = Number(process.env.PETREL_FETCH_KILL_SEED ?? Date.now() % 1_000_000);
const COUNT = 200;
const KILLS = 6;

let srv: TestServer;
let pop3: RunningPop3Server;
let work: string;
const messages = Array.from({ length: COUNT }, (_, i) => makeMessage(i, (i * 37) % 2000));

before(async () => {
  console.log(`# fetch kill test seed ${SEED}`);
  srv = await startTestServer();
  pop3 = await startPop3Server({ store: srv.store, host: '127.0.0.1', port: 0, tlsPort: null, tls: null, markSeen: false });
  work = await mkdtemp(join(tmpdir(), 'petrel-fetch-kill-'));
});

after(async () => {
  await pop3?.close();
  await srv?.stop();
  if (work) await rm(work, { recursive: true, force: true });
});

function args(protocol: 'pop3' | 'imap'): string[] {
  const port = protocol === 'pop3' ? pop3.port! : srv.port;
  return ['--protocol', protocol, '--host', '127.0.0.1', '--port', String(port), '--tls', 'none', '--user', srv.user, '--password-env', 'FETCH_PW'];
}

async function inboxBlobs(): Promise<string[]> {
  const u = await srv.store.getUser(srv.user);
  const mb = await srv.store.getMailbox(u!.id, 'INBOX');
  return (await srv.store.listMessages(mb!.id)).map((m) => m.blobId).sort();
}

describe('petrel fetch survives kill -9', () => {
  test('POP3 → Maildir, deleting: every message exactly once, server emptied', async () => {
    await seedInbox(srv.store, srv.user, messages);
    const dest = join(work, 'pop3-maildir');
    const { killed, final } = await killAndRerun({
      repoRoot: REPO_ROOT,
      args: [...args('pop3'), '--to', `maildir:${dest}`],
      env: { FETCH_PW: srv.password },
      journal: join(dest, 'petrel-fetch.journal'),
      journalBytes: COUNT * 2 * 200,
      messages: COUNT,
      kills: KILLS,
      seed: SEED,
    });
    assert.equal(final.code, 0, final.stderr);
    assert.ok(killed >= 1, 'at least one run was killed mid-way');
    assert.deepEqual(sortedHex(await readMaildir(dest)), sortedHex(messages));
    assert.equal(await inboxCount(srv.store, srv.user), 0);
  });

  test('IMAP → Maildir with --keep: every message exactly once, server untouched', async () => {
    await seedInbox(srv.store, srv.user, messages);
    const before = await inboxBlobs();
    const dest = join(work, 'imap-keep');
    const { killed, final } = await killAndRerun({
      repoRoot: REPO_ROOT,
      args: [...args('imap'), '--to', `maildir:${dest}`, '--keep'],
      env: { FETCH_PW: srv.password },
      journal: join(dest, 'petrel-fetch.journal'),
      journalBytes: COUNT * 2 * 220,
      messages: COUNT,
      kills: KILLS,
      seed: SEED + 1,
    });
    assert.equal(final.code, 0, final.stderr);
    assert.ok(killed >= 1);
    assert.deepEqual(sortedHex(await readMaildir(dest)), sortedHex(messages));
    assert.deepEqual(await inboxBlobs(), before);
  });

  test('IMAP → store:DIR, deleting: every message exactly once in the local INBOX, server emptied', async () => {
    const local = join(work, 'local');
    await mkdir(local);
    const st = await openSqliteStore(local);
    await provisionUser(st, srv.user, await hashPassword('x'));
    await st.close();
    const { killed, final } = await killAndRerun({
      repoRoot: REPO_ROOT,
      args: [...args('imap'), '--to', `store:${local}`],
      env: { FETCH_PW: srv.password },
      journal: join(local, 'petrel-fetch.journal'),
      journalBytes: COUNT * 2 * 220,
      messages: COUNT,
      kills: KILLS,
      seed: SEED + 2,
    });
    assert.equal(final.code, 0, final.stderr);
    assert.ok(killed >= 1);
    assert.equal(await inboxCount(srv.store, srv.user), 0);
    const st2 = await openSqliteStore(local);
    try {
      const u = await st2.getUser(srv.user);
      const mb = await st2.getMailbox(u!.id, 'INBOX');
      const blobs = (await st2.listMessages(mb!.id)).map((m) => m.blobId).sort();
      assert.deepEqual(blobs, messages.map((m) => sha256(m)).sort());
    } finally {
      await st2.close();
    }
  });

  test('POP3 → mbox, deleting: every entry exactly once (torn entries cut off), server emptied', async () => {
    assert.equal(await inboxCount(srv.store, srv.user), 0);
    const some = messages.slice(0, 120);
    await seedInbox(srv.store, srv.user, some);
    const file = join(work, 'out.mbox');
    const { killed, final } = await killAndRerun({
      repoRoot: REPO_ROOT,
      args: [...args('pop3'), '--to', `mbox:${file}`],
      env: { FETCH_PW: srv.password },
      journal: join(work, '.out.mbox.petrel-fetch.journal'),
      journalBytes: some.length * 2 * 200,
      messages: some.length,
      kills: KILLS,
      seed: SEED + 3,
    });
    assert.equal(final.code, 0, final.stderr);
    assert.ok(killed >= 1);
    assert.deepEqual(sortedHex(await readMbox(file)), sortedHex(some));
    assert.equal(await inboxCount(srv.store, srv.user), 0);
  });
});
