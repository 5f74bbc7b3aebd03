// SEARCH and UID SEARCH: RFC 9051 §6.4.4 (criteria, CHARSET, RETURN options), §7.3.4 (ESEARCH),
// RFC 3501 §6.4.4 / §7.2.5 (rev1 `* SEARCH`, NEW/OLD/RECENT), RFC 4731 (ESEARCH: MIN MAX ALL COUNT),
// RFC 5182 (SAVE and "$"), RFC 4466 §2.6 (search-return-opts), RFC 7162 §3.1.5 (MODSEQ key and result).
import { Atom } from '../../protocol/types.js';
import type { ResponseValue } from '../../protocol/types.js';
import { parseDate, dayNumber } from '../../protocol/dates.js';
import { parseNumSet } from '../../protocol/sequence-set.js';
import { ArgReader, parseNumber } from '../args.js';
import { bad, type TaggedResult } from '../errors.js';
import { compactSet } from '../message-targets.js';
import { evaluateSearch, usesModSeq, type SearchKey } from '../search-eval.js';
import { defineCommand, isRev2, type CommandContext, type Session } from '../session.js';

export type ReturnOption = 'MIN' | 'MAX' | 'ALL' | 'COUNT' | 'SAVE';

export interface SearchArgs {
  /** null: no RETURN given (rev1 answers `* SEARCH`); [] means RETURN (). */
  returnOpts: ReturnOption[] | null;
  /** A CHARSET we do not support: the command fails with NO [BADCHARSET] (RFC 9051 §6.4.4). */
  badCharset: string | null;
  key: SearchKey;
}

const SUPPORTED_CHARSETS = ['US-ASCII', 'UTF-8'];

export function parseSearchArgs(r: ArgReader, session: Session): SearchArgs {
  let returnOpts: ReturnOption[] | null = null;
  if (r.isAtom('RETURN')) {
    r.next('RETURN');
    returnOpts = [];
    for (const o of r.list('RETURN options')) {
      if (o.type !== 'atom') throw bad('Invalid RETURN option');
      const up = o.value.toUpperCase();
      if (up !== 'MIN' && up !== 'MAX' && up !== 'ALL' && up !== 'COUNT' && up !== 'SAVE') {
        throw bad(`Unknown RETURN option ${o.value.slice(0, 20)}`);
      }
      if (!returnOpts.includes(up)) returnOpts.push(up);
    }
  }
  let badCharset: string | null = null;
  if (r.isAtom('CHARSET')) {
    r.next('CHARSET');
    const cs = r.astring('charset name');
    if (!SUPPORTED_CHARSETS.includes(cs.toUpperCase())) badCharset = cs;
  }
  if (r.atEnd()) throw bad('Missing search criteria');
  const p = new KeyParser(r, session);
  const keys: SearchKey[] = [];
  while (!r.atEnd()) keys.push(p.key());
  const key: SearchKey = keys.length === 1 ? keys[0]! : { type: 'and', keys };
  return { returnOpts, badCharset, key };
}

const FLAG_KEYS: Record<string, { flag: string; has: boolean }> = {
  ANSWERED: { flag: '\\Answered', has: true },
  DELETED: { flag: '\\Deleted', has: true },
  DRAFT: { flag: '\\Draft', has: true },
  FLAGGED: { flag: '\\Flagged', has: true },
  SEEN: { flag: '\\Seen', has: true },
  UNANSWERED: { flag: '\\Answered', has: false },
  UNDELETED: { flag: '\\Deleted', has: false },
  UNDRAFT: { flag: '\\Draft', has: false },
  UNFLAGGED: { flag: '\\Flagged', has: false },
  UNSEEN: { flag: '\\Seen', has: false },
};

const DATE_KEYS = new Set(['BEFORE', 'ON', 'SINCE', 'SENTBEFORE', 'SENTON', 'SENTSINCE']);
const ENVELOPE_KEYS = new Set(['FROM', 'TO', 'CC', 'BCC', 'SUBJECT']);
/** Nesting of parentheses, NOT and OR; protects the evaluator's recursion. */
const MAX_DEPTH = 64;

/** search-key (RFC 9051 §9, plus RFC 3501's NEW/OLD/RECENT and RFC 7162's MODSEQ). */
class KeyParser {
  private depth = 0;
  constructor(
    private readonly r: ArgReader,
    private readonly session: Session,
  ) {}

  key(): SearchKey {
    if (++this.depth > MAX_DEPTH) throw bad('Search criteria nested too deeply');
    try {
      return this.parseOne();
    } finally {
      this.depth--;
    }
  }

  private parseOne(): SearchKey {
    const r = this.r;
    const a = r.next('search key');
    if (a.type === 'list') {
      if (a.items.length === 0) throw bad('Empty parenthesized search key');
      const sub = new KeyParser(new ArgReader(a.items, r.utf8), this.session);
      sub.depth = this.depth;
      const keys: SearchKey[] = [];
      while (!sub.r.atEnd()) keys.push(sub.key());
      return keys.length === 1 ? keys[0]! : { type: 'and', keys };
    }
    if (a.type !== 'atom') throw bad('Expected a search key');
    const word = a.value.toUpperCase();
    const flagKey = FLAG_KEYS[word];
    if (flagKey) return { type: 'flag', ...flagKey };
    switch (word) {
      case 'ALL':
        return { type: 'all' };
      case 'NEW':
        return { type: 'new' };
      case 'OLD':
        return { type: 'old' };
      case 'RECENT':
        return { type: 'recent' };
      case 'KEYWORD':
      case 'UNKEYWORD': {
        const flag = r.atom('keyword');
        return { type: 'flag', flag, has: word === 'KEYWORD' };
      }
      case 'LARGER':
      case 'SMALLER':
        return { type: word === 'LARGER' ? 'larger' : 'smaller', size: r.number('size') };
      case 'NOT':
        return { type: 'not', key: this.key() };
      case 'OR': {
        const x = this.key();
        const y = this.key();
        return { type: 'or', a: x, b: y };
      }
      case 'UID':
        return { type: 'uid', set: r.sequenceSet() };
      case 'HEADER': {
        const field = r.astring('header field name');
        const value = this.text();
        return { type: 'header', field, value };
      }
      case 'BODY':
      case 'TEXT':
        return { type: word === 'BODY' ? 'body' : 'text', value: this.text() };
      case 'MODSEQ': {
        if (!this.session.enabled.has('CONDSTORE')) throw bad('MODSEQ needs CONDSTORE enabled');
        // MODSEQ [entry-name entry-type-req] mod-sequence-valzer (RFC 7162 §3.1.5)
        if (r.remaining >= 3 && r.peek()?.type === 'string') {
          r.next('entry name');
          r.atom('entry type');
        }
        return { type: 'modseq', modSeq: r.number('mod-sequence') };
      }
    }
    if (DATE_KEYS.has(word)) return { type: word.toLowerCase() as 'before', day: this.date() };
    if (ENVELOPE_KEYS.has(word)) return { type: 'envelope', field: word.toLowerCase() as 'from', value: this.text() };
    if (/^[\d*$:,]+$/.test(a.value)) {
      try {
        return { type: 'seq', set: parseNumSet(a.value) };
      } catch (err) {
        throw bad(`Invalid sequence set: ${(err as Error).message}`);
      }
    }
    throw bad(`Unknown search key ${a.value.slice(0, 30)}`);
  }

  private text(): string {
    return this.r.astring('search string');
  }

  private date(): number {
    const a = this.r.next('date');
    let text: string;
    if (a.type === 'atom') text = a.value;
    else if (a.type === 'string') text = a.value.toString('latin1');
    else throw bad('Expected a date');
    try {
      return dayNumber(parseDate(text));
    } catch {
      throw bad(`Invalid date ${text.slice(0, 30)}`);
    }
  }
}

export async function runSearch(ctx: CommandContext, args: SearchArgs, byUid: boolean): Promise<TaggedResult | string> {
  const st = ctx.session.state;
  if (st.kind !== 'selected') throw bad('No mailbox selected');
  const view = st.view;
  const save = args.returnOpts?.includes('SAVE') ?? false;
  if (args.badCharset !== null) {
    // RFC 9051 §6.4.4.1: a SEARCH (SAVE) that fails with NO empties the search result variable.
    if (save) ctx.session.searchResult = [];
    return { status: 'NO', code: { name: 'BADCHARSET', args: `(${SUPPORTED_CHARSETS.join(' ')})` }, text: `${args.badCharset.slice(0, 40)} is not supported` };
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
    const opts = args.returnOpts ?? [];
    const explicit = opts.filter((o) => o !== 'SAVE');
    // RFC 4731 §3.1: RETURN () (or no RETURN in rev2) means ALL; SAVE alone suppresses ESEARCH.
    const want = new Set<ReturnOption>(opts.length === 0 ? ['ALL'] : explicit);
    if (want.size > 0) {
      const values: ResponseValue[] = [new Atom('ESEARCH'), [new Atom('TAG'), ctx.tag]];
      if (byUid) values.push(new Atom('UID'));
      if (nums.length > 0) {
        if (want.has('MIN')) values.push(new Atom('MIN'), nums[0]!);
        if (want.has('MAX')) values.push(new Atom('MAX'), nums[nums.length - 1]!);
      }
      if (want.has('COUNT')) values.push(new Atom('COUNT'), nums.length);
      if (want.has('ALL') && nums.length > 0) values.push(new Atom('ALL'), new Atom(compactSet(nums)));
      if (withModSeq) values.push(new Atom('MODSEQ'), highest);
      await ctx.untagged(values);
    }
    if (save) {
      // RFC 9051 §6.4.4.1 table 4: with MIN/MAX only, "$" holds just those messages.
      let saved = hits.map((h) => h.uid);
      if (!want.has('ALL') && !want.has('COUNT') && (want.has('MIN') || want.has('MAX')) && hits.length > 0) {
        const s = new Set<number>();
        if (want.has('MIN')) s.add(hits[0]!.uid);
        if (want.has('MAX')) s.add(hits[hits.length - 1]!.uid);
        saved = [...s].sort((a, b) => a - b);
      }
      ctx.session.searchResult = saved;
    }
  }
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
    // UID SEARCH may still name sequence numbers in its criteria.
    flags: { usesSeqs: true },
    parse: parseSearchArgs,
    run: (ctx, args) => runSearch(ctx, args, true),
  }),
];
