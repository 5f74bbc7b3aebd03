// The PostgreSQL store's full-text search (src/store/postgres/pg-search.ts) behind SEARCH (RFC 9051 §6.4.4):
// the index's candidates are a superset of the exact answer for every key, and SEARCH results with the
// index equal the exact scan over the MIME fixture corpus plus generated mail; BODY search reads no message
// bytes of messages the index rules out and PostgreSQL answers it from the pg_trgm GIN index; COPY indexes
// nothing new and documents go with their blobs; messages stored before the index existed (migration 3)
// are always candidates until the backfill indexes them; without pg_trgm (a role that may not create
// extensions) the same answers come from scanning the documents, and a log line says so; over IMAP, SEARCH
// on one node finds what another node appended, through the index.
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import pg from 'pg';
import { fold } from '../../src/mime/search-text.js';
import type { SearchKey } from '../../src/protocol/search-keys.js';
import { openPostgresStore, type PostgresStore, type PostgresStoreOptions } from '../../src/store/postgres/postgres-store.js';
import { computeDoc, likePattern } from '../../src/store/postgres/pg-search.js';
import { PG_MIGRATIONS } from '../../src/store/postgres/schema.js';
import { MimeIndexer } from '../../src/mime/indexer.js';
import { MAX_INDEXED_TEXT } from '../../src/store/sqlite/search-index.js';
import { startServer } from '../../src/server/server.js';
import { ImapTestClient } from '../helpers/imap-client.js';
import { createTestDatabase, ensurePostgres, withDatabase, type TestDatabase } from '../helpers/postgres.js';
import { provisionAccounts, TEST_PASSWORD, TEST_USER } from '../helpers/server.js';
import { appendAll, corpus, generated, rng, searchUids, selectedSearch, wrapStore } from './search-corpus.js';

const databases: TestDatabase[] = [];

async function freshDatabase(): Promise<TestDatabase> {
  const db = await createTestDatabase(await ensurePostgres());
  databases.push(db);
  return db;
}

after(async () => {
  for (const db of databases) await db.drop().catch(() => {});
  await (await ensurePostgres()).stop();
});

interface Box {
  store: PostgresStore;
  mailboxId: number;
  userId: number;
}

async function openBox(url: string, messages: Buffer[], options: PostgresStoreOptions = {}): Promise<Box> {
  const store = await openPostgresStore(url, { gcIntervalMs: 0, ...options });
  const user = await store.createUser('u', 'x');
  const box = await store.createMailbox(user.id, 'INBOX');
  await appendAll(store, box.id, messages);
  return { store, mailboxId: box.id, userId: user.id };
}

async function sql<R extends pg.QueryResultRow>(url: string, text: string, values: unknown[] = []): Promise<R[]> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    return (await c.query<R>(text, values)).rows;
  } finally {
    await c.end();
  }
}

/** Every string key's field and folded needle, as the server asks the index. */
function indexQuestion(key: SearchKey): { field: 'text' | 'body' | 'header' | 'subject' | 'from' | 'to' | 'cc' | 'bcc'; needle: string } | null {
  if (key.type === 'body' || key.type === 'text') return { field: key.type, needle: fold(key.value) };
  if (key.type !== 'header') return null;
  const f = key.field.toLowerCase();
  const field = f === 'subject' || f === 'from' || f === 'to' || f === 'cc' || f === 'bcc' ? f : 'header';
  return { field, needle: fold(key.value) };
}

/** Checks, for every key: candidates ⊇ exact answer (when the index answers) and indexed SEARCH = scan. */
async function assertEquivalent(box: Box, keys: SearchKey[], cache: Map<string, Promise<Buffer>>): Promise<{ nonEmpty: number; asked: number }> {
  const indexed = await selectedSearch(wrapStore(box.store, true, [], cache), box.mailboxId);
  const exact = await selectedSearch(wrapStore(box.store, false, [], cache), box.mailboxId);
  let nonEmpty = 0;
  let asked = 0;
  for (const key of keys) {
    const want = await exact(key);
    const q = indexQuestion(key);
    if (q) {
      const cands = await box.store.searchTextCandidates(box.mailboxId, q.field, q.needle);
      if (cands !== null) {
        asked++;
        const set = new Set(cands);
        for (const uid of want) assert.ok(set.has(uid), `${JSON.stringify(key)}: uid ${uid} matches but is no candidate`);
        assert.deepEqual(cands, [...cands].sort((a, b) => a - b), 'candidates ascending');
      } else {
        assert.ok([...q.needle].length < 3 || q.needle.includes('\u0000'), `${JSON.stringify(key)}: index gave no answer`);
      }
    }
    const got = await indexed(key);
    assert.deepEqual(got, want, JSON.stringify(key));
    if (want.length > 0) nonEmpty++;
  }
  return { nonEmpty, asked };
}

function keysFor(needles: Iterable<string>): SearchKey[] {
  const keys: SearchKey[] = [];
  for (const n of needles) {
    keys.push({ type: 'body', value: n }, { type: 'text', value: n });
    for (const field of ['Subject', 'From', 'X-Label']) keys.push({ type: 'header', field, value: n });
  }
  return keys;
}

describe('PostgreSQL full-text search', () => {
  it('documents: unreadable bytes leave the content for the backfill, too much text is never indexed', async () => {
    const index = (b: Buffer) => {
      const ix = new MimeIndexer();
      ix.push(b);
      return ix.finish();
    };
    const small = generated(rng(1), 1);
    const doc = await computeDoc(index(small), 'x', async (_id, start, end) => small.subarray(start, end));
    assert.ok(typeof doc === 'object' && doc.body.includes('TOKEN1X'), JSON.stringify(doc));
    assert.equal(await computeDoc(index(small), 'x', async () => Promise.reject(new Error('connection lost'))), 'failed');
    const big = Buffer.from(`Subject: big\r\n\r\n${'x'.repeat(MAX_INDEXED_TEXT + 10)}\r\n`);
    let read = false;
    const bigDoc = await computeDoc(index(big), 'x', async (_id, start, end) => {
      read = true;
      return big.subarray(start, end);
    });
    assert.equal(bigDoc, 'large');
    assert.equal(read, false);
    assert.equal(likePattern('100%_a\\b'), '%100\\%\\_a\\\\b%');
  });

  it('candidates are a superset and indexed SEARCH equals the exact scan (fixtures + generated mail)', async () => {
    const db = await freshDatabase();
    const r = rng(7);
    const fixtures = await corpus();
    const gen = Array.from({ length: 200 }, (_, i) => generated(r, i));
    const box = await openBox(db.url, [...fixtures, ...gen]);
    try {
      assert.deepEqual(box.store.searchSetup, { documents: true, trigram: true, reason: null });
      const needles = new Set<string>([
        'alpha', 'ALPHA', 'budget', 'meeting', 'straße', 'STRASSE', 'CAFÉ', 'cafe\u0301', 'naïve', 'ærø', 'ПРИВЕТ',
        'встреча', '東京', '会議', '안녕', 'ελλάδα', 'final', 'résumé', 'token12x', 'token199x', 'line two', 'no-such-word-zz',
        'ok', 'of', 'a', '', 'the', 'sender 5', 'example.org', 'rcpt3@', '<b>', 'x-part', 'content-type', 'boundary',
        'charset', '=?utf-8?', 'attachment', 'multipart', 'inline', 'text/html', 'Re:', 'Fwd', 'calendar', 'PGP', 'jörg',
        // LIKE's wildcards and escape character are literal in IMAP
        '100%', '0%', 'snake_case', 'e_c', '%', '_', 'a\\b', '\\', '%_%',
      ]);
      const texts = fixtures.map((b) => b.toString('latin1'));
      for (let i = 0; i < 25; i++) {
        const t = texts[Math.floor(r() * texts.length)]!;
        const start = Math.floor(r() * t.length);
        const len = 1 + Math.floor(r() * 12);
        needles.add(t.slice(start, start + len).replace(/[\r\n"\\]/g, ''));
      }
      const keys = keysFor(needles);
      keys.push(
        { type: 'or', left: { type: 'body', value: 'quokka' }, right: { type: 'header', field: 'Subject', value: 'zebra' } },
        { type: 'and', keys: [{ type: 'body', value: 'lunch' }, { type: 'not', key: { type: 'text', value: 'budget' } }] },
        { type: 'not', key: { type: 'body', value: 'the' } },
        { type: 'or', left: { type: 'body', value: 'xylophone' }, right: { type: 'flag', flag: '\\Seen', set: false } },
        { type: 'and', keys: [{ type: 'text', value: 'marmalade' }, { type: 'uid', set: { ranges: [{ start: 1, end: 200 }] } }] },
      );
      const { nonEmpty, asked } = await assertEquivalent(box, keys, new Map());
      assert.ok(nonEmpty > keys.length / 4, `only ${nonEmpty} of ${keys.length} keys matched anything`);
      assert.ok(asked > keys.length / 2, `the index answered only ${asked} of ${keys.length} keys`);
      // Every content has an indexed document (state 1) or is marked too large to index (state 2).
      const states = await sql<{ state: number; n: string }>(db.url, 'SELECT state, count(*) AS n FROM search_docs GROUP BY state');
      assert.ok(!states.some((s) => s.state === 0), JSON.stringify(states));
      // The index is exact for its documents: 'snake_case' does not match 'snakeXcase' (no LIKE wildcard).
      const plain = await box.store.searchTextCandidates(box.mailboxId, 'body', fold('snake_case'));
      const loose = await box.store.searchTextCandidates(box.mailboxId, 'body', fold('snake%case'));
      assert.ok(plain!.length > 0);
      assert.deepEqual(loose, []);
    } finally {
      await box.store.close();
    }
  });

  it('BODY search over 2,000 messages uses the trigram index and reads no bytes of non-matching messages', async () => {
    const db = await freshDatabase();
    const r = rng(11);
    const box = await openBox(db.url, Array.from({ length: 2000 }, (_, i) => generated(r, i)));
    try {
      const reads: string[] = [];
      const store = wrapStore(box.store, true, reads);
      const byUid = new Map((await box.store.listMessages(box.mailboxId)).map((m) => [m.uid, m.blobId] as const));
      const hits = await searchUids(store, box.mailboxId, { type: 'body', value: 'TOKEN1345X' });
      assert.deepEqual(hits, [1346]);
      assert.ok(reads.length > 0);
      assert.deepEqual(new Set(reads), new Set([byUid.get(1346)]));
      // A common word: only messages that have it are read.
      reads.length = 0;
      const quokka = await searchUids(store, box.mailboxId, { type: 'body', value: 'Quokka' });
      assert.ok(quokka.length > 100 && quokka.length < 2000);
      const readUids = new Set([...byUid].filter(([, b]) => reads.includes(b)).map(([u]) => u));
      assert.ok(readUids.size > 0);
      for (const u of readUids) assert.ok(quokka.includes(u), `read message ${u}, which does not match`);
      // Header-only keys read no message bytes at all.
      reads.length = 0;
      assert.deepEqual(await searchUids(store, box.mailboxId, { type: 'header', field: 'Subject', value: '#1999' }), [2000]);
      const from = await searchUids(store, box.mailboxId, { type: 'header', field: 'FROM', value: 's36@example' });
      assert.equal(from.length, Math.ceil((2000 - 36) / 37));
      assert.deepEqual(reads, []);
      // Short needles fall back to the scan and still answer.
      assert.equal(await box.store.searchTextCandidates(box.mailboxId, 'body', 'OK'), null);
      assert.ok((await searchUids(store, box.mailboxId, { type: 'body', value: 'ok' })).length > 0);
      // The GIN index answers the documents' LIKE (operator class and collation fit). On a table this
      // small the planner prefers reading it whole, so sequential scans are switched off to ask.
      const c = new pg.Client({ connectionString: db.url });
      await c.connect();
      let text: string;
      try {
        await c.query('SET enable_seqscan = off');
        const plan = await c.query<{ 'QUERY PLAN': string }>('EXPLAIN SELECT blob_id FROM search_docs d WHERE d.body LIKE $1', [
          likePattern('TOKEN1345X'),
        ]);
        text = plan.rows.map((p) => p['QUERY PLAN']).join('\n');
      } finally {
        await c.end();
      }
      assert.match(text, /Bitmap Index Scan on search_docs_trgm/, text);
    } finally {
      await box.store.close();
    }
  });

  it('COPY shares documents, GC drops them with the blob, unindexed contents are candidates until the backfill', async () => {
    const db = await freshDatabase();
    const box = await openBox(db.url, [generated(rng(3), 1), generated(rng(4), 2), generated(rng(5), 3)], { gcGraceMs: 0, searchBackfill: false });
    try {
      const { store } = box;
      const dst = await store.createMailbox(box.userId, 'Copy');
      await store.copyMessages(box.mailboxId, [1, 2], dst.id);
      await store.moveMessages(box.mailboxId, [3], dst.id);
      assert.deepEqual(await sql(db.url, 'SELECT state, count(*)::int AS n FROM search_docs GROUP BY state'), [{ state: 1, n: 3 }]);
      assert.deepEqual(await store.searchTextCandidates(dst.id, 'body', 'TOKEN3X'), [3]);
      assert.deepEqual(await store.searchTextCandidates(box.mailboxId, 'body', 'TOKEN3X'), []);
      // Expunging the only copy of message 3 and collecting garbage removes its document.
      await store.storeFlags(dst.id, [3], 'add', ['\\Deleted']);
      await store.expunge(dst.id);
      assert.equal((await store.collectGarbage()).removedBlobs, 1);
      assert.deepEqual(await sql(db.url, 'SELECT count(*)::int AS n FROM search_docs'), [{ n: 2 }]);
      assert.deepEqual(await store.searchTextCandidates(dst.id, 'body', 'TOKEN1X'), [1]);
      assert.deepEqual(await store.searchTextCandidates(dst.id, 'body', 'NO-SUCH-THING'), []);
      // Without their documents (stored before migration 3, or by an older node), messages are always
      // candidates, and SEARCH still finds exactly the matches.
      await sql(db.url, `UPDATE search_docs SET state = 0, hdr = NULL, fields = NULL, subj = NULL, frm = NULL, rcpt = NULL,
        cc = NULL, bcc = NULL, body = NULL, mime = NULL`);
      assert.deepEqual(await store.searchTextCandidates(dst.id, 'body', 'NO-SUCH-THING'), [1, 2]);
      assert.deepEqual(await store.searchTextCandidates(box.mailboxId, 'body', 'NO-SUCH-THING'), [1, 2]);
      assert.deepEqual(await searchUids(store, dst.id, { type: 'body', value: 'token2x' }), [2]);
      assert.equal(await store.backfillSearchIndex(), 2);
      assert.deepEqual(await store.searchTextCandidates(dst.id, 'body', 'NO-SUCH-THING'), []);
      assert.deepEqual(await store.searchTextCandidates(dst.id, 'body', 'TOKEN2X'), [2]);
      assert.equal(await store.backfillSearchIndex(), 0);
      // Content too large to index (state 2) stays a candidate for every needle.
      await sql(db.url, `UPDATE search_docs SET state = 2, body = NULL WHERE body LIKE '%TOKEN1X%'`);
      assert.deepEqual(await store.searchTextCandidates(dst.id, 'body', 'NO-SUCH-THING'), [1]);
      assert.equal(await store.searchTextCandidates(dst.id, 'body', 'AB'), null);
    } finally {
      await box.store.close();
    }
  });

  it('a store from schema 2 gets documents for its old messages from the backfill; SEARCH is exact throughout', async () => {
    const db = await freshDatabase();
    const old = await openBox(db.url, [generated(rng(21), 7), generated(rng(23), 9)]);
    await old.store.close();
    // Back to what a schema-2 database looked like: no search documents.
    await sql(db.url, `DROP TABLE search_docs; DROP TRIGGER blobs_inserted ON blobs; DROP FUNCTION petrel_blobs_inserted();
      UPDATE schema_version SET version = 2`);
    const store = await openPostgresStore(db.url, { gcIntervalMs: 0, searchBackfill: false });
    try {
      assert.deepEqual(await sql(db.url, 'SELECT version FROM schema_version'), [{ version: PG_MIGRATIONS.length }]);
      const box = (await store.getMailbox(old.userId, 'INBOX'))!;
      assert.deepEqual(await store.searchTextCandidates(box.id, 'body', 'NO-SUCH-THING'), [1, 2]);
      assert.deepEqual(await searchUids(store, box.id, { type: 'body', value: 'token7x' }), [1]);
      // New mail is indexed at APPEND; the old messages stay candidates for every needle.
      await appendAll(store, box.id, [generated(rng(22), 8)]);
      assert.deepEqual(await store.searchTextCandidates(box.id, 'body', 'TOKEN8X'), [1, 2, 3]);
      assert.deepEqual(await store.searchTextCandidates(box.id, 'body', 'NO-SUCH-THING'), [1, 2]);
      assert.deepEqual(await searchUids(store, box.id, { type: 'body', value: 'token8x' }), [3]);
      assert.equal(await store.backfillSearchIndex(), 2);
      assert.deepEqual(await store.searchTextCandidates(box.id, 'body', 'NO-SUCH-THING'), []);
      assert.deepEqual(await store.searchTextCandidates(box.id, 'body', 'TOKEN9X'), [2]);
      assert.deepEqual(await searchUids(store, box.id, { type: 'body', value: 'token9x' }), [2]);
    } finally {
      await store.close();
    }
    // Reopened with the default background backfill: nothing left to do, and it finishes by close().
    const again = await openPostgresStore(db.url, { gcIntervalMs: 0 });
    await again.close();
  });

  it('the background backfill at open and after a search meets unindexed messages; one node at a time', async () => {
    const db = await freshDatabase();
    const old = await openBox(db.url, Array.from({ length: 150 }, (_, i) => generated(rng(40 + i), i)));
    await old.store.close();
    await sql(db.url, `UPDATE search_docs SET state = 0, hdr = NULL, fields = NULL, subj = NULL, frm = NULL, rcpt = NULL,
      cc = NULL, bcc = NULL, body = NULL, mime = NULL`);
    const a = await openPostgresStore(db.url, { gcIntervalMs: 0 });
    try {
      assert.equal(await a.whenBackfilled(), 150);
      assert.deepEqual(await sql(db.url, 'SELECT state, count(*)::int AS n FROM search_docs GROUP BY state'), [{ state: 1, n: 150 }]);
      const b = await openPostgresStore(db.url, { gcIntervalMs: 0, searchBackfill: false });
      try {
        assert.equal(await b.backfillSearchIndex(), 0);
        assert.deepEqual(await b.searchTextCandidates(old.mailboxId, 'body', 'TOKEN42X'), [43]);
        // One node at a time: while another session holds the backfill's lock, a run does nothing.
        await sql(db.url, `UPDATE search_docs SET state = 0, body = NULL WHERE body LIKE '%TOKEN42X%'`);
        assert.deepEqual(await b.searchTextCandidates(old.mailboxId, 'body', 'TOKEN99X'), [43, 100]);
        const holder = new pg.Client({ connectionString: db.url });
        await holder.connect();
        try {
          await holder.query('SELECT pg_advisory_lock($1)', [0x7065_7462]);
          assert.equal(await b.backfillSearchIndex(), 0);
        } finally {
          await holder.end();
        }
        assert.equal(await b.backfillSearchIndex(), 1);
        assert.deepEqual(await b.searchTextCandidates(old.mailboxId, 'body', 'TOKEN99X'), [100]);
        // Lazily: a search that meets messages without a document starts a backfill in the background
        // (node a has automatic backfills on; its open-time run is long over).
        await sql(db.url, `UPDATE search_docs SET state = 0, body = NULL WHERE body LIKE '%TOKEN7X%' OR body LIKE '%TOKEN8X%'`);
        assert.deepEqual(await a.searchTextCandidates(old.mailboxId, 'body', 'TOKEN99X'), [8, 9, 100]);
        assert.equal(await a.whenBackfilled(), 2);
        assert.deepEqual(await a.searchTextCandidates(old.mailboxId, 'body', 'TOKEN99X'), [100]);
        assert.equal(await a.whenBackfilled(), 2, 'no new run when nothing is pending');
        // At most one such run a minute: a second search soon after leaves new unindexed content as it is.
        await sql(db.url, `UPDATE search_docs SET state = 0, body = NULL WHERE body LIKE '%TOKEN5X%'`);
        assert.deepEqual(await a.searchTextCandidates(old.mailboxId, 'body', 'TOKEN99X'), [6, 100]);
        assert.equal(await a.whenBackfilled(), 2);
        assert.deepEqual(await sql(db.url, 'SELECT count(*)::int AS n FROM search_docs WHERE state = 0'), [{ n: 1 }]);
      } finally {
        await b.close();
      }
    } finally {
      await a.close();
    }
  });

  it('without pg_trgm (the role may not create extensions): a log line, and the same answers from the documents', async () => {
    const db = await freshDatabase();
    // A role that owns nothing and may not CREATE in the database (so not CREATE EXTENSION, even trusted
    // ones), but may create tables in its schema.
    await sql(db.url, `DO $$ BEGIN CREATE ROLE petrel_plain LOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$`);
    await sql(db.url, 'GRANT USAGE, CREATE ON SCHEMA public TO petrel_plain');
    const u = new URL(db.url);
    u.username = 'petrel_plain';
    u.password = '';
    const url = withDatabase(u.toString(), decodeURIComponent(new URL(db.url).pathname.slice(1)));
    const lines: string[] = [];
    const r = rng(5);
    const box = await openBox(url, Array.from({ length: 120 }, (_, i) => generated(r, i)), { log: (m) => lines.push(m) });
    try {
      assert.equal(box.store.searchSetup.trigram, false);
      assert.equal(box.store.searchSetup.documents, true);
      assert.equal(lines.length, 1);
      assert.match(lines[0]!, /pg_trgm/);
      assert.match(lines[0]!, /scanning/);
      assert.deepEqual(await sql(db.url, `SELECT 1 FROM pg_indexes WHERE indexname = 'search_docs_trgm'`), []);
      const { nonEmpty, asked } = await assertEquivalent(box, keysFor(['quokka', 'token17x', 'Привет', 'straße', 'ok', 'sender 3', 'zz-none']), new Map());
      assert.ok(nonEmpty > 5 && asked > 10);
      assert.deepEqual(await box.store.searchTextCandidates(box.mailboxId, 'body', 'TOKEN17X'), [18]);
    } finally {
      await box.store.close();
    }
  });

  it('over IMAP: what node B appends, node A finds with SEARCH BODY/TEXT/SUBJECT from the index', async () => {
    const db = await freshDatabase();
    const stores = [await openPostgresStore(db.url, { gcIntervalMs: 0 }), await openPostgresStore(db.url, { gcIntervalMs: 0 })];
    // Node A's answers to the server's index questions, counted.
    const nodeA = stores[0]!;
    const asked: string[] = [];
    const original = nodeA.searchTextCandidates.bind(nodeA);
    nodeA.searchTextCandidates = async (mailboxId, field, needle) => {
      const r = await original(mailboxId, field, needle);
      asked.push(`${field} ${needle} -> ${JSON.stringify(r)}`);
      return r;
    };
    const servers = await Promise.all(stores.map((store) => startServer({ store, host: '127.0.0.1', imapPort: 0, imapsPort: null, tls: null })));
    const clients: ImapTestClient[] = [];
    try {
      await provisionAccounts(stores[0]!);
      const login = async (port: number) => {
        const c = await ImapTestClient.connect(port);
        clients.push(c);
        assert.match((await c.command('l', `LOGIN "${TEST_USER}" "${TEST_PASSWORD}"`)).tagged, /^l OK/);
        return c;
      };
      const b = await login(servers[1]!.imapPort!);
      // The body is base64: its words are found only in the decoded text.
      const body = Buffer.from('Die Straße nach Ærøskøbing, Rechnung Nr. 4711-ZEBRA\r\n', 'utf8').toString('base64');
      const m1 = `From: Ann <ann@example.org>\r\nSubject: =?UTF-8?Q?Gr=C3=BC=C3=9Fe?= aus Kiel\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n${body}\r\n`;
      const m2 = 'From: Bob <bob@example.org>\r\nSubject: lunch\r\n\r\nnothing to see\r\n';
      for (const [i, m] of [m1, m2].entries()) {
        assert.match((await b.commandWithLiterals(`b${i}`, ['APPEND INBOX () ', Buffer.from(m)])).tagged, /OK \[APPENDUID \d+ \d\]/);
      }
      assert.deepEqual(await sql(db.url, 'SELECT state, count(*)::int AS n FROM search_docs GROUP BY state'), [{ state: 1, n: 2 }]);
      const a = await login(servers[0]!.imapPort!);
      assert.match((await a.command('a1', 'SELECT INBOX')).tagged, /^a1 OK/);
      const ask = async (tag: string, criteria: string | Array<string | Buffer>) => {
        const r = typeof criteria === 'string' ? await a.command(tag, `UID SEARCH ${criteria}`) : await a.commandWithLiterals(tag, ['UID SEARCH ', ...criteria]);
        assert.match(r.tagged, new RegExp(`^${tag} OK`));
        return r.untagged.filter((l) => l.startsWith('* SEARCH'));
      };
      assert.deepEqual(await ask('s1', 'BODY "4711-zebra"'), ['* SEARCH 1']);
      assert.deepEqual(await ask('s2', 'TEXT "see"'), ['* SEARCH 2']);
      assert.deepEqual(await ask('s3', 'SUBJECT "aus kiel"'), ['* SEARCH 1']);
      assert.deepEqual(await ask('s4', 'BODY "zebra-4711"'), ['* SEARCH']);
      const straße = Buffer.from('STRAßE', 'utf8');
      assert.deepEqual(await ask('s5', ['CHARSET UTF-8 BODY ', straße]), ['* SEARCH 1']);
      const grüße = Buffer.from('grüße', 'utf8');
      assert.deepEqual(await ask('s6', ['CHARSET UTF-8 SUBJECT ', grüße]), ['* SEARCH 1']);
      assert.deepEqual(await ask('s7', 'OR BODY "nothing" FROM "ann@"'), ['* SEARCH 1 2']);
      // The server asked the index, which answered from node B's documents.
      assert.ok(asked.includes('body 4711-ZEBRA -> [1]'), asked.join('\n'));
      assert.ok(asked.includes('body ZEBRA-4711 -> []'), asked.join('\n'));
      assert.ok(asked.includes('subject AUS KIEL -> [1]'), asked.join('\n'));
      for (const c of clients) await c.command('z', 'LOGOUT');
    } finally {
      for (const c of clients) c.close();
      for (const srv of servers) await srv.close();
      for (const st of stores) await st.close();
    }
  });
});
