// Sequence sets and UID sets: RFC 9051 §9 (sequence-set, seq-range, seq-number, nz-number), §6.4.8
// (UID ranges: "*" is the largest UID in use, so "n:*" always contains it), RFC 5182 ("$" = the
// saved search result).
import { LIMITS } from './limits.js';
import type { NumRange, NumSet } from './types.js';

export class NumSetError extends Error {
  override readonly name = 'NumSetError';
}

const MAX_NZ = 4294967295;

function parseNumber(s: string): number | '*' {
  if (s === '*') return '*';
  if (!/^[1-9][0-9]{0,9}$/.test(s)) {
    if (/^0+$/.test(s)) throw new NumSetError('0 is not a valid message number');
    throw new NumSetError(`Invalid number "${s.slice(0, 20)}"`);
  }
  const n = Number(s);
  if (n > MAX_NZ) throw new NumSetError('Number out of range');
  return n;
}

/** Parses `1:3,5,7:*` or `$`. Throws NumSetError. */
export function parseNumSet(text: string, maxRanges: number = LIMITS.maxSeqRanges): NumSet {
  if (text === '$') return { searchRes: true };
  if (text.length === 0) throw new NumSetError('Empty sequence set');
  const ranges: NumRange[] = [];
  let start = 0;
  while (start <= text.length) {
    let comma = text.indexOf(',', start);
    if (comma < 0) comma = text.length;
    if (ranges.length >= maxRanges) throw new NumSetError('Too many ranges in sequence set');
    const item = text.slice(start, comma);
    const colon = item.indexOf(':');
    if (colon < 0) {
      const n = parseNumber(item);
      ranges.push({ start: n, end: n });
    } else {
      ranges.push({ start: parseNumber(item.slice(0, colon)), end: parseNumber(item.slice(colon + 1)) });
    }
    start = comma + 1;
  }
  return { ranges };
}

/** Sorted, merged, inclusive [lo, hi] ranges with `*` = max and a:b == b:a; numbers above max are
 *  clamped away (so `n:*` with n > max yields [max, max] when max > 0). */
export function resolveNumSet(set: NumSet, max: number): Array<[number, number]> {
  if ('searchRes' in set) throw new NumSetError('"$" must be resolved against the saved search result');
  const raw: Array<[number, number]> = [];
  for (const r of set.ranges) {
    const a = r.start === '*' ? max : r.start;
    const b = r.end === '*' ? max : r.end;
    const lo = Math.max(1, Math.min(a, b));
    const hi = Math.min(max, Math.max(a, b));
    if (lo <= hi) raw.push([lo, hi]);
  }
  return mergeRanges(raw);
}

/** Sorts and merges overlapping or adjacent ranges. */
export function mergeRanges(ranges: Array<[number, number]>): Array<[number, number]> {
  const sorted = ranges.slice().sort((x, y) => x[0] - y[0]);
  const out: Array<[number, number]> = [];
  for (const [lo, hi] of sorted) {
    const last = out[out.length - 1];
    if (last && lo <= last[1] + 1) {
      if (hi > last[1]) last[1] = hi;
    } else out.push([lo, hi]);
  }
  return out;
}

/** Is n in the set (with `*` = max)? */
export function numSetContains(set: NumSet, n: number, max: number): boolean {
  if ('searchRes' in set) throw new NumSetError('"$" must be resolved against the saved search result');
  for (const r of set.ranges) {
    const a = r.start === '*' ? max : r.start;
    const b = r.end === '*' ? max : r.end;
    if (n >= Math.min(a, b) && n <= Math.max(a, b)) return true;
  }
  return false;
}

/** Largest explicit number in the set (ignoring `*`), 0 if none. A sequence-number set whose largest
 *  number exceeds the mailbox size is an error (RFC 9051 §9 seq-number); a UID set is not. */
export function maxExplicit(set: NumSet): number {
  if ('searchRes' in set) return 0;
  let m = 0;
  for (const r of set.ranges) {
    if (r.start !== '*' && r.start > m) m = r.start;
    if (r.end !== '*' && r.end > m) m = r.end;
  }
  return m;
}

/** Ranges → `1:3,5,7:9`. */
export function formatRanges(ranges: ReadonlyArray<readonly [number, number]>): string {
  return ranges.map(([lo, hi]) => (lo === hi ? String(lo) : `${lo}:${hi}`)).join(',');
}

/** Numbers (any order, duplicates allowed) → compressed set `1:3,5,7:9`; '' for none. */
export function formatNumSet(nums: readonly number[]): string {
  if (nums.length === 0) return '';
  const sorted = Array.from(new Set(nums)).sort((a, b) => a - b);
  const ranges: Array<[number, number]> = [];
  for (const n of sorted) {
    const last = ranges[ranges.length - 1];
    if (last && n === last[1] + 1) last[1] = n;
    else ranges.push([n, n]);
  }
  return formatRanges(ranges);
}

/** Expands resolved ranges into numbers (callers bound the size). */
export function expandRanges(ranges: ReadonlyArray<readonly [number, number]>): number[] {
  const out: number[] = [];
  for (const [lo, hi] of ranges) for (let n = lo; n <= hi; n++) out.push(n);
  return out;
}
