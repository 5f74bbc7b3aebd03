// STORE and UID STORE: RFC 9051 §6.4.6 (FLAGS, +FLAGS, -FLAGS, .SILENT), §6.4.9 (UID form always
// reports UID), RFC 3501 §6.4.6 (\Recent cannot be stored), RFC 7162 §3.1.3 (UNCHANGEDSINCE, MODIFIED),
// RFC 2180 §4.2 (STORE on a message another session expunged).
import { Atom } from '../../protocol/types.js';
import type { NumSet, ResponseValue } from '../../protocol/types.js';
import type { FlagOperation } from '../../store/types.js';
import { parseFlagList, parseNumber, type ArgReader } from '../args.js';
import { announceKeywords, flagAtoms } from '../connection.js';
import { enableCondstore, holdBackExpunges } from '../condstore.js';
import { bad, no, type TaggedResult } from '../errors.js';
import { chunks, compactSet, resolveTargets } from '../message-targets.js';
import { defineCommand, type CommandContext, type Session } from '../session.js';

export interface StoreArgs {
  set: NumSet;
  unchangedSince: number | null;
  op: FlagOperation;
  silent: boolean;
  flags: string[];
}

/** UIDs per storeFlags call (keeps SQL statements and memory bounded on huge sets). */
const STORE_BATCH = 5000;

export function parseStoreArgs(r: ArgReader, session: Session): StoreArgs {
  const set = r.sequenceSet();
  let unchangedSince: number | null = null;
  if (r.isList()) {
    // store-modifiers (RFC 4466 §2.5); the only one we know is UNCHANGEDSINCE (RFC 7162 §3.1.3).
    const mods = r.list('store modifiers');
    for (let i = 0; i < mods.length; i += 2) {
      const name = mods[i];
      const value = mods[i + 1];
      if (!name || name.type !== 'atom') throw bad('Invalid store modifier');
      if (name.value.toUpperCase() !== 'UNCHANGEDSINCE') {
        throw bad(`Unknown store modifier ${name.value.slice(0, 30)}`);
      }
      if (!value || value.type !== 'atom') throw bad('UNCHANGEDSINCE needs a mod-sequence');
      if (unchangedSince !== null) throw bad('UNCHANGEDSINCE given twice');
      unchangedSince = parseNumber(value.value, 'mod-sequence');
    }
  }
  const item = r.atom('message data item name');
  const m = /^([+-]?)FLAGS(\.SILENT)?$/i.exec(item);
  if (!m) throw bad(`Unknown STORE data item ${item.slice(0, 30)}`);
  const op: FlagOperation = m[1] === '+' ? 'add' : m[1] === '-' ? 'remove' : 'set';
  const silent = m[2] !== undefined;
  let flags: string[];
  if (r.isList()) {
    flags = parseFlagList(r.list('flag list'));
    r.end();
  } else {
    // store-att-flags also allows `flag *(SP flag)` without parentheses (RFC 9051 §9).
    const items = r.args.slice(r.args.length - r.remaining);
    if (items.length === 0) throw bad('Missing flags');
    flags = parseFlagList(items);
    while (!r.atEnd()) r.next('flag');
  }
  return { set, unchangedSince, op, silent, flags };
}

async function runStore(ctx: CommandContext, args: StoreArgs, byUid: boolean): Promise<TaggedResult | string> {
  const st = ctx.session.state;
  if (st.kind !== 'selected') throw bad('No mailbox selected');
  const view = st.view;
  if (view.readOnly) throw no('Mailbox is read-only (selected with EXAMINE)', 'READ-ONLY');
  if (args.unchangedSince !== null) await enableCondstore(ctx);
  const targets = resolveTargets(view, ctx.session, args.set, byUid);
  const live: number[] = [];
  let sawGhost = false;
  for (const uid of targets) {
    if (view.isGhost(uid)) sawGhost = true;
    else live.push(uid);
  }
  const condstore = ctx.session.enabled.has('CONDSTORE');
  const rev1 = !ctx.session.enabled.has('IMAP4REV2');
  const modified: number[] = [];
  for (const batch of chunks(live, STORE_BATCH)) {
    const res = await ctx.store.storeFlags(
      view.mailboxId,
      batch,
      args.op,
      args.flags,
      args.unchangedSince !== null ? { unchangedSince: args.unchangedSince } : undefined,
    );
    // A keyword new to the mailbox that was stored goes into a FLAGS response before the FETCHes that show
    // it (RFC 9051 §7.3.5); one that nothing took (e.g. all MODIFIED, RFC 7162 Example 8) is not announced.
    let learnt = false;
    for (const u of res.updated) if (view.learnKeywords(u.flags)) learnt = true;
    if (learnt) await announceKeywords(ctx, view);
    const updated = new Map(res.updated.map((u) => [u.uid, u] as const));
    const failed = new Set(res.modified);
    modified.push(...res.modified);
    for (const uid of batch) {
      if (failed.has(uid)) continue;
      const up = updated.get(uid);
      if (!up) {
        // Not in the store's answer: another session expunged it and this one has not been told yet
        // (RFC 2180 §4.2: treated like a known-expunged message; its EXPUNGE comes later).
        sawGhost = true;
        continue;
      }
      const { flags, modSeq } = up;
      view.noteOwnFlags(uid, flags, modSeq);
      // RFC 7162 §3.1.3: with UNCHANGEDSINCE a FETCH with MODSEQ is sent even for .SILENT; once CONDSTORE
      // is on, a .SILENT STORE that changed the mod-sequence also reports it (§3.1, Example 14), since
      // the client cannot know the new value otherwise. Such FETCHes carry UID and MODSEQ only.
      const modSeqMoved = up.changed !== false || args.unchangedSince !== null;
      if (args.silent && !(condstore && modSeqMoved)) continue;
      const seq = view.seqOf(uid);
      if (seq === 0) continue;
      const items: ResponseValue[] = [];
      if (!args.silent) items.push(new Atom('FLAGS'), flagAtoms(flags, rev1 && view.recent.has(uid)));
      // §3.2.4: once CONDSTORE is enabled every untagged FETCH carries UID and MODSEQ.
      if (byUid || condstore) items.push(new Atom('UID'), uid);
      if (condstore) items.push(new Atom('MODSEQ'), [modSeq]);
      await ctx.untagged([seq, new Atom('FETCH'), items]);
    }
  }
  if (!byUid) await holdBackExpunges(ctx);
  if (modified.length > 0) {
    modified.sort((a, b) => a - b);
    const ids = byUid ? modified : modified.map((uid) => view.seqOf(uid)).filter((s) => s > 0);
    // RFC 7162 §3.1.3 Example 11: MODIFIED may also ride on the NO for messages another session expunged.
    const status = sawGhost && !byUid ? 'NO' : 'OK';
    return { status, code: { name: 'MODIFIED', args: compactSet(ids) }, text: status === 'NO' ? 'Some of the messages no longer exist' : 'Conditional STORE failed' };
  }
  if (sawGhost && !byUid) {
    // RFC 2180 §4.2.1 / RFC 5530: the other messages were updated; tell the client some were expunged.
    return { status: 'NO', code: { name: 'EXPUNGEISSUED' }, text: 'Some messages were expunged' };
  }
  return `${ctx.name} completed`;
}

export const storeCommands = [
  defineCommand({
    name: 'STORE',
    states: ['selected'],
    flags: { usesSeqs: true },
    parse: parseStoreArgs,
    run: (ctx, args) => runStore(ctx, args, false),
  }),
  defineCommand({
    name: 'UID STORE',
    states: ['selected'],
    parse: parseStoreArgs,
    run: (ctx, args) => runStore(ctx, args, true),
  }),
];
