// The sync's background indexing thread (src/sync/index-worker.ts): while batches are appended with
// deferIndex (as the download does), the thread writes their full-text documents on its own connection;
// finish() leaves nothing pending and SEARCH candidates are those of indexing at append (with the write
// lock handed over through the shared gate, as the engine sets it); stop() (a failed
// or aborted sync) leaves the rest marked, and indexPending() writes it later.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import * as fsp from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fold } from '../../src/mime/search-text.js';
import { openSqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import { BackgroundIndexer } from '../../src/sync/index-worker.js';
import { generated, rng } from '../store/search-corpus.js';

async function tempDir(): Promise<string> {
  const base = existsSync('/dev/shm') ? '/dev/shm' : tmpdir();
  return fsp.mkdtemp(join(base, 'petrel-ixw-'));
}

describe('sync: background search indexing thread', () => {
  it('indexes deferred documents while batches are appended; finish() leaves none pending', async () => {
    const r = rng(21);
    const messages = Array.from({ length: 200 }, (_, i) => generated(r, i));
    const dir = await tempDir();
    const ref = await tempDir();
    const store = await openSqliteStore(dir, { gcIntervalMs: 0 });
    const plain = await openSqliteStore(ref, { gcIntervalMs: 0 });
    const indexer = BackgroundIndexer.start(dir);
    // As the engine does: this connection's write transactions and the thread's hand the lock over.
    store.setWriteGate(indexer.gate);
    try {
      const user = await store.createUser('u', 'x');
      const box = await store.createMailbox(user.id, 'INBOX');
      const refUser = await plain.createUser('u', 'x');
      const refBox = await plain.createMailbox(refUser.id, 'INBOX');
      for (let i = 0; i < messages.length; i += 25) {
        const part = messages.slice(i, i + 25);
        await store.append(box.id, await Promise.all(part.map(async (m) => ({ message: await store.prepare(m), flags: [] }))), { deferIndex: true });
        indexer.kick();
        await plain.append(refBox.id, await Promise.all(part.map(async (m) => ({ message: await plain.prepare(m), flags: [] }))));
      }
      const written = await indexer.finish();
      assert.equal(written, 200);
      assert.equal(await store.indexPending(), 0);
      for (const n of ['token3x', 'token150x', 'the', 'none-such-zz']) {
        assert.deepEqual(await store.searchTextCandidates(box.id, 'body', fold(n)), await plain.searchTextCandidates(refBox.id, 'body', fold(n)), n);
      }
      assert.deepEqual(await store.searchTextCandidates(box.id, 'body', fold('none-such-zz')), []);
    } finally {
      await indexer.stop();
      await store.close();
      await plain.close();
      await fsp.rm(dir, { recursive: true, force: true });
      await fsp.rm(ref, { recursive: true, force: true });
    }
  });

  it('stop() ends the thread; what it left is written by a later indexPending()', async () => {
    const r = rng(22);
    const dir = await tempDir();
    const store = await openSqliteStore(dir, { gcIntervalMs: 0 });
    try {
      const user = await store.createUser('u', 'x');
      const box = await store.createMailbox(user.id, 'INBOX');
      const items = await Promise.all(Array.from({ length: 120 }, async (_, i) => ({ message: await store.prepare(generated(r, i)), flags: [] })));
      await store.append(box.id, items, { deferIndex: true });
      const indexer = BackgroundIndexer.start(dir);
      indexer.kick();
      await indexer.stop();
      await assert.rejects(indexer.finish(), /indexing thread failed/);
      const rest = await store.indexPending();
      assert.ok(rest >= 0 && rest <= 120);
      assert.equal(await store.indexPending(), 0);
      assert.deepEqual(await store.searchTextCandidates(box.id, 'body', fold('none-such-zz')), []);
      assert.equal((await store.searchTextCandidates(box.id, 'body', fold('token7x')))?.includes(8), true);
    } finally {
      await store.close();
      await fsp.rm(dir, { recursive: true, force: true });
    }
  });
});
