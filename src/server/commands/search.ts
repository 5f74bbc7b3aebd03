// SEARCH and UID SEARCH: RFC 9051 §6.4.4 (criteria, CHARSET, RETURN options), §7.3.4 (ESEARCH),
// RFC 3501 §6.4.4 / §7.2.5 (rev1 `* SEARCH`, NEW/OLD/RECENT), RFC 4731 (ESEARCH: MIN MAX ALL COUNT),
// RFC 5182 (SAVE and "$"), RFC 4466 §2.6 (search-return-opts), RFC 7162 §3.1.5/§3.1.6/§3.1.10 (MODSEQ key
// and result), RFC 9394 §3.1/§3.2 (PARTIAL return option, paged results).
import { Atom } from '../../protocol/types.js';
import type { ResponseValue } from '../../protocol/types.js';
import { parseSearch, SearchSyntaxError, usesModSeq, type SearchKey, type SearchReturnOption } from '../../protocol/search-keys.js';
import type { ArgReader } from '../args.js';
import { ADVERTISED_CHARSETS, convertSearchCharset } from '../charset.js';
import { enableCondstore, holdBackExpunges } from '../condstore.js';
import { bad, type TaggedResult } from '../errors.js';
import { compactSet } from '../message-targets.js';
import { evaluateSearch } from '../search-eval.js';
import { applyPartial, extractPartial, type PartialRange } from '../partial.js';
import { defineCommand, isRev2, type CommandContext, type Session } from '../session.js';

export interface SearchArgs {
  /** null: no RETURN given (rev1 answers `* SEARCH`); RETURN () arrives as [ALL]. */
  returnOpts: SearchReturnOption[] | null;
  /** A CHARSET we do not support: the command fails with NO [BADCHARSET] (RFC 9051 §6.4.4). */
  badCharset: string | null;
  key: SearchKey;
  /** RFC 9394: RETURN (PARTIAL range); kept out of returnOpts, which the protocol layer defines. */
  partial: PartialRange | null;
}

const BADCHARSET_ARGS = `(${ADVERTISED_CHARSETS.join(' ')})`;

export function parseSearchArgs(r: ArgReader, session: Session): SearchArgs {
  let args = r.args.slice(r.args.length - r.remaining);
  while (!r.atEnd()) r.next('search criteria');
  // PARTIAL (RFC 9394) is taken out of the RETURN list before the protocol parser sees it.
  let partial: PartialRange | null = null;
  let onlyPartial = false;
  const ret = args[1];
  if (args[0]?.type === 'atom' && args[0].value.toUpperCase() === 'RETURN' && ret?.type === 'list') {
    const ex = extractPartial(ret.items);
    partial = ex.partial;
    if (partial) {
      // §3.1: "either one PARTIAL, one ALL, or neither PARTIAL nor ALL is allowed".
      if (ex.rest.some((i) => i.type === 'atom' && i.value.toUpperCase() === 'ALL')) throw bad('PARTIAL and ALL cannot be combined');
      onlyPartial = ex.rest.length === 0;
      args = onlyPartial ? args.slice(2) : [args[0], { type: 'list', items: ex.rest }, ...args.slice(2)];
    }
  }
  let program;
  try {
    // Strings in another supported charset are converted to UTF-8 first (src/server/charset.ts).
    program = parseSearch(convertSearchCharset(args));
  } catch (err) {
    if (!(err instanceof SearchSyntaxError)) throw err;
    if (err.badCharset) {
      // Reported by run(), which also has to empty a SAVE result (RFC 9051 §6.4.4.1).
      const saves = args[0]?.type === 'atom' && args[0].value.toUpperCase() === 'RETURN' && args[1]?.type === 'list'
        ? args[1].items.some((i) => i.type === 'atom' && i.value.toUpperCase() === 'SAVE')
        : false;
      return { returnOpts: saves ? ['SAVE'] : null, badCharset: err.message, key: { type: 'all' }, partial: null };
    }
    throw bad(err.message);
  }
  return { returnOpts: onlyPartial ? [] : program.returnOptions, badCharset: null, key: program.key, partial };
}

export async function runSearch(ctx: CommandContext, args: SearchArgs, byUid: boolean): Promise<TaggedResult | string> {
  const st = ctx.session.state;
  if (st.kind !== 'selected') throw bad('No mailbox selected');
  const view = st.view;
  if (usesModSeq(args.key)) await enableCondstore(ctx);
  const save = args.returnOpts?.includes('SAVE') ?? false;
  if (args.badCharset !== null) {
    // RFC 9051 §6.4.4.1: a SEARCH (SAVE) that fails with NO empties the search result variable.
    if (save) ctx.session.searchResult = [];
    return { status: 'NO', code: { name: 'BADCHARSET', args: BADCHARSET_ARGS }, text: args.badCharset };
  }
  let outcome;
  try {
    outcome = await evaluateSearch(ctx.store, view, ctx.session, args.key);
  } catch (err) {
    if (save) ctx.session.searchResult = [];
    throw err;
  }
  const hits = outcome.hits;
  const nums = hits.map((h) => (byUid ? h.uid : h.seq));
  const condstore = ctx.session.enabled.has('CONDSTORE');
  const withModSeq = condstore && usesModSeq(args.key) && hits.length > 0;
  const highest = withModSeq ? hits.reduce((m, h) => Math.max(m, h.modSeq), 0) : 0;
  const esearch = args.returnOpts !== null || isRev2(ctx.session);
  if (!esearch) {
    // RFC 3501 §7.2.5: `* SEARCH 2 3 6`; RFC 7162 §3.1.5 appends (MODSEQ n).
    const values: ResponseValue[] = [new Atom('SEARCH'), ...nums];
    if (withModSeq) values.push([new Atom('MODSEQ'), highest]);
    await ctx.untagged(values);
  } else {
    // RFC 4731 §3.1: RETURN () (or no RETURN in rev2) means ALL; SAVE alone suppresses ESEARCH.
    const opts = args.returnOpts ?? ['ALL'];
    const want = new Set<SearchReturnOption>(opts.filter((o) => o !== 'SAVE'));
    const partial = args.partial;
    const page = partial ? applyPartial(hits, partial) : [];
    if (want.size > 0 || partial) {
      const values: ResponseValue[] = [new Atom('ESEARCH'), [new Atom('TAG'), ctx.tag]];
      if (byUid) values.push(new Atom('UID'));
      if (nums.length > 0) {
        if (want.has('MIN')) values.push(new Atom('MIN'), nums[0]!);
        if (want.has('MAX')) values.push(new Atom('MAX'), nums[nums.length - 1]!);
      }
      if (want.has('COUNT')) values.push(new Atom('COUNT'), nums.length);
      if (want.has('ALL') && nums.length > 0) values.push(new Atom('ALL'), new Atom(compactSet(nums)));
      if (partial) {
        // RFC 9394 §4: PARTIAL (range set) in mailbox order, or PARTIAL (range NIL) when the range is empty.
        const pageNums = page.map((h) => (byUid ? h.uid : h.seq));
        values.push(new Atom('PARTIAL'), [new Atom(partial.text), pageNums.length > 0 ? new Atom(compactSet(pageNums)) : null]);
      }
      if (withModSeq) {
        // RFC 4731 §3.2: with only MIN and/or MAX (no ALL/COUNT), MODSEQ covers just those messages.
        let modSeq = highest;
        if (!want.has('ALL') && !want.has('COUNT') && (want.has('MIN') || want.has('MAX'))) {
          modSeq = Math.max(want.has('MIN') ? hits[0]!.modSeq : 0, want.has('MAX') ? hits[hits.length - 1]!.modSeq : 0);
        }
        values.push(new Atom('MODSEQ'), modSeq);
      }
      await ctx.untagged(values);
    }
    if (save) {
      // RFC 9051 §6.4.4.1 table 4: with MIN/MAX only, "$" holds just those messages.
      let saved = hits.map((h) => h.uid);
      if (partial && !want.has('COUNT')) {
        // RFC 9394 §3.2 table 1: SAVE with PARTIAL saves the page (plus MIN/MAX); with COUNT, all hits.
        const s = new Set<number>(page.map((h) => h.uid));
        if (want.has('MIN') && hits.length > 0) s.add(hits[0]!.uid);
        if (want.has('MAX') && hits.length > 0) s.add(hits[hits.length - 1]!.uid);
        saved = [...s].sort((a, b) => a - b);
      } else if (!want.has('ALL') && !want.has('COUNT') && (want.has('MIN') || want.has('MAX')) && hits.length > 0) {
        const s = new Set<number>();
        if (want.has('MIN')) s.add(hits[0]!.uid);
        if (want.has('MAX')) s.add(hits[hits.length - 1]!.uid);
        saved = [...s].sort((a, b) => a - b);
      }
      ctx.session.searchResult = saved;
    }
  }
  if (!byUid) await holdBackExpunges(ctx);
  if (outcome.skippedExpunged) {
    // RFC 5530 §3 example: results exclude messages another session expunged.
    return { status: 'OK', code: { name: 'EXPUNGEISSUED' }, text: `${ctx.name} completed` };
  }
  return `${ctx.name} completed`;
}

export const searchCommands = [
  defineCommand({
    name: 'SEARCH',
    states: ['selected'],
    flags: { usesSeqs: true },
    parse: parseSearchArgs,
    run: (ctx, args) => runSearch(ctx, args, false),
  }),
  defineCommand({
    name: 'UID SEARCH',
    states: ['selected'],
    // Its answer is UIDs, so pending EXPUNGEs may follow it (RFC 9051 §7.5.1 exempts UID SEARCH).
    parse: parseSearchArgs,
    run: (ctx, args) => runSearch(ctx, args, true),
  }),
];
