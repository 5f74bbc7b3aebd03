// ENVELOPE (RFC 9051 §7.5.2, RFC 3501 §7.4.2) from the raw header values the indexer kept:
// (date subject from sender reply-to to cc bcc in-reply-to message-id); sender and reply-to default to from.
// Address lists are parsed per RFC 5322 §3.4 (display names, quoted strings, comments, routes
// (§4.4 obs-route), groups → (NIL NIL "name" NIL) ... (NIL NIL NIL NIL)). Values are sent as raw bytes:
// IMAP does not decode RFC 2047 encoded words.

import { Adjacent } from '../protocol/types.js';
import type { ResponseValue } from '../protocol/types.js';
import { readQuoted, skipComment } from './header-parse.js';
import type { MimeIndex, MimeIndexV1, MimePart, RawEnvelope } from './types.js';

/** One address of an address list; a group start has mailbox = group name and host = null;
 *  a group end is all null. */
export interface EnvelopeAddress {
  name: string | null;
  adl: string | null;
  mailbox: string | null;
  host: string | null;
}

type Tok =
  | { k: 'atom'; v: string }
  | { k: 'quoted'; v: string }
  | { k: 'comment'; v: string }
  | { k: 'literal'; v: string }
  | { k: 'special'; v: string };

const SPECIALS = '()<>[]:;@\\,."';

function tokenize(s: string): Tok[] {
  const out: Tok[] = [];
  let i = 0;
  while (i < s.length) {
    const c = s[i]!;
    if (c === ' ' || c === '\t' || c === '\r' || c === '\n') {
      i++;
    } else if (c === '"') {
      const [v, j] = readQuoted(s, i);
      out.push({ k: 'quoted', v });
      i = j;
    } else if (c === '(') {
      const j = skipComment(s, i);
      const inner = s.slice(i + 1, s[j - 1] === ')' ? j - 1 : j);
      out.push({ k: 'comment', v: inner.replace(/\\(.)/g, '$1') });
      i = j;
    } else if (c === '[') {
      const j = s.indexOf(']', i);
      const end = j < 0 ? s.length : j + 1;
      out.push({ k: 'literal', v: s.slice(i, end) });
      i = end;
    } else if (SPECIALS.includes(c)) {
      out.push({ k: 'special', v: c });
      i++;
    } else {
      const start = i;
      while (i < s.length && !SPECIALS.includes(s[i]!) && !' \t\r\n'.includes(s[i]!)) i++;
      out.push({ k: 'atom', v: s.slice(start, i) });
    }
  }
  return out;
}

function isSpecial(t: Tok | undefined, v: string): boolean {
  return t !== undefined && t.k === 'special' && t.v === v;
}

/** Parses an RFC 5322 address-list (with groups) into IMAP address structures. */
export function parseAddressList(value: string): EnvelopeAddress[] {
  const toks = tokenize(value);
  const out: EnvelopeAddress[] = [];
  let i = 0;
  let inGroup = false;
  while (i < toks.length) {
    const t = toks[i]!;
    if (isSpecial(t, ',')) {
      // An empty element between commas (", ,") is an address with nothing in it (Dovecot fills
      // it in as MISSING_MAILBOX@MISSING_DOMAIN); a trailing comma is not.
      const next = toks[i + 1];
      if (i > 0 && isSpecial(toks[i - 1], ',') && next !== undefined) out.push(missing());
      i++;
      continue;
    }
    if (isSpecial(t, ';')) {
      if (inGroup) out.push({ name: null, adl: null, mailbox: null, host: null });
      inGroup = false;
      i++;
      continue;
    }
    // Find what ends this address: '<' (name-addr), ':' (group), or ',' / ';' / end (addr-spec).
    let j = i;
    let kind: 'angle' | 'group' | 'spec' = 'spec';
    for (; j < toks.length; j++) {
      const u = toks[j]!;
      if (u.k !== 'special') continue;
      if (u.v === '<') {
        kind = 'angle';
        break;
      }
      if (u.v === ':' && !inGroup) {
        kind = 'group';
        break;
      }
      if (u.v === ',' || u.v === ';') break;
    }
    if (kind === 'group') {
      const name = phrase(toks.slice(i, j));
      out.push({ name: null, adl: null, mailbox: name ?? '', host: null });
      inGroup = true;
      i = j + 1;
      continue;
    }
    if (kind === 'angle') {
      const name = phrase(toks.slice(i, j));
      let k = j + 1;
      const close = findIndex(toks, k, (u) => isSpecial(u, '>'));
      const inner = toks.slice(k, close < 0 ? toks.length : close);
      k = close < 0 ? toks.length : close + 1;
      // Trailing comments/junk up to the next ',' or ';'.
      let trailingComment: string | null = null;
      while (k < toks.length && !isSpecial(toks[k], ',') && !isSpecial(toks[k], ';')) {
        const u = toks[k]!;
        if (u.k === 'comment') trailingComment = u.v;
        k++;
      }
      const addr = addrSpec(inner, true);
      if (addr.name === null) addr.name = name ?? trailingComment;
      else if (name !== null) addr.name = name;
      out.push(addr);
      i = k;
      continue;
    }
    out.push(addrSpec(toks.slice(i, j), false));
    i = j;
  }
  if (inGroup) out.push({ name: null, adl: null, mailbox: null, host: null });
  return out;
}

function findIndex(toks: Tok[], from: number, pred: (t: Tok) => boolean): number {
  for (let i = from; i < toks.length; i++) if (pred(toks[i]!)) return i;
  return -1;
}

/** A display name: words joined by single spaces, quoted strings unquoted, comments dropped. */
function phrase(toks: Tok[]): string | null {
  const words: string[] = [];
  let joinNext = false;
  for (const t of toks) {
    if (t.k === 'comment') continue;
    if (t.k === 'special' && t.v === '.') {
      if (words.length > 0) words[words.length - 1] += '.';
      else words.push('.');
      joinNext = true;
      continue;
    }
    if (t.k === 'special') continue;
    if (joinNext && words.length > 0) words[words.length - 1] += t.v;
    else words.push(t.v);
    joinNext = false;
  }
  const joined = words.join(' ');
  return joined !== '' ? joined : null;
}

/** `[route ':'] local-part '@' domain`, tokens inside or outside angle brackets. */
function addrSpec(toks: Tok[], angle: boolean): EnvelopeAddress {
  let i = 0;
  let adl: string | null = null;
  let comment: string | null = null;
  if (angle) {
    const colon = findIndex(toks, 0, (u) => isSpecial(u, ':'));
    if (colon >= 0 && isSpecial(toks.find((u) => u.k !== 'comment'), '@')) {
      adl = toks
        .slice(0, colon)
        .filter((u) => u.k !== 'comment')
        .map((u) => u.v)
        .join('');
      i = colon + 1;
    }
  }
  let local = '';
  let domain: string | null = null;
  let inDomain = false;
  for (; i < toks.length; i++) {
    const t = toks[i]!;
    if (t.k === 'comment') {
      comment = t.v;
      continue;
    }
    if (!inDomain && t.k === 'special' && t.v === '@') {
      inDomain = true;
      domain = '';
      continue;
    }
    const text = t.k === 'quoted' ? quoteLocal(t.v) : t.v;
    if (inDomain) domain += text;
    else local += text;
  }
  // A NIL host would mean group syntax (RFC 9051 §7.5.2), so a missing part gets a placeholder,
  // as Dovecot does (UW-IMAP uses .MISSING-HOST-NAME.).
  return {
    name: comment,
    adl,
    mailbox: local !== '' ? local : MISSING_MAILBOX,
    host: domain !== null && domain !== '' ? domain : MISSING_DOMAIN,
  };
}

const MISSING_MAILBOX = 'MISSING_MAILBOX';
const MISSING_DOMAIN = 'MISSING_DOMAIN';

function missing(): EnvelopeAddress {
  return { name: null, adl: null, mailbox: MISSING_MAILBOX, host: MISSING_DOMAIN };
}

/** A quoted local part keeps its quotes when it needs them (Dovecot and UW-IMAP do the same). */
function quoteLocal(v: string): string {
  if (/^[A-Za-z0-9!#$%&'*+\-/=?^_`{|}~.]+$/.test(v)) return v;
  return '"' + v.replace(/(["\\])/g, '\\$1') + '"';
}

/** Latin1 index string → response value: plain string when ASCII, the original bytes otherwise. */
export function rawValue(s: string | null | undefined): ResponseValue {
  if (s === null || s === undefined) return null;
  // eslint-disable-next-line no-control-regex
  if (/^[\x00-\x7f]*$/.test(s)) return s;
  return Buffer.from(s, 'latin1');
}

function addressListValue(raw: string | null): ResponseValue {
  if (raw === null) return null;
  const list = parseAddressList(raw);
  if (list.length === 0) return null;
  // "(" 1*address ")": the addresses are not separated (RFC 9051 §9 env-from etc.).
  return [new Adjacent(list.map((a) => [rawValue(a.name), rawValue(a.adl), rawValue(a.mailbox), rawValue(a.host)]))];
}

/** ENVELOPE of a message root (the top part or an encapsulated message). */
export function envelopeOf(en: RawEnvelope | undefined): ResponseValue {
  const e: RawEnvelope = en ?? [null, null, null, null, null, null, null, null, null, null];
  const from = addressListValue(e[2]);
  const sender = e[3] !== null ? addressListValue(e[3]) : null;
  const replyTo = e[4] !== null ? addressListValue(e[4]) : null;
  return [
    rawValue(e[0]),
    rawValue(e[1]),
    from,
    sender ?? from,
    replyTo ?? from,
    addressListValue(e[5]),
    addressListValue(e[6]),
    addressListValue(e[7]),
    rawValue(e[8]),
    rawValue(e[9]),
  ];
}

/** RFC 9051 §7.5.2 ENVELOPE of the message. */
export function envelopeValue(index: MimeIndex): ResponseValue {
  return envelopeOf((index as MimeIndexV1).r.en);
}

export function partEnvelope(part: MimePart): ResponseValue {
  return envelopeOf(part.en);
}
