// SQLite side of THREADID assignment (src/store/threading.ts, RFC 8474 §5.2) and of the tombstone
// retention policy (RFC 7162 §5.3: expire the oldest expunge records, remember up to which mod-sequence).
// Tables come from migration 2 in schema.ts: thread_refs (Message-ID → thread, per user), thread_subjects
// (base subject → thread last seen with it), tombstone_times (when each expunge mod-sequence happened).
import type BetterSqlite3 from 'better-sqlite3';
import type { ThreadIndex } from '../threading.js';

/** Prepared statements shared by every per-user ThreadIndex of one database. */
export class ThreadStatements {
  private readonly getRef: BetterSqlite3.Statement;
  private readonly putRef: BetterSqlite3.Statement;
  private readonly getSubject: BetterSqlite3.Statement;
  private readonly putSubject: BetterSqlite3.Statement;

  constructor(db: BetterSqlite3.Database) {
    this.getRef = db.prepare('SELECT thread_id FROM thread_refs WHERE user_id = ? AND message_id = ?').pluck();
    this.putRef = db.prepare('INSERT OR IGNORE INTO thread_refs (user_id, message_id, thread_id) VALUES (?, ?, ?)');
    this.getSubject = db.prepare('SELECT thread_id FROM thread_subjects WHERE user_id = ? AND base = ? AND last_at >= ?').pluck();
    this.putSubject = db.prepare(
      `INSERT INTO thread_subjects (user_id, base, thread_id, last_at) VALUES (?, ?, ?, ?)
       ON CONFLICT (user_id, base) DO UPDATE SET thread_id = excluded.thread_id, last_at = excluded.last_at`,
    );
  }

  /** The index of one user; use it inside the transaction that inserts the messages. */
  forUser(userId: number): ThreadIndex {
    return {
      threadsOf: (ids) => ids.map((id) => (this.getRef.get(userId, id) as string | undefined) ?? null),
      link: (ids, threadId) => {
        for (const id of ids) this.putRef.run(userId, id, threadId);
      },
      threadOfSubject: (base, since) => (this.getSubject.get(userId, base, since) as string | undefined) ?? null,
      noteSubject: (base, threadId, at) => {
        this.putSubject.run(userId, base, threadId, at);
      },
    };
  }
}

export interface TombstonePolicy {
  /** Expunge records younger than this are always kept. Default 1 day. */
  minAgeMs: number;
  /** Expunge records older than this are dropped. Default 90 days. */
  maxAgeMs: number;
  /** Beyond this many records per mailbox, older ones (past minAgeMs) are dropped. Default 100,000. */
  maxPerMailbox: number;
}

export const DEFAULT_TOMBSTONE_POLICY: TombstonePolicy = {
  minAgeMs: 24 * 60 * 60 * 1000,
  maxAgeMs: 90 * 24 * 60 * 60 * 1000,
  maxPerMailbox: 100_000,
};

/**
 * For each mailbox, the mod-sequence up to which expunge records may go under `policy`: the newest
 * expunge older than maxAgeMs, or, for mailboxes over maxPerMailbox records, the one that keeps the newest
 * maxPerMailbox (never one younger than minAgeMs, so a session that has been selected for a while always
 * finds the expunges it has not announced yet; autologout is 30 minutes). The caller prunes through
 * SqliteStore.pruneTombstones, which records the point so later answers say "truncated".
 */
export function tombstonePrunePoints(db: BetterSqlite3.Database, policy: TombstonePolicy, now: number): Map<number, number> {
  const out = new Map<number, number>();
  const byAge = db
    .prepare('SELECT mailbox_id AS m, max(modseq) AS s FROM tombstone_times WHERE at < ? GROUP BY mailbox_id')
    .all(now - policy.maxAgeMs) as Array<{ m: number; s: number }>;
  for (const r of byAge) out.set(r.m, r.s);
  const crowded = db
    .prepare('SELECT mailbox_id AS m, count(*) AS n FROM expunged GROUP BY mailbox_id HAVING count(*) > ?')
    .all(policy.maxPerMailbox) as Array<{ m: number; n: number }>;
  const nth = db.prepare('SELECT modseq FROM expunged WHERE mailbox_id = ? ORDER BY modseq DESC LIMIT 1 OFFSET ?').pluck();
  const youngest = db.prepare('SELECT min(modseq) FROM tombstone_times WHERE mailbox_id = ? AND at >= ?').pluck();
  for (const r of crowded) {
    // The record just past the newest maxPerMailbox: prune up to it, but stop below the young ones.
    let upTo = nth.get(r.m, policy.maxPerMailbox) as number | undefined;
    if (upTo === undefined) continue;
    const young = youngest.get(r.m, now - policy.minAgeMs) as number | null;
    if (young !== null && young !== undefined && upTo >= young) upTo = young - 1;
    if (upTo > (out.get(r.m) ?? 0)) out.set(r.m, upTo);
  }
  return out;
}
