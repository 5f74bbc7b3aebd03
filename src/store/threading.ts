// THREADID assignment (RFC 8474 §5.2): messages are grouped by References / In-Reply-To / Message-ID
// (RFC 5322 §3.6.4), with the base subject (RFC 5256 §2.1, simplified) as a fallback only for replies that
// carry neither References nor In-Reply-To. Threads are per user, across mailboxes ("messages that would
// appear in the same thread if they were in the same mailbox SHOULD have the same THREADID"), and a
// message's THREADID never changes once assigned (no thread merging: when the references point into two
// existing threads, the message joins the one found first).
//
// The logic is storage-neutral: a backend supplies a ThreadIndex (src/store/sqlite/thread-index.ts) and
// calls assignThread inside the transaction that inserts the message.
import { headerFieldValues } from '../mime/sections.js';

export interface ThreadKeys {
  /** The message's own Message-ID (angle brackets kept), or null. */
  messageId: string | null;
  /** References then In-Reply-To ids, oldest first, without duplicates or the message's own id. */
  parents: string[];
  /** Base subject (lower case, reply/forward markers removed), or null when empty. */
  baseSubject: string | null;
  /** The subject had a reply or forward marker. */
  isReply: boolean;
}

/** Lookups a backend provides, scoped to one user. */
export interface ThreadIndex {
  /** The thread ids known for these Message-IDs, in the same order (null when unknown). */
  threadsOf(messageIds: readonly string[]): Array<string | null>;
  /** Maps each id not yet mapped to `threadId` (ids already mapped keep their thread). */
  link(messageIds: readonly string[], threadId: string): void;
  /** The thread last seen with this base subject at or after `since` (ms), or null. */
  threadOfSubject(baseSubject: string, since: number): string | null;
  /** Records that `threadId` was last seen with this base subject at `at`. */
  noteSubject(baseSubject: string, threadId: string, at: number): void;
}

/** Headers read per message for threading: enough for any sane References field. */
export const THREAD_HEADER_LIMIT = 64 * 1024;
/** Ids kept from a References field (the root and the nearest ancestors matter most). */
const MAX_REFERENCES = 50;
/** A reply without references joins a thread with its base subject only if that thread was active this recently. */
export const SUBJECT_WINDOW_MS = 30 * 24 * 60 * 60 * 1000;

const MSG_ID = /<[^<>\s]{1,990}>/g;

/** msg-id tokens of a field value (RFC 5322 §3.6.4), in order; comments and junk between them are ignored. */
export function messageIds(value: string): string[] {
  return value.match(MSG_ID) ?? [];
}

/** Thread keys from a message's raw top-level header block. */
export function threadKeys(header: Buffer): ThreadKeys {
  const own = messageIds(headerFieldValues(header, 'message-id')[0] ?? '')[0] ?? null;
  const refs = messageIds(headerFieldValues(header, 'references').join(' '));
  const irt = messageIds(headerFieldValues(header, 'in-reply-to')[0] ?? '');
  // RFC 5256 §2.2 step 1: References first, else In-Reply-To's first id; we add the In-Reply-To id as
  // the nearest parent when References does not already end with it.
  let chain = refs.length > MAX_REFERENCES ? [refs[0]!, ...refs.slice(refs.length - MAX_REFERENCES + 1)] : refs;
  const parent = irt[0];
  if (parent !== undefined && chain[chain.length - 1] !== parent) chain = [...chain.filter((id) => id !== parent), parent];
  const seen = new Set<string>();
  const parents: string[] = [];
  for (const id of chain) {
    if (id === own || seen.has(id)) continue;
    seen.add(id);
    parents.push(id);
  }
  const subject = headerFieldValues(header, 'subject')[0] ?? '';
  const { base, isReply } = baseSubject(subject);
  return { messageId: own, parents, baseSubject: base === '' ? null : base, isReply };
}

/**
 * RFC 5256 §2.1 base subject, simplified: RFC 2047 words are left encoded (so both copies of a subject
 * compare alike), white space is collapsed, and leading "Re:", "Fwd:", "Fw:", "[tag]" and trailing
 * "(fwd)" are removed repeatedly. Lower-cased for comparison.
 */
export function baseSubject(subject: string): { base: string; isReply: boolean } {
  let s = subject.replace(/[\t\r\n ]+/g, ' ').trim();
  let isReply = false;
  for (;;) {
    const before = s;
    s = s.replace(/\s*\(fwd\)\s*$/i, () => {
      isReply = true;
      return '';
    });
    s = s.replace(/^(?:\[[^\]]*\]\s*)*(re|fwd?|aw|sv|antw)\s*(\[[^\]]*\])?\s*:\s*/i, () => {
      isReply = true;
      return '';
    });
    // A leading [list-tag] in front of the rest.
    const tag = /^\[[^\]]*\]\s*(.+)$/.exec(s);
    if (tag && tag[1]!.length > 0) s = tag[1]!;
    s = s.trim();
    if (s === before) break;
  }
  return { base: s.toLowerCase(), isReply };
}

/**
 * Picks the message's thread: the thread of its own Message-ID if a reply arrived before it, else of
 * the first referenced message that is known, else (a reply without references) the thread recently
 * seen with the same base subject, else a new thread. Then maps its own id and every referenced id
 * that is not yet mapped to that thread, so later replies and late-arriving parents find it.
 */
export function assignThread(index: ThreadIndex, keys: ThreadKeys, newThreadId: () => string, now: number): string {
  const ids = keys.messageId ? [keys.messageId, ...keys.parents] : keys.parents;
  let thread: string | null = null;
  if (ids.length > 0) {
    for (const t of index.threadsOf(ids)) {
      if (t !== null) {
        thread = t;
        break;
      }
    }
  }
  if (thread === null && keys.parents.length === 0 && keys.isReply && keys.baseSubject !== null && keys.baseSubject.length >= 3) {
    thread = index.threadOfSubject(keys.baseSubject, now - SUBJECT_WINDOW_MS);
  }
  thread ??= newThreadId();
  if (ids.length > 0) index.link(ids, thread);
  if (keys.baseSubject !== null) index.noteSubject(keys.baseSubject, thread, now);
  return thread;
}
