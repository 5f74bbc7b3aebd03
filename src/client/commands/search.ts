// SEARCH / UID SEARCH: RFC 9051 §6.4.4 (search keys, CHARSET), §7.3.4 (SEARCH response, IMAP4rev1),
// RFC 4731 / RFC 9051 §7.3.4 (ESEARCH: RETURN (ALL), answers correlated by TAG), RFC 7162 §3.1.5 (MODSEQ
// search key and the (MODSEQ n) trailer of the SEARCH response), RFC 8474 §6 (EMAILID / THREADID keys).
import { calendarDateOf, formatDate } from '../../protocol/dates.js';
import { plist, qstr, type CommandArg } from '../command-encoder.js';
import { expandUidSet, type ClientConnection, type Untagged } from '../connection.js';
import type { SearchCriteria } from '../types.js';
import { atomUpper, list, num, str } from '../values.js';
import { formatRange } from './util.js';

function day(d: Date): string {
  return formatDate(calendarDateOf(d.getTime()));
}

/** Criteria → search keys; `needsCharset` is set when a string has non-ASCII characters. */
export function buildSearchKeys(c: SearchCriteria, state: { nonAscii: boolean }): CommandArg[] {
  const out: CommandArg[] = [];
  const s = (v: string): CommandArg => {
    if (/[^\x00-\x7f]/.test(v)) state.nonAscii = true;
    return qstr(v);
  };
  const flag = (v: boolean | undefined, yes: string, no: string) => {
    if (v === true) out.push(yes);
    else if (v === false) out.push(no);
  };
  if (c.all) out.push('ALL');
  flag(c.seen, 'SEEN', 'UNSEEN');
  flag(c.answered, 'ANSWERED', 'UNANSWERED');
  flag(c.flagged, 'FLAGGED', 'UNFLAGGED');
  flag(c.deleted, 'DELETED', 'UNDELETED');
  flag(c.draft, 'DRAFT', 'UNDRAFT');
  if (c.keyword !== undefined) out.push('KEYWORD', c.keyword);
  if (c.unkeyword !== undefined) out.push('UNKEYWORD', c.unkeyword);
  if (c.uid !== undefined) out.push('UID', formatRange(c.uid));
  if (c.seq !== undefined) out.push(formatRange(c.seq));
  if (c.since) out.push('SINCE', day(c.since));
  if (c.before) out.push('BEFORE', day(c.before));
  if (c.on) out.push('ON', day(c.on));
  if (c.sentSince) out.push('SENTSINCE', day(c.sentSince));
  if (c.sentBefore) out.push('SENTBEFORE', day(c.sentBefore));
  if (c.sentOn) out.push('SENTON', day(c.sentOn));
  if (c.larger !== undefined) out.push('LARGER', c.larger);
  if (c.smaller !== undefined) out.push('SMALLER', c.smaller);
  for (const k of ['from', 'to', 'cc', 'bcc', 'subject', 'body', 'text'] as const) {
    const v = c[k];
    if (v !== undefined) out.push(k.toUpperCase(), s(v));
  }
  for (const [h, v] of c.header ?? []) out.push('HEADER', s(h), s(v));
  if (c.modSeq !== undefined) out.push('MODSEQ', c.modSeq);
  if (c.emailId !== undefined) out.push('EMAILID', c.emailId);
  if (c.threadId !== undefined) out.push('THREADID', c.threadId);
  if (c.not) out.push('NOT', plist(buildSearchKeys(c.not, state)));
  if (c.or) out.push('OR', plist(buildSearchKeys(c.or[0], state)), plist(buildSearchKeys(c.or[1], state)));
  if (out.length === 0) out.push('ALL');
  return out;
}

export interface SearchResult {
  /** Matching UIDs (uid: true) or sequence numbers, ascending. */
  numbers: number[];
  /** Highest mod-sequence of the matches, when the search used MODSEQ (RFC 7162 §3.1.5). */
  highestModSeq?: number;
}

export async function searchMessages(conn: ClientConnection, criteria: SearchCriteria, opts: { uid?: boolean } = {}): Promise<SearchResult> {
  const state = { nonAscii: false };
  const keys = buildSearchKeys(criteria, state);
  const args: CommandArg[] = [];
  const esearch = conn.capabilities.has('ESEARCH') || (conn.enabled.has('IMAP4REV2'));
  if (esearch) args.push('RETURN', plist(['ALL']));
  if (state.nonAscii && !conn.utf8) args.push('CHARSET', 'UTF-8');
  args.push(...keys);
  const res: SearchResult = { numbers: [] };
  let seen = false;
  const onUntagged = (u: Untagged): boolean => {
    if (u.kind !== 'data' || seen) return false;
    if (u.keyword === 'SEARCH') {
      seen = true;
      for (const a of u.args) {
        const n = num(a);
        if (n !== undefined) res.numbers.push(n);
        else if (a.type === 'list' && atomUpper(a.items[0]) === 'MODSEQ') {
          const m = num(a.items[1]);
          if (m !== undefined) res.highestModSeq = m;
        }
      }
      return true;
    }
    if (u.keyword === 'ESEARCH') {
      seen = true;
      let i = 0;
      if (u.args[0]?.type === 'list') i = 1; // (TAG "A5")
      if (atomUpper(u.args[i]) === 'UID') i++;
      for (; i + 1 < u.args.length; i += 2) {
        const k = atomUpper(u.args[i]);
        const v = u.args[i + 1];
        if (k === 'ALL') res.numbers.push(...expandUidSet(str(v) ?? ''));
        else if (k === 'MODSEQ') {
          const m = num(v) ?? num(list(v)?.[0]);
          if (m !== undefined) res.highestModSeq = m;
        }
      }
      return true;
    }
    return false;
  };
  await conn.run(opts.uid ? 'UID SEARCH' : 'SEARCH', args, { onUntagged });
  res.numbers.sort((a, b) => a - b);
  return res;
}
