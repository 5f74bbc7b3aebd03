// PARTIAL (RFC 9394): paged SEARCH results (the PARTIAL search return option, §3.1/§3.2) and the PARTIAL
// FETCH modifier (§3.3, combinable with CHANGEDSINCE, §3.4). The protocol layer's parsers know neither,
// so the server takes PARTIAL out of the RETURN list / modifier list before handing the rest on.
import type { ImapArg } from '../protocol/types.js';
import { bad } from './errors.js';

/** A partial-range (RFC 9394 §4): positions counted from the first result (1) or the last (-1). */
export interface PartialRange {
  /** true for partial-range-last (-N:-M). */
  fromEnd: boolean;
  /** 1-based, lo <= hi. */
  lo: number;
  hi: number;
  /** As the client wrote it, normalised ("-1:-100", "1:500"); echoed in the ESEARCH PARTIAL data. */
  text: string;
}

const MAX_INDEX = 0xffffffff;

/** Parses `nz-number ":" nz-number` or `"-" nz-number ":" "-" nz-number`; "500:400" equals "400:500". */
export function parsePartialRange(a: ImapArg | undefined): PartialRange {
  if (!a || a.type !== 'atom') throw bad('PARTIAL needs a range');
  const m = /^(-?)([1-9]\d{0,9}):(-?)([1-9]\d{0,9})$/.exec(a.value);
  if (!m || m[1] !== m[3]) throw bad('Invalid PARTIAL range');
  const x = Number(m[2]);
  const y = Number(m[4]);
  if (x > MAX_INDEX || y > MAX_INDEX) throw bad('PARTIAL range out of range');
  return { fromEnd: m[1] === '-', lo: Math.min(x, y), hi: Math.max(x, y), text: a.value };
}

/** The items of `results` (ascending) the range selects, in ascending order. */
export function applyPartial<T>(results: readonly T[], range: PartialRange): T[] {
  const n = results.length;
  if (!range.fromEnd) return results.slice(Math.min(range.lo - 1, n), Math.min(range.hi, n));
  // -1 is the last result: -lo..-hi is [n - hi, n - lo] in 0-based indexes.
  const start = Math.max(n - range.hi, 0);
  const end = Math.max(n - range.lo + 1, 0);
  return results.slice(start, end);
}

/**
 * Takes `PARTIAL range` out of a list of items (SEARCH RETURN options or FETCH modifiers). Returns the
 * other items and the range (null when absent). Two PARTIALs are a BAD (RFC 9394 §3.1).
 */
export function extractPartial(items: readonly ImapArg[]): { rest: ImapArg[]; partial: PartialRange | null } {
  const rest: ImapArg[] = [];
  let partial: PartialRange | null = null;
  for (let i = 0; i < items.length; i++) {
    const it = items[i]!;
    if (it.type === 'atom' && it.value.toUpperCase() === 'PARTIAL') {
      if (partial) throw bad('PARTIAL given twice');
      partial = parsePartialRange(items[++i]);
      continue;
    }
    rest.push(it);
  }
  return { rest, partial };
}
