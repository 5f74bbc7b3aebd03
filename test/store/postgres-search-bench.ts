// Measures SEARCH (RFC 9051 §6.4.4) on the PostgreSQL store over one 10,000-message mailbox: with the
// pg_trgm GIN index over the search documents, with the documents but no trigram index (what a database
// without pg_trgm gets), and without documents (the server's scan of every message); plus the cost of the
// documents at APPEND and the backfill rate. Times are of SEARCH alone on a selected mailbox (the view
// is built once, as SELECT does). Not a test (not *.test.ts): run it by hand,
//   npx tsc -p . && node dist/test/store/postgres-search-bench.js [messages]
// on the throwaway cluster of test/helpers/postgres.ts (fsync off) or PETREL_TEST_PG_URL. The numbers in
// docs/postgres.md come from it.
import pg from 'pg';
import type { SearchKey } from '../../src/protocol/search-keys.js';
import { openPostgresStore, type PostgresStore } from '../../src/store/postgres/postgres-store.js';
import { likePattern } from '../../src/store/postgres/pg-search.js';
import { createTestDatabase, ensurePostgres, type TestDatabase } from '../helpers/postgres.js';
import { appendAll, generated, rng, selectedSearch, wrapStore } from './search-corpus.js';

const N = Number(process.argv[2] ?? 10_000);
const RUNS = 5;

const KEYS: Array<[string, SearchKey]> = [
  ['BODY rare (1 hit)', { type: 'body', value: `token${Math.floor(N * 0.4321)}x` }],
  ['BODY common word', { type: 'body', value: 'quokka' }],
  ['BODY no match', { type: 'body', value: 'zz-none-zz' }],
  ['TEXT rare', { type: 'text', value: `token${Math.floor(N * 0.1234)}x` }],
  ['SUBJECT', { type: 'header', field: 'Subject', value: `#${N - 1}` }],
];

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

async function timeKeys(label: string, store: PostgresStore, mailboxId: number, index: boolean, runs: number): Promise<Map<string, number[]>> {
  const out = new Map<string, number[]>();
  const search = await selectedSearch(wrapStore(store, index), mailboxId);
  for (const [name, key] of KEYS) {
    const times: number[] = [];
    let hits: number[] = [];
    for (let i = 0; i < runs; i++) {
      const t = performance.now();
      hits = await search(key);
      times.push(performance.now() - t);
    }
    out.set(name, hits);
    console.log(`${label.padEnd(28)} ${name.padEnd(20)} ${String(hits.length).padStart(5)} hits  median ${median(times).toFixed(1).padStart(8)} ms  (${times.map((x) => x.toFixed(0)).join(' ')})`);
  }
  return out;
}

async function explain(url: string, mailboxId: number, needle: string): Promise<string> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    const r = await c.query<{ 'QUERY PLAN': string }>(
      `EXPLAIN ANALYZE SELECT m.uid FROM messages m JOIN search_docs d ON d.blob_id = m.blob_id
       WHERE m.mailbox_id = $1 AND (d.body LIKE $2)`,
      [mailboxId, likePattern(needle)],
    );
    return r.rows.map((x) => x['QUERY PLAN']).join('\n');
  } finally {
    await c.end();
  }
}

/** On-disk sizes: the documents (with TOAST), the trigram index, the message bytes. */
async function sizes(url: string): Promise<string> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    const r = await c.query<{ docs: string; trgm: string; chunks: string; messages: string }>(
      `SELECT pg_size_pretty(pg_table_size('search_docs')) AS docs,
              pg_size_pretty(pg_relation_size('search_docs_trgm')) AS trgm,
              pg_size_pretty(pg_total_relation_size('blob_chunks')) AS chunks,
              pg_size_pretty(pg_total_relation_size('messages')) AS messages`,
    );
    const x = r.rows[0]!;
    return `sizes: search_docs ${x.docs}, search_docs_trgm ${x.trgm}, blob_chunks ${x.chunks}, messages ${x.messages}`;
  } finally {
    await c.end();
  }
}

async function sql(url: string, text: string): Promise<void> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    await c.query(text);
  } finally {
    await c.end();
  }
}

async function main(): Promise<void> {
  const server = await ensurePostgres();
  const dbs: TestDatabase[] = [];
  try {
    const r = rng(99);
    const messages = Array.from({ length: N }, (_, i) => generated(r, i));
    const bytes = messages.reduce((n, m) => n + m.length, 0);
    console.log(`${N} messages, ${(bytes / 1e6).toFixed(1)} MB`);

    // Without documents: APPEND cost baseline and the server's scan.
    const plainDb = await createTestDatabase(server);
    dbs.push(plainDb);
    const plain = await openPostgresStore(plainDb.url, { gcIntervalMs: 0, searchIndex: false });
    const pu = await plain.createUser('u', 'x');
    const pbox = await plain.createMailbox(pu.id, 'INBOX');
    let t = performance.now();
    await appendAll(plain, pbox.id, messages);
    const plainAppend = performance.now() - t;
    console.log(`APPEND without documents: ${(plainAppend / 1000).toFixed(1)} s (${((plainAppend / N) * 1000).toFixed(0)} µs/message)`);

    const db = await createTestDatabase(server);
    dbs.push(db);
    const store = await openPostgresStore(db.url, { gcIntervalMs: 0 });
    const u = await store.createUser('u', 'x');
    const box = await store.createMailbox(u.id, 'INBOX');
    t = performance.now();
    await appendAll(store, box.id, messages);
    const idxAppend = performance.now() - t;
    console.log(`APPEND with documents + trigram index: ${(idxAppend / 1000).toFixed(1)} s (${((idxAppend / N) * 1000).toFixed(0)} µs/message)`);
    await sql(db.url, 'VACUUM ANALYZE');
    await sql(plainDb.url, 'VACUUM ANALYZE');
    console.log(await sizes(db.url));

    const withIdx = await timeKeys('trigram GIN index', store, box.id, true, RUNS);
    console.log(await explain(db.url, box.id, String((KEYS[0]![1] as { value: string }).value).toUpperCase()));
    // Backfill rate: every document back to "not indexed", then one run.
    await sql(db.url, `UPDATE search_docs SET state = 0, hdr = NULL, fields = NULL, subj = NULL, frm = NULL, rcpt = NULL, cc = NULL, bcc = NULL, body = NULL, mime = NULL`);
    t = performance.now();
    const n = await store.backfillSearchIndex();
    const bf = performance.now() - t;
    console.log(`backfill: ${n} documents in ${(bf / 1000).toFixed(1)} s (${((bf / n) * 1000).toFixed(0)} µs/document)`);
    await sql(db.url, 'VACUUM ANALYZE');
    await sql(db.url, 'DROP INDEX search_docs_trgm');
    const noTrgm = await timeKeys('documents, no trigram index', store, box.id, true, RUNS);
    const scan = await timeKeys('no documents (scan)', plain, pbox.id, true, 2);
    for (const [name] of KEYS) {
      const a = JSON.stringify(withIdx.get(name));
      if (a !== JSON.stringify(noTrgm.get(name)) || a !== JSON.stringify(scan.get(name))) throw new Error(`results differ for ${name}`);
    }
    console.log('results identical in all three configurations');

    await store.close();
    await plain.close();
  } finally {
    for (const d of dbs) await d.drop().catch(() => {});
    await server.stop();
  }
}

await main();
