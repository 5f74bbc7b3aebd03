// Fuzz targets for the sans-I/O IMAP protocol layer (src/protocol/): the command framer (RFC 9051 §2.2.1,
// §9; RFC 7888 literals), the response parser (RFC 9051 §2.2.2, §7), modified UTF-7 (RFC 3501 §5.1.3),
// sequence sets (RFC 9051 §9 sequence-set), SEARCH keys (RFC 9051 §6.4.4) and FETCH items (§6.4.5).
import fc from 'fast-check';
import { CommandFramer, type CommandFramerOptions, type FramerEvent } from '../../src/protocol/command-framer.js';
import { ResponseParser, type ResponseEvent, type ResponseParserOptions } from '../../src/protocol/response-parser.js';
import { decodeMailboxName, encodeMailboxName, Mutf7Error } from '../../src/protocol/mutf7.js';
import { numSetContains, formatRanges, NumSetError, parseNumSet, resolveNumSet } from '../../src/protocol/sequence-set.js';
import { parseSearch, SearchSyntaxError, usesModSeq, usesSearchRes, type SearchKey } from '../../src/protocol/search-keys.js';
import {
  FetchSyntaxError,
  formatFetchItemName,
  formatSection,
  parseFetchAtt,
  parseFetchAtts,
  parseFetchModifiers,
  parseSection,
} from '../../src/protocol/fetch-items.js';
import type { ImapArg, LiteralSink, ParsedCommand } from '../../src/protocol/types.js';
import {
  bytesArbitrary,
  check,
  chunkings,
  expectOnly,
  FuzzInvariantError,
  hashSeed,
  repeatArbitrary,
  tokenArbitrary,
  type FuzzTarget,
} from '../lib.js';

// ---- command framer ----------------------------------------------------------------------------

class CountingSink implements LiteralSink {
  bytes = 0;
  ended = false;
  aborted = false;
  constructor(readonly size: number) {}
  write(chunk: Buffer): void {
    if (this.ended || this.aborted) throw new FuzzInvariantError('sink written after end/abort');
    this.bytes += chunk.length;
    if (this.bytes > this.size) throw new FuzzInvariantError(`sink got ${this.bytes} octets for a {${this.size}} literal`);
  }
  end(): void {
    if (this.bytes !== this.size) throw new FuzzInvariantError(`sink ended after ${this.bytes} of ${this.size} octets`);
    this.ended = true;
  }
  abort(): void {
    this.aborted = true;
  }
}

function argShape(a: ImapArg, depth: number, maxDepth: { v: number }): unknown {
  if (depth > maxDepth.v) maxDepth.v = depth;
  switch (a.type) {
    case 'atom':
      return a.value;
    case 'string':
      return { s: a.value.toString('latin1'), l: a.literal, l8: a.literal8 };
    case 'list':
      return a.items.map((x) => argShape(x, depth + 1, maxDepth));
    case 'stream':
      return { stream: a.size };
  }
}

function countTokens(args: readonly ImapArg[]): number {
  let n = 0;
  for (const a of args) n += 1 + (a.type === 'list' ? countTokens(a.items) : 0);
  return n;
}

const SMALL_FRAMER: CommandFramerOptions = {
  maxLineLength: 200,
  maxInlineLiteral: 100,
  maxLiteralSize: 300,
  maxNesting: 4,
  maxTokens: 50,
  maxCommandBytes: 1000,
};

/** Feeds chunks the way src/server/connection.ts drives the framer; returns normalized events. */
function runFramer(chunks: Buffer[], opts: CommandFramerOptions): string[] {
  const sinks: CountingSink[] = [];
  const framer = new CommandFramer({
    ...opts,
    openLiteralSink: (info) => {
      if (info.name !== 'APPEND') return undefined;
      const s = new CountingSink(info.size);
      sinks.push(s);
      return s;
    },
  });
  const maxNesting = opts.maxNesting ?? 32;
  const maxTokens = opts.maxTokens ?? 100_000;
  const maxLine = opts.maxLineLength ?? 64 * 1024;
  const out: string[] = [];
  const handle = (evs: FramerEvent[]): void => {
    for (const ev of evs) {
      if (ev.kind === 'command') {
        const c: ParsedCommand = ev.command;
        check(c.tag.length > 0 && c.tag.length <= 64, `bad tag ${JSON.stringify(c.tag)}`);
        check(c.name.length > 0, 'empty command name');
        const depth = { v: 0 };
        const shape = c.args.map((a) => argShape(a, 1, depth));
        check(depth.v <= maxNesting + 1, `nesting ${depth.v} above the limit ${maxNesting}`);
        check(countTokens(c.args) <= maxTokens, 'more tokens than the limit');
        out.push(JSON.stringify(['cmd', c.tag, c.name, shape]));
      } else if (ev.kind === 'line') {
        out.push(JSON.stringify(['line', ev.line.toString('latin1')]));
      } else if (ev.kind === 'continue') {
        out.push(JSON.stringify(['continue', ev.tag, ev.size]));
      } else {
        out.push(JSON.stringify(['error', ev.tag, ev.text, ev.code ?? null, ev.status ?? null]));
      }
    }
    if (!framer.holding) return;
    // The framer holds after IDLE / AUTHENTICATE (enter raw-line mode) and after each raw line (leave it),
    // and that event is the last of its batch; the server then switches modes and drains.
    const last = evs[evs.length - 1];
    check(last !== undefined && (last.kind === 'command' || last.kind === 'line'), 'framer holds after an event that should not hold');
    framer.setRawLineMode(last.kind === 'command');
    handle(framer.drain());
  };
  for (const c of chunks) {
    handle(framer.push(c));
    check(!framer.holding, 'framer still holding after the harness switched modes');
    // Only a partial line may stay buffered, and it is capped (plus the CR of CRLF).
    check(framer.bufferedBytes <= maxLine + 1, () => `framer buffers ${framer.bufferedBytes} octets`);
  }
  framer.close();
  for (const s of sinks) check(s.ended || s.aborted, 'a literal sink was neither ended nor aborted after close()');
  return out;
}

const FRAMER_DICT = [
  'A1', 'a', '*', '+', 'UID', 'FETCH', 'STORE', 'SEARCH', 'APPEND', 'IDLE', 'DONE', 'AUTHENTICATE', 'PLAIN', 'LOGIN',
  'SELECT', 'INBOX', 'NIL', '(', ')', '((((', '))))', '"', '"\\"', '\\', '[', ']', 'BODY[', 'BODY.PEEK[HEADER.FIELDS (From To)]',
  '<0.100>', '{', '}', '{0}', '{5}', '{5+}', '{4096+}', '{4097+}', '~{3}', '~{3+}', '{99999999999}', '{4294967295+}',
  '\r\n', '\n', '\r', '\0', ' ', '  ', '\x7f', '\u00e9', '\xff', '%', '1:*', '\\Seen', 'CHARSET', 'UTF-8',
];

const framerTarget: FuzzTarget = {
  name: 'command-framer',
  description:
    'CommandFramer.push on bytes fed whole, in random chunks and byte by byte, with default and with tiny limits; ' +
    'IDLE/AUTHENTICATE holds are released as the server does. No exception may escape (malformed input must become ' +
    "an 'error' event); events must not depend on chunking; nesting/token limits hold; buffered bytes stay under the " +
    'line limit; every APPEND literal sink gets exactly its announced size and is ended or aborted.',
  seeds: [
    'A1 LOGIN alice "pass word"\r\nA2 SELECT INBOX\r\n',
    'A3 FETCH 1:* (FLAGS BODY.PEEK[HEADER.FIELDS (From To)]<0.100>)\r\n',
    'A4 APPEND INBOX (\\Seen) {5+}\r\nhello\r\nA5 NOOP\r\n',
    'A6 APPEND INBOX {3}\r\nabc {2}\r\nxy\r\n',
    'A7 IDLE\r\nDONE\r\nA8 NOOP\r\n',
    'A9 AUTHENTICATE PLAIN\r\nAGFsaWNlAHBhc3M=\r\nB1 NOOP\r\n',
    'B2 SEARCH CHARSET UTF-8 OR (FROM "a") NOT SUBJECT {3+}\r\n\u00e9\u00e9\r\n',
    'B3 UID STORE 1:3,5 +FLAGS.SILENT (\\Deleted $Label1)\r\n',
    'B4 APPEND INBOX ~{4+}\r\n\0\0\0\0\r\n',
  ],
  dictionary: FRAMER_DICT,
  arbitrary: fc.oneof(
    { weight: 5, arbitrary: tokenArbitrary(FRAMER_DICT) },
    { weight: 2, arbitrary: bytesArbitrary() },
    { weight: 1, arbitrary: repeatArbitrary(['(', ')', '"', '[', '{1+}\r\n(', 'A '], 'A1 FETCH 1 ', '\r\n') },
  ),
  run(data) {
    for (const opts of [SMALL_FRAMER, {}]) {
      let first: string | null = null;
      for (const chunks of chunkings(data)) {
        const evs = JSON.stringify(runFramer(chunks, opts));
        if (first === null) first = evs;
        else check(evs === first, () => `events differ with chunking:\n${evs.slice(0, 2000)}\nvs\n${first!.slice(0, 2000)}`);
      }
    }
  },
};

// ---- response parser ---------------------------------------------------------------------------

function runResponses(chunks: Buffer[], opts: ResponseParserOptions): string[] {
  const p = new ResponseParser(opts);
  const out: string[] = [];
  const norm = (e: ResponseEvent): string => {
    if (e.kind === 'error') return JSON.stringify(['error', e.text]);
    const r = e.response;
    const depth = { v: 0 };
    if (r.kind === 'data') return JSON.stringify(['data', r.values.map((a) => argShape(a, 1, depth))]);
    if (r.kind === 'continuation') return JSON.stringify(['cont', r.text]);
    return JSON.stringify(['status', r.tag, r.status, r.code ? [r.code.name, r.code.raw, r.code.args.map((a) => argShape(a, 1, depth))] : null, r.text]);
  };
  for (const c of chunks) for (const e of p.push(c)) out.push(norm(e));
  return out;
}

const RESPONSE_DICT = [
  '*', '+', 'A1', 'OK', 'NO', 'BAD', 'BYE', 'PREAUTH', 'FETCH', 'EXISTS', 'EXPUNGE', 'FLAGS', 'UID', 'BODY[]', 'BODY[1.MIME]',
  'BODYSTRUCTURE', 'ENVELOPE', 'NIL', '(', ')', '"', '\\"', '[', ']', '[UIDVALIDITY 3]', '[APPENDUID 1 2]', '[CAPABILITY IMAP4rev2',
  '{0}', '{3}', '{300}', '~{2}', '{99999999999}', '\r\n', '\n', '\0', ' ', 'VANISHED (EARLIER)', 'ESEARCH (TAG "x") ALL 1:3',
];

const responseTarget: FuzzTarget = {
  name: 'response-parser',
  description:
    'ResponseParser.push (client side) on bytes in several chunkings, with default and tiny limits. Malformed ' +
    "responses must become 'error' events, never exceptions; events must not depend on chunking.",
  seeds: [
    '* OK [CAPABILITY IMAP4rev2 IDLE] ready\r\n',
    '* 3 FETCH (UID 7 FLAGS (\\Seen) BODY[] {5}\r\nhello MODSEQ (12))\r\nA1 OK [READ-WRITE] done\r\n',
    '* 1 FETCH (ENVELOPE ("date" "subj" (("n" NIL "a" "b")) NIL NIL NIL NIL NIL NIL "<id>"))\r\n',
    '+ go ahead\r\n* BYE bye\r\n* SEARCH 1 2 3\r\n* ESEARCH (TAG "A2") UID MIN 1 MAX 9\r\n',
    '* 2 FETCH (BINARY[1] ~{3}\r\n\0\0\0)\r\n',
  ],
  dictionary: RESPONSE_DICT,
  arbitrary: fc.oneof(
    { weight: 5, arbitrary: tokenArbitrary(RESPONSE_DICT) },
    { weight: 2, arbitrary: bytesArbitrary() },
    { weight: 1, arbitrary: repeatArbitrary(['(', ')', '{1}\r\n(', '[', '"'], '* 1 FETCH ', '\r\n') },
  ),
  run(data) {
    for (const opts of [{ maxLineLength: 300, maxLiteralSize: 200 }, {}]) {
      let first: string | null = null;
      for (const chunks of chunkings(data)) {
        const evs = JSON.stringify(runResponses(chunks, opts));
        if (first === null) first = evs;
        else check(evs === first, () => `events differ with chunking:\n${evs.slice(0, 2000)}\nvs\n${first!.slice(0, 2000)}`);
      }
    }
  },
};

// ---- modified UTF-7 ----------------------------------------------------------------------------

function hasLoneSurrogate(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const u = s.charCodeAt(i);
    if (u >= 0xd800 && u <= 0xdbff) {
      const lo = s.charCodeAt(i + 1);
      if (!(lo >= 0xdc00 && lo <= 0xdfff)) return true;
      i++;
    } else if (u >= 0xdc00 && u <= 0xdfff) return true;
  }
  return false;
}

const MUTF7_DICT = ['&', '-', '&-', '&AOk-', '&2D3eAA-', '&2D0-', '&AGE-', '&Jjo-', ',', '+', '/', 'A', '&&', '--', '\u00e9', '\ud83d\ude00', '\ud800', '\udc00'];

const mutf7Target: FuzzTarget = {
  name: 'mutf7',
  description:
    'decodeMailboxName on arbitrary strings (latin1 view of the input) and encodeMailboxName on arbitrary UTF-16 ' +
    '(the input read as UTF-16LE code units, lone surrogates included). Only Mutf7Error may be thrown, and encoding ' +
    'fails only for lone surrogates. decode(encode(x)) === x; encode(decode(y)) === y (the decoder is canonical); ' +
    'encoded names are printable US-ASCII.',
  seeds: ['INBOX', '&AOk-t&AOk-', 'Entw&APw-rfe', '&2D3eAA-', '~peter/mail/&U,BTFw-/&ZeVnLIqe-', 'a&-b'],
  dictionary: MUTF7_DICT,
  arbitrary: fc.oneof(
    tokenArbitrary(MUTF7_DICT, { separators: ['', '', '/', '.'] }),
    fc.string({ unit: 'binary', maxLength: 40 }).map((s) => Buffer.from(s, 'utf16le')),
    bytesArbitrary(80),
  ),
  run(data) {
    const ascii = data.toString('latin1');
    const decoded = expectOnly([Mutf7Error], () => decodeMailboxName(ascii));
    if (typeof decoded === 'string') {
      const again = encodeMailboxName(decoded);
      check(again === ascii, () => `encode(decode(${JSON.stringify(ascii)})) = ${JSON.stringify(again)}`);
    }
    const units = data.subarray(0, data.length - (data.length % 2)).toString('utf16le');
    for (const s of [units, data.toString('utf8')]) {
      const enc = expectOnly([Mutf7Error], () => encodeMailboxName(s));
      if (enc instanceof Error) {
        check(hasLoneSurrogate(s), () => `encode failed on a well-formed string ${JSON.stringify(s)}: ${enc.message}`);
        continue;
      }
      check(/^[\x20-\x7e]*$/.test(enc), () => `encoded name is not printable ASCII: ${JSON.stringify(enc)}`);
      const back = decodeMailboxName(enc);
      check(back === s, () => `decode(encode(${JSON.stringify(s)})) = ${JSON.stringify(back)}`);
    }
  },
};

// ---- sequence sets -----------------------------------------------------------------------------

const SEQ_DICT = ['1', '2', ':', ',', '*', '$', '1:*', '*:1', '0', '4294967295', '4294967296', '1:4294967295', '3:2', ',,', '::', ' ', '01'];

const seqTarget: FuzzTarget = {
  name: 'sequence-set',
  description:
    'parseNumSet on the first line of the input (only NumSetError may be thrown), then resolveNumSet against a ' +
    'maximum taken from the input and 4294967295: ranges sorted, disjoint, non-adjacent, inside [1, max]; ' +
    'numSetContains agrees with the resolved ranges; formatRanges output parses back to the same ranges.',
  seeds: ['1:4294967295,*', '1,3:5,7:*', '$', '*', '2:1', '5:*'],
  dictionary: SEQ_DICT,
  arbitrary: fc.oneof(
    { weight: 4, arbitrary: tokenArbitrary(SEQ_DICT, { separators: ['', '', ',', ':'] }) },
    { weight: 2, arbitrary: fc.array(fc.tuple(fc.integer({ min: 0, max: 4294967296 }), fc.option(fc.oneof(fc.integer({ min: 0, max: 4294967296 }), fc.constant('*' as const)))), { minLength: 1, maxLength: 30 }).map((rs) => Buffer.from(rs.map(([a, b]) => (b === null ? String(a) : `${a}:${b}`)).join(','))) },
    { weight: 1, arbitrary: repeatArbitrary(['1,', '1:2,', '*,', '4294967295:1,'], '', '1') },
    { weight: 1, arbitrary: bytesArbitrary(64) },
  ),
  run(data) {
    const text = data.toString('latin1').split('\n')[0]!;
    const set = expectOnly([NumSetError], () => parseNumSet(text));
    if (set instanceof Error) return;
    if ('searchRes' in set) {
      check(text === '$', 'searchRes for something other than $');
      return;
    }
    for (const max of [hashSeed(data) % 200, 4294967295, 0]) {
      const ranges = resolveNumSet(set, max);
      let prev = 0;
      for (const [lo, hi] of ranges) {
        check(lo >= 1 && lo <= hi && hi <= max, () => `range ${lo}:${hi} outside 1..${max}`);
        check(lo > prev + 1 || prev === 0, () => `ranges not merged/sorted: ${JSON.stringify(ranges.slice(0, 20))}`);
        prev = hi;
      }
      const probes = [1, max, Math.floor(max / 2) + 1, ...ranges.slice(0, 50).flatMap(([lo, hi]) => [lo - 1, lo, hi, hi + 1])];
      for (const n of probes) {
        if (n < 1 || n > max) continue;
        const inRanges = ranges.some(([lo, hi]) => n >= lo && n <= hi);
        check(numSetContains(set, n, max) === inRanges, () => `numSetContains(${n}) disagrees with resolveNumSet (max ${max})`);
      }
      if (ranges.length > 0) {
        const again = resolveNumSet(parseNumSet(formatRanges(ranges)), max);
        check(JSON.stringify(again) === JSON.stringify(ranges), 'formatRanges does not round-trip');
      }
    }
  },
};

// ---- SEARCH and FETCH arguments (framed by the real command framer) ---------------------------

/** The input as the arguments of one command, tokenized by the command framer. */
function commandArgs(prefix: string, data: Buffer): ImapArg[][] {
  const framer = new CommandFramer();
  const out: ImapArg[][] = [];
  const line = Buffer.concat([Buffer.from(prefix), data, Buffer.from('\r\n')]);
  for (const ev of framer.push(line)) {
    if (ev.kind === 'command') out.push(ev.command.args);
    // Keep going after holds (IDLE in the data) so later commands are still parsed.
    if (framer.holding) framer.resume();
  }
  return out;
}

function keyDepth(k: SearchKey): number {
  switch (k.type) {
    case 'not':
      return 1 + keyDepth(k.key);
    case 'or':
      return 1 + Math.max(keyDepth(k.left), keyDepth(k.right));
    case 'and':
      return 1 + Math.max(0, ...k.keys.map(keyDepth));
    default:
      return 1;
  }
}

const SEARCH_DICT = [
  'ALL', 'ANSWERED', 'BCC', 'BEFORE', 'BODY', 'CC', 'DELETED', 'DRAFT', 'FLAGGED', 'FROM', 'HEADER', 'KEYWORD', 'LARGER', 'NEW',
  'NOT', 'OLD', 'ON', 'OR', 'RECENT', 'SEEN', 'SENTBEFORE', 'SENTON', 'SENTSINCE', 'SINCE', 'SMALLER', 'SUBJECT', 'TEXT', 'TO',
  'UID', 'UNANSWERED', 'UNDELETED', 'UNDRAFT', 'UNFLAGGED', 'UNKEYWORD', 'UNSEEN', 'MODSEQ', 'EMAILID', 'THREADID', 'OLDER',
  'YOUNGER', 'SAVEDBEFORE', 'SAVEDON', 'SAVEDSINCE', 'SAVEDATESUPPORTED', 'RETURN', '(MIN MAX COUNT SAVE)', '()', 'CHARSET',
  'UTF-8', 'KOI8-R', '1-Feb-2024', '31-Dec-1999', '"1-Jan-2000"', '30-Feb-2023', '"/flags/\\\\seen"', 'priv', 'shared', 'all',
  '1:*', '$', '*', '(', ')', '"x"', '{1+}\r\nx', '\\Seen', '$Forwarded',
];

const searchTarget: FuzzTarget = {
  name: 'search-keys',
  description:
    'parseSearch on the arguments of "A SEARCH <input>" as tokenized by the command framer. Only SearchSyntaxError ' +
    'may be thrown; the criteria tree depth is bounded; usesModSeq/usesSearchRes accept every parsed tree.',
  seeds: [
    'RETURN (MIN COUNT) CHARSET UTF-8 OR FROM "alice" NOT (SUBJECT hi SINCE 1-Jan-2020) 1:3,5:*',
    'UID 1:* MODSEQ "/flags/\\\\seen" all 620162338 KEYWORD $Forwarded UNSEEN',
    'HEADER X-Foo "" LARGER 4294967295 SMALLER 0 OLDER 3600 EMAILID M6d99ac3275bb4e',
  ],
  dictionary: SEARCH_DICT,
  arbitrary: fc.oneof(
    { weight: 6, arbitrary: tokenArbitrary(SEARCH_DICT, { separators: [' ', ' ', ' ', '', '(', ')'] }) },
    { weight: 1, arbitrary: repeatArbitrary(['NOT ', 'OR ALL ', '(', 'OR (ALL) '], '', 'ALL') },
    { weight: 1, arbitrary: bytesArbitrary(128) },
  ),
  run(data) {
    for (const args of commandArgs('A SEARCH ', data)) {
      for (const allowReturn of [true, false]) {
        const prog = expectOnly([SearchSyntaxError], () => parseSearch(args, { allowReturn }));
        if (prog instanceof Error) continue;
        check(keyDepth(prog.key) <= 70, () => `criteria nested ${keyDepth(prog.key)} deep`);
        usesModSeq(prog.key);
        usesSearchRes(prog.key);
        check(prog.returnOptions === null || prog.returnOptions.length > 0, 'RETURN () must mean ALL');
      }
    }
  },
};

const FETCH_DICT = [
  'ALL', 'FAST', 'FULL', 'FLAGS', 'UID', 'INTERNALDATE', 'RFC822', 'RFC822.SIZE', 'RFC822.HEADER', 'RFC822.TEXT', 'ENVELOPE',
  'BODY', 'BODYSTRUCTURE', 'MODSEQ', 'EMAILID', 'THREADID', 'SAVEDATE', 'PREVIEW', '(LAZY)', 'BODY[', 'BODY.PEEK[', 'BINARY[',
  'BINARY.PEEK[', 'BINARY.SIZE[', ']', 'HEADER', 'TEXT', 'MIME', 'HEADER.FIELDS', 'HEADER.FIELDS.NOT', '(From To)', '("a b" "]")',
  '1', '1.2', '1.2.3', '0', '.', '<0.100>', '<4294967295.1>', '<1.0>', '<', '>', '(', ')', 'CHANGEDSINCE', 'VANISHED', '12345',
];

const fetchTarget: FuzzTarget = {
  name: 'fetch-items',
  description:
    'parseFetchAtts / parseFetchModifiers on the arguments of "A FETCH 1 <input>" (framed by the command framer), ' +
    'and parseFetchAtt / parseSection on the raw input text. Only FetchSyntaxError may be thrown; every parsed ' +
    'BODY[] section formats (formatSection) to text that parses back to the same section; item names format.',
  seeds: [
    '(FLAGS BODY.PEEK[1.2.HEADER.FIELDS.NOT (Received "X-A")]<10.20> BINARY.SIZE[3] PREVIEW (LAZY)) (CHANGEDSINCE 5 VANISHED)',
    'BODY[' + Array.from({ length: 50 }, (_, i) => i + 1).join('.') + '.MIME]',
    'FULL',
  ],
  dictionary: FETCH_DICT,
  arbitrary: fc.oneof(
    { weight: 6, arbitrary: tokenArbitrary(FETCH_DICT, { separators: [' ', '', '', '.'] }) },
    { weight: 1, arbitrary: repeatArbitrary(['1.', '4294967295.', '0.'], 'BODY[', '1]') },
    { weight: 1, arbitrary: bytesArbitrary(128) },
  ),
  run(data) {
    const raw = data.toString('latin1');
    for (const r of [raw, raw.split('\n')[0]!]) {
      expectOnly([FetchSyntaxError], () => parseFetchAtt(r));
      const sec = expectOnly([FetchSyntaxError], () => parseSection(r));
      if (!(sec instanceof Error)) {
        const again = parseSection(formatSection(sec));
        check(JSON.stringify(again) === JSON.stringify(sec), () => `section ${JSON.stringify(r)} does not round-trip`);
      }
    }
    for (const args of commandArgs('A FETCH 1 ', data)) {
      const items = args.slice(1);
      const atts = expectOnly([FetchSyntaxError], () => parseFetchAtts(items.length > 0 ? items[0]! : []));
      if (items[1]?.type === 'list') expectOnly([FetchSyntaxError], () => parseFetchModifiers((items[1] as { items: ImapArg[] }).items));
      if (atts instanceof Error) continue;
      for (const att of atts) {
        formatFetchItemName(att);
        if (att.kind === 'BODY[]') {
          const text = formatSection(att.section);
          const again = parseSection(text);
          check(JSON.stringify(again) === JSON.stringify(att.section), () => `section ${text} does not round-trip`);
        }
      }
    }
  },
};

export const protocolTargets: FuzzTarget[] = [framerTarget, responseTarget, mutf7Target, seqTarget, searchTarget, fetchTarget];
