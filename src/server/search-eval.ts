// Evaluating SEARCH criteria (parsed by src/protocol/search-keys.ts) over the selected mailbox (RFC 9051
// §6.4.4, RFC 3501 §6.4.4 for NEW/OLD/RECENT, RFC 7162 §3.1.5 MODSEQ, RFC 5032 OLDER/YOUNGER, RFC 8474
// EMAILID/THREADID, RFC 8514 SAVEDATE). Metadata keys use the view and MessageMeta; FROM/TO/CC/BCC/SUBJECT
// use the envelope fields kept in the MIME index; HEADER reads the header bytes; BODY/TEXT read and
// decode the text parts (RFC 2045 §6 transfer encodings, RFC 2047 encoded words, RFC 6532 UTF-8
// headers, charsets converted to Unicode) and match as substrings under i;unicode-casemap (RFC 5051).
// The text is derived by src/mime/search-text.ts, which the store's full-text index shares.
//
// Full-text index: when the store implements searchTextCandidates, every string key with a needle of
// 3+ characters first asks it for candidate UIDs (a superset of the matches). Messages outside the
// candidates fail that key without being read; candidates are verified exactly, so results are the
// exact scan's. When the whole criteria are an AND/OR of such keys, only candidates are visited at all.
// TEXT matches when the header, the body text, or a leaf part's MIME header contains the string.
import type { NumSet } from '../protocol/types.js';
import { dayNumber, localZoneOffset } from '../protocol/dates.js';
import type { SearchKey } from '../protocol/search-keys.js';
import { messageSentDay, topHeaderRange } from '../mime/sections.js';
import { bodyTexts, envelopeText, ENVELOPE_FIELD, fold, headerFieldTexts, headerText, type EnvelopeField } from '../mime/search-text.js';
import type { MessageRecord, Store } from '../store/types.js';
import { chunks, resolveTargets } from './message-targets.js';
import type { SelectedView } from './selected-view.js';
import type { Session } from './session.js';

export { decodeHeaderText, fold, utf8OrLatin1 } from '../mime/search-text.js';
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
  cache: { header?: Buffer; body?: { body: string; mime: string } };
}

type TextKey = Extract<SearchKey, { type: 'header' | 'body' | 'text' }>;
type TextField = 'text' | 'body' | 'header' | EnvelopeField;

/** Needles shorter than this (in characters) cannot use a trigram index. */
const MIN_INDEXED_NEEDLE = 3;

function textField(key: TextKey): TextField {
  if (key.type !== 'header') return key.type;
  const f = key.field.toLowerCase();
  return Object.hasOwn(ENVELOPE_FIELD, f) ? (f as EnvelopeField) : 'header';
}

/** Asks the store's index for each string key's candidates; keys it cannot answer are left out. */
async function indexCandidates(store: Store, mailboxId: number, key: SearchKey, out: Map<SearchKey, Set<number>>): Promise<void> {
  switch (key.type) {
    case 'and':
      for (const k of key.keys) await indexCandidates(store, mailboxId, k, out);
      return;
    case 'or':
      await indexCandidates(store, mailboxId, key.left, out);
      await indexCandidates(store, mailboxId, key.right, out);
      return;
    case 'not':
      await indexCandidates(store, mailboxId, key.key, out);
      return;
    case 'header':
    case 'body':
    case 'text': {
      if (!store.searchTextCandidates) return;
      const needle = fold(key.value);
      if ([...needle].length < MIN_INDEXED_NEEDLE) return;
      const uids = await store.searchTextCandidates(mailboxId, textField(key), needle);
      if (uids) out.set(key, new Set(uids));
      return;
    }
    default:
      return;
  }
}

/** UIDs outside which `key` cannot match (from the candidates), or null when any message might. */
function restriction(key: SearchKey, cands: Map<SearchKey, Set<number>>): Set<number> | null {
  switch (key.type) {
    case 'header':
    case 'body':
    case 'text':
      return cands.get(key) ?? null;
    case 'and': {
      let best: Set<number> | null = null;
      for (const k of key.keys) {
        const r = restriction(k, cands);
        if (r && (!best || r.size < best.size)) best = r;
      }
      return best;
    }
    case 'or': {
      const l = restriction(key.left, cands);
      const r = l && restriction(key.right, cands);
      if (!l || !r) return null;
      return new Set([...l, ...r]);
    }
    default:
      return null;
  }
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
  const cands = new Map<SearchKey, Set<number>>();
  await indexCandidates(store, view.mailboxId, key, cands);
  const sets = new SetCache(view, session, cands);
  const only = restriction(key, cands);
  const all = view.allUids();
  const uids = only ? all.filter((u) => only.has(u)) : all;
  const hits: SearchHit[] = [];
  // Messages another session expunged are skipped, whether or not the index ruled them out.
  let skippedExpunged = only !== null && all.some((u) => !only.has(u) && view.isGhost(u));
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
    /** Candidate UIDs of string keys, from the store's full-text index. */
    readonly candidates: Map<SearchKey, Set<number>>,
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
      const have = key.field === 'internal' ? dayOf(rec(m).internalDate, rec(m).internalDateOffset) : key.field === 'saved' ? dayOf(rec(m).saveDate, localZoneOffset(rec(m).saveDate)) : sentDay(m);
      return key.op === 'before' ? have < want : key.op === 'on' ? have === want : have >= want;
    }
    case 'emailid':
      return rec(m).emailId === key.id;
    case 'threadid':
      return rec(m).threadId === key.id;
    case 'header': {
      const c = sets.candidates.get(key);
      if (c && !c.has(m.uid)) return false;
      const f = key.field.toLowerCase();
      if (Object.hasOwn(ENVELOPE_FIELD, f)) {
        const v = envelopeText(rec(m).mime, f as EnvelopeField);
        return v !== null && (key.value === '' || v.includes(fold(key.value)));
      }
      return headerMatches(await headerBytes(store, m), key.field, key.value);
    }
    case 'body': {
      const c = sets.candidates.get(key);
      if (c && !c.has(m.uid)) return false;
      return (await bodyOf(store, m)).body.includes(fold(key.value));
    }
    case 'text': {
      const c = sets.candidates.get(key);
      if (c && !c.has(m.uid)) return false;
      const needle = fold(key.value);
      if (headerText(await headerBytes(store, m)).includes(needle)) return true;
      const b = await bodyOf(store, m);
      return b.body.includes(needle) || b.mime.includes(needle);
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


/** SENT*: the Date header's calendar day in its own zone; messages without a usable Date: internal date. */
function sentDay(m: MsgCtx): number {
  const day = messageSentDay(rec(m).mime);
  return day !== null ? dayOf(day) : dayOf(rec(m).internalDate, rec(m).internalDateOffset);
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
  for (const v of headerFieldTexts(header, field)) {
    if (needle === '' || v.includes(needle)) return true;
  }
  return false;
}

/** BODY's text and the leaves' MIME headers, decoded and folded (src/mime/search-text.ts). */
async function bodyOf(store: Store, m: MsgCtx): Promise<{ body: string; mime: string }> {
  if (!m.cache.body) {
    const r = rec(m);
    m.cache.body = await bodyTexts(r.mime, (start, end) => store.readBlob(r.blobId, start, end));
  }
  return m.cache.body;
}
