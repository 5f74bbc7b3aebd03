// Reading typed arguments out of the tokenizer's ImapArg list (RFC 9051 §9: astring, nstring, flag-list,
// date-time, sequence-set, mailbox). Every mismatch becomes a tagged BAD with a short reason.
import type { ImapArg, NumSet } from '../protocol/types.js';
import { parseNumSet } from '../protocol/sequence-set.js';
import { bad, no } from './errors.js';
import { mailboxFromWire } from './mailbox-names.js';

const ATOM_RE = /^[^\x00-\x20\x7f(){%*"\\\]]+$/;

export class ArgReader {
  private pos = 0;
  constructor(
    readonly args: ImapArg[],
    readonly utf8: boolean,
  ) {}

  get remaining(): number {
    return this.args.length - this.pos;
  }

  atEnd(): boolean {
    return this.pos >= this.args.length;
  }

  peek(): ImapArg | undefined {
    return this.args[this.pos];
  }

  next(what: string): ImapArg {
    const a = this.args[this.pos];
    if (!a) throw bad(`Missing ${what}`);
    this.pos++;
    return a;
  }

  end(): void {
    if (!this.atEnd()) throw bad('Too many arguments');
  }

  /** An atom, compared case-insensitively by callers; returned as sent. */
  atom(what = 'argument'): string {
    const a = this.next(what);
    if (a.type !== 'atom') throw bad(`Expected ${what}`);
    return a.value;
  }

  /** astring: atom or string (RFC 9051 §9). */
  astring(what = 'argument'): string {
    return this.astringBytes(what).toString('utf8');
  }

  astringBytes(what = 'argument'): Buffer {
    const a = this.next(what);
    if (a.type === 'atom') return Buffer.from(a.value, 'utf8');
    if (a.type === 'string') return a.value;
    throw bad(`Expected ${what} as atom or string`);
  }

  /** A string that may be NIL → null. */
  nstring(what = 'argument'): string | null {
    const a = this.peek();
    if (a && a.type === 'atom' && a.value.toUpperCase() === 'NIL') {
      this.pos++;
      return null;
    }
    return this.astring(what);
  }

  mailbox(): string {
    const a = this.next('mailbox name');
    if (a.type === 'atom') return mailboxFromWire(a.value, this.utf8);
    if (a.type === 'string') return mailboxFromWire(a.value, this.utf8);
    throw bad('Expected mailbox name');
  }

  /** A LIST pattern (list-mailbox: may contain * and %). Decoded like a mailbox name. */
  pattern(): string {
    const a = this.next('mailbox pattern');
    if (a.type === 'atom') return mailboxFromWire(a.value, this.utf8);
    if (a.type === 'string') return mailboxFromWire(a.value, this.utf8);
    throw bad('Expected mailbox pattern');
  }

  number(what = 'number'): number {
    const s = this.atom(what);
    return parseNumber(s, what);
  }

  list(what = 'list'): ImapArg[] {
    const a = this.next(what);
    if (a.type !== 'list') throw bad(`Expected ${what} in parentheses`);
    return a.items;
  }

  isList(): boolean {
    return this.peek()?.type === 'list';
  }

  isAtom(value?: string): boolean {
    const a = this.peek();
    if (!a || a.type !== 'atom') return false;
    return value === undefined || a.value.toUpperCase() === value.toUpperCase();
  }

  sequenceSet(): NumSet {
    const s = this.atom('sequence set');
    try {
      return parseNumSet(s);
    } catch (err) {
      throw bad(`Invalid sequence set: ${(err as Error).message}`);
    }
  }
}

export function parseNumber(s: string, what = 'number'): number {
  if (!/^\d{1,20}$/.test(s)) throw bad(`Invalid ${what}`);
  const n = Number(s);
  if (!Number.isSafeInteger(n)) throw bad(`${what} out of range`);
  return n;
}

export function isAtomText(s: string): boolean {
  return ATOM_RE.test(s);
}

/** Flags of a STORE/APPEND flag list: system flags (known only) or keywords (atoms). RFC 9051 §2.3.2. */
export function parseFlagList(items: ImapArg[], allowRecent = false): string[] {
  const out: string[] = [];
  const seen = new Set<string>();
  for (const it of items) {
    if (it.type !== 'atom') throw bad('Flags must be atoms');
    const flag = canonicalFlag(it.value, allowRecent);
    const key = flag.toLowerCase();
    if (!seen.has(key)) {
      seen.add(key);
      out.push(flag);
    }
  }
  return out;
}

const SYSTEM: Record<string, string> = {
  '\\seen': '\\Seen',
  '\\answered': '\\Answered',
  '\\flagged': '\\Flagged',
  '\\deleted': '\\Deleted',
  '\\draft': '\\Draft',
};

export function canonicalFlag(value: string, allowRecent = false): string {
  if (value.startsWith('\\')) {
    const sys = SYSTEM[value.toLowerCase()];
    if (sys) return sys;
    if (allowRecent && value.toLowerCase() === '\\recent') return '\\Recent';
    throw bad(`Invalid system flag ${value}`);
  }
  if (!/^[^\x00-\x20\x7f(){%*"\\\]]+$/.test(value)) throw bad(`Invalid keyword ${value}`);
  // An implementation limit, not a syntax error (flag-keyword is any atom): NO [LIMIT] (RFC 5530 §3).
  if (value.length > 100) throw no('Keyword too long (at most 100 characters)', 'LIMIT');
  return value;
}
