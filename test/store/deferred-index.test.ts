// The SQLite store's deferred full-text documents (Store.append with deferIndex, indexPending; schema v4
// search_pending): what the sync's bulk download uses. SEARCH (RFC 9051 §6.4.4) gives the exact scan's
// answer before, during and after the documents are written; a store closed in between (a killed sync)
// keeps the marks and a later indexPending() or collectGarbage() writes them; two connections filling at
// once write each document once; a blob collected before its document was written leaves no mark.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import * as fsp from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import BetterSqlite3 from 'better-sqlite3';
import { fold } from '../../src/mime/search-text.js';
import type { SearchKey } from '../../src/protocol/search-keys.js';
import { METADATA_FILE, openSqliteStore, type SqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import type { AppendItem } from '../../src/store/types.js';
import { corpus, generated, rng, searchUids, wrapStore } from './search-corpus.js';

async function tempDir(): Promise<string> {
  // tmpfs when there is one: the blob fsyncs are not under test here.
  const base = existsSync('/dev/shm') ? '/dev/shm' : tmpdir();
  return fsp.mkdtemp(join(base, 'petrel-defer-'));
}

interface Box {
  store: SqliteStore;
  mailboxId: number;
}

async function openBox(dir: string): Promise<Box> {
  const store = await openSqliteStore(dir, { gcIntervalMs: 0 });
  const user = (await store.getUser('u')) ?? (await store.createUser('u', 'x'));
  const box = (await store.getMailbox(user.id, 'INBOX')) ?? (await store.createMailbox(user.id, 'INBOX'));
  return { store, mailboxId: box.id };
}

async function appendAll(b: Box, messages: readonly Buffer[], deferIndex: boolean): Promise<void> {
  for (let i = 0; i < messages.length; i += 100) {
    const items: AppendItem[] = [];
    for (const m of messages.slice(i, i + 100)) items.push({ message: await b.store.prepare(m), flags: [] });
    await b.store.append(b.mailboxId, items, { deferIndex });
  }
}

/** Rows of a table of the store's database, read through a connection of its own. */
function count(dir: string, sql: string): number {
  const db = new BetterSqlite3(join(dir, METADATA_FILE), { readonly: true });
  try {
    return (db.prepare(sql).pluck().get() as number) ?? 0;
  } finally {
    db.close();
  }
}

const NEEDLES = ['alpha', 'budget', 'meeting', 'straße', 'ПРИВЕТ', '東京', 'token12x', 'token77x', 'no-such-word-zz', 'example.org', 'multipart', 'the'];

function keysOf(needles: readonly string[]): SearchKey[] {
  const keys: SearchKey[] = [];
  for (const n of needles) keys.push({ type: 'body', value: n }, { type: 'text', value: n }, { type: 'header', field: 'Subject', value: n });
  return keys;
}

describe('SQLite store: deferred full-text documents (append deferIndex, indexPending)', () => {
  it('SEARCH equals the exact scan before and after indexPending, and the candidates end as with indexing at append', async () => {
    const r = rng(11);
    const messages = [...(await corpus()), ...Array.from({ length: 120 }, (_, i) => generated(r, i))];
    const dirA = await tempDir();
    const dirB = await tempDir();
    const a = await openBox(dirA);
    const b = await openBox(dirB);
    try {
      await appendAll(a, messages, true);
      await appendAll(b, messages, false);
      assert.equal(count(dirA, 'SELECT count(*) FROM search_pending'), messages.length);
      assert.equal(count(dirB, 'SELECT count(*) FROM search_pending'), 0);
      const all = messages.map((_, i) => i + 1);
      // Not yet indexed: every message is a candidate, so SEARCH scans and still answers exactly.
      assert.deepEqual(await a.store.searchTextCandidates(a.mailboxId, 'body', fold('no-such-word-zz')), all);
      const exact = wrapStore(a.store, false);
      const indexed = wrapStore(a.store, true);
      const keys = keysOf(NEEDLES);
      const want: number[][] = [];
      for (const k of keys) {
        want.push(await searchUids(exact, a.mailboxId, k));
        assert.deepEqual(await searchUids(indexed, a.mailboxId, k), want.at(-1), JSON.stringify(k));
      }
      assert.ok(want.some((w) => w.length > 0) && want.some((w) => w.length === 0));

      assert.equal(await a.store.indexPending(), messages.length);
      assert.equal(await a.store.indexPending(), 0);
      assert.equal(count(dirA, 'SELECT count(*) FROM search_pending'), 0);
      // Same documents as indexing at append: the same candidates for every needle and field.
      for (const n of NEEDLES) {
        for (const field of ['body', 'text', 'subject', 'from'] as const) {
          assert.deepEqual(
            await a.store.searchTextCandidates(a.mailboxId, field, fold(n)),
            await b.store.searchTextCandidates(b.mailboxId, field, fold(n)),
            `${field} ${n}`,
          );
        }
      }
      assert.deepEqual(await a.store.searchTextCandidates(a.mailboxId, 'body', fold('no-such-word-zz')), []);
      for (let i = 0; i < keys.length; i++) assert.deepEqual(await searchUids(indexed, a.mailboxId, keys[i]!), want[i], JSON.stringify(keys[i]));
    } finally {
      await a.store.close();
      await b.store.close();
      await fsp.rm(dirA, { recursive: true, force: true });
      await fsp.rm(dirB, { recursive: true, force: true });
    }
  });

  it('marks survive a store closed before indexing (a killed sync); collectGarbage writes them after reopening', async () => {
    const r = rng(12);
    const messages = Array.from({ length: 60 }, (_, i) => generated(r, i));
    const dir = await tempDir();
    try {
      const first = await openBox(dir);
      await appendAll(first, messages, true);
      await first.store.close();
      const again = await openBox(dir);
      try {
        assert.equal(count(dir, 'SELECT count(*) FROM search_pending'), 60);
        assert.equal(count(dir, 'SELECT count(*) FROM search_docs WHERE complete = 0'), 60);
        await again.store.collectGarbage();
        assert.equal(count(dir, 'SELECT count(*) FROM search_pending'), 0);
        assert.equal(count(dir, 'SELECT count(*) FROM search_docs WHERE complete = 0'), 0);
        const exact = wrapStore(again.store, false);
        const indexed = wrapStore(again.store, true);
        for (const k of keysOf(['token5x', 'token59x', 'the', 'zzzz-none'])) {
          assert.deepEqual(await searchUids(indexed, again.mailboxId, k), await searchUids(exact, again.mailboxId, k));
        }
      } finally {
        await again.store.close();
      }
    } finally {
      await fsp.rm(dir, { recursive: true, force: true });
    }
  });

  it('two connections filling at once write each document once', async () => {
    const r = rng(13);
    const messages = Array.from({ length: 150 }, (_, i) => generated(r, i));
    const dir = await tempDir();
    const one = await openBox(dir);
    const two = await openBox(dir);
    try {
      await appendAll(one, messages, true);
      const [x, y] = await Promise.all([one.store.indexPending({ batch: 7 }), two.store.indexPending({ batch: 11 })]);
      assert.equal(x + y, 150);
      assert.equal(count(dir, 'SELECT count(*) FROM search_docs WHERE complete = 1'), 150);
      assert.equal(count(dir, 'SELECT count(*) FROM search_pending'), 0);
    } finally {
      await one.store.close();
      await two.store.close();
      await fsp.rm(dir, { recursive: true, force: true });
    }
  });

  it('a deferred blob that is already indexed gets no mark; a collected blob takes its mark along', async () => {
    const r = rng(14);
    const dir = await tempDir();
    const store = await openSqliteStore(dir, { gcIntervalMs: 0, gcGraceMs: 0 });
    try {
      const user = await store.createUser('u', 'x');
      const inbox = await store.createMailbox(user.id, 'INBOX');
      const m1 = generated(r, 1);
      const m2 = generated(r, 2);
      await store.append(inbox.id, [{ message: await store.prepare(m1), flags: [] }]);
      await store.append(inbox.id, [{ message: await store.prepare(m1), flags: [] }, { message: await store.prepare(m2), flags: ['\\Deleted'] }], { deferIndex: true });
      assert.equal(count(dir, 'SELECT count(*) FROM search_pending'), 1);
      await store.expunge(inbox.id);
      await store.collectGarbage();
      assert.equal(count(dir, 'SELECT count(*) FROM search_pending'), 0);
      assert.equal(await store.indexPending(), 0);
      assert.equal(count(dir, 'SELECT count(*) FROM search_docs'), 1);
    } finally {
      await store.close();
      await fsp.rm(dir, { recursive: true, force: true });
    }
  });
});
