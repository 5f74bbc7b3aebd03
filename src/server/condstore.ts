// CONDSTORE enabling (RFC 7162 §3.1): the first enabling command with a mailbox selected must report the
// mailbox's HIGHESTMODSEQ; from then on every untagged FETCH carries MODSEQ (see connection.flushUpdates).
import type { CommandContext } from './session.js';

export async function enableCondstore(ctx: CommandContext): Promise<void> {
  if (ctx.session.enabled.has('CONDSTORE')) return;
  ctx.session.enabled.add('CONDSTORE');
  const st = ctx.session.state;
  if (st.kind === 'selected') {
    await ctx.untaggedStatus('OK', { name: 'HIGHESTMODSEQ', args: String(st.view.highestModSeq) }, 'Highest');
  }
}

/** Per view: the HIGHESTMODSEQ announced while expunges are held back (see holdBackExpunges). */
const floors = new WeakMap<object, number>();

/**
 * RFC 7162 §3.2: "if the server sends MODSEQ FETCH data items while EXPUNGE (or VANISHED) replies with
 * lower mod-sequences being delayed, the server MUST send the HIGHESTMODSEQ response code with a lower
 * value than the EXPUNGE's mod-sequence". Called at the end of FETCH / STORE / SEARCH by sequence number
 * (RFC 9051 §7.5.1: no EXPUNGE during those): announces what may be announced now, and when expunges by
 * other sessions stay held back, sends `OK [HIGHESTMODSEQ n]` with n = the view's mod-sequence from
 * before those expunges were learnt (everything up to n has been announced), so a client that loses the
 * connection before the held-back EXPUNGE/VANISHED still asks for it at its next QRESYNC.
 */
export async function holdBackExpunges(ctx: CommandContext): Promise<void> {
  const st = ctx.session.state;
  if (st.kind !== 'selected' || !ctx.session.enabled.has('CONDSTORE')) return;
  const view = st.view;
  const heldBefore = view.allUids().some((uid) => view.isGhost(uid));
  const before = view.highestModSeq;
  await ctx.flushUpdates(false);
  if (ctx.session.state !== st) return;
  // After a flush that may not expunge, what is still pending is exactly the held-back expunges.
  if (!view.hasPending(true)) {
    floors.delete(view);
    return;
  }
  let floor = floors.get(view);
  if (floor === undefined) {
    // Held back since an earlier command that recorded no floor: no value is known to be safe.
    if (heldBefore) return;
    floor = before;
    floors.set(view, floor);
  }
  await ctx.untaggedStatus('OK', { name: 'HIGHESTMODSEQ', args: String(floor) }, 'Expunges are held back');
}
