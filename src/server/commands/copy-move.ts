// COPY / UID COPY (RFC 9051 §6.4.7) with COPYUID (RFC 4315 §3, RFC 9051 §7.1), MOVE / UID MOVE
// (RFC 6851, RFC 9051 §6.4.8): COPYUID in an untagged OK before the EXPUNGEs (or VANISHED under
// QRESYNC, RFC 7162 §3.2.10) and, when something moved under QRESYNC, the tagged OK carries the source's
// new HIGHESTMODSEQ (RFC 6851 §4.4). [TRYCREATE] when the destination does not exist. RFC 2180 §4.4.1: a COPY
// naming a message another session expunged copies nothing and answers NO [EXPUNGEISSUED].
import type { NumSet } from '../../protocol/types.js';
import { StoreError, type CopyResult } from '../../store/types.js';
import type { ArgReader } from '../args.js';
import { bad, no, type TaggedResult } from '../errors.js';
import { compactSet, resolveTargets } from '../message-targets.js';
import { defineCommand, type CommandContext } from '../session.js';
import { expungeResult } from './select.js';

interface CopyArgs {
  set: NumSet;
  mailbox: string;
}

function parseCopy(r: ArgReader): CopyArgs {
  const set = r.sequenceSet();
  const mailbox = r.mailbox();
  r.end();
  return { set, mailbox };
}

function copyUidCode(res: CopyResult): { name: string; args: string } {
  const src = res.mapping.map((p) => p[0]);
  const dst = res.mapping.map((p) => p[1]);
  return { name: 'COPYUID', args: `${res.uidValidity} ${compactSet(src)} ${compactSet(dst)}` };
}

/** A destination that vanished between lookup and copy is still "create it and retry". */
function mapDestinationError(err: unknown): never {
  if (err instanceof StoreError && (err.code === 'TRYCREATE' || err.code === 'NONEXISTENT')) {
    throw no('Destination mailbox does not exist', 'TRYCREATE');
  }
  throw err;
}

async function prepare(ctx: CommandContext, args: CopyArgs, byUid: boolean, verb: string) {
  const st = ctx.session.state;
  if (st.kind !== 'selected') throw bad('No mailbox selected');
  const view = st.view;
  const targets = resolveTargets(view, ctx.session, args.set, byUid);
  const dst = await ctx.store.getMailbox(st.user.id, args.mailbox);
  if (!dst) throw no('Destination mailbox does not exist', 'TRYCREATE');
  const live = targets.filter((uid) => !view.isGhost(uid));
  if (live.length !== targets.length && !byUid) {
    throw no(`Some messages were expunged; nothing was ${verb}`, 'EXPUNGEISSUED');
  }
  return { view, dst, live };
}

async function runCopy(ctx: CommandContext, args: CopyArgs, byUid: boolean): Promise<TaggedResult | string> {
  const { view, dst, live } = await prepare(ctx, args, byUid, 'copied');
  if (live.length === 0) return 'No messages copied';
  const res = await ctx.store.copyMessages(view.mailboxId, live, dst.id).catch(mapDestinationError);
  if (res.mapping.length === 0) return 'No messages copied';
  // If another session expunged some of them while we copied, the mapping says what was copied.
  return { status: 'OK', code: copyUidCode(res), text: `${ctx.name} completed` };
}

async function runMove(ctx: CommandContext, args: CopyArgs, byUid: boolean): Promise<TaggedResult | string> {
  const { view, dst, live } = await prepare(ctx, args, byUid, 'moved');
  // MOVE expunges from the source, which an EXAMINEd mailbox does not allow.
  if (view.readOnly) throw no('Mailbox is read-only (selected with EXAMINE)', 'READ-ONLY');
  if (live.length === 0) return 'No messages moved';
  const res = await ctx.store.moveMessages(view.mailboxId, live, dst.id).catch(mapDestinationError);
  if (res.mapping.length > 0) {
    // RFC 6851 §4.3 / RFC 9051 §6.4.8: COPYUID in an untagged OK before any EXPUNGE.
    await ctx.untaggedStatus('OK', copyUidCode(res), 'Moved UIDs');
  }
  // The session itself expunged these: announce them now, before the tagged OK (RFC 6851 §3.3).
  view.noteOwnExpunge(res.expunged);
  await ctx.flushUpdates(true);
  return expungeResult(ctx, view, res.expunged, `${ctx.name} completed`);
}

export const copyMoveCommands = [
  defineCommand({
    name: 'COPY',
    states: ['selected'],
    flags: { usesSeqs: true },
    parse: parseCopy,
    run: (ctx, args) => runCopy(ctx, args, false),
  }),
  defineCommand({
    name: 'UID COPY',
    states: ['selected'],
    parse: parseCopy,
    run: (ctx, args) => runCopy(ctx, args, true),
  }),
  defineCommand({
    name: 'MOVE',
    states: ['selected'],
    flags: { breaksSeqs: true },
    parse: parseCopy,
    run: (ctx, args) => runMove(ctx, args, false),
  }),
  defineCommand({
    name: 'UID MOVE',
    states: ['selected'],
    flags: { breaksSeqs: true },
    parse: parseCopy,
    run: (ctx, args) => runMove(ctx, args, true),
  }),
];
