// Mailbox names at the protocol edge: wire form ↔ store form, validation, LIST wildcards.
// RFC 9051 §5.1 (names, INBOX case-insensitive), §5.1.1 (hierarchy), Appendix A.1 and RFC 3501 §5.1.3
// (modified UTF-7 for IMAP4rev1 sessions), RFC 9051 §6.3.9 (LIST "*" and "%").
import { decodeMailboxName, encodeMailboxName } from '../protocol/mutf7.js';
import { LIMITS } from '../protocol/limits.js';
import { bad, no } from './errors.js';

export const SEPARATOR = '/';

/** Store form of a name the client sent. utf8: the session enabled IMAP4rev2 or UTF8=ACCEPT. */
export function mailboxFromWire(raw: Buffer | string, utf8: boolean): string {
  const text = typeof raw === 'string' ? raw : raw.toString('utf8');
  let name: string;
  if (utf8) {
    if (typeof raw !== 'string' && !isValidUtf8(raw)) throw bad('Mailbox name is not valid UTF-8');
    name = text;
  } else {
    if (/[^\x20-\x7e]/.test(text)) throw no('Mailbox name must be modified UTF-7 (RFC 3501 §5.1.3)', 'CANNOT');
    try {
      name = decodeMailboxName(text);
    } catch {
      throw no('Mailbox name is not valid modified UTF-7', 'CANNOT');
    }
  }
  return normalizeInbox(name);
}

/** Wire form of a store name. */
export function mailboxToWire(name: string, utf8: boolean): string {
  return utf8 ? name : encodeMailboxName(name);
}

/** INBOX is case-insensitive, also as the first level of a hierarchical name (RFC 9051 §5.1). */
export function normalizeInbox(name: string): string {
  if (name.toUpperCase() === 'INBOX') return 'INBOX';
  if (name.length > 6 && name.slice(0, 6).toUpperCase() === 'INBOX' + SEPARATOR) return 'INBOX' + name.slice(5);
  return name;
}

/**
 * Checks a name that is going to be created or renamed to. Every name that reaches the store passes
 * here: no empty levels, no leading separator, no '.'/'..' levels, no wildcards, no control characters.
 */
export function validateNewName(name: string): void {
  if (name.length === 0) throw no('Empty mailbox name', 'CANNOT');
  if (Buffer.byteLength(name, 'utf8') > LIMITS.maxMailboxNameLength) throw no('Mailbox name too long', 'LIMIT');
  if (/[\x00-\x1f\x7f]/.test(name)) throw no('Mailbox name contains control characters', 'CANNOT');
  if (/[*%]/.test(name)) throw no('Mailbox name contains a wildcard', 'CANNOT');
  const levels = name.split(SEPARATOR);
  if (levels.length > LIMITS.maxMailboxDepth) throw no('Mailbox hierarchy too deep', 'LIMIT');
  for (const level of levels) {
    if (level === '') throw no('Mailbox name has an empty hierarchy level', 'CANNOT');
    if (level === '.' || level === '..') throw no('Mailbox name has a "." or ".." level', 'CANNOT');
    if (level.trim() === '') throw no('Mailbox name has a blank hierarchy level', 'CANNOT');
  }
}

/** Every proper ancestor of a name: "a/b/c" → ["a", "a/b"]. */
export function ancestors(name: string): string[] {
  const levels = name.split(SEPARATOR);
  const out: string[] = [];
  for (let i = 1; i < levels.length; i++) out.push(levels.slice(0, i).join(SEPARATOR));
  return out;
}

/**
 * Compiles a LIST pattern (reference + mailbox pattern already joined) to a matcher.
 * "*" matches anything, "%" anything but the separator (RFC 9051 §6.3.9). INBOX compares
 * case-insensitively.
 */
export function compilePattern(pattern: string): (name: string) => boolean {
  const norm = normalizeInbox(pattern);
  let re = '^';
  for (const ch of norm) {
    if (ch === '*') re += '.*';
    else if (ch === '%') re += '[^/]*';
    else re += ch.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
  }
  re += '$';
  const rx = new RegExp(re, 's');
  // "inbox" in any case names INBOX, so a pattern also matches INBOX case-insensitively at its start.
  const rxInbox = new RegExp(re, 'si');
  return (name: string) =>
    rx.test(name) || (name === 'INBOX' && rxInbox.test(name));
}

/** Joins LIST's reference and pattern (RFC 9051 §6.3.9: the reference is prefixed as-is). */
export function joinReference(reference: string, pattern: string): string {
  if (reference === '') return pattern;
  if (pattern.startsWith(SEPARATOR)) return pattern;
  if (reference.endsWith(SEPARATOR)) return reference + pattern;
  return reference + pattern;
}

function isValidUtf8(buf: Buffer): boolean {
  try {
    new TextDecoder('utf-8', { fatal: true }).decode(buf);
    return true;
  } catch {
    return false;
  }
}
