// SELECT / EXAMINE (RFC 9051 §6.3.2-6.3.3), CLOSE (§6.4.1), UNSELECT (§6.4.2, RFC 3691), CHECK (RFC 3501
// §6.4.1), EXPUNGE (§6.4.3) and UID EXPUNGE (RFC 4315 §2.1); RFC 7162 §3.1.8 (CONDSTORE parameter),
// §3.2.5 (QRESYNC parameter), §3.2.7/§3.2.9 (HIGHESTMODSEQ on EXPUNGE), §3.2.11 (CLOSED); RFC 8474 §4.2
// (MAILBOXID response code).
import { Atom } from '../../protocol/types.js';
import type { ResponseValue } from '../../protocol/types.js';
import type { ImapArg, NumSet } from '../../protocol/types.js';
import { expandRanges, formatNumSet, parseNumSet, resolveNumSet } from '../../protocol/sequence-set.js';
import { parseNumber, type ArgReader } from '../args.js';
import { flagAtoms } from '../connection.js';
import { SYSTEM_FLAGS } from '../../protocol/types.js';
import { bad, ImapError, no, type TaggedResult } from '../errors.js';
import { SelectedView } from '../selected-view.js';
import { mailboxToWire, SEPARATOR } from '../mailbox-names.js';
import { defineCommand, isRev2, type CommandContext, type Session } from '../session.js';

/** SELECT/EXAMINE parameters (RFC 4466 §2.5): CONDSTORE (RFC 7162 §3.1.8), QRESYNC (§3.2.5). */
interface SelectParams {
  name: string;
  condstore: boolean;
  qresync: {
    uidValidity: number;
    modSeq: number;
    knownUids: NumSet | null;
    seqMatch: { seqs: NumSet; uids: NumSet } | null;
  } | null;
}

/** What SELECT/EXAMINE parsed: its parameters, or the error its arguments earned (answered in run()). */
type SelectArgs = SelectParams | { refused: ImapError };

async function openMailbox(ctx: CommandContext, args: SelectArgs, readOnly: boolean) {
  const st = ctx.session.state;
  if (st.kind !== 'authenticated' && st.kind !== 'selected') throw bad('Not authenticated');
  const user = st.user;
  if (st.kind === 'selected') {
    // Leaving the old mailbox without expunging; RFC 9051 §6.3.2 / RFC 7162 §3.2.11: announce [CLOSED].
    ctx.setState({ kind: 'authenticated', user });
    await ctx.untaggedStatus('OK', { name: 'CLOSED' }, 'Previous mailbox closed');
  }
  // RFC 9051 §6.3.2: "if a mailbox is selected and a SELECT command that fails is attempted, no mailbox is
  // selected" — also when it fails on its arguments (RFC 7162 §3.2.5: BAD, "the mailbox remains unselected").
  if ('refused' in args) throw args.refused;
  const params = args;
  if (params.condstore) ctx.session.enabled.add('CONDSTORE');
  // RFC 9051 §6.4.4.1: the saved search result does not survive a new selection.
  ctx.session.searchResult = [];
  const mbox = await ctx.store.getMailbox(user.id, params.name);
  if (!mbox) throw no('No such mailbox', 'NONEXISTENT');
  // Order matters: the mailbox record (highest mod-sequence) is read before the message list, so the
  // view's mod-sequence never claims more than the list shows; the first flush re-reads what came between.
  // EXAMINE "MUST NOT cause messages to lose the \Recent flag" (RFC 3501 §6.3.2) but reports them like
  // SELECT: the messages at or above the mailbox's recent watermark (STATUS RECENT counts them; they
  // are the highest UIDs below the UIDNEXT read with it) are \Recent in a read-only view, unclaimed.
  const unclaimed = readOnly ? await ctx.store.mailboxStatus(mbox.id) : null;
  let recentFrom = unclaimed ? null : await ctx.store.claimRecent(mbox.id);
  const messages = await ctx.store.listMessages(mbox.id);
  if (unclaimed && unclaimed.recent > 0) {
    let below = 0;
    while (below < messages.length && messages[below]!.uid < unclaimed.uidNext) below++;
    const first = messages[Math.max(0, below - unclaimed.recent)];
    if (first) recentFrom = first.uid;
  }
  const view = new SelectedView(mbox, readOnly, messages, recentFrom);
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
    if (firstUnseen > 0) await ctx.untaggedStatus('OK', { name: 'UNSEEN', args: String(firstUnseen) }, 'First unseen');
  }
  await ctx.untaggedStatus('OK', { name: 'UIDVALIDITY', args: String(mbox.uidValidity) }, 'UIDs valid');
  await ctx.untaggedStatus('OK', { name: 'UIDNEXT', args: String(Math.max(view.uidNext, view.maxUid + 1)) }, 'Predicted next UID');
  // RFC 8474 §4.2: the mailbox's immutable id, on every successful SELECT/EXAMINE.
  await ctx.untaggedStatus('OK', { name: 'MAILBOXID', args: [[new Atom(mbox.objectId)]] }, 'Ok');
  if (ctx.session.enabled.has('CONDSTORE')) {
    await ctx.untaggedStatus('OK', { name: 'HIGHESTMODSEQ', args: String(view.highestModSeq) }, 'Highest');
  }
  if (rev2) {
    // RFC 9051 §6.3.2: a LIST response carrying the mailbox's canonical name.
    await ctx.untagged([new Atom('LIST'), [], SEPARATOR, mailboxToWire(mbox.name, true)]);
  }
  ctx.setState({ kind: 'selected', user, view });
  if (params.qresync && params.qresync.uidValidity === mbox.uidValidity) {
    await quickResync(ctx, view, params.qresync);
  }
  return {
    status: 'OK' as const,
    code: { name: readOnly ? 'READ-ONLY' : 'READ-WRITE' },
    text: readOnly ? 'EXAMINE completed' : 'SELECT completed',
  };
}

/**
 * RFC 7162 §3.2.5.1-2: after the usual SELECT responses, VANISHED (EARLIER) for known UIDs expunged since
 * the client's mod-sequence, then FETCH (UID FLAGS MODSEQ) for known messages changed since it. When the
 * tombstones were pruned, every known UID that no longer exists is announced (minus what the
 * sequence-match data proves the client already knows).
 */
async function quickResync(ctx: CommandContext, view: SelectedView, q: NonNullable<SelectParams['qresync']>) {
  const maxUid = Math.max(view.uidNext - 1, view.maxUid);
  const known = q.knownUids ? resolveNumSet(q.knownUids, maxUid) : maxUid > 0 ? ([[1, maxUid]] as Array<[number, number]>) : [];
  const inKnown = (uid: number) => known.some(([lo, hi]) => uid >= lo && uid <= hi);
  const changes = await ctx.store.changesSince(view.mailboxId, q.modSeq);
  let vanished: number[];
  if (!changes.truncated) {
    // UIDs the view still shows were expunged after it was loaded: the VANISHED that follows the
    // command announces them (a VANISHED (EARLIER) must not name a message the client still counts).
    vanished = changes.expunged.filter((uid) => inKnown(uid) && view.seqOf(uid) === 0);
  } else {
    // Below this UID the client provably knows every expunge (matching seq/uid pairs, §3.2.5.2).
    let floor = 0;
    if (q.seqMatch) {
      // Only the first `exists` pairs can match; cap the expansion so a hostile range costs nothing.
      const cap = (ranges: Array<[number, number]>) =>
        expandRanges(capRanges(ranges, view.exists + 1));
      const seqs = cap(resolveNumSet(q.seqMatch.seqs, Number.MAX_SAFE_INTEGER));
      const uids = cap(resolveNumSet(q.seqMatch.uids, Number.MAX_SAFE_INTEGER));
      for (let i = 0; i < Math.min(seqs.length, uids.length); i++) {
        if (view.uidAt(seqs[i]!) === uids[i]) floor = uids[i]!;
        else break;
      }
    }
    const present = new Set(view.allUids());
    vanished = [];
    for (const [lo, hi] of known) {
      for (let uid = Math.max(lo, floor + 1); uid <= Math.min(hi, maxUid); uid++) if (!present.has(uid)) vanished.push(uid);
    }
  }
  if (vanished.length > 0) {
    await ctx.untagged([new Atom('VANISHED'), [new Atom('EARLIER')], new Atom(formatNumSet(vanished))]);
  }
  for (const m of changes.changed) {
    if (!inKnown(m.uid)) continue;
    const seq = view.seqOf(m.uid);
    if (seq === 0) continue;
    const flags = view.flagsOf(m.uid) ?? m.flags;
    const items: ResponseValue[] = [new Atom('UID'), m.uid, new Atom('FLAGS'), flagAtoms(flags, view.recent.has(m.uid) && !isRev2(ctx.session))];
    items.push(new Atom('MODSEQ'), [view.modSeqOf(m.uid) ?? m.modSeq]);
    await ctx.untagged([seq, new Atom('FETCH'), items]);
  }
}

/** Keeps at most `count` numbers of ascending ranges. */
function capRanges(ranges: Array<[number, number]>, count: number): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  let left = count;
  for (const [lo, hi] of ranges) {
    if (left <= 0) break;
    const take = Math.min(hi - lo + 1, left);
    out.push([lo, lo + take - 1]);
    left -= take;
  }
  return out;
}

function parseModSeq(a: ImapArg | undefined, what: string): number {
  if (!a || a.type !== 'atom') throw bad(`Missing ${what}`);
  const n = parseNumber(a.value, what);
  if (n > 2 ** 63 - 1) throw bad(`${what} out of range`);
  return n;
}

function parseSetArg(a: ImapArg | undefined, what: string): NumSet {
  if (!a || a.type !== 'atom') throw bad(`Missing ${what}`);
  try {
    const set = parseNumSet(a.value);
    if ('searchRes' in set || set.ranges.some((r) => r.start === '*' || r.end === '*')) throw new Error('no * or $');
    return set;
  } catch {
    throw bad(`Invalid ${what}`);
  }
}

/** Parses SELECT/EXAMINE arguments; a refusal is kept for run(), which first leaves the selected mailbox. */
function parseSelectArgs(r: ArgReader, session: Session): SelectArgs {
  try {
    return parseSelect(r, session);
  } catch (err) {
    if (err instanceof ImapError) return { refused: err };
    throw err;
  }
}

function parseSelect(r: ArgReader, session: Session): SelectParams {
  const name = r.mailbox();
  const params: SelectParams = { name, condstore: false, qresync: null };
  if (!r.atEnd()) {
    const list = r.list('select parameters');
    for (let i = 0; i < list.length; i++) {
      const p = list[i]!;
      if (p.type !== 'atom') throw bad('Invalid select parameter');
      const word = p.value.toUpperCase();
      if (word === 'CONDSTORE') {
        params.condstore = true;
      } else if (word === 'QRESYNC') {
        // RFC 7162 §3.2.5: BAD unless QRESYNC was enabled in this connection.
        if (!session.enabled.has('QRESYNC')) throw bad('QRESYNC parameter needs ENABLE QRESYNC first');
        const arg = list[++i];
        if (!arg || arg.type !== 'list') throw bad('QRESYNC needs a parameter list');
        const [uv, ms, uidsArg, matchArg, ...rest] = arg.items;
        if (rest.length > 0) throw bad('Too many QRESYNC parameters');
        const uidValidity = parseModSeq(uv, 'UIDVALIDITY');
        if (uidValidity === 0 || uidValidity > 0xffffffff) throw bad('Invalid UIDVALIDITY');
        const modSeq = parseModSeq(ms, 'mod-sequence');
        const knownUids = uidsArg ? parseSetArg(uidsArg, 'known UIDs') : null;
        let seqMatch: { seqs: NumSet; uids: NumSet } | null = null;
        if (matchArg) {
          if (matchArg.type !== 'list' || matchArg.items.length !== 2) throw bad('Invalid sequence match data');
          seqMatch = { seqs: parseSetArg(matchArg.items[0], 'sequence set'), uids: parseSetArg(matchArg.items[1], 'UID set') };
        }
        params.qresync = { uidValidity, modSeq, knownUids, seqMatch };
      } else {
        throw bad(`Unknown select parameter ${p.value.slice(0, 30)}`);
      }
    }
  }
  r.end();
  return params;
}

/**
 * RFC 7162 §3.2.7 / §3.2.9 (and RFC 6851 §4.4 for MOVE): when something was expunged and QRESYNC is on,
 * the tagged OK carries the mailbox's new HIGHESTMODSEQ. The value is read after the expunge; everything up to it is announced by
 * the update flush that runs before the tagged response.
 */
export async function expungeResult(ctx: CommandContext, view: SelectedView, uids: number[], text: string): Promise<TaggedResult | string> {
  if (uids.length === 0 || !ctx.session.enabled.has('QRESYNC')) return text;
  const mbox = await ctx.store.getMailboxById(view.mailboxId);
  if (!mbox) return text;
  return { status: 'OK', code: { name: 'HIGHESTMODSEQ', args: String(mbox.highestModSeq) }, text };
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
    parse: parseSelectArgs,
    run: (ctx, args) => openMailbox(ctx, args, false),
  }),
  defineCommand({
    name: 'EXAMINE',
    states: ['authenticated', 'selected'],
    flags: { breaksMailbox: true },
    parse: parseSelectArgs,
    run: (ctx, args) => openMailbox(ctx, args, true),
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
      return expungeResult(ctx, view, uids, 'EXPUNGE completed');
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
      let uids: number[] = [];
      if (wanted.length > 0) {
        uids = await ctx.store.expunge(view.mailboxId, wanted);
        view.noteOwnExpunge(uids);
      }
      return expungeResult(ctx, view, uids, 'UID EXPUNGE completed');
    },
  }),
];
