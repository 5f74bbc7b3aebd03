// Small helpers shared by the command modules: message ranges (RFC 9051 §9 sequence-set) and COPYUID /
// APPENDUID data (RFC 4315 §3: uid-set pairs, in the same order on both sides).
import { formatNumSet } from '../../protocol/sequence-set.js';
import { expandUidSet } from '../connection.js';
import type { ParsedResponseCode } from '../../protocol/response-parser.js';
import type { Range } from '../types.js';
import { str, num } from '../values.js';

/** A Range as sequence-set text. */
export function formatRange(range: Range): string {
  if (typeof range === 'number') {
    if (!Number.isSafeInteger(range) || range < 1) throw new RangeError(`Invalid message number ${range}`);
    return String(range);
  }
  if (typeof range === 'string') {
    if (!/^(\$|[0-9*]+(:[0-9*]+)?(,[0-9*]+(:[0-9*]+)?)*)$/.test(range)) throw new RangeError(`Invalid sequence set "${range}"`);
    return range;
  }
  if (range.length === 0) throw new RangeError('Empty message set');
  for (const n of range) if (!Number.isSafeInteger(n) || n < 1) throw new RangeError(`Invalid message number ${n}`);
  return formatNumSet(range);
}

/** Source UID → destination UID from COPYUID's two sets; empty when they do not pair up. */
export function pairUids(src: string, dst: string): Map<number, number> {
  const a = expandUidSet(src);
  const b = expandUidSet(dst);
  const m = new Map<number, number>();
  if (a.length !== b.length) return m;
  for (let i = 0; i < a.length; i++) m.set(a[i]!, b[i]!);
  return m;
}

/** `[COPYUID uidvalidity src dst]` → { uidValidity, uidMap }. */
export function parseCopyUid(code: ParsedResponseCode | null): { uidValidity: number; uidMap: Map<number, number> } | null {
  if (!code || code.name !== 'COPYUID') return null;
  const v = num(code.args[0]);
  const src = str(code.args[1]);
  const dst = str(code.args[2]);
  if (v === undefined || src === undefined || dst === undefined) return null;
  return { uidValidity: v, uidMap: pairUids(src, dst) };
}
