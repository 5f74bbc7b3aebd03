// SEARCH criteria → typed tree. RFC 9051 §6.4.4 and RFC 3501 §6.4.4 (search keys; NEW/OLD/RECENT are
// IMAP4rev1 only but harmless to parse), RFC 4731 (RETURN (MIN MAX ALL COUNT)), RFC 5182 (SAVE, "$"),
// RFC 7162 §3.1.5 (MODSEQ with optional entry name and type), RFC 8474 §5.3/§5.4 (EMAILID, THREADID),
// RFC 8514 §4.3 (SAVEDBEFORE/SAVEDON/SAVEDSINCE/SAVEDATESUPPORTED), RFC 5032 (OLDER/YOUNGER),
// RFC 9051 §6.4.4 / RFC 6855 (CHARSET; we accept US-ASCII and UTF-8 and answer [BADCHARSET] otherwise).
import { parseDate, type CalendarDate } from './dates.js';
import { parseNumSet } from './sequence-set.js';
import type { ImapArg, NumSet } from './types.js';

export class SearchSyntaxError extends Error {
  override readonly name = 'SearchSyntaxError';
  constructor(
    message: string,
    /** The charset is unknown: answer NO [BADCHARSET (US-ASCII UTF-8)] (RFC 9051 §6.4.4). */
    readonly badCharset = false,
  ) {
    super(message);
  }
}

export const SEARCH_CHARSETS = ['US-ASCII', 'UTF-8'] as const;

export type SearchKey =
  | { type: 'all' }
  /** A system flag or keyword; `set: false` for UNSEEN, UNKEYWORD, ... */
  | { type: 'flag'; flag: string; set: boolean }
  /** BCC, CC, FROM, TO, SUBJECT and HEADER: substring of a header field's value ('' matches presence). */
  | { type: 'header'; field: string; value: string }
  | { type: 'body'; value: string }
  | { type: 'text'; value: string }
  /** internal = INTERNALDATE, sent = Date: header, saved = SAVEDATE (RFC 8514). */
  | { type: 'date'; field: 'internal' | 'sent' | 'saved'; op: 'before' | 'on' | 'since'; date: CalendarDate }
  | { type: 'savedatesupported' }
  /** OLDER / YOUNGER n seconds (RFC 5032). */
  | { type: 'age'; op: 'older' | 'younger'; seconds: number }
  | { type: 'size'; op: 'larger' | 'smaller'; size: number }
  | { type: 'seq'; set: NumSet }
  | { type: 'uid'; set: NumSet }
  | { type: 'modseq'; modSeq: number; entry?: { name: string; kind: 'priv' | 'shared' | 'all' } }
  | { type: 'emailid'; id: string }
  | { type: 'threadid'; id: string }
  | { type: 'not'; key: SearchKey }
  | { type: 'or'; left: SearchKey; right: SearchKey }
  | { type: 'and'; keys: SearchKey[] };

export type SearchReturnOption = 'MIN' | 'MAX' | 'ALL' | 'COUNT' | 'SAVE';

export interface SearchProgram {
  /** null when no RETURN was given (plain SEARCH response); [] is never returned — RETURN () means ALL. */
  returnOptions: SearchReturnOption[] | null;
  /** Upper-cased charset, null if none given. */
  charset: string | null;
  /** The criteria (an 'and' of the top-level keys; a single key is returned as is). */
  key: SearchKey;
}

const FLAG_KEYS: Record<string, [string, boolean]> = {
  ANSWERED: ['\\Answered', true],
  DELETED: ['\\Deleted', true],
  DRAFT: ['\\Draft', true],
  FLAGGED: ['\\Flagged', true],
  SEEN: ['\\Seen', true],
  RECENT: ['\\Recent', true],
  UNANSWERED: ['\\Answered', false],
  UNDELETED: ['\\Deleted', false],
  UNDRAFT: ['\\Draft', false],
  UNFLAGGED: ['\\Flagged', false],
  UNSEEN: ['\\Seen', false],
};

const HEADER_KEYS: Record<string, string> = { BCC: 'Bcc', CC: 'Cc', FROM: 'From', TO: 'To', SUBJECT: 'Subject' };

const DATE_KEYS: Record<string, [SearchKeyDateField, 'before' | 'on' | 'since']> = {
  BEFORE: ['internal', 'before'],
  ON: ['internal', 'on'],
  SINCE: ['internal', 'since'],
  SENTBEFORE: ['sent', 'before'],
  SENTON: ['sent', 'on'],
  SENTSINCE: ['sent', 'since'],
  SAVEDBEFORE: ['saved', 'before'],
  SAVEDON: ['saved', 'on'],
  SAVEDSINCE: ['saved', 'since'],
};
type SearchKeyDateField = 'internal' | 'sent' | 'saved';

const MAX_DEPTH = 64;

export interface SearchParseOptions {
  /** Allow RETURN (ESEARCH / IMAP4rev2). Default true. */
  allowReturn?: boolean;
}

/** Parses the arguments of SEARCH / UID SEARCH. Throws SearchSyntaxError. */
export function parseSearch(args: readonly ImapArg[], opts: SearchParseOptions = {}): SearchProgram {
  let pos = 0;
  let returnOptions: SearchReturnOption[] | null = null;
  const first = args[pos];
  if (first && isAtom(first, 'RETURN')) {
    if (opts.allowReturn === false) throw new SearchSyntaxError('RETURN is not supported');
    const list = args[pos + 1];
    if (!list || list.type !== 'list') throw new SearchSyntaxError('RETURN needs a list of options');
    returnOptions = parseReturnOptions(list.items);
    pos += 2;
  }
  let charset: string | null = null;
  const cs = args[pos];
  if (cs && isAtom(cs, 'CHARSET')) {
    const v = args[pos + 1];
    if (!v || (v.type !== 'atom' && v.type !== 'string')) throw new SearchSyntaxError('CHARSET needs a name');
    charset = (v.type === 'atom' ? v.value : v.value.toString('latin1')).toUpperCase();
    if (!(SEARCH_CHARSETS as readonly string[]).includes(charset)) {
      throw new SearchSyntaxError(`Unsupported charset ${charset.slice(0, 40)}`, true);
    }
    pos += 2;
  }
  const parser = new KeyParser(args.slice(pos));
  const keys: SearchKey[] = [];
  while (!parser.atEnd()) keys.push(parser.key(0));
  if (keys.length === 0) throw new SearchSyntaxError('Missing search criteria');
  return { returnOptions, charset, key: keys.length === 1 ? keys[0]! : { type: 'and', keys } };
}

/** search-return-opts (RFC 4731 §3.1, RFC 5182 §2.1). RETURN () means RETURN (ALL). */
export function parseReturnOptions(items: readonly ImapArg[]): SearchReturnOption[] {
  const out: SearchReturnOption[] = [];
  for (const it of items) {
    if (it.type !== 'atom') throw new SearchSyntaxError('Invalid RETURN option');
    const up = it.value.toUpperCase();
    if (up !== 'MIN' && up !== 'MAX' && up !== 'ALL' && up !== 'COUNT' && up !== 'SAVE') {
      throw new SearchSyntaxError(`Unknown RETURN option ${it.value.slice(0, 30)}`);
    }
    if (!out.includes(up)) out.push(up);
  }
  return out.length === 0 ? ['ALL'] : out;
}

function isAtom(a: ImapArg, word: string): boolean {
  return a.type === 'atom' && a.value.toUpperCase() === word;
}

class KeyParser {
  private pos = 0;
  constructor(private readonly args: readonly ImapArg[]) {}

  atEnd(): boolean {
    return this.pos >= this.args.length;
  }

  private next(what: string): ImapArg {
    const a = this.args[this.pos];
    if (!a) throw new SearchSyntaxError(`Missing ${what}`);
    this.pos++;
    return a;
  }

  private astring(what: string): string {
    const a = this.next(what);
    if (a.type === 'atom') return a.value;
    if (a.type === 'string') return a.value.toString('utf8');
    throw new SearchSyntaxError(`Expected ${what}`);
  }

  private atom(what: string): string {
    const a = this.next(what);
    if (a.type !== 'atom') throw new SearchSyntaxError(`Expected ${what}`);
    return a.value;
  }

  private number(what: string, max = 4294967295): number {
    const s = this.atom(what);
    if (!/^\d{1,20}$/.test(s)) throw new SearchSyntaxError(`Invalid ${what}`);
    const n = Number(s);
    if (!Number.isSafeInteger(n) || n > max) throw new SearchSyntaxError(`${what} out of range`);
    return n;
  }

  private date(): CalendarDate {
    const a = this.next('date');
    const text = a.type === 'atom' ? a.value : a.type === 'string' ? a.value.toString('latin1') : null;
    if (text === null) throw new SearchSyntaxError('Expected a date');
    try {
      return parseDate(text);
    } catch {
      throw new SearchSyntaxError(`Invalid date ${text.slice(0, 30)}`);
    }
  }

  private flagKeyword(what: string): string {
    const kw = this.atom(what);
    // RFC 9051 §9 flag-keyword = "$MDNSent" / "$Forwarded" / ... / atom; no backslash.
    if (!/^[^\x00-\x20\x7f(){%*"\\\]]+$/.test(kw)) throw new SearchSyntaxError(`Invalid keyword ${kw.slice(0, 30)}`);
    return kw;
  }

  private objectId(what: string): string {
    const id = this.atom(what);
    // RFC 8474 §4: objectid = 1*255(ALPHA / DIGIT / "_" / "-")
    if (!/^[A-Za-z0-9_-]{1,255}$/.test(id)) throw new SearchSyntaxError(`Invalid ${what}`);
    return id;
  }

  key(depth: number): SearchKey {
    if (depth > MAX_DEPTH) throw new SearchSyntaxError('Search criteria nested too deeply');
    const a = this.next('search key');
    if (a.type === 'list') {
      if (a.items.length === 0) throw new SearchSyntaxError('Empty parenthesized search key');
      const sub = new KeyParser(a.items);
      const keys: SearchKey[] = [];
      while (!sub.atEnd()) keys.push(sub.key(depth + 1));
      return keys.length === 1 ? keys[0]! : { type: 'and', keys };
    }
    if (a.type !== 'atom') throw new SearchSyntaxError('Expected a search key');
    const word = a.value.toUpperCase();
    const flag = FLAG_KEYS[word];
    if (flag) return { type: 'flag', flag: flag[0], set: flag[1] };
    const hdr = HEADER_KEYS[word];
    if (hdr) return { type: 'header', field: hdr, value: this.astring(`${word} value`) };
    const dk = DATE_KEYS[word];
    if (dk) return { type: 'date', field: dk[0], op: dk[1], date: this.date() };
    switch (word) {
      case 'ALL':
        return { type: 'all' };
      case 'NEW':
        return { type: 'and', keys: [{ type: 'flag', flag: '\\Recent', set: true }, { type: 'flag', flag: '\\Seen', set: false }] };
      case 'OLD':
        return { type: 'flag', flag: '\\Recent', set: false };
      case 'KEYWORD':
        return { type: 'flag', flag: this.flagKeyword('keyword'), set: true };
      case 'UNKEYWORD':
        return { type: 'flag', flag: this.flagKeyword('keyword'), set: false };
      case 'HEADER': {
        const field = this.astring('header field name');
        if (!/^[\x21-\x39\x3b-\x7e]+$/.test(field)) throw new SearchSyntaxError('Invalid header field name');
        return { type: 'header', field, value: this.astring('header value') };
      }
      case 'BODY':
        return { type: 'body', value: this.astring('BODY value') };
      case 'TEXT':
        return { type: 'text', value: this.astring('TEXT value') };
      case 'LARGER':
        return { type: 'size', op: 'larger', size: this.number('size', Number.MAX_SAFE_INTEGER) };
      case 'SMALLER':
        return { type: 'size', op: 'smaller', size: this.number('size', Number.MAX_SAFE_INTEGER) };
      case 'OLDER':
        return { type: 'age', op: 'older', seconds: this.nzNumber('interval') };
      case 'YOUNGER':
        return { type: 'age', op: 'younger', seconds: this.nzNumber('interval') };
      case 'UID':
        return { type: 'uid', set: this.numSet() };
      case 'NOT':
        return { type: 'not', key: this.key(depth + 1) };
      case 'OR': {
        const left = this.key(depth + 1);
        const right = this.key(depth + 1);
        return { type: 'or', left, right };
      }
      case 'MODSEQ':
        return this.modseq();
      case 'EMAILID':
        return { type: 'emailid', id: this.objectId('EMAILID') };
      case 'THREADID':
        return { type: 'threadid', id: this.objectId('THREADID') };
      case 'SAVEDATESUPPORTED':
        return { type: 'savedatesupported' };
      default:
        if (/^[\d*$]/.test(word)) {
          try {
            return { type: 'seq', set: parseNumSet(a.value) };
          } catch (err) {
            throw new SearchSyntaxError(`Invalid sequence set: ${(err as Error).message}`);
          }
        }
        throw new SearchSyntaxError(`Unknown search key ${a.value.slice(0, 30)}`);
    }
  }

  private nzNumber(what: string): number {
    const n = this.number(what);
    if (n === 0) throw new SearchSyntaxError(`${what} must be positive`);
    return n;
  }

  private numSet(): NumSet {
    const s = this.atom('UID set');
    try {
      return parseNumSet(s);
    } catch (err) {
      throw new SearchSyntaxError(`Invalid UID set: ${(err as Error).message}`);
    }
  }

  /** search-modsequence = "MODSEQ" [search-modseq-ext] SP mod-sequence-valzer (RFC 7162 §3.1.5);
   *  search-modseq-ext = SP entry-name SP entry-type-req; entry-type-req = "priv" / "shared" / "all". */
  private modseq(): SearchKey {
    const a = this.args[this.pos];
    let entry: { name: string; kind: 'priv' | 'shared' | 'all' } | undefined;
    if (a && a.type === 'string') {
      this.pos++;
      const name = a.value.toString('utf8');
      const kind = this.atom('entry type').toLowerCase();
      if (kind !== 'priv' && kind !== 'shared' && kind !== 'all') throw new SearchSyntaxError('Invalid MODSEQ entry type');
      entry = { name, kind };
    }
    const modSeq = this.number('mod-sequence', Number.MAX_SAFE_INTEGER);
    return entry ? { type: 'modseq', modSeq, entry } : { type: 'modseq', modSeq };
  }
}

/** Does the criteria tree use a key that needs CONDSTORE (RFC 7162 §3.1.5: MODSEQ enables it)? */
export function usesModSeq(key: SearchKey): boolean {
  switch (key.type) {
    case 'modseq':
      return true;
    case 'not':
      return usesModSeq(key.key);
    case 'or':
      return usesModSeq(key.left) || usesModSeq(key.right);
    case 'and':
      return key.keys.some(usesModSeq);
    default:
      return false;
  }
}

/** Does the criteria tree use the saved result `$` (RFC 5182)? */
export function usesSearchRes(key: SearchKey): boolean {
  switch (key.type) {
    case 'seq':
    case 'uid':
      return 'searchRes' in key.set;
    case 'not':
      return usesSearchRes(key.key);
    case 'or':
      return usesSearchRes(key.left) || usesSearchRes(key.right);
    case 'and':
      return key.keys.some(usesSearchRes);
    default:
      return false;
  }
}
