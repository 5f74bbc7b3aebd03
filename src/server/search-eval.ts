// Evaluating SEARCH criteria (parsed by src/protocol/search-keys.ts) over the selected mailbox (RFC 9051
// §6.4.4, RFC 3501 §6.4.4 for NEW/OLD/RECENT, RFC 7162 §3.1.5 MODSEQ, RFC 5032 OLDER/YOUNGER, RFC 8474
// EMAILID/THREADID, RFC 8514 SAVEDATE). Metadata keys use the view and MessageMeta; FROM/TO/CC/BCC/SUBJECT
// use the envelope fields kept in the MIME index; HEADER reads the header bytes; BODY/TEXT read and
// decode the text parts (RFC 2045 §6 transfer encodings, RFC 2047 encoded words, RFC 6532 UTF-8
// headers) and match case-insensitively as substrings.
import type { NumSet } from '../protocol/types.js';
import { dayNumber } from '../protocol/dates.js';
import type { SearchKey } from '../protocol/search-keys.js';
import { decodeTransferEncoding, headerFieldValues, messageSentDay, topHeaderRange } from '../mime/sections.js';
import type { MimeIndexV1, MimePart } from '../mime/types.js';
import type { MessageRecord, Store } from '../store/types.js';
import { contentParam, leafParts } from './fetch-mime.js';
import { chunks, resolveTargets } from './message-targets.js';
import type { SelectedView } from './selected-view.js';
import type { Session } from './session.js';

export type { SearchKey };

/** Records loaded per store call when a key needs more than the view knows. */
const SEARCH_BATCH = 500;
/** Messages whose content is searched concurrently. */
const SEARCH_PARALLEL = 16;
const DAY_MS = 86_400_000;

export interface SearchHit {
  seq: number;
  uid: number;
  modSeq: number;
}

export interface SearchOutcome {
  hits: SearchHit[];
  /** Messages skipped because another session expunged them (RFC 5530 EXPUNGEISSUED). */
  skippedExpunged: boolean;
}

/** What an evaluation needs to know about one message. */
interface MsgCtx {
  uid: number;
  seq: number;
  flags: readonly string[];
  modSeq: number;
  recent: boolean;
  rec: MessageRecord | null;
  cache: { header?: Buffer; body?: string; text?: string };
}

function needsRecord(key: SearchKey): boolean {
  switch (key.type) {
    case 'and':
      return key.keys.some(needsRecord);
    case 'or':
      return needsRecord(key.left) || needsRecord(key.right);
    case 'not':
      return needsRecord(key.key);
    case 'all':
    case 'seq':
    case 'uid':
    case 'flag':
    case 'modseq':
    case 'savedatesupported':
      return false;
    default:
      return true;
  }
}

/** Runs a search over every message of the view; hits in sequence order. */
export async function evaluateSearch(store: Store, view: SelectedView, session: Session, key: SearchKey): Promise<SearchOutcome> {
  const sets = new SetCache(view, session);
  const uids = view.allUids();
  const hits: SearchHit[] = [];
  let skippedExpunged = false;
  const loadRecords = needsRecord(key);
  const content = needsContent(key);
  const now = Date.now();
  for (const batch of chunks(uids, SEARCH_BATCH)) {
    const live = batch.filter((uid) => {
      if (!view.isGhost(uid)) return true;
      skippedExpunged = true;
      return false;
    });
    let records: Map<number, MessageRecord> | null = null;
    if (loadRecords && live.length > 0) {
      const recs = await store.getMessages(view.mailboxId, live);
      records = new Map(recs.map((r) => [r.uid, r] as const));
    }
    const ctxs: MsgCtx[] = [];
    for (const uid of live) {
      const rec = records?.get(uid) ?? null;
      if (records && !rec) {
        skippedExpunged = true;
        continue;
      }
      ctxs.push({
        uid,
        seq: view.seqOf(uid),
        flags: view.flagsOf(uid) ?? rec?.flags ?? [],
        modSeq: view.modSeqOf(uid) ?? rec?.modSeq ?? 0,
        recent: view.recent.has(uid),
        rec,
        cache: {},
      });
    }
    // Content keys read blobs: evaluate a few messages at a time so the reads overlap.
    const width = content ? SEARCH_PARALLEL : 1;
    for (let i = 0; i < ctxs.length; i += width) {
      const group = ctxs.slice(i, i + width);
      const results = width === 1 ? [await matches(store, key, group[0]!, sets, now)] : await Promise.all(group.map((m) => matches(store, key, m, sets, now)));
      group.forEach((m, j) => {
        if (results[j]) hits.push({ seq: m.seq, uid: m.uid, modSeq: m.modSeq });
      });
    }
  }
  return { hits, skippedExpunged };
}

/** Sequence sets resolved once per search, as sets of UIDs. */
class SetCache {
  private readonly seqSets = new Map<NumSet, Set<number>>();
  private readonly uidSets = new Map<NumSet, Set<number>>();
  constructor(
    private readonly view: SelectedView,
    private readonly session: Session,
  ) {}
  has(set: NumSet, byUid: boolean, uid: number): boolean {
    const cache = byUid ? this.uidSets : this.seqSets;
    let s = cache.get(set);
    if (!s) {
      // Lenient: numbers past the end match nothing rather than failing the SEARCH.
      s = new Set(resolveTargets(this.view, this.session, set, byUid, true));
      cache.set(set, s);
    }
    return s.has(uid);
  }
}

function hasFlag(flags: readonly string[], flag: string): boolean {
  const f = flag.toLowerCase();
  for (const x of flags) if (x.toLowerCase() === f) return true;
  return false;
}

function dayOf(ms: number, offsetMinutes = 0): number {
  return Math.floor((ms + offsetMinutes * 60_000) / DAY_MS);
}

async function matches(store: Store, key: SearchKey, m: MsgCtx, sets: SetCache, now: number): Promise<boolean> {
  switch (key.type) {
    case 'all':
      return true;
    case 'and':
      // Cheap keys first, so content is read only when the metadata already matched.
      for (const k of key.keys) if (!needsContent(k) && !(await matches(store, k, m, sets, now))) return false;
      for (const k of key.keys) if (needsContent(k) && !(await matches(store, k, m, sets, now))) return false;
      return true;
    case 'or':
      return (await matches(store, key.left, m, sets, now)) || (await matches(store, key.right, m, sets, now));
    case 'not':
      return !(await matches(store, key.key, m, sets, now));
    case 'seq':
      return sets.has(key.set, false, m.uid);
    case 'uid':
      return sets.has(key.set, true, m.uid);
    case 'flag':
      // \Recent is per session (RFC 3501 §2.3.2): NEW and OLD arrive here as \Recent tests.
      if (key.flag === '\\Recent') return m.recent === key.set;
      return hasFlag(m.flags, key.flag) === key.set;
    case 'modseq':
      return m.modSeq >= key.modSeq;
    case 'savedatesupported':
      return true;
    case 'size':
      return key.op === 'larger' ? rec(m).size > key.size : rec(m).size < key.size;
    case 'age': {
      // RFC 5032: OLDER/YOUNGER compare the internal date with now, in seconds.
      const age = (now - rec(m).internalDate) / 1000;
      return key.op === 'older' ? age >= key.seconds : age <= key.seconds;
    }
    case 'date': {
      const want = dayNumber(key.date);
      const have = key.field === 'internal' ? dayOf(rec(m).internalDate) : key.field === 'saved' ? dayOf(rec(m).saveDate) : sentDay(m);
      return key.op === 'before' ? have < want : key.op === 'on' ? have === want : have >= want;
    }
    case 'emailid':
      return rec(m).emailId === key.id;
    case 'threadid':
      return rec(m).threadId === key.id;
    case 'header': {
      const envField = ENVELOPE_INDEX[key.field.toLowerCase() as keyof typeof ENVELOPE_INDEX];
      if (envField !== undefined) return envelopeMatches(m, envField, key.value);
      return headerMatches(await headerBytes(store, m), key.field, key.value);
    }
    case 'body':
      return (await bodyText(store, m)).includes(fold(key.value));
    case 'text': {
      const needle = fold(key.value);
      if (fold(decodeHeaderText(utf8OrLatin1(await headerBytes(store, m)))).includes(needle)) return true;
      return (await bodyText(store, m, true)).includes(needle);
    }
  }
}

function needsContent(key: SearchKey): boolean {
  switch (key.type) {
    case 'header':
    case 'body':
    case 'text':
      return true;
    case 'and':
      return key.keys.some(needsContent);
    case 'or':
      return needsContent(key.left) || needsContent(key.right);
    case 'not':
      return needsContent(key.key);
    default:
      return false;
  }
}

function rec(m: MsgCtx): MessageRecord {
  if (!m.rec) throw new Error('search key needs the message record');
  return m.rec;
}

function rootPart(m: MsgCtx): MimePart | null {
  const idx = rec(m).mime as MimeIndexV1;
  return idx.v === 1 ? idx.r : null;
}

/** SENT*: the Date header's calendar day in its own zone; messages without a usable Date: internal date. */
function sentDay(m: MsgCtx): number {
  const day = messageSentDay(rec(m).mime);
  return day !== null ? dayOf(day) : dayOf(rec(m).internalDate);
}

/** Header fields kept (raw, first occurrence) in the index's envelope: answered without reading the blob. */
const ENVELOPE_INDEX = { subject: 1, from: 2, to: 5, cc: 6, bcc: 7 } as const;

function envelopeMatches(m: MsgCtx, index: number, value: string): boolean {
  const raw = rootPart(m)?.en?.[index];
  if (raw === null || raw === undefined) return false;
  if (value === '') return true;
  return fold(decodeHeaderText(utf8OrLatin1(Buffer.from(raw, 'latin1')))).includes(fold(value));
}

async function headerBytes(store: Store, m: MsgCtx): Promise<Buffer> {
  if (!m.cache.header) {
    const r = rec(m);
    const h = topHeaderRange(r.mime);
    m.cache.header = await store.readBlob(r.blobId, h.start, h.end);
  }
  return m.cache.header;
}

/** HEADER field-name string: some field of that name contains the string; "" matches presence. */
export function headerMatches(header: Buffer, field: string, value: string): boolean {
  const needle = fold(value);
  for (const v of headerFieldValues(header, field)) {
    if (needle === '') return true;
    if (fold(decodeHeaderText(v)).includes(needle)) return true;
  }
  return false;
}

/** Text of all text parts (and with `withMimeHeaders`, their MIME headers), decoded and case-folded. */
async function bodyText(store: Store, m: MsgCtx, withMimeHeaders = false): Promise<string> {
  const cacheKey = withMimeHeaders ? 'text' : 'body';
  const cached = m.cache[cacheKey];
  if (cached !== undefined) return cached;
  const r = rec(m);
  const pieces: string[] = [];
  for (const leaf of leafParts(r.mime)) {
    if (withMimeHeaders && leaf.part.h < leaf.part.b && leaf.part.h > 0) {
      pieces.push(decodeHeaderText(utf8OrLatin1(await store.readBlob(r.blobId, leaf.part.h, leaf.part.b))));
    }
    // RFC 9051 §6.4.4: servers MAY skip parts other than text and message.
    if (leaf.type !== 'text' && leaf.type !== 'message') continue;
    const raw = await store.readBlob(r.blobId, leaf.part.b, leaf.part.e);
    const decoded = decodeTransferEncoding(raw, leaf.part.c ?? '7bit') ?? raw;
    pieces.push(decodeCharset(decoded, contentParam(leaf.part, 'charset')));
  }
  const text = fold(pieces.join('\n'));
  m.cache[cacheKey] = text;
  return text;
}

/** Case folding for comparison (RFC 9051 §6.4.4: case-insensitive at least in the ASCII range). */
export function fold(s: string): string {
  return s.toLowerCase();
}

function decodeCharset(data: Buffer, charset: string | null): string {
  const cs = (charset ?? 'us-ascii').trim().toLowerCase();
  if (cs === 'utf-8' || cs === 'utf8' || cs === 'us-ascii' || cs === 'ascii') return utf8OrLatin1(data);
  try {
    return new TextDecoder(cs).decode(data);
  } catch {
    return utf8OrLatin1(data);
  }
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
