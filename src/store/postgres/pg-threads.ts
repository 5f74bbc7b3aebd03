// PostgreSQL side of THREADID assignment (src/store/threading.ts, RFC 8474 §5.2) and of the tombstone
// retention policy (RFC 7162 §5.3), mirroring src/store/sqlite/thread-index.ts. assignThread() wants a
// synchronous ThreadIndex, so the rows one APPEND can touch (the Message-IDs and base subjects of its
// messages) are loaded in two queries first, assignThread runs on that in-memory copy (later messages of
// the batch see the links of earlier ones), and the new links are written back in two statements. The
// caller holds a per-user advisory lock meanwhile, so two nodes appending replies to one thread at once
// agree on its id.
import type pg from 'pg';
import type { TombstonePolicy } from '../sqlite/thread-index.js';
import type { ThreadIndex, ThreadKeys } from '../threading.js';
import { SUBJECT_WINDOW_MS } from '../threading.js';

/** First key of the advisory locks that serialise threading per user (the second is the user id). */
const THREAD_LOCK_CLASS = 0x7468; // 'th'

export class PgThreadBatch implements ThreadIndex {
  private readonly refs = new Map<string, string>();
  private readonly subjects = new Map<string, { threadId: string; at: number }>();
  private readonly newRefs = new Map<string, string>();
  private readonly newSubjects = new Map<string, { threadId: string; at: number }>();

  private constructor(
    private readonly c: pg.ClientBase,
    private readonly userId: number,
  ) {}

  /** Locks threading for the user (until the transaction ends) and loads what `keys` can look up. */
  static async load(c: pg.ClientBase, userId: number, keys: readonly ThreadKeys[], now: number): Promise<PgThreadBatch> {
    const batch = new PgThreadBatch(c, userId);
    await c.query('SELECT pg_advisory_xact_lock($1, $2)', [THREAD_LOCK_CLASS, userId % 0x7fffffff]);
    const ids = new Set<string>();
    const bases = new Set<string>();
    for (const k of keys) {
      if (k.messageId) ids.add(k.messageId);
      for (const p of k.parents) ids.add(p);
      if (k.baseSubject !== null) bases.add(k.baseSubject);
    }
    if (ids.size > 0) {
      const r = await c.query<{ message_id: string; thread_id: string }>(
        'SELECT message_id, thread_id FROM thread_refs WHERE user_id = $1 AND message_id = ANY($2::text[])',
        [userId, [...ids]],
      );
      for (const row of r.rows) batch.refs.set(row.message_id, row.thread_id);
    }
    if (bases.size > 0) {
      const r = await c.query<{ base: string; thread_id: string; last_at: number }>(
        'SELECT base, thread_id, last_at FROM thread_subjects WHERE user_id = $1 AND base = ANY($2::text[]) AND last_at >= $3',
        [userId, [...bases], now - SUBJECT_WINDOW_MS],
      );
      for (const row of r.rows) batch.subjects.set(row.base, { threadId: row.thread_id, at: row.last_at });
    }
    return batch;
  }

  threadsOf(messageIds: readonly string[]): Array<string | null> {
    return messageIds.map((id) => this.refs.get(id) ?? null);
  }

  link(messageIds: readonly string[], threadId: string): void {
    for (const id of messageIds) {
      if (this.refs.has(id)) continue;
      this.refs.set(id, threadId);
      this.newRefs.set(id, threadId);
    }
  }

  threadOfSubject(baseSubject: string, since: number): string | null {
    const s = this.subjects.get(baseSubject);
    return s && s.at >= since ? s.threadId : null;
  }

  noteSubject(baseSubject: string, threadId: string, at: number): void {
    this.subjects.set(baseSubject, { threadId, at });
    this.newSubjects.set(baseSubject, { threadId, at });
  }

  /** Writes the links and subjects this batch learnt. */
  async save(): Promise<void> {
    if (this.newRefs.size > 0) {
      await this.c.query(
        `INSERT INTO thread_refs (user_id, message_id, thread_id)
         SELECT $1, v.id, v.thread FROM unnest($2::text[], $3::text[]) AS v(id, thread) ON CONFLICT DO NOTHING`,
        [this.userId, [...this.newRefs.keys()], [...this.newRefs.values()]],
      );
    }
    if (this.newSubjects.size > 0) {
      const entries = [...this.newSubjects];
      await this.c.query(
        `INSERT INTO thread_subjects (user_id, base, thread_id, last_at)
         SELECT $1, v.base, v.thread, v.at FROM unnest($2::text[], $3::text[], $4::bigint[]) AS v(base, thread, at)
         ON CONFLICT (user_id, base) DO UPDATE SET thread_id = EXCLUDED.thread_id, last_at = EXCLUDED.last_at`,
        [this.userId, entries.map((e) => e[0]), entries.map((e) => e[1].threadId), entries.map((e) => e[1].at)],
      );
    }
  }
}

/**
 * For each mailbox, the mod-sequence up to which expunge records may go under `policy` (same rules as
 * tombstonePrunePoints in src/store/sqlite/thread-index.ts): the newest expunge older than maxAgeMs, or, for
 * mailboxes over maxPerMailbox records, the one that keeps the newest maxPerMailbox, never reaching records
 * younger than minAgeMs.
 */
export async function pgTombstonePrunePoints(c: pg.ClientBase, policy: TombstonePolicy, now: number): Promise<Map<number, number>> {
  const out = new Map<number, number>();
  const byAge = await c.query<{ m: number; s: number }>(
    'SELECT mailbox_id AS m, max(modseq) AS s FROM tombstone_times WHERE at < $1 GROUP BY mailbox_id',
    [now - policy.maxAgeMs],
  );
  for (const r of byAge.rows) out.set(r.m, r.s);
  const crowded = await c.query<{ m: number; upto: number | null; young: number | null }>(
    `SELECT e.mailbox_id AS m,
       (SELECT modseq FROM expunged x WHERE x.mailbox_id = e.mailbox_id ORDER BY modseq DESC LIMIT 1 OFFSET $1) AS upto,
       (SELECT min(modseq) FROM tombstone_times t WHERE t.mailbox_id = e.mailbox_id AND t.at >= $2) AS young
     FROM expunged e GROUP BY e.mailbox_id HAVING count(*) > $1`,
    [policy.maxPerMailbox, now - policy.minAgeMs],
  );
  for (const r of crowded.rows) {
    let upTo = r.upto;
    if (upTo === null) continue;
    if (r.young !== null && upTo >= r.young) upTo = r.young - 1;
    if (upTo > (out.get(r.m) ?? 0)) out.set(r.m, upTo);
  }
  return out;
}
