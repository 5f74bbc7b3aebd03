// The storage interface. The server, POP3, LMTP and the sync engine reach storage only through
// this file (ARCHITECTURE.md, layers). It speaks UIDs and mod-sequences, never sequence numbers
// (decision 1), and is async even where SQLite is synchronous so PostgreSQL can implement it.
import type { MimeIndex } from '../mime/types.js';

export type StoreErrorCode =
  | 'NONEXISTENT' // mailbox/user/message does not exist
  | 'ALREADYEXISTS'
  | 'INUSE' // e.g. a POP3 maildrop lock
  | 'NOPERM' // e.g. deleting INBOX
  | 'CANNOT' // e.g. an invalid mailbox name, renaming a mailbox into itself
  | 'LIMIT'
  | 'OVERQUOTA'
  | 'TOOBIG'
  | 'EXPUNGEISSUED'
  | 'TRYCREATE' // destination mailbox of COPY/MOVE/APPEND does not exist
  | 'CORRUPTION'
  | 'SERVERBUG';

export class StoreError extends Error {
  constructor(
    readonly code: StoreErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'StoreError';
  }
}

export interface UserRecord {
  id: number;
  name: string;
  /** Self-describing password hash (see src/config/password.ts). */
  passwordHash: string;
  createdAt: number;
}

/** RFC 6154 special-use attribute, with its backslash. */
export type SpecialUse = '\\Drafts' | '\\Sent' | '\\Trash' | '\\Junk' | '\\Archive' | '\\All' | '\\Flagged';

export interface MailboxRecord {
  id: number;
  userId: number;
  /** Full Unicode name with '/' as hierarchy separator; the inbox is always exactly 'INBOX'. */
  name: string;
  /** Distinct for every mailbox ever created in this store, also across delete + re-create. */
  uidValidity: number;
  uidNext: number;
  highestModSeq: number;
  specialUse: SpecialUse | null;
  /** Stable identifier for OBJECTID (RFC 8474 MAILBOXID); survives RENAME. */
  objectId: string;
  createdAt: number;
}

export interface MailboxStatus {
  messages: number;
  unseen: number;
  deleted: number;
  /** Sum of RFC822.SIZE of all messages (STATUS=SIZE, RFC 8438). */
  size: number;
  uidNext: number;
  uidValidity: number;
  highestModSeq: number;
  /** Messages with uid >= the mailbox's recent watermark (see claimRecent). */
  recent: number;
}

/** What the store keeps per message in a mailbox, without the MIME index. */
export interface MessageMeta {
  uid: number;
  modSeq: number;
  /** System flags (with backslash) and keywords, in the case they were first stored. No \Recent. */
  flags: string[];
  /** Milliseconds since the epoch. */
  internalDate: number;
  /**
   * The zone the internal date was given in, minutes east of UTC (APPEND's date-time zone; for mail that came
   * without one, the server's local zone at that instant). FETCH INTERNALDATE is written in it, and SEARCH
   * BEFORE/ON/SINCE take the calendar day in it (RFC 9051 §6.4.4 "disregarding time and timezone").
   */
  internalDateOffset: number;
  /** RFC822.SIZE: octets as stored. */
  size: number;
  /** Content-addressed blob (hex SHA-256 of the bytes). */
  blobId: string;
  /** RFC 8514 SAVEDATE, ms since the epoch. */
  saveDate: number;
  /** RFC 8474 EMAILID: kept through COPY and MOVE; each delivery gets a new one. */
  emailId: string;
  /** RFC 8474 THREADID, or null until threading assigns one. */
  threadId: string | null;
}

export interface MessageRecord extends MessageMeta {
  mime: MimeIndex;
}

/** The items of FETCH's render cache (Store.getFetchCache), one opaque text each. */
export type FetchCacheSlot = 'envelope' | 'body' | 'bodystructure';

/** A message with FETCH's render cache (Store.getFetchCache). */
export interface FetchCacheRecord {
  uid: number;
  /** The message's row when asked for (withMeta), else null. */
  meta: MessageMeta | null;
  /** Its content: always with meta, else at least where a slot asked for has no text (for putFetchCache). */
  blobId: string | null;
  /** The texts of the slots asked for, in their order; null where none is stored. */
  cached: Array<string | null>;
  /** The stored MIME index (JSON) when some slot asked for has no text, else null (not read). */
  mimeJson: string | null;
}

/** Renders the render-cache texts of a new message's index (Store.setFetchCacheRenderer). */
export type FetchCacheRenderer = (mime: MimeIndex) => Partial<Record<FetchCacheSlot, string>> | null;

/** Texts for Store.putFetchCache: the message they were rendered for and that message's content. */
export interface FetchCacheEntry {
  mailboxId: number;
  uid: number;
  blobId: string;
  texts: Partial<Record<FetchCacheSlot, string>>;
}

/** A message whose bytes are on disk (fsynced) and indexed, not yet in any mailbox. */
export interface PreparedMessage {
  blobId: string;
  size: number;
  mime: MimeIndex;
}

/** Streams one message into the blob store and the MIME indexer in one pass (decision 3). */
export interface IngestWriter {
  /** Resolves when the chunk may be followed by more (backpressure). */
  write(chunk: Buffer): Promise<void>;
  /** Flushes, fsyncs and renames the blob into place; returns the prepared message. */
  finish(): Promise<PreparedMessage>;
  /** Drops the temporary file. */
  abort(): Promise<void>;
}

export interface AppendItem {
  message: PreparedMessage;
  flags: string[];
  /** ms since epoch; defaults to now. */
  internalDate?: number;
  /** Zone of internalDate, minutes east of UTC; defaults to the server's local zone at that instant. */
  internalDateOffset?: number;
}

/** Options of Store.append (all optional; a store may ignore them). */
export interface AppendOptions {
  /**
   * Bulk ingest (the sync's initial download): the store MAY leave the full-text documents of the new
   * blobs for later — marked "not yet indexed", so SEARCH treats them as candidates and stays exact —
   * and write them in indexPending(), in fewer and larger transactions. A crash in between leaves the
   * marks, and the next indexPending() (or the store's background upkeep) picks them up.
   */
  deferIndex?: boolean;
}

export interface AppendResult {
  uidValidity: number;
  uids: number[];
  modSeq: number;
}

/** A message as it was in another store: its UID and mod-sequence there (see Store.restoreMessages). */
export interface RestoreItem {
  message: PreparedMessage;
  flags: string[];
  /** ms since epoch. */
  internalDate: number;
  /** Zone of internalDate, minutes east of UTC; defaults to the server's local zone at that instant. */
  internalDateOffset?: number;
  uid: number;
  modSeq: number;
}

/** A mailbox's numbering in the store it comes from (see Store.restoreMessages). */
export interface RestoreState {
  uidValidity: number;
  uidNext: number;
  highestModSeq: number;
}

export interface CopyResult {
  uidValidity: number;
  /** Pairs [source uid, destination uid], in source uid order. */
  mapping: Array<[number, number]>;
  modSeq: number;
}

export type FlagOperation = 'set' | 'add' | 'remove';

export interface StoreFlagsResult {
  /** The new mod-sequence, or the old highest one when nothing changed. */
  modSeq: number;
  /** Messages whose flags changed (or were touched), with their resulting flags. */
  updated: Array<{
    uid: number;
    flags: string[];
    modSeq: number;
    /** false when the message already had the requested flags: it kept its mod-sequence
     *  (RFC 7162 §3.1.11). Absent means unknown (treat as changed). */
    changed?: boolean;
  }>;
  /** UIDs not changed because their modSeq was above `unchangedSince` (RFC 7162 §3.1.3). */
  modified: number[];
}

/** What changed in a mailbox since a mod-sequence (decision 2: one log for IDLE, QRESYNC, sync). */
export interface ChangeSet {
  highestModSeq: number;
  uidNext: number;
  /** Messages (new or changed) with modSeq > since, in uid order. */
  changed: MessageMeta[];
  /** UIDs expunged after `since`, ascending. */
  expunged: number[];
  /** true when tombstones after `since` were pruned: `expunged` may be incomplete. */
  truncated: boolean;
}

/** A poke published after a commit; listeners then call changesSince(). */
export interface ChangeEvent {
  mailboxId: number;
  userId: number;
  modSeq: number;
}

export interface Store {
  close(): Promise<void>;

  // --- accounts
  createUser(name: string, passwordHash: string): Promise<UserRecord>;
  getUser(name: string): Promise<UserRecord | null>;
  listUsers(): Promise<UserRecord[]>;
  setPassword(name: string, passwordHash: string): Promise<void>;
  /** Deletes the user and all their mailboxes and messages. */
  deleteUser(name: string): Promise<void>;

  // --- mailboxes (names are full Unicode paths, '/' separated; 'INBOX' exact)
  listMailboxes(userId: number): Promise<MailboxRecord[]>;
  getMailbox(userId: number, name: string): Promise<MailboxRecord | null>;
  getMailboxById(mailboxId: number): Promise<MailboxRecord | null>;
  /** Creates the mailbox (not its parents: callers create intermediate levels). ALREADYEXISTS if present. */
  createMailbox(userId: number, name: string, opts?: { specialUse?: SpecialUse | null }): Promise<MailboxRecord>;
  /** Deletes the mailbox and its messages (children stay). NONEXISTENT if absent; NOPERM for INBOX. */
  deleteMailbox(userId: number, name: string): Promise<void>;
  /** Renames the mailbox and every child (`from/…`). For INBOX: creates `to`, moves INBOX's messages
   *  into it and leaves INBOX empty (RFC 9051 §6.3.6). ALREADYEXISTS / NONEXISTENT as fitting. */
  renameMailbox(userId: number, from: string, to: string): Promise<void>;
  setSpecialUse(mailboxId: number, use: SpecialUse | null): Promise<void>;
  /** Subscriptions are names and may outlive the mailbox (RFC 9051 §6.3.7). */
  setSubscribed(userId: number, name: string, subscribed: boolean): Promise<void>;
  listSubscriptions(userId: number): Promise<string[]>;
  mailboxStatus(mailboxId: number): Promise<MailboxStatus>;
  /** Returns the uid from which messages are \Recent for the caller and moves the watermark to uidNext,
   *  atomically, so only one session sees each message as recent (RFC 3501 §2.3.2). */
  claimRecent(mailboxId: number): Promise<number>;

  // --- messages
  beginIngest(): IngestWriter;
  /** Convenience: ingest a whole buffer. */
  prepare(data: Buffer): Promise<PreparedMessage>;
  /**
   * Several whole buffers at once (a bulk download), in order; the same result as prepare() of each, with
   * the durable writes grouped where the store can. Optional: callers fall back to prepare().
   */
  prepareMany?(datas: readonly Buffer[]): Promise<PreparedMessage[]>;
  /** Appends atomically (all or none; MULTIAPPEND, RFC 3502). TRYCREATE if the mailbox is gone. */
  append(mailboxId: number, items: AppendItem[], opts?: AppendOptions): Promise<AppendResult>;
  /**
   * Writes the full-text documents left for later by append(..., { deferIndex: true }) (or a crash);
   * resolves with how many were written. Optional: stores that always index at append lack it.
   * `batch`: documents per write transaction; `around`: called just before and after each of them (a
   * second writer, such as the sync's indexing thread, hands the write lock over there).
   */
  indexPending?(opts?: { signal?: AbortSignal; batch?: number; around?: { before(): void; after(): void } }): Promise<number>;
  /**
   * A partly downloaded message (docs/sync.md "Partial messages"): stores `bytes` (the synthetic blob of
   * src/mime/partial.ts buildPartialMessage) as a blob and returns it with the given index and `size` (the
   * remote RFC822.SIZE), ready for append(). The store keeps `mime` as given, never re-indexes the bytes.
   */
  preparePartial(bytes: Buffer, mime: MimeIndex, size: number): Promise<PreparedMessage>;
  /**
   * Swaps a message's bytes and index for `message` (the full content of a partial message) keeping its
   * UID, flags, dates, EMAILID, THREADID and mod-sequence. Blob reference counts follow; the old blob is
   * left to GC. NONEXISTENT when the mailbox or message is gone; CANNOT when the size differs.
   */
  replaceContent(mailboxId: number, uid: number, message: PreparedMessage): Promise<void>;
  /**
   * IMPORT ONLY — for `petrel migrate` (src/store/migrate.ts), never for mail from clients, LMTP or sync:
   * appends messages with the UIDs and mod-sequences they had in another store's copy of this mailbox and
   * gives the mailbox that store's UIDVALIDITY, so clients keep their caches (RFC 9051 §2.3.1.1: the same
   * UIDVALIDITY must mean the same UIDs; RFC 7162 §3.1: mod-sequences never go back). Atomic, like append.
   * - `state.uidValidity` may differ from the mailbox's only while it holds no message; another mailbox of
   *   the store having it is CANNOT. The store never hands that value out again.
   * - `items`: UIDs strictly ascending, above every UID in the mailbox, below `state.uidNext`;
   *   mod-sequences 1..`state.highestModSeq` (CANNOT otherwise). Flags, INTERNALDATE kept; new EMAILIDs.
   * - Afterwards UIDNEXT is at least `state.uidNext`, HIGHESTMODSEQ at least `state.highestModSeq` and
   *   above its value before the call (unless the call changed nothing); the restored messages are not
   *   \Recent; expunges at or below `state.highestModSeq` are unknown here, so changesSince() from below it
   *   answers `truncated`.
   * No session may have the mailbox selected meanwhile: the messages arrive with mod-sequences in the past.
   */
  restoreMessages(mailboxId: number, state: RestoreState, items: RestoreItem[]): Promise<AppendResult>;
  /** All messages, ascending uid. Used by SELECT. */
  listMessages(mailboxId: number): Promise<MessageMeta[]>;
  /** The given uids that exist, ascending; with `mime` the stored part tree too. */
  getMessages(mailboxId: number, uids: number[]): Promise<MessageRecord[]>;
  /**
   * FETCH's render cache (docs/benchmarks.md "FETCH render cache"): the given uids that exist, ascending,
   * each with the texts last stored by putFetchCache for the `slots` asked for, and its MIME index only
   * where one of them is missing; the rest of the row only `withMeta` (a FETCH of ENVELOPE / BODYSTRUCTURE
   * alone needs none of it, and reading it was half the time of a warm FETCH over 100,000). The texts are the server's (src/server/commands/fetch-batch.ts) and
   * depend on the content only; the store keeps them opaque, per message or per blob as suits it, reads
   * only the slots asked for, and drops them whenever the content or its index changes. Optional: without
   * it FETCH renders every time.
   */
  getFetchCache?(mailboxId: number, uids: number[], slots: readonly FetchCacheSlot[], withMeta: boolean): Promise<FetchCacheRecord[]>;
  /** Stores render-cache texts; an entry whose message is gone or has other content now is skipped. */
  putFetchCache?(entries: readonly FetchCacheEntry[]): Promise<void>;
  /**
   * The render-cache texts of an index (null: none for it), for append() to store with each new message
   * (decision 4: the work is done once, at ingest). The server installs it when it starts; messages
   * appended without one get their texts at their first FETCH.
   */
  setFetchCacheRenderer?(render: FetchCacheRenderer | null): void;
  storeFlags(
    mailboxId: number,
    uids: number[],
    op: FlagOperation,
    flags: string[],
    opts?: { unchangedSince?: number },
  ): Promise<StoreFlagsResult>;
  /** Copies without copying bytes; keeps flags and internal date; new saveDate. TRYCREATE if dst is gone. */
  copyMessages(srcMailboxId: number, uids: number[], dstMailboxId: number): Promise<CopyResult>;
  /** Copy + expunge from the source, in one transaction (RFC 6851). */
  moveMessages(srcMailboxId: number, uids: number[], dstMailboxId: number): Promise<CopyResult & { expunged: number[] }>;
  /** Removes the messages that have \Deleted (only those among `uids` when given). Returns removed uids. */
  expunge(mailboxId: number, uids?: number[]): Promise<number[]>;
  changesSince(mailboxId: number, modSeq: number): Promise<ChangeSet>;

  /**
   * Optional full-text index for SEARCH (RFC 9051 §6.4.4). UIDs of `mailboxId`, ascending, that MAY have
   * `needle` (3+ characters, already folded by src/mime/search-text.ts `fold`) in `field` — a superset
   * of the messages that do, which the caller verifies exactly. 'text': header, body or MIME headers;
   * 'body': text parts; 'header': any header field's value; the rest: that envelope field. Messages the
   * index has not covered are always candidates. null: no index here, the caller scans.
   */
  searchTextCandidates?(
    mailboxId: number,
    field: 'text' | 'body' | 'header' | 'subject' | 'from' | 'to' | 'cc' | 'bcc',
    needle: string,
  ): Promise<number[] | null>;

  // --- message bytes
  /** Reads [start, end) of a blob (end exclusive, clamped to the size). */
  readBlob(blobId: string, start: number, end: number): Promise<Buffer>;
  /** Streams [start, end) of a blob in chunks, reading only that range. */
  streamBlob(blobId: string, start: number, end: number): AsyncIterable<Buffer>;

  // --- notifications and upkeep
  /** Called after each commit that changes `mailboxId`'s messages. Returns an unsubscribe function. */
  watchMailbox(mailboxId: number, listener: (event: ChangeEvent) => void): () => void;
  /** Called after any change to the user's mailbox list or any of their mailboxes. */
  watchUser(userId: number, listener: (event: ChangeEvent) => void): () => void;
  /** Removes blobs no message references and temp files left by crashes. */
  collectGarbage(): Promise<{ removedBlobs: number }>;
}
