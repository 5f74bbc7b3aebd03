// FETCH and UID FETCH: RFC 9051 §6.4.5 (data items, macros, implicit \Seen), §6.4.9 (UID form always
// returns UID, non-existent UIDs ignored), §7.5.2 (FETCH response), RFC 3516 (BINARY), RFC 7162 §3.1.4
// (MODSEQ, CHANGEDSINCE; only once CONDSTORE is enabled), RFC 5182 ($).
//
// Messages another session expunged but this session has not been told about yet ("ghosts", RFC 2180
// §4.1) are skipped: the store no longer has their data. A FETCH by sequence number that skipped any
// then ends with `NO [EXPUNGEISSUED]` (RFC 5530) after returning the others, as RFC 2180 §4.1.2
// allows; UID FETCH answers OK since non-existent UIDs are simply ignored (RFC 9051 §6.4.9).
import { Atom } from '../../protocol/types.js';
import type { NumSet, ResponseValue } from '../../protocol/types.js';
import type { MessageRecord } from '../../store/types.js';
import type { ArgReader } from '../args.js';
import { enableCondstore } from '../condstore.js';
import { bad, type TaggedResult } from '../errors.js';
import { parseFetchItems, renderFetch, type FetchRequest, type RenderOptions } from '../fetch-render.js';
import { chunks, compactSet, resolveTargets } from '../message-targets.js';
import { FetchSyntaxError, parseFetchModifiers } from '../../protocol/fetch-items.js';
import { numSetContains } from '../../protocol/sequence-set.js';
import { defineCommand, isRev2, type CommandContext, type Session } from '../session.js';

export interface FetchArgs {
  set: NumSet;
  req: FetchRequest;
  changedSince: number | null;
  /** RFC 7162 §3.2.6: also report UIDs of the set expunged since changedSince. */
  vanished: boolean;
  /** MODSEQ or CHANGEDSINCE make this a CONDSTORE enabling command (RFC 7162 §3.1). */
  enablesCondstore: boolean;
}

/** Message records loaded per store call: bounds memory on 100,000-message FETCHes. */
export const FETCH_BATCH = 500;
/** Messages rendered ahead of the one being written. */
const RENDER_AHEAD = 16;

export function parseFetchArgs(r: ArgReader, session: Session, byUid = false): FetchArgs {
  const set = r.sequenceSet();
  // CONDSTORE is advertised, so MODSEQ and CHANGEDSINCE are allowed and enable it (RFC 7162 §3.1).
  const req = parseFetchItems(r.next('FETCH data items'), true);
  let changedSince: number | null = null;
  let vanished = false;
  if (!r.atEnd()) {
    // fetch-modifiers (RFC 4466 §2.4): CHANGEDSINCE (RFC 7162 §3.1.4.1) once CONDSTORE is enabled,
    // VANISHED (§3.2.6) only in UID FETCH with QRESYNC enabled.
    const items = r.list('FETCH modifiers');
    r.end();
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
  return { set, req, changedSince, vanished, enablesCondstore };
}

export async function runFetch(ctx: CommandContext, args: FetchArgs, byUid: boolean): Promise<TaggedResult | string> {
  const st = ctx.session.state;
  if (st.kind !== 'selected') throw bad('No mailbox selected');
  const view = st.view;
  const { req } = args;
  if (args.enablesCondstore) await enableCondstore(ctx);
  const targets = resolveTargets(view, ctx.session, args.set, byUid);
  if (args.vanished && args.changedSince !== null && !('searchRes' in args.set)) {
    // `* VANISHED (EARLIER) uids` before the FETCH responses (RFC 7162 §3.2.6).
    const changes = await ctx.store.changesSince(view.mailboxId, args.changedSince);
    const star = view.maxUid || view.uidNext;
    const gone = changes.expunged.filter((uid) => numSetContains(args.set, uid, star));
    if (gone.length > 0) await ctx.untagged([new Atom('VANISHED'), [new Atom('EARLIER')], new Atom(compactSet(gone))]);
  }
  const opts: RenderOptions = { byUid, rev1: !isRev2(ctx.session), condstore: ctx.session.enabled.has('CONDSTORE') };
  let skipped = 0;
  for (const batch of chunks(targets, FETCH_BATCH)) {
    let live = batch.filter((uid) => !view.isGhost(uid));
    skipped += batch.length - live.length;
    if (args.changedSince !== null) {
      const since = args.changedSince;
      live = live.filter((uid) => (view.modSeqOf(uid) ?? 0) > since);
    }
    if (live.length === 0) continue;
    let records: Map<number, MessageRecord> | null = null;
    if (req.needsRecord) {
      const recs = await ctx.store.getMessages(view.mailboxId, live);
      records = new Map(recs.map((m) => [m.uid, m] as const));
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
  if (skipped > 0 && !byUid) {
    return { status: 'NO', code: { name: 'EXPUNGEISSUED' }, text: 'Some messages were expunged' };
  }
  return `${ctx.name} completed`;
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
