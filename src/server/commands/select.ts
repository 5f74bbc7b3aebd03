// SELECT / EXAMINE (RFC 9051 §6.3.2-6.3.3), CLOSE (§6.4.1), UNSELECT (§6.4.2, RFC 3691), CHECK (RFC 3501
// §6.4.1), EXPUNGE (§6.4.3) and UID EXPUNGE (RFC 4315 §2.1).
import { Atom } from '../../protocol/types.js';
import type { ResponseValue } from '../../protocol/types.js';
import { resolveNumSet } from '../../protocol/sequence-set.js';
import { SYSTEM_FLAGS } from '../../protocol/types.js';
import { bad, no } from '../errors.js';
import { SelectedView } from '../selected-view.js';
import { mailboxToWire, SEPARATOR } from '../mailbox-names.js';
import { defineCommand, isRev2, type CommandContext } from '../session.js';

async function openMailbox(ctx: CommandContext, name: string, readOnly: boolean) {
  const st = ctx.session.state;
  if (st.kind !== 'authenticated' && st.kind !== 'selected') throw bad('Not authenticated');
  const user = st.user;
  if (st.kind === 'selected') {
    // Leaving the old mailbox without expunging; RFC 9051 §6.3.2 / RFC 7162 §3.2.11: announce [CLOSED].
    ctx.setState({ kind: 'authenticated', user });
    await ctx.untaggedStatus('OK', { name: 'CLOSED' }, 'Previous mailbox closed');
  }
  const mbox = await ctx.store.getMailbox(user.id, name);
  if (!mbox) throw no('No such mailbox', 'NONEXISTENT');
  const messages = await ctx.store.listMessages(mbox.id);
  const fresh = (await ctx.store.getMailboxById(mbox.id)) ?? mbox;
  const recentFrom = readOnly ? null : await ctx.store.claimRecent(mbox.id);
  const view = new SelectedView(fresh, readOnly, messages, recentFrom);
  // Messages appended between listMessages and now are picked up by the first flush.
  const keywords = new Map<string, string>();
  let firstUnseen = 0;
  for (let i = 0; i < messages.length; i++) {
    const m = messages[i]!;
    let seen = false;
    for (const f of m.flags) {
      if (f.startsWith('\\')) {
        if (f === '\\Seen') seen = true;
      } else if (!keywords.has(f.toLowerCase())) keywords.set(f.toLowerCase(), f);
    }
    if (!seen && firstUnseen === 0) firstUnseen = i + 1;
  }
  const flagList = [...SYSTEM_FLAGS, ...keywords.values()].map((f) => new Atom(f));
  const rev2 = isRev2(ctx.session);
  await ctx.untagged([new Atom('FLAGS'), flagList]);
  const permanent: ResponseValue[] = readOnly ? [] : [...flagList, new Atom('\\*')];
  await ctx.untaggedStatus('OK', { name: 'PERMANENTFLAGS', args: [permanent] }, readOnly ? 'No permanent flags permitted' : 'Flags permitted');
  await ctx.untagged([view.exists, new Atom('EXISTS')]);
  if (!rev2) {
    await ctx.untagged([view.recent.size, new Atom('RECENT')]);
    if (firstUnseen > 0) await ctx.untaggedStatus('OK', { name: 'UNSEEN', args: String(firstUnseen) }, `First unseen`);
  }
  await ctx.untaggedStatus('OK', { name: 'UIDVALIDITY', args: String(fresh.uidValidity) }, 'UIDs valid');
  await ctx.untaggedStatus('OK', { name: 'UIDNEXT', args: String(fresh.uidNext) }, 'Predicted next UID');
  if (rev2) {
    // RFC 9051 §6.3.2: a LIST response carrying the mailbox's canonical name.
    await ctx.untagged([new Atom('LIST'), [], SEPARATOR, mailboxToWire(fresh.name, true)]);
  }
  ctx.setState({ kind: 'selected', user, view });
  return {
    status: 'OK' as const,
    code: { name: readOnly ? 'READ-ONLY' : 'READ-WRITE' },
    text: readOnly ? 'EXAMINE completed' : 'SELECT completed',
  };
}

function parseSelect(r: import('../args.js').ArgReader) {
  const name = r.mailbox();
  // Select parameters (RFC 4466 §2.5) such as CONDSTORE/QRESYNC are not advertised yet.
  if (!r.atEnd()) throw bad('Unknown SELECT parameters');
  return name;
}

function viewOf(ctx: CommandContext): SelectedView {
  const st = ctx.session.state;
  if (st.kind !== 'selected') throw bad('No mailbox selected');
  return st.view;
}

export const selectCommands = [
  defineCommand({
    name: 'SELECT',
    states: ['authenticated', 'selected'],
    flags: { breaksMailbox: true },
    parse: parseSelect,
    run: (ctx, name) => openMailbox(ctx, name, false),
  }),
  defineCommand({
    name: 'EXAMINE',
    states: ['authenticated', 'selected'],
    flags: { breaksMailbox: true },
    parse: parseSelect,
    run: (ctx, name) => openMailbox(ctx, name, true),
  }),
  defineCommand({
    name: 'CLOSE',
    states: ['selected'],
    flags: { breaksMailbox: true },
    parse: (r) => r.end(),
    async run(ctx) {
      const st = ctx.session.state;
      if (st.kind !== 'selected') throw bad('No mailbox selected');
      // RFC 9051 §6.4.1: silently expunge \Deleted messages when the mailbox is read-write.
      if (!st.view.readOnly) {
        try {
          await ctx.store.expunge(st.view.mailboxId);
        } catch {
          /* the mailbox may be gone; CLOSE still leaves the selected state */
        }
      }
      ctx.setState({ kind: 'authenticated', user: st.user });
      return 'CLOSE completed';
    },
  }),
  defineCommand({
    name: 'UNSELECT',
    states: ['selected'],
    flags: { breaksMailbox: true },
    parse: (r) => r.end(),
    async run(ctx) {
      const st = ctx.session.state;
      if (st.kind !== 'selected') throw bad('No mailbox selected');
      ctx.setState({ kind: 'authenticated', user: st.user });
      return 'UNSELECT completed';
    },
  }),
  defineCommand({
    name: 'CHECK',
    states: ['selected'],
    parse: (r) => r.end(),
    async run() {
      // Every write is committed and fsynced as it happens; nothing to checkpoint (RFC 3501 §6.4.1).
      return 'CHECK completed';
    },
  }),
  defineCommand({
    name: 'EXPUNGE',
    states: ['selected'],
    flags: { breaksSeqs: true },
    parse: (r) => r.end(),
    async run(ctx) {
      const view = viewOf(ctx);
      if (view.readOnly) throw no('Mailbox is read-only', 'READ-ONLY');
      const uids = await ctx.store.expunge(view.mailboxId);
      view.noteOwnExpunge(uids);
      return 'EXPUNGE completed';
    },
  }),
  defineCommand({
    name: 'UID EXPUNGE',
    states: ['selected'],
    flags: { breaksSeqs: true },
    parse(r) {
      const set = r.sequenceSet();
      r.end();
      return set;
    },
    async run(ctx, set) {
      const view = viewOf(ctx);
      if (view.readOnly) throw no('Mailbox is read-only', 'READ-ONLY');
      const wanted: number[] = [];
      const ranges = 'searchRes' in set ? null : resolveNumSet(set, Math.max(view.maxUid, view.uidNext - 1));
      const all = view.allUids();
      if (ranges) {
        for (const uid of all) if (ranges.some(([lo, hi]) => uid >= lo && uid <= hi)) wanted.push(uid);
      } else {
        const saved = new Set(ctx.session.searchResult);
        for (const uid of all) if (saved.has(uid)) wanted.push(uid);
      }
      if (wanted.length > 0) {
        const uids = await ctx.store.expunge(view.mailboxId, wanted);
        view.noteOwnExpunge(uids);
      }
      return 'UID EXPUNGE completed';
    },
  }),
];
