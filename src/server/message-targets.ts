// Resolving a command's sequence set or UID set against the selected view (RFC 9051 §9 seq-number /
// seq-range / uid-set notes, §6.4.9 "a non-existent unique identifier is ignored", RFC 5182 "$").
// Sequence numbers are only meaningful here; everything past this point speaks UIDs (ARCHITECTURE.md
// decision 1).
import type { NumSet } from '../protocol/types.js';
import { bad } from './errors.js';
import type { SelectedView } from './selected-view.js';
import type { Session } from './session.js';

/**
 * The UIDs (ascending, without duplicates) a sequence set names in `view`.
 * - By sequence number: `*` is the number of messages; any number above it (or `*` in an empty
 *   mailbox) is a tagged BAD (RFC 9051 §9, note under seq-number).
 * - By UID: `*` is the highest UID (UIDNEXT if empty); UIDs that do not exist are ignored, and a
 *   range with `*` always includes the last message (RFC 9051 §6.4.9).
 * - `$`: the saved search result (UIDs), restricted to messages still in the view.
 * Ghosts (expunged, not yet announced) are included: the caller decides what to do with them.
 */
export function resolveTargets(view: SelectedView, session: Session, set: NumSet, byUid: boolean, lenient = false): number[] {
  const uids = view.allUids();
  if ('searchRes' in set) {
    const out: number[] = [];
    for (const uid of [...session.searchResult].sort((a, b) => a - b)) {
      if (view.seqOf(uid) > 0 && out[out.length - 1] !== uid) out.push(uid);
    }
    return out;
  }
  const parts: number[][] = [];
  if (byUid) {
    const star = uids.length > 0 ? uids[uids.length - 1]! : view.uidNext;
    for (const r of set.ranges) {
      const a = r.start === '*' ? star : r.start;
      const b = r.end === '*' ? star : r.end;
      const lo = Math.min(a, b);
      const hi = Math.max(a, b);
      const from = lowerBound(uids, lo);
      const to = lowerBound(uids, hi + 1);
      if (to > from) parts.push(uids.slice(from, to) as number[]);
    }
  } else {
    const exists = uids.length;
    for (const r of set.ranges) {
      const a = r.start === '*' ? exists : r.start;
      const b = r.end === '*' ? exists : r.end;
      let lo = Math.min(a, b);
      let hi = Math.max(a, b);
      if (lo < 1 || hi > exists) {
        if (!lenient) throw bad(exists === 0 ? 'The mailbox is empty' : `Invalid message sequence number (the mailbox has ${exists})`);
        lo = Math.max(lo, 1);
        hi = Math.min(hi, exists);
        if (lo > hi) continue;
      }
      parts.push(uids.slice(lo - 1, hi) as number[]);
    }
  }
  return mergeSorted(parts);
}

/** Index of the first element >= value in an ascending array. */
export function lowerBound(arr: readonly number[], value: number): number {
  let lo = 0;
  let hi = arr.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (arr[mid]! < value) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function mergeSorted(parts: number[][]): number[] {
  if (parts.length === 0) return [];
  if (parts.length === 1) return parts[0]!;
  const all = parts.flat().sort((a, b) => a - b);
  const out: number[] = [];
  for (const v of all) if (out[out.length - 1] !== v) out.push(v);
  return out;
}

/** Formats ascending numbers as a compact sequence set: 1:3,7,9:10 (RFC 9051 §9 sequence-set). */
export function compactSet(values: readonly number[]): string {
  const parts: string[] = [];
  let i = 0;
  while (i < values.length) {
    let j = i;
    while (j + 1 < values.length && values[j + 1] === values[j]! + 1) j++;
    parts.push(i === j ? String(values[i]) : `${values[i]}:${values[j]}`);
    i = j + 1;
  }
  return parts.join(',');
}

/** Splits an array into chunks (store calls are batched so big mailboxes stay flat in memory). */
export function* chunks<T>(items: readonly T[], size: number): Generator<T[]> {
  for (let i = 0; i < items.length; i += size) yield items.slice(i, i + size);
}
