// The embedded store (ARCHITECTURE decision 9): metadata in SQLite (better-sqlite3, WAL,
// synchronous=FULL so a commit acknowledged to a client survives kill -9 and power loss), message
// bytes in content-addressed files (src/store/blob). Every write is one transaction; every write that
// changes a mailbox's messages takes one new mod-sequence for it (RFC 7162 §3.1: HIGHESTMODSEQ,
// per-message MODSEQ), writes rows and expunge tombstones, commits, and only then pokes the change bus
// (decision 2). Implements RFC 9051 §2.3.1.1 (UID, UIDVALIDITY, UIDNEXT), §2.3.2 (flags, \Recent),
// §6.3 (mailbox operations), RFC 3502 (MULTIAPPEND atomicity), RFC 4315 (UIDPLUS mappings),
// RFC 6851 (MOVE), RFC 7162 (CONDSTORE/QRESYNC data), RFC 8474 (OBJECTID), RFC 8514 (SAVEDATE).
import BetterSqlite3 from 'better-sqlite3';
import { randomBytes } from 'node:crypto';
import * as fsp from 'node:fs/promises';
import { join } from 'node:path';
import { SYSTEM_FLAGS } from '../../protocol/types.js';
import type { MimeIndex } from '../../mime/types.js';
import { BlobStore } from '../blob/blob-store.js';
import { LocalChangeBus, type ChangeBus } from '../change-bus.js';
import { beginIngest, prepareBuffer, prepareBuffers } from '../ingest.js';
import {
  StoreError,
  type AppendItem,
  type AppendOptions,
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
import { checkRestore, restoredCounters } from '../restore-rules.js';
import { migrate } from './schema.js';
import { prepareDoc, SearchIndex, type PreparedDoc, type SearchTextField } from './search-index.js';
import { assignThread, THREAD_HEADER_LIMIT, threadKeys, type ThreadKeys } from '../threading.js';
import { DEFAULT_TOMBSTONE_POLICY, ThreadStatements, tombstonePrunePoints, type TombstonePolicy } from './thread-index.js';
import { topHeaderRange } from '../../mime/sections.js';
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

export interface SqliteStoreOptions {
  /**
   * GC keeps blob files that were prepared (written or re-used by ingest) less than this long ago and
   * are not yet referenced, and temp files modified less than this long ago. A prepared message must be
   * appended within this time. Default 15 minutes.
   */
  gcGraceMs?: number;
  /** Replaces the in-process change bus. */
  bus?: ChangeBus;
  /** listMessages keeps mailboxes with at least this many messages in memory (see ListCache). Default 2000. */
  listCacheMinMessages?: number;
  /** Most messages held by that cache over all mailboxes. Default 300,000. */
  listCacheMaxMessages?: number;
  /** Runs collectGarbage() this often in the background (timer does not keep the process alive).
   *  Default one hour; 0 disables. */
  gcIntervalMs?: number;
  /** Receives errors of background work (GC) and of throwing change listeners. */
  onBackgroundError?: (err: unknown) => void;
  /** How long expunge tombstones are kept (collectGarbage prunes the rest); see thread-index.ts. */
  tombstonePolicy?: Partial<TombstonePolicy>;
}

/** File name of the metadata database inside the data directory. */
export const METADATA_FILE = 'metadata.sqlite';

const DEFAULT_GC_GRACE_MS = 15 * 60 * 1000;
/** Deferred full-text documents written per transaction by indexPending(). */
const INDEX_PENDING_BATCH = 500;

const SYSTEM_FLAG_BY_LOWER = new Map<string, string>(SYSTEM_FLAGS.map((f) => [f.toLowerCase(), f]));

/** The render cache's tables (schema V6), one per slot. */
const FETCH_CACHE_TABLE: Record<FetchCacheSlot, string> = {
  envelope: 'fetch_envelope',
  body: 'fetch_body',
  bodystructure: 'fetch_bodystructure',
};
const FETCH_CACHE_SLOTS = Object.keys(FETCH_CACHE_TABLE) as FetchCacheSlot[];

function perSlot<T>(make: (table: string) => T): Record<FetchCacheSlot, T> {
  return { envelope: make(FETCH_CACHE_TABLE.envelope), body: make(FETCH_CACHE_TABLE.body), bodystructure: make(FETCH_CACHE_TABLE.bodystructure) };
}
/** flag / flag-keyword / flag-extension of RFC 9051 §9: atom characters, optionally after one backslash. */
const VALID_FLAG = /^\\?[^\x00-\x20\x7f-\uffff(){%*"\\\]]+$/;
const SPECIAL_USES = new Set<string>(['\\Drafts', '\\Sent', '\\Trash', '\\Junk', '\\Archive', '\\All', '\\Flagged']);

const MSG_COLS = 'uid, modseq, flags, internal_date, size, blob_id, save_date, email_id, thread_id, internal_date_offset';
/** Columns of MSG_COLS (toMeta reads them); columns a query adds after them start here. */
const META_WIDTH = 10;

type Row = Record<string, unknown>;
type RawRow = unknown[];


/**
 * listMessages' in-memory copy of a large mailbox (SELECT of 100,000 messages should not rebuild 100,000
 * rows from SQL each time). It is valid while the mailbox's UIDVALIDITY and HIGHESTMODSEQ are unchanged:
 * every write that changes a message row takes a new mod-sequence (append, flags, expunge, copy, move,
 * INBOX rename), also in other processes, so comparing the mailbox row is enough. When the mod-sequence
 * moved on, the change log (rows with a higher modseq + tombstones) brings it up to date, unless the
 * tombstones it needs were pruned. Code that ever changes a row without a new mod-sequence must drop it.
 */
interface ListCache {
  uidValidity: number;
  modSeq: number;
  rows: MessageMeta[];
}


/** Opens (creating if needed) the embedded store in `dataDir`. */
export async function openSqliteStore(dataDir: string, options: SqliteStoreOptions = {}): Promise<SqliteStore> {
  await fsp.mkdir(dataDir, { recursive: true });
  const blobs = new BlobStore(dataDir);
  await blobs.init();
  const db = new BetterSqlite3(join(dataDir, METADATA_FILE));
  try {
    return new SqliteStore(db, blobs, options);
  } catch (err) {
    db.close();
    throw err;
  }
}

export class SqliteStore implements Store {
  private readonly bus: ChangeBus;
  private readonly gcGraceMs: number;
  private readonly keywordCache = new Map<number, Map<string, string>>();
  private readonly storeTag: string;
  private readonly listCache = new Map<number, ListCache>();
  private listCacheTotal = 0;
  private readonly listCacheMin: number;
  private readonly listCacheMax: number;
  private closed = false;
  private gcTimer: NodeJS.Timeout | null = null;
  private readonly s: ReturnType<typeof prepareStatements>;
  private readonly threads: ThreadStatements;
  private readonly searchIndex: SearchIndex;
  /** The bytes of messages prepared from a buffer, while their PreparedMessage lives: append reads the
   *  threading header and the search text from memory instead of the blob file. */
  private readonly preparedBytes = new WeakMap<PreparedMessage, Buffer>();
  private writeGate: { enter(): void; leave(): void } | null = null;
  private readonly tombstonePolicy: TombstonePolicy;

  constructor(
    private readonly db: BetterSqlite3.Database,
    readonly blobs: BlobStore,
    options: SqliteStoreOptions = {},
  ) {
    db.pragma('journal_mode = WAL');
    // FULL: the WAL is fsynced at every commit. With NORMAL a commit is durable against a process
    // crash but not against power loss (the last transactions can roll back), and an APPEND answered
    // OK must survive both.
    db.pragma('synchronous = FULL');
    db.pragma('foreign_keys = ON');
    db.pragma('busy_timeout = 10000');
    db.pragma('cache_size = -32000');
    db.pragma('temp_store = MEMORY');
    db.pragma('journal_size_limit = 67108864');
    migrate(db);
    this.s = prepareStatements(db);
    this.threads = new ThreadStatements(db);
    this.searchIndex = new SearchIndex(db);
    this.tombstonePolicy = { ...DEFAULT_TOMBSTONE_POLICY, ...options.tombstonePolicy };
    db.transaction(() => {
      this.s.metaInit.run('next_uid_validity', Math.floor(Date.now() / 1000));
      this.s.metaInit.run('next_object_id', 1);
      this.s.metaInit.run('store_tag', randomBytes(6).toString('base64url').replace(/[^A-Za-z0-9]/g, 'x'));
    }).immediate();
    this.storeTag = String((this.s.metaGet.get('store_tag') as Row).value);
    const onError = options.onBackgroundError ?? (() => {});
    this.bus = options.bus ?? new LocalChangeBus(onError);
    this.gcGraceMs = options.gcGraceMs ?? DEFAULT_GC_GRACE_MS;
    this.listCacheMin = options.listCacheMinMessages ?? 2000;
    this.listCacheMax = options.listCacheMaxMessages ?? 300_000;
    // Placing a blob and GC's removal of an unreferenced one exclude each other, across processes.
    blobs.setCriticalSection((fn) => this.tx(fn));
    const gcEvery = options.gcIntervalMs ?? 60 * 60 * 1000;
    if (gcEvery > 0) {
      this.gcTimer = setInterval(() => {
        this.collectGarbage().catch(onError);
      }, gcEvery);
      this.gcTimer.unref();
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.gcTimer) clearInterval(this.gcTimer);
    this.listCache.clear();
    this.listCacheTotal = 0;
    this.bus.close();
    this.db.close();
  }

  // ------------------------------------------------------------------ accounts

  async createUser(name: string, passwordHash: string): Promise<UserRecord> {
    if (name.length === 0) throw new StoreError('CANNOT', 'Empty user name');
    return this.tx(() => {
      if (this.s.userByName.get(name)) throw new StoreError('ALREADYEXISTS', `User ${name} exists`);
      const createdAt = Date.now();
      const info = this.s.userInsert.run(name, passwordHash, createdAt);
      return { id: Number(info.lastInsertRowid), name, passwordHash, createdAt };
    });
  }

  async getUser(name: string): Promise<UserRecord | null> {
    this.assertOpen();
    const row = this.s.userByName.get(name) as UserRow | undefined;
    return row ? toUser(row) : null;
  }

  async listUsers(): Promise<UserRecord[]> {
    this.assertOpen();
    return (this.s.userList.all() as UserRow[]).map(toUser);
  }

  async setPassword(name: string, passwordHash: string): Promise<void> {
    this.assertOpen();
    const info = this.s.userSetPassword.run(passwordHash, name);
    if (info.changes === 0) throw new StoreError('NONEXISTENT', `No user ${name}`);
  }

  async deleteUser(name: string): Promise<void> {
    const { userId, events } = this.tx(() => {
      const user = this.s.userByName.get(name) as UserRow | undefined;
      if (!user) throw new StoreError('NONEXISTENT', `No user ${name}`);
      const out: ChangeEvent[] = [];
      for (const mb of this.s.mailboxList.all(user.id) as MailboxRow[]) {
        this.dropMailbox(mb);
        out.push({ mailboxId: mb.id, userId: user.id, modSeq: mb.highest_modseq + 1 });
      }
      this.s.userDelete.run(user.id);
      return { userId: user.id, events: out };
    });
    this.keywordCache.delete(userId);
    for (const e of events) this.dropListCache(e.mailboxId);
    this.publish(events);
  }

  // ------------------------------------------------------------------ mailboxes

  async listMailboxes(userId: number): Promise<MailboxRecord[]> {
    this.assertOpen();
    return (this.s.mailboxList.all(userId) as MailboxRow[]).map(toMailbox);
  }

  async getMailbox(userId: number, name: string): Promise<MailboxRecord | null> {
    this.assertOpen();
    const row = this.s.mailboxByName.get(userId, normalizeName(name)) as MailboxRow | undefined;
    return row ? toMailbox(row) : null;
  }

  async getMailboxById(mailboxId: number): Promise<MailboxRecord | null> {
    this.assertOpen();
    const row = this.s.mailboxById.get(mailboxId) as MailboxRow | undefined;
    return row ? toMailbox(row) : null;
  }

  async createMailbox(userId: number, name: string, opts?: { specialUse?: SpecialUse | null }): Promise<MailboxRecord> {
    const norm = normalizeName(name);
    checkName(norm);
    const specialUse = opts?.specialUse ?? null;
    if (specialUse !== null && !SPECIAL_USES.has(specialUse)) throw new StoreError('CANNOT', `Bad special use ${specialUse}`);
    const row = this.tx(() => {
      if (!this.s.userById.get(userId)) throw new StoreError('NONEXISTENT', `No user ${userId}`);
      if (this.s.mailboxByName.get(userId, norm)) throw new StoreError('ALREADYEXISTS', `Mailbox ${norm} exists`);
      return this.insertMailbox(userId, norm, specialUse, 1, 1, 1);
    });
    this.publish([{ mailboxId: row.id, userId, modSeq: row.highest_modseq }]);
    return toMailbox(row);
  }

  async deleteMailbox(userId: number, name: string): Promise<void> {
    const norm = normalizeName(name);
    const event = this.tx(() => {
      const mb = this.s.mailboxByName.get(userId, norm) as MailboxRow | undefined;
      if (!mb) throw new StoreError('NONEXISTENT', `No mailbox ${norm}`);
      if (mb.name === 'INBOX') throw new StoreError('NOPERM', 'INBOX cannot be deleted');
      this.dropMailbox(mb);
      return { mailboxId: mb.id, userId, modSeq: mb.highest_modseq + 1 };
    });
    this.dropListCache(event.mailboxId);
    this.publish([event]);
  }

  async renameMailbox(userId: number, from: string, to: string): Promise<void> {
    const src = normalizeName(from);
    const dst = normalizeName(to);
    checkName(dst);
    const events = this.tx((): ChangeEvent[] => {
      const mb = this.s.mailboxByName.get(userId, src) as MailboxRow | undefined;
      if (!mb) throw new StoreError('NONEXISTENT', `No mailbox ${src}`);
      if (this.s.mailboxByName.get(userId, dst)) throw new StoreError('ALREADYEXISTS', `Mailbox ${dst} exists`);
      if (src === 'INBOX') return this.renameInbox(mb, dst);
      if (dst.startsWith(src + '/')) throw new StoreError('CANNOT', 'Cannot rename a mailbox into itself');
      // RFC 9051 §6.3.6: inferior names are renamed too. Two passes through unique temporary names,
      // because a new name may equal an old name later in the list ("a/b" → "a" turns "a/b/b" into "a/b").
      const family = [mb, ...(this.s.mailboxChildren.all({ user: userId, prefix: src + '/', len: src.length + 1 }) as MailboxRow[])];
      const renames = family.map((m) => ({ row: m, name: dst + m.name.slice(src.length) }));
      const familyIds = new Set(family.map((m) => m.id));
      for (const r of renames) {
        checkName(r.name);
        const clash = this.s.mailboxByName.get(userId, r.name) as MailboxRow | undefined;
        if (clash && !familyIds.has(clash.id)) throw new StoreError('ALREADYEXISTS', `Mailbox ${r.name} exists`);
      }
      for (const r of renames) this.s.mailboxRename.run(`\u0000rename\u0000${r.row.id}`, r.row.id);
      for (const r of renames) this.s.mailboxRename.run(r.name, r.row.id);
      return renames.map((r) => ({ mailboxId: r.row.id, userId, modSeq: r.row.highest_modseq }));
    });
    this.publish(events);
  }

  async setSpecialUse(mailboxId: number, use: SpecialUse | null): Promise<void> {
    if (use !== null && !SPECIAL_USES.has(use)) throw new StoreError('CANNOT', `Bad special use ${use}`);
    const mb = this.tx(() => {
      const row = this.requireMailbox(mailboxId);
      this.s.mailboxSetSpecialUse.run(use, mailboxId);
      return row;
    });
    this.publish([{ mailboxId, userId: mb.user_id, modSeq: mb.highest_modseq }]);
  }

  async setSubscribed(userId: number, name: string, subscribed: boolean): Promise<void> {
    const norm = normalizeName(name);
    this.tx(() => {
      if (!this.s.userById.get(userId)) throw new StoreError('NONEXISTENT', `No user ${userId}`);
      if (subscribed) this.s.subscribe.run(userId, norm);
      else this.s.unsubscribe.run(userId, norm);
    });
  }

  async listSubscriptions(userId: number): Promise<string[]> {
    this.assertOpen();
    return (this.s.subscriptions.all(userId) as Array<{ name: string }>).map((r) => r.name);
  }

  async mailboxStatus(mailboxId: number): Promise<MailboxStatus> {
    return this.read(() => {
      const mb = this.requireMailbox(mailboxId);
      // Usually few messages are recent; when the watermark is at or below the first uid (nobody has
      // selected the mailbox yet) all are, and counting them would scan the whole mailbox.
      const first = (this.s.minUid.get(mailboxId) as { u: number | null }).u;
      const recent =
        first === null || mb.recent_uid <= first
          ? mb.messages
          : (this.s.countFrom.get(mailboxId, mb.recent_uid) as { n: number }).n;
      return {
        messages: mb.messages,
        unseen: mb.unseen,
        deleted: mb.deleted,
        size: mb.total_size,
        uidNext: mb.uid_next,
        uidValidity: mb.uid_validity,
        highestModSeq: mb.highest_modseq,
        recent,
      };
    });
  }

  async claimRecent(mailboxId: number): Promise<number> {
    return this.tx(() => {
      const mb = this.requireMailbox(mailboxId);
      if (mb.recent_uid !== mb.uid_next) this.s.mailboxSetRecent.run(mb.uid_next, mailboxId);
      return mb.recent_uid;
    });
  }

  // ------------------------------------------------------------------ messages

  beginIngest(): IngestWriter {
    this.assertOpen();
    return beginIngest(this.blobs);
  }

  async prepare(data: Buffer): Promise<PreparedMessage> {
    this.assertOpen();
    const p = await prepareBuffer(this.blobs, data);
    this.preparedBytes.set(p, data);
    return p;
  }

  async prepareMany(datas: readonly Buffer[]): Promise<PreparedMessage[]> {
    this.assertOpen();
    const out = await prepareBuffers(this.blobs, datas);
    out.forEach((p, i) => this.preparedBytes.set(p, datas[i]!));
    return out;
  }

  /** docs/sync.md "Partial messages": the synthetic bytes as a blob, the caller's index and size. */
  async preparePartial(bytes: Buffer, mime: MimeIndex, size: number): Promise<PreparedMessage> {
    this.assertOpen();
    const written = await prepareBuffer(this.blobs, bytes);
    return { blobId: written.blobId, size, mime };
  }

  /**
   * Points the message at the full content, same uid, flags and mod-sequence (the message did not change
   * for IMAP clients: RFC 7162 §3.1 mod-sequences track metadata, and the content is what it always claimed
   * to be). Reference counts are moved by hand (the triggers only see inserts and deletes); the listMessages
   * cache of the mailbox is dropped since its rows carry the blob id and no new mod-sequence tells it.
   */
  async replaceContent(mailboxId: number, uid: number, message: PreparedMessage): Promise<void> {
    const docs = await this.searchDocsOf([{ message, flags: [] }]);
    const now = Date.now();
    try {
      this.tx(() => {
        this.requireMailbox(mailboxId);
        const row = this.s.messageBlob.get(mailboxId, uid) as { blob_id: string; size: number } | undefined;
        if (!row) throw new StoreError('NONEXISTENT', `No message ${uid} in mailbox ${mailboxId}`);
        if (row.size !== message.size) {
          throw new StoreError('CANNOT', `Content of ${message.size} octets cannot replace a message of ${row.size}`);
        }
        if (row.blob_id === message.blobId) return;
        this.ensureBlob(message.blobId, message.size, message.mime, now);
        this.searchIndex.insert(message.blobId, docs.get(message.blobId) ?? null);
        this.s.messageSetBlob.run(message.blobId, mailboxId, uid);
        this.s.blobRef.run(message.blobId);
        this.s.blobUnref.run(row.blob_id);
      });
    } finally {
      this.dropListCache(mailboxId);
    }
  }

  async append(mailboxId: number, items: AppendItem[], opts?: AppendOptions): Promise<AppendResult> {
    // THREADID (RFC 8474 §5.2): the header fields threading needs are read before the transaction.
    // ... and the full-text document of each new blob (search-index.ts), read at the same time, unless
    // the caller lets it wait for indexPending() (a bulk download: fewer, larger FTS transactions).
    const defer = opts?.deferIndex === true;
    const [keys, docs] = await Promise.all([
      Promise.all(items.map((it) => this.threadKeysOf(it.message))),
      defer ? new Map<string, PreparedDoc>() : this.searchDocsOf(items),
    ]);
    const now = Date.now();
    const cacheTexts = this.fetchCacheTexts(items);
    const { result, event } = this.tx(() => {
      const mb = this.s.mailboxById.get(mailboxId) as MailboxRow | undefined;
      if (!mb) throw new StoreError('TRYCREATE', `No mailbox ${mailboxId}`);
      if (items.length === 0) {
        return { result: { uidValidity: mb.uid_validity, uids: [], modSeq: mb.highest_modseq }, event: null };
      }
      if (mb.uid_next + items.length - 1 > MAX_UID) throw new StoreError('LIMIT', 'Mailbox has used up its UIDs');
      const modSeq = mb.highest_modseq + 1;
      // One counter update for the EMAILIDs and every THREADID this batch may need (unused ones are
      // skipped: object ids are opaque, RFC 8474 §5.1, gaps are fine); per-thread updates cost 0.2 ms each.
      const firstObject = this.allocate('next_object_id', 2 * items.length);
      const threadIndex = this.threads.forUser(mb.user_id);
      let nextThread = firstObject + items.length;
      const newThread = () => this.objectId('T', nextThread++);
      const uids: number[] = [];
      let uid = mb.uid_next;
      for (let i = 0; i < items.length; i++) {
        const item = items[i]!;
        const msg = item.message;
        this.ensureBlob(msg.blobId, msg.size, msg.mime, now);
        if (defer) this.searchIndex.defer(msg.blobId);
        else this.searchIndex.insert(msg.blobId, docs.get(msg.blobId) ?? null);
        const flags = this.canonicalFlags(mb.user_id, item.flags);
        const internalDate = item.internalDate ?? now;
        if (!Number.isFinite(internalDate)) throw new StoreError('CANNOT', 'Invalid internal date');
        const offset = zoneOf(item.internalDateOffset, internalDate);
        this.s.messageInsert.run(
          mailboxId,
          uid,
          modSeq,
          flags.join(' '),
          hasFlag(flags, '\\Seen'),
          hasFlag(flags, '\\Deleted'),
          Math.trunc(internalDate),
          msg.size,
          msg.blobId,
          now,
          this.objectId('E', firstObject + i),
          assignThread(threadIndex, keys[i]!, newThread, now),
          offset,
        );
        const texts = cacheTexts?.[i];
        if (texts) {
          for (const slot of FETCH_CACHE_SLOTS) {
            const text = texts[slot];
            if (text !== undefined) this.s.fetchCacheInsert[slot].run(mailboxId, uid, text);
          }
        }
        uids.push(uid);
        uid++;
      }
      this.s.mailboxAdvance.run(uid, modSeq, mailboxId);
      return {
        result: { uidValidity: mb.uid_validity, uids, modSeq },
        event: { mailboxId, userId: mb.user_id, modSeq },
      };
    });
    if (event) this.publish([event]);
    return result;
  }

  /** Import only (`petrel migrate`): see Store.restoreMessages and src/store/restore-rules.ts. */
  async restoreMessages(mailboxId: number, state: RestoreState, items: RestoreItem[]): Promise<AppendResult> {
    const [keys, docs] = await Promise.all([Promise.all(items.map((it) => this.threadKeysOf(it.message))), this.searchDocsOf(items)]);
    const now = Date.now();
    try {
      const { result, event } = this.tx(() => {
        const mb = this.s.mailboxById.get(mailboxId) as MailboxRow | undefined;
        if (!mb) throw new StoreError('TRYCREATE', `No mailbox ${mailboxId}`);
        const top = this.db.prepare('SELECT max(uid) AS uid FROM messages WHERE mailbox_id = ?').get(mailboxId) as { uid: number | null };
        checkRestore(state, items, top.uid ?? 0);
        if (mb.uid_validity !== state.uidValidity) {
          if (mb.messages > 0) throw new StoreError('CANNOT', 'restore: UIDVALIDITY of a mailbox that holds messages');
          const other = this.db.prepare('SELECT id FROM mailboxes WHERE uid_validity = ? AND id <> ?').get(state.uidValidity, mailboxId);
          if (other) throw new StoreError('CANNOT', `restore: UIDVALIDITY ${state.uidValidity} belongs to another mailbox`);
          this.db.prepare('DELETE FROM expunged WHERE mailbox_id = ?').run(mailboxId); // UIDs of the old UIDVALIDITY
          this.db.prepare('UPDATE mailboxes SET uid_validity = ? WHERE id = ?').run(state.uidValidity, mailboxId);
          // Never handed out again (RFC 9051 §2.3.1.1).
          this.db
            .prepare("UPDATE meta SET value = max(value, ?) WHERE key = 'next_uid_validity'")
            .run(state.uidValidity + 1);
        }
        const after = restoredCounters(mb, state, items);
        if (after === null) return { result: { uidValidity: mb.uid_validity, uids: [], modSeq: mb.highest_modseq }, event: null };
        const firstObject = items.length > 0 ? this.allocate('next_object_id', 2 * items.length) : 0;
        const threadIndex = this.threads.forUser(mb.user_id);
        let nextThread = firstObject + items.length;
        const newThread = () => this.objectId('T', nextThread++);
        for (let i = 0; i < items.length; i++) {
          const item = items[i]!;
          const msg = item.message;
          this.ensureBlob(msg.blobId, msg.size, msg.mime, now);
          this.searchIndex.insert(msg.blobId, docs.get(msg.blobId) ?? null);
          const flags = this.canonicalFlags(mb.user_id, item.flags);
          this.s.messageInsert.run(
            mailboxId,
            item.uid,
            item.modSeq,
            flags.join(' '),
            hasFlag(flags, '\\Seen'),
            hasFlag(flags, '\\Deleted'),
            Math.trunc(item.internalDate),
            msg.size,
            msg.blobId,
            now,
            this.objectId('E', firstObject + i),
            assignThread(threadIndex, keys[i]!, newThread, now),
            zoneOf(item.internalDateOffset, item.internalDate),
          );
        }
        this.s.mailboxAdvance.run(after.uidNext, after.highestModSeq, mailboxId);
        this.s.mailboxSetPruned.run(after.tombstonesPrunedTo, mailboxId);
        this.s.mailboxSetRecent.run(after.recentUid, mailboxId);
        return {
          result: { uidValidity: state.uidValidity, uids: items.map((it) => it.uid), modSeq: after.highestModSeq },
          event: { mailboxId, userId: mb.user_id, modSeq: after.highestModSeq },
        };
      });
      if (event) this.publish([event]);
      return result;
    } finally {
      this.dropListCache(mailboxId);
    }
  }

  /**
   * Writes the documents append(..., { deferIndex }) left for later (search_pending, schema v4), a group
   * of blobs per transaction: documents are computed outside it (blob reads), then written with the marks
   * dropped in one commit, so a crash loses no mark without its document. Safe to run in several
   * processes at once (a mark another one took is skipped). `batch`: documents per transaction (default
   * 500; smaller holds the write lock for less time); `around`: called just before and after each write
   * transaction (the sync's indexing thread steps aside for the download there). Resolves with the
   * documents written.
   */
  async indexPending(opts?: { signal?: AbortSignal; batch?: number; around?: { before(): void; after(): void } }): Promise<number> {
    let written = 0;
    const batch = Math.max(1, opts?.batch ?? INDEX_PENDING_BATCH);
    for (;;) {
      if (this.closed || opts?.signal?.aborted) return written;
      const todo = this.read(() => this.searchIndex.pending(batch));
      if (todo.length === 0) return written;
      const docs: PreparedDoc[] = [];
      for (let i = 0; i < todo.length; i += 16) {
        const group = todo.slice(i, i + 16);
        docs.push(
          ...(await Promise.all(
            group.map(({ blobId, mime }) => prepareDoc(JSON.parse(mime) as MimeIndex, (start, end) => this.blobs.read(blobId, start, end))),
          )),
        );
      }
      if (this.closed) return written;
      opts?.around?.before();
      try {
        written += this.tx(() => {
          let n = 0;
          todo.forEach(({ blobId }, i) => {
            if (this.searchIndex.fillPending(blobId, docs[i] ?? null)) n++;
          });
          return n;
        });
      } finally {
        opts?.around?.after();
      }
    }
  }

  async searchTextCandidates(mailboxId: number, field: SearchTextField, needle: string): Promise<number[] | null> {
    return this.read(() => {
      this.requireMailbox(mailboxId);
      return this.searchIndex.candidates(mailboxId, field, needle);
    });
  }

  async listMessages(mailboxId: number): Promise<MessageMeta[]> {
    return this.read(() => {
      const mb = this.s.mailboxById.get(mailboxId) as MailboxRow | undefined;
      if (!mb) {
        this.dropListCache(mailboxId);
        throw new StoreError('NONEXISTENT', `No mailbox ${mailboxId}`);
      }
      return this.cachedRows(mb).map(cloneMeta);
    });
  }

  async getMessages(mailboxId: number, uids: number[]): Promise<MessageRecord[]> {
    return this.read(() => {
      this.requireMailbox(mailboxId);
      const out: MessageRecord[] = [];
      for (const [lo, hi] of toRanges(uids)) {
        for (const r of this.s.messageRangeWithMime.all(mailboxId, lo, hi) as RawRow[]) {
          out.push(withLazyMime(toMeta(r), r[META_WIDTH] as string));
        }
      }
      return out;
    });
  }

  async getFetchCache(mailboxId: number, uids: number[], slots: readonly FetchCacheSlot[], withMeta: boolean): Promise<FetchCacheRecord[]> {
    return this.read(() => {
      this.requireMailbox(mailboxId);
      const stmt = this.fetchCacheQuery(slots, withMeta);
      const n = slots.length;
      const out: FetchCacheRecord[] = [];
      for (const [lo, hi] of toRanges(uids)) {
        for (const r of stmt.all(mailboxId, lo, hi) as RawRow[]) {
          if (withMeta) {
            const meta = toMeta(r);
            out.push({
              uid: meta.uid,
              meta,
              blobId: meta.blobId,
              cached: r.slice(META_WIDTH, META_WIDTH + n) as Array<string | null>,
              mimeJson: r[META_WIDTH + n] as string | null,
            });
          } else {
            out.push({ uid: r[0] as number, meta: null, blobId: r[1] as string | null, cached: r.slice(3, 3 + n) as Array<string | null>, mimeJson: r[2] as string | null });
          }
        }
      }
      return out;
    });
  }

  /** Prepared statements of getFetchCache, by slot list and meta. */
  private readonly fetchCacheQueries = new Map<string, BetterSqlite3.Statement>();

  /** The message rows of a uid range with the texts of `slots`, in the same key order (no random lookups),
   *  and the index (and blob id, without meta) only where a text is missing. */
  private fetchCacheQuery(slots: readonly FetchCacheSlot[], withMeta: boolean): BetterSqlite3.Statement {
    const key = `${withMeta ? 'm' : 'l'}:${slots.join(',')}`;
    let stmt = this.fetchCacheQueries.get(key);
    if (!stmt) {
      const tables = slots.map((slot) => FETCH_CACHE_TABLE[slot]);
      const joins = tables.map((t, i) => `LEFT JOIN ${t} f${i} ON f${i}.mailbox_id = m.mailbox_id AND f${i}.uid = m.uid`).join(' ');
      const texts = tables.map((_, i) => `f${i}.text`);
      const missing = tables.length === 0 ? '1' : tables.map((_, i) => `f${i}.text IS NULL`).join(' OR ');
      const mime = `CASE WHEN ${missing} THEN (SELECT b.mime_index FROM blobs b WHERE b.id = m.blob_id) END`;
      const cols = withMeta
        ? [MSG_COLS.split(', ').map((c) => `m.${c}`).join(', '), ...texts, mime]
        : [`m.uid, CASE WHEN ${missing} THEN m.blob_id END`, mime, ...texts];
      stmt = this.db
        .prepare(`SELECT ${cols.join(', ')} FROM messages m ${joins} WHERE m.mailbox_id = ? AND m.uid BETWEEN ? AND ? ORDER BY m.uid`)
        .raw(true);
      this.fetchCacheQueries.set(key, stmt);
    }
    return stmt;
  }

  private fetchCacheRenderer: FetchCacheRenderer | null = null;

  setFetchCacheRenderer(render: FetchCacheRenderer | null): void {
    this.fetchCacheRenderer = render;
  }

  /** The render-cache texts of new messages (none when no renderer is installed or it fails). */
  private fetchCacheTexts(items: readonly AppendItem[]): Array<Partial<Record<FetchCacheSlot, string>> | null> | null {
    const render = this.fetchCacheRenderer;
    if (!render) return null;
    return items.map((it) => {
      try {
        return render(it.message.mime);
      } catch {
        return null; // the first FETCH renders it (and reports what is wrong)
      }
    });
  }

  async putFetchCache(entries: readonly FetchCacheEntry[]): Promise<void> {
    if (entries.length === 0) return;
    this.tx(() => {
      for (const e of entries) {
        for (const slot of FETCH_CACHE_SLOTS) {
          const text = e.texts[slot];
          if (text !== undefined) this.s.fetchCachePut[slot].run(text, e.mailboxId, e.uid, e.blobId);
        }
      }
    });
  }

  /**
   * Flags of the given messages (RFC 9051 §6.4.6), conditionally with UNCHANGEDSINCE (RFC 7162 §3.1.3).
   * Only messages whose flag set really changes get the new mod-sequence (RFC 7162 §3.1.11: adding a
   * present flag or removing an absent one SHOULD NOT change it); when nothing changes, no mod-sequence
   * is taken and no event is published. `updated` lists every existing target that passed the
   * UNCHANGEDSINCE test, with its current flags, so the server can answer FETCH for non-.SILENT STORE;
   * `changed` tells which of them got the new mod-sequence. \Recent is never stored (RFC 9051 §2.3.2:
   * clients cannot change it) and is dropped from `flags`.
   */
  async storeFlags(
    mailboxId: number,
    uids: number[],
    op: FlagOperation,
    flags: string[],
    opts?: { unchangedSince?: number },
  ): Promise<StoreFlagsResult> {
    const unchangedSince = opts?.unchangedSince;
    const { result, event } = this.tx(() => {
      const mb = this.requireMailbox(mailboxId);
      const wanted = this.canonicalFlags(mb.user_id, flags);
      const modSeq = mb.highest_modseq + 1;
      const updated: StoreFlagsResult['updated'] = [];
      const modified: number[] = [];
      let changedAny = false;
      for (const [lo, hi] of toRanges(uids)) {
        for (const r of this.s.flagsRange.all(mailboxId, lo, hi) as RawRow[]) {
          const uid = r[0] as number;
          const oldModSeq = r[1] as number;
          if (unchangedSince !== undefined && oldModSeq > unchangedSince) {
            modified.push(uid);
            continue;
          }
          const old = parseFlags(r[2] as string);
          const next = applyFlags(old, op, wanted);
          if (next === null) {
            updated.push({ uid, flags: old, modSeq: oldModSeq, changed: false });
            continue;
          }
          changedAny = true;
          this.s.flagsUpdate.run(next.join(' '), hasFlag(next, '\\Seen'), hasFlag(next, '\\Deleted'), modSeq, mailboxId, uid);
          updated.push({ uid, flags: next, modSeq, changed: true });
        }
      }
      if (!changedAny) return { result: { modSeq: mb.highest_modseq, updated, modified }, event: null };
      this.s.mailboxSetModSeq.run(modSeq, mailboxId);
      return { result: { modSeq, updated, modified }, event: { mailboxId, userId: mb.user_id, modSeq } };
    });
    if (event) this.publish([event]);
    return result;
  }

  async copyMessages(srcMailboxId: number, uids: number[], dstMailboxId: number): Promise<CopyResult> {
    const { result, events } = this.tx(() => this.copyInTx(srcMailboxId, uids, dstMailboxId, false));
    this.publish(events);
    return result;
  }

  async moveMessages(
    srcMailboxId: number,
    uids: number[],
    dstMailboxId: number,
  ): Promise<CopyResult & { expunged: number[] }> {
    const { result, events } = this.tx(() => this.copyInTx(srcMailboxId, uids, dstMailboxId, true));
    this.publish(events);
    return result;
  }

  async expunge(mailboxId: number, uids?: number[]): Promise<number[]> {
    const only = uids ? new Set(uids) : null;
    const { removed, event } = this.tx(() => {
      const mb = this.requireMailbox(mailboxId);
      let targets = (this.s.deletedUids.all(mailboxId) as Array<{ uid: number }>).map((r) => r.uid);
      if (only) targets = targets.filter((uid) => only.has(uid));
      if (targets.length === 0) return { removed: [], event: null };
      const modSeq = mb.highest_modseq + 1;
      for (const uid of targets) {
        this.s.messageDelete.run(mailboxId, uid);
        this.s.tombstoneInsert.run(mailboxId, modSeq, uid);
      }
      this.s.mailboxSetModSeq.run(modSeq, mailboxId);
      return { removed: targets, event: { mailboxId, userId: mb.user_id, modSeq } };
    });
    if (event) this.publish([event]);
    return removed;
  }

  async changesSince(mailboxId: number, modSeq: number): Promise<ChangeSet> {
    return this.read(() => {
      const mb = this.requireMailbox(mailboxId);
      const changed = (this.s.changedSince.all(mailboxId, modSeq) as RawRow[]).map(toMeta);
      const expunged = (this.s.tombstonesSince.all(mailboxId, modSeq) as Array<{ uid: number }>).map((r) => r.uid);
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
   * changesSince calls from below that point answer `truncated: true` (RFC 7162 §3.2.5.1 allows a server
   * to forget old expunges; clients then fall back to a full comparison). Not part of Store (yet).
   */
  async pruneTombstones(mailboxId: number, upToModSeq: number): Promise<number> {
    return this.tx(() => {
      const mb = this.requireMailbox(mailboxId);
      const upTo = Math.min(upToModSeq, mb.highest_modseq);
      if (upTo <= mb.tombstones_pruned_to) return 0;
      const info = this.s.tombstonesPrune.run(mailboxId, upTo);
      this.s.mailboxSetPruned.run(upTo, mailboxId);
      return info.changes;
    });
  }

  // ------------------------------------------------------------------ message bytes

  async readBlob(blobId: string, start: number, end: number): Promise<Buffer> {
    return this.blobs.read(blobId, start, end);
  }

  streamBlob(blobId: string, start: number, end: number): AsyncIterable<Buffer> {
    return this.blobs.stream(blobId, start, end);
  }

  // ------------------------------------------------------------------ notifications and upkeep

  watchMailbox(mailboxId: number, listener: (event: ChangeEvent) => void): () => void {
    return this.bus.watchMailbox(mailboxId, listener);
  }

  watchUser(userId: number, listener: (event: ChangeEvent) => void): () => void {
    return this.bus.watchUser(userId, listener);
  }

  /**
   * Removes unreferenced blobs and stale temp files. The race with ingest: a blob that was just
   * prepared has no reference until append() commits. Ingest sets the file's mtime when it places or
   * re-uses a blob, inside the same lock (an IMMEDIATE transaction) GC removes files in, so GC sees
   * "prepared after it became unreferenced" (mtime > unref_at) or "never referenced" (no row) and keeps
   * such a file for gcGraceMs. append() checks, in its transaction, that an unreferenced blob's file
   * still exists, so a message is never committed without its bytes.
   */
  async collectGarbage(): Promise<{ removedBlobs: number }> {
    this.assertOpen();
    let removed = 0;
    const graceStart = () => Date.now() - this.gcGraceMs;
    // 1. Rows whose refcount dropped to 0.
    removed += this.tx(() => {
      let n = 0;
      const keepAfter = graceStart();
      for (const row of this.s.blobsUnreferenced.all() as Array<{ id: string; unref_at: number | null }>) {
        const mtime = this.blobs.mtimeSync(row.id);
        if (mtime !== null && mtime > (row.unref_at ?? 0) && mtime >= keepAfter) continue;
        if (this.blobs.removeSync(row.id)) n++;
        this.s.blobDelete.run(row.id);
      }
      return n;
    });
    // 2. Files without a row (prepared, never appended; or left by a crash), past the grace period.
    const candidates: string[] = [];
    const cutoff = graceStart();
    for await (const f of this.blobs.listFiles()) {
      if (f.mtimeMs < cutoff && !this.s.blobGet.get(f.blobId)) candidates.push(f.blobId);
    }
    if (candidates.length > 0) {
      removed += this.tx(() => {
        let n = 0;
        const keepAfter = graceStart();
        for (const id of candidates) {
          if (this.s.blobGet.get(id)) continue;
          const mtime = this.blobs.mtimeSync(id);
          if (mtime === null || mtime >= keepAfter) continue;
          if (this.blobs.removeSync(id)) n++;
        }
        return n;
      });
    }
    // 3. Temp files of writers that crashed or were abandoned.
    await this.blobs.cleanTemp(graceStart());
    // 4. Expunge tombstones past the retention policy (RFC 7162 §5.3).
    const points = this.read(() => tombstonePrunePoints(this.db, this.tombstonePolicy, Date.now()));
    for (const [mailboxId, upTo] of points) await this.pruneTombstones(mailboxId, upTo).catch(() => 0);
    // 5. Full-text documents a bulk append deferred and nobody wrote (a sync killed before its end).
    await this.indexPending();
    return { removedBlobs: removed };
  }

  // ------------------------------------------------------------------ internals

  /** Runs `fn` in an IMMEDIATE transaction (takes the write lock up front: no upgrade deadlocks). */
  private tx<T>(fn: () => T): T {
    this.assertOpen();
    if (this.db.inTransaction) return fn();
    const gate = this.writeGate;
    gate?.enter();
    try {
      this.s.beginImmediate.run();
      try {
        const out = fn();
        this.s.commit.run();
        return out;
      } catch (err) {
        if (this.db.inTransaction) this.s.rollback.run();
        this.keywordCache.clear(); // it may hold spellings whose rows were just rolled back
        throw err;
      }
    } finally {
      gate?.leave();
    }
  }

  /**
   * Called around each write transaction of this connection (BEGIN IMMEDIATE … COMMIT), null to remove:
   * lets another thread writing to the same database (the sync's search-indexing thread,
   * src/sync/index-worker.ts) step aside, so this connection does not sleep in SQLite's busy handler.
   */
  setWriteGate(gate: { enter(): void; leave(): void } | null): void {
    this.writeGate = gate;
  }

  /** Runs several reads on one snapshot. */
  private read<T>(fn: () => T): T {
    this.assertOpen();
    if (this.db.inTransaction) return fn();
    this.s.begin.run();
    try {
      return fn();
    } finally {
      if (this.db.inTransaction) this.s.commit.run();
    }
  }

  /** The mailbox's rows in uid order, from the ListCache when possible (inside a read transaction). */
  private cachedRows(mb: MailboxRow): MessageMeta[] {
    const c = this.listCache.get(mb.id);
    if (c && c.uidValidity === mb.uid_validity) {
      if (c.modSeq === mb.highest_modseq) {
        this.listCache.delete(mb.id); // LRU: move to the end
        this.listCache.set(mb.id, c);
        return c.rows;
      }
      if (c.modSeq < mb.highest_modseq && c.modSeq >= mb.tombstones_pruned_to) {
        const changed = (this.s.changedSince.all(mb.id, c.modSeq) as RawRow[]).map(toMeta);
        const expunged = new Set(
          (this.s.tombstonesSince.all(mb.id, c.modSeq) as Array<{ uid: number }>).map((r) => r.uid),
        );
        const rows = mergeRows(c.rows, changed, expunged);
        this.dropListCache(mb.id);
        this.keepListCache(mb, rows);
        return rows;
      }
    }
    this.dropListCache(mb.id);
    const rows = (this.s.messageList.all(mb.id) as RawRow[]).map(toMeta);
    if (rows.length >= this.listCacheMin) this.keepListCache(mb, rows);
    return rows;
  }

  private keepListCache(mb: MailboxRow, rows: MessageMeta[]): void {
    if (rows.length > this.listCacheMax) return;
    this.listCache.set(mb.id, { uidValidity: mb.uid_validity, modSeq: mb.highest_modseq, rows });
    this.listCacheTotal += rows.length;
    for (const [id, c] of this.listCache) {
      if (this.listCacheTotal <= this.listCacheMax) break;
      this.listCache.delete(id);
      this.listCacheTotal -= c.rows.length;
    }
  }

  private dropListCache(mailboxId: number): void {
    const c = this.listCache.get(mailboxId);
    if (!c) return;
    this.listCache.delete(mailboxId);
    this.listCacheTotal -= c.rows.length;
  }

  private publish(events: ChangeEvent[]): void {
    for (const e of events) this.bus.publish(e);
  }

  private assertOpen(): void {
    if (this.closed) throw new StoreError('SERVERBUG', 'Store is closed');
  }

  private requireMailbox(mailboxId: number): MailboxRow {
    const mb = this.s.mailboxById.get(mailboxId) as MailboxRow | undefined;
    if (!mb) throw new StoreError('NONEXISTENT', `No mailbox ${mailboxId}`);
    return mb;
  }

  /** Takes `n` consecutive values of a counter in `meta`; returns the first. */
  private allocate(key: string, n: number): number {
    const row = this.s.metaAllocate.get({ n, key }) as { first: number } | undefined;
    if (!row) throw new StoreError('CORRUPTION', `Missing counter ${key}`);
    return row.first;
  }

  /** The threading keys of a prepared message, from its top-level header (at most THREAD_HEADER_LIMIT bytes). */
  /** Full-text documents of the items' blobs that have none yet. */
  private async searchDocsOf(items: AppendItem[]): Promise<Map<string, PreparedDoc>> {
    const out = new Map<string, PreparedDoc>();
    const todo = this.read(() => items.filter((it) => !this.searchIndex.indexed(it.message.blobId)));
    const msgs = [...new Map(todo.map((it) => [it.message.blobId, it.message] as const)).values()];
    for (let i = 0; i < msgs.length; i += 16) {
      const group = msgs.slice(i, i + 16);
      const docs = await Promise.all(
        group.map((m) => {
          const mem = this.preparedBytes.get(m);
          return prepareDoc(m.mime, mem ? async (start, end) => mem.subarray(start, end) : (start, end) => this.blobs.read(m.blobId, start, end));
        }),
      );
      group.forEach((m, j) => out.set(m.blobId, docs[j]!));
    }
    return out;
  }

  private async threadKeysOf(msg: PreparedMessage): Promise<ThreadKeys> {
    try {
      const h = topHeaderRange(msg.mime);
      const end = Math.min(h.end, h.start + THREAD_HEADER_LIMIT);
      const mem = this.preparedBytes.get(msg);
      return threadKeys(mem ? mem.subarray(h.start, end) : await this.blobs.read(msg.blobId, h.start, end));
    } catch {
      return { messageId: null, parents: [], baseSubject: null, isReply: false };
    }
  }

  /** RFC 8474 §4: 1-255 characters of [A-Za-z0-9_-]. M: mailbox, E: email, T: thread (§5.2: distinct from EMAILIDs). */
  private objectId(prefix: 'M' | 'E' | 'T', n: number): string {
    return `${prefix}${this.storeTag}${n.toString(36)}`;
  }

  private insertMailbox(
    userId: number,
    name: string,
    specialUse: string | null,
    uidNext: number,
    highestModSeq: number,
    recentUid: number,
  ): MailboxRow {
    // RFC 9051 §2.3.1.1: UIDVALIDITY differs for every mailbox ever created here, so a deleted and
    // re-created name never pairs old UIDs with the new mailbox.
    const uidValidity = this.allocate('next_uid_validity', 1);
    if (uidValidity > MAX_UID) throw new StoreError('LIMIT', 'UIDVALIDITY values exhausted');
    const objectId = this.objectId('M', this.allocate('next_object_id', 1));
    const createdAt = Date.now();
    const info = this.s.mailboxInsert.run(
      userId,
      name,
      uidValidity,
      uidNext,
      highestModSeq,
      recentUid,
      specialUse,
      objectId,
      createdAt,
    );
    return this.s.mailboxById.get(Number(info.lastInsertRowid)) as MailboxRow;
  }

  /** Deletes a mailbox's messages (refcounts via triggers), tombstones and the mailbox row. */
  private dropMailbox(mb: MailboxRow): void {
    this.s.messagesDeleteAll.run(mb.id);
    this.s.tombstonesDeleteAll.run(mb.id);
    this.s.mailboxDelete.run(mb.id);
  }

  /** RFC 9051 §6.3.6: moves INBOX's messages to a new mailbox; INBOX stays, empty, same UIDVALIDITY. */
  private renameInbox(inbox: MailboxRow, to: string): ChangeEvent[] {
    const target = this.insertMailbox(inbox.user_id, to, null, inbox.uid_next, 1, inbox.recent_uid);
    if (inbox.messages === 0) return [{ mailboxId: target.id, userId: inbox.user_id, modSeq: target.highest_modseq }];
    const dstModSeq = target.highest_modseq + 1;
    const srcModSeq = inbox.highest_modseq + 1;
    // The new mailbox has a new UIDVALIDITY, so the messages may keep their UIDs.
    this.s.messagesMoveAll.run({ dst: target.id, modseq: dstModSeq, now: Date.now(), src: inbox.id });
    this.s.tombstonesFromAll.run(srcModSeq, inbox.id);
    this.s.messagesDeleteAll.run(inbox.id);
    this.s.mailboxSetModSeq.run(dstModSeq, target.id);
    this.s.mailboxSetModSeq.run(srcModSeq, inbox.id);
    return [
      { mailboxId: inbox.id, userId: inbox.user_id, modSeq: srcModSeq },
      { mailboxId: target.id, userId: inbox.user_id, modSeq: dstModSeq },
    ];
  }

  private copyInTx(
    srcId: number,
    uids: number[],
    dstId: number,
    move: boolean,
  ): { result: CopyResult & { expunged: number[] }; events: ChangeEvent[] } {
    const src = this.requireMailbox(srcId);
    const dst = this.s.mailboxById.get(dstId) as MailboxRow | undefined;
    if (!dst) throw new StoreError('TRYCREATE', `No mailbox ${dstId}`);
    if (src.user_id !== dst.user_id) throw new StoreError('CANNOT', 'Cannot copy between accounts');
    const rows: RawRow[] = [];
    for (const [lo, hi] of toRanges(uids)) rows.push(...(this.s.copyRange.all(srcId, lo, hi) as RawRow[]));
    if (rows.length === 0) {
      return { result: { uidValidity: dst.uid_validity, mapping: [], modSeq: dst.highest_modseq, expunged: [] }, events: [] };
    }
    if (dst.uid_next + rows.length - 1 > MAX_UID) throw new StoreError('LIMIT', 'Mailbox has used up its UIDs');
    const now = Date.now();
    const dstModSeq = dst.highest_modseq + 1;
    const mapping: Array<[number, number]> = [];
    let uid = dst.uid_next;
    // Rows come in ascending source uid order (ranges ascend, each range is ordered): RFC 4315 §3 COPYUID.
    for (const r of rows) {
      // [uid, flags, seen, deleted, internal_date, size, blob_id, email_id, thread_id, internal_date_offset]
      this.s.messageInsert.run(dstId, uid, dstModSeq, r[1], r[2], r[3], r[4], r[5], r[6], now, r[7], r[8], r[9]);
      mapping.push([r[0] as number, uid]);
      uid++;
    }
    this.s.mailboxAdvance.run(uid, dstModSeq, dstId);
    const events: ChangeEvent[] = [{ mailboxId: dstId, userId: dst.user_id, modSeq: dstModSeq }];
    const expunged: number[] = [];
    if (move) {
      // RFC 6851 §3.3: the source messages are expunged in the same transaction.
      const srcModSeq = srcId === dstId ? dstModSeq : src.highest_modseq + 1;
      for (const [from] of mapping) {
        this.s.messageDelete.run(srcId, from);
        this.s.tombstoneInsert.run(srcId, srcModSeq, from);
        expunged.push(from);
      }
      if (srcId !== dstId) {
        this.s.mailboxSetModSeq.run(srcModSeq, srcId);
        events.unshift({ mailboxId: srcId, userId: src.user_id, modSeq: srcModSeq });
      }
    }
    return { result: { uidValidity: dst.uid_validity, mapping, modSeq: dstModSeq, expunged }, events };
  }

  /**
   * Makes sure a blob row exists for a prepared message and that its file is there. A blob with
   * references is protected from GC by this transaction's lock; an unreferenced one is checked on disk.
   */
  private ensureBlob(blobId: string, size: number, mime: MimeIndex, now: number): void {
    const row = this.s.blobGet.get(blobId) as { refcount: number } | undefined;
    if (row && row.refcount > 0) return;
    if (!this.blobs.existsSync(blobId)) {
      throw new StoreError('NONEXISTENT', `Message data ${blobId} is gone (prepared too long ago?)`);
    }
    if (!row) this.s.blobInsert.run(blobId, size, JSON.stringify(mime), now);
  }

  /**
   * System flags in their canonical case; keywords compared case-insensitively and kept in the spelling
   * this user first used (RFC 9051 §2.3.2: flags are case-insensitive). Duplicates and \Recent dropped.
   */
  private canonicalFlags(userId: number, flags: readonly string[]): string[] {
    const out: string[] = [];
    const seen = new Set<string>();
    for (const f of flags) {
      if (!VALID_FLAG.test(f)) throw new StoreError('CANNOT', `Invalid flag ${JSON.stringify(f)}`);
      const lower = f.toLowerCase();
      if (lower === '\\recent' || seen.has(lower)) continue;
      seen.add(lower);
      out.push(SYSTEM_FLAG_BY_LOWER.get(lower) ?? this.keyword(userId, f, lower));
    }
    return out;
  }

  private keyword(userId: number, spelling: string, lower: string): string {
    let cache = this.keywordCache.get(userId);
    if (!cache) {
      cache = new Map();
      this.keywordCache.set(userId, cache);
    }
    const known = cache.get(lower);
    if (known !== undefined) return known;
    const row = this.s.keywordGet.get(userId, lower) as { name: string } | undefined;
    let name = spelling;
    if (row) name = row.name;
    else this.s.keywordInsert.run(userId, lower, spelling);
    cache.set(lower, name);
    return name;
  }
}

function prepareStatements(db: BetterSqlite3.Database) {
  const p = (sql: string) => db.prepare(sql);
  const raw = (sql: string) => db.prepare(sql).raw(true);
  return {
    begin: p('BEGIN'),
    beginImmediate: p('BEGIN IMMEDIATE'),
    commit: p('COMMIT'),
    rollback: p('ROLLBACK'),

    metaInit: p('INSERT OR IGNORE INTO meta (key, value) VALUES (?, ?)'),
    metaGet: p('SELECT value FROM meta WHERE key = ?'),
    metaAllocate: p('UPDATE meta SET value = value + @n WHERE key = @key RETURNING value - @n AS first'),

    userByName: p('SELECT * FROM users WHERE name = ?'),
    userById: p('SELECT * FROM users WHERE id = ?'),
    userList: p('SELECT * FROM users ORDER BY name'),
    userInsert: p('INSERT INTO users (name, password_hash, created_at) VALUES (?, ?, ?)'),
    userSetPassword: p('UPDATE users SET password_hash = ? WHERE name = ?'),
    userDelete: p('DELETE FROM users WHERE id = ?'),

    mailboxById: p('SELECT * FROM mailboxes WHERE id = ?'),
    mailboxByName: p('SELECT * FROM mailboxes WHERE user_id = ? AND name = ?'),
    mailboxList: p('SELECT * FROM mailboxes WHERE user_id = ? ORDER BY name'),
    mailboxChildren: p('SELECT * FROM mailboxes WHERE user_id = @user AND substr(name, 1, @len) = @prefix ORDER BY name'),
    mailboxInsert: p(
      `INSERT INTO mailboxes (user_id, name, uid_validity, uid_next, highest_modseq, recent_uid, special_use,
         object_id, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ),
    mailboxDelete: p('DELETE FROM mailboxes WHERE id = ?'),
    mailboxRename: p('UPDATE mailboxes SET name = ? WHERE id = ?'),
    mailboxSetSpecialUse: p('UPDATE mailboxes SET special_use = ? WHERE id = ?'),
    mailboxSetRecent: p('UPDATE mailboxes SET recent_uid = ? WHERE id = ?'),
    mailboxSetModSeq: p('UPDATE mailboxes SET highest_modseq = ? WHERE id = ?'),
    mailboxAdvance: p('UPDATE mailboxes SET uid_next = ?, highest_modseq = ? WHERE id = ?'),
    mailboxSetPruned: p('UPDATE mailboxes SET tombstones_pruned_to = ? WHERE id = ?'),

    subscribe: p('INSERT OR IGNORE INTO subscriptions (user_id, name) VALUES (?, ?)'),
    unsubscribe: p('DELETE FROM subscriptions WHERE user_id = ? AND name = ?'),
    subscriptions: p('SELECT name FROM subscriptions WHERE user_id = ? ORDER BY name'),

    keywordGet: p('SELECT name FROM keywords WHERE user_id = ? AND lower = ?'),
    keywordInsert: p('INSERT INTO keywords (user_id, lower, name) VALUES (?, ?, ?)'),

    blobGet: p('SELECT refcount FROM blobs WHERE id = ?'),
    blobInsert: p('INSERT INTO blobs (id, size, refcount, mime_index, created_at) VALUES (?, ?, 0, ?, ?)'),
    blobDelete: p('DELETE FROM blobs WHERE id = ? AND refcount = 0'),
    blobsUnreferenced: p('SELECT id, unref_at FROM blobs WHERE refcount = 0'),

    messageInsert: p(
      `INSERT INTO messages (mailbox_id, uid, modseq, flags, seen, deleted, internal_date, size, blob_id,
         save_date, email_id, thread_id, internal_date_offset) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ),
    messageDelete: p('DELETE FROM messages WHERE mailbox_id = ? AND uid = ?'),
    messageBlob: p('SELECT blob_id, size FROM messages WHERE mailbox_id = ? AND uid = ?'),
    messageSetBlob: p('UPDATE messages SET blob_id = ? WHERE mailbox_id = ? AND uid = ?'),
    blobRef: p('UPDATE blobs SET refcount = refcount + 1 WHERE id = ?'),
    blobUnref: p(
      `UPDATE blobs SET refcount = refcount - 1,
         unref_at = CASE WHEN refcount = 1 THEN CAST((julianday('now') - 2440587.5) * 86400000.0 AS INTEGER) ELSE unref_at END
       WHERE id = ?`,
    ),
    messagesDeleteAll: p('DELETE FROM messages WHERE mailbox_id = ?'),
    messagesMoveAll: p(
      `INSERT INTO messages (mailbox_id, uid, modseq, flags, seen, deleted, internal_date, size, blob_id,
         save_date, email_id, thread_id, internal_date_offset)
       SELECT @dst, uid, @modseq, flags, seen, deleted, internal_date, size, blob_id, @now, email_id, thread_id,
         internal_date_offset
       FROM messages WHERE mailbox_id = @src ORDER BY uid`,
    ),
    messageList: raw(`SELECT ${MSG_COLS} FROM messages WHERE mailbox_id = ? ORDER BY uid`),
    fetchCacheInsert: perSlot((t) => p(`INSERT OR REPLACE INTO ${t} (mailbox_id, uid, text) VALUES (?, ?, ?)`)),
    // Only while the message still has that content (an expunge or replaceContent in between wins).
    fetchCachePut: perSlot((t) =>
      p(
        `INSERT OR REPLACE INTO ${t} (mailbox_id, uid, text)
         SELECT mailbox_id, uid, ? FROM messages WHERE mailbox_id = ? AND uid = ? AND blob_id = ?`,
      ),
    ),
    messageRangeWithMime: raw(
      `SELECT m.uid, m.modseq, m.flags, m.internal_date, m.size, m.blob_id, m.save_date, m.email_id, m.thread_id,
         m.internal_date_offset, b.mime_index FROM messages m JOIN blobs b ON b.id = m.blob_id
       WHERE m.mailbox_id = ? AND m.uid BETWEEN ? AND ? ORDER BY m.uid`,
    ),
    flagsRange: raw('SELECT uid, modseq, flags FROM messages WHERE mailbox_id = ? AND uid BETWEEN ? AND ? ORDER BY uid'),
    flagsUpdate: p('UPDATE messages SET flags = ?, seen = ?, deleted = ?, modseq = ? WHERE mailbox_id = ? AND uid = ?'),
    copyRange: raw(
      `SELECT uid, flags, seen, deleted, internal_date, size, blob_id, email_id, thread_id, internal_date_offset FROM messages
       WHERE mailbox_id = ? AND uid BETWEEN ? AND ? ORDER BY uid`,
    ),
    deletedUids: p('SELECT uid FROM messages WHERE mailbox_id = ? AND deleted = 1 ORDER BY uid'),
    changedSince: raw(`SELECT ${MSG_COLS} FROM messages WHERE mailbox_id = ? AND modseq > ? ORDER BY uid`),
    minUid: p('SELECT min(uid) AS u FROM messages WHERE mailbox_id = ?'),
    countFrom: p('SELECT count(*) AS n FROM messages WHERE mailbox_id = ? AND uid >= ?'),

    tombstoneInsert: p('INSERT INTO expunged (mailbox_id, modseq, uid) VALUES (?, ?, ?)'),
    tombstonesFromAll: p('INSERT INTO expunged (mailbox_id, modseq, uid) SELECT mailbox_id, ?, uid FROM messages WHERE mailbox_id = ?'),
    tombstonesSince: p('SELECT uid FROM expunged WHERE mailbox_id = ? AND modseq > ? ORDER BY uid'),
    tombstonesDeleteAll: p('DELETE FROM expunged WHERE mailbox_id = ?'),
    tombstonesPrune: p('DELETE FROM expunged WHERE mailbox_id = ? AND modseq <= ?'),
  };
}

// ------------------------------------------------------------------ helpers



function toMeta(r: RawRow): MessageMeta {
  return {
    uid: r[0] as number,
    modSeq: r[1] as number,
    flags: parseFlags(r[2] as string),
    internalDate: r[3] as number,
    size: r[4] as number,
    blobId: r[5] as string,
    saveDate: r[6] as number,
    emailId: r[7] as string,
    threadId: r[8] as string | null,
    internalDateOffset: r[9] as number,
  };
}

function cloneMeta(m: MessageMeta): MessageMeta {
  return {
    uid: m.uid,
    modSeq: m.modSeq,
    flags: m.flags.slice(),
    internalDate: m.internalDate,
    size: m.size,
    blobId: m.blobId,
    saveDate: m.saveDate,
    emailId: m.emailId,
    threadId: m.threadId,
    internalDateOffset: m.internalDateOffset,
  };
}

/** Applies changed rows (uid order) and expunged uids to rows in uid order. UIDs are never reused. */
function mergeRows(old: MessageMeta[], changed: MessageMeta[], expunged: Set<number>): MessageMeta[] {
  const out: MessageMeta[] = [];
  let j = 0;
  for (const m of old) {
    while (j < changed.length && changed[j]!.uid < m.uid) out.push(changed[j++]!);
    if (j < changed.length && changed[j]!.uid === m.uid) {
      out.push(changed[j++]!);
      continue;
    }
    if (!expunged.has(m.uid)) out.push(m);
  }
  while (j < changed.length) out.push(changed[j++]!);
  return out;
}



function hasFlag(flags: readonly string[], flag: string): number {
  return flags.includes(flag) ? 1 : 0;
}




