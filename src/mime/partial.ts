// Partial messages (docs/sync.md "Partial messages"; RFC 1733 §3: a disconnected client may "fetch only
// the text segment" and request the rest when needed). A replica keeps a message whose bytes are only partly
// downloaded as a synthetic blob — the top-level header and the part bodies that were fetched, laid out
// with their MIME headers — plus a MimeIndexV1 whose offsets point into that blob for what is there and
// whose sizes, line counts, parameters, ids, dispositions and envelopes reproduce the remote
// BODYSTRUCTURE (RFC 9051 §7.5.2, §9 body), with `z` the remote RFC822.SIZE. The index marks itself
// partial (`pz`) and marks each part whose body (`u`) or header (`hu`) bytes are not held; the server
// answers from it what is there and asks for the rest (src/server, fetchMissing).
//
// Section numbers follow RFC 9051 §6.4.5 as src/mime/sections.ts reads them: a multipart's n-th child is n;
// a message/rfc822 part's encapsulated message has its parts below the part's number (a single body is
// n.1); a single-part message's body is 1.
import { indexMessage } from './indexer.js';
import { findPart } from './sections.js';
import type { MimeIndex, MimeIndexV1, MimePart, RawEnvelope } from './types.js';

/** An address of an envelope as the IMAP client (src/client/types.ts Address) gives it. */
export interface PartialAddress {
  name?: string;
  /** mailbox@host. */
  address?: string;
  /** RFC 5322 group start; its members follow until the next group start or the end. */
  group?: string;
}

export interface PartialEnvelope {
  date?: string;
  subject?: string;
  from?: readonly PartialAddress[];
  sender?: readonly PartialAddress[];
  replyTo?: readonly PartialAddress[];
  to?: readonly PartialAddress[];
  cc?: readonly PartialAddress[];
  bcc?: readonly PartialAddress[];
  inReplyTo?: string;
  messageId?: string;
}

/**
 * The remote BODYSTRUCTURE, structurally the client's BodyStructure (src/client/types.ts; same field names,
 * not imported: src/mime does not depend on src/client). Only the shape, sizes and line counts are needed
 * when the parts' MIME headers are given; the other fields are the fallback when they are not.
 */
export interface PartialStructure {
  part?: string;
  type: string;
  subtype: string;
  parameters?: Readonly<Record<string, string>>;
  id?: string;
  description?: string;
  encoding?: string;
  size?: number;
  lines?: number;
  md5?: string;
  disposition?: { type: string; parameters?: Readonly<Record<string, string>> };
  language?: readonly string[];
  location?: string;
  envelope?: PartialEnvelope;
  children?: readonly PartialStructure[];
}

export interface PartialInput {
  /** The remote BODY[HEADER]: the top-level header including the blank line. */
  header: Buffer;
  structure: PartialStructure;
  /** The remote RFC822.SIZE. */
  size: number;
  /**
   * Downloaded sections by section number: '1', '2.1' hold the exact BODY[n] bytes of leaves and of
   * message/rfc822 parts (whose body is the whole encapsulated message; a multipart's own body is not used); '2.MIME' a part's exact BODY[n.MIME] and '3.HEADER' a
   * message/rfc822 part's exact BODY[n.HEADER]. MIME headers make the index exact (types, parameters,
   * ids, descriptions as written); without them those fields come from `structure` (as the client
   * normalised them) and n.MIME / n.HEADER are not available. partialHeaderSections lists them.
   */
  parts: ReadonlyMap<string, Buffer>;
}

export interface PartialMessage {
  bytes: Buffer;
  mime: MimeIndexV1;
}

/** The index describes a partly downloaded message (see the file comment). */
export function isPartial(mime: MimeIndex): boolean {
  return (mime as MimeIndexV1).pz === 1;
}

/**
 * Whether a section's bytes are in the blob. Always true for a complete message. For a partial one:
 * BODY[HEADER] and HEADER.FIELDS(.NOT) are; BODY[] and TEXT are not; a part's body, n.MIME, n.HEADER and
 * n.TEXT are when they were downloaded. A section that does not exist is available (it reads as "").
 * BINARY[n] and BINARY.SIZE[n] need BODY[n].
 */
export function partialSectionAvailable(mime: MimeIndex, section: { path: readonly number[]; text?: string }): boolean {
  if (!isPartial(mime)) return true;
  const text = section.text;
  if (section.path.length === 0) {
    if (text === undefined || text === 'TEXT') return false;
    return true;
  }
  const part = findPart(mime, section.path);
  if (!part) return true;
  switch (text) {
    case undefined:
      return part.u !== 1;
    case 'MIME':
      return part.hu !== 1;
    case 'HEADER':
    case 'HEADER.FIELDS':
    case 'HEADER.FIELDS.NOT':
      return !part.g || part.g.hu !== 1;
    case 'TEXT':
      return !part.g || part.g.u !== 1;
    default:
      return true;
  }
}

/**
 * The header sections to download with BODYSTRUCTURE so buildPartialMessage reproduces every field
 * exactly: n.MIME of every part below the top level (except the body of an encapsulated message, whose
 * header is n.HEADER) and n.HEADER of every message/rfc822 or message/global part.
 */
export function partialHeaderSections(structure: PartialStructure): string[] {
  const out: string[] = [];
  const walk = (node: PartialStructure, sec: string, isRoot: boolean, depth: number): void => {
    if (depth > 200) return;
    if (!isRoot) out.push(`${sec}.MIME`);
    const kids = node.children ?? [];
    if (isMultipart(node)) {
      kids.forEach((c, i) => walk(c, join(sec, i + 1), false, depth + 1));
    } else if (isMessage(node)) {
      out.push(`${sec}.HEADER`);
      const inner = kids[0]!;
      // The encapsulated message's root: a multipart keeps the number, a single body is n.1.
      walkRoot(inner, sec, depth + 1);
    }
  };
  const walkRoot = (node: PartialStructure, msgSec: string, depth: number): void => {
    if (isMultipart(node)) (node.children ?? []).forEach((c, i) => walk(c, join(msgSec, i + 1), false, depth + 1));
    else walk(node, join(msgSec, 1), true, depth);
  };
  if (isMultipart(structure)) walkRoot(structure, '', 0);
  else walk(structure, '1', true, 0);
  return out;
}

/** Builds the synthetic blob and its index (see the file comment). */
export function buildPartialMessage(input: PartialInput): PartialMessage {
  const { header, structure, size, parts } = input;
  // A single-part message whose body is here is the whole message: store it as it is.
  if (!isMultipart(structure) && !isMessage(structure)) {
    const body = parts.get('1');
    if (body && header.length + body.length === size) {
      const bytes = Buffer.concat([header, body]);
      return { bytes, mime: indexMessage(bytes) };
    }
  }
  const b = new Builder(parts);
  const top = indexMessage(header);
  const r = b.part(structure, isMultipart(structure) ? '' : '1', header, 0, true);
  const mime: MimeIndexV1 = { v: 1, z: size, dt: top.dt, r, pz: 1 };
  if (top.dz !== undefined) mime.dz = top.dz;
  return { bytes: b.finish(), mime };
}

// ------------------------------------------------------------------ internals

const CRLF = Buffer.from('\r\n');
const MIME_VERSION = Buffer.from('MIME-Version: 1.0\r\n');
const MAX_DEPTH = 200;

function join(sec: string, n: number): string {
  return sec === '' ? String(n) : `${sec}.${n}`;
}

function isMultipart(node: PartialStructure): boolean {
  return node.type.toLowerCase() === 'multipart' && node.children !== undefined;
}

function isMessage(node: PartialStructure): boolean {
  const t = node.type.toLowerCase();
  const s = node.subtype.toLowerCase();
  return t === 'message' && (s === 'rfc822' || s === 'global') && node.children !== undefined && node.children.length === 1;
}

/** Fields of MimePart that come from a header block (as opposed to offsets and structure). */
const HEADER_FIELDS = ['t', 's', 'p', 'id', 'ds', 'c', 'lo', 'm', 'dt', 'dp', 'la'] as const;

/** Strings of the index are header bytes as latin1; text the client decoded is kept as its UTF-8 bytes. */
function raw(s: string): string {
  return Buffer.from(s, 'utf8').toString('latin1');
}

function flatParams(params: Readonly<Record<string, string>> | undefined): string[] | undefined {
  if (!params) return undefined;
  const out: string[] = [];
  for (const [k, v] of Object.entries(params)) out.push(raw(k), raw(v));
  return out.length > 0 ? out : undefined;
}

function countLf(buf: Buffer): number {
  let n = 0;
  for (let i = buf.indexOf(10); i !== -1; i = buf.indexOf(10, i + 1)) n++;
  return n;
}

/** `name <mailbox@host>` lists, with RFC 5322 groups, re-parsed by src/mime/envelope.ts. */
function addressList(list: readonly PartialAddress[] | undefined): string | null {
  if (!list || list.length === 0) return null;
  const out: string[] = [];
  let inGroup = false;
  let members: string[] = [];
  const closeGroup = () => {
    if (inGroup) out.push(`${out.pop()!} ${members.join(', ')};`);
    inGroup = false;
    members = [];
  };
  for (const a of list) {
    if (a.group !== undefined) {
      closeGroup();
      out.push(`${quotePhrase(a.group)}:`);
      inGroup = true;
      continue;
    }
    const addr = a.address ?? '';
    const one = a.name !== undefined && a.name !== '' ? `${quotePhrase(a.name)} <${addr}>` : `<${addr}>`;
    if (inGroup) members.push(one);
    else out.push(one);
  }
  closeGroup();
  return raw(out.join(', '));
}

function quotePhrase(s: string): string {
  return /^[A-Za-z0-9!#$%&'*+\-/=?^_`{|}~ \u0080-\uffff]*$/.test(s) ? s : `"${s.replace(/["\\]/g, '\\$&')}"`;
}

function envelopeFrom(e: PartialEnvelope | undefined): RawEnvelope {
  const v = (s: string | undefined): string | null => (s === undefined ? null : raw(s));
  if (!e) return [null, null, null, null, null, null, null, null, null, null];
  return [
    v(e.date),
    v(e.subject),
    addressList(e.from),
    addressList(e.sender),
    addressList(e.replyTo),
    addressList(e.to),
    addressList(e.cc),
    addressList(e.bcc),
    v(e.inReplyTo),
    v(e.messageId),
  ];
}

class Builder {
  private readonly chunks: Buffer[] = [];
  private pos = 0;
  private lf = 0;

  constructor(private readonly parts: ReadonlyMap<string, Buffer>) {}

  finish(): Buffer {
    return Buffer.concat(this.chunks, this.pos);
  }

  private write(buf: Buffer): void {
    if (buf.length === 0) return;
    this.chunks.push(buf);
    this.pos += buf.length;
    this.lf += countLf(buf);
  }

  /**
   * Lays out one part (header, then body or children) and returns its index entry. `sec` is the number
   * of its body (a multipart's: its own number, '' at the top); `header` null: not downloaded; `isRoot`:
   * a message's own header (the top level or an encapsulated message), else a MIME part header.
   */
  part(node: PartialStructure, sec: string, header: Buffer | null, depth: number, isRoot: boolean): MimePart {
    const h = this.pos;
    const fields = header ? headerFields(header, isRoot) : structureFields(node, isRoot);
    if (header) this.write(header);
    const b = this.pos;
    const lfAtBody = this.lf;
    const part: MimePart = { h, b, e: b, n: 0, ...fields };
    if (!header) part.hu = 1;
    if (depth > MAX_DEPTH) {
      part.u = 1;
      return part;
    }
    if (isMultipart(node)) {
      // Children between boundary delimiters (cosmetic: the index, not a parser, reads this blob).
      const boundary = paramOf(part.p, 'boundary') ?? paramOf(flatParams(node.parameters), 'boundary');
      const delim = boundary !== undefined ? Buffer.from(`--${boundary}`, 'latin1') : null;
      const kids: MimePart[] = [];
      (node.children ?? []).forEach((child, i) => {
        const childSec = join(sec, i + 1);
        if (delim) this.write(Buffer.concat([delim, CRLF]));
        kids.push(this.part(child, childSec, this.parts.get(`${childSec}.MIME`) ?? null, depth + 1, false));
        if (delim) this.write(CRLF);
      });
      if (delim) this.write(Buffer.concat([delim, Buffer.from('--'), CRLF]));
      part.k = kids;
      part.e = this.pos;
      part.n = this.lf - lfAtBody;
      part.u = 1;
      return part;
    }
    // No Content-Type where the remote saw a message: a multipart/digest child (RFC 2046 §5.1.5).
    if (header && part.t === undefined && (isMessage(node) || isOpaque(node))) part.dg = 1;
    // A multipart or message beyond the remote's nesting cap, sent as application/octet-stream.
    if (header && isOpaque(node) && isContainer(part)) part.x = 1;
    const body = this.parts.get(sec);
    if (isMessage(node) && !part.x) {
      if (body) {
        // The whole encapsulated message is here: index it exactly.
        this.write(body);
        part.g = conform(shift(indexMessage(body).r, b), node.children![0]!, depth + 1);
        part.e = this.pos;
        part.n = countLf(body);
        return part;
      }
      const inner = node.children![0]!;
      const innerSec = isMultipart(inner) ? sec : join(sec, 1);
      part.g = this.part(inner, innerSec, this.parts.get(`${sec}.HEADER`) ?? null, depth + 1, true);
      if (!this.parts.has(`${sec}.HEADER`)) part.g.en = envelopeFrom(node.envelope);
      part.e = this.pos;
      part.n = node.lines ?? 0;
      part.u = 1;
      part.zs = node.size ?? 0;
      return part;
    }
    if (body) {
      this.write(body);
      part.e = this.pos;
      part.n = countLf(body);
      return part;
    }
    if ((node.size ?? 0) === 0) return part; // an empty body is trivially here
    part.u = 1;
    part.zs = node.size ?? 0;
    part.n = node.lines ?? 0;
    return part;
  }
}

/** Header-derived fields of a part, parsed the way the indexer parses them (exact). */
function headerFields(header: Buffer, isRoot: boolean): Partial<MimePart> {
  // A part's header is parsed as a message header; MIME-Version keeps the indexer from ignoring its
  // Content-* fields as it does for a message without MIME-Version and Content-Type (indexer.ts).
  const parsed = indexMessage(isRoot ? header : Buffer.concat([MIME_VERSION, header])).r;
  const out: Partial<MimePart> = {};
  for (const k of HEADER_FIELDS) {
    if (parsed[k] !== undefined) (out as Record<string, unknown>)[k] = parsed[k];
  }
  if (isRoot) {
    if (parsed.en) out.en = parsed.en;
    if (parsed.sf) out.sf = 1;
  }
  return out;
}

/** Fields from the remote BODYSTRUCTURE when the header was not downloaded (as the client normalised them). */
function structureFields(node: PartialStructure, isRoot: boolean): Partial<MimePart> {
  const out: Partial<MimePart> = { t: raw(node.type), s: raw(node.subtype) };
  const p = flatParams(node.parameters);
  if (p) out.p = p;
  if (node.id !== undefined) out.id = raw(node.id);
  if (node.description !== undefined) out.ds = raw(node.description);
  if (node.encoding !== undefined) out.c = raw(node.encoding);
  if (node.md5 !== undefined) out.m = raw(node.md5);
  if (node.location !== undefined) out.lo = raw(node.location);
  if (node.disposition) {
    out.dt = raw(node.disposition.type);
    const dp = flatParams(node.disposition.parameters);
    if (dp) out.dp = dp;
  }
  if (node.language && node.language.length > 0) out.la = node.language.map(raw);
  if (isRoot && node.envelope) out.en = envelopeFrom(node.envelope);
  return out;
}

function paramOf(params: string[] | undefined, name: string): string | undefined {
  if (!params) return undefined;
  for (let i = 0; i + 1 < params.length; i += 2) if (params[i]!.toLowerCase() === name) return params[i + 1];
  return undefined;
}

/** The remote sent an application/octet-stream leaf. */
function isOpaque(node: PartialStructure): boolean {
  return node.children === undefined && node.type.toLowerCase() === 'application' && node.subtype.toLowerCase() === 'octet-stream';
}

/** The header says multipart or message (so an opaque leaf from the remote is a part beyond its nesting cap). */
function isContainer(part: MimePart): boolean {
  const t = (part.t ?? (part.dg ? 'message' : '')).toLowerCase();
  const s = (part.s ?? (part.dg ? 'rfc822' : '')).toLowerCase();
  return t === 'multipart' || (t === 'message' && (s === 'rfc822' || s === 'global'));
}

/**
 * An encapsulated message indexed on its own starts again at depth 0, so it may be parsed deeper than
 * the remote (which stops at its nesting cap and sends what lies below as application/octet-stream).
 * Where the remote structure has a leaf and the index a multipart or message, the part becomes such an
 * opaque leaf.
 */
function conform(p: MimePart, node: PartialStructure, depth: number): MimePart {
  if (depth > MAX_DEPTH) return p;
  if (p.k && isMultipart(node) && node.children!.length === p.k.length) {
    p.k = p.k.map((c, i) => conform(c, node.children![i]!, depth + 1));
  } else if (p.g && isMessage(node)) {
    p.g = conform(p.g, node.children![0]!, depth + 1);
  } else if ((p.k || p.g) && node.children === undefined) {
    // A capped message part's body is the whole encapsulated message, as indexed; a capped multipart's is
    // only its preamble, which this index does not locate: then the body counts as not held.
    const same = p.g !== undefined && node.size === p.e - p.b;
    delete p.k;
    delete p.g;
    p.x = 1;
    if (!same) {
      p.u = 1;
      p.e = p.b;
      p.zs = node.size ?? 0;
    }
  }
  return p;
}

/** The part tree of an encapsulated message indexed on its own, moved to `offset` in the blob. */
function shift(p: MimePart, offset: number): MimePart {
  const out: MimePart = { ...p, h: p.h + offset, b: p.b + offset, e: p.e + offset };
  if (p.k) out.k = p.k.map((c) => shift(c, offset));
  if (p.g) out.g = shift(p.g, offset);
  return out;
}
