// FETCH and UID FETCH: RFC 9051 §6.4.5 (data items, macros, implicit \Seen), §6.4.9 (UID form always
// returns UID, non-existent UIDs ignored), §7.5.2 (FETCH response), RFC 3516 (BINARY), RFC 7162 §3.1.4
// (MODSEQ, CHANGEDSINCE; only once CONDSTORE is enabled), RFC 5182 ($).
//
// Messages another session expunged but this session has not been told about yet ("ghosts", RFC 2180
// §4.1) are skipped: the store no longer has their data. A FETCH by sequence number that skipped any
// then ends with `NO [EXPUNGEISSUED]` (RFC 5530) after returning the others, as RFC 2180 §4.1.2
// allows; UID FETCH answers OK since non-existent UIDs are simply ignored (RFC 9051 §6.4.9).
//
// A replica's partial messages (docs/sync.md "Partial messages"): content a FETCH needs and a message
// does not hold is brought in through the fetchMissing hook first (fetch-missing.ts); messages it cannot
// be had for are left out and the command ends NO [UNAVAILABLE] (RFC 5530).
import { Atom } from '../../protocol/types.js';
import type { NumSet, ResponseValue } from '../../protocol/types.js';
import type { FetchCacheEntry, MessageMeta, MessageRecord } from '../../store/types.js';
import type { MimeIndex } from '../../mime/types.js';
import type { ArgReader } from '../args.js';
import { enableCondstore, holdBackExpunges } from '../condstore.js';
import { bad, type TaggedResult } from '../errors.js';
import { parseFetchItems, renderFetch, type FetchRequest, type RenderOptions } from '../fetch-render.js';
import { chunks, compactSet, lowerBound, resolveTargets } from '../message-targets.js';
import { FetchSyntaxError, parseFetchModifiers } from '../../protocol/fetch-items.js';
import { formatRanges, mergeRanges, resolveNumSet } from '../../protocol/sequence-set.js';
import { fillMissing } from '../fetch-missing.js';
import { applyPartial, extractPartial, type PartialRange } from '../partial.js';
import type { SelectedView } from '../selected-view.js';
import { defineCommand, isRev2, sessionUtf8, type CommandContext, type Session } from '../session.js';
import { cachedKinds, RenderCacheEntry, rowOnly, SLOT } from './fetch-batch.js';

export interface FetchArgs {
  set: NumSet;
  req: FetchRequest;
  changedSince: number | null;
  /** RFC 7162 §3.2.6: also report UIDs of the set expunged since changedSince. */
  vanished: boolean;
  /** MODSEQ or CHANGEDSINCE make this a CONDSTORE enabling command (RFC 7162 §3.1). */
  enablesCondstore: boolean;
  /** RFC 9394 §3.3: only the messages of the set at these positions. */
  partial: PartialRange | null;
}

/** Message records loaded per store call: bounds memory on 100,000-message FETCHes. */
export const FETCH_BATCH = 500;
/** Messages rendered ahead of the one being written. */
const RENDER_AHEAD = 16;
/** Items that need the message row beyond uid, flags and mod-sequence (which the view has). */
const META_ITEMS = new Set<string>(['INTERNALDATE', 'RFC822.SIZE', 'EMAILID', 'THREADID', 'SAVEDATE']);
/** FETCH responses of the render-cache path encoded and written together. */
const WRITE_BATCH = 100;
/** Render-cache texts gathered before one Store.putFetchCache call (one write transaction). */
const CACHE_PUT_BATCH = 5000;

export function parseFetchArgs(r: ArgReader, session: Session, byUid = false): FetchArgs {
  const set = r.sequenceSet();
  // CONDSTORE is advertised, so MODSEQ and CHANGEDSINCE are allowed and enable it (RFC 7162 §3.1).
  const req = parseFetchItems(r.next('FETCH data items'), true);
  let changedSince: number | null = null;
  let vanished = false;
  let partial: PartialRange | null = null;
  if (!r.atEnd()) {
    // fetch-modifiers (RFC 4466 §2.4): CHANGEDSINCE (RFC 7162 §3.1.4.1) once CONDSTORE is enabled,
    // VANISHED (§3.2.6) only in UID FETCH with QRESYNC enabled.
    const list = r.list('FETCH modifiers');
    r.end();
    const { rest: items, partial: p } = extractPartial(list);
    partial = p;
    let mods;
    try {
      mods = parseFetchModifiers(items);
    } catch (err) {
      if (err instanceof FetchSyntaxError) throw bad(err.message);
      throw err;
    }
    if (mods.vanished && (!byUid || !session.enabled.has('QRESYNC'))) throw bad('VANISHED needs UID FETCH and QRESYNC enabled');
    changedSince = mods.changedSince;
    vanished = mods.vanished;
    if (changedSince !== null && !req.items.some((i) => i.kind === 'MODSEQ')) req.items.push({ kind: 'MODSEQ' });
  }
  const enablesCondstore = changedSince !== null || req.items.some((i) => i.kind === 'MODSEQ');
  return { set, req, changedSince, vanished, enablesCondstore, partial };
}

export async function runFetch(ctx: CommandContext, args: FetchArgs, byUid: boolean): Promise<TaggedResult | string> {
  const st = ctx.session.state;
  if (st.kind !== 'selected') throw bad('No mailbox selected');
  const view = st.view;
  const { req } = args;
  if (args.enablesCondstore) await enableCondstore(ctx);
  let targets = resolveTargets(view, ctx.session, args.set, byUid);
  // RFC 9394 §3.4: PARTIAL picks positions in the set first; CHANGEDSINCE then filters those.
  if (args.partial) targets = applyPartial(targets, args.partial);
  if (args.vanished && args.changedSince !== null && !('searchRes' in args.set)) {
    // `* VANISHED (EARLIER) uids` before the FETCH responses (RFC 7162 §3.2.6).
    const gone = await vanishedEarlier(ctx, view, args.set, args.changedSince);
    if (gone !== '') await ctx.untagged([new Atom('VANISHED'), [new Atom('EARLIER')], new Atom(gone)]);
  }
  const opts: RenderOptions = {
    byUid,
    rev1: !isRev2(ctx.session),
    condstore: ctx.session.enabled.has('CONDSTORE'),
    utf8: sessionUtf8(ctx.session),
  };
  let skipped = 0;
  let unavailable: string | null = null;
  // Requests of row items only (FLAGS, UID, INTERNALDATE, ENVELOPE, BODYSTRUCTURE, ...; no body section,
  // no \Seen): rendered in order without reading ahead, written in batches; ENVELOPE / BODY /
  // BODYSTRUCTURE through the render cache (fetch-batch.ts), which this FETCH fills where it is empty.
  const store = ctx.store;
  const rowPath = rowOnly(req);
  const kinds = cachedKinds(req);
  const slots = kinds.map((k) => SLOT[k]);
  const cached = rowPath && kinds.length > 0 && store.getFetchCache && store.putFetchCache ? store : null;
  // Items answered from the message row itself (MODSEQ comes from the view).
  const needsMeta = req.items.some((it) => META_ITEMS.has(it.kind));
  let puts: FetchCacheEntry[] = [];
  const flushPuts = async () => {
    const todo = puts;
    puts = [];
    // A cache that cannot be written only costs the next FETCH a render.
    if (todo.length > 0) await cached!.putFetchCache!(todo).catch((err: unknown) => ctx.log.debug({ err }, 'render cache not stored'));
  };
  for (const batch of chunks(targets, FETCH_BATCH)) {
    let live = batch.filter((uid) => !view.isGhost(uid));
    skipped += batch.length - live.length;
    if (args.changedSince !== null) {
      const since = args.changedSince;
      live = live.filter((uid) => (view.modSeqOf(uid) ?? 0) > since);
    }
    if (live.length === 0) continue;
    if (rowPath) {
      // What each message is answered from: its row, and its render-cache texts when items need them.
      const todo: Array<{ uid: number; rec: MessageRecord | MessageMeta | null; blobId: string | null; entry: RenderCacheEntry | null }> = [];
      if (cached) {
        let recs = await cached.getFetchCache!(view.mailboxId, live, slots, needsMeta);
        // A cached text missing where the store still sent no index (a text of another version): the
        // index is read after all.
        const lacking = recs.filter((r) => r.mimeJson === null && !kinds.every((k, i) => RenderCacheEntry.covers(r.cached[i] ?? null, k)));
        const indexes = new Map<number, { mime: MimeIndex; blobId: string }>();
        if (lacking.length > 0) {
          for (const m of await store.getMessages(view.mailboxId, lacking.map((r) => r.uid))) indexes.set(m.uid, { mime: m.mime, blobId: m.blobId });
          // Gone in between (another session's EXPUNGE): as if it had not been found at all.
          const gone = new Set(lacking.filter((r) => !indexes.has(r.uid)).map((r) => r.uid));
          if (gone.size > 0) recs = recs.filter((r) => !gone.has(r.uid));
        }
        skipped += live.length - recs.length;
        for (const rec of recs) {
          const full = indexes.get(rec.uid);
          const index = () => (rec.mimeJson === null ? (full?.mime ?? null) : (JSON.parse(rec.mimeJson) as MimeIndex));
          todo.push({ uid: rec.uid, rec: rec.meta, blobId: rec.blobId ?? full?.blobId ?? null, entry: new RenderCacheEntry(kinds, rec.cached, index) });
        }
      } else if (req.needsRecord) {
        const recs = await store.getMessages(view.mailboxId, live);
        skipped += live.length - recs.length;
        for (const rec of recs) todo.push({ uid: rec.uid, rec, blobId: rec.blobId, entry: null });
      } else {
        for (const uid of live) todo.push({ uid, rec: null, blobId: null, entry: null });
      }
      // Responses go out WRITE_BATCH at a time, encoded into one buffer (one socket write; the next
      // batch waits for the socket, so memory stays bounded).
      let out: ResponseValue[][] = [];
      for (const { uid, rec, blobId, entry } of todo) {
        const items = await renderFetch(store, view, req, uid, rec, opts, false, entry);
        if (entry?.dirty && blobId !== null) puts.push({ mailboxId: view.mailboxId, uid, blobId, texts: entry.addedTexts() });
        const seq = view.seqOf(uid);
        if (seq !== 0) out.push([seq, new Atom('FETCH'), items]);
        if (out.length >= WRITE_BATCH) {
          await ctx.untaggedBatch(out);
          out = [];
        }
      }
      if (out.length > 0) await ctx.untaggedBatch(out);
      if (puts.length >= CACHE_PUT_BATCH) await flushPuts();
      continue;
    }
    let records: Map<number, MessageRecord> | null = null;
    if (req.needsRecord) {
      const recs = await ctx.store.getMessages(view.mailboxId, live);
      records = new Map(recs.map((m) => [m.uid, m] as const));
      // Partial messages of a replica: bring in what this FETCH needs first (before \Seen is set), and
      // leave out the messages whose content cannot be had (fetch-missing.ts).
      const fill = await fillMissing(ctx, view.mailboxId, req, records);
      if (fill.failed.length > 0) {
        unavailable ??= fill.reason;
        for (const uid of fill.failed) records.delete(uid);
        live = live.filter((uid) => !fill.failed.includes(uid));
      }
      const present = live.filter((uid) => records!.has(uid));
      skipped += live.length - present.length;
      live = present;
    }
    const seenChanged = new Set<number>();
    if (req.setsSeen && !view.readOnly) {
      const unseen = live.filter((uid) => !hasFlag(view.flagsOf(uid), '\\Seen'));
      if (unseen.length > 0) {
        const res = await ctx.store.storeFlags(view.mailboxId, unseen, 'add', ['\\Seen']);
        for (const u of res.updated) {
          view.noteOwnFlags(u.uid, u.flags, u.modSeq);
          seenChanged.add(u.uid);
        }
      }
    }
    // Blob reads of the next few messages overlap with writing the current one; responses still go
    // out in order. Big sections are StreamData, opened only when written, so memory stays bounded.
    const render = (uid: number) => renderFetch(ctx.store, view, req, uid, records?.get(uid) ?? null, opts, seenChanged.has(uid));
    const window: Array<{ uid: number; items: Promise<ResponseValue[]> }> = [];
    let next = 0;
    const startNext = () => {
      const uid = live[next++]!;
      const items = render(uid);
      items.catch(() => undefined); // awaited below in order; avoid an unhandled rejection meanwhile
      window.push({ uid, items });
    };
    while (next < live.length && window.length < RENDER_AHEAD) startNext();
    while (window.length > 0) {
      const head = window.shift()!;
      const items = await head.items;
      if (next < live.length) startNext();
      const seq = view.seqOf(head.uid);
      if (seq === 0) continue;
      await ctx.untagged([seq, new Atom('FETCH'), items]);
    }
  }
  await flushPuts();
  if (!byUid) await holdBackExpunges(ctx);
  if (unavailable !== null) return { status: 'NO', code: { name: 'UNAVAILABLE' }, text: unavailable };
  if (skipped > 0 && !byUid) {
    return { status: 'NO', code: { name: 'EXPUNGEISSUED' }, text: 'Some messages were expunged' };
  }
  return `${ctx.name} completed`;
}

/**
 * The UIDs of `set` expunged after `since`, as a compact set (RFC 7162 §3.2.6). UIDs the session still
 * shows (expunged by another session, not yet announced) are left to the VANISHED that follows the
 * command: a VANISHED (EARLIER) must not name a message the client still counts. When the tombstones
 * after `since` were pruned, every UID of the set up to UIDNEXT-1 that is not in the mailbox is reported
 * ("MUST behave as if it was requested to report all expunged messages from the provided UID set").
 */
export async function vanishedEarlier(ctx: CommandContext, view: SelectedView, set: NumSet, since: number): Promise<string> {
  if ('searchRes' in set) return '';
  const changes = await ctx.store.changesSince(view.mailboxId, since);
  // For VANISHED "*" is the highest UID ever assigned, so an expunged last message is still covered.
  const maxUid = Math.max(view.uidNext - 1, view.maxUid, changes.uidNext - 1);
  const ranges = resolveNumSet(set, maxUid).map(([lo, hi]) => [lo, Math.min(hi, maxUid)] as [number, number]);
  if (!changes.truncated) {
    const gone = changes.expunged.filter((uid) => view.seqOf(uid) === 0 && ranges.some(([lo, hi]) => uid >= lo && uid <= hi));
    return compactSet(gone);
  }
  return formatRanges(absentRanges(ranges, view.allUids()));
}

/** The parts of ascending, disjoint `ranges` not covered by the ascending `present` numbers. */
export function absentRanges(ranges: ReadonlyArray<readonly [number, number]>, present: readonly number[]): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  for (const [lo, hi] of mergeRanges(ranges.map(([a, b]) => [a, b] as [number, number]))) {
    if (hi < lo) continue;
    let from = lo;
    for (let i = lowerBound(present, lo); i < present.length && present[i]! <= hi; i++) {
      const uid = present[i]!;
      if (uid > from) out.push([from, uid - 1]);
      from = uid + 1;
    }
    if (from <= hi) out.push([from, hi]);
  }
  return out;
}

function hasFlag(flags: readonly string[] | undefined, flag: string): boolean {
  if (!flags) return false;
  const f = flag.toLowerCase();
  return flags.some((x) => x.toLowerCase() === f);
}

export const fetchCommands = [
  defineCommand({
    name: 'FETCH',
    states: ['selected'],
    flags: { usesSeqs: true },
    parse: parseFetchArgs,
    run: (ctx, args) => runFetch(ctx, args, false),
  }),
  defineCommand({
    name: 'UID FETCH',
    states: ['selected'],
    parse: (r, session) => parseFetchArgs(r, session, true),
    run: (ctx, args) => runFetch(ctx, args, true),
  }),
];
