// A session's view of its selected mailbox (ARCHITECTURE.md decision 1): the seq↔UID map, the flags the
// client was last told, and the queue of changes not yet announced. RFC 9051 §7.5.1 / §7.4.1 (EXISTS,
// EXPUNGE), §5.5 and §7.5.2's rule that no EXPUNGE is sent while a FETCH, STORE or SEARCH (by sequence
// number) runs. Pending updates are coalesced: a message added and expunged between two announcements is
// never shown; only the last flag state per UID is sent. The keywords the client was told of with FLAGS are
// tracked too: a keyword new to the mailbox is announced with a new FLAGS response before any FETCH or EXISTS
// shows it (RFC 9051 §7.3.5 / RFC 3501 §7.2.6: the client records the FLAGS update; imaptest checks
// "Keyword used without being in FLAGS").
import type { ChangeSet, MailboxRecord, MessageMeta } from '../store/types.js';

export interface ViewUpdate {
  /** Untagged lines in order, already as response value lists (without the leading "*"). */
  expunged: number[]; // sequence numbers, each valid at the moment it is sent
  vanished: number[]; // uids of the expunged (for QRESYNC sessions later)
  exists: number | null;
  recent: number | null;
  flagChanges: Array<{ seq: number; uid: number; flags: string[]; modSeq: number }>;
}

export class SelectedView {
  /** Ascending uids the client knows, index + 1 = sequence number. Includes pending expunges. */
  private uids: number[] = [];
  private readonly flags = new Map<number, string[]>();
  private readonly modSeqs = new Map<number, number>();
  /** Expunged in the store, still shown to the client until announced. */
  private readonly ghosts = new Set<number>();
  /** UIDs whose flags changed since the client was told. */
  private readonly dirtyFlags = new Set<number>();
  /** New messages not yet announced with EXISTS. */
  private pendingNew: MessageMeta[] = [];
  readonly recent = new Set<number>();
  /** Keywords in the FLAGS list the client has (lower case → first spelling), in announcement order. */
  private readonly keywords = new Map<string, string>();
  /** A keyword was learnt that the client has not been told of yet. */
  private keywordsChanged = false;
  highestModSeq: number;
  uidNext: number;

  constructor(
    readonly mailbox: MailboxRecord,
    readonly readOnly: boolean,
    messages: MessageMeta[],
    recentFrom: number | null,
  ) {
    this.highestModSeq = mailbox.highestModSeq;
    this.uidNext = mailbox.uidNext;
    for (const m of messages) {
      this.uids.push(m.uid);
      this.flags.set(m.uid, m.flags);
      this.modSeqs.set(m.uid, m.modSeq);
      if (recentFrom !== null && m.uid >= recentFrom) this.recent.add(m.uid);
      if (m.modSeq > this.highestModSeq) this.highestModSeq = m.modSeq;
      this.learnKeywords(m.flags);
    }
    // SELECT/EXAMINE's FLAGS response lists exactly these (src/server/commands/select.ts).
    this.keywordsChanged = false;
  }

  /** Notes keywords of `flags` the client has not been told of; true if there were any. */
  learnKeywords(flags: readonly string[]): boolean {
    let added = false;
    for (const f of flags) {
      if (f.startsWith('\\')) continue;
      const key = f.toLowerCase();
      if (!this.keywords.has(key)) {
        this.keywords.set(key, f);
        added = true;
      }
    }
    if (added) this.keywordsChanged = true;
    return added;
  }

  /** The full keyword list when it grew since the client was last told (then it counts as told), else null. */
  takeKeywordChange(): string[] | null {
    if (!this.keywordsChanged) return null;
    this.keywordsChanged = false;
    return [...this.keywords.values()];
  }

  get exists(): number {
    return this.uids.length;
  }

  get mailboxId(): number {
    return this.mailbox.id;
  }

  /** All uids in sequence order (ghosts included: the client still counts them). */
  allUids(): readonly number[] {
    return this.uids;
  }

  uidAt(seq: number): number | undefined {
    return this.uids[seq - 1];
  }

  /** Sequence number of a uid, or 0. Binary search: uids are ascending. */
  seqOf(uid: number): number {
    let lo = 0;
    let hi = this.uids.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const v = this.uids[mid]!;
      if (v === uid) return mid + 1;
      if (v < uid) lo = mid + 1;
      else hi = mid - 1;
    }
    return 0;
  }

  isGhost(uid: number): boolean {
    return this.ghosts.has(uid);
  }

  flagsOf(uid: number): string[] | undefined {
    return this.flags.get(uid);
  }

  modSeqOf(uid: number): number | undefined {
    return this.modSeqs.get(uid);
  }

  get maxUid(): number {
    return this.uids.length ? this.uids[this.uids.length - 1]! : 0;
  }

  /** The session itself changed flags and told (or, for .SILENT, deliberately did not tell) the client. */
  noteOwnFlags(uid: number, flags: string[], modSeq: number): void {
    if (!this.flags.has(uid)) return;
    this.flags.set(uid, flags);
    this.modSeqs.set(uid, modSeq);
    this.dirtyFlags.delete(uid);
    this.learnKeywords(flags);
  }

  /** The session itself expunged these uids and will announce them now. */
  noteOwnExpunge(uids: number[]): void {
    for (const uid of uids) if (this.flags.has(uid)) this.ghosts.add(uid);
  }

  /** Merges a change set from the store's log into the pending queue. */
  absorb(changes: ChangeSet): void {
    const expunged = new Set(changes.expunged);
    const known = this.maxUid;
    const pendingByUid = new Map(this.pendingNew.map((m) => [m.uid, m] as const));
    for (const uid of expunged) {
      if (this.flags.has(uid)) this.ghosts.add(uid);
      pendingByUid.delete(uid);
    }
    for (const m of changes.changed) {
      if (expunged.has(m.uid)) continue;
      if (this.flags.has(m.uid)) {
        this.takeFlagChange(m);
      } else if (m.uid > known) {
        pendingByUid.set(m.uid, m);
      }
    }
    this.pendingNew = [...pendingByUid.values()].sort((a, b) => a.uid - b.uid);
    if (changes.highestModSeq > this.highestModSeq) this.highestModSeq = changes.highestModSeq;
    if (changes.uidNext > this.uidNext) this.uidNext = changes.uidNext;
  }

  /**
   * Takes only the flag changes of messages the client knows and that still exist, leaving expunges and
   * new messages for the next announcement. Run before a command reads flags from the view, so FETCH
   * FLAGS or SEARCH never answer with flags older than a STORE another session already completed.
   * The mod-sequence of the view is not moved: the next absorb() re-reads the same range.
   */
  absorbFlagChanges(changes: ChangeSet): void {
    const expunged = new Set(changes.expunged);
    for (const m of changes.changed) {
      if (!expunged.has(m.uid) && this.flags.has(m.uid)) this.takeFlagChange(m);
    }
  }

  private takeFlagChange(m: MessageMeta): void {
    if (this.ghosts.has(m.uid)) return;
    // Never go back to an older state than the one the view already holds (e.g. from the session's own STORE).
    if ((this.modSeqs.get(m.uid) ?? 0) > m.modSeq) return;
    const before = this.flags.get(m.uid)!;
    this.modSeqs.set(m.uid, m.modSeq);
    if (!sameFlags(before, m.flags)) {
      this.flags.set(m.uid, m.flags);
      this.dirtyFlags.add(m.uid);
      this.learnKeywords(m.flags);
    }
  }

  hasPending(allowExpunge: boolean): boolean {
    return (allowExpunge && this.ghosts.size > 0) || this.pendingNew.length > 0 || this.dirtyFlags.size > 0;
  }

  /**
   * Takes what is to be announced now. With allowExpunge false (during FETCH/STORE/SEARCH by sequence
   * number), expunged messages stay in place as ghosts and only EXISTS and flag changes are produced.
   * `recentFrom` marks new messages at or above it as \Recent for this session (null: none are).
   */
  takeUpdates(allowExpunge: boolean, recentFrom: number | null): ViewUpdate {
    const update: ViewUpdate = { expunged: [], vanished: [], exists: null, recent: null, flagChanges: [] };
    if (allowExpunge && this.ghosts.size > 0) {
      // Announce from the highest sequence number down, so each number is valid when sent and the
      // remaining ones need no renumbering.
      const gone = [...this.ghosts].sort((a, b) => b - a);
      for (const uid of gone) {
        const seq = this.seqOf(uid);
        if (seq === 0) continue;
        update.expunged.push(seq);
        update.vanished.push(uid);
      }
      const goneSet = this.ghosts;
      this.uids = this.uids.filter((u) => !goneSet.has(u));
      for (const uid of goneSet) {
        this.flags.delete(uid);
        this.modSeqs.delete(uid);
        this.dirtyFlags.delete(uid);
        this.recent.delete(uid);
      }
      this.ghosts.clear();
      update.vanished.sort((a, b) => a - b);
    }
    if (this.pendingNew.length > 0) {
      for (const m of this.pendingNew) {
        if (m.uid <= this.maxUid) continue;
        this.uids.push(m.uid);
        this.flags.set(m.uid, m.flags);
        this.modSeqs.set(m.uid, m.modSeq);
        if (recentFrom !== null && m.uid >= recentFrom) this.recent.add(m.uid);
        this.learnKeywords(m.flags);
      }
      this.pendingNew = [];
      update.exists = this.uids.length;
    }
    // RECENT accompanies EXISTS (RFC 3501 §7.3.2); after expunges alone the client adjusts its own count.
    if (update.exists !== null) update.recent = this.recent.size;
    if (this.dirtyFlags.size > 0) {
      const dirty = [...this.dirtyFlags].sort((a, b) => a - b);
      this.dirtyFlags.clear();
      for (const uid of dirty) {
        const seq = this.seqOf(uid);
        if (seq === 0 || this.ghosts.has(uid)) continue;
        update.flagChanges.push({ seq, uid, flags: this.flags.get(uid)!, modSeq: this.modSeqs.get(uid) ?? 0 });
      }
    }
    return update;
  }

  /** Does this view have new messages waiting that need a \Recent claim? */
  hasPendingNew(): boolean {
    return this.pendingNew.length > 0;
  }
}

export function sameFlags(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false;
  const set = new Set(a.map((f) => f.toLowerCase()));
  for (const f of b) if (!set.has(f.toLowerCase())) return false;
  return true;
}
