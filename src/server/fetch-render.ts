// FETCH data items: parsing the attribute list (RFC 9051 §6.4.5, §6.4.5.1 section specs, §9 fetch-att;
// RFC 3516 BINARY / BINARY.PEEK / BINARY.SIZE; RFC 7162 §3.1.4.1 MODSEQ) and rendering one message's
// FETCH response (RFC 9051 §7.5.2). Body sections are located in the stored MIME index and read from
// the blob by byte range (ARCHITECTURE.md decision 4); big ones are streamed (decision 5).
import { Atom, LiteralData, StreamData } from '../protocol/types.js';
import type { ImapArg, Partial, ResponseValue, SectionSpec } from '../protocol/types.js';
import { FetchSyntaxError, fetchSetsSeen, formatFetchItemName, parseFetchAtts, type FetchAtt } from '../protocol/fetch-items.js';
import type { MessageMeta, MessageRecord, Store } from '../store/types.js';
import type { RenderCacheEntry } from './commands/fetch-batch.js';
import { bad, no } from './errors.js';
import { flagAtoms } from './connection.js';
import type { SelectedView } from './selected-view.js';
import { formatDateTime, formatInternalDate, localZoneOffset } from '../protocol/dates.js';
import { bodyStructureValue } from '../mime/body-structure.js';
import { envelopeValue } from '../mime/envelope.js';
import { binaryDecoder, binaryInfo, filterHeaderFields, findPart, locateSection, type BinaryInfo } from '../mime/sections.js';

export interface FetchRequest {
  /** Requested data items in request order (parsed by src/protocol/fetch-items.ts). */
  items: FetchAtt[];
  /** Some item needs the message record (anything but FLAGS, UID, MODSEQ). */
  needsRecord: boolean;
  /** Some item implicitly sets \Seen (RFC 9051 §6.4.5). */
  setsSeen: boolean;
}

/**
 * The data items of FETCH: a macro, a single item, or a parenthesized list (RFC 9051 §9 fetch).
 * MODSEQ is only a data item once CONDSTORE is enabled (RFC 7162 §3.1.4); PREVIEW (RFC 8970) is not
 * implemented.
 */
export function parseFetchItems(arg: ImapArg, condstore: boolean): FetchRequest {
  let items: FetchAtt[];
  try {
    items = parseFetchAtts(arg);
  } catch (err) {
    if (err instanceof FetchSyntaxError) throw bad(err.message);
    throw err;
  }
  let needsRecord = false;
  let setsSeen = false;
  for (const it of items) {
    if (it.kind === 'MODSEQ' && !condstore) throw bad('MODSEQ needs CONDSTORE enabled');
    if (it.kind === 'PREVIEW') throw bad('PREVIEW is not supported');
    if (it.kind !== 'FLAGS' && it.kind !== 'UID' && it.kind !== 'MODSEQ') needsRecord = true;
    if (fetchSetsSeen(it)) setsSeen = true;
  }
  return { items, needsRecord, setsSeen };
}

export interface RenderOptions {
  /** UID command: UID is always included (RFC 9051 §6.4.9). */
  byUid: boolean;
  /** IMAP4rev1 session: \Recent is a flag. */
  rev1: boolean;
  condstore: boolean;
  /** Literals larger than this are streamed from the blob rather than read into memory. */
  streamThreshold?: number;
  /** UTF8=ACCEPT or IMAP4rev2: the encoder may quote 8-bit strings (picks the render cache's form). */
  utf8?: boolean;
}

const DEFAULT_STREAM_THRESHOLD = 256 * 1024;

/**
 * Renders the data items of one message in request order. `rec` may be null only when the request
 * needs no record. `seenChanged`: this FETCH set \Seen, so FLAGS is appended if not requested.
 * `cache`: the message's render cache (commands/fetch-batch.ts), which then answers ENVELOPE, BODY and
 * BODYSTRUCTURE; `rec` may then be the bare row (MessageMeta), or null when only UID, FLAGS, MODSEQ and
 * cached items are asked for.
 */
export async function renderFetch(
  store: Store,
  view: SelectedView,
  req: FetchRequest,
  uid: number,
  rec: MessageRecord | MessageMeta | null,
  opts: RenderOptions,
  seenChanged = false,
  cache: RenderCacheEntry | null = null,
): Promise<ResponseValue[]> {
  const out: ResponseValue[] = [];
  let hasUid = false;
  let hasFlags = false;
  let hasModSeq = false;
  const threshold = opts.streamThreshold ?? DEFAULT_STREAM_THRESHOLD;
  const need = (): MessageRecord => {
    if (!rec) throw new Error('message record required');
    // A bare row (MessageMeta) comes only with `cache` and row items: its index is never looked at here.
    return rec as MessageRecord;
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
        if (hasModSeq) break;
        hasModSeq = true;
        out.push(new Atom('MODSEQ'), [view.modSeqOf(uid) ?? need().modSeq]);
        break;
      case 'INTERNALDATE':
        out.push(new Atom('INTERNALDATE'), formatInternalDate(need().internalDate, need().internalDateOffset));
        break;
      case 'RFC822.SIZE':
        out.push(new Atom('RFC822.SIZE'), need().size);
        break;
      case 'ENVELOPE':
        out.push(new Atom('ENVELOPE'), cache ? cache.value('ENVELOPE', opts.utf8 === true) : envelopeValue(need().mime));
        break;
      case 'BODY':
        out.push(new Atom('BODY'), cache ? cache.value('BODY', opts.utf8 === true) : bodyStructureValue(need().mime, false));
        break;
      case 'BODYSTRUCTURE':
        out.push(new Atom('BODYSTRUCTURE'), cache ? cache.value('BODYSTRUCTURE', opts.utf8 === true) : bodyStructureValue(need().mime, true));
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
        out.push(new Atom(formatFetchItemName(it)), await sectionValue(store, need(), it.section, it.partial, threshold));
        break;
      case 'BINARY[]':
        // With a section-text (a Dovecot extension, src/protocol/fetch-items.ts) the bytes are BODY[]'s,
        // except TEXT of a single-leaf body, which is decoded like the leaf (textLeaf).
        out.push(
          new Atom(formatFetchItemName(it)),
          it.section && !textLeaf(need(), it.section)
            ? await sectionValue(store, need(), it.section, it.partial, threshold)
            : await binaryValue(store, need(), textLeaf(need(), it.section) ?? it.path, it.partial, threshold),
        );
        break;
      case 'BINARY.SIZE':
        out.push(
          new Atom(formatFetchItemName(it)),
          it.section && !textLeaf(need(), it.section)
            ? await sectionSize(store, need(), it.section)
            : await binarySize(store, need(), textLeaf(need(), it.section) ?? it.path, threshold),
        );
        break;
      case 'EMAILID':
        // RFC 8474 §5.1: EMAILID (objectid)
        out.push(new Atom('EMAILID'), [new Atom(need().emailId)]);
        break;
      case 'THREADID': {
        // RFC 8474 §5.2: THREADID (objectid) or NIL
        const t = need().threadId;
        out.push(new Atom('THREADID'), t ? [new Atom(t)] : null);
        break;
      }
      case 'SAVEDATE':
        // RFC 8514 §4.2: SAVEDATE date-time (or NIL when unknown)
        // in the server's local zone, as mail delivered without a date gets (SEARCH SAVED* take the day there too).
        out.push(new Atom('SAVEDATE'), need().saveDate ? formatDateTime(need().saveDate, localZoneOffset(need().saveDate)) : null);
        break;
      case 'PREVIEW':
        throw bad('PREVIEW is not supported');
    }
  }
  if (opts.byUid && !hasUid) out.unshift(new Atom('UID'), uid);
  if (seenChanged && !hasFlags) {
    // RFC 9051 §6.4.5: when the implicit \Seen changes the flags, they are included in the response,
    // with the new mod-sequence once CONDSTORE is on (RFC 7162 §3.1.4: flag changes carry MODSEQ).
    // RFC 7162 §3.2.4: once CONDSTORE is on, a FETCH that implicitly set \Seen also carries the UID.
    out.push(new Atom('FLAGS'), flagAtoms(view.flagsOf(uid) ?? [], opts.rev1 && view.recent.has(uid)));
    if (opts.condstore && !hasModSeq) out.push(new Atom('MODSEQ'), [view.modSeqOf(uid) ?? 0]);
    if (opts.condstore && !hasUid && !opts.byUid) out.push(new Atom('UID'), uid);
  }
  return out;
}

/** An empty section is sent as the literal {0}, as Dovecot does (both are a valid nstring, RFC 9051 §4.3). */
function emptyLiteral(): LiteralData {
  return new LiteralData(Buffer.alloc(0));
}

/** A body section's bytes, after HEADER.FIELDS subsetting and <partial> (RFC 9051 §6.4.5). */
async function sectionValue(store: Store, rec: MessageRecord, section: SectionSpec, partial: Partial | null, threshold: number): Promise<ResponseValue> {
  // A section that does not exist reads as an empty string {0}, as Dovecot answers (src/mime/sections.ts).
  const loc = locateSection(rec.mime, section);
  if (!loc) return emptyLiteral();
  if (loc.headerFilter) {
    const header = await store.readBlob(rec.blobId, loc.start, loc.end);
    let data = filterHeaderFields(header, loc.headerFilter.fields, loc.headerFilter.not);
    // "A substring fetch of a HEADER.FIELDS or HEADER.FIELDS.NOT part specifier is calculated after
    // subsetting the header."
    if (partial) data = partial.origin >= data.length ? Buffer.alloc(0) : data.subarray(partial.origin, partial.origin + partial.count);
    return data.length === 0 ? emptyLiteral() : new LiteralData(withoutNul(data));
  }
  let start = loc.start;
  let end = loc.end;
  if (partial) {
    start = loc.start + partial.origin;
    if (start >= loc.end) return emptyLiteral();
    end = Math.min(loc.end, start + partial.count);
  }
  const size = end - start;
  if (size <= 0) return emptyLiteral();
  if (size > threshold) {
    const blobId = rec.blobId;
    return new StreamData(size, () => mapChunks(store.streamBlob(blobId, start, end), withoutNul));
  }
  return new LiteralData(withoutNul(await store.readBlob(rec.blobId, start, end)));
}

/**
 * BINARY[TEXT] / BINARY[n.TEXT] of a message whose body is a single leaf is that leaf's decoded content, as
 * BINARY[1] / BINARY[n.1] (Dovecot answers the same); the path of that leaf, else null (raw bytes).
 */
function textLeaf(rec: MessageRecord, section: SectionSpec | undefined): number[] | null {
  if (!section || section.text !== 'TEXT') return null;
  const owner = findPart(rec.mime, section.path);
  const msg = section.path.length === 0 ? owner : owner?.g;
  return msg && !msg.k && !msg.g ? [...section.path, 1] : null;
}

/** The octets BODY[section] would send, for BINARY.SIZE[section-text]. */
async function sectionSize(store: Store, rec: MessageRecord, section: SectionSpec): Promise<number> {
  const loc = locateSection(rec.mime, section);
  if (!loc) return 0;
  if (!loc.headerFilter) return loc.end - loc.start;
  return filterHeaderFields(await store.readBlob(rec.blobId, loc.start, loc.end), loc.headerFilter.fields, loc.headerFilter.not).length;
}

/**
 * A literal may not carry NUL (RFC 9051 §4.3: CHAR8 excludes %x00), but stored mail can contain it
 * (APPEND of literal8, RFC 3516). BODY[] and RFC822 answers therefore send 0x80 in its place, as Dovecot
 * does; the size is unchanged. BINARY[] sends the real bytes in a literal8.
 */
export function withoutNul(data: Buffer): Buffer {
  if (!data.includes(0)) return data;
  const copy = Buffer.from(data);
  for (let i = copy.indexOf(0); i !== -1; i = copy.indexOf(0, i + 1)) copy[i] = 0x80;
  return copy;
}

async function* mapChunks(chunks: AsyncIterable<Buffer>, fn: (b: Buffer) => Buffer): AsyncIterable<Buffer> {
  for await (const c of chunks) yield fn(c);
}

type BinarySource = BinaryInfo;

/** The encoded range of a BINARY section; null when the part does not exist; NO [UNKNOWN-CTE] (RFC 3516 §4.2). */
function binarySource(rec: MessageRecord, path: number[]): BinarySource | null {
  const info = binaryInfo(rec.mime, path);
  if (!info) return null;
  if (!binaryDecoder(info)) {
    throw no(`Unknown Content-Transfer-Encoding ${info.encoding.slice(0, 30)}`, 'UNKNOWN-CTE');
  }
  return info;
}

/** Decodes [src.start, src.end) of the blob while streaming it, yielding only decoded bytes [from, to). */
async function* decodedRange(store: Store, blobId: string, src: BinarySource, from: number, to: number): AsyncIterable<Buffer> {
  const dec = binaryDecoder(src)!;
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
  const dec = binaryDecoder(src)!;
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
  if (!src || src.end <= src.start) return emptyLiteral();
  const from = partial ? partial.origin : 0;
  const limit = partial ? partial.count : Number.MAX_SAFE_INTEGER;
  if (src.end - src.start <= threshold) {
    const decoded = decodeAll(await store.readBlob(rec.blobId, src.start, src.end), src);
    const slice = from >= decoded.length ? Buffer.alloc(0) : decoded.subarray(from, from + limit);
    return slice.length === 0 ? emptyLiteral() : new LiteralData(slice, slice.includes(0));
  }
  const scan = await scanDecoded(store, rec.blobId, src, from, from + limit);
  if (from >= scan.size) return emptyLiteral();
  const to = Math.min(scan.size, from + limit);
  const blobId = rec.blobId;
  return new StreamData(to - from, () => decodedRange(store, blobId, src, from, to), scan.nul);
}

/** BINARY.SIZE[section] (RFC 3516 §4.3): the decoded size. */
async function binarySize(store: Store, rec: MessageRecord, path: number[], threshold: number): Promise<number> {
  const src = binarySource(rec, path);
  if (!src || src.end <= src.start) return 0;
  if (src.end - src.start <= threshold) return decodeAll(await store.readBlob(rec.blobId, src.start, src.end), src).length;
  return (await scanDecoded(store, rec.blobId, src, 0, 0)).size;
}

function decodeAll(raw: Buffer, src: BinarySource): Buffer {
  const dec = binaryDecoder(src)!;
  const a = dec.push(raw);
  const b = dec.end();
  return b.length === 0 ? a : Buffer.concat([a, b]);
}
