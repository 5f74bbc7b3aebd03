// The full-text index behind Store.searchTextCandidates (SEARCH, RFC 9051 §6.4.4): SQLite FTS5 with the
// trigram tokenizer, which answers substring queries. Documents are the decoded, folded text of
// src/mime/search-text.ts, so a needle folded the same way that occurs in the scan's text occurs in the
// indexed text; the index is asked for rows containing the needle's trigrams in sequence, which the
// server still verifies exactly (the answer must be the scan's whatever the index holds). One document per blob (content addressed): COPY and MOVE index nothing.
//
// Maintained at APPEND (every ingest path ends there): every blob row gets a search_docs row. Blobs stored
// before this index existed (schema v3 marks them) and blobs whose text is larger than MAX_INDEXED_TEXT
// are `complete = 0`: always candidates, i.e. the server scans them as it did without an index. A bulk
// append may defer a blob's document (`defer`): `complete = 0` plus a search_pending row, until
// `fillPending` writes the document (SqliteStore.indexPending); until then the blob is a candidate too.
import type BetterSqlite3 from 'better-sqlite3';
import type { MimeIndex } from '../../mime/types.js';
import { messageSize } from '../../mime/sections.js';
import { searchDoc, textBytes, type BlobReader, type SearchDoc } from '../../mime/search-text.js';

/** Text bytes (headers and text leaves) above which a message is not indexed (always a candidate). */
export const MAX_INDEXED_TEXT = 4 * 1024 * 1024;
/** Messages up to this size are read whole for indexing. */
const WHOLE_READ = 256 * 1024;

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

/**
 * FTS5 query: the needle as one phrase. The trigram tokenizer makes it the needle's trigrams at
 * consecutive positions, i.e. the needle as a substring (the index keeps positions, detail=full).
 */
export function trigramQuery(field: SearchTextField, needle: string): string | null {
  if (Array.from(needle).length < 3) return null;
  return `${COLUMNS[field]} : "${needle.replace(/"/g, '""')}"`;
}

export class SearchIndex {
  private readonly has: BetterSqlite3.Statement;
  private readonly insertDoc: BetterSqlite3.Statement;
  private readonly insertFts: BetterSqlite3.Statement;
  private readonly matchStmt: BetterSqlite3.Statement;
  private readonly anyIncomplete: BetterSqlite3.Statement;
  private readonly incompleteStmt: BetterSqlite3.Statement;
  private readonly insertPending: BetterSqlite3.Statement;
  private readonly deletePending: BetterSqlite3.Statement;
  private readonly pendingStmt: BetterSqlite3.Statement;
  private readonly docidOf: BetterSqlite3.Statement;
  private readonly markComplete: BetterSqlite3.Statement;

  constructor(db: BetterSqlite3.Database) {
    this.has = db.prepare('SELECT 1 FROM search_docs WHERE blob_id = ?').pluck();
    this.insertDoc = db.prepare('INSERT OR IGNORE INTO search_docs (blob_id, complete) VALUES (?, ?)');
    this.insertFts = db.prepare(
      'INSERT INTO search_fts (rowid, hdr, fields, subj, frm, rcpt, cc, bcc, body, mime) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
    );
    // The mailbox's messages whose blob matches: the FTS answer becomes a small set of blob ids, then
    // one pass over the mailbox's rows (messages has no blob_id index, on purpose).
    this.matchStmt = db
      .prepare(
        `SELECT uid FROM messages WHERE mailbox_id = ? AND blob_id IN (
           SELECT blob_id FROM search_docs WHERE docid IN (SELECT rowid FROM search_fts WHERE search_fts MATCH ?))`,
      )
      .pluck();
    // Messages whose blob has no indexed text are always candidates.
    this.anyIncomplete = db.prepare('SELECT 1 FROM search_docs WHERE complete = 0 LIMIT 1').pluck();
    this.incompleteStmt = db
      .prepare('SELECT uid FROM messages WHERE mailbox_id = ? AND blob_id IN (SELECT blob_id FROM search_docs WHERE complete = 0)')
      .pluck();
    this.insertPending = db.prepare('INSERT OR IGNORE INTO search_pending (blob_id) VALUES (?)');
    this.deletePending = db.prepare('DELETE FROM search_pending WHERE blob_id = ?');
    this.pendingStmt = db.prepare(
      'SELECT p.blob_id AS blobId, b.mime_index AS mime, d.docid AS docid FROM search_pending p JOIN blobs b ON b.id = p.blob_id ' +
        'LEFT JOIN search_docs d ON d.blob_id = p.blob_id ORDER BY p.blob_id LIMIT ?',
    );
    this.docidOf = db.prepare('SELECT docid FROM search_docs WHERE blob_id = ? AND complete = 0').pluck();
    this.markComplete = db.prepare('UPDATE search_docs SET complete = 1 WHERE docid = ?');
  }

  /** true when the blob already has a document (complete or not). */
  indexed(blobId: string): boolean {
    return this.has.get(blobId) !== undefined;
  }

  /** Stores a blob's document (null: a row saying "not indexed"); call in the transaction that inserts
   *  the blob row, for every blob, so each blob row has a search_docs row. A no-op when it has one. */
  insert(blobId: string, doc: PreparedDoc): void {
    const r = this.insertDoc.run(blobId, doc ? 1 : 0);
    if (r.changes === 0 || !doc) return;
    this.insertFts.run(r.lastInsertRowid, doc.header, doc.fields, doc.subject, doc.from, doc.to, doc.cc, doc.bcc, doc.body, doc.mime);
  }

  /** Like insert, but the document is written later by fillPending: until then the blob is not indexed
   *  (always a candidate). Call in the transaction that inserts the blob row. A no-op when it has one. */
  defer(blobId: string): void {
    const r = this.insertDoc.run(blobId, 0);
    if (r.changes > 0) this.insertPending.run(blobId);
  }

  /**
   * Up to `limit` blobs whose document was deferred, with their stored MIME index (JSON), in ascending
   * docid order: fillPending them in this order. FTS5 writes its pending terms out as a new segment
   * whenever a rowid is not above the last one of the transaction, so the marks' own (blob id, i.e.
   * hash) order made a segment per document and filling took several times the inline insert's time.
   */
  pending(limit: number): Array<{ blobId: string; mime: string }> {
    const rows = this.pendingStmt.all(limit) as Array<{ blobId: string; mime: string; docid: number | null }>;
    return rows.sort((a, b) => (a.docid ?? 0) - (b.docid ?? 0));
  }

  /** Writes a deferred document (null: stays "not indexed") and drops the mark; call in a transaction.
   *  false when the mark was gone (another process filled it, or the blob was collected). */
  fillPending(blobId: string, doc: PreparedDoc): boolean {
    if (this.deletePending.run(blobId).changes === 0) return false;
    const docid = this.docidOf.get(blobId) as number | undefined;
    if (docid === undefined || !doc) return true;
    this.insertFts.run(docid, doc.header, doc.fields, doc.subject, doc.from, doc.to, doc.cc, doc.bcc, doc.body, doc.mime);
    this.markComplete.run(docid);
    return true;
  }

  /** Candidate UIDs, ascending; null when the needle is too short for trigrams. */
  candidates(mailboxId: number, field: SearchTextField, needle: string): number[] | null {
    const q = trigramQuery(field, needle);
    if (q === null) return null;
    const uids = this.matchStmt.all(mailboxId, q) as number[];
    if (this.anyIncomplete.get() !== undefined) uids.push(...(this.incompleteStmt.all(mailboxId) as number[]));
    return [...new Set(uids)].sort((a, b) => a - b);
  }
}
