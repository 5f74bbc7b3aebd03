// The SQLite store's full-text index (FTS5 trigram, src/store/sqlite/search-index.ts) behind SEARCH
// (RFC 9051 §6.4.4): results with the index are identical to the exact scan over the MIME fixture corpus
// plus generated mail, for many needles and key combinations; BODY search reads no message bytes of
// messages the index rules out, header-only keys read none at all; COPY does not index again; blobs'
// index rows go with the blobs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import * as fsp from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { evaluateSearch } from '../../src/server/search-eval.js';
import { SelectedView } from '../../src/server/selected-view.js';
import type { Session } from '../../src/server/session.js';
import type { SearchKey } from '../../src/protocol/search-keys.js';
import { openSqliteStore, type SqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import type { AppendItem, Store } from '../../src/store/types.js';
import { generated, rng } from '../store/search-corpus.js';

const ROOT = new URL('../../../', import.meta.url);

interface Fixture {
  store: SqliteStore;
  dir: string;
  mailboxId: number;
  close(): Promise<void>;
}

async function openBox(messages: Buffer[], gcGraceMs?: number): Promise<Fixture> {
  // On tmpfs when there is one: the blob files' fsyncs (durability is not under test here) cost nothing.
  const base = existsSync('/dev/shm') ? '/dev/shm' : tmpdir();
  const dir = await fsp.mkdtemp(join(base, 'petrel-search-'));
  const store = await openSqliteStore(dir, gcGraceMs === undefined ? { gcIntervalMs: 0 } : { gcIntervalMs: 0, gcGraceMs });
  const user = await store.createUser('u', 'x');
  const box = await store.createMailbox(user.id, 'INBOX');
  for (let i = 0; i < messages.length; i += 500) {
    const items: AppendItem[] = [];
    const batch = messages.slice(i, i + 500);
    // Prepared a few at a time so the blob files' fsyncs overlap.
    for (let j = 0; j < batch.length; j += 50) {
      const prepared = await Promise.all(batch.slice(j, j + 50).map((m) => store.prepare(m)));
      for (const message of prepared) items.push({ message, flags: [] });
    }
    await store.append(box.id, items);
  }
  return {
    store,
    dir,
    mailboxId: box.id,
    async close() {
      await store.close();
      await fsp.rm(dir, { recursive: true, force: true });
    },
  };
}

/** Message bytes by blobId:start:end, shared by the wrappers (the corpus is read from disk once). */
const readCache = new Map<string, Promise<Buffer>>();

/** The store as the server sees it; `index: false` hides the index (the exact scan); reads counted. */
function wrap(store: Store, index: boolean, reads: string[] = []): Store {
  return new Proxy(store, {
    get(target, prop) {
      if (prop === 'searchTextCandidates' && !index) return undefined;
      if (prop === 'readBlob') {
        return (blobId: string, start: number, end: number) => {
          reads.push(blobId);
          const k = `${blobId}:${start}:${end}`;
          let p = readCache.get(k);
          if (!p) readCache.set(k, (p = target.readBlob(blobId, start, end)));
          return p;
        };
      }
      const v = Reflect.get(target, prop, target) as unknown;
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
}

async function searchUids(store: Store, mailboxId: number, key: SearchKey): Promise<number[]> {
  const mb = (await store.getMailboxById(mailboxId))!;
  const view = new SelectedView(mb, true, await store.listMessages(mailboxId), null);
  const session: Session = {
    state: { kind: 'selected', user: { id: mb.userId, name: 'u', passwordHash: '', createdAt: 0 }, view },
    enabled: new Set(),
    secure: false,
    remoteAddress: '127.0.0.1',
    isLoopback: true,
    searchResult: [],
    clientId: null,
  };
  return (await evaluateSearch(store, view, session, key)).hits.map((h) => h.uid);
}

async function corpus(): Promise<Buffer[]> {
  const dir = new URL('test/fixtures/mime/', ROOT);
  const names = (await fsp.readdir(dir)).filter((n) => n.endsWith('.eml')).sort();
  const out: Buffer[] = [];
  for (const n of names) out.push(await fsp.readFile(new URL(n, dir)));
  return out;
}

test('indexed SEARCH equals the exact scan on the fixture corpus and generated mail', async () => {
  const r = rng(7);
  const fixtures = await corpus();
  const gen = Array.from({ length: 200 }, (_, i) => generated(r, i));
  const f = await openBox([...fixtures, ...gen]);
  try {
    const indexed = wrap(f.store, true);
    const exact = wrap(f.store, false);
    // Needles: fixed words in several cases and scripts, substrings of the corpus text, misses, short ones.
    const needles = new Set<string>([
      'alpha', 'ALPHA', 'budget', 'meeting', 'straße', 'STRASSE', 'CAFÉ', 'cafe\u0301', 'naïve', 'ærø', 'ПРИВЕТ',
      'встреча', '東京', '会議', '안녕', 'ελλάδα', 'final', 'résumé', 'token12x', 'token199x', 'line two', 'no-such-word-zz',
      'ok', 'of', 'a', '', 'the', 'sender 5', 'example.org', 'rcpt3@', '<b>', 'x-part', 'content-type', 'boundary',
      'charset', '=?utf-8?', 'attachment', 'multipart', 'inline', 'text/html', 'Re:', 'Fwd', 'calendar', 'PGP', 'jörg',
    ]);
    const texts = fixtures.map((b) => b.toString('latin1'));
    for (let i = 0; i < 30; i++) {
      const t = texts[Math.floor(r() * texts.length)]!;
      const start = Math.floor(r() * t.length);
      const len = 1 + Math.floor(r() * 12);
      needles.add(t.slice(start, start + len).replace(/[\r\n"\\]/g, ''));
    }
    const keys: SearchKey[] = [];
    for (const n of needles) {
      keys.push({ type: 'body', value: n }, { type: 'text', value: n });
      for (const field of ['Subject', 'From', 'X-Label']) keys.push({ type: 'header', field, value: n });
    }
    keys.push(
      { type: 'or', left: { type: 'body', value: 'quokka' }, right: { type: 'header', field: 'Subject', value: 'zebra' } },
      { type: 'and', keys: [{ type: 'body', value: 'lunch' }, { type: 'not', key: { type: 'text', value: 'budget' } }] },
      { type: 'not', key: { type: 'body', value: 'the' } },
      { type: 'or', left: { type: 'body', value: 'xylophone' }, right: { type: 'flag', flag: '\\Seen', set: false } },
      { type: 'and', keys: [{ type: 'text', value: 'marmalade' }, { type: 'uid', set: { ranges: [{ start: 1, end: 200 }] } }] },
    );
    let nonEmpty = 0;
    for (const key of keys) {
      const want = await searchUids(exact, f.mailboxId, key);
      const got = await searchUids(indexed, f.mailboxId, key);
      assert.deepEqual(got, want, JSON.stringify(key));
      if (want.length > 0) nonEmpty++;
    }
    assert.ok(nonEmpty > keys.length / 4, `only ${nonEmpty} of ${keys.length} keys matched anything`);
  } finally {
    await f.close();
  }
});

test('BODY search over 5,000 messages reads no message bytes of non-matching messages', async () => {
  const r = rng(11);
  const messages = Array.from({ length: 5000 }, (_, i) => generated(r, i));
  const f = await openBox(messages);
  try {
    const reads: string[] = [];
    const store = wrap(f.store, true, reads);
    const byUid = new Map((await f.store.listMessages(f.mailboxId)).map((m) => [m.uid, m.blobId] as const));
    const hits = await searchUids(store, f.mailboxId, { type: 'body', value: 'TOKEN4321X' });
    assert.deepEqual(hits, [4322]);
    assert.ok(reads.length > 0);
    assert.deepEqual(new Set(reads), new Set([byUid.get(4322)]));
    // A common word: only messages that have it are read.
    reads.length = 0;
    const quokka = await searchUids(store, f.mailboxId, { type: 'body', value: 'Quokka' });
    assert.ok(quokka.length > 100 && quokka.length < 5000);
    const readUids = new Set([...byUid].filter(([, b]) => reads.includes(b)).map(([u]) => u));
    assert.ok(readUids.size > 0);
    for (const u of readUids) assert.ok(quokka.includes(u), `read message ${u}, which does not match`);
    // Header-only keys read no message bytes at all.
    reads.length = 0;
    const subj = await searchUids(store, f.mailboxId, { type: 'header', field: 'Subject', value: '#4999' });
    assert.deepEqual(subj, [5000]);
    const from = await searchUids(store, f.mailboxId, { type: 'header', field: 'FROM', value: 's36@example' });
    assert.equal(from.length, Math.ceil((5000 - 36) / 37));
    assert.deepEqual(reads, []);
    // Short needles fall back to the scan and still answer.
    const short = await searchUids(store, f.mailboxId, { type: 'body', value: 'ok' });
    assert.ok(short.length > 0);
  } finally {
    await f.close();
  }
});

test('COPY shares the index; GC drops it with the blob; messages stored before the index exist are scanned', async () => {
  const f = await openBox([generated(rng(3), 1), generated(rng(4), 2), generated(rng(5), 3)], 0);
  try {
    const user = await f.store.getUser('u');
    const dst = await f.store.createMailbox(user!.id, 'Copy');
    await f.store.copyMessages(f.mailboxId, [1, 2], dst.id);
    const db = (f.store as unknown as { db: { prepare(s: string): { get(): unknown; run(): unknown } } }).db;
    assert.deepEqual(db.prepare('SELECT count(*) AS n FROM search_docs').get(), { n: 3 });
    // Expunging the only copy of message 3 and collecting garbage removes its document.
    await f.store.storeFlags(f.mailboxId, [3], 'add', ['\\Deleted']);
    await f.store.expunge(f.mailboxId);
    assert.equal((await f.store.collectGarbage()).removedBlobs, 1);
    assert.deepEqual(db.prepare('SELECT count(*) AS n FROM search_docs').get(), { n: 2 });
    assert.deepEqual(await f.store.searchTextCandidates(f.mailboxId, 'body', fold2('token3x')), []);
    assert.deepEqual(await f.store.searchTextCandidates(dst.id, 'body', fold2('token1x')), [1]);
    assert.deepEqual(await f.store.searchTextCandidates(dst.id, 'body', fold2('no-such-thing')), []);
    // Without its index rows (a store from before the index), a message is always a candidate.
    db.prepare('DELETE FROM search_fts').run();
    db.prepare('UPDATE search_docs SET complete = 0').run();
    assert.deepEqual(await f.store.searchTextCandidates(dst.id, 'body', fold2('no-such-thing')), [1, 2]);
    assert.deepEqual(await searchUids(f.store, dst.id, { type: 'body', value: 'token2x' }), [2]);
    assert.equal(await f.store.searchTextCandidates(dst.id, 'body', 'ab'), null);
  } finally {
    await f.close();
  }
});

function fold2(s: string): string {
  return s.toUpperCase();
}

test('upgrading a store from schema v2 marks its messages unindexed, and SEARCH still finds them', async () => {
  const f = await openBox([generated(rng(21), 7)]);
  const dir = f.dir;
  try {
    await f.store.close();
    // Back to what a v2 store looked like: no search tables.
    const { default: Database } = await import('better-sqlite3');
    const db = new Database(join(dir, 'metadata.sqlite'));
    db.exec('DROP TRIGGER blobs_after_delete_search; DROP TABLE search_fts; DROP TABLE search_docs; UPDATE schema_version SET version = 2');
    db.close();
    const store = await openSqliteStore(dir, { gcIntervalMs: 0 });
    try {
      const box = (await store.getMailbox((await store.getUser('u'))!.id, 'INBOX'))!;
      assert.deepEqual(await store.searchTextCandidates(box.id, 'body', fold2('no-such-thing')), [1]);
      assert.deepEqual(await searchUids(store, box.id, { type: 'body', value: 'token7x' }), [1]);
      assert.deepEqual(await searchUids(store, box.id, { type: 'body', value: 'token8x' }), []);
      // New mail is indexed as usual (the old message stays a candidate for every needle).
      await store.append(box.id, [{ message: await store.prepare(generated(rng(22), 8)), flags: [] }]);
      assert.deepEqual(await store.searchTextCandidates(box.id, 'body', fold2('token8x')), [1, 2]);
      assert.deepEqual(await store.searchTextCandidates(box.id, 'body', fold2('no-such-thing')), [1]);
      assert.deepEqual(await searchUids(store, box.id, { type: 'body', value: 'token8x' }), [2]);
    } finally {
      await store.close();
    }
  } finally {
    await fsp.rm(dir, { recursive: true, force: true });
  }
});
