// The rules of Store.restoreMessages (src/store/types.ts), shared by both backends: an import-only append
// that keeps the UIDs, mod-sequences and UIDVALIDITY a mailbox had in another store, for `petrel migrate`.
// RFC 9051 §2.3.1.1 (UIDs strictly ascending, never reused within one UIDVALIDITY; UIDNEXT), RFC 7162 §3.1
// (HIGHESTMODSEQ never goes back), §3.2.5.1 (a change log that cannot say every expunge answers "truncated").
import { MAX_UID } from './record-helpers.js';
import { StoreError, type RestoreItem, type RestoreState } from './types.js';

function whole(n: number, min: number, max: number): boolean {
  return Number.isSafeInteger(n) && n >= min && n <= max;
}

/** Throws CANNOT unless `state` and `items` obey the rules, given the highest UID the mailbox holds (0: none). */
export function checkRestore(state: RestoreState, items: readonly RestoreItem[], highestUid: number): void {
  const bad = (why: string): never => {
    throw new StoreError('CANNOT', `restore: ${why}`);
  };
  if (!whole(state.uidValidity, 1, MAX_UID)) bad(`UIDVALIDITY ${state.uidValidity} out of range`);
  if (!whole(state.uidNext, 1, MAX_UID + 1)) bad(`UIDNEXT ${state.uidNext} out of range`);
  if (!whole(state.highestModSeq, 1, Number.MAX_SAFE_INTEGER - 1)) bad(`HIGHESTMODSEQ ${state.highestModSeq} out of range`);
  let last = highestUid;
  for (const it of items) {
    if (!whole(it.uid, 1, MAX_UID) || it.uid <= last) bad(`UID ${it.uid} is not above ${last}`);
    if (it.uid >= state.uidNext) bad(`UID ${it.uid} is not below UIDNEXT ${state.uidNext}`);
    if (!whole(it.modSeq, 1, state.highestModSeq)) bad(`MODSEQ ${it.modSeq} of UID ${it.uid} is not in 1..${state.highestModSeq}`);
    if (!Number.isFinite(it.internalDate)) bad(`invalid internal date of UID ${it.uid}`);
    last = it.uid;
  }
}

export interface RestoredCounters {
  uidNext: number;
  highestModSeq: number;
  tombstonesPrunedTo: number;
  recentUid: number;
}

/**
 * The mailbox's counters after the restore, or null when the call changes nothing (no items, and the
 * mailbox already has the UIDVALIDITY and counters at least as high). Otherwise the write takes a
 * mod-sequence above the old HIGHESTMODSEQ (caches keyed on it see the change) and at least the source's.
 */
export function restoredCounters(
  mb: { uid_validity: number; uid_next: number; highest_modseq: number; tombstones_pruned_to: number; recent_uid: number },
  state: RestoreState,
  items: readonly RestoreItem[],
): RestoredCounters | null {
  if (
    items.length === 0 &&
    mb.uid_validity === state.uidValidity &&
    mb.uid_next >= state.uidNext &&
    mb.highest_modseq >= state.highestModSeq &&
    mb.tombstones_pruned_to >= state.highestModSeq
  ) {
    return null;
  }
  const uidNext = Math.max(mb.uid_next, state.uidNext);
  return {
    uidNext,
    highestModSeq: Math.max(mb.highest_modseq + 1, state.highestModSeq),
    tombstonesPrunedTo: Math.max(mb.tombstones_pruned_to, state.highestModSeq),
    // Restored messages are not new to anyone (RFC 9051 §2.3.2 \Recent).
    recentUid: Math.max(mb.recent_uid, uidNext),
  };
}
