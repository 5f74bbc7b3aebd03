// Message flags as mail files carry them, mapped to IMAP flags (RFC 9051 §2.3.2):
// - mbox: the Status and X-Status headers (letters R O A F D T, as written by mutt, Pine/UW and Dovecot)
//   and X-Keywords (Dovecot's keyword list, space or comma separated);
// - Maildir: the ":2," info suffix (S R F T D P, https://cr.yp.to/proto/maildir.html) and the lowercase
//   letters a-z that Dovecot's dovecot-keywords file maps to keywords.

export const SEEN = '\\Seen';
export const ANSWERED = '\\Answered';
export const FLAGGED = '\\Flagged';
export const DELETED = '\\Deleted';
export const DRAFT = '\\Draft';
/** RFC 5788 keyword for "passed" (Maildir's P): the message was forwarded. */
export const FORWARDED = '$Forwarded';

const SYSTEM_BY_LOWER = new Map<string, string>(
  [SEEN, ANSWERED, FLAGGED, DELETED, DRAFT].map((f) => [f.toLowerCase(), f]),
);

/**
 * A keyword is an IMAP flag-keyword: an atom (RFC 9051 §9, `flag-keyword = "$MDNSent" / ... / atom`):
 * no controls, space, non-ASCII, or any of ( ) { % * " \ ].
 */
const KEYWORD = /^[^\x00-\x20\x7f-\uffff(){%*"\\\]]+$/;

export function isValidKeyword(word: string): boolean {
  return KEYWORD.test(word) && word.length <= 255;
}

/** The canonical spelling of a system flag (any case, with backslash), or null if it is not one. */
export function systemFlag(word: string): string | null {
  return SYSTEM_BY_LOWER.get(word.toLowerCase()) ?? null;
}

export function hasFlag(flags: readonly string[], flag: string): boolean {
  const lower = flag.toLowerCase();
  return flags.some((f) => f.toLowerCase() === lower);
}

/** The keywords (non-system flags) of a flag list, without \Recent. */
export function keywordsOf(flags: readonly string[]): string[] {
  return flags.filter((f) => !f.startsWith('\\'));
}

export interface ParsedFlags {
  flags: string[];
  /** Keywords that are not valid IMAP atoms, dropped. */
  invalid: string[];
}

/** Adds keywords from a word list, deduplicated case-insensitively; invalid words go to `invalid`. */
function addKeywords(out: ParsedFlags, words: Iterable<string>): void {
  for (const word of words) {
    if (word === '') continue;
    if (word.startsWith('\\')) {
      const sys = systemFlag(word);
      if (sys && !hasFlag(out.flags, sys)) out.flags.push(sys);
      else if (!sys) out.invalid.push(word);
      continue;
    }
    if (!isValidKeyword(word)) out.invalid.push(word);
    else if (!hasFlag(out.flags, word)) out.flags.push(word);
  }
}

/**
 * Flags from mbox headers. Status: R = \Seen, O = "old" (not new; no IMAP flag). X-Status: A = \Answered,
 * F = \Flagged, D = \Deleted, T = \Draft. Letters are accepted in either header, as writers differ.
 */
export function flagsFromMboxHeaders(status: string | null, xStatus: string | null, xKeywords: string | null): ParsedFlags {
  const out: ParsedFlags = { flags: [], invalid: [] };
  const letters = `${status ?? ''}${xStatus ?? ''}`;
  const add = (f: string) => {
    if (!out.flags.includes(f)) out.flags.push(f);
  };
  for (const ch of letters) {
    if (ch === 'R') add(SEEN);
    else if (ch === 'A') add(ANSWERED);
    else if (ch === 'F') add(FLAGGED);
    else if (ch === 'D') add(DELETED);
    else if (ch === 'T') add(DRAFT);
  }
  if (xKeywords !== null) addKeywords(out, xKeywords.split(/[\s,]+/));
  return out;
}

/** The values of Status, X-Status (null when empty) and X-Keywords (null when none) for a flag list. */
export function mboxStatusHeaders(flags: readonly string[]): { status: string; xStatus: string | null; xKeywords: string | null } {
  const status = (hasFlag(flags, SEEN) ? 'R' : '') + 'O';
  let x = '';
  if (hasFlag(flags, ANSWERED)) x += 'A';
  if (hasFlag(flags, FLAGGED)) x += 'F';
  if (hasFlag(flags, DRAFT)) x += 'T';
  if (hasFlag(flags, DELETED)) x += 'D';
  const keywords = keywordsOf(flags);
  return { status, xStatus: x === '' ? null : x, xKeywords: keywords.length === 0 ? null : keywords.join(' ') };
}

/**
 * Flags from a Maildir file name's info part (the text after ":2,"). Uppercase letters: S = \Seen,
 * R = \Answered (replied), F = \Flagged, T = \Deleted (trashed), D = \Draft, P = $Forwarded (passed).
 * Lowercase letters are keywords through `keywordOfLetter` (Dovecot's dovecot-keywords, "0" = a).
 */
export function flagsFromMaildirInfo(info: string, keywordOfLetter: (letter: string) => string | undefined): ParsedFlags & { unknown: string[] } {
  const out = { flags: [] as string[], invalid: [] as string[], unknown: [] as string[] };
  const add = (f: string) => {
    if (!hasFlag(out.flags, f)) out.flags.push(f);
  };
  for (const ch of info) {
    switch (ch) {
      case 'S': add(SEEN); break;
      case 'R': add(ANSWERED); break;
      case 'F': add(FLAGGED); break;
      case 'T': add(DELETED); break;
      case 'D': add(DRAFT); break;
      case 'P': add(FORWARDED); break;
      default:
        if (ch >= 'a' && ch <= 'z') {
          const kw = keywordOfLetter(ch);
          if (kw === undefined) out.unknown.push(ch);
          else addKeywords(out, [kw]);
        } else if (ch !== ',') {
          out.unknown.push(ch);
        }
    }
  }
  return out;
}

/**
 * The info letters for a flag list, in ASCII order as the Maildir specification requires.
 * `letterOfKeyword` gives a keyword's lowercase letter (or null when it has none: the keyword is lost).
 */
export function maildirInfo(flags: readonly string[], letterOfKeyword: (keyword: string) => string | null): { info: string; lost: string[] } {
  const letters = new Set<string>();
  const lost: string[] = [];
  for (const f of flags) {
    const lower = f.toLowerCase();
    if (lower === '\\seen') letters.add('S');
    else if (lower === '\\answered') letters.add('R');
    else if (lower === '\\flagged') letters.add('F');
    else if (lower === '\\deleted') letters.add('T');
    else if (lower === '\\draft') letters.add('D');
    else if (lower === '$forwarded') letters.add('P');
    else if (lower === '\\recent') continue;
    else if (!f.startsWith('\\')) {
      const letter = letterOfKeyword(f);
      if (letter) letters.add(letter);
      else lost.push(f);
    }
  }
  return { info: [...letters].sort().join(''), lost };
}
