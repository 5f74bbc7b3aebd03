// Lexical helpers for MIME header field values: RFC 5322 §3.2 (CFWS, quoted strings), RFC 2045 §5.1
// (Content-Type and parameters), RFC 2231 (parameter continuations and charsets), RFC 2183
// (Content-Disposition), RFC 3282 (Content-Language), RFC 5322 §3.3 and §4.3 (date-time, obsolete forms).
// Strings are latin1 (one char per octet), as stored in the index.

/** RFC 2045 §5.1 tspecials plus SPACE and CTLs end a token. */
function isTokenChar(c: number): boolean {
  if (c <= 0x20 || c === 0x7f) return false;
  switch (c) {
    case 0x28: case 0x29: case 0x3c: case 0x3e: case 0x40: case 0x2c: case 0x3b: case 0x3a:
    case 0x5c: case 0x22: case 0x2f: case 0x5b: case 0x5d: case 0x3f: case 0x3d:
      return false;
  }
  return true;
}

/** Skips folding white space and (nested) comments (RFC 5322 §3.2.2). */
export function skipCfws(s: string, i: number): number {
  for (;;) {
    while (i < s.length && isWsp(s.charCodeAt(i))) i++;
    if (s.charCodeAt(i) !== 0x28) return i;
    i = skipComment(s, i);
  }
}

export function isWsp(c: number): boolean {
  return c === 0x20 || c === 0x09 || c === 0x0d || c === 0x0a;
}

/** s[i] is '('; returns the index after the matching ')' (or the end of s). */
export function skipComment(s: string, i: number): number {
  let depth = 0;
  for (; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0x5c) i++;
    else if (c === 0x28) depth++;
    else if (c === 0x29 && --depth === 0) return i + 1;
  }
  return i;
}

/** Reads a quoted string at s[i] === '"'; returns its unescaped content and the index after it. */
export function readQuoted(s: string, i: number): [string, number] {
  let out = '';
  for (i++; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0x22) return [out, i + 1];
    if (c === 0x5c && i + 1 < s.length) {
      i++;
      out += s[i];
    } else if (c !== 0x0d && c !== 0x0a) {
      out += s[i];
    }
  }
  return [out, i];
}

function readToken(s: string, i: number): [string, number] {
  const start = i;
  while (i < s.length && isTokenChar(s.charCodeAt(i))) i++;
  return [s.slice(start, i), i];
}

export interface ContentType {
  type: string;
  subtype: string;
  params: string[];
}

/** Parses `type/subtype *(; param)`. null when the type or subtype is missing or malformed. */
export function parseContentType(value: string): ContentType | null {
  let i = skipCfws(value, 0);
  const [type, i1] = readToken(value, i);
  i = skipCfws(value, i1);
  if (type === '' || value[i] !== '/') return null;
  i = skipCfws(value, i + 1);
  const [subtype, i2] = readToken(value, i);
  if (subtype === '') return null;
  return { type, subtype, params: parseParams(value, i2) };
}

export interface Disposition {
  type: string;
  params: string[];
}

/** Parses `disposition-type *(; param)` (RFC 2183 §2). An empty type is kept as "" (Dovecot 2.3 sends
 *  ("" NIL) for an empty Content-Disposition and ("" ("a" "1")) for `Content-Disposition: ; a=1`). */
export function parseDisposition(value: string): Disposition {
  const i = skipCfws(value, 0);
  const [type, i1] = readToken(value, i);
  return { type, params: parseParams(value, i1) };
}

/** Content-Transfer-Encoding: the mechanism token (RFC 2045 §6.1), comments and junk after it dropped;
 *  null when there is no token (the default 7bit applies). */
export function parseMechanism(value: string): string | null {
  const [token] = readToken(value, skipCfws(value, 0));
  return token !== '' ? token : null;
}

/**
 * Parses `*(";" attribute "=" value)` from s[i] (RFC 2045 §5.1), recovering from junk the way Dovecot
 * does (skip one character and look for the next ';'), then applies RFC 2231 §3-4: continuations
 * `name*0`, `name*1`... are joined into `name`; when any piece is encoded (`name*0*`, `name*`) the
 * result is `name*` with the raw `charset'lang'%xx...` value (IMAP servers pass it on; clients decode).
 * When pieces are missing, they are left as they were (`name*1*`). Names keep their case; plain
 * parameters come first, then the RFC 2231 ones sorted by name.
 */
export function parseParams(s: string, i: number): string[] {
  const plain: string[] = [];
  const ext: { name: string; idx: number; enc: boolean; value: string; order: number }[] = [];
  const n = s.length;
  while (i < n) {
    if (s[i] !== ';') {
      i++;
      continue;
    }
    i = skipCfws(s, i + 1);
    if (i >= n) break;
    const [name, i1] = readToken(s, i);
    i = skipCfws(s, i1);
    if (i >= n) break;
    if (s[i] !== '=') {
      i++;
      continue;
    }
    i = skipCfws(s, i + 1);
    let value = '';
    if (i >= n) {
      value = '';
    } else if (s[i] === '"') {
      [value, i] = readQuoted(s, i);
    } else if (s[i] === '=') {
      // Broken input such as name==?utf-8?b?...?= : take everything up to ';' or white space.
      const start = i;
      while (i < n && !';\r\n \t'.includes(s[i]!)) i++;
      value = s.slice(start, i);
    } else {
      [value, i] = readToken(s, i);
    }
    i = skipCfws(s, i);
    const star = name.indexOf('*');
    const m = star < 0 ? null : /^\*(?:(\d+)(\*?))?$/.exec(name.slice(star));
    if (!m) {
      plain.push(name, value);
      continue;
    }
    const base = name.slice(0, star);
    // `name*` (no section number) takes the number of the RFC 2231 parameter before it, 0 for the first:
    // that is where Dovecot 2.3 files it when the same name also has numbered sections.
    if (m[1] === undefined) ext.push({ name: base, idx: ext[ext.length - 1]?.idx ?? 0, enc: true, value, order: ext.length });
    else ext.push({ name: base, idx: Number(m[1]), enc: m[2] === '*', value, order: ext.length });
  }
  if (ext.length === 0) return plain;
  const cmp = (a: string, b: string) => {
    const x = a.toLowerCase();
    const y = b.toLowerCase();
    return x < y ? -1 : x > y ? 1 : 0;
  };
  ext.sort((a, b) => cmp(a.name, b.name) || a.idx - b.idx || a.order - b.order);
  const out = plain;
  for (let j = 0; j < ext.length; ) {
    let k = j;
    let ok = true;
    let anyEnc = false;
    for (let idx = 0; k < ext.length && cmp(ext[k]!.name, ext[j]!.name) === 0; k++, idx++) {
      if (ext[k]!.idx !== idx) ok = false;
      if (ext[k]!.enc) anyEnc = true;
    }
    if (!ok) {
      for (let x = j; x < k; x++) {
        const e = ext[x]!;
        out.push(`${e.name}*${e.idx}${e.enc ? '*' : ''}`, e.value);
      }
    } else {
      let value = !ext[j]!.enc && anyEnc ? "''" : '';
      for (let x = j; x < k; x++) {
        const e = ext[x]!;
        value += !e.enc && anyEnc ? e.value.replace(/%/g, '%25') : e.value;
      }
      out.push(anyEnc ? ext[j]!.name + '*' : ext[j]!.name, value);
    }
    j = k;
  }
  return out;
}

/** Content-Language: a comma-separated list of tags (RFC 3282), comments ignored. */
export function parseLanguage(value: string): string[] {
  const out: string[] = [];
  let i = 0;
  for (;;) {
    i = skipCfws(value, i);
    if (i >= value.length) break;
    if (value[i] === ',') {
      i++;
      continue;
    }
    const start = i;
    while (i < value.length) {
      const c = value.charCodeAt(i);
      if (c === 0x2c || c === 0x28 || isWsp(c)) break;
      i++;
    }
    out.push(value.slice(start, i));
  }
  return out;
}

/** Removes the CR/LF of folded lines (RFC 5322 §2.2.3 unfolding) and trims surrounding white space. */
export function unfold(raw: string): string {
  return raw.replace(/\r?\n/g, '').replace(/^[ \t]+|[ \t]+$/g, '');
}

/** An envelope field value as kept in the index: the white space that begins the first line and every
 *  CR/LF removed, nothing else (Dovecot 2.3 sends date, in-reply-to and message-id like this; the
 *  subject and addresses get more processing when they are sent, src/mime/envelope.ts). */
export function envelopeText(raw: string): string {
  return raw.replace(/^[ \t]+/, '').replace(/[\r\n]/g, '');
}

/** Unfolding for ENVELOPE strings: like `unfold`, and a TAB that began a continuation line becomes a
 *  space (Dovecot 2.3 does this; both are white space to RFC 5322). */
export function unfoldEnvelope(raw: string): string {
  return unfold(raw.replace(/\r?\n\t/g, ' '));
}

const MONTHS = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'];
const ZONES: Record<string, number> = {
  ut: 0, utc: 0, gmt: 0, z: 0,
  est: -300, edt: -240, cst: -360, cdt: -300, mst: -420, mdt: -360, pst: -480, pdt: -420,
};

export interface ParsedDate {
  /** ms since the epoch (UTC). */
  ms: number;
  /** The date's own zone offset in minutes east of UTC. */
  zone: number;
}

/**
 * Parses an RFC 5322 §3.3 date-time, accepting the obsolete forms of §4.3 (two/three-digit years,
 * alphabetic zones, comments, missing seconds). null when no day, month, year and time are found.
 */
export function parseDate(value: string): ParsedDate | null {
  const s = value.replace(/\([^()]*\)/g, ' ');
  const tokens = s.split(/[\s,]+/).filter((t) => t !== '');
  let day = -1;
  let month = -1;
  let year = -1;
  let h = -1;
  let mi = 0;
  let sec = 0;
  let zone = 0;
  let idx = 0;
  // Optional day-of-week.
  if (tokens[0] !== undefined && /^[a-z]{3,}$/i.test(tokens[0]) && !MONTHS.includes(tokens[0].slice(0, 3).toLowerCase())) idx++;
  if (tokens[0] !== undefined && /^[a-z]{3}$/i.test(tokens[0]) && ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'].includes(tokens[0].toLowerCase())) idx = 1;
  for (; idx < tokens.length; idx++) {
    const t = tokens[idx]!;
    if (day < 0 && /^\d{1,2}$/.test(t)) {
      day = Number(t);
    } else if (month < 0 && /^[a-z]{3,}$/i.test(t) && MONTHS.includes(t.slice(0, 3).toLowerCase())) {
      month = MONTHS.indexOf(t.slice(0, 3).toLowerCase());
    } else if (year < 0 && month >= 0 && /^\d{2,4}$/.test(t)) {
      year = Number(t);
      if (t.length === 2) year += year < 50 ? 2000 : 1900;
      else if (t.length === 3) year += 1900;
    } else if (h < 0 && /^\d{1,2}:\d{1,2}(:\d{1,2})?$/.test(t)) {
      const parts = t.split(':').map(Number);
      h = parts[0]!;
      mi = parts[1]!;
      sec = parts[2] ?? 0;
    } else if (h >= 0 && /^[+-]\d{4}$/.test(t)) {
      const v = Number(t.slice(1, 3)) * 60 + Number(t.slice(3, 5));
      zone = t[0] === '-' ? -v : v;
      break;
    } else if (h >= 0 && ZONES[t.toLowerCase()] !== undefined) {
      zone = ZONES[t.toLowerCase()]!;
      break;
    } else if (h >= 0) {
      break;
    }
  }
  if (day < 1 || day > 31 || month < 0 || year < 0 || h < 0 || h > 23 || mi > 59 || sec > 60) return null;
  const ms = Date.UTC(year, month, day, h, mi, sec) - zone * 60_000;
  if (!Number.isFinite(ms)) return null;
  return { ms, zone };
}
