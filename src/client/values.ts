// Reading typed values out of tokenized response data (RFC 9051 §9: nstring, number, astring, flag lists).
// The response parser keeps NIL and numbers as atoms; these helpers apply the grammar the caller expects.
import type { ImapArg } from '../protocol/types.js';

export function isNil(a: ImapArg | undefined): boolean {
  return a === undefined || (a.type === 'atom' && a.value.toUpperCase() === 'NIL');
}

/** atom / quoted / literal → text (UTF-8); NIL → undefined. */
export function str(a: ImapArg | undefined): string | undefined {
  if (a === undefined || isNil(a)) return undefined;
  if (a.type === 'atom') return a.value;
  if (a.type === 'string') return a.value.toString('utf8');
  return undefined;
}

/** string bytes (nstring); NIL → null. */
export function bytes(a: ImapArg | undefined): Buffer | null {
  if (a === undefined || isNil(a)) return null;
  if (a.type === 'string') return a.value;
  if (a.type === 'atom') return Buffer.from(a.value, 'utf8');
  return null;
}

export function num(a: ImapArg | undefined): number | undefined {
  const s = a && a.type === 'atom' ? a.value : a && a.type === 'string' ? a.value.toString('latin1') : undefined;
  if (s === undefined || !/^\d{1,16}$/.test(s)) return undefined;
  return Number(s);
}

export function list(a: ImapArg | undefined): ImapArg[] | undefined {
  return a && a.type === 'list' ? a.items : undefined;
}

export function atomUpper(a: ImapArg | undefined): string | undefined {
  return a && a.type === 'atom' ? a.value.toUpperCase() : undefined;
}

/** A flag list `(\Seen $Junk)` → ['\\Seen', '$Junk']. */
export function flagList(a: ImapArg | undefined): string[] {
  const items = list(a) ?? [];
  const out: string[] = [];
  for (const it of items) {
    const s = str(it);
    if (s !== undefined) out.push(s);
  }
  return out;
}

/** Key/value pairs of a flat list: `(MESSAGES 3 UIDNEXT 9)` → Map. Keys upper-cased. */
export function pairs(items: readonly ImapArg[]): Map<string, ImapArg> {
  const m = new Map<string, ImapArg>();
  for (let i = 0; i + 1 < items.length; i += 2) {
    const k = str(items[i]);
    if (k !== undefined) m.set(k.toUpperCase(), items[i + 1]!);
  }
  return m;
}
