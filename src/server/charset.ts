// SEARCH CHARSET (RFC 9051 §6.4.4, RFC 3501 §6.4.4): the strings of the criteria are in the named
// charset. The protocol parser (src/protocol/search-keys.ts) takes US-ASCII and UTF-8; for every other
// charset we can convert (iconv-lite, or the WHATWG decoder for ISO-2022-JP) the strings are converted
// to UTF-8 here first. Unknown ones fail with NO [BADCHARSET (list)], the list naming what we support.
import type { ImapArg } from '../protocol/types.js';
import { charsetSupported, decodeCharset } from '../mime/search-text.js';

/** Charsets named in [BADCHARSET (...)]: the common mail charsets this server converts (more aliases work). */
export const ADVERTISED_CHARSETS: readonly string[] = [
  'US-ASCII',
  'UTF-8',
  ...Array.from({ length: 16 }, (_, i) => `ISO-8859-${i + 1}`),
  ...Array.from({ length: 9 }, (_, i) => `WINDOWS-${1250 + i}`),
  'KOI8-R',
  'KOI8-U',
  'ISO-2022-JP',
  'SHIFT_JIS',
  'EUC-JP',
  'EUC-KR',
  'GB2312',
  'GBK',
  'GB18030',
  'BIG5',
].filter((c) => charsetSupported(c));

/** Charsets whose strings cannot be IMAP quoted strings or atoms (not ASCII-compatible): refused. */
const NOT_ASCII_COMPATIBLE = /^(utf-?16|utf-?32|ucs-?2|ucs-?4|utf-?7)/i;

/** true when SEARCH accepts `charset`. */
export function searchCharsetSupported(charset: string): boolean {
  return !NOT_ASCII_COMPATIBLE.test(charset.trim()) && charsetSupported(charset);
}

function toUtf8(arg: ImapArg, charset: string): ImapArg {
  if (arg.type === 'string') return { ...arg, value: Buffer.from(decodeCharset(arg.value, charset), 'utf8') };
  if (arg.type === 'list') return { type: 'list', items: arg.items.map((a) => toUtf8(a, charset)) };
  return arg;
}

/**
 * SEARCH arguments with a supported CHARSET other than US-ASCII/UTF-8 rewritten as CHARSET UTF-8, every
 * string converted. Other arguments are returned unchanged (unknown charsets stay for the parser to
 * refuse with BADCHARSET).
 */
export function convertSearchCharset(args: readonly ImapArg[]): readonly ImapArg[] {
  let pos = 0;
  const first = args[0];
  if (first?.type === 'atom' && first.value.toUpperCase() === 'RETURN') pos = 2;
  const kw = args[pos];
  const cs = args[pos + 1];
  if (kw?.type !== 'atom' || kw.value.toUpperCase() !== 'CHARSET' || !cs) return args;
  if (cs.type !== 'atom' && cs.type !== 'string') return args;
  const name = cs.type === 'atom' ? cs.value : cs.value.toString('latin1');
  const up = name.toUpperCase();
  if (up === 'US-ASCII' || up === 'UTF-8' || !searchCharsetSupported(name)) return args;
  return [...args.slice(0, pos + 1), { type: 'atom', value: 'UTF-8' }, ...args.slice(pos + 2).map((a) => toUtf8(a, name))];
}
