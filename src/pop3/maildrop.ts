// The POP3 maildrop: a snapshot of the user's INBOX taken when the session enters the TRANSACTION
// state, numbered 1..n (RFC 1939 §5), with deletion marks that take effect only in the UPDATE state
// (RFC 1939 §6), plus the exclusive maildrop lock (RFC 1939 §4, RFC 2449 §8.1.2 [IN-USE]).
// Storage is reached only through src/store/types.ts (ARCHITECTURE.md, layers).
import { crlfMessageSize, messageSize } from '../mime/sections.js';
import type { Store } from '../store/types.js';

/** Records read per store call when the maildrop is opened. */
const OPEN_BATCH = 500;

export interface MaildropMessage {
  uid: number;
  /** Octets as RETR sends them, CRLF line ends (RFC 1939 §5 "exact size"; stuffing not counted). */
  size: number;
  blobId: string;
  /** Unique-id listing (RFC 1939 §7 UIDL): "<uidValidity>.<uid>", printable ASCII, at most 70 octets. */
  uniqueId: string;
  deleted: boolean;
  /** Sent whole by RETR; gets \Seen in the UPDATE state when `markSeen` is on. */
  retrieved: boolean;
}

/**
 * Maildrop locks, per store and user id. This lock lives in the process's memory, which is enough for
 * the embedded SQLite store: one `petrel serve` process owns the store. A store shared by several
 * processes (PostgreSQL, later) needs the lock in the database instead.
 */
const locks = new WeakMap<Store, Set<number>>();

/** Takes the maildrop lock; false when another session holds it. */
export function lockMaildrop(store: Store, userId: number): boolean {
  let held = locks.get(store);
  if (!held) {
    held = new Set();
    locks.set(store, held);
  }
  if (held.has(userId)) return false;
  held.add(userId);
  return true;
}

export function unlockMaildrop(store: Store, userId: number): void {
  locks.get(store)?.delete(userId);
}

export interface UpdateResult {
  /** UIDs removed from the store. */
  expunged: number[];
  /** UIDs that got \Seen. */
  seen: number[];
}

export class Maildrop {
  private constructor(
    readonly mailboxId: number,
    readonly uidValidity: number,
    readonly messages: MaildropMessage[],
  ) {}

  /** Snapshots INBOX: messages appended later are not part of this session (RFC 1939 §8, "maildrop"). */
  static async open(store: Store, userId: number): Promise<Maildrop | null> {
    const inbox = await store.getMailbox(userId, 'INBOX');
    if (!inbox) return null;
    const metas = await store.listMessages(inbox.id);
    // The stored size counts a bare LF as one octet but RETR sends CRLF: the MIME index knows the difference.
    const wire = new Map<number, number>();
    for (let i = 0; i < metas.length; i += OPEN_BATCH) {
      const recs = await store.getMessages(inbox.id, metas.slice(i, i + OPEN_BATCH).map((m) => m.uid));
      for (const r of recs) wire.set(r.uid, r.size + crlfMessageSize(r.mime) - messageSize(r.mime));
    }
    const messages = metas.map((m) => ({
      uid: m.uid,
      size: wire.get(m.uid) ?? m.size,
      blobId: m.blobId,
      uniqueId: `${inbox.uidValidity}.${m.uid}`,
      deleted: false,
      retrieved: false,
    }));
    return new Maildrop(inbox.id, inbox.uidValidity, messages);
  }

  /** The message numbered `msg` (1-based), or null when there is none or it is marked deleted. */
  get(msg: number): MaildropMessage | null {
    const m = this.messages[msg - 1];
    return m && !m.deleted ? m : null;
  }

  /** True when `msg` exists but was marked deleted in this session. */
  isDeleted(msg: number): boolean {
    return this.messages[msg - 1]?.deleted === true;
  }

  /** STAT: count and octets of the messages not marked deleted (RFC 1939 §5). */
  stat(): { count: number; octets: number } {
    let count = 0;
    let octets = 0;
    for (const m of this.messages) {
      if (m.deleted) continue;
      count++;
      octets += m.size;
    }
    return { count, octets };
  }

  /** RSET: unmarks all deletions (RFC 1939 §5). Returns the number unmarked. */
  reset(): number {
    let n = 0;
    for (const m of this.messages) {
      if (m.deleted) n++;
      m.deleted = false;
    }
    return n;
  }

  /**
   * The UPDATE state (RFC 1939 §6): retrieved messages get \Seen (when `markSeen`), then the messages
   * marked deleted get \Deleted and only those are expunged — other \Deleted messages in INBOX, set
   * over IMAP, stay. The store publishes the change, so IMAP sessions see EXPUNGE.
   */
  async commit(store: Store, markSeen: boolean): Promise<UpdateResult> {
    const seen = markSeen ? this.messages.filter((m) => m.retrieved && !m.deleted).map((m) => m.uid) : [];
    const deleted = this.messages.filter((m) => m.deleted).map((m) => m.uid);
    if (seen.length > 0) await store.storeFlags(this.mailboxId, seen, 'add', ['\\Seen']);
    let expunged: number[] = [];
    if (deleted.length > 0) {
      await store.storeFlags(this.mailboxId, deleted, 'add', ['\\Deleted']);
      expunged = await store.expunge(this.mailboxId, deleted);
    }
    return { expunged, seen };
  }
}
