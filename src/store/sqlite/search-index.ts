// The full-text index behind Store.searchTextCandidates (SEARCH, RFC 9051 §6.4.4): SQLite FTS5 with the
// trigram tokenizer, which answers substring queries. Documents are the decoded, folded text of
// src/mime/search-text.ts, so a needle folded the same way that occurs in the scan's text occurs in the
// indexed text; the index is asked for rows containing every (sampled) trigram of the needle, a superset
// the server verifies exactly. One document per blob (content addressed): COPY and MOVE index nothing.
//
// Maintained at APPEND (every ingest path ends there). Blobs stored before this index existed (schema
// v3), and blobs whose text is larger than MAX_INDEXED_TEXT, have no complete document: they are always
// candidates, i.e. the server scans them as it did without an index (no lazy backfill).
import type BetterSqlite3 from 'better-sqlite3';
import type { MimeIndex } from '../../mime/types.js';
import { messageSize } from '../../mime/sections.js';
import { searchDoc, textBytes, type BlobReader, type SearchDoc } from '../../mime/search-text.js';

/** Text bytes (headers and text leaves) above which a message is not indexed (always a candidate). */
export const MAX_INDEXED_TEXT = 4 * 1024 * 1024;
/** Messages up to this size are read whole for indexing. */
const WHOLE_READ = 256 * 1024;
/** At most this many trigrams of a needle go into a query (any subset still gives a superset). */
const MAX_QUERY_TRIGRAMS = 24;

export type SearchTextField = 'text' | 'body' | 'header' | 'subject' | 'from' | 'to' | 'cc' | 'bcc';

const COLUMNS: Record<SearchTextField, string> = {
  text: '{hdr body mime}',
  body: '{body}',
  header: '{fields}',
  subject: '{subj}',
  from: '{frm}',
  to: '{rcpt}',
  cc: '{cc}',
  bcc: '{bcc}',
};

/** A document to insert, or null for "seen but not indexed" (too large, unreadable). */
export type PreparedDoc = SearchDoc | null;

/** Computes a blob's document outside any transaction (reads the blob's header and text parts). */
export async function prepareDoc(mime: MimeIndex, read: BlobReader): Promise<PreparedDoc> {
  if (textBytes(mime) > MAX_INDEXED_TEXT) return null;
  try {
    // Small messages are read in one go rather than part by part.
    const size = messageSize(mime);
    if (size <= WHOLE_READ) {
      const all = await read(0, size);
      return await searchDoc(mime, async (start, end) => all.subarray(start, end));
    }
    return await searchDoc(mime, read);
  } catch {
    return null;
  }
}

/** FTS5 query: the needle's distinct trigrams (code points), each a quoted string, ANDed. */
export function trigramQuery(field: SearchTextField, needle: string): string | null {
  const cps = Array.from(needle);
  if (cps.length < 3) return null;
  const grams = new Set<string>();
  for (let i = 0; i + 3 <= cps.length; i++) grams.add(cps[i]! + cps[i + 1]! + cps[i + 2]!);
  let list = [...grams];
  if (list.length > MAX_QUERY_TRIGRAMS) {
    const step = list.length / MAX_QUERY_TRIGRAMS;
    const picked: string[] = [];
    for (let i = 0; i < MAX_QUERY_TRIGRAMS; i++) picked.push(list[Math.floor(i * step)]!);
    picked.push(list[list.length - 1]!);
    list = [...new Set(picked)];
  }
  const terms = list.map((g) => `"${g.replace(/"/g, '""')}"`);
  return `${COLUMNS[field]} : (${terms.join(' AND ')})`;
}

export class SearchIndex {
  private readonly has: BetterSqlite3.Statement;
  private readonly insertDoc: BetterSqlite3.Statement;
  private readonly insertFts: BetterSqlite3.Statement;
  private readonly candidatesStmt: BetterSqlite3.Statement;

  constructor(db: BetterSqlite3.Database) {
    this.has = db.prepare('SELECT 1 FROM search_docs WHERE blob_id = ?').pluck();
    this.insertDoc = db.prepare('INSERT OR IGNORE INTO search_docs (blob_id, complete) VALUES (?, ?)');
    this.insertFts = db.prepare(
      'INSERT INTO search_fts (rowid, hdr, fields, subj, frm, rcpt, cc, bcc, body, mime) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
    );
    // Messages with no complete document are always candidates.
    this.candidatesStmt = db
      .prepare(
        `SELECT m.uid FROM messages m LEFT JOIN search_docs d ON d.blob_id = m.blob_id
         WHERE m.mailbox_id = ? AND (d.complete IS NOT 1 OR d.docid IN (SELECT rowid FROM search_fts WHERE search_fts MATCH ?))
         ORDER BY m.uid`,
      )
      .pluck();
  }

  /** true when the blob already has a document (complete or not). */
  indexed(blobId: string): boolean {
    return this.has.get(blobId) !== undefined;
  }

  /** Stores a blob's document; call inside the transaction that inserts the blob row. */
  insert(blobId: string, doc: PreparedDoc): void {
    const r = this.insertDoc.run(blobId, doc ? 1 : 0);
    if (r.changes === 0 || !doc) return;
    this.insertFts.run(r.lastInsertRowid, doc.header, doc.fields, doc.subject, doc.from, doc.to, doc.cc, doc.bcc, doc.body, doc.mime);
  }

  /** Candidate UIDs, ascending; null when the needle is too short for trigrams. */
  candidates(mailboxId: number, field: SearchTextField, needle: string): number[] | null {
    const q = trigramQuery(field, needle);
    if (q === null) return null;
    return this.candidatesStmt.all(mailboxId, q) as number[];
  }
}
