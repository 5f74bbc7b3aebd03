// The shared store for several Petrel nodes (issue 8): metadata in PostgreSQL (node-postgres pool), message
// bytes in PostgreSQL (bytea rows of blob_chunks, ranged reads with substring()) by default, or in the file
// blob store (src/store/blob) on storage all nodes share. Same semantics as the embedded store
// (src/store/sqlite/sqlite-store.ts), checked by the same conformance suite.
//
// Concurrency between nodes: every write that touches a mailbox's messages first locks that mailbox's row
// (`SELECT ... FOR UPDATE`, several mailboxes in id order so two MOVEs in opposite directions cannot
// deadlock), then takes its new mod-sequence and UIDs from the locked row, writes the rows and expunge
// tombstones, queues a NOTIFY and commits (ARCHITECTURE decision 2). So UIDs stay strictly ascending
// without gaps inside a batch and mod-sequences strictly ascending per mailbox, whichever node writes
// (RFC 9051 §2.3.1.1, RFC 7162 §3.1). Transactions run at READ COMMITTED; the few deadlocks left (blob
// reference counts updated by triggers in different orders) and serialization failures are retried.
// Global counters (UIDVALIDITY, OBJECTID numbers) come from sequences, which never hand a value out twice.
//
// Implements RFC 9051 §2.3.1.1, §2.3.2 (flags, \Recent), §6.3 (mailbox operations), RFC 3502 (MULTIAPPEND
// atomicity), RFC 4315 (UIDPLUS mappings), RFC 6851 (MOVE), RFC 7162 (CONDSTORE/QRESYNC data), RFC 8474
// (OBJECTID), RFC 8514 (SAVEDATE).
//
// THREADID (RFC 8474 §5.2) is assigned at append as in the embedded store (src/store/threading.ts, see
// pg-threads.ts); GC also applies the tombstone retention policy (RFC 7162 §5.3).
//
// SEARCH (RFC 9051 §6.4.4): searchTextCandidates answers from folded text documents per content with a
// pg_trgm GIN index (pg-search.ts); the server verifies every candidate, so IMAP's substring semantics stay.
//
// Not yet here (see docs/postgres.md): the listMessages cache of the SQLite store.
import { randomBytes } from 'node:crypto';
import * as fsp from 'node:fs/promises';
import pg from 'pg';
import { SYSTEM_FLAGS } from '../../protocol/types.js';
import type { MimeIndex } from '../../mime/types.js';
import { BlobStore } from '../blob/blob-store.js';
import { PgChangeBus } from '../change-bus-pg.js';
import type { ChangeBus } from '../change-bus.js';
import { beginIngest, prepareBuffer } from '../ingest.js';
import {
  StoreError,
  type AppendItem,
  type AppendResult,
  type FetchCacheEntry,
  type FetchCacheRecord,
  type FetchCacheRenderer,
  type FetchCacheSlot,
  type ChangeEvent,
  type ChangeSet,
  type CopyResult,
  type FlagOperation,
  type IngestWriter,
  type MailboxRecord,
  type MailboxStatus,
  type MessageMeta,
  type MessageRecord,
  type PreparedMessage,
  type RestoreItem,
  type RestoreState,
  type SpecialUse,
  type Store,
  type StoreFlagsResult,
  type UserRecord,
} from '../types.js';
import { topHeaderRange } from '../../mime/sections.js';
import { DEFAULT_TOMBSTONE_POLICY, type TombstonePolicy } from '../sqlite/thread-index.js';
import { assignThread, THREAD_HEADER_LIMIT, threadKeys, type ThreadKeys } from '../threading.js';
import { checkRestore, restoredCounters } from '../restore-rules.js';
import { PgIngestWriter } from './pg-ingest.js';
import { PgSearchIndex, setupSearch, type SearchSetup } from './pg-search.js';
import type { SearchTextField } from '../sqlite/search-index.js';
import { PgThreadBatch, pgTombstonePrunePoints } from './pg-threads.js';
import { BLOB_CHUNK_BYTES, migratePg, PG_NOW_MS } from './schema.js';
import {
  applyFlags,
  checkName,
  MAX_UID,
  normalizeName,
  parseFlags,
  toMailbox,
  toRanges,
  toUser,
  withLazyMime,
  zoneOf,
  type MailboxRow,
  type UserRow,
} from '../record-helpers.js';

export interface PostgresStoreOptions {
  /**
   * Keeps message bytes as files in this directory (`<blobDir>/blobs/ab/cdef…`, on storage every node
   * shares) instead of in the database. Default (undefined or 'database'): in the database.
   */
  blobDir?: string | 'database';
  /** Connections in the pool. Default 10. */
  poolSize?: number;
  /** Prepared but not yet appended blobs and abandoned uploads are kept this long. Default 15 minutes. */
  gcGraceMs?: number;
  /** Replaces the LISTEN/NOTIFY bus (e.g. a LocalChangeBus for a single node). */
  bus?: ChangeBus;
  /** NOTIFY channel of the default bus. */
  channel?: string;
  /** Runs collectGarbage() this often (timer does not keep the process alive). Default one hour; 0 disables. */
  gcIntervalMs?: number;
  /** Attempts of a write transaction that fails with a deadlock or serialization failure. Default 10. */
  maxAttempts?: number;
  /** Receives errors of background work, of the pool's idle connections and of throwing listeners. */
  onBackgroundError?: (err: unknown) => void;
  /** How long expunge tombstones are kept (collectGarbage prunes the rest); see src/store/sqlite/thread-index.ts. */
  tombstonePolicy?: Partial<TombstonePolicy>;
  /**
   * Full-text search documents for SEARCH (pg-search.ts): written at APPEND and used by
   * searchTextCandidates. false: none are written and the server scans messages. Default true.
   */
  searchIndex?: boolean;
  /**
   * Indexes messages without a search document (stored before the documents existed, by an older node,
   * or whose content replaceContent swapped in) in the background: after open, and again whenever a
   * search meets such messages. Default true.
   */
  searchBackfill?: boolean;
  /** One-line notices (e.g. pg_trgm unavailable). Default: a line on stderr. */
  log?: (message: string) => void;
}

const DEFAULT_GC_GRACE_MS = 15 * 60 * 1000;
/** A search that meets unindexed messages starts a backfill at most this often. */
const LAZY_BACKFILL_INTERVAL_MS = 60 * 1000;
/** streamBlob yields at most this many octets at a time (as the file blob store does). */
const STREAM_PIECE = 64 * 1024;

const SYSTEM_FLAG_BY_LOWER = new Map<string, string>(SYSTEM_FLAGS.map((f) => [f.toLowerCase(), f]));
/** flag / flag-keyword / flag-extension of RFC 9051 §9: atom characters, optionally after one backslash. */
const VALID_FLAG = /^\\?[^\x00-\x20\x7f-\uffff(){%*"\\\]]+$/;
const SPECIAL_USES = new Set<string>(['\\Drafts', '\\Sent', '\\Trash', '\\Junk', '\\Archive', '\\All', '\\Flagged']);

const MSG_COLS = 'uid, modseq, flags, internal_date, size, blob_id, save_date, email_id, thread_id, internal_date_offset';

/** SQLSTATEs after which a whole transaction is run again. */
const RETRYABLE = new Set(['40001', '40P01']);

/** bigint columns as JavaScript numbers (decision 11: counters stay far below 2^53). */
const TYPES: pg.CustomTypesConfig = {
  getTypeParser: ((oid: number, format?: string) => {
    if (oid === 20 && format !== 'binary') return (v: string) => Number(v);
    return format === undefined ? pg.types.getTypeParser(oid) : pg.types.getTypeParser(oid, format as 'text');
  }) as pg.CustomTypesConfig['getTypeParser'],
};



interface MessageRow {
  uid: number;
  modseq: number;
  flags: string;
  internal_date: number;
  size: number;
  blob_id: string;
  save_date: number;
  email_id: string;
  thread_id: string | null;
  internal_date_offset: number;
}

interface CopyRow {
  uid: number;
  flags: string;
  seen: boolean;
  deleted: boolean;
  internal_date: number;
  size: number;
  blob_id: string;
  email_id: string;
  thread_id: string | null;
  internal_date_offset: number;
}

/** Per write transaction: keyword spellings learnt, added to the cache only after COMMIT. */
interface TxContext {
  c: pg.PoolClient;
  keywords: Array<[number, string, string]>;
}

interface WriteOutcome<T> {
  result: T;
  events: ChangeEvent[];
}

/** Opens (migrating if needed) the PostgreSQL store at `url` (postgres://user:pass@host:port/db). */
export async function openPostgresStore(url: string, options: PostgresStoreOptions = {}): Promise<PostgresStore> {
  const onError = options.onBackgroundError ?? (() => {});
  const pool = new pg.Pool({ connectionString: url, max: options.poolSize ?? 10, types: TYPES });
  pool.on('error', onError);
  let bus: ChangeBus | null = null;
  let search: SearchSetup | null = null;
  try {
    const client = await pool.connect();
    try {
      await migratePg(client);
      search =
        options.searchIndex === false
          ? { documents: false, trigram: false, reason: 'disabled by the searchIndex option' }
          : await setupSearch(client);
      await client.query(
        `INSERT INTO meta (key, value) VALUES ('store_tag', $1) ON CONFLICT (key) DO NOTHING`,
        [randomBytes(6).toString('base64url').replace(/[^A-Za-z0-9]/g, 'x')],
      );
    } finally {
      client.release();
    }
    const tag = (await pool.query<{ value: string }>(`SELECT value FROM meta WHERE key = 'store_tag'`)).rows[0]!.value;
    let fileBlobs: PgFileBlobStore | null = null;
    if (options.blobDir !== undefined && options.blobDir !== 'database') {
      fileBlobs = new PgFileBlobStore(options.blobDir, pool);
      await fileBlobs.init();
    }
    bus = options.bus ?? (await PgChangeBus.open({ connectionString: url }, { channel: options.channel, onError }));
    if (search!.reason !== null && options.searchIndex !== false) {
      const log = options.log ?? ((m: string) => process.stderr.write(`petrel: ${m}\n`));
      log(
        search!.documents
          ? `PostgreSQL store: ${search!.reason}; SEARCH text keys fall back to scanning the stored search documents (no trigram index)`
          : `PostgreSQL store: ${search!.reason}; SEARCH text keys fall back to scanning messages`,
      );
    }
    return new PostgresStore(pool, bus, tag, fileBlobs, options, search!);
  } catch (err) {
    if (bus && !options.bus) bus.close();
    await pool.end().catch(() => {});
    throw err;
  }
}

/**
 * The file blob store with one addition for several nodes: before a blob file is placed (or an existing one
 * re-used), its blobs row is upserted with a fresh prepared_at. GC removes a file only while holding that
 * row's lock and only when prepared_at is old, so a file being prepared on one node is never removed by
 * GC on another (the SQLite store gets the same from its single-file write lock).
 */
class PgFileBlobStore extends BlobStore {
  constructor(
    dir: string,
    private readonly pool: pg.Pool,
  ) {
    super(dir);
  }

  override async place(tempPath: string, blobId: string): Promise<void> {
    const { size } = await fsp.stat(tempPath);
    await this.pool.query(
      `INSERT INTO blobs (id, size, prepared_at, created_at) VALUES ($1, $2, ${PG_NOW_MS}, ${PG_NOW_MS})
       ON CONFLICT (id) DO UPDATE SET prepared_at = EXCLUDED.prepared_at`,
      [blobId, size],
    );
    await super.place(tempPath, blobId);
  }
}

/** The render cache's columns of blobs (schema V5), one per slot. */
const FETCH_CACHE_COLUMN: Record<FetchCacheSlot, string> = {
  envelope: 'fetch_envelope',
  body: 'fetch_body',
  bodystructure: 'fetch_bodystructure',
};
const FETCH_CACHE_SLOTS = Object.keys(FETCH_CACHE_COLUMN) as FetchCacheSlot[];

export class PostgresStore implements Store {
  private readonly gcGraceMs: number;
  private readonly maxAttempts: number;
  private readonly keywordCache = new Map<number, Map<string, string>>();
  private readonly pgBus: PgChangeBus | null;
  private readonly tombstonePolicy: TombstonePolicy;
  private closed = false;
  private gcTimer: NodeJS.Timeout | null = null;
  private readonly search: PgSearchIndex;
  private backfillRun: Promise<number> = Promise.resolve(0);
  private backfillActive = false;
  private lastLazyBackfill = -Infinity;
  private readonly autoBackfill: boolean;
  private readonly onError: (err: unknown) => void;

  /** @internal use openPostgresStore */
  constructor(
    readonly pool: pg.Pool,
    private readonly bus: ChangeBus,
    private readonly storeTag: string,
    /** The file blob store when message bytes are kept as files; null when they are in the database. */
    readonly fileBlobs: BlobStore | null,
    options: PostgresStoreOptions,
    searchSetup: SearchSetup = { documents: false, trigram: false, reason: 'not set up' },
  ) {
    this.search = new PgSearchIndex(searchSetup, (blobId, start, end) => this.readBlob(blobId, start, end));
    this.pgBus = bus instanceof PgChangeBus ? bus : null;
    this.gcGraceMs = options.gcGraceMs ?? DEFAULT_GC_GRACE_MS;
    this.maxAttempts = Math.max(1, options.maxAttempts ?? 10);
    this.tombstonePolicy = { ...DEFAULT_TOMBSTONE_POLICY, ...options.tombstonePolicy };
    const onError = options.onBackgroundError ?? (() => {});
    const gcEvery = options.gcIntervalMs ?? 60 * 60 * 1000;
    if (gcEvery > 0) {
      this.gcTimer = setInterval(() => {
        this.collectGarbage().catch(onError);
      }, gcEvery);
      this.gcTimer.unref();
    }
    this.onError = onError;
    this.autoBackfill = searchSetup.documents && options.searchBackfill !== false;
    this.startBackfill();
  }

  /** Starts a background backfill unless one is running here (or automatic backfills are off). */
  private startBackfill(): void {
    if (!this.autoBackfill || this.backfillActive || this.closed) return;
    this.backfillActive = true;
    this.backfillRun = this.backfillSearchIndex()
      .catch((err: unknown) => {
        this.onError(err);
        return 0;
      })
      .finally(() => {
        this.backfillActive = false;
      });
  }

  /** Resolves when the latest background backfill is over, with the number of documents it wrote. */
  whenBackfilled(): Promise<number> {
    return this.backfillRun;
  }

  /** What open found about full-text search: documents written, trigram index present, why not. */
  get searchSetup(): SearchSetup {
    return this.search.setup;
  }

  /**
   * Indexes contents stored before the search documents existed (or unreadable at APPEND); runs in the
   * background after open, one node at a time. Resolves with the number of documents written (0 when
   * another node is doing it). Not part of Store.
   */
  async backfillSearchIndex(): Promise<number> {
    this.assertOpen();
    return this.search.backfill(this.pool, () => this.closed);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.gcTimer) clearInterval(this.gcTimer);
    await this.backfillRun;
    this.bus.close();
    await this.pool.end();
  }

  // ------------------------------------------------------------------ accounts

  async createUser(name: string, passwordHash: string): Promise<UserRecord> {
    if (name.length === 0) throw new StoreError('CANNOT', 'Empty user name');
    return this.write(async ({ c }) => {
      const r = await c.query<UserRow>(
        `INSERT INTO users (name, password_hash, created_at) VALUES ($1, $2, $3)
         ON CONFLICT (name) DO NOTHING RETURNING *`,
        [name, passwordHash, Date.now()],
      );
      const row = r.rows[0];
      if (!row) throw new StoreError('ALREADYEXISTS', `User ${name} exists`);
      return { result: toUser(row), events: [] };
    });
  }

  async getUser(name: string): Promise<UserRecord | null> {
    const row = (await this.query<UserRow>('SELECT * FROM users WHERE name = $1', [name]))[0];
    return row ? toUser(row) : null;
  }

  async listUsers(): Promise<UserRecord[]> {
    return (await this.query<UserRow>('SELECT * FROM users ORDER BY name')).map(toUser);
  }

  async setPassword(name: string, passwordHash: string): Promise<void> {
    this.assertOpen();
    const r = await this.run('UPDATE users SET password_hash = $1 WHERE name = $2', [passwordHash, name]);
    if (r.rowCount === 0) throw new StoreError('NONEXISTENT', `No user ${name}`);
  }

  async deleteUser(name: string): Promise<void> {
    const userId = await this.write(async ({ c }) => {
      const user = (await c.query<UserRow>('SELECT * FROM users WHERE name = $1 FOR UPDATE', [name])).rows[0];
      if (!user) throw new StoreError('NONEXISTENT', `No user ${name}`);
      const boxes = (
        await c.query<MailboxRow>('SELECT * FROM mailboxes WHERE user_id = $1 ORDER BY id FOR UPDATE', [user.id])
      ).rows;
      // Messages and tombstones first: their delete triggers update rows the cascade would remove.
      await c.query('DELETE FROM messages WHERE mailbox_id = ANY($1::bigint[])', [boxes.map((b) => b.id)]);
      await c.query('DELETE FROM expunged WHERE mailbox_id = ANY($1::bigint[])', [boxes.map((b) => b.id)]);
      await c.query('DELETE FROM users WHERE id = $1', [user.id]);
      return {
        result: user.id,
        events: boxes.map((mb) => ({ mailboxId: mb.id, userId: user.id, modSeq: mb.highest_modseq + 1 })),
      };
    });
    this.keywordCache.delete(userId);
  }

  // ------------------------------------------------------------------ mailboxes

  async listMailboxes(userId: number): Promise<MailboxRecord[]> {
    return (await this.query<MailboxRow>('SELECT * FROM mailboxes WHERE user_id = $1 ORDER BY name', [userId])).map(
      toMailbox,
    );
  }

  async getMailbox(userId: number, name: string): Promise<MailboxRecord | null> {
    const rows = await this.query<MailboxRow>('SELECT * FROM mailboxes WHERE user_id = $1 AND name = $2', [
      userId,
      normalizeName(name),
    ]);
    return rows[0] ? toMailbox(rows[0]) : null;
  }

  async getMailboxById(mailboxId: number): Promise<MailboxRecord | null> {
    if (!isId(mailboxId)) return null;
    const rows = await this.query<MailboxRow>('SELECT * FROM mailboxes WHERE id = $1', [mailboxId]);
    return rows[0] ? toMailbox(rows[0]) : null;
  }

  async createMailbox(userId: number, name: string, opts?: { specialUse?: SpecialUse | null }): Promise<MailboxRecord> {
    const norm = normalizeName(name);
    checkName(norm);
    const specialUse = opts?.specialUse ?? null;
    if (specialUse !== null && !SPECIAL_USES.has(specialUse)) throw new StoreError('CANNOT', `Bad special use ${specialUse}`);
    return this.write(async ({ c }) => {
      if ((await c.query('SELECT 1 FROM users WHERE id = $1 FOR SHARE', [userId])).rowCount === 0) {
        throw new StoreError('NONEXISTENT', `No user ${userId}`);
      }
      if ((await c.query('SELECT 1 FROM mailboxes WHERE user_id = $1 AND name = $2', [userId, norm])).rowCount !== 0) {
        throw new StoreError('ALREADYEXISTS', `Mailbox ${norm} exists`);
      }
      const row = await this.insertMailbox(c, userId, norm, specialUse, 1, 1, 1);
      return { result: toMailbox(row), events: [{ mailboxId: row.id, userId, modSeq: row.highest_modseq }] };
    });
  }

  async deleteMailbox(userId: number, name: string): Promise<void> {
    const norm = normalizeName(name);
    await this.write(async ({ c }) => {
      const mb = (
        await c.query<MailboxRow>('SELECT * FROM mailboxes WHERE user_id = $1 AND name = $2 FOR UPDATE', [userId, norm])
      ).rows[0];
      if (!mb) throw new StoreError('NONEXISTENT', `No mailbox ${norm}`);
      if (mb.name === 'INBOX') throw new StoreError('NOPERM', 'INBOX cannot be deleted');
      await this.dropMailbox(c, mb.id);
      return { result: undefined, events: [{ mailboxId: mb.id, userId, modSeq: mb.highest_modseq + 1 }] };
    });
  }

  async renameMailbox(userId: number, from: string, to: string): Promise<void> {
    const src = normalizeName(from);
    const dst = normalizeName(to);
    checkName(dst);
    await this.write(async ({ c }) => {
      const mb = (
        await c.query<MailboxRow>('SELECT * FROM mailboxes WHERE user_id = $1 AND name = $2 FOR UPDATE', [userId, src])
      ).rows[0];
      if (!mb) throw new StoreError('NONEXISTENT', `No mailbox ${src}`);
      if ((await c.query('SELECT 1 FROM mailboxes WHERE user_id = $1 AND name = $2', [userId, dst])).rowCount !== 0) {
        throw new StoreError('ALREADYEXISTS', `Mailbox ${dst} exists`);
      }
      if (src === 'INBOX') return { result: undefined, events: await this.renameInbox(c, mb, dst) };
      if (dst.startsWith(src + '/')) throw new StoreError('CANNOT', 'Cannot rename a mailbox into itself');
      // RFC 9051 §6.3.6: inferior names are renamed too.
      const children = (
        await c.query<MailboxRow>(
          'SELECT * FROM mailboxes WHERE user_id = $1 AND starts_with(name, $2) ORDER BY id FOR UPDATE',
          [userId, src + '/'],
        )
      ).rows;
      const family = [mb, ...children];
      const renames = family.map((m) => ({ row: m, name: dst + m.name.slice(src.length) }));
      const familyIds = new Set(family.map((m) => m.id));
      const clashes = (
        await c.query<{ id: number; name: string }>(
          'SELECT id, name FROM mailboxes WHERE user_id = $1 AND name = ANY($2::text[])',
          [userId, renames.map((r) => r.name)],
        )
      ).rows;
      for (const r of renames) checkName(r.name);
      for (const clash of clashes) {
        if (!familyIds.has(clash.id)) throw new StoreError('ALREADYEXISTS', `Mailbox ${clash.name} exists`);
      }
      // One statement: the deferrable unique constraint is checked at its end, so a new name may equal an
      // old name later in the list ("a/b" -> "a" turns "a/b/b" into "a/b").
      await c.query(
        `UPDATE mailboxes m SET name = v.name FROM unnest($1::bigint[], $2::text[]) AS v(id, name) WHERE m.id = v.id`,
        [renames.map((r) => r.row.id), renames.map((r) => r.name)],
      );
      return {
        result: undefined,
        events: renames.map((r) => ({ mailboxId: r.row.id, userId, modSeq: r.row.highest_modseq })),
      };
    });
  }

  async setSpecialUse(mailboxId: number, use: SpecialUse | null): Promise<void> {
    if (use !== null && !SPECIAL_USES.has(use)) throw new StoreError('CANNOT', `Bad special use ${use}`);
    await this.write(async ({ c }) => {
      const mb = (
        await c.query<MailboxRow>('UPDATE mailboxes SET special_use = $1 WHERE id = $2 RETURNING *', [use, idParam(mailboxId)])
      ).rows[0];
      if (!mb) throw new StoreError('NONEXISTENT', `No mailbox ${mailboxId}`);
      return { result: undefined, events: [{ mailboxId, userId: mb.user_id, modSeq: mb.highest_modseq }] };
    });
  }

  async setSubscribed(userId: number, name: string, subscribed: boolean): Promise<void> {
    const norm = normalizeName(name);
    await this.write(async ({ c }) => {
      if ((await c.query('SELECT 1 FROM users WHERE id = $1 FOR SHARE', [userId])).rowCount === 0) {
        throw new StoreError('NONEXISTENT', `No user ${userId}`);
      }
      if (subscribed) {
        await c.query('INSERT INTO subscriptions (user_id, name) VALUES ($1, $2) ON CONFLICT DO NOTHING', [userId, norm]);
      } else {
        await c.query('DELETE FROM subscriptions WHERE user_id = $1 AND name = $2', [userId, norm]);
      }
      return { result: undefined, events: [] };
    });
  }

  async listSubscriptions(userId: number): Promise<string[]> {
    return (await this.query<{ name: string }>('SELECT name FROM subscriptions WHERE user_id = $1 ORDER BY name', [userId])).map(
      (r) => r.name,
    );
  }

  async mailboxStatus(mailboxId: number): Promise<MailboxStatus> {
    // One statement, one snapshot. Usually few messages are recent; when the watermark is at or below the
    // first uid (nobody has selected the mailbox yet) all are, and counting them would scan the mailbox.
    const mb = (
      await this.query<MailboxRow & { recent: number }>(
        `SELECT m.*, CASE
           WHEN m.recent_uid <= coalesce((SELECT min(uid) FROM messages WHERE mailbox_id = m.id), m.recent_uid)
           THEN m.messages
           ELSE (SELECT count(*) FROM messages WHERE mailbox_id = m.id AND uid >= m.recent_uid) END AS recent
         FROM mailboxes m WHERE m.id = $1`,
        [idParam(mailboxId)],
      )
    )[0];
    if (!mb) throw new StoreError('NONEXISTENT', `No mailbox ${mailboxId}`);
    return {
      messages: mb.messages,
      unseen: mb.unseen,
      deleted: mb.deleted,
      size: mb.total_size,
      uidNext: mb.uid_next,
      uidValidity: mb.uid_validity,
      highestModSeq: mb.highest_modseq,
      recent: mb.recent,
    };
  }

  async claimRecent(mailboxId: number): Promise<number> {
    return this.write(async ({ c }) => {
      const mb = await this.lockMailbox(c, mailboxId, 'NONEXISTENT');
      if (mb.recent_uid !== mb.uid_next) {
        await c.query('UPDATE mailboxes SET recent_uid = $1 WHERE id = $2', [mb.uid_next, mailboxId]);
      }
      return { result: mb.recent_uid, events: [] };
    });
  }

  // ------------------------------------------------------------------ messages

  beginIngest(): IngestWriter {
    this.assertOpen();
    if (this.fileBlobs) return beginIngest(this.fileBlobs);
    return new PgIngestWriter({ pool: this.pool, transaction: (fn) => this.transaction(fn) });
  }

  async prepare(data: Buffer): Promise<PreparedMessage> {
    this.assertOpen();
    if (this.fileBlobs) return prepareBuffer(this.fileBlobs, data);
    const w = this.beginIngest();
    try {
      await w.write(data);
      return await w.finish();
    } catch (err) {
      await w.abort();
      throw err;
    }
  }

  /** docs/sync.md "Partial messages": the synthetic bytes as a blob, the caller's index and size. Ingest
   *  recorded the index of the bytes themselves; an unreferenced row gets the caller's instead. */
  async preparePartial(bytes: Buffer, mime: MimeIndex, size: number): Promise<PreparedMessage> {
    const written = await this.prepare(bytes);
    await this.run(
      'UPDATE blobs SET mime_index = $2, fetch_envelope = NULL, fetch_body = NULL, fetch_bodystructure = NULL WHERE id = $1 AND refcount = 0',
      [written.blobId, JSON.stringify(mime)],
    );
    return { blobId: written.blobId, size, mime };
  }

  /** Points the message at the full content, same uid, flags and mod-sequence; refcounts moved by hand
   *  (the statement triggers assume updates never change blob_id). */
  async replaceContent(mailboxId: number, uid: number, message: PreparedMessage): Promise<void> {
    await this.write(async ({ c }) => {
      await this.lockMailbox(c, mailboxId, 'NONEXISTENT');
      const row = (
        await c.query<{ blob_id: string; size: string | number }>(
          'SELECT blob_id, size FROM messages WHERE mailbox_id = $1 AND uid = $2 FOR UPDATE',
          [idParam(mailboxId), uid],
        )
      ).rows[0];
      if (!row) throw new StoreError('NONEXISTENT', `No message ${uid} in mailbox ${mailboxId}`);
      if (Number(row.size) !== message.size) {
        throw new StoreError('CANNOT', `Content of ${message.size} octets cannot replace a message of ${Number(row.size)}`);
      }
      if (row.blob_id === message.blobId) return { result: undefined, events: [] };
      await this.ensureBlobs(c, [message]);
      await c.query('UPDATE messages SET blob_id = $1 WHERE mailbox_id = $2 AND uid = $3', [message.blobId, idParam(mailboxId), uid]);
      await c.query('UPDATE blobs SET refcount = refcount + 1 WHERE id = $1', [message.blobId]);
      await c.query(
        `UPDATE blobs SET refcount = refcount - 1,
           unref_at = CASE WHEN refcount = 1 THEN ${PG_NOW_MS} ELSE unref_at END WHERE id = $1`,
        [row.blob_id],
      );
      return { result: undefined, events: [] };
    });
  }

  async append(mailboxId: number, items: AppendItem[]): Promise<AppendResult> {
    this.assertOpen();
    // THREADID (RFC 8474 §5.2): the header fields threading needs are read before the transaction.
    // ... and the full-text documents of contents not indexed yet (pg-search.ts), read at the same time.
    const [keys, docs] = await Promise.all([
      Promise.all(items.map((it) => this.threadKeysOf(it.message))),
      this.search.prepare(this.pool, items.map((it) => it.message)),
    ]);
    const now = Date.now();
    for (const item of items) {
      if (item.internalDate !== undefined && !Number.isFinite(item.internalDate)) {
        throw new StoreError('CANNOT', 'Invalid internal date');
      }
    }
    // The render cache of new contents (setFetchCacheRenderer), one per blob, in blob-id order.
    const cacheTexts = new Map<string, Partial<Record<FetchCacheSlot, string>>>();
    const render = this.fetchCacheRenderer;
    if (render) {
      for (const it of items) {
        try {
          const texts = render(it.message.mime);
          if (texts !== null) cacheTexts.set(it.message.blobId, texts);
        } catch {
          // the first FETCH renders it (and reports what is wrong)
        }
      }
    }
    const cacheIds = [...cacheTexts.keys()].sort();
    return this.write(async (tx) => {
      const { c } = tx;
      const mb = await this.lockMailbox(c, mailboxId, 'TRYCREATE');
      if (items.length === 0) {
        return { result: { uidValidity: mb.uid_validity, uids: [], modSeq: mb.highest_modseq }, events: [] };
      }
      if (mb.uid_next + items.length - 1 > MAX_UID) throw new StoreError('LIMIT', 'Mailbox has used up its UIDs');
      const modSeq = mb.highest_modseq + 1;
      await this.ensureBlobs(c, items.map((i) => i.message));
      if (cacheIds.length > 0) {
        const cols = Object.values(FETCH_CACHE_COLUMN);
        await c.query(
          `UPDATE blobs b SET ${cols.map((col, i) => `${col} = COALESCE(b.${col}, v.t${i})`).join(', ')}
           FROM unnest($1::text[], ${cols.map((_, i) => `$${i + 2}::text[]`).join(', ')}) AS v(id, ${cols.map((_, i) => `t${i}`).join(', ')})
           WHERE b.id = v.id`,
          [cacheIds, ...FETCH_CACHE_SLOTS.map((slot) => cacheIds.map((id) => cacheTexts.get(id)![slot] ?? null))],
        );
      }
      await this.search.write(c, docs, true);
      // EMAILIDs, then one possible new THREADID per message (unused numbers are harmless gaps).
      const objects = await this.allocateObjectIds(c, items.length * 2);
      const threadIndex = await PgThreadBatch.load(c, mb.user_id, keys, now);
      let nextThread = items.length;
      const newThread = (): string => this.objectId('T', objects[nextThread++]!);
      const threads: string[] = [];
      const uids: number[] = [];
      const flags: string[] = [];
      const seen: boolean[] = [];
      const deleted: boolean[] = [];
      const dates: number[] = [];
      const zones: number[] = [];
      const sizes: number[] = [];
      const blobs: string[] = [];
      const emails: string[] = [];
      for (let i = 0; i < items.length; i++) {
        const item = items[i]!;
        const f = await this.canonicalFlags(tx, mb.user_id, item.flags);
        uids.push(mb.uid_next + i);
        flags.push(f.join(' '));
        seen.push(f.includes('\\Seen'));
        deleted.push(f.includes('\\Deleted'));
        dates.push(Math.trunc(item.internalDate ?? now));
        zones.push(zoneOf(item.internalDateOffset, item.internalDate ?? now));
        sizes.push(item.message.size);
        blobs.push(item.message.blobId);
        emails.push(this.objectId('E', objects[i]!));
        threads.push(assignThread(threadIndex, keys[i]!, newThread, now));
      }
      await threadIndex.save();
      await c.query(
        `INSERT INTO messages (mailbox_id, uid, modseq, flags, seen, deleted, internal_date, size, blob_id,
           save_date, email_id, thread_id, internal_date_offset)
         SELECT $1, v.uid, $2, v.flags, v.seen, v.deleted, v.idate, v.size, v.blob, $3, v.email, v.thread, v.zone
         FROM unnest($4::bigint[], $5::text[], $6::boolean[], $7::boolean[], $8::bigint[], $9::bigint[], $10::text[],
           $11::text[], $12::text[], $13::integer[]) AS v(uid, flags, seen, deleted, idate, size, blob, email, thread, zone)`,
        [mailboxId, modSeq, now, uids, flags, seen, deleted, dates, sizes, blobs, emails, threads, zones],
      );
      await c.query('UPDATE mailboxes SET uid_next = $1, highest_modseq = $2 WHERE id = $3', [
        mb.uid_next + items.length,
        modSeq,
        mailboxId,
      ]);
      return {
        result: { uidValidity: mb.uid_validity, uids, modSeq },
        events: [{ mailboxId, userId: mb.user_id, modSeq }],
      };
    });
  }

  /** Import only (`petrel migrate`): see Store.restoreMessages and src/store/restore-rules.ts. */
  async restoreMessages(mailboxId: number, state: RestoreState, items: RestoreItem[]): Promise<AppendResult> {
    const [keys, docs] = await Promise.all([
      Promise.all(items.map((it) => this.threadKeysOf(it.message))),
      this.search.prepare(this.pool, items.map((it) => it.message)),
    ]);
    const now = Date.now();
    return this.write(async (tx) => {
      const { c } = tx;
      const mb = await this.lockMailbox(c, mailboxId, 'TRYCREATE');
      const top = (await c.query<{ uid: number | null }>('SELECT max(uid) AS uid FROM messages WHERE mailbox_id = $1', [mailboxId])).rows[0];
      checkRestore(state, items, top?.uid ?? 0);
      if (mb.uid_validity !== state.uidValidity) {
        if (mb.messages > 0) throw new StoreError('CANNOT', 'restore: UIDVALIDITY of a mailbox that holds messages');
        const other = await c.query('SELECT 1 FROM mailboxes WHERE uid_validity = $1 AND id <> $2', [state.uidValidity, mailboxId]);
        if ((other.rowCount ?? 0) > 0) throw new StoreError('CANNOT', `restore: UIDVALIDITY ${state.uidValidity} belongs to another mailbox`);
        await c.query('DELETE FROM expunged WHERE mailbox_id = $1', [mailboxId]); // UIDs of the old UIDVALIDITY
        await c.query('UPDATE mailboxes SET uid_validity = $1 WHERE id = $2', [state.uidValidity, mailboxId]);
        // Never handed out again (RFC 9051 §2.3.1.1); sequences are not transactional, so this may stay raised.
        await c.query(`SELECT setval('uid_validity_seq', greatest($1::bigint, (SELECT last_value FROM uid_validity_seq)))`, [state.uidValidity]);
      }
      const after = restoredCounters(mb, state, items);
      if (after === null) return { result: { uidValidity: mb.uid_validity, uids: [], modSeq: mb.highest_modseq }, events: [] };
      if (items.length > 0) {
        await this.ensureBlobs(c, items.map((i) => i.message));
        await this.search.write(c, docs, true);
        const objects = await this.allocateObjectIds(c, items.length * 2);
        const threadIndex = await PgThreadBatch.load(c, mb.user_id, keys, now);
        let nextThread = items.length;
        const newThread = (): string => this.objectId('T', objects[nextThread++]!);
        const flags: string[] = [];
        const threads: string[] = [];
        for (let i = 0; i < items.length; i++) {
          flags.push((await this.canonicalFlags(tx, mb.user_id, items[i]!.flags)).join(' '));
          threads.push(assignThread(threadIndex, keys[i]!, newThread, now));
        }
        await threadIndex.save();
        await c.query(
          `INSERT INTO messages (mailbox_id, uid, modseq, flags, seen, deleted, internal_date, size, blob_id,
             save_date, email_id, thread_id, internal_date_offset)
           SELECT $1, v.uid, v.modseq, v.flags, v.seen, v.deleted, v.idate, v.size, v.blob, $2, v.email, v.thread, v.zone
           FROM unnest($3::bigint[], $4::bigint[], $5::text[], $6::boolean[], $7::boolean[], $8::bigint[], $9::bigint[],
             $10::text[], $11::text[], $12::text[], $13::integer[])
             AS v(uid, modseq, flags, seen, deleted, idate, size, blob, email, thread, zone)`,
          [
            mailboxId,
            now,
            items.map((it) => it.uid),
            items.map((it) => it.modSeq),
            flags,
            flags.map((f) => f.split(' ').includes('\\Seen')),
            flags.map((f) => f.split(' ').includes('\\Deleted')),
            items.map((it) => Math.trunc(it.internalDate)),
            items.map((it) => it.message.size),
            items.map((it) => it.message.blobId),
            items.map((_, i) => this.objectId('E', objects[i]!)),
            threads,
            items.map((it) => zoneOf(it.internalDateOffset, it.internalDate)),
          ],
        );
      }
      await c.query(
        'UPDATE mailboxes SET uid_next = $1, highest_modseq = $2, tombstones_pruned_to = $3, recent_uid = $4 WHERE id = $5',
        [after.uidNext, after.highestModSeq, after.tombstonesPrunedTo, after.recentUid, mailboxId],
      );
      return {
        result: { uidValidity: state.uidValidity, uids: items.map((it) => it.uid), modSeq: after.highestModSeq },
        events: [{ mailboxId, userId: mb.user_id, modSeq: after.highestModSeq }],
      };
    });
  }

  async searchTextCandidates(mailboxId: number, field: SearchTextField, needle: string): Promise<number[] | null> {
    const r = await this.snapshot(async (c) => {
      await this.requireMailbox(c, mailboxId);
      return this.search.candidates(c, mailboxId, field, needle);
    });
    // Lazy backfill: messages without a document were found; index them for the next searches. At most
    // once a minute from here, so contents that cannot be read are not re-read by every search.
    if (r?.pending && Date.now() - this.lastLazyBackfill >= LAZY_BACKFILL_INTERVAL_MS) {
      this.lastLazyBackfill = Date.now();
      this.startBackfill();
    }
    return r ? r.uids : null;
  }

  async listMessages(mailboxId: number): Promise<MessageMeta[]> {
    return this.snapshot(async (c) => {
      await this.requireMailbox(c, mailboxId);
      const r = await c.query<MessageRow>(`SELECT ${MSG_COLS} FROM messages WHERE mailbox_id = $1 ORDER BY uid`, [mailboxId]);
      return r.rows.map(toMeta);
    });
  }

  async getMessages(mailboxId: number, uids: number[]): Promise<MessageRecord[]> {
    const ranges = toRanges(uids);
    return this.snapshot(async (c) => {
      await this.requireMailbox(c, mailboxId);
      if (ranges.length === 0) return [];
      const r = await c.query<MessageRow & { mime_index: string }>(
        `SELECT m.uid, m.modseq, m.flags, m.internal_date, m.size, m.blob_id, m.save_date, m.email_id, m.thread_id,
           m.internal_date_offset, b.mime_index
         FROM messages m JOIN blobs b ON b.id = m.blob_id
         WHERE m.mailbox_id = $1 AND m.uid IN (
           SELECT u FROM unnest($2::bigint[], $3::bigint[]) AS r(lo, hi), generate_series(r.lo, r.hi) AS u)
         ORDER BY m.uid`,
        [mailboxId, ranges.map((x) => x[0]), ranges.map((x) => x[1])],
      );
      return r.rows.map((row) => withLazyMime(toMeta(row), row.mime_index));
    });
  }

  async getFetchCache(mailboxId: number, uids: number[], slots: readonly FetchCacheSlot[], withMeta: boolean): Promise<FetchCacheRecord[]> {
    const ranges = toRanges(uids);
    const cols = slots.map((slot) => `b.${FETCH_CACHE_COLUMN[slot]}`);
    const missing = cols.length === 0 ? 'true' : cols.map((c) => `${c} IS NULL`).join(' OR ');
    return this.snapshot(async (c) => {
      await this.requireMailbox(c, mailboxId);
      if (ranges.length === 0) return [];
      // The index only where a text is missing: a warm FETCH reads the short cached texts alone.
      const r = await c.query<MessageRow & Record<string, unknown>>({
        text: `SELECT m.uid, m.modseq, m.flags, m.internal_date, m.size, m.blob_id, m.save_date, m.email_id, m.thread_id,
             m.internal_date_offset, ${[...cols.map((col, i) => `${col} AS c${i}`), `CASE WHEN ${missing} THEN b.mime_index END AS mime_index`].join(', ')}
           FROM messages m JOIN blobs b ON b.id = m.blob_id
           WHERE m.mailbox_id = $1 AND m.uid IN (
             SELECT u FROM unnest($2::bigint[], $3::bigint[]) AS r(lo, hi), generate_series(r.lo, r.hi) AS u)
           ORDER BY m.uid`,
        values: [mailboxId, ranges.map((x) => x[0]), ranges.map((x) => x[1])],
      });
      return r.rows.map((row) => {
        const meta = toMeta(row);
        return {
          uid: meta.uid,
          meta: withMeta ? meta : null,
          blobId: meta.blobId,
          cached: slots.map((_, i) => (row[`c${i}`] as string | null) ?? null),
          mimeJson: (row.mime_index as string | null) ?? null,
        };
      });
    });
  }

  private fetchCacheRenderer: FetchCacheRenderer | null = null;

  setFetchCacheRenderer(render: FetchCacheRenderer | null): void {
    this.fetchCacheRenderer = render;
  }

  async putFetchCache(entries: readonly FetchCacheEntry[]): Promise<void> {
    if (entries.length === 0) return;
    const bySlot = new Map<FetchCacheSlot, Map<string, string>>();
    for (const e of entries) {
      for (const [slot, text] of Object.entries(e.texts) as Array<[FetchCacheSlot, string]>) {
        let m = bySlot.get(slot);
        if (!m) bySlot.set(slot, (m = new Map()));
        m.set(e.blobId, text);
      }
    }
    // One text per blob, in id order (the order ensureBlobs locks them in; the planner walks a short unnest
    // list in order), so sessions filling overlapping blobs rarely wait on each other. The server treats a
    // failed put (even a deadlock victim) as a cache not written. Only where the index is there (a blob whose
    // index is written later gets its cache dropped then).
    for (const [slot, texts] of bySlot) {
      const ids = [...texts.keys()].sort();
      const col = FETCH_CACHE_COLUMN[slot];
      await this.run(
        `UPDATE blobs b SET ${col} = v.text FROM unnest($1::text[], $2::text[]) AS v(id, text)
         WHERE b.id = v.id AND b.mime_index IS NOT NULL`,
        [ids, ids.map((id) => texts.get(id)!)],
      );
    }
  }

  /**
   * Flags of the given messages (RFC 9051 §6.4.6), conditionally with UNCHANGEDSINCE (RFC 7162 §3.1.3).
   * Only messages whose flag set really changes get the new mod-sequence (RFC 7162 §3.1.11); when nothing
   * changes, no mod-sequence is taken and no event is published. \Recent is never stored.
   */
  async storeFlags(
    mailboxId: number,
    uids: number[],
    op: FlagOperation,
    flags: string[],
    opts?: { unchangedSince?: number },
  ): Promise<StoreFlagsResult> {
    const unchangedSince = opts?.unchangedSince;
    const ranges = toRanges(uids);
    return this.write(async (tx) => {
      const { c } = tx;
      const mb = await this.lockMailbox(c, mailboxId, 'NONEXISTENT');
      const wanted = await this.canonicalFlags(tx, mb.user_id, flags);
      const modSeq = mb.highest_modseq + 1;
      const updated: StoreFlagsResult['updated'] = [];
      const modified: number[] = [];
      const rows = await this.rowsInRanges<{ uid: number; modseq: number; flags: string }>(
        c,
        'uid, modseq, flags',
        mailboxId,
        ranges,
      );
      const upd: { uid: number[]; flags: string[]; seen: boolean[]; deleted: boolean[] } = { uid: [], flags: [], seen: [], deleted: [] };
      for (const r of rows) {
        if (unchangedSince !== undefined && r.modseq > unchangedSince) {
          modified.push(r.uid);
          continue;
        }
        const old = parseFlags(r.flags);
        const next = applyFlags(old, op, wanted);
        if (next === null) {
          updated.push({ uid: r.uid, flags: old, modSeq: r.modseq, changed: false });
          continue;
        }
        upd.uid.push(r.uid);
        upd.flags.push(next.join(' '));
        upd.seen.push(next.includes('\\Seen'));
        upd.deleted.push(next.includes('\\Deleted'));
        updated.push({ uid: r.uid, flags: next, modSeq, changed: true });
      }
      if (upd.uid.length === 0) return { result: { modSeq: mb.highest_modseq, updated, modified }, events: [] };
      await c.query(
        `UPDATE messages m SET flags = v.flags, seen = v.seen, deleted = v.deleted, modseq = $2
         FROM unnest($3::bigint[], $4::text[], $5::boolean[], $6::boolean[]) AS v(uid, flags, seen, deleted)
         WHERE m.mailbox_id = $1 AND m.uid = v.uid`,
        [mailboxId, modSeq, upd.uid, upd.flags, upd.seen, upd.deleted],
      );
      await c.query('UPDATE mailboxes SET highest_modseq = $1 WHERE id = $2', [modSeq, mailboxId]);
      return { result: { modSeq, updated, modified }, events: [{ mailboxId, userId: mb.user_id, modSeq }] };
    });
  }

  async copyMessages(srcMailboxId: number, uids: number[], dstMailboxId: number): Promise<CopyResult> {
    const r = await this.write((tx) => this.copyInTx(tx.c, srcMailboxId, uids, dstMailboxId, false));
    return { uidValidity: r.uidValidity, mapping: r.mapping, modSeq: r.modSeq };
  }

  async moveMessages(
    srcMailboxId: number,
    uids: number[],
    dstMailboxId: number,
  ): Promise<CopyResult & { expunged: number[] }> {
    return this.write((tx) => this.copyInTx(tx.c, srcMailboxId, uids, dstMailboxId, true));
  }

  async expunge(mailboxId: number, uids?: number[]): Promise<number[]> {
    const only = uids ? new Set(uids) : null;
    return this.write(async ({ c }) => {
      const mb = await this.lockMailbox(c, mailboxId, 'NONEXISTENT');
      let targets = (
        await c.query<{ uid: number }>('SELECT uid FROM messages WHERE mailbox_id = $1 AND deleted ORDER BY uid', [mailboxId])
      ).rows.map((r) => r.uid);
      if (only) targets = targets.filter((uid) => only.has(uid));
      if (targets.length === 0) return { result: [], events: [] };
      const modSeq = mb.highest_modseq + 1;
      await this.expungeRows(c, mailboxId, targets, modSeq);
      await c.query('UPDATE mailboxes SET highest_modseq = $1 WHERE id = $2', [modSeq, mailboxId]);
      return { result: targets, events: [{ mailboxId, userId: mb.user_id, modSeq }] };
    });
  }

  async changesSince(mailboxId: number, modSeq: number): Promise<ChangeSet> {
    return this.snapshot(async (c) => {
      const mb = await this.requireMailbox(c, mailboxId);
      const changed = (
        await c.query<MessageRow>(`SELECT ${MSG_COLS} FROM messages WHERE mailbox_id = $1 AND modseq > $2 ORDER BY uid`, [
          mailboxId,
          modSeq,
        ])
      ).rows.map(toMeta);
      const expunged = (
        await c.query<{ uid: number }>('SELECT uid FROM expunged WHERE mailbox_id = $1 AND modseq > $2 ORDER BY uid', [
          mailboxId,
          modSeq,
        ])
      ).rows.map((r) => r.uid);
      return {
        highestModSeq: mb.highest_modseq,
        uidNext: mb.uid_next,
        changed,
        expunged,
        truncated: modSeq < mb.tombstones_pruned_to,
      };
    });
  }

  /**
   * Drops expunge tombstones with modseq <= `upToModSeq` (capped at the mailbox's highest). Later
   * changesSince calls from below that point answer `truncated: true` (RFC 7162 §3.2.5.1). Not part of Store.
   */
  async pruneTombstones(mailboxId: number, upToModSeq: number): Promise<number> {
    return this.write(async ({ c }) => {
      const mb = await this.lockMailbox(c, mailboxId, 'NONEXISTENT');
      const upTo = Math.min(upToModSeq, mb.highest_modseq);
      if (upTo <= mb.tombstones_pruned_to) return { result: 0, events: [] };
      const r = await c.query('DELETE FROM expunged WHERE mailbox_id = $1 AND modseq <= $2', [mailboxId, upTo]);
      await c.query('UPDATE mailboxes SET tombstones_pruned_to = $1 WHERE id = $2', [upTo, mailboxId]);
      return { result: r.rowCount ?? 0, events: [] };
    });
  }

  // ------------------------------------------------------------------ message bytes

  async readBlob(blobId: string, start: number, end: number): Promise<Buffer> {
    this.assertOpen();
    const fromFile = await this.readFileBlob(blobId, start, end);
    if (fromFile) return fromFile;
    const { uploadId, size } = await this.blobLocation(blobId);
    const [from, to] = clampRange(start, end, size);
    if (from === to) return Buffer.alloc(0);
    const parts = await this.readChunks(uploadId, from, to);
    const out = parts.length === 1 ? parts[0]! : Buffer.concat(parts);
    if (out.length !== to - from) throw new StoreError('CORRUPTION', `Blob ${blobId} is shorter than its size`);
    return out;
  }

  async *streamBlob(blobId: string, start: number, end: number): AsyncGenerator<Buffer> {
    this.assertOpen();
    if (this.fileBlobs && (await this.fileExists(blobId))) {
      yield* this.fileBlobs.stream(blobId, start, end);
      return;
    }
    const { uploadId, size } = await this.blobLocation(blobId);
    const [from, to] = clampRange(start, end, size);
    let pos = from;
    while (pos < to) {
      // One chunk row (or the rest of the range) per query, yielded in pieces of at most STREAM_PIECE.
      const next = Math.min(to, (Math.floor(pos / BLOB_CHUNK_BYTES) + 1) * BLOB_CHUNK_BYTES);
      const parts = await this.readChunks(uploadId, pos, next);
      const buf = parts.length === 1 ? parts[0]! : Buffer.concat(parts);
      if (buf.length !== next - pos) throw new StoreError('CORRUPTION', `Blob ${blobId} is shorter than its size`);
      for (let i = 0; i < buf.length; i += STREAM_PIECE) yield buf.subarray(i, i + STREAM_PIECE);
      pos = next;
    }
  }

  // ------------------------------------------------------------------ notifications and upkeep

  watchMailbox(mailboxId: number, listener: (event: ChangeEvent) => void): () => void {
    return this.bus.watchMailbox(mailboxId, listener);
  }

  watchUser(userId: number, listener: (event: ChangeEvent) => void): () => void {
    return this.bus.watchUser(userId, listener);
  }

  /**
   * Removes unreferenced blobs, abandoned uploads and (file blobs) orphan and temp files. A blob row with
   * refcount 0 goes when it was prepared before the grace period, or prepared before it became unreferenced
   * (its message was expunged). The DELETE takes each row's lock and re-checks these conditions against a
   * concurrent ingest's upsert (which refreshes prepared_at) or append (which raises refcount), so a blob
   * being prepared or appended on any node is never removed; its bytes go in the same transaction.
   */
  async collectGarbage(): Promise<{ removedBlobs: number }> {
    this.assertOpen();
    const graceMs = this.gcGraceMs;
    let removed = 0;
    // 1. Unreferenced blobs, in batches.
    for (;;) {
      const batch = await this.transaction(async (c) => {
        const rows = (
          await c.query<{ id: string; upload_id: number | null }>(
            `DELETE FROM blobs WHERE id IN (
               SELECT id FROM blobs WHERE refcount = 0
                 AND (prepared_at < ${PG_NOW_MS} - $1 OR (unref_at IS NOT NULL AND prepared_at <= unref_at))
               LIMIT 500 FOR UPDATE SKIP LOCKED)
             AND refcount = 0 AND (prepared_at < ${PG_NOW_MS} - $1 OR (unref_at IS NOT NULL AND prepared_at <= unref_at))
             RETURNING id, upload_id`,
            [graceMs],
          )
        ).rows;
        const uploads = rows.filter((r) => r.upload_id !== null).map((r) => r.upload_id!);
        if (uploads.length > 0) await c.query('DELETE FROM blob_chunks WHERE upload_id = ANY($1::bigint[])', [uploads]);
        let n = uploads.length;
        for (const r of rows) {
          if (r.upload_id !== null || !this.fileBlobs) continue;
          if (this.fileBlobs.removeSync(r.id)) n++;
        }
        return { rows: rows.length, removed: n };
      });
      removed += batch.removed;
      if (batch.rows < 500) break;
    }
    // 2. Uploads abandoned by a node that crashed while streaming a message in.
    await this.transaction(async (c) => {
      const gone = (
        await c.query<{ id: number }>(`DELETE FROM blob_uploads WHERE started_at < ${PG_NOW_MS} - $1 RETURNING id`, [graceMs])
      ).rows.map((r) => r.id);
      if (gone.length > 0) await c.query('DELETE FROM blob_chunks WHERE upload_id = ANY($1::bigint[])', [gone]);
    });
    if (this.fileBlobs) removed += await this.collectOrphanFiles(this.fileBlobs);
    // 4. Expunge tombstones past the retention policy (RFC 7162 §5.3), by the database's clock.
    const points = await this.snapshot(async (c) => {
      const now = (await c.query<{ now: number }>(`SELECT ${PG_NOW_MS} AS now`)).rows[0]!.now;
      return pgTombstonePrunePoints(c, this.tombstonePolicy, now);
    });
    for (const [mailboxId, upTo] of points) await this.pruneTombstones(mailboxId, upTo).catch(() => 0);
    return { removedBlobs: removed };
  }

  // ------------------------------------------------------------------ internals

  /** Runs `fn` in a READ COMMITTED transaction on one pooled connection, again on deadlock/serialization failure. */
  private async transaction<T>(fn: (c: pg.PoolClient) => Promise<T>): Promise<T> {
    this.assertOpen();
    const c = await this.pool.connect();
    let broken = false;
    try {
      for (let attempt = 1; ; attempt++) {
        try {
          await c.query('BEGIN');
          const out = await fn(c);
          await c.query('COMMIT');
          return out;
        } catch (err) {
          try {
            await c.query('ROLLBACK');
          } catch {
            broken = true;
          }
          if (broken || attempt >= this.maxAttempts || !RETRYABLE.has(pgCode(err))) throw mapPgError(err);
          await sleep(Math.random() * 10 * attempt);
        }
      }
    } finally {
      c.release(broken);
    }
  }

  /** A write: runs `fn` in a transaction, sends its events' NOTIFYs before COMMIT, delivers them locally after. */
  private async write<T>(fn: (tx: TxContext) => Promise<WriteOutcome<T>>): Promise<T> {
    let learnt: TxContext['keywords'] = [];
    const outcome = await this.transaction(async (c) => {
      const tx: TxContext = { c, keywords: [] };
      const out = await fn(tx);
      if (this.pgBus && out.events.length > 0) {
        const n = this.pgBus.notifyStatement(out.events);
        await c.query(n.text, n.values);
      }
      learnt = tx.keywords;
      return out;
    });
    for (const [userId, lower, name] of learnt) this.keywordsOf(userId).set(lower, name);
    for (const e of outcome.events) {
      if (this.pgBus) this.pgBus.publishLocal(e);
      else this.bus.publish(e);
    }
    return outcome.result;
  }

  /** Several reads on one snapshot (REPEATABLE READ, read only). */
  private async snapshot<T>(fn: (c: pg.PoolClient) => Promise<T>): Promise<T> {
    this.assertOpen();
    const c = await this.pool.connect();
    let broken = false;
    try {
      await c.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
      try {
        return await fn(c);
      } catch (err) {
        throw mapPgError(err);
      } finally {
        await c.query('COMMIT').catch(() => {
          broken = true;
        });
      }
    } finally {
      c.release(broken);
    }
  }

  private async query<R extends pg.QueryResultRow>(text: string, values: unknown[] = []): Promise<R[]> {
    return (await this.run<R>(text, values)).rows;
  }

  private async run<R extends pg.QueryResultRow>(text: string, values: unknown[] = []): Promise<pg.QueryResult<R>> {
    this.assertOpen();
    try {
      return await this.pool.query<R>(text, values);
    } catch (err) {
      throw mapPgError(err);
    }
  }

  private assertOpen(): void {
    if (this.closed) throw new StoreError('SERVERBUG', 'Store is closed');
  }

  /** Locks the mailbox row for this transaction's writes (serialises UID and mod-sequence allocation). */
  private async lockMailbox(c: pg.PoolClient, mailboxId: number, missing: 'NONEXISTENT' | 'TRYCREATE'): Promise<MailboxRow> {
    const mb = (await c.query<MailboxRow>('SELECT * FROM mailboxes WHERE id = $1 FOR UPDATE', [idParam(mailboxId)])).rows[0];
    if (!mb) throw new StoreError(missing, `No mailbox ${mailboxId}`);
    return mb;
  }

  private async requireMailbox(c: pg.PoolClient, mailboxId: number): Promise<MailboxRow> {
    const mb = (await c.query<MailboxRow>('SELECT * FROM mailboxes WHERE id = $1', [idParam(mailboxId)])).rows[0];
    if (!mb) throw new StoreError('NONEXISTENT', `No mailbox ${mailboxId}`);
    return mb;
  }

  private async rowsInRanges<R extends pg.QueryResultRow>(
    c: pg.PoolClient,
    cols: string,
    mailboxId: number,
    ranges: Array<[number, number]>,
  ): Promise<R[]> {
    if (ranges.length === 0) return [];
    return (
      await c.query<R>(
        `SELECT ${cols} FROM messages WHERE mailbox_id = $1 AND uid IN (
           SELECT u FROM unnest($2::bigint[], $3::bigint[]) AS r(lo, hi), generate_series(r.lo, r.hi) AS u)
         ORDER BY uid`,
        [mailboxId, ranges.map((x) => x[0]), ranges.map((x) => x[1])],
      )
    ).rows;
  }

  private async allocateObjectIds(c: pg.PoolClient, n: number): Promise<number[]> {
    const r = await c.query<{ v: number }>(`SELECT nextval('object_id_seq') AS v FROM generate_series(1, $1)`, [n]);
    return r.rows.map((x) => x.v);
  }

  /** RFC 8474 §4: 1-255 characters of [A-Za-z0-9_-]. */
  private objectId(prefix: 'M' | 'E' | 'T', n: number): string {
    return `${prefix}${this.storeTag}${n.toString(36)}`;
  }

  private async insertMailbox(
    c: pg.PoolClient,
    userId: number,
    name: string,
    specialUse: string | null,
    uidNext: number,
    highestModSeq: number,
    recentUid: number,
  ): Promise<MailboxRow> {
    // RFC 9051 §2.3.1.1: UIDVALIDITY differs for every mailbox ever created here, so a deleted and
    // re-created name never pairs old UIDs with the new mailbox.
    const ids = (
      await c.query<{ v: number; o: number }>(`SELECT nextval('uid_validity_seq') AS v, nextval('object_id_seq') AS o`)
    ).rows[0]!;
    const r = await c.query<MailboxRow>(
      `INSERT INTO mailboxes (user_id, name, uid_validity, uid_next, highest_modseq, recent_uid, special_use,
         object_id, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING *`,
      [userId, name, ids.v, uidNext, highestModSeq, recentUid, specialUse, this.objectId('M', ids.o), Date.now()],
    );
    return r.rows[0]!;
  }

  /** Deletes a mailbox's messages (counters and refcounts via triggers), tombstones and the mailbox row. */
  private async dropMailbox(c: pg.PoolClient, mailboxId: number): Promise<void> {
    await c.query('DELETE FROM messages WHERE mailbox_id = $1', [mailboxId]);
    await c.query('DELETE FROM expunged WHERE mailbox_id = $1', [mailboxId]);
    await c.query('DELETE FROM mailboxes WHERE id = $1', [mailboxId]);
  }

  /** RFC 9051 §6.3.6: moves INBOX's messages to a new mailbox; INBOX stays, empty, same UIDVALIDITY. */
  private async renameInbox(c: pg.PoolClient, inbox: MailboxRow, to: string): Promise<ChangeEvent[]> {
    const target = await this.insertMailbox(c, inbox.user_id, to, null, inbox.uid_next, 1, inbox.recent_uid);
    if (inbox.messages === 0) return [{ mailboxId: target.id, userId: inbox.user_id, modSeq: target.highest_modseq }];
    const dstModSeq = target.highest_modseq + 1;
    const srcModSeq = inbox.highest_modseq + 1;
    // The new mailbox has a new UIDVALIDITY, so the messages may keep their UIDs.
    await c.query(
      `INSERT INTO messages (mailbox_id, uid, modseq, flags, seen, deleted, internal_date, size, blob_id,
         save_date, email_id, thread_id, internal_date_offset)
       SELECT $1, uid, $2, flags, seen, deleted, internal_date, size, blob_id, $3, email_id, thread_id, internal_date_offset
       FROM messages WHERE mailbox_id = $4`,
      [target.id, dstModSeq, Date.now(), inbox.id],
    );
    await c.query('INSERT INTO expunged (mailbox_id, modseq, uid) SELECT mailbox_id, $1, uid FROM messages WHERE mailbox_id = $2', [
      srcModSeq,
      inbox.id,
    ]);
    await c.query('DELETE FROM messages WHERE mailbox_id = $1', [inbox.id]);
    await c.query('UPDATE mailboxes SET highest_modseq = $1 WHERE id = $2', [dstModSeq, target.id]);
    await c.query('UPDATE mailboxes SET highest_modseq = $1 WHERE id = $2', [srcModSeq, inbox.id]);
    return [
      { mailboxId: inbox.id, userId: inbox.user_id, modSeq: srcModSeq },
      { mailboxId: target.id, userId: inbox.user_id, modSeq: dstModSeq },
    ];
  }

  private async copyInTx(
    c: pg.PoolClient,
    srcId: number,
    uids: number[],
    dstId: number,
    move: boolean,
  ): Promise<WriteOutcome<CopyResult & { expunged: number[] }>> {
    // Both rows locked in id order: two MOVEs in opposite directions wait for each other, never deadlock.
    const locked = (
      await c.query<MailboxRow>('SELECT * FROM mailboxes WHERE id = ANY($1::bigint[]) ORDER BY id FOR UPDATE', [
        [idParam(srcId), idParam(dstId)],
      ])
    ).rows;
    const src = locked.find((m) => m.id === srcId);
    const dst = locked.find((m) => m.id === dstId);
    if (!src) throw new StoreError('NONEXISTENT', `No mailbox ${srcId}`);
    if (!dst) throw new StoreError('TRYCREATE', `No mailbox ${dstId}`);
    if (src.user_id !== dst.user_id) throw new StoreError('CANNOT', 'Cannot copy between accounts');
    const rows = await this.rowsInRanges<CopyRow>(
      c,
      'uid, flags, seen, deleted, internal_date, size, blob_id, email_id, thread_id, internal_date_offset',
      srcId,
      toRanges(uids),
    );
    if (rows.length === 0) {
      return { result: { uidValidity: dst.uid_validity, mapping: [], modSeq: dst.highest_modseq, expunged: [] }, events: [] };
    }
    if (dst.uid_next + rows.length - 1 > MAX_UID) throw new StoreError('LIMIT', 'Mailbox has used up its UIDs');
    const now = Date.now();
    const dstModSeq = dst.highest_modseq + 1;
    // Rows come in ascending source uid order: RFC 4315 §3 COPYUID pairs them with ascending new uids.
    const mapping: Array<[number, number]> = rows.map((r, i) => [r.uid, dst.uid_next + i]);
    await c.query(
      `INSERT INTO messages (mailbox_id, uid, modseq, flags, seen, deleted, internal_date, size, blob_id,
         save_date, email_id, thread_id, internal_date_offset)
       SELECT $1, v.uid, $2, v.flags, v.seen, v.deleted, v.idate, v.size, v.blob, $3, v.email, v.thread, v.zone
       FROM unnest($4::bigint[], $5::text[], $6::boolean[], $7::boolean[], $8::bigint[], $9::bigint[], $10::text[],
         $11::text[], $12::text[], $13::integer[]) AS v(uid, flags, seen, deleted, idate, size, blob, email, thread, zone)`,
      [
        dstId,
        dstModSeq,
        now,
        mapping.map((m) => m[1]),
        rows.map((r) => r.flags),
        rows.map((r) => r.seen),
        rows.map((r) => r.deleted),
        rows.map((r) => r.internal_date),
        rows.map((r) => r.size),
        rows.map((r) => r.blob_id),
        rows.map((r) => r.email_id),
        rows.map((r) => r.thread_id),
        rows.map((r) => r.internal_date_offset),
      ],
    );
    const uidNext = dst.uid_next + rows.length;
    await c.query('UPDATE mailboxes SET uid_next = $1, highest_modseq = $2 WHERE id = $3', [uidNext, dstModSeq, dstId]);
    const events: ChangeEvent[] = [{ mailboxId: dstId, userId: dst.user_id, modSeq: dstModSeq }];
    const expunged: number[] = [];
    if (move) {
      // RFC 6851 §3.3: the source messages are expunged in the same transaction.
      const srcModSeq = srcId === dstId ? dstModSeq : src.highest_modseq + 1;
      for (const [from] of mapping) expunged.push(from);
      await this.expungeRows(c, srcId, expunged, srcModSeq);
      if (srcId !== dstId) {
        await c.query('UPDATE mailboxes SET highest_modseq = $1 WHERE id = $2', [srcModSeq, srcId]);
        events.unshift({ mailboxId: srcId, userId: src.user_id, modSeq: srcModSeq });
      }
    }
    return { result: { uidValidity: dst.uid_validity, mapping, modSeq: dstModSeq, expunged }, events };
  }

  private async expungeRows(c: pg.PoolClient, mailboxId: number, uids: number[], modSeq: number): Promise<void> {
    await c.query('DELETE FROM messages WHERE mailbox_id = $1 AND uid = ANY($2::bigint[])', [mailboxId, uids]);
    await c.query('INSERT INTO expunged (mailbox_id, modseq, uid) SELECT $1, $2, u FROM unnest($3::bigint[]) AS u', [
      mailboxId,
      modSeq,
      uids,
    ]);
  }

  /**
   * Makes sure every prepared message's blob row exists (ingest created it) and, for an unreferenced file
   * blob, that its file is still there; the rows stay locked until COMMIT, so GC cannot remove them in
   * between. Records the MIME index where ingest into the file store left it out.
   */
  private async ensureBlobs(c: pg.PoolClient, messages: PreparedMessage[]): Promise<void> {
    const byId = new Map<string, PreparedMessage>();
    for (const m of messages) byId.set(m.blobId, m);
    const ids = [...byId.keys()].sort();
    const rows = (
      await c.query<{ id: string; refcount: number; upload_id: number | null; has_mime: boolean }>(
        `SELECT id, refcount, upload_id, mime_index IS NOT NULL AS has_mime FROM blobs
         WHERE id = ANY($1::text[]) ORDER BY id FOR UPDATE`,
        [ids],
      )
    ).rows;
    const found = new Map(rows.map((r) => [r.id, r]));
    const missingMime: string[] = [];
    for (const id of ids) {
      const row = found.get(id);
      const gone = (): StoreError => new StoreError('NONEXISTENT', `Message data ${id} is gone (prepared too long ago?)`);
      if (!row) throw gone();
      if (row.refcount === 0 && row.upload_id === null && !(this.fileBlobs?.existsSync(id) ?? false)) throw gone();
      if (!row.has_mime) missingMime.push(id);
    }
    if (missingMime.length > 0) {
      await c.query(
        `UPDATE blobs b SET mime_index = v.mime, fetch_envelope = NULL, fetch_body = NULL, fetch_bodystructure = NULL
         FROM unnest($1::text[], $2::text[]) AS v(id, mime) WHERE b.id = v.id`,
        [missingMime, missingMime.map((id) => JSON.stringify(byId.get(id)!.mime))],
      );
    }
  }

  private keywordsOf(userId: number): Map<string, string> {
    let cache = this.keywordCache.get(userId);
    if (!cache) {
      cache = new Map();
      this.keywordCache.set(userId, cache);
    }
    return cache;
  }

  /**
   * System flags in their canonical case; keywords compared case-insensitively and kept in the spelling
   * this user first used, on any node (RFC 9051 §2.3.2: flags are case-insensitive). Duplicates and \Recent
   * dropped.
   */
  private async canonicalFlags(tx: TxContext, userId: number, flags: readonly string[]): Promise<string[]> {
    const out: string[] = [];
    const seen = new Set<string>();
    for (const f of flags) {
      if (!VALID_FLAG.test(f)) throw new StoreError('CANNOT', `Invalid flag ${JSON.stringify(f)}`);
      const lower = f.toLowerCase();
      if (lower === '\\recent' || seen.has(lower)) continue;
      seen.add(lower);
      out.push(SYSTEM_FLAG_BY_LOWER.get(lower) ?? (await this.keyword(tx, userId, f, lower)));
    }
    return out;
  }

  private async keyword(tx: TxContext, userId: number, spelling: string, lower: string): Promise<string> {
    const known = this.keywordCache.get(userId)?.get(lower);
    if (known !== undefined) return known;
    for (const [u, l, name] of tx.keywords) if (u === userId && l === lower) return name;
    // The first committed spelling wins; a concurrent insert of the same keyword waits for it.
    const r = await tx.c.query<{ name: string }>(
      `INSERT INTO keywords (user_id, lower, name) VALUES ($1, $2, $3)
       ON CONFLICT (user_id, lower) DO UPDATE SET name = keywords.name RETURNING name`,
      [userId, lower, spelling],
    );
    const name = r.rows[0]!.name;
    tx.keywords.push([userId, lower, name]);
    return name;
  }

  /** The threading keys of a prepared message, from its top-level header (at most THREAD_HEADER_LIMIT bytes). */
  private async threadKeysOf(msg: PreparedMessage): Promise<ThreadKeys> {
    try {
      const h = topHeaderRange(msg.mime);
      return threadKeys(await this.readBlob(msg.blobId, h.start, Math.min(h.end, h.start + THREAD_HEADER_LIMIT)));
    } catch {
      return { messageId: null, parents: [], baseSubject: null, isReply: false };
    }
  }

  private async blobLocation(blobId: string): Promise<{ uploadId: number; size: number }> {
    if (!/^[0-9a-f]{64}$/.test(blobId)) throw new StoreError('NONEXISTENT', `Invalid blob id ${JSON.stringify(blobId)}`);
    const row = (await this.query<{ upload_id: number | null; size: number }>('SELECT upload_id, size FROM blobs WHERE id = $1', [blobId]))[0];
    if (!row || row.upload_id === null) throw new StoreError('NONEXISTENT', `No blob ${blobId}`);
    return { uploadId: row.upload_id, size: row.size };
  }

  /** [from, to) of an upload's bytes (from < to, both within its size), one part per chunk row. */
  private async readChunks(uploadId: number, from: number, to: number): Promise<Buffer[]> {
    const first = Math.floor(from / BLOB_CHUNK_BYTES);
    const last = Math.floor((to - 1) / BLOB_CHUNK_BYTES);
    const r = await this.pool.query<{ part: Buffer }>(
      `SELECT substring(data FROM (greatest($2::bigint - seq::bigint * $4, 0) + 1)::int
                             FOR (least($3::bigint - seq::bigint * $4, $4) - greatest($2::bigint - seq::bigint * $4, 0))::int) AS part
       FROM blob_chunks WHERE upload_id = $1 AND seq BETWEEN $5 AND $6 ORDER BY seq`,
      [uploadId, from, to, BLOB_CHUNK_BYTES, first, last],
    );
    return r.rows.map((x) => x.part);
  }

  /** The range from the file blob store, or null when bytes are not kept as files (or this one is not a file). */
  private async readFileBlob(blobId: string, start: number, end: number): Promise<Buffer | null> {
    if (!this.fileBlobs) return null;
    try {
      return await this.fileBlobs.read(blobId, start, end);
    } catch (err) {
      if (err instanceof StoreError && err.code === 'NONEXISTENT') return null;
      throw err;
    }
  }

  private async fileExists(blobId: string): Promise<boolean> {
    try {
      return this.fileBlobs !== null && this.fileBlobs.existsSync(blobId);
    } catch {
      return false;
    }
  }

  /**
   * Files with no blobs row (left by a crash, or by another store on the same directory), past the grace
   * period. The row is claimed with an INSERT that is rolled back afterwards: while it is uncommitted, an
   * ingest of the same content on any node waits on it, so a file that is being re-used is never removed.
   */
  private async collectOrphanFiles(files: BlobStore): Promise<number> {
    let removed = 0;
    const cutoff = () => Date.now() - this.gcGraceMs;
    const candidates: string[] = [];
    for await (const f of files.listFiles()) if (f.mtimeMs < cutoff()) candidates.push(f.blobId);
    for (let i = 0; i < candidates.length; i += 500) {
      const batch = candidates.slice(i, i + 500);
      const known = new Set(
        (await this.query<{ id: string }>('SELECT id FROM blobs WHERE id = ANY($1::text[])', [batch])).map((r) => r.id),
      );
      for (const id of batch) {
        if (known.has(id)) continue;
        const c = await this.pool.connect();
        try {
          await c.query('BEGIN');
          const claimed = await c.query(
            'INSERT INTO blobs (id, size, prepared_at, created_at) VALUES ($1, 0, 0, 0) ON CONFLICT (id) DO NOTHING RETURNING id',
            [id],
          );
          if (claimed.rowCount === 1) {
            const mtime = files.mtimeSync(id);
            if (mtime !== null && mtime < cutoff() && files.removeSync(id)) removed++;
          }
        } finally {
          await c.query('ROLLBACK').catch(() => {});
          c.release();
        }
      }
    }
    await files.cleanTemp(cutoff());
    return removed;
  }
}

// ------------------------------------------------------------------ helpers



function toMeta(r: MessageRow): MessageMeta {
  return {
    uid: r.uid,
    modSeq: r.modseq,
    flags: parseFlags(r.flags),
    internalDate: r.internal_date,
    size: r.size,
    blobId: r.blob_id,
    saveDate: r.save_date,
    emailId: r.email_id,
    threadId: r.thread_id,
    internalDateOffset: r.internal_date_offset,
  };
}





function clampRange(start: number, end: number, size: number): [number, number] {
  const from = Math.max(0, Math.min(Math.floor(start), size));
  const to = Math.max(from, Math.min(Number.isFinite(end) ? Math.floor(end) : size, size));
  return [from, to];
}



function isId(n: number): boolean {
  return Number.isSafeInteger(n) && n > 0;
}

/** An id for a bigint parameter; ids that cannot exist become 0 (no row has it). */
function idParam(n: number): number {
  return isId(n) ? n : 0;
}

function pgCode(err: unknown): string {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : '';
}

/** PostgreSQL errors that mean something to a caller become StoreErrors; the rest pass unchanged. */
function mapPgError(err: unknown): unknown {
  if (err instanceof StoreError) return err;
  const code = pgCode(err);
  const msg = err instanceof Error ? err.message : String(err);
  switch (code) {
    case '23505': {
      // unique_violation on a name: a concurrent writer on another node created the same name first.
      // Any other unique violation is a bug and stays as it is.
      const constraint = (err as { constraint?: unknown }).constraint;
      if (constraint === 'users_name_key' || constraint === 'mailboxes_user_name') return new StoreError('ALREADYEXISTS', msg);
      return err;
    }
    case '22021': // character_not_in_repertoire (e.g. NUL in text)
    case '22P05': // untranslatable_character
    case '54000': // program_limit_exceeded
      return new StoreError('CANNOT', msg);
    case '2200H': // sequence_generator_limit_exceeded: UIDVALIDITY values used up
      return new StoreError('LIMIT', msg);
    case '23503': // foreign_key_violation: the user or mailbox was deleted meanwhile
      return new StoreError('NONEXISTENT', msg);
    default:
      return err;
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
