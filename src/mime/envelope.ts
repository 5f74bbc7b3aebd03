// ENVELOPE (RFC 9051 §7.5.2, RFC 3501 §7.4.2) from the raw header values the indexer kept:
// (date subject from sender reply-to to cc bcc in-reply-to message-id); sender and reply-to default to from.
// Address lists are parsed per RFC 5322 §3.4 (display names, quoted strings, comments, routes
// (§4.4 obs-route), groups → (NIL NIL "name" NIL) ... (NIL NIL NIL NIL)). Values are sent as raw bytes:
// IMAP does not decode RFC 2047 encoded words.
//
// Malformed input is handled the way Dovecot 2.3 handles it (the reference of the differential test,
// test/interop/dovecot-mime.test.ts): a recursive-descent parser over RFC 5322 §3.4 whose recovery rules
// are Dovecot's: the list ends at the first address followed by anything but ","; an address without "@"
// followed by more words is a display name; a broken angle-addr gets the host SYNTAX_ERROR; missing parts
// are MISSING_MAILBOX / MISSING_DOMAIN (a NIL host would mean group syntax).
//
// String forms follow Dovecot too (all are valid IMAP strings, RFC 9051 §4.3): the subject and display
// names are "for humans" — when they hold line breaks, tabs, runs of spaces, leading/trailing space,
// '"', '\' or 8-bit octets, white space runs become one space, the ends are trimmed and the result is sent
// as a literal; date, in-reply-to and message-id only lose their CR/LF.
import { Adjacent, LiteralData } from '../protocol/types.js';
import type { ResponseValue } from '../protocol/types.js';
import type { MimeIndex, MimeIndexV1, MimePart, RawEnvelope } from './types.js';

/** One address of an address list; a group start has mailbox = group name and host = null;
 *  a group end is all null. */
export interface EnvelopeAddress {
  name: string | null;
  adl: string | null;
  mailbox: string | null;
  host: string | null;
}

const MISSING_MAILBOX = 'MISSING_MAILBOX';
const MISSING_DOMAIN = 'MISSING_DOMAIN';
const SYNTAX_ERROR = 'SYNTAX_ERROR';
const INVALID_ROUTE = 'INVALID_ROUTE';

/** RFC 5322 §3.2.3 atext; 8-bit octets count as atext (raw UTF-8 or legacy charsets in the wild). */
function isAtext(c: number): boolean {
  if (c >= 0x80) return true;
  if (c <= 0x20 || c === 0x7f) return false;
  return !'()<>[]:;@\\,."'.includes(String.fromCharCode(c));
}

/** Parser state over one header value (latin1, one char per octet). */
class AddressParser {
  pos = 0;
  /** Text of the last comment skipped (for "addr (Name)"). */
  lastComment = '';
  readonly out: EnvelopeAddress[] = [];
  cur: EnvelopeAddress = { name: null, adl: null, mailbox: null, host: null };

  constructor(readonly s: string) {}

  get atEnd(): boolean {
    return this.pos >= this.s.length;
  }

  peek(): string {
    return this.s[this.pos] ?? '';
  }

  /** Skips white space and comments: 1 = more input, 0 = end, -1 = unterminated comment. */
  skipLwsp(): number {
    const s = this.s;
    while (this.pos < s.length) {
      const c = s[this.pos]!;
      if (c === ' ' || c === '\t' || c === '\r' || c === '\n') {
        this.pos++;
        continue;
      }
      if (c !== '(') break;
      if (!this.skipComment()) return -1;
    }
    return this.atEnd ? 0 : 1;
  }

  private skipComment(): boolean {
    const s = this.s;
    let level = 1;
    let text = '';
    for (this.pos++; this.pos < s.length; this.pos++) {
      const c = s[this.pos]!;
      if (c === '(') level++;
      else if (c === ')' && --level === 0) {
        this.pos++;
        this.lastComment = text;
        return true;
      } else if (c === '\\') {
        if (this.pos + 1 >= s.length) return false;
        const n = s[this.pos + 1]!;
        if (n !== '\r' && n !== '\n') {
          this.pos++;
          text += n;
          continue;
        }
      }
      if (c !== '\r' && c !== '\n') text += c;
    }
    return false;
  }

  /** quoted-string at '"': appends the content (escapes removed, CR/LF dropped); -1 when unterminated, and
   *  then only the pieces before the last escape or line break were appended (Dovecot 2.3's parser). */
  quoted(acc: { v: string }): number {
    const s = this.s;
    let start = ++this.pos;
    for (; this.pos < s.length; this.pos++) {
      const c = s[this.pos]!;
      if (c === '"') {
        acc.v += s.slice(start, this.pos);
        this.pos++;
        return this.skipLwsp();
      }
      if (c === '\r' || c === '\n') {
        acc.v += s.slice(start, this.pos);
        start = this.pos + 1;
      } else if (c === '\\') {
        if (this.pos + 1 >= s.length) return -1;
        acc.v += s.slice(start, this.pos);
        start = ++this.pos;
      }
    }
    return -1;
  }

  /** A run of atext and dots (possibly empty), then CFWS. */
  atomOrDot(acc: { v: string }): number {
    const start = this.pos;
    while (this.pos < this.s.length) {
      const c = this.s.charCodeAt(this.pos);
      if (!isAtext(c) && c !== 0x2e) break;
      this.pos++;
    }
    acc.v += this.s.slice(start, this.pos);
    return this.atEnd ? 0 : this.skipLwsp();
  }

  /** RFC 5322 phrase / obs-phrase: words separated by one space. */
  phrase(acc: { v: string }): number {
    if (this.atEnd) return 0;
    if (this.peek() === '.') return -1;
    for (;;) {
      const r = this.peek() === '"' ? this.quoted(acc) : this.atomOrDot(acc);
      if (r <= 0) return r;
      const c = this.s.charCodeAt(this.pos);
      if (!isAtext(c) && c !== 0x22 && c !== 0x2e) break;
      acc.v += ' ';
    }
    return this.skipLwsp();
  }

  /** dot-atom (CFWS allowed around the dots, as obs-local-part / obs-domain allow). */
  dotAtom(acc: { v: string }): number {
    if (this.atEnd || !isAtext(this.s.charCodeAt(this.pos))) return -1;
    let start = this.pos++;
    while (this.pos < this.s.length) {
      if (isAtext(this.s.charCodeAt(this.pos))) {
        this.pos++;
        continue;
      }
      acc.v += this.s.slice(start, this.pos);
      const r = this.skipLwsp();
      if (r <= 0) return r;
      if (this.peek() !== '.') return 1;
      this.pos++;
      acc.v += '.';
      const r2 = this.skipLwsp();
      if (r2 <= 0) return r2;
      start = this.pos;
    }
    acc.v += this.s.slice(start, this.pos);
    return 0;
  }

  /** domain after '@': dot-atom or domain-literal. */
  domain(acc: { v: string }): number {
    this.pos++;
    if (this.skipLwsp() <= 0) return -1;
    if (this.peek() !== '[') return this.dotAtom(acc);
    const s = this.s;
    const start = this.pos;
    for (this.pos++; this.pos < s.length; this.pos++) {
      const c = s[this.pos]!;
      if (c === '\\') {
        this.pos++;
      } else if (c === ']') {
        this.pos++;
        acc.v += s.slice(start, this.pos).replace(/[\r\n]/g, '');
        return this.skipLwsp();
      }
    }
    return -1;
  }

  localPart(): number {
    const acc = { v: '' };
    const r = this.peek() === '"' ? this.quoted(acc) : this.dotAtom(acc);
    if (r < 0) return -1;
    this.cur.mailbox = acc.v;
    return r;
  }

  addrSpec(): number {
    this.lastComment = '';
    const quoted = this.peek() === '"';
    let r = this.localPart();
    let r2 = -2;
    if (r !== 0 && this.peek() === '@') {
      const acc = { v: '' };
      r2 = this.domain(acc);
      if (r2 >= 0) this.cur.host = acc.v;
      if (r2 <= 0) r = r2;
    }
    if (this.lastComment !== '') {
      // "addr (Name)": the comment names the address unless a display name already did.
      this.cur.name ??= this.lastComment;
    } else if (r2 === -2) {
      // A word without "@domain": alone it is a mailbox, followed by more words it was a display name.
      const acc = { v: (this.cur.mailbox ?? '') + ' ' };
      const before = acc.v.length;
      this.phrase(acc);
      if (acc.v.length !== before) {
        this.cur.mailbox = null;
        this.cur.name = acc.v;
      } else if (!quoted) {
        this.cur.host = '';
      }
      r = -1;
    }
    return r;
  }

  /** obs-route: "@" domain *("," "@" domain) before ':' in an angle-addr. */
  route(): number {
    let acc = '';
    for (;;) {
      if (this.atEnd) return 0;
      if (this.peek() !== '@') break;
      if (acc !== '') acc += ',';
      const d = { v: '@' };
      const r = this.domain(d);
      acc += d.v;
      if (r <= 0) return r;
      while (this.skipLwsp() > 0 && this.peek() === ',') this.pos++;
    }
    this.cur.adl = acc;
    return 1;
  }

  angleAddr(): number {
    this.pos++;
    if (this.skipLwsp() <= 0) return -1;
    if (this.peek() === '@') {
      if (this.route() > 0 && this.peek() === ':') {
        this.pos++;
      } else {
        this.cur.mailbox = INVALID_ROUTE;
        if (this.atEnd) return -1;
      }
      if (this.skipLwsp() <= 0) return -1;
    }
    if (this.peek() !== '>') {
      if (this.addrSpec() < 0) return -1;
      if (this.peek() !== '>') return -1;
    }
    this.pos++;
    return this.skipLwsp();
  }

  /** name-addr; -1 when there is no '<' after the phrase (then it may be an addr-spec). */
  nameAddr(): number {
    const acc = { v: '' };
    if (this.phrase(acc) <= 0 || this.peek() !== '<') return -1;
    this.cur.name = acc.v !== '' ? acc.v : null;
    if (this.angleAddr() < 0) this.cur.host = SYNTAX_ERROR;
    return this.atEnd ? 0 : 1;
  }

  push(addr: EnvelopeAddress): void {
    this.out.push(addr);
    this.cur = { name: null, adl: null, mailbox: null, host: null };
  }

  mailbox(): number {
    const start = this.pos;
    let r = this.nameAddr();
    if (r < 0) {
      this.pos = start;
      r = this.addrSpec();
    }
    const a = this.cur;
    this.push({
      name: a.name,
      adl: a.adl,
      mailbox: a.mailbox !== null && a.mailbox !== '' ? a.mailbox : MISSING_MAILBOX,
      host: a.host !== null && a.host !== '' ? a.host : MISSING_DOMAIN,
    });
    return r;
  }

  /** group; 0 when this is not a group (no phrase followed by ':'). */
  group(): number {
    const acc = { v: '' };
    if (this.phrase(acc) <= 0 || this.peek() !== ':') return 0;
    this.pos++;
    let r = this.skipLwsp();
    if (r <= 0) r = -1;
    this.push({ name: null, adl: null, mailbox: acc.v, host: null });
    if (r > 0 && this.peek() !== ';') {
      for (;;) {
        if (this.mailbox() <= 0) {
          r = -1;
          break;
        }
        if (this.peek() !== ',') break;
        this.pos++;
        if (this.skipLwsp() <= 0) {
          r = -1;
          break;
        }
      }
    }
    if (r >= 0) {
      if (this.peek() !== ';') r = -1;
      else {
        this.pos++;
        r = this.skipLwsp();
      }
    }
    this.push({ name: null, adl: null, mailbox: null, host: null });
    return r === 0 ? 1 : r;
  }

  address(): void {
    const start = this.pos;
    if (this.group() === 0) {
      this.pos = start;
      this.cur = { name: null, adl: null, mailbox: null, host: null };
      this.mailbox();
    }
  }

  list(): void {
    if (this.skipLwsp() <= 0) return;
    for (;;) {
      this.address();
      if (this.atEnd || this.peek() !== ',') break;
      this.pos++;
      if (this.skipLwsp() <= 0) break;
    }
  }
}

/** Parses an RFC 5322 address-list (with groups) into IMAP address structures. */
export function parseAddressList(value: string): EnvelopeAddress[] {
  const p = new AddressParser(value);
  p.list();
  return p.out;
}

/** Latin1 index string → response value: plain string when ASCII, the original bytes otherwise. */
export function rawValue(s: string | null | undefined): ResponseValue {
  if (s === null || s === undefined) return null;
  // eslint-disable-next-line no-control-regex
  if (/^[\x00-\x7f]*$/.test(s)) return s;
  return Buffer.from(s, 'latin1');
}

/**
 * A string for humans (subject, display name), as Dovecot 2.3 writes it: unchanged and quoted when it is
 * plain; otherwise (line breaks, TAB, runs of spaces, leading or trailing space, '"', '\', 8-bit, NUL, or
 * `folded`) each white-space run becomes one space, the ends are trimmed, NUL becomes 0x80, and the
 * result goes as a literal. Both are the same IMAP string to a client (RFC 9051 §4.3).
 */
export function humanValue(s: string | null | undefined, folded = false): ResponseValue {
  if (s === null || s === undefined) return null;
  let modify = folded;
  let lastWsp = true;
  let removed = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0x20 || c === 0x09 || c === 0x0d || c === 0x0a) {
      if (c !== 0x20) modify = true;
      if (lastWsp) {
        modify = true;
        removed++;
      }
      lastWsp = true;
    } else {
      if (c === 0x22 || c === 0x5c || c === 0 || c >= 0x80) modify = true;
      lastWsp = false;
    }
  }
  if (lastWsp && s.length > 0) modify = true;
  if (!modify) return s;
  if (removed >= s.length) return '';
  const out = s
    .replace(/[ \t\r\n]+/g, ' ')
    .replace(/^ | $/g, '')
    .replace(/\0/g, '\x80');
  if (out === '') return '';
  return new LiteralData(Buffer.from(out, 'latin1'));
}

/** date, in-reply-to, message-id: CR and LF removed, nothing else changed. */
function nolfValue(s: string | null): ResponseValue {
  return rawValue(s === null ? null : s.replace(/[\r\n]/g, ''));
}

function addressListValue(raw: string | null): ResponseValue {
  if (raw === null) return null;
  const list = parseAddressList(raw);
  if (list.length === 0) return null;
  // "(" 1*address ")": the addresses are not separated (RFC 9051 §9 env-from etc.).
  return [new Adjacent(list.map((a) => [humanValue(a.name), rawValue(a.adl), rawValue(a.mailbox), rawValue(a.host)]))];
}

/** ENVELOPE of a message root (the top part or an encapsulated message); `subjectFolded`: the Subject
 *  field spanned several lines (MimePart.sf). */
export function envelopeOf(en: RawEnvelope | undefined, subjectFolded = false): ResponseValue {
  const e: RawEnvelope = en ?? [null, null, null, null, null, null, null, null, null, null];
  const from = addressListValue(e[2]);
  const sender = e[3] !== null ? addressListValue(e[3]) : null;
  const replyTo = e[4] !== null ? addressListValue(e[4]) : null;
  return [
    nolfValue(e[0]),
    humanValue(e[1], subjectFolded),
    from,
    sender ?? from,
    replyTo ?? from,
    addressListValue(e[5]),
    addressListValue(e[6]),
    addressListValue(e[7]),
    nolfValue(e[8]),
    nolfValue(e[9]),
  ];
}

/** RFC 9051 §7.5.2 ENVELOPE of the message. */
export function envelopeValue(index: MimeIndex): ResponseValue {
  const r = (index as MimeIndexV1).r;
  return envelopeOf(r.en, r.sf === 1);
}

export function partEnvelope(part: MimePart): ResponseValue {
  return envelopeOf(part.en, part.sf === 1);
}
