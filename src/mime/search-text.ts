// The searchable text of a message, shared by the exact SEARCH scan (src/server/search-eval.ts) and the
// full-text index the store keeps (src/store/sqlite): both MUST derive text the same way, or the index
// would stop being a superset of the scan's matches.
//  - RFC 2045 §6 transfer encodings, RFC 2047 encoded words (§6.2: white space between adjacent encoded
//    words dropped), RFC 6532 UTF-8 headers (8-bit header bytes read as UTF-8, else Latin-1).
//  - Charsets (RFC 2046 §4.1.2, RFC 2978 names) converted to Unicode with iconv-lite, or the platform's
//    WHATWG TextDecoder for what iconv-lite lacks (ISO-2022-JP).
//  - Comparison by i;unicode-casemap (RFC 5051 §2), see `fold`.
//  - FROM/TO/CC/BCC match "the envelope structure's ... field" (RFC 9051 §6.4.4): besides the header text,
//    each address's mailbox@host as ENVELOPE gives it, so comments and spaces inside an address
//    ("<user (c)@ (c) example.org>") do not hide it.
import iconv from 'iconv-lite';
import { parseAddressList } from './envelope.js';
import type { MimeIndex, MimeIndexV1, MimePart } from './types.js';
import { decodeTransferEncoding, headerFieldValues, topHeaderRange } from './sections.js';

// ------------------------------------------------------------------ charsets

/** Label aliases iconv-lite does not know but mail uses. */
const ALIASES: Record<string, string> = {
  'x-sjis': 'shift_jis',
  'x-euc-kr': 'euc-kr',
  'ks_c_5601-1987': 'cp949',
  'x-gbk': 'gbk',
  'ansi_x3.4-1968': 'us-ascii',
  'x-mac-roman': 'macintosh',
};

function normalizeLabel(charset: string): string {
  const cs = charset.trim().toLowerCase().replace(/^"|"$/g, '');
  return ALIASES[cs] ?? cs;
}

function textDecoderFor(cs: string): TextDecoder | null {
  try {
    return new TextDecoder(cs);
  } catch {
    return null;
  }
}

/** true when `charset` can be converted to Unicode (iconv-lite or the WHATWG decoder). */
export function charsetSupported(charset: string): boolean {
  const cs = normalizeLabel(charset);
  if (cs === 'us-ascii' || cs === 'ascii' || cs === 'utf-8' || cs === 'utf8') return true;
  return iconv.encodingExists(cs) || textDecoderFor(cs) !== null;
}

/**
 * Bytes in `charset` → string. US-ASCII, UTF-8, absent and unknown charsets: UTF-8 when the bytes are
 * valid UTF-8, else Latin-1 (so 8-bit text in an undeclared charset still searches by its bytes).
 */
export function decodeCharset(data: Buffer, charset: string | null): string {
  const cs = normalizeLabel(charset ?? 'us-ascii');
  if (cs === 'utf-8' || cs === 'utf8' || cs === 'us-ascii' || cs === 'ascii') return utf8OrLatin1(data);
  if (iconv.encodingExists(cs)) return iconv.decode(data, cs);
  const td = textDecoderFor(cs);
  return td ? td.decode(data) : utf8OrLatin1(data);
}

export function utf8OrLatin1(data: Buffer): string {
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(data);
  } catch {
    return data.toString('latin1');
  }
}

/**
 * Header text (8-bit bytes already read as UTF-8, RFC 6532, or Latin-1) with RFC 2047 encoded words
 * decoded; white space between adjacent encoded words is dropped (RFC 2047 §6.2).
 */
export function decodeHeaderText(text: string): string {
  return text.replace(/=\?([^?\s]+)\?([bBqQ])\?([^?\s]*)\?=(?:[ \t\r\n]+(?==\?[^?\s]+\?[bBqQ]\?[^?\s]*\?=))?/g, (_all, charset: string, enc: string, data: string) => {
    const cs = charset.split('*')[0]!; // RFC 2231 §5 language suffix
    let bytes: Buffer;
    if (enc.toUpperCase() === 'B') bytes = Buffer.from(data, 'base64');
    else {
      bytes = Buffer.from(
        data.replace(/_/g, ' ').replace(/=([0-9A-Fa-f]{2})/g, (_m, h: string) => String.fromCharCode(parseInt(h, 16))),
        'latin1',
      );
    }
    return decodeCharset(bytes, cs);
  });
}

// ------------------------------------------------------------------ i;unicode-casemap

/** Digraphs whose titlecase letter differs from their upper case (UnicodeData.txt field 14). */
const TITLE_DIGRAPH: Record<string, string> = {
  '\u01c4': '\u01c5', '\u01c5': '\u01c5', '\u01c6': '\u01c5',
  '\u01c7': '\u01c8', '\u01c8': '\u01c8', '\u01c9': '\u01c8',
  '\u01ca': '\u01cb', '\u01cb': '\u01cb', '\u01cc': '\u01cb',
  '\u01f1': '\u01f2', '\u01f2': '\u01f2', '\u01f3': '\u01f2',
};
const titleCache = new Map<string, string>();

/** The simple (one code point) titlecase mapping of one code point; itself when it has none. */
function titlecase(c: string): string {
  let t = titleCache.get(c);
  if (t !== undefined) return t;
  const digraph = TITLE_DIGRAPH[c];
  if (digraph) t = digraph;
  else {
    const up = c.toUpperCase();
    // A multi-character upper case (ß → SS, ﬁ → FI) is a SpecialCasing.txt mapping, not a simple one.
    t = up.length === 1 || (up.length === 2 && up.codePointAt(0)! > 0xffff) ? up : c;
  }
  if (titleCache.size < 65_536) titleCache.set(c, t);
  return t;
}

/** Where String.prototype.toUpperCase differs from per-character simple titlecase: expansions of
 *  SpecialCasing.txt (ß, ŉ, ǰ, ΐ, ΰ, և, ẖ-ẚ, Greek extended, ligatures) and the digraphs. */
const NOT_PLAIN_UPPER = /[\u00df\u0149\u01c4-\u01cc\u01f0-\u01f3\u0390\u03b0\u0587\u1e96-\u1e9a\u1f50-\u1f57\u1f80-\u1fff\ufb00-\ufb17]/;

function titlecaseAll(s: string): string {
  if (!NOT_PLAIN_UPPER.test(s)) return s.toUpperCase();
  let out = '';
  for (const c of s) out += c.charCodeAt(0) < 0x80 ? c.toUpperCase() : titlecase(c);
  return out;
}

/**
 * i;unicode-casemap (RFC 5051 §2): (1) every character to its titlecase mapping (UnicodeData.txt's
 * simple mapping), (2) Unicode NFKD. Two strings compare equal when their folds are equal; SEARCH
 * matches a folded needle as a substring of folded text (RFC 9051 §6.4.4).
 * Approximations and one addition, documented:
 *  - JavaScript has no titlecase: it is toUpperCase() where that gives one code point (the simple
 *    mapping), the table above for the digraphs (ǆ → ǅ), and the character itself where upper case is
 *    a SpecialCasing.txt expansion (ß, ﬁ, ŉ; and the Greek letters with ypogegrammeni, whose simple
 *    titlecase ᾳ → ᾼ we do not have, so ᾳ and ᾼ compare different).
 *  - After NFKD the result is titlecased once more, so text that only NFKD makes cased compares
 *    case-insensitively too: ﬁ → "fi" → "FI" equals "fi", ㎒ equals "mhz". This makes fold idempotent.
 *  So: "STRASSE" does not match "straße" (as in RFC 5051), "École" matches "ÉCOLE" and "e\u0301cole".
 */
export function fold(s: string): string {
  // Fast path: ASCII titlecase is upper case and NFKD leaves ASCII alone.
  // eslint-disable-next-line no-control-regex
  if (/^[\x00-\x7f]*$/.test(s)) return s.toUpperCase();
  return titlecaseAll(titlecaseAll(s).normalize('NFKD'));
}

// ------------------------------------------------------------------ the text of a message

/** One message's searchable text, each piece decoded and folded (see `fold`). */
export interface SearchDoc {
  /** The whole top-level header, decoded (TEXT). */
  header: string;
  /** Every top-level header field's value, unfolded and decoded as HEADER compares it, one a line. */
  fields: string;
  /** The envelope fields SUBJECT/FROM/TO/CC/BCC compare (the first occurrence, from the MIME index). */
  subject: string;
  from: string;
  to: string;
  cc: string;
  bcc: string;
  /** Decoded text of every text and message leaf part (BODY), parts joined by a line break. */
  body: string;
  /** The MIME headers of the leaf parts, decoded (TEXT). */
  mime: string;
}

export type BlobReader = (start: number, end: number) => Promise<Buffer>;

export interface LeafPart {
  part: MimePart;
  /** Lower-cased media type and subtype, defaulted per RFC 2045 §5.2 / RFC 2046 §5.1.5. */
  type: string;
  subtype: string;
}

/** Leaf parts in order, descending into multiparts and encapsulated messages. */
export function leafParts(index: MimeIndex): LeafPart[] {
  const out: LeafPart[] = [];
  const walk = (p: MimePart, depth: number): void => {
    if (depth > 64) return;
    if (p.k) {
      for (const c of p.k) walk(c, depth + 1);
      return;
    }
    if (p.g) {
      walk(p.g, depth + 1);
      return;
    }
    const type = (p.t ?? (p.dg ? 'message' : 'text')).toLowerCase();
    const subtype = (p.s ?? (p.dg ? 'rfc822' : 'plain')).toLowerCase();
    out.push({ part: p, type, subtype });
  };
  const idx = index as MimeIndexV1;
  if (idx.r) walk(idx.r, 0);
  return out;
}

/** The parameter `name` (lower-case) of a part's Content-Type, e.g. charset; null when absent. */
export function contentParam(p: MimePart, name: string): string | null {
  const params = p.p ?? [];
  for (let i = 0; i + 1 < params.length; i += 2) if (params[i]!.toLowerCase() === name) return params[i + 1]!;
  return null;
}

/** Envelope positions of the fields SUBJECT/FROM/TO/CC/BCC compare (raw text, first occurrence). */
export const ENVELOPE_FIELD = { subject: 1, from: 2, to: 5, cc: 6, bcc: 7 } as const;
export type EnvelopeField = keyof typeof ENVELOPE_FIELD;

/** The folded, decoded value of an envelope field; null when the message has no such field. */
export function envelopeText(index: MimeIndex, field: EnvelopeField): string | null {
  const idx = index as MimeIndexV1;
  const raw = idx.v === 1 ? idx.r?.en?.[ENVELOPE_FIELD[field]] : undefined;
  if (raw === null || raw === undefined) return null;
  let text = raw;
  if (field !== 'subject') {
    // One address a line after the header text; a line break cannot occur in a needle's match otherwise.
    for (const a of parseAddressList(raw)) if (a.mailbox !== null && a.host !== null) text += `\n${a.mailbox}@${a.host}`;
  }
  return fold(decodeHeaderText(utf8OrLatin1(Buffer.from(text, 'latin1'))));
}

/** TEXT's header piece: the whole header, decoded and folded. */
export function headerText(header: Buffer): string {
  return fold(decodeHeaderText(utf8OrLatin1(header)));
}

/** HEADER's pieces: the folded, decoded values of the fields named `field`. */
export function headerFieldTexts(header: Buffer, field: string): string[] {
  return headerFieldValues(header, field).map((v) => fold(decodeHeaderText(v)));
}

/** Every field's value as `headerFieldTexts` gives it, one a line (for the index). One pass over the
 *  header, splitting fields as src/mime/sections.ts headerFieldValues does. */
export function allFieldTexts(header: Buffer): string {
  const out: string[] = [];
  let start = -1; // start of the current field's value (after its colon), -1 when none
  let end = 0;
  const flush = () => {
    if (start >= 0) out.push(fold(decodeHeaderText(header.toString('utf8', start, end).replace(/\r?\n/g, '').replace(/^[ \t]+|[ \t]+$/g, ''))));
    start = -1;
  };
  let i = 0;
  while (i < header.length) {
    const nl = header.indexOf(10, i);
    const lineEnd = nl < 0 ? header.length : nl + 1;
    const c = header[i];
    if (c === 0x0a || (c === 0x0d && header[i + 1] === 0x0a)) break; // blank line
    if (c === 0x20 || c === 0x09) {
      end = lineEnd; // continuation
    } else {
      flush();
      const colon = header.indexOf(0x3a, i);
      if (colon > i && colon < lineEnd) {
        start = colon + 1;
        end = lineEnd;
      }
    }
    i = lineEnd;
  }
  flush();
  return out.join('\n');
}

/**
 * BODY's text: every text and message leaf (RFC 9051 §6.4.4 lets servers skip other parts), transfer-
 * decoded and charset-converted, folded, joined by line breaks. With `mimeHeaders`, the leaves' MIME
 * headers, decoded and folded, instead.
 */
export async function bodyTexts(index: MimeIndex, read: BlobReader): Promise<{ body: string; mime: string }> {
  const body: string[] = [];
  const mime: string[] = [];
  for (const leaf of leafParts(index)) {
    if (leaf.part.h < leaf.part.b && leaf.part.h > 0) mime.push(headerText(await read(leaf.part.h, leaf.part.b)));
    if (leaf.type !== 'text' && leaf.type !== 'message') continue;
    const raw = await read(leaf.part.b, leaf.part.e);
    const decoded = decodeTransferEncoding(raw, leaf.part.c ?? '7bit') ?? raw;
    body.push(fold(decodeCharset(decoded, contentParam(leaf.part, 'charset'))));
  }
  return { body: body.join('\n'), mime: mime.join('\n') };
}

/** Bytes of the text and message leaves (what indexing one message reads). */
export function textBytes(index: MimeIndex): number {
  let n = 0;
  for (const leaf of leafParts(index)) {
    n += leaf.part.b - leaf.part.h;
    if (leaf.type === 'text' || leaf.type === 'message') n += leaf.part.e - leaf.part.b;
  }
  return n;
}

/** The whole searchable text of a message, for the full-text index. */
export async function searchDoc(index: MimeIndex, read: BlobReader): Promise<SearchDoc> {
  const h = topHeaderRange(index);
  const header = await read(h.start, h.end);
  const { body, mime } = await bodyTexts(index, read);
  return {
    header: headerText(header),
    fields: allFieldTexts(header),
    subject: envelopeText(index, 'subject') ?? '',
    from: envelopeText(index, 'from') ?? '',
    to: envelopeText(index, 'to') ?? '',
    cc: envelopeText(index, 'cc') ?? '',
    bcc: envelopeText(index, 'bcc') ?? '',
    body,
    mime,
  };
}
