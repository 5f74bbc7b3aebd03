// kill -9 at random moments during syncs that download, upload, merge flags and expunge (issue 5, item 9):
// after every kill a rerun completes, and at the end the replica and the server hold the same messages,
// each exactly once, with nothing acknowledged lost; the search documents that killed downloads left for
// later (deferIndex, docs/sync.md "Storing a download") have all been written by the later runs.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { fileURLToPath } from 'node:url';
import { after, before, test } from 'node:test';
import { METADATA_FILE, openSqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import { syncOnce } from '../../src/sync/engine.js';
import type { AccountSettings } from '../../src/sync/types.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { accountFor, connect, counts, localSnapshot, message, remoteSnapshot, sameSnapshot, tempReplica } from './sync-helpers.js';

const CHILD = fileURLToPath(new URL('./sync-child.js', import.meta.url));
let server: TestServer;
let replica: string;
let account: AccountSettings;

before(async () => {
  server = await startTestServer();
  replica = await tempReplica();
  account = accountFor(server);
});
after(async () => {
  await server.stop();
  await rm(replica, { recursive: true, force: true });
});

/**
 * Runs a sync in a child and SIGKILLs it `ms` after the sync started (null: let it finish). Resolves with
 * the sync's own duration when it completed, or null when it was killed.
 */
function syncInChild(ms: number | null): Promise<number | null> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CHILD], {
      env: { ...process.env, PETREL_SYNC_TEST: JSON.stringify({ replicaDir: replica, account }) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    let timer: NodeJS.Timeout | null = null;
    child.stdout.on('data', (d) => {
      out += d;
      if (ms !== null && timer === null && out.includes('ready')) timer = setTimeout(() => child.kill('SIGKILL'), ms);
    });
    child.stderr.on('data', (d) => (err += d));
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      if (timer) clearTimeout(timer);
      const done = /done (\d+)/.exec(out);
      if (signal === 'SIGKILL') resolve(null);
      else if (code === 0 && done) resolve(Number(done[1]));
      else reject(new Error(`sync child failed (${code}): ${err}`));
    });
  });
}

function noDuplicates(s: Record<string, string[]>): void {
  for (const [name, rows] of Object.entries(s)) {
    const digests = rows.map((r) => r.split('|')[0]);
    assert.equal(new Set(digests).size, digests.length, `duplicate message in ${name}`);
  }
}

test('kill -9 at random points of syncs: nothing lost, nothing duplicated', async (t) => {
  const c = await connect(account);
  for (let i = 0; i < 40; i++) await c.append('INBOX', message(`server ${i}`, `body ${i}\r\n`.repeat(50)));
  await c.logout();
  let seed = 12345;
  const random = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);
  let kills = 0;
  let lastSyncMs = 600;
  for (let round = 0; round < 4; round++) {
    // Work on both sides between runs: new mail, flags, deletions, local drafts.
    const cl = await connect(account);
    await cl.select('INBOX');
    for (let i = 0; i < 5; i++) await cl.append('INBOX', message(`server r${round} ${i}`));
    const uids = await cl.search({ all: true }, { uid: true });
    if (uids.length > 3) {
      await cl.store(uids[round]!, ['$Round' + round], { uid: true, mode: 'add' });
      await cl.store(uids[uids.length - 1 - round]!, ['\\Deleted'], { uid: true, mode: 'add' });
      await cl.uidExpunge(uids[uids.length - 1 - round]!);
    }
    await cl.logout();
    const store = await openSqliteStore(replica);
    const user = await store.getUser(account.user);
    if (user) {
      const sent = (await store.getMailbox(user.id, 'Sent')) ?? (await store.createMailbox(user.id, 'Sent'));
      for (let i = 0; i < 8; i++) await store.append(sent.id, [{ message: await store.prepare(message(`local r${round} ${i}`, 'x'.repeat(2000) + '\r\n')), flags: ['\\Seen'] }]);
      const inbox = await store.getMailbox(user.id, 'INBOX');
      const msgs = inbox ? await store.listMessages(inbox.id) : [];
      if (inbox && msgs.length > 2) {
        await store.storeFlags(inbox.id, [msgs[round]!.uid], 'add', ['\\Flagged']);
        await store.storeFlags(inbox.id, [msgs[msgs.length - 1]!.uid], 'add', ['\\Deleted']);
        await store.expunge(inbox.id, [msgs[msgs.length - 1]!.uid]);
      }
    }
    await store.close();
    // A few attempts killed at a random moment of the sync (scaled to how long the last complete one
    // took, so the kills land inside the work on a fast or a slow machine), then one that completes.
    for (let k = 0; k < 4; k++) {
      const done = await syncInChild(Math.floor(random() * 0.6 * lastSyncMs));
      if (done === null) kills++;
    }
    const took = await syncInChild(null);
    assert.ok(took !== null);
    lastSyncMs = Math.max(50, took, lastSyncMs / 2);
  }
  t.diagnostic(`${kills} of 16 syncs killed mid-way`);
  assert.ok(kills >= 4, `only ${kills} syncs were killed mid-way`);
  await syncOnce({ replicaDir: replica, account });
  const local = await localSnapshot(replica, account.user);
  const remote = await remoteSnapshot(account);
  assert.ok(sameSnapshot(local, remote), JSON.stringify({ local: counts(local), remote: counts(remote) }));
  noDuplicates(remote);
  // Round 0 runs before the replica exists, so the replica adds mail in rounds 1-3 only.
  assert.equal(counts(remote).Sent, 3 * 8, 'every local message uploaded exactly once');
  assert.equal(counts(remote).INBOX, 40 + 4 * 5 - 4 - 3, 'server mail in, deletions from both sides applied');
  const db = new BetterSqlite3(join(replica, METADATA_FILE), { readonly: true });
  try {
    assert.equal(db.prepare('SELECT count(*) FROM search_pending').pluck().get(), 0, 'no search document left pending');
    assert.equal(db.prepare('SELECT count(*) FROM search_docs WHERE complete = 0').pluck().get(), 0, 'every message indexed');
  } finally {
    db.close();
  }
});
