// Section → byte ranges of the raw message (RFC 9051 §6.4.5 BODY[section], RFC 3501 §6.4.5), answered
// from the stored part tree so FETCH never re-parses (ARCHITECTURE.md decision 4); BINARY support
// (RFC 3516); header field helpers for HEADER.FIELDS(.NOT) and SEARCH HEADER (RFC 5322 §2.2.3).
//
// Part numbers follow RFC 9051 §6.4.5 and Dovecot 2.3's reading of them: a multipart part's n-th
// child is n; a message/rfc822 part followed by more numbers descends into the encapsulated message;
// a non-multipart part is its own part 1, once (so BODY[1] of a single-part message is its body,
// BODY[1.1] does not exist). HEADER, HEADER.FIELDS(.NOT) and TEXT after a part
// number require a message/rfc822 part; MIME requires a part number.
//
// When a section does not exist, locateSection returns null and the server answers with an empty
// string (BODY[5] ""), as Dovecot does; RFC 9051 leaves this open and clients accept it.

import type { SectionSpec } from '../protocol/types.js';
import { createTransferDecoder, normalizeEncoding, withCrlfLineEnds, type TransferDecoder } from './transfer-decoding.js';
import type { MimeIndex, MimeIndexV1, MimePart } from './types.js';

export { createTransferDecoder, decodeTransferEncoding, normalizeEncoding } from './transfer-decoding.js';
export type { TransferDecoder } from './transfer-decoding.js';

export interface SectionLocation {
  /** Byte range [start, end) of the raw message. */
  start: number;
  end: number;
  /** For HEADER.FIELDS(.NOT): the range is the header block; the server keeps these fields. */
  headerFilter?: { fields: string[]; not: boolean };
}

function root(index: MimeIndex): MimePart {
  return (index as MimeIndexV1).r;
}

/** The part a section path names (path [] = the message itself), or null. */
export function findPart(index: MimeIndex, path: readonly number[]): MimePart | null {
  let part: MimePart | undefined = root(index);
  // A non-multipart part is its own part 1, once: BODY[1] of a single-part message is its body,
  // BODY[1.1] does not exist (Dovecot 2.3 answers the same).
  let stayed = false;
  for (let i = 0; i < path.length; i++) {
    const num = path[i]!;
    if (part.k) {
      part = part.k[num - 1];
      if (!part) return null;
      stayed = false;
    } else {
      if (num !== 1 || stayed) return null;
      stayed = true;
    }
    if (part.g && i < path.length - 1) {
      part = part.g;
      stayed = false;
    }
  }
  return part;
}

/** Byte range of BODY[section] (see the file comment for null). */
export function locateSection(index: MimeIndex, spec: SectionSpec): SectionLocation | null {
  const r = root(index);
  if (spec.path.length === 0) {
    switch (spec.text) {
      case undefined:
        return { start: 0, end: (index as MimeIndexV1).z };
      case 'HEADER':
        return { start: r.h, end: r.b };
      case 'HEADER.FIELDS':
      case 'HEADER.FIELDS.NOT':
        return { start: r.h, end: r.b, headerFilter: { fields: spec.fields ?? [], not: spec.text === 'HEADER.FIELDS.NOT' } };
      case 'TEXT':
        return { start: r.b, end: r.e };
      default:
        return null;
    }
  }
  const part = findPart(index, spec.path);
  if (!part) return null;
  switch (spec.text) {
    case undefined:
      return { start: part.b, end: part.e };
    case 'MIME':
      return { start: part.h, end: part.b };
    case 'HEADER':
      return part.g ? { start: part.g.h, end: part.g.b } : null;
    case 'HEADER.FIELDS':
    case 'HEADER.FIELDS.NOT':
      return part.g
        ? { start: part.g.h, end: part.g.b, headerFilter: { fields: spec.fields ?? [], not: spec.text === 'HEADER.FIELDS.NOT' } }
        : null;
    case 'TEXT':
      return part.g ? { start: part.g.b, end: part.g.e } : null;
    default:
      return null;
  }
}

/** What BINARY[section] decodes: the body range, its Content-Transfer-Encoding, and whether it is text. */
export interface BinaryInfo {
  start: number;
  end: number;
  /** Lower-cased; '7bit' when absent. */
  encoding: string;
  /** Textual and line-oriented (the message, a multipart or message part, a text/* leaf): sent with CRLF
   *  line ends (RFC 9051 §7.5.2 BINARY, RFC 3516 §6). Other leaves are sent exactly as decoded. */
  text: boolean;
}

/**
 * BINARY[section] (RFC 3516 §4.2): the body range and its Content-Transfer-Encoding (lower-cased,
 * '' when absent). path [] is the whole message, never decoded. null when the part does not exist.
 */
export function binaryInfo(index: MimeIndex, path: readonly number[]): BinaryInfo | null {
  if (path.length === 0) {
    const r = root(index);
    return { start: 0, end: (index as MimeIndexV1).z, encoding: 'binary', text: !holdsBinary(r) };
  }
  const part = findPart(index, path);
  if (!part) return null;
  // Multiparts and encapsulated messages are not decoded (RFC 2045 §6.4 forbids encoding them).
  const composite = part.k !== undefined || part.g !== undefined;
  const encoding = composite ? 'binary' : normalizeEncoding(part.c);
  // No valid Content-Type is text/plain (RFC 2045 §5.2); a part beyond the nesting cap is a leaf sent as
  // application/octet-stream. A composite holding a binary-encoded part is not line-oriented text.
  const text = composite ? !holdsBinary(part) : part.dg === 1 || (!part.x && (part.t === undefined || part.t.toLowerCase() === 'text'));
  return { start: part.b, end: part.e, encoding: encoding === '' ? '7bit' : encoding, text };
}

/** Some leaf at or below `part` has Content-Transfer-Encoding: binary (RFC 3516 §4.4 APPENDs): its octets,
 *  bare LFs included, must go out unchanged. */
function holdsBinary(part: MimePart): boolean {
  if (part.k) return part.k.some(holdsBinary);
  if (part.g) return holdsBinary(part.g);
  return normalizeEncoding(part.c) === 'binary';
}

/** The decoder for a BINARY section (null: unknown encoding, NO [UNKNOWN-CTE]); text gets CRLF line ends. */
export function binaryDecoder(info: BinaryInfo): TransferDecoder | null {
  const dec = createTransferDecoder(info.encoding);
  return dec && info.text ? withCrlfLineEnds(dec) : dec;
}

/** [start, end) of the message's own header block, including the blank line. */
export function topHeaderRange(index: MimeIndex): { start: number; end: number } {
  const r = root(index);
  return { start: r.h, end: r.b };
}

/** Size of the raw message in octets. */
export function messageSize(index: MimeIndex): number {
  return (index as MimeIndexV1).z;
}

/** Size with every line end a CRLF (what POP3 sends, RFC 1939 §5); the raw size for indexes that predate it. */
export function crlfMessageSize(index: MimeIndex): number {
  const ix = index as MimeIndexV1;
  return ix.cz ?? ix.z;
}

/** The Date header as ms since the epoch, null when absent or unparseable. */
export function messageDate(index: MimeIndex): number | null {
  return (index as MimeIndexV1).dt ?? null;
}

/**
 * The Date header's calendar day in its own zone, as ms of that day's UTC midnight
 * (RFC 9051 §6.4.4 SENTBEFORE/SENTON/SENTSINCE disregard time and timezone). null when absent.
 */
export function messageSentDay(index: MimeIndex): number | null {
  const ix = index as MimeIndexV1;
  if (ix.dt === null || ix.dt === undefined) return null;
  const local = new Date(ix.dt + (ix.dz ?? 0) * 60_000);
  return Date.UTC(local.getUTCFullYear(), local.getUTCMonth(), local.getUTCDate());
}

interface FieldLine {
  /** Lower-cased field name, or null for a line that is not a field. */
  name: string | null;
  start: number;
  end: number;
}

/** Splits a header block into fields (each with its continuation lines); stops at the blank line. */
function splitFields(header: Buffer): FieldLine[] {
  const out: FieldLine[] = [];
  let i = 0;
  while (i < header.length) {
    const nl = header.indexOf(10, i);
    const lineEnd = nl < 0 ? header.length : nl + 1;
    const c = header[i];
    if (c === 0x0a || (c === 0x0d && header[i + 1] === 0x0a)) break; // blank line
    if ((c === 0x20 || c === 0x09) && out.length > 0) {
      out[out.length - 1]!.end = lineEnd;
    } else {
      const colon = header.indexOf(0x3a, i);
      const name =
        colon > i && colon < lineEnd ? header.toString('latin1', i, colon).replace(/[ \t]+$/, '').toLowerCase() : null;
      out.push({ name, start: i, end: lineEnd });
    }
    i = lineEnd;
  }
  return out;
}

/**
 * HEADER.FIELDS / HEADER.FIELDS.NOT (RFC 9051 §6.4.5): the matching field lines (with their continuation
 * lines, as stored) followed by the blank line. As Dovecot 2.3 answers: HEADER.FIELDS always ends with
 * CRLF CRLF (a last field without a line break gets one); HEADER.FIELDS.NOT is the header's own bytes
 * minus the excluded fields, so a header that had no blank line (a message without a body) has none.
 */
export function filterHeaderFields(header: Buffer, fields: readonly string[], not: boolean): Buffer {
  const wanted = new Set(fields.map((f) => f.toLowerCase()));
  const parts: Buffer[] = [];
  const lines = splitFields(header);
  for (const f of lines) {
    const match = f.name !== null && wanted.has(f.name);
    if (match !== not) {
      let line = header.subarray(f.start, f.end);
      if (!not && line[line.length - 1] !== 0x0a) line = Buffer.concat([line, Buffer.from('\r\n')]);
      parts.push(line);
    }
  }
  if (!not) {
    parts.push(Buffer.from('\r\n'));
  } else {
    // The blank line that ended the header, as stored (after the last field line).
    const last = lines[lines.length - 1];
    const eoh = last ? last.end : 0;
    if (eoh < header.length) parts.push(header.subarray(eoh));
  }
  return Buffer.concat(parts);
}

/** Every value of a header field, unfolded and trimmed, decoded as UTF-8 (for SEARCH HEADER). */
export function headerFieldValues(header: Buffer, name: string): string[] {
  const want = name.toLowerCase();
  const out: string[] = [];
  for (const f of splitFields(header)) {
    if (f.name !== want) continue;
    const colon = header.indexOf(0x3a, f.start);
    const raw = header.toString('utf8', colon + 1, f.end);
    out.push(raw.replace(/\r?\n/g, '').replace(/^[ \t]+|[ \t]+$/g, ''));
  }
  return out;
}
