// FETCH data items: parsing the attribute list (RFC 9051 §6.4.5, §6.4.5.1 section specs, §9 fetch-att;
// RFC 3516 BINARY / BINARY.PEEK / BINARY.SIZE; RFC 7162 §3.1.4.1 MODSEQ) and rendering one message's
// FETCH response (RFC 9051 §7.5.2). Body sections are located in the stored MIME index and read from
// the blob by byte range (ARCHITECTURE.md decision 4); big ones are streamed (decision 5).
import { Atom, LiteralData, StreamData } from '../protocol/types.js';
import type { ImapArg, Partial, ResponseValue, SectionSpec } from '../protocol/types.js';
import type { MessageRecord, Store } from '../store/types.js';
import { bad, no } from './errors.js';
import { flagAtoms } from './connection.js';
import type { SelectedView } from './selected-view.js';
import { formatInternalDate } from '../protocol/dates.js';
import { bodyStructureValue } from '../mime/body-structure.js';
import { envelopeValue } from '../mime/envelope.js';
import { binaryInfo, createTransferDecoder, filterHeaderFields, locateSection } from '../mime/sections.js';

/** One requested data item, in request order. */
export type FetchItem =
  | { kind: 'FLAGS' | 'UID' | 'INTERNALDATE' | 'RFC822.SIZE' | 'ENVELOPE' | 'BODY' | 'BODYSTRUCTURE' | 'MODSEQ' }
  | { kind: 'RFC822' | 'RFC822.HEADER' | 'RFC822.TEXT' }
  | { kind: 'BODY[]'; section: SectionSpec; partial: Partial | null; peek: boolean; name: string }
  | { kind: 'BINARY[]'; path: number[]; partial: Partial | null; peek: boolean; name: string }
  | { kind: 'BINARY.SIZE'; path: number[]; name: string };

export interface FetchRequest {
  items: FetchItem[];
  /** Some item needs the message record (anything but FLAGS, UID, MODSEQ). */
  needsRecord: boolean;
  /** Some item implicitly sets \Seen (RFC 9051 §6.4.5). */
  setsSeen: boolean;
}

const SIMPLE = new Set(['FLAGS', 'UID', 'INTERNALDATE', 'RFC822.SIZE', 'ENVELOPE', 'BODY', 'BODYSTRUCTURE', 'MODSEQ', 'RFC822', 'RFC822.HEADER', 'RFC822.TEXT']);

const MACROS: Record<string, FetchItem['kind'][]> = {
  ALL: ['FLAGS', 'INTERNALDATE', 'RFC822.SIZE', 'ENVELOPE'],
  FAST: ['FLAGS', 'INTERNALDATE', 'RFC822.SIZE'],
  FULL: ['FLAGS', 'INTERNALDATE', 'RFC822.SIZE', 'ENVELOPE', 'BODY'],
};

/**
 * Parses the data items of FETCH: a macro, a single item, or a parenthesized list (RFC 9051 §9 fetch).
 * `condstore`: MODSEQ is only a data item once CONDSTORE is enabled (RFC 7162 §3.1.4).
 */
export function parseFetchItems(arg: ImapArg, condstore: boolean): FetchRequest {
  const items: FetchItem[] = [];
  if (arg.type === 'atom' && MACROS[arg.value.toUpperCase()]) {
    for (const kind of MACROS[arg.value.toUpperCase()]!) items.push({ kind } as FetchItem);
  } else {
    const list = arg.type === 'list' ? arg.items : [arg];
    if (list.length === 0) throw bad('Empty FETCH data item list');
    for (const a of list) {
      if (a.type !== 'atom') throw bad('Invalid FETCH data item');
      const up = a.value.toUpperCase();
      if (MACROS[up]) throw bad('FETCH macros cannot be combined with other data items');
      items.push(parseFetchAtt(a.value, condstore));
    }
  }
  let needsRecord = false;
  let setsSeen = false;
  for (const it of items) {
    if (it.kind !== 'FLAGS' && it.kind !== 'UID' && it.kind !== 'MODSEQ') needsRecord = true;
    if (it.kind === 'RFC822' || it.kind === 'RFC822.TEXT') setsSeen = true;
    if ((it.kind === 'BODY[]' || it.kind === 'BINARY[]') && !it.peek) setsSeen = true;
  }
  return { items, needsRecord, setsSeen };
}

const SECTION_ATT = /^(BODY|BODY\.PEEK|BINARY|BINARY\.PEEK|BINARY\.SIZE)\[([^\]]*)\](?:<(\d+)\.(\d+)>)?$/i;

/** One fetch-att (RFC 9051 §9): `BODY.PEEK[1.HEADER.FIELDS (From)]<0.100>` arrives as one atom. */
export function parseFetchAtt(raw: string, condstore: boolean): FetchItem {
  const up = raw.toUpperCase();
  if (SIMPLE.has(up)) {
    if (up === 'MODSEQ' && !condstore) throw bad('MODSEQ needs CONDSTORE enabled');
    return { kind: up } as FetchItem;
  }
  const m = SECTION_ATT.exec(raw);
  if (!m) throw bad(`Unknown FETCH data item ${raw.slice(0, 40)}`);
  const att = m[1]!.toUpperCase();
  const sectionText = m[2]!;
  let partial: Partial | null = null;
  if (m[3] !== undefined) {
    if (att === 'BINARY.SIZE') throw bad('BINARY.SIZE takes no partial');
    const origin = Number(m[3]);
    const count = Number(m[4]);
    if (!Number.isSafeInteger(origin) || !Number.isSafeInteger(count) || count === 0 || origin > 0xffffffff || count > 0xffffffff) {
      throw bad('Invalid partial range');
    }
    partial = { origin, count };
  }
  if (att.startsWith('BINARY')) {
    // section-binary = "[" [section-part] "]" (RFC 3516 §6)
    const path = sectionText === '' ? [] : parsePartPath(sectionText);
    if (!path) throw bad('BINARY takes only a part number');
    if (att === 'BINARY.SIZE') return { kind: 'BINARY.SIZE', path, name: `BINARY.SIZE[${sectionText}]` };
    return { kind: 'BINARY[]', path, partial, peek: att === 'BINARY.PEEK', name: `BINARY[${sectionText}]` };
  }
  const section = parseSection(sectionText);
  return { kind: 'BODY[]', section, partial, peek: att === 'BODY.PEEK', name: `BODY[${sectionName(section)}]` };
}

function parsePartPath(s: string): number[] | null {
  if (!/^[1-9]\d{0,8}(\.[1-9]\d{0,8})*$/.test(s)) return null;
  return s.split('.').map(Number);
}

/** section-spec (RFC 9051 §9): [part["."]] (HEADER / HEADER.FIELDS[.NOT] list / TEXT / MIME). */
export function parseSection(s: string): SectionSpec {
  if (s === '') return { path: [] };
  const m = /^((?:[1-9]\d{0,8}\.)*[1-9]\d{0,8})?(?:(?:^|\.)(HEADER\.FIELDS\.NOT|HEADER\.FIELDS|HEADER|TEXT|MIME)(?: (\(.*\)))?)?$/i.exec(s);
  if (!m || (m[1] === undefined && m[2] === undefined)) throw bad(`Invalid section ${s.slice(0, 40)}`);
  const path = m[1] ? m[1].split('.').map(Number) : [];
  if (m[2] === undefined) {
    if (m[3] !== undefined) throw bad('Invalid section');
    return { path };
  }
  const text = m[2].toUpperCase() as NonNullable<SectionSpec['text']>;
  if (text === 'MIME' && path.length === 0) throw bad('MIME needs a part number');
  if (text === 'HEADER.FIELDS' || text === 'HEADER.FIELDS.NOT') {
    if (m[3] === undefined) throw bad(`${text} needs a list of field names`);
    const fields = parseHeaderList(m[3]);
    return { path, text, fields };
  }
  if (m[3] !== undefined) throw bad('Invalid section');
  return { path, text };
}

/** header-list = "(" header-fld-name *(SP header-fld-name) ")"; names are astrings. */
function parseHeaderList(s: string): string[] {
  const inner = s.slice(1, -1);
  const out: string[] = [];
  let i = 0;
  while (i < inner.length) {
    if (inner[i] === ' ') {
      i++;
      continue;
    }
    if (inner[i] === '"') {
      let j = i + 1;
      let v = '';
      while (j < inner.length && inner[j] !== '"') {
        if (inner[j] === '\\' && j + 1 < inner.length) j++;
        v += inner[j];
        j++;
      }
      if (j >= inner.length) throw bad('Unterminated quoted header field name');
      out.push(v);
      i = j + 1;
    } else {
      let j = i;
      while (j < inner.length && inner[j] !== ' ') j++;
      out.push(inner.slice(i, j));
      i = j;
    }
  }
  if (out.length === 0) throw bad('Empty header field list');
  for (const f of out) {
    // RFC 5322 §3.6.8 field-name: printable US-ASCII except ":".
    if (!/^[\x21-\x39\x3b-\x7e]+$/.test(f)) throw bad('Invalid header field name');
  }
  return out;
}

/** The section as written in the response item name (RFC 9051 §7.5.2 BODY[<section>]). */
export function sectionName(sec: SectionSpec): string {
  const parts: string[] = [];
  if (sec.path.length) parts.push(sec.path.join('.'));
  if (sec.text) {
    let t = sec.text as string;
    if (sec.fields) t += ` (${sec.fields.map(quoteIfNeeded).join(' ')})`;
    parts.push(t);
  }
  return parts.join('.');
}

function quoteIfNeeded(s: string): string {
  return /^[^\x00-\x20\x7f(){%*"\\\]]+$/.test(s) ? s : `"${s.replace(/["\\]/g, (c) => '\\' + c)}"`;
}

export interface RenderOptions {
  /** UID command: UID is always included (RFC 9051 §6.4.9). */
  byUid: boolean;
  /** IMAP4rev1 session: \Recent is a flag. */
  rev1: boolean;
  condstore: boolean;
  /** Literals larger than this are streamed from the blob rather than read into memory. */
  streamThreshold?: number;
}

const DEFAULT_STREAM_THRESHOLD = 256 * 1024;

/**
 * Renders the data items of one message in request order. `rec` may be null only when the request
 * needs no record. `seenChanged`: this FETCH set \Seen, so FLAGS is appended if not requested.
 */
export async function renderFetch(
  store: Store,
  view: SelectedView,
  req: FetchRequest,
  uid: number,
  rec: MessageRecord | null,
  opts: RenderOptions,
  seenChanged = false,
): Promise<ResponseValue[]> {
  const out: ResponseValue[] = [];
  let hasUid = false;
  let hasFlags = false;
  const threshold = opts.streamThreshold ?? DEFAULT_STREAM_THRESHOLD;
  const need = (): MessageRecord => {
    if (!rec) throw new Error('message record required');
    return rec;
  };
  for (const it of req.items) {
    switch (it.kind) {
      case 'UID':
        if (hasUid) break;
        hasUid = true;
        out.push(new Atom('UID'), uid);
        break;
      case 'FLAGS':
        if (hasFlags) break;
        hasFlags = true;
        out.push(new Atom('FLAGS'), flagAtoms(view.flagsOf(uid) ?? [], opts.rev1 && view.recent.has(uid)));
        break;
      case 'MODSEQ':
        out.push(new Atom('MODSEQ'), [view.modSeqOf(uid) ?? need().modSeq]);
        break;
      case 'INTERNALDATE':
        out.push(new Atom('INTERNALDATE'), formatInternalDate(need().internalDate));
        break;
      case 'RFC822.SIZE':
        out.push(new Atom('RFC822.SIZE'), need().size);
        break;
      case 'ENVELOPE':
        out.push(new Atom('ENVELOPE'), envelopeValue(need().mime));
        break;
      case 'BODY':
        out.push(new Atom('BODY'), bodyStructureValue(need().mime, false));
        break;
      case 'BODYSTRUCTURE':
        out.push(new Atom('BODYSTRUCTURE'), bodyStructureValue(need().mime, true));
        break;
      case 'RFC822':
        out.push(new Atom('RFC822'), await sectionValue(store, need(), { path: [] }, null, threshold));
        break;
      case 'RFC822.HEADER':
        out.push(new Atom('RFC822.HEADER'), await sectionValue(store, need(), { path: [], text: 'HEADER' }, null, threshold));
        break;
      case 'RFC822.TEXT':
        out.push(new Atom('RFC822.TEXT'), await sectionValue(store, need(), { path: [], text: 'TEXT' }, null, threshold));
        break;
      case 'BODY[]':
        out.push(
          new Atom(it.name + (it.partial ? `<${it.partial.origin}>` : '')),
          await sectionValue(store, need(), it.section, it.partial, threshold),
        );
        break;
      case 'BINARY[]':
        out.push(
          new Atom(it.name + (it.partial ? `<${it.partial.origin}>` : '')),
          await binaryValue(store, need(), it.path, it.partial, threshold),
        );
        break;
      case 'BINARY.SIZE':
        out.push(new Atom(it.name), await binarySize(store, need(), it.path, threshold));
        break;
    }
  }
  if (opts.byUid && !hasUid) out.unshift(new Atom('UID'), uid);
  if (seenChanged && !hasFlags) {
    // RFC 9051 §6.4.5: when the implicit \Seen changes the flags, they are included in the response.
    out.push(new Atom('FLAGS'), flagAtoms(view.flagsOf(uid) ?? [], opts.rev1 && view.recent.has(uid)));
  }
  return out;
}

/** A body section's bytes, after HEADER.FIELDS subsetting and <partial> (RFC 9051 §6.4.5). */
async function sectionValue(store: Store, rec: MessageRecord, section: SectionSpec, partial: Partial | null, threshold: number): Promise<ResponseValue> {
  // A section that does not exist reads as an empty string, as Dovecot answers (src/mime/sections.ts).
  const loc = locateSection(rec.mime, section);
  if (!loc) return '';
  if (loc.headerFilter) {
    const header = await store.readBlob(rec.blobId, loc.start, loc.end);
    let data = filterHeaderFields(header, loc.headerFilter.fields, loc.headerFilter.not);
    // "A substring fetch of a HEADER.FIELDS or HEADER.FIELDS.NOT part specifier is calculated after
    // subsetting the header."
    if (partial) data = partial.origin >= data.length ? Buffer.alloc(0) : data.subarray(partial.origin, partial.origin + partial.count);
    return data.length === 0 ? '' : new LiteralData(data);
  }
  let start = loc.start;
  let end = loc.end;
  if (partial) {
    start = loc.start + partial.origin;
    if (start >= loc.end) return '';
    end = Math.min(loc.end, start + partial.count);
  }
  const size = end - start;
  if (size <= 0) return '';
  if (size > threshold) {
    const blobId = rec.blobId;
    return new StreamData(size, () => store.streamBlob(blobId, start, end));
  }
  return new LiteralData(await store.readBlob(rec.blobId, start, end));
}

interface BinarySource {
  start: number;
  end: number;
  encoding: string;
}

/** The encoded range of a BINARY section; null when the part does not exist; NO [UNKNOWN-CTE] (RFC 3516 §4.2). */
function binarySource(rec: MessageRecord, path: number[]): BinarySource | null {
  const info = binaryInfo(rec.mime, path);
  if (!info) return null;
  if (!createTransferDecoder(info.encoding)) {
    throw no(`Unknown Content-Transfer-Encoding ${info.encoding.slice(0, 30)}`, 'UNKNOWN-CTE');
  }
  return info;
}

/** Decodes [src.start, src.end) of the blob while streaming it, yielding only decoded bytes [from, to). */
async function* decodedRange(store: Store, blobId: string, src: BinarySource, from: number, to: number): AsyncIterable<Buffer> {
  const dec = createTransferDecoder(src.encoding)!;
  let pos = 0;
  function* clip(buf: Buffer): Generator<Buffer> {
    const a = Math.max(from - pos, 0);
    const b = Math.min(to - pos, buf.length);
    pos += buf.length;
    if (b > a) yield buf.subarray(a, b);
  }
  for await (const chunk of store.streamBlob(blobId, src.start, src.end)) {
    yield* clip(dec.push(chunk));
    if (pos >= to) return;
  }
  yield* clip(dec.end());
}

/** Decoded size and whether [from, to) holds a NUL, in one streaming pass (memory stays flat). */
async function scanDecoded(store: Store, blobId: string, src: BinarySource, from: number, to: number): Promise<{ size: number; nul: boolean }> {
  let size = 0;
  let nul = false;
  const dec = createTransferDecoder(src.encoding)!;
  const look = (buf: Buffer) => {
    if (!nul) {
      const a = Math.max(from - size, 0);
      const b = Math.min(to - size, buf.length);
      if (b > a && buf.subarray(a, b).includes(0)) nul = true;
    }
    size += buf.length;
  };
  for await (const chunk of store.streamBlob(blobId, src.start, src.end)) look(dec.push(chunk));
  look(dec.end());
  return { size, nul };
}

/** BINARY[section]<partial> (RFC 3516 §4.2): decoded content; literal8 only when it holds a NUL. */
async function binaryValue(store: Store, rec: MessageRecord, path: number[], partial: Partial | null, threshold: number): Promise<ResponseValue> {
  const src = binarySource(rec, path);
  if (!src || src.end <= src.start) return '';
  const from = partial ? partial.origin : 0;
  const limit = partial ? partial.count : Number.MAX_SAFE_INTEGER;
  if (src.end - src.start <= threshold) {
    const decoded = decodeAll(await store.readBlob(rec.blobId, src.start, src.end), src.encoding);
    const slice = from >= decoded.length ? Buffer.alloc(0) : decoded.subarray(from, from + limit);
    return slice.length === 0 ? '' : new LiteralData(slice, slice.includes(0));
  }
  const scan = await scanDecoded(store, rec.blobId, src, from, from + limit);
  if (from >= scan.size) return '';
  const to = Math.min(scan.size, from + limit);
  const blobId = rec.blobId;
  return new StreamData(to - from, () => decodedRange(store, blobId, src, from, to), scan.nul);
}

/** BINARY.SIZE[section] (RFC 3516 §4.3): the decoded size. */
async function binarySize(store: Store, rec: MessageRecord, path: number[], threshold: number): Promise<number> {
  const src = binarySource(rec, path);
  if (!src || src.end <= src.start) return 0;
  if (src.end - src.start <= threshold) return decodeAll(await store.readBlob(rec.blobId, src.start, src.end), src.encoding).length;
  return (await scanDecoded(store, rec.blobId, src, 0, 0)).size;
}

function decodeAll(raw: Buffer, encoding: string): Buffer {
  const dec = createTransferDecoder(encoding)!;
  const a = dec.push(raw);
  const b = dec.end();
  return b.length === 0 ? a : Buffer.concat([a, b]);
}
