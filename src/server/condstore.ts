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
