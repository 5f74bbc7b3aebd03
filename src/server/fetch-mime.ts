// What FETCH and SEARCH need from the stored MIME index (src/mime/types.ts MimeIndexV1): section →
// byte range (RFC 9051 §6.4.5.1 part numbering, HEADER / HEADER.FIELDS[.NOT] / TEXT / MIME), leaf parts
// and their Content-Transfer-Encoding for BINARY (RFC 3516 §4.2, RFC 2045 §6), header subsetting.
import type { ResponseValue, SectionSpec } from '../protocol/types.js';
import type { MimeIndex, MimeIndexV1, MimePart } from '../mime/types.js';
import { envelopeValue } from '../mime/envelope.js';

export interface Located {
  start: number;
  end: number;
  /** HEADER.FIELDS[.NOT]: subset the header bytes [start, end) before returning them. */
  filter?: { fields: string[]; not: boolean };
}

function root(index: MimeIndex): MimePart {
  const v1 = index as MimeIndexV1;
  if (v1.v !== 1 || !v1.r) throw new Error(`unsupported MIME index version ${String(index.v)}`);
  return v1.r;
}

function isMultipart(p: MimePart): boolean {
  return p.k !== undefined || (p.t ?? '').toLowerCase() === 'multipart';
}

/**
 * The part a path names, and whether it is a message root (so HEADER/TEXT apply). RFC 9051 §6.4.5.1:
 * a non-multipart message has only part 1 (its body); a message/rfc822 part's nested numbers refer
 * to the parts of the encapsulated message.
 */
function resolve(index: MimeIndex, path: number[]): { part: MimePart; messageRoot: MimePart | null } | null {
  let cur = root(index);
  let msg: MimePart | null = cur; // the message whose parts `path` numbers next
  for (const n of path) {
    if (msg) {
      if (isMultipart(msg)) {
        const child = msg.k?.[n - 1];
        if (!child) return null;
        cur = child;
      } else {
        if (n !== 1) return null;
        cur = msg;
      }
      msg = null;
    } else if (isMultipart(cur)) {
      const child = cur.k?.[n - 1];
      if (!child) return null;
      cur = child;
    } else if (cur.g) {
      const inner = cur.g;
      if (isMultipart(inner)) {
        const child = inner.k?.[n - 1];
        if (!child) return null;
        cur = child;
      } else {
        if (n !== 1) return null;
        cur = inner;
      }
    } else {
      return null;
    }
  }
  // After the walk: path [] → the message itself; a message/rfc822 part → its encapsulated root.
  const messageRoot = path.length === 0 ? cur : cur.g ?? null;
  return { part: cur, messageRoot };
}

/** Byte range of a section, or null when the part does not exist or the section does not apply. */
export function locate(index: MimeIndex, section: SectionSpec): Located | null {
  const r = resolve(index, section.path);
  if (!r) return null;
  const { part, messageRoot } = r;
  switch (section.text) {
    case undefined:
      if (section.path.length === 0) return { start: 0, end: (index as MimeIndexV1).z ?? part.e };
      return { start: part.b, end: part.e };
    case 'MIME':
      return { start: part.h, end: part.b };
    case 'HEADER':
      return messageRoot ? { start: messageRoot.h, end: messageRoot.b } : null;
    case 'TEXT':
      return messageRoot ? { start: messageRoot.b, end: messageRoot.e } : null;
    case 'HEADER.FIELDS':
    case 'HEADER.FIELDS.NOT':
      if (!messageRoot) return null;
      return { start: messageRoot.h, end: messageRoot.b, filter: { fields: section.fields ?? [], not: section.text === 'HEADER.FIELDS.NOT' } };
  }
}

/** The body range and encoding of a leaf part for BINARY; 'not-leaf' for multipart and message parts. */
export function binaryPart(index: MimeIndex, path: number[]): { start: number; end: number; encoding: string } | 'not-leaf' | null {
  if (path.length === 0) {
    // BINARY[] is the whole message; there is no single transfer encoding to undo.
    const r = root(index);
    return { start: 0, end: (index as MimeIndexV1).z ?? r.e, encoding: '7bit' };
  }
  const r = resolve(index, path);
  if (!r) return null;
  const p = r.part;
  if (isMultipart(p) || p.g) return 'not-leaf';
  return { start: p.b, end: p.e, encoding: (p.c ?? '7bit').trim().toLowerCase() };
}

/** Leaf parts of a message with their type, for BODY/TEXT search. */
export function leafParts(index: MimeIndex): Array<{ part: MimePart; type: string; subtype: string }> {
  const out: Array<{ part: MimePart; type: string; subtype: string }> = [];
  const walk = (p: MimePart, depth: number) => {
    if (depth > 64) return;
    if (p.k && p.k.length > 0) {
      for (const c of p.k) walk(c, depth + 1);
      return;
    }
    if (p.g) {
      walk(p.g, depth + 1);
      return;
    }
    out.push({ part: p, type: (p.t ?? (p.dg ? 'message' : 'text')).toLowerCase(), subtype: (p.s ?? (p.dg ? 'rfc822' : 'plain')).toLowerCase() });
  };
  walk(root(index), 0);
  return out;
}

/** The parameter `name` of a part's Content-Type (e.g. charset), or null. */
export function contentParam(p: MimePart, name: string): string | null {
  const params = p.p ?? [];
  for (let i = 0; i + 1 < params.length; i += 2) if (params[i]!.toLowerCase() === name) return params[i + 1]!;
  return null;
}

/** Header range [h, b) of the top-level message. */
export function topHeader(index: MimeIndex): { start: number; end: number } {
  const r = root(index);
  return { start: r.h, end: r.b };
}

/** Sent date (Date: header) in ms, or null. */
export function sentDate(index: MimeIndex): number | null {
  return (index as MimeIndexV1).dt ?? null;
}

/**
 * Undoes a Content-Transfer-Encoding (RFC 2045 §6): identity encodings as they are, base64 and
 * quoted-printable decoded; null for anything else (the caller answers [UNKNOWN-CTE]).
 */
export function decodeCte(data: Buffer, encoding: string): Buffer | null {
  switch (encoding.trim().toLowerCase()) {
    case '':
    case '7bit':
    case '8bit':
    case 'binary':
      return data;
    case 'base64':
      return Buffer.from(data.toString('latin1').replace(/[^A-Za-z0-9+/]/g, ''), 'base64');
    case 'quoted-printable':
      return decodeQuotedPrintable(data);
    default:
      return null;
  }
}

/** RFC 2045 §6.7: =XX escapes, soft line breaks "=" CRLF; trailing whitespace before a line break dropped. */
export function decodeQuotedPrintable(data: Buffer): Buffer {
  const out = Buffer.alloc(data.length);
  let o = 0;
  const n = data.length;
  let i = 0;
  const hex = (c: number): number => (c >= 48 && c <= 57 ? c - 48 : c >= 65 && c <= 70 ? c - 55 : c >= 97 && c <= 102 ? c - 87 : -1);
  while (i < n) {
    const c = data[i]!;
    if (c === 0x3d) {
      // soft line break: "=" [WSP...] CRLF or LF
      let j = i + 1;
      while (j < n && (data[j] === 0x20 || data[j] === 0x09)) j++;
      if (j < n && data[j] === 0x0d && data[j + 1] === 0x0a) {
        i = j + 2;
        continue;
      }
      if (j < n && data[j] === 0x0a) {
        i = j + 1;
        continue;
      }
      if (j >= n) {
        i = n;
        continue;
      }
      const h1 = i + 1 < n ? hex(data[i + 1]!) : -1;
      const h2 = i + 2 < n ? hex(data[i + 2]!) : -1;
      if (h1 >= 0 && h2 >= 0) {
        out[o++] = h1 * 16 + h2;
        i += 3;
        continue;
      }
      out[o++] = c; // malformed: keep literally (RFC 2045 §6.7 note 1)
      i++;
      continue;
    }
    if (c === 0x20 || c === 0x09) {
      // drop trailing whitespace at the end of a line
      let j = i;
      while (j < n && (data[j] === 0x20 || data[j] === 0x09)) j++;
      if (j >= n || data[j] === 0x0d || data[j] === 0x0a) {
        i = j;
        continue;
      }
    }
    out[o++] = c;
    i++;
  }
  return out.subarray(0, o);
}

/**
 * HEADER.FIELDS / HEADER.FIELDS.NOT subsetting (RFC 9051 §6.4.5.1): whole fields (with their
 * continuation lines) whose name matches, ASCII case-insensitively; the blank line that ends the header
 * is kept when the header had one.
 */
export function filterHeader(header: Buffer, fields: string[], not: boolean): Buffer {
  const wanted = new Set(fields.map((f) => f.toLowerCase()));
  const text = header.toString('latin1');
  const lines = text.split(/(?<=\n)/);
  const kept: string[] = [];
  let keep = false;
  let blank = '';
  for (const line of lines) {
    if (line === '\r\n' || line === '\n') {
      blank = line;
      break;
    }
    if (line[0] === ' ' || line[0] === '\t') {
      if (keep) kept.push(line);
      continue;
    }
    const colon = line.indexOf(':');
    const name = (colon >= 0 ? line.slice(0, colon) : line).trim().toLowerCase();
    keep = wanted.has(name) !== not && colon >= 0;
    if (keep) kept.push(line.endsWith('\n') ? line : line + '\r\n');
  }
  return Buffer.from(kept.join('') + (blank ? '\r\n' : ''), 'latin1');
}

/** ENVELOPE (RFC 9051 §7.5.2), from src/mime. */
export function envelope(index: MimeIndex): ResponseValue {
  return envelopeValue(index);
}

/** BODY / BODYSTRUCTURE (RFC 9051 §7.5.2), from src/mime. */
export function bodyStructure(index: MimeIndex, extended: boolean): ResponseValue {
  if (!bodyStructureBuilder) throw new Error('BODYSTRUCTURE builder not available');
  return bodyStructureBuilder(index, extended);
}

let bodyStructureBuilder: ((index: MimeIndex, extended: boolean) => ResponseValue) | null = null;
export function setBodyStructureBuilder(f: (index: MimeIndex, extended: boolean) => ResponseValue): void {
  bodyStructureBuilder = f;
}
