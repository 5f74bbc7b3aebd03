// Fuzz target for the server's argument layer: src/server/args.ts (ArgReader and the helpers for astring,
// nstring, mailbox, number, flag-list, sequence-set: RFC 9051 §9) and every command's `parse` in the
// registry (src/server/commands/*), on arguments tokenized by the real command framer (RFC 9051 §2.2.1).
// The connection turns an ImapError into a tagged NO/BAD and anything else into NO [SERVERBUG], so an
// exception of another type is a finding.
import fc from 'fast-check';
import { CommandFramer } from '../../src/protocol/command-framer.js';
import type { ImapArg } from '../../src/protocol/types.js';
import { ArgReader, canonicalFlag, isAtomText, parseFlagList, parseNumber } from '../../src/server/args.js';
import { ImapError } from '../../src/server/errors.js';
import { mailboxFromWire, mailboxToWire } from '../../src/server/mailbox-names.js';
import { buildRegistry } from '../../src/server/registry.js';
import type { Session } from '../../src/server/session.js';
import { bytesArbitrary, check, FuzzInvariantError, hashSeed, rng, tokenArbitrary, type FuzzTarget } from '../lib.js';

const REGISTRY = buildRegistry();
const COMMAND_NAMES = [...REGISTRY.keys()];

function session(rev2: boolean): Session {
  return {
    state: { kind: 'not-authenticated' },
    enabled: new Set(rev2 ? ['IMAP4REV2', 'CONDSTORE', 'QRESYNC', 'UTF8=ACCEPT'] : []),
    secure: false,
    remoteAddress: '127.0.0.1',
    isLoopback: true,
    searchResult: [],
    clientId: null,
  };
}

/** The input as commands ("name" and arguments), framed by the command framer. */
function frameCommands(data: Buffer): Array<{ name: string; args: ImapArg[] }> {
  const framer = new CommandFramer();
  const out: Array<{ name: string; args: ImapArg[] }> = [];
  const input = data.length > 0 && data[data.length - 1] === 0x0a ? data : Buffer.concat([data, Buffer.from('\r\n')]);
  for (const ev of framer.push(input)) {
    if (ev.kind === 'command') out.push({ name: ev.command.name, args: ev.command.args });
    // Keep going after IDLE / AUTHENTICATE holds so later commands are still parsed.
    if (framer.holding) framer.resume();
  }
  framer.close();
  return out;
}

/** Runs fn; an ImapError (the only thing the connection maps to a clean NO/BAD) is returned, anything else escapes. */
function imapOnly<T>(fn: () => T): T | ImapError {
  try {
    return fn();
  } catch (err) {
    if (err instanceof ImapError) {
      check(err.status === 'BAD' || err.status === 'NO', () => `argument parsing answered ${err.status}`);
      return err;
    }
    throw err;
  }
}

/** JSON for determinism checks: bigint, Buffer, Set and Map spelled out. */
function shape(v: unknown): string {
  return JSON.stringify(v, (_k, x: unknown) => {
    if (typeof x === 'bigint') return `${x}n`;
    if (x instanceof Set) return { set: [...x] };
    if (x instanceof Map) return { map: [...x] };
    if (x instanceof ImapError) return { err: x.status, code: x.code, text: x.message };
    return x;
  });
}

const CONSUMING = ['atom', 'astring', 'astringBytes', 'nstring', 'mailbox', 'pattern', 'number', 'list', 'sequenceSet'] as const;
const PROBING = ['peek', 'isList', 'isAtom', 'isAtomNil', 'atEnd', 'end'] as const;

/** Checks one flag list's result: canonical, unique (case-insensitively), every keyword an atom of ≤ 100 chars. */
function checkFlags(items: ImapArg[], allowRecent: boolean): void {
  const flags = imapOnly(() => parseFlagList(items, allowRecent));
  if (flags instanceof ImapError) return;
  check(flags.length <= items.length, 'more flags than items');
  check(new Set(flags.map((f) => f.toLowerCase())).size === flags.length, 'duplicate flags after parseFlagList');
  for (const f of flags) {
    check(canonicalFlag(f, allowRecent) === f, () => `flag ${JSON.stringify(f)} is not canonical`);
    if (!f.startsWith('\\')) check(isAtomText(f) && f.length <= 100, () => `keyword ${JSON.stringify(f)} accepted`);
  }
}

/** A random walk of ArgReader calls over one argument list, with the reader's bookkeeping checked after each. */
function walkReader(args: ImapArg[], utf8: boolean, seed: number, budget: Budget): void {
  const r = new ArgReader(args, utf8);
  const pick = rng(seed);
  // Bounded per input: each refused read costs an Error (10 to 50 µs on a loaded machine), and thousands of
  // pipelined commands must not make the harness itself trip the slow-input watchdog.
  const steps = Math.min(2 * args.length + 3, 600, budget.steps);
  budget.steps -= steps;
  for (let i = 0; i < steps; i++) {
    const before = r.remaining;
    const arg = r.peek();
    check(r.atEnd() === (before === 0), 'atEnd disagrees with remaining');
    const probing = pick() < 0.3;
    if (probing) {
      const op = PROBING[Math.floor(pick() * PROBING.length)]!;
      switch (op) {
        case 'peek':
          check(arg === args[args.length - before], 'peek is not the next argument');
          break;
        case 'isList':
          check(r.isList() === (arg?.type === 'list'), 'isList disagrees with peek');
          break;
        case 'isAtom':
          check(r.isAtom() === (arg?.type === 'atom'), 'isAtom disagrees with peek');
          break;
        case 'isAtomNil':
          check(r.isAtom('nil') === (arg?.type === 'atom' && arg.value.toUpperCase() === 'NIL'), 'isAtom("nil") is not case-insensitive');
          break;
        case 'atEnd':
          r.atEnd();
          break;
        case 'end': {
          const e = imapOnly(() => r.end());
          check(e instanceof ImapError === before > 0, 'end() must fail exactly when arguments are left');
          break;
        }
      }
      check(r.remaining === before, () => `${op} consumed an argument`);
      continue;
    }
    const op = CONSUMING[Math.floor(pick() * CONSUMING.length)]!;
    const result = imapOnly((): unknown => r[op]());
    // Every typed read takes exactly one argument, also when its type is wrong; at the end it takes none.
    check(r.remaining === Math.max(0, before - 1), () => `${op} moved from ${before} to ${r.remaining} remaining`);
    if (!arg) {
      check(result instanceof ImapError, () => `${op} succeeded without an argument`);
      continue;
    }
    if (result instanceof ImapError) {
      if (op === 'atom') check(arg.type !== 'atom', 'atom() refused an atom');
      if (op === 'astring' || op === 'astringBytes') check(arg.type !== 'atom' && arg.type !== 'string', `${op} refused an atom or string`);
      if (op === 'list') check(arg.type !== 'list', 'list() refused a list');
      continue;
    }
    switch (op) {
      case 'atom':
        check(arg.type === 'atom' && result === arg.value, 'atom() returned something else than the atom');
        break;
      case 'astring':
      case 'astringBytes':
        check(arg.type === 'atom' || arg.type === 'string', `${op} accepted a ${arg.type}`);
        break;
      case 'nstring':
        check((result === null) === (arg.type === 'atom' && arg.value.toUpperCase() === 'NIL'), 'nstring: NIL ⇔ null');
        break;
      case 'number': {
        const n = result as number;
        check(Number.isSafeInteger(n) && n >= 0, () => `number() gave ${n}`);
        check(arg.type === 'atom' && Number(arg.value) === n, 'number() does not equal its atom');
        break;
      }
      case 'mailbox':
      case 'pattern': {
        const name = result as string;
        check(typeof name === 'string', `${op} did not return a string`);
        if (name.toUpperCase() === 'INBOX') check(name === 'INBOX', 'INBOX is not normalised');
        // The wire form of the store name reads back as the same name (mUTF-7 canonical, INBOX normalised).
        const wire = imapOnly(() => mailboxToWire(name, utf8));
        if (!(wire instanceof ImapError) && !/[\ud800-\udfff]/.test(name)) {
          const again = imapOnly(() => mailboxFromWire(wire, utf8));
          check(again === name, () => `${op} ${JSON.stringify(name)} → ${JSON.stringify(wire)} → ${shape(again)}`);
        }
        break;
      }
      case 'list':
        checkFlags(result as ImapArg[], false);
        checkFlags(result as ImapArg[], true);
        break;
      case 'sequenceSet':
        check(arg.type === 'atom', 'sequenceSet accepted a non-atom');
        break;
    }
  }
}

/** How much checking one input gets (the code under test is linear; the checks must not dominate). */
interface Budget {
  atoms: number;
  steps: number;
  parses: number;
}

/** parseNumber and canonicalFlag against their specifications, for the text of (up to `budget.n`) atoms. */
function checkAtoms(args: ImapArg[], budget: Budget): void {
  for (const a of args) {
    if (budget.atoms <= 0) return;
    if (a.type === 'list') {
      checkAtoms(a.items, budget);
      continue;
    }
    if (a.type !== 'atom') continue;
    budget.atoms--;
    const s = a.value;
    const n = imapOnly(() => parseNumber(s));
    const valid = /^\d{1,20}$/.test(s) && Number.isSafeInteger(Number(s));
    check(!(n instanceof ImapError) === valid, () => `parseNumber(${JSON.stringify(s)}) ${n instanceof ImapError ? 'refused' : 'accepted'}`);
    if (!s.startsWith('\\')) {
      const f = imapOnly(() => canonicalFlag(s));
      check(!(f instanceof ImapError) === (isAtomText(s) && s.length <= 100), () => `canonicalFlag(${JSON.stringify(s)}) disagrees with isAtomText`);
    }
  }
}

const ARGS_DICT = [
  ...COMMAND_NAMES, 'INBOX', 'inbox', 'INBOX/Sub', 'NIL', 'nil', '(', ')', '()', '"', '""', '"a b"', '\\Seen', '\\seen', '\\Recent',
  '\\Deleted', '\\Bogus', '$Forwarded', '\\', '*', '%', '1:*', '1,3:5', '$', '0', '*:1', '+FLAGS', '-FLAGS.SILENT', 'FLAGS',
  '(UNCHANGEDSINCE 5)', '(CHANGEDSINCE 1 VANISHED)', '(CONDSTORE)', '(QRESYNC (1 2 1:3))', 'RETURN', '(SUBSCRIBED)',
  '(SPECIAL-USE)', '(MESSAGES UIDNEXT SIZE)', 'CHARSET', 'UTF-8', 'BODY[]', '(FLAGS UID)', '"1-Jan-2020 00:00:00 +0000"',
  '{3+}\r\nabc', '{0}\r\n', '~{1+}\r\n\0', '&ANw-', '&-', '&Jjo', '&AGE-', 'Ärger', '\u00e9', 'PLAIN', 'SCRAM-SHA-256', '=',
  'UTF8', '(name "x" version NIL)', 'IMAP4rev2', 'CONDSTORE', 'QRESYNC',
];

export const serverArgsTarget: FuzzTarget = {
  name: 'server-args',
  description:
    'Commands framed by the CommandFramer; for each: (1) a random walk of ArgReader calls (src/server/args.ts) in ' +
    'rev1 and UTF-8 mode: typed reads consume exactly one argument (also on a type error) and none at the end, probes ' +
    'consume none, results agree with the argument (atom value, NIL ⇔ null, number = its atom), mailbox names ' +
    'round-trip through their wire form, flag lists come out canonical and unique; (2) parseNumber and canonicalFlag ' +
    'match their grammar for every atom; (3) the registry entry of the command name (every command in ' +
    'src/server/commands/) parses the arguments for a rev1 and a rev2+QRESYNC session, deterministically. Only ' +
    'ImapError with status BAD or NO may be thrown (the connection answers anything else with NO [SERVERBUG]).',
  seeds: [
    'A1 LOGIN alice "pass word"\r\nA2 SELECT INBOX (CONDSTORE)\r\n',
    'A3 UID STORE 1:3,5 +FLAGS.SILENT (UNCHANGEDSINCE 7) (\\Deleted $Label1 \\seen)\r\n',
    'A4 APPEND INBOX (\\Seen) "1-Jan-2020 00:00:00 +0000" {5+}\r\nhello\r\n',
    'A5 LIST (SUBSCRIBED) "" ("INBOX" "&ANw-*") RETURN (CHILDREN STATUS (MESSAGES SIZE))\r\n',
    'A6 STATUS "INBOX/Sub" (MESSAGES UIDNEXT UIDVALIDITY HIGHESTMODSEQ)\r\nA7 RENAME a b\r\n',
    'A8 SELECT INBOX (QRESYNC (67890007 20050715194045000 41,43:211,214:541))\r\n',
    'A9 UID FETCH 1:* (FLAGS BODY.PEEK[HEADER.FIELDS (From)]) (CHANGEDSINCE 12345 VANISHED)\r\n',
    'B1 ID ("name" "x" "version" NIL)\r\nB2 ENABLE IMAP4rev2 QRESYNC\r\nB3 UID EXPUNGE 3:5\r\n',
    'B4 UID MOVE 1,2 "Trash"\r\nB5 CREATE "x" (USE (\\Trash))\r\nB6 AUTHENTICATE PLAIN =\r\n',
  ],
  dictionary: ARGS_DICT,
  arbitrary: fc.oneof(
    {
      weight: 6,
      arbitrary: fc
        .tuple(fc.constantFrom(...COMMAND_NAMES), tokenArbitrary(ARGS_DICT, { separators: [' ', ' ', ' ', '', '(', ')'], maxTokens: 20 }))
        .map(([name, rest]) => Buffer.concat([Buffer.from(`A ${name} `), rest, Buffer.from('\r\n')])),
    },
    { weight: 1, arbitrary: tokenArbitrary(ARGS_DICT) },
    { weight: 1, arbitrary: bytesArbitrary(256).map((b) => Buffer.concat([Buffer.from('A SELECT '), b])) },
  ),
  run(data) {
    const seed = hashSeed(data);
    let i = 0;
    const budget: Budget = { atoms: 1000, steps: 3000, parses: 500 };
    for (const { name, args } of frameCommands(data)) {
      checkAtoms(args, budget);
      for (const utf8 of [false, true]) walkReader(args, utf8, seed + i++, budget);
      const spec = REGISTRY.get(name);
      if (!spec || budget.parses-- <= 0) continue;
      for (const rev2 of [false, true]) {
        const s = session(rev2);
        const parse = (): string => shape(imapOnly(() => spec.parse(new ArgReader(args, rev2), s)));
        let first: string;
        try {
          first = parse();
        } catch (err) {
          if (err instanceof FuzzInvariantError) throw err;
          throw new FuzzInvariantError(`${name} parse threw ${(err as Error).stack ?? String(err)}`);
        }
        check(parse() === first, () => `${name} parse is not deterministic`);
      }
    }
  },
};
