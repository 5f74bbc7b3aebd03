// FETCH data items: RFC 9051 §6.4.5 (items and macros ALL/FAST/FULL), §6.4.5.1/§9 section-spec,
// §7.5.2 (response item names), RFC 3516 §4.2/§6 (BINARY, BINARY.PEEK, BINARY.SIZE), RFC 7162 §3.1.4
// (MODSEQ, CHANGEDSINCE) and §3.2.6 (VANISHED modifier), RFC 8474 (EMAILID, THREADID), RFC 8514 (SAVEDATE),
// RFC 8970 (PREVIEW, PREVIEW (LAZY)), RFC 4466 §2.4 (fetch-modifiers).
// Validation that needs the message (TEXT/HEADER on a part that is not message/rfc822) is left to the
// caller, which has the MIME tree.
import type { ImapArg, Partial, SectionSpec } from './types.js';

export class FetchSyntaxError extends Error {
  override readonly name = 'FetchSyntaxError';
}

export type SimpleFetchKind =
  | 'FLAGS'
  | 'UID'
  | 'INTERNALDATE'
  | 'RFC822.SIZE'
  | 'RFC822'
  | 'RFC822.HEADER'
  | 'RFC822.TEXT'
  | 'ENVELOPE'
  | 'BODY'
  | 'BODYSTRUCTURE'
  | 'MODSEQ'
  | 'EMAILID'
  | 'THREADID'
  | 'SAVEDATE';

export type FetchAtt =
  | { kind: SimpleFetchKind }
  | { kind: 'BODY[]'; section: SectionSpec; partial: Partial | null; peek: boolean }
  // `section` is set only for a section-text after the part (HEADER, HEADER.FIELDS[.NOT], TEXT, MIME): not
  // in RFC 3516's grammar (section-binary = "[" [section-part] "]"), accepted as Dovecot does, answered
  // with the section's bytes as BODY[] would give them (headers carry no transfer encoding to undo), but
  // TEXT of a message whose body is one leaf part is that part, decoded.
  | { kind: 'BINARY[]'; path: number[]; partial: Partial | null; peek: boolean; section?: SectionSpec }
  | { kind: 'BINARY.SIZE'; path: number[]; section?: SectionSpec }
  | { kind: 'PREVIEW'; lazy: boolean };

const SIMPLE = new Set<string>([
  'FLAGS',
  'UID',
  'INTERNALDATE',
  'RFC822.SIZE',
  'RFC822',
  'RFC822.HEADER',
  'RFC822.TEXT',
  'ENVELOPE',
  'BODY',
  'BODYSTRUCTURE',
  'MODSEQ',
  'EMAILID',
  'THREADID',
  'SAVEDATE',
]);

export const FETCH_MACROS: Readonly<Record<'ALL' | 'FAST' | 'FULL', readonly SimpleFetchKind[]>> = {
  ALL: ['FLAGS', 'INTERNALDATE', 'RFC822.SIZE', 'ENVELOPE'],
  FAST: ['FLAGS', 'INTERNALDATE', 'RFC822.SIZE'],
  FULL: ['FLAGS', 'INTERNALDATE', 'RFC822.SIZE', 'ENVELOPE', 'BODY'],
};

const MAX_NUMBER = 4294967295;

/** The FETCH attribute argument: a macro, one item, or a parenthesized list of items. */
export function parseFetchAtts(arg: ImapArg | readonly ImapArg[]): FetchAtt[] {
  const single: ImapArg | undefined = Array.isArray(arg) ? (arg.length === 1 ? arg[0] : undefined) : (arg as ImapArg);
  if (Array.isArray(arg) && arg.length !== 1) throw new FetchSyntaxError('Expected one FETCH item or a list of items');
  const a = single!;
  if (a.type === 'atom') {
    const up = a.value.toUpperCase();
    if (up === 'ALL' || up === 'FAST' || up === 'FULL') return FETCH_MACROS[up].map((kind) => ({ kind }));
    return [parseFetchAtt(a.value)];
  }
  if (a.type !== 'list') throw new FetchSyntaxError('Invalid FETCH data item');
  if (a.items.length === 0) throw new FetchSyntaxError('Empty FETCH data item list');
  const out: FetchAtt[] = [];
  for (let i = 0; i < a.items.length; i++) {
    const it = a.items[i]!;
    if (it.type !== 'atom') throw new FetchSyntaxError('Invalid FETCH data item');
    const up = it.value.toUpperCase();
    if (up === 'ALL' || up === 'FAST' || up === 'FULL') throw new FetchSyntaxError('FETCH macros cannot be combined with other items');
    if (up === 'PREVIEW') {
      // RFC 8970 §4: PREVIEW [SP "(" preview-mod *(SP preview-mod) ")"], preview-mod = "LAZY"
      const next = a.items[i + 1];
      let lazy = false;
      if (next && next.type === 'list') {
        for (const m of next.items) {
          if (m.type !== 'atom' || m.value.toUpperCase() !== 'LAZY') throw new FetchSyntaxError('Unknown PREVIEW modifier');
          lazy = true;
        }
        i++;
      }
      out.push({ kind: 'PREVIEW', lazy });
      continue;
    }
    out.push(parseFetchAtt(it.value));
  }
  return out;
}

/** One fetch-att atom, e.g. `BODY.PEEK[1.HEADER.FIELDS (From)]<0.100>` (the framer keeps it one atom). */
export function parseFetchAtt(raw: string): FetchAtt {
  const up = raw.toUpperCase();
  if (SIMPLE.has(up)) return { kind: up as SimpleFetchKind };
  if (up === 'PREVIEW') return { kind: 'PREVIEW', lazy: false };
  const open = raw.indexOf('[');
  if (open < 0) throw new FetchSyntaxError(`Unknown FETCH data item ${raw.slice(0, 40)}`);
  const att = up.slice(0, open);
  if (att !== 'BODY' && att !== 'BODY.PEEK' && att !== 'BINARY' && att !== 'BINARY.PEEK' && att !== 'BINARY.SIZE') {
    throw new FetchSyntaxError(`Unknown FETCH data item ${raw.slice(0, 40)}`);
  }
  const close = findClose(raw, open);
  const inner = raw.slice(open + 1, close);
  const rest = raw.slice(close + 1);
  let partial: Partial | null = null;
  if (rest !== '') {
    const m = /^<(\d{1,10})(?:\.(\d{1,10}))?>$/.exec(rest);
    if (!m) throw new FetchSyntaxError('Invalid partial specifier');
    const origin = Number(m[1]);
    // `<origin>` without a count (to the end of the section) is not in RFC 9051's grammar; accepted as
    // Dovecot accepts it (imaptest's BINARY tests use it).
    const count = m[2] === undefined ? Number.MAX_SAFE_INTEGER : Number(m[2]);
    // RFC 9051 §9: partial = "<" number64 "." nz-number64 ">"
    if (origin > MAX_NUMBER || (m[2] !== undefined && count > MAX_NUMBER) || count === 0) throw new FetchSyntaxError('Invalid partial range');
    partial = { origin, count };
  }
  if (att.startsWith('BINARY')) {
    const path = inner === '' ? [] : parsePartPath(inner);
    const section = path ? null : parseSection(inner);
    if (att === 'BINARY.SIZE') {
      if (partial) throw new FetchSyntaxError('BINARY.SIZE takes no partial');
      return section ? { kind: 'BINARY.SIZE', path: section.path, section } : { kind: 'BINARY.SIZE', path: path! };
    }
    const peek = att === 'BINARY.PEEK';
    return section ? { kind: 'BINARY[]', path: section.path, partial, peek, section } : { kind: 'BINARY[]', path: path!, partial, peek };
  }
  return { kind: 'BODY[]', section: parseSection(inner), partial, peek: att === 'BODY.PEEK' };
}

function findClose(raw: string, open: number): number {
  let i = open + 1;
  while (i < raw.length) {
    const c = raw[i];
    if (c === '"') {
      i++;
      while (i < raw.length && raw[i] !== '"') i += raw[i] === '\\' ? 2 : 1;
    } else if (c === ']') return i;
    i++;
  }
  throw new FetchSyntaxError('Missing ]');
}

function parsePartPath(s: string): number[] | null {
  if (!/^[1-9]\d{0,9}(\.[1-9]\d{0,9})*$/.test(s)) return null;
  const path = s.split('.').map(Number);
  return path.every((n) => n <= MAX_NUMBER) ? path : null;
}

/** section-spec = section-msgtext / (section-part ["." section-text]) (RFC 9051 §9). */
export function parseSection(s: string): SectionSpec {
  if (s === '') return { path: [] };
  const m = /^((?:\d+\.)*\d+)?(?:(?:^|\.)([A-Za-z.]+))?(?: (.*))?$/s.exec(s);
  if (!m) throw new FetchSyntaxError(`Invalid section ${s.slice(0, 40)}`);
  let path: number[] = [];
  if (m[1] !== undefined) {
    const p = parsePartPath(m[1]);
    if (!p) throw new FetchSyntaxError('Invalid part number');
    path = p;
  }
  const word = m[2]?.toUpperCase();
  if (word === undefined) {
    if (m[3] !== undefined || m[1] === undefined) throw new FetchSyntaxError(`Invalid section ${s.slice(0, 40)}`);
    return { path };
  }
  if (m[1] !== undefined && !s.startsWith(m[1] + '.')) throw new FetchSyntaxError('Invalid section');
  switch (word) {
    case 'HEADER':
    case 'TEXT':
      if (m[3] !== undefined) throw new FetchSyntaxError(`${word} takes no field list`);
      return { path, text: word };
    case 'MIME':
      if (m[3] !== undefined) throw new FetchSyntaxError('MIME takes no field list');
      if (path.length === 0) throw new FetchSyntaxError('MIME needs a part number');
      return { path, text: 'MIME' };
    case 'HEADER.FIELDS':
    case 'HEADER.FIELDS.NOT': {
      if (m[3] === undefined) throw new FetchSyntaxError(`${word} needs a list of field names`);
      return { path, text: word, fields: parseHeaderList(m[3]) };
    }
    default:
      throw new FetchSyntaxError(`Invalid section ${s.slice(0, 40)}`);
  }
}

/** header-list = "(" header-fld-name *(SP header-fld-name) ")"; header-fld-name = astring. */
function parseHeaderList(s: string): string[] {
  if (!s.startsWith('(') || !s.endsWith(')')) throw new FetchSyntaxError('Header field names must be a parenthesized list');
  const inner = s.slice(1, -1);
  const out: string[] = [];
  let i = 0;
  while (i < inner.length) {
    if (inner[i] === ' ') {
      i++;
      continue;
    }
    let name: string;
    if (inner[i] === '"') {
      let j = i + 1;
      name = '';
      while (j < inner.length && inner[j] !== '"') {
        if (inner[j] === '\\') j++;
        name += inner[j] ?? '';
        j++;
      }
      if (j >= inner.length) throw new FetchSyntaxError('Unterminated quoted field name');
      i = j + 1;
    } else {
      let j = i;
      while (j < inner.length && inner[j] !== ' ') j++;
      name = inner.slice(i, j);
      i = j;
    }
    // RFC 5322 §3.6.8 field-name = 1*ftext, printable US-ASCII except ":".
    if (!/^[\x21-\x39\x3b-\x7e]+$/.test(name)) throw new FetchSyntaxError('Invalid header field name');
    out.push(name);
  }
  if (out.length === 0) throw new FetchSyntaxError('Empty header field list');
  return out;
}

/** A field name as an atom when possible, else quoted; "]" is quoted too since it would end the section. */
function astringText(s: string): string {
  return /^[^\x00-\x20\x7f(){%*"\\\]]+$/.test(s) ? s : `"${s.replace(/["\\]/g, (c) => '\\' + c)}"`;
}

/** The section as written inside the brackets of a response item (RFC 9051 §7.5.2). */
export function formatSection(sec: SectionSpec): string {
  const parts: string[] = [];
  if (sec.path.length > 0) parts.push(sec.path.join('.'));
  if (sec.text) {
    let t: string = sec.text;
    if (sec.fields) t += ` (${sec.fields.map(astringText).join(' ')})`;
    parts.push(t);
  }
  return parts.join('.');
}

/** The item name in a FETCH response: `.PEEK` dropped, partial shown as `<origin>` only
 *  (RFC 9051 §7.5.2 BODY[<section>]<<origin octet>>; RFC 3516 §4.2). Simple items keep their name. */
export function formatFetchItemName(att: FetchAtt): string {
  switch (att.kind) {
    case 'BODY[]':
      return `BODY[${formatSection(att.section)}]${att.partial ? `<${att.partial.origin}>` : ''}`;
    case 'BINARY[]':
      return `BINARY[${att.section ? formatSection(att.section) : att.path.join('.')}]${att.partial ? `<${att.partial.origin}>` : ''}`;
    case 'BINARY.SIZE':
      return `BINARY.SIZE[${att.section ? formatSection(att.section) : att.path.join('.')}]`;
    case 'PREVIEW':
      return 'PREVIEW';
    default:
      return att.kind;
  }
}

/** Does fetching this item set \Seen (RFC 9051 §6.4.5)? */
export function fetchSetsSeen(att: FetchAtt): boolean {
  if (att.kind === 'RFC822' || att.kind === 'RFC822.TEXT') return true;
  return (att.kind === 'BODY[]' || att.kind === 'BINARY[]') && !att.peek;
}

export interface FetchModifiers {
  changedSince: number | null;
  vanished: boolean;
}

/** fetch-modifiers (RFC 4466 §2.4): `(CHANGEDSINCE n [VANISHED])` (RFC 7162 §3.1.4.1, §3.2.6). */
export function parseFetchModifiers(items: readonly ImapArg[]): FetchModifiers {
  const out: FetchModifiers = { changedSince: null, vanished: false };
  for (let i = 0; i < items.length; i++) {
    const it = items[i]!;
    if (it.type !== 'atom') throw new FetchSyntaxError('Invalid FETCH modifier');
    const name = it.value.toUpperCase();
    if (name === 'CHANGEDSINCE') {
      if (out.changedSince !== null) throw new FetchSyntaxError('CHANGEDSINCE given twice');
      const v = items[++i];
      if (!v || v.type !== 'atom' || !/^[1-9]\d{0,15}$/.test(v.value) || !Number.isSafeInteger(Number(v.value))) {
        throw new FetchSyntaxError('CHANGEDSINCE needs a positive mod-sequence');
      }
      out.changedSince = Number(v.value);
    } else if (name === 'VANISHED') {
      if (out.vanished) throw new FetchSyntaxError('VANISHED given twice');
      out.vanished = true;
    } else {
      throw new FetchSyntaxError(`Unknown FETCH modifier ${it.value.slice(0, 30)}`);
    }
  }
  // RFC 7162 §3.2.6: VANISHED is only valid together with CHANGEDSINCE.
  if (out.vanished && out.changedSince === null) throw new FetchSyntaxError('VANISHED needs CHANGEDSINCE');
  return out;
}
