// Full-text search for the PostgreSQL store: the index behind Store.searchTextCandidates, for SEARCH's
// string keys (RFC 9051 §6.4.4: BODY, TEXT, HEADER, SUBJECT, FROM, TO, CC, BCC are case-insensitive
// substring matches, i;unicode-casemap per RFC 5051 §2). The PostgreSQL counterpart of
// src/store/sqlite/search-index.ts.
//
// Documents: one search_docs row per content (blob), holding the decoded, folded text that
// src/mime/search-text.ts derives for the exact scan. A needle folded the same way that occurs in the
// scan's text occurs in the document, so `column LIKE '%needle%'` (escaped, case-sensitive on folded text)
// finds every message the scan would. PostgreSQL answers LIKE with a pg_trgm GIN index (trigrams narrow
// the rows, then every row found is rechecked against the pattern), so the answer is exact for the
// documents; the server still verifies each candidate against the message itself.
//
// Written at APPEND, in the append's transaction, for blobs whose document is not there yet (state 0);
// computed before the transaction (the blob's bytes are read then). Rows with state 0 (stored before
// migration 3, by an older node, swapped in by replaceContent, or whose bytes could not be read) are
// filled by a backfill, at open and when a search meets them; rows with state 0 or 2 (too large to index)
// are always candidates, so results never depend on how far the backfill got.
//
// Without pg_trgm (the role may not create the extension, the contrib files may be missing) the documents
// are still written and queried: PostgreSQL then scans the mailbox's documents with LIKE, which is slower
// than the index but never reads or decodes a message; a log line at open says so.
import type pg from 'pg';
import type { MimeIndex } from '../../mime/types.js';
import { messageSize } from '../../mime/sections.js';
import { searchDoc, textBytes, type SearchDoc } from '../../mime/search-text.js';
import { MAX_INDEXED_TEXT, type SearchTextField } from '../sqlite/search-index.js';
import type { PreparedMessage } from '../types.js';

/** The text columns of search_docs (migration 3), in the order `docValues` gives them. */
const TEXT_COLUMNS = ['hdr', 'fields', 'subj', 'frm', 'rcpt', 'cc', 'bcc', 'body', 'mime'] as const;

/** Which columns a key searches. TEXT: the header, the body text or a leaf's MIME header. */
const FIELD_COLUMNS: Record<SearchTextField, readonly (typeof TEXT_COLUMNS)[number][]> = {
  text: ['hdr', 'body', 'mime'],
  body: ['body'],
  header: ['fields'],
  subject: ['subj'],
  from: ['frm'],
  to: ['rcpt'],
  cc: ['cc'],
  bcc: ['bcc'],
};

/** The multi-column pg_trgm GIN index over every text column. */
export const TRGM_INDEX = 'search_docs_trgm';
/** Advisory lock keys: creating the extension and index; the backfill (one node at a time). */
const SETUP_LOCK = 0x7065_7473; // 'pets'
const BACKFILL_LOCK = 0x7065_7462; // 'petb'

/** Messages up to this size are read whole for indexing (one query rather than one per part). */
const WHOLE_READ = 256 * 1024;
/** Documents computed at once (by APPEND of a MULTIAPPEND, by the backfill). */
const PARALLEL = 8;
/** Documents per backfill batch (one UPDATE each). */
const BACKFILL_BATCH = 64;

/** Indexed: the folded text; 'large': not indexable (state 2); 'failed': bytes unreadable now (stays 0). */
export type ComputedDoc = SearchDoc | 'large' | 'failed';

/** What open found out about the database. */
export interface SearchSetup {
  /** Documents are written and searchTextCandidates answers. */
  documents: boolean;
  /** The pg_trgm GIN index exists (else LIKE scans the documents). */
  trigram: boolean;
  /** Why the trigram index (or the documents) are missing; null when all is there. */
  reason: string | null;
}

export type BlobRead = (blobId: string, start: number, end: number) => Promise<Buffer>;

/** LIKE pattern for "contains `needle`": the needle's \, % and _ escaped (the default escape is \). */
export function likePattern(needle: string): string {
  return `%${needle.replace(/[\\%_]/g, '\\$&')}%`;
}

/** PostgreSQL text cannot hold NUL. A needle without NUL occurs in the text iff it occurs with NUL
 *  replaced (needles with NUL are not asked of the index), so the replacement keeps the superset. */
function pgText(s: string): string {
  return s.includes('\u0000') ? s.replace(/\u0000/g, ' ') : s;
}

function docValues(doc: SearchDoc): string[] {
  return [doc.header, doc.fields, doc.subject, doc.from, doc.to, doc.cc, doc.bcc, doc.body, doc.mime].map(pgText);
}

/** A blob's document, from its MIME index and bytes (read whole when small). Transient read errors give
 *  'failed' (the row stays unindexed, for the backfill); text that cannot be indexed gives 'large'. */
export async function computeDoc(mime: MimeIndex, blobId: string, read: BlobRead): Promise<ComputedDoc> {
  let readFailed = false;
  const reader = async (start: number, end: number): Promise<Buffer> => {
    try {
      return await read(blobId, start, end);
    } catch (err) {
      readFailed = true;
      throw err;
    }
  };
  try {
    if (textBytes(mime) > MAX_INDEXED_TEXT) return 'large';
    const size = messageSize(mime);
    if (size <= WHOLE_READ) {
      const all = await reader(0, size);
      return await searchDoc(mime, async (start, end) => all.subarray(start, end));
    }
    return await searchDoc(mime, reader);
  } catch {
    return readFailed ? 'failed' : 'large';
  }
}

/**
 * Checks the database at open: the encoding must hold any Unicode text (UTF8; SQL_ASCII stores bytes as
 * given, which LIKE compares bytewise, also fine), and the pg_trgm extension and its GIN index are
 * created when missing. Serialised between nodes by an advisory lock; failures are reported, not thrown.
 */
export async function setupSearch(c: pg.ClientBase): Promise<SearchSetup> {
  const enc = (await c.query<{ server_encoding: string }>('SHOW server_encoding')).rows[0]?.server_encoding ?? '';
  if (enc !== 'UTF8' && enc !== 'SQL_ASCII') {
    return { documents: false, trigram: false, reason: `database encoding ${enc} cannot hold all mail text` };
  }
  await c.query('BEGIN');
  try {
    await c.query('SELECT pg_advisory_xact_lock($1)', [SETUP_LOCK]);
    const has = await c.query(`SELECT 1 FROM pg_indexes WHERE indexname = $1 AND tablename = 'search_docs'`, [TRGM_INDEX]);
    if (has.rowCount !== 0) {
      await c.query('COMMIT');
      return { documents: true, trigram: true, reason: null };
    }
    let reason: string | null = null;
    const schemaOf = async (): Promise<string | null> =>
      (
        await c.query<{ schema: string }>(
          `SELECT quote_ident(n.nspname) AS schema FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
           WHERE e.extname = 'pg_trgm'`,
        )
      ).rows[0]?.schema ?? null;
    let schema = await schemaOf();
    if (schema === null) {
      await c.query('SAVEPOINT trgm');
      try {
        await c.query('CREATE EXTENSION IF NOT EXISTS pg_trgm');
        await c.query('RELEASE SAVEPOINT trgm');
        schema = await schemaOf();
      } catch (err) {
        await c.query('ROLLBACK TO SAVEPOINT trgm');
        reason = `cannot create extension pg_trgm: ${err instanceof Error ? err.message : String(err)}`;
      }
    }
    if (schema !== null) {
      await c.query('SAVEPOINT trgm');
      try {
        const cols = TEXT_COLUMNS.map((col) => `${col} ${schema}.gin_trgm_ops`).join(', ');
        await c.query(`CREATE INDEX IF NOT EXISTS ${TRGM_INDEX} ON search_docs USING gin (${cols})`);
        await c.query('RELEASE SAVEPOINT trgm');
      } catch (err) {
        await c.query('ROLLBACK TO SAVEPOINT trgm');
        reason = `cannot create the trigram index: ${err instanceof Error ? err.message : String(err)}`;
      }
    }
    await c.query('COMMIT');
    return { documents: true, trigram: reason === null, reason };
  } catch (err) {
    await c.query('ROLLBACK').catch(() => {});
    throw err;
  }
}

export class PgSearchIndex {
  constructor(
    readonly setup: SearchSetup,
    private readonly read: BlobRead,
  ) {}

  /** Documents of the messages' blobs that have none yet (state 0), computed outside any transaction. */
  async prepare(q: pg.Pool | pg.ClientBase, messages: readonly PreparedMessage[]): Promise<Map<string, ComputedDoc>> {
    const out = new Map<string, ComputedDoc>();
    if (!this.setup.documents || messages.length === 0) return out;
    const byId = new Map(messages.map((m) => [m.blobId, m] as const));
    const done = new Set(
      (
        await q.query<{ blob_id: string }>('SELECT blob_id FROM search_docs WHERE blob_id = ANY($1::text[]) AND state <> 0', [
          [...byId.keys()],
        ])
      ).rows.map((r) => r.blob_id),
    );
    const todo = [...byId.values()].filter((m) => !done.has(m.blobId));
    for (let i = 0; i < todo.length; i += PARALLEL) {
      const group = todo.slice(i, i + PARALLEL);
      const docs = await Promise.all(group.map((m) => computeDoc(m.mime, m.blobId, this.read)));
      group.forEach((m, j) => out.set(m.blobId, docs[j]!));
    }
    return out;
  }

  /**
   * Stores documents, replacing only rows still in state 0 (a concurrent writer of the same content
   * leaves its row alone). In APPEND's transaction after its blob rows are locked (ensureBlobs), so the
   * rows are locked in blob id order there too. 'failed' documents are left for the backfill.
   */
  async write(c: pg.ClientBase, docs: Map<string, ComputedDoc>, upsert: boolean): Promise<void> {
    const ids: string[] = [];
    const states: number[] = [];
    const cols: Array<Array<string | null>> = TEXT_COLUMNS.map(() => []);
    for (const id of [...docs.keys()].sort()) {
      const doc = docs.get(id)!;
      if (doc === 'failed') continue;
      ids.push(id);
      states.push(doc === 'large' ? 2 : 1);
      const values = doc === 'large' ? null : docValues(doc);
      cols.forEach((col, k) => col.push(values ? values[k]! : null));
    }
    if (ids.length === 0) return;
    if (upsert) {
      const params = [ids, states, ...cols];
      const unnest = `unnest($1::text[], $2::smallint[], ${TEXT_COLUMNS.map((_, k) => `$${k + 3}::text[]`).join(', ')})
        AS v(blob_id, state, ${TEXT_COLUMNS.join(', ')})`;
      // Every blob row has a document row (migration 3 and its trigger); the upsert does not rely on it.
      await c.query(
        `INSERT INTO search_docs (blob_id, state, ${TEXT_COLUMNS.join(', ')})
         SELECT v.* FROM ${unnest}
         ON CONFLICT (blob_id) DO UPDATE SET state = EXCLUDED.state, ${TEXT_COLUMNS.map((col) => `${col} = EXCLUDED.${col}`).join(', ')}
         WHERE search_docs.state = 0`,
        params,
      );
    } else {
      // The backfill: UPDATE, since a blob removed by GC meanwhile has no row left (an INSERT would fail);
      // one row per statement, outside any transaction, so it never holds one row while waiting for
      // another (an APPEND of the same contents locks several: no deadlock between the two).
      const set = TEXT_COLUMNS.map((col, k) => `${col} = $${k + 3}`).join(', ');
      for (let i = 0; i < ids.length; i++) {
        await c.query(`UPDATE search_docs SET state = $2, ${set} WHERE blob_id = $1 AND state = 0`, [
          ids[i],
          states[i],
          ...cols.map((col) => col[i]),
        ]);
      }
    }
  }

  /**
   * UIDs of `mailboxId`, ascending, that may contain `needle` (folded) in `field`: those whose document
   * matches, plus those without a usable document (`pending`: the database has such messages). null when this database keeps no documents, or the
   * needle cannot be asked (shorter than 3 characters: trigrams; NUL: not in PostgreSQL text).
   * `c` should be a snapshot, so the two queries see the same messages.
   */
  async candidates(
    c: pg.ClientBase,
    mailboxId: number,
    field: SearchTextField,
    needle: string,
  ): Promise<{ uids: number[]; pending: boolean } | null> {
    if (!this.setup.documents || Array.from(needle).length < 3 || needle.includes('\u0000')) return null;
    const match = FIELD_COLUMNS[field].map((col) => `d.${col} LIKE $2`).join(' OR ');
    const hits = (
      await c.query<{ uid: number }>(
        `SELECT m.uid FROM messages m JOIN search_docs d ON d.blob_id = m.blob_id WHERE m.mailbox_id = $1 AND (${match})`,
        [mailboxId, likePattern(needle)],
      )
    ).rows.map((r) => r.uid);
    // Messages whose content is not indexed: usually none in the whole database (one cheap probe of
    // the partial index); otherwise one pass over the mailbox's messages.
    // (Materialized: the few pending documents first, from the partial index, whatever the statistics say.)
    const pending = await c.query(
      `WITH p AS MATERIALIZED (SELECT blob_id FROM search_docs WHERE state <> 1)
       SELECT 1 FROM p JOIN blobs b ON b.id = p.blob_id WHERE b.refcount > 0 LIMIT 1`,
    );
    if (pending.rowCount !== 0) {
      const more = await c.query<{ uid: number }>(
        `SELECT m.uid FROM messages m WHERE m.mailbox_id = $1
           AND NOT EXISTS (SELECT 1 FROM search_docs d WHERE d.blob_id = m.blob_id AND d.state = 1)`,
        [mailboxId],
      );
      for (const r of more.rows) hits.push(r.uid);
    }
    return { uids: [...new Set(hits)].sort((a, b) => a - b), pending: pending.rowCount !== 0 };
  }

  /**
   * Indexes the contents still in state 0 that messages use (stored before migration 3, by an older
   * program, or unreadable at APPEND). One node at a time (a session advisory lock, released with the
   * connection if the node dies); another node's run makes this one return at once. Stops between
   * batches when `stop()` says so. Returns the number of documents written.
   */
  async backfill(pool: pg.Pool, stop: () => boolean): Promise<number> {
    if (!this.setup.documents) return 0;
    const c = await pool.connect();
    let written = 0;
    let broken = false;
    try {
      const got = (await c.query<{ ok: boolean }>('SELECT pg_try_advisory_lock($1) AS ok', [BACKFILL_LOCK])).rows[0]!.ok;
      if (!got) return 0;
      try {
        let after = '';
        while (!stop()) {
          const rows = (
            await c.query<{ blob_id: string; mime_index: string }>(
              `SELECT d.blob_id, b.mime_index FROM search_docs d JOIN blobs b ON b.id = d.blob_id
               WHERE d.state = 0 AND b.refcount > 0 AND b.mime_index IS NOT NULL AND d.blob_id > $1
               ORDER BY d.blob_id LIMIT $2`,
              [after, BACKFILL_BATCH],
            )
          ).rows;
          if (rows.length === 0) break;
          after = rows[rows.length - 1]!.blob_id;
          const docs = new Map<string, ComputedDoc>();
          for (let i = 0; i < rows.length; i += PARALLEL) {
            const group = rows.slice(i, i + PARALLEL);
            const computed = await Promise.all(
              group.map(async (r) => {
                let mime: MimeIndex;
                try {
                  mime = JSON.parse(r.mime_index) as MimeIndex;
                } catch {
                  return 'large' as const;
                }
                return computeDoc(mime, r.blob_id, this.read);
              }),
            );
            group.forEach((r, j) => docs.set(r.blob_id, computed[j]!));
          }
          if (stop()) break;
          await this.write(c, docs, false);
          for (const d of docs.values()) if (d !== 'failed') written++;
        }
      } finally {
        await c.query('SELECT pg_advisory_unlock($1)', [BACKFILL_LOCK]).catch(() => {
          broken = true;
        });
      }
    } catch (err) {
      broken = true;
      throw err;
    } finally {
      c.release(broken);
    }
    return written;
  }
}
