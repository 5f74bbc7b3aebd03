// The one ingest path (ARCHITECTURE decision 3) for message bytes kept in PostgreSQL: the bytes are
// streamed once into the SHA-256 hash, the MIME indexer (decision 4) and fixed-size rows of blob_chunks
// under a new upload id, as they arrive, so a 60 MB APPEND never sits whole in memory. When the content
// address is known, one transaction upserts the blobs row: the first upload of a content keeps its chunks,
// a later upload of the same content drops its own (content-addressed deduplication). An upload abandoned
// by a crash is left in blob_uploads and removed by GC after the grace period.
// RFC 3502 (MULTIAPPEND: prepared messages commit later, in one transaction), RFC 9051 §6.3.12.
import { createHash } from 'node:crypto';
import type pg from 'pg';
import { MimeIndexer } from '../../mime/indexer.js';
import type { IngestWriter, PreparedMessage } from '../types.js';
import { BLOB_CHUNK_BYTES, PG_NOW_MS } from './schema.js';

/** What the writer needs from the store: a pool and a transaction runner with retries. */
export interface PgIngestHost {
  pool: pg.Pool;
  transaction<T>(fn: (c: pg.PoolClient) => Promise<T>): Promise<T>;
}

export class PgIngestWriter implements IngestWriter {
  private readonly hash = createHash('sha256');
  private readonly indexer = new MimeIndexer();
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private size = 0;
  private seq = 0;
  private uploadId: number | null = null;
  private chain: Promise<void> = Promise.resolve();
  private state: 'open' | 'finished' | 'aborted' = 'open';

  constructor(private readonly host: PgIngestHost) {}

  write(chunk: Buffer): Promise<void> {
    if (this.state !== 'open') return Promise.reject(new Error('IngestWriter: write after finish/abort'));
    try {
      this.indexer.push(chunk);
    } catch (err) {
      return this.abort().then(() => Promise.reject(err));
    }
    if (chunk.length === 0) return this.chain;
    this.hash.update(chunk);
    this.size += chunk.length;
    this.pending.push(chunk);
    this.pendingBytes += chunk.length;
    if (this.pendingBytes < BLOB_CHUNK_BYTES) return this.chain;
    // Whole chunks only: every stored row but the last holds exactly BLOB_CHUNK_BYTES (ranged reads rely on it).
    const all = Buffer.concat(this.pending, this.pendingBytes);
    const whole = all.length - (all.length % BLOB_CHUNK_BYTES);
    const rows: Buffer[] = [];
    for (let i = 0; i < whole; i += BLOB_CHUNK_BYTES) rows.push(all.subarray(i, i + BLOB_CHUNK_BYTES));
    this.pending = whole < all.length ? [all.subarray(whole)] : [];
    this.pendingBytes = all.length - whole;
    return this.enqueue(() => this.storeChunks(rows));
  }

  async finish(): Promise<PreparedMessage> {
    if (this.state !== 'open') throw new Error('IngestWriter: finish after finish/abort');
    this.state = 'finished';
    let mime;
    try {
      mime = this.indexer.finish();
      await this.chain;
    } catch (err) {
      await this.dropUpload();
      throw err;
    }
    const blobId = this.hash.digest('hex');
    const last = this.pendingBytes > 0 ? Buffer.concat(this.pending, this.pendingBytes) : null;
    this.pending = [];
    const mimeJson = JSON.stringify(mime);
    try {
      await this.host.transaction(async (c) => {
        let own = this.uploadId;
        if (own === null) {
          const r = await c.query<{ id: number }>(
            `SELECT nextval(pg_get_serial_sequence('blob_uploads', 'id')) AS id`,
          );
          own = r.rows[0]!.id;
        }
        // The row lock of this upsert orders us with GC and with other uploads of the same content.
        const r = await c.query<{ upload_id: number | null }>(
          `INSERT INTO blobs (id, size, mime_index, upload_id, prepared_at, created_at)
           VALUES ($1, $2, $3, $4, ${PG_NOW_MS}, ${PG_NOW_MS})
           ON CONFLICT (id) DO UPDATE SET prepared_at = EXCLUDED.prepared_at,
             mime_index = COALESCE(blobs.mime_index, EXCLUDED.mime_index),
             upload_id = COALESCE(blobs.upload_id, EXCLUDED.upload_id)
           RETURNING upload_id`,
          [blobId, this.size, mimeJson, own],
        );
        if (r.rows[0]!.upload_id === own) {
          if (last) await c.query('INSERT INTO blob_chunks (upload_id, seq, data) VALUES ($1, $2, $3)', [own, this.seq, last]);
        } else if (this.uploadId !== null) {
          await c.query('DELETE FROM blob_chunks WHERE upload_id = $1', [this.uploadId]);
        }
        if (this.uploadId !== null) await c.query('DELETE FROM blob_uploads WHERE id = $1', [this.uploadId]);
      });
    } catch (err) {
      await this.dropUpload();
      throw err;
    }
    return { blobId, size: this.size, mime };
  }

  async abort(): Promise<void> {
    if (this.state !== 'open') return;
    this.state = 'aborted';
    this.pending = [];
    this.pendingBytes = 0;
    await this.chain.catch(() => {});
    await this.dropUpload();
  }

  private enqueue(fn: () => Promise<void>): Promise<void> {
    const next = this.chain.then(fn);
    // A failed write ends the writer; later writes see the same failure.
    this.chain = next;
    next.catch(() => {});
    return next;
  }

  private async storeChunks(rows: Buffer[]): Promise<void> {
    if (this.state === 'aborted') return;
    if (this.uploadId === null) {
      const r = await this.host.pool.query<{ id: number }>(
        `INSERT INTO blob_uploads (started_at) VALUES (${PG_NOW_MS}) RETURNING id`,
      );
      this.uploadId = r.rows[0]!.id;
    }
    for (const data of rows) {
      await this.host.pool.query('INSERT INTO blob_chunks (upload_id, seq, data) VALUES ($1, $2, $3)', [
        this.uploadId,
        this.seq,
        data,
      ]);
      this.seq++;
    }
  }

  private async dropUpload(): Promise<void> {
    const id = this.uploadId;
    if (id === null) return;
    this.uploadId = null;
    try {
      await this.host.transaction(async (c) => {
        await c.query('DELETE FROM blob_chunks WHERE upload_id = $1', [id]);
        await c.query('DELETE FROM blob_uploads WHERE id = $1', [id]);
      });
    } catch {
      // GC removes the upload after the grace period.
    }
  }
}
