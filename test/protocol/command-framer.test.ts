// Command framer: table-driven cases, each fed whole, byte by byte and in random chunks (RFC 9051 §9,
// RFC 7888 LITERAL+/LITERAL-, RFC 3516 literal8, RFC 2177 IDLE pipelining), plus every limit.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CommandFramer, type FramerEvent } from '../../src/protocol/command-framer.js';
import fc from 'fast-check';
import { feed, feedAllWays, normalize, RecordingSink, type Ev } from './framer-helpers.js';

const b = (s: string): Buffer => Buffer.from(s, 'latin1');

interface Case {
  name: string;
  input: string;
  expect: Ev[];
}

const cases: Case[] = [
  { name: 'simple command', input: 'a1 NOOP\r\n', expect: [['cmd', 'a1', 'NOOP', []]] },
  { name: 'name is upper-cased', input: 'a1 noop\r\n', expect: [['cmd', 'a1', 'NOOP', []]] },
  { name: 'bare LF ends a line', input: 'a1 NOOP\na2 CHECK\n', expect: [['cmd', 'a1', 'NOOP', []], ['cmd', 'a2', 'CHECK', []]] },
  {
    name: 'UID joins the next atom',
    input: 'A003 uid fetch 1:* (FLAGS)\r\n',
    expect: [['cmd', 'A003', 'UID FETCH', ['1:*', ['FLAGS']]]],
  },
  {
    name: 'bracketed section with spaces and parens is one atom',
    input: 'a FETCH 1 (BODY.PEEK[HEADER.FIELDS (From To)]<0.100> BODY[1.2.MIME])\r\n',
    expect: [['cmd', 'a', 'FETCH', ['1', ['BODY.PEEK[HEADER.FIELDS (From To)]<0.100>', 'BODY[1.2.MIME]']]]],
  },
  {
    name: 'quoted field names inside brackets stay in the atom',
    input: 'a FETCH 1 BODY[HEADER.FIELDS ("Subject" X-A)]\r\n',
    expect: [['cmd', 'a', 'FETCH', ['1', 'BODY[HEADER.FIELDS ("Subject" X-A)]']]],
  },
  {
    name: 'atom characters: backslash, star, percent, brackets, dollar',
    input: 'a STORE $ +FLAGS (\\Seen $Junk) x*%]<.:,>\r\n',
    expect: [['cmd', 'a', 'STORE', ['$', '+FLAGS', ['\\Seen', '$Junk'], 'x*%]<.:,>']]],
  },
  {
    name: 'quoted strings with escapes',
    input: 'a LOGIN "fred\\"s" "back\\\\slash"\r\n',
    expect: [['cmd', 'a', 'LOGIN', [{ q: 'fred"s' }, { q: 'back\\slash' }]]],
  },
  { name: 'empty quoted string and empty list', input: 'a X "" ()\r\n', expect: [['cmd', 'a', 'X', [{ q: '' }, []]]] },
  {
    name: 'nested lists',
    input: 'a X (a (b (c)) d)\r\n',
    expect: [['cmd', 'a', 'X', [['a', ['b', ['c']], 'd']]]],
  },
  {
    name: 'synchronizing literal',
    input: 'a LOGIN {4}\r\nfred "pw"\r\n',
    expect: [['continue', 'a', 4], ['cmd', 'a', 'LOGIN', [{ lit: 'fred' }, { q: 'pw' }]]],
  },
  {
    name: 'non-synchronizing literal (LITERAL+) gets no continuation',
    input: 'a LOGIN {4+}\r\nfred {2+}\r\npw\r\n',
    expect: [['cmd', 'a', 'LOGIN', [{ lit: 'fred' }, { lit: 'pw' }]]],
  },
  {
    name: 'literal may contain CRLF, parens and quotes',
    input: 'a X ({7+}\r\n(a\r\n"b) c)\r\n',
    expect: [['cmd', 'a', 'X', [[{ lit: '(a\r\n"b)' }, 'c']]]],
  },
  { name: 'zero-length literal', input: 'a X {0}\r\n\r\n', expect: [['continue', 'a', 0], ['cmd', 'a', 'X', [{ lit: '' }]]] },
  {
    name: 'literal8',
    input: 'a APPEND box ~{3+}\r\n\0\x01\x02\r\n',
    expect: [['cmd', 'a', 'APPEND', ['box', { lit8: '\0\x01\x02' }]]],
  },
  { name: 'tilde atom is not literal8', input: 'a X ~x\r\n', expect: [['cmd', 'a', 'X', ['~x']]] },
  { name: 'extra spaces are tolerated', input: 'a  X  b   c \r\n', expect: [['cmd', 'a', 'X', ['b', 'c']]] },
  {
    name: '8-bit UTF-8 in quoted and atom',
    input: Buffer.from('a X "Grüße" Grüße\r\n', 'utf8').toString('latin1'),
    expect: [['cmd', 'a', 'X', [{ q: Buffer.from('Grüße', 'utf8').toString('latin1') }, 'Grüße']]],
  },
  // ---- errors: each malformed command gives exactly one error, then the framer resynchronises ----
  { name: 'empty line', input: '\r\na NOOP\r\n', expect: [['error', null, 'Empty command line'], ['cmd', 'a', 'NOOP', []]] },
  { name: 'tag only', input: 'a\r\nb NOOP\r\n', expect: [['error', 'a', 'Missing command name'], ['cmd', 'b', 'NOOP', []]] },
  { name: 'invalid tag', input: 'a+b NOOP\r\nc NOOP\r\n', expect: [['error', null, 'Invalid tag'], ['cmd', 'c', 'NOOP', []]] },
  { name: 'tag with star', input: '* NOOP\r\n', expect: [['error', null, 'Invalid tag']] },
  { name: 'UID alone', input: 'a UID\r\n', expect: [['error', 'a', 'Missing command after UID']] },
  { name: 'unbalanced )', input: 'a X b)\r\nc NOOP\r\n', expect: [['error', 'a', 'Unexpected )'], ['cmd', 'c', 'NOOP', []]] },
  { name: 'unclosed (', input: 'a X (b\r\nc NOOP\r\n', expect: [['error', 'a', 'Missing )'], ['cmd', 'c', 'NOOP', []]] },
  { name: 'unterminated quoted', input: 'a X "abc\r\nc NOOP\r\n', expect: [['error', 'a', 'Unterminated quoted string'], ['cmd', 'c', 'NOOP', []]] },
  { name: 'bad escape', input: 'a X "a\\nb"\r\n', expect: [['error', 'a', 'Invalid escape in quoted string']] },
  { name: 'NUL in line', input: 'a X a\0b\r\nc NOOP\r\n', expect: [['error', 'a', 'NUL octet in command'], ['cmd', 'c', 'NOOP', []]] },
  { name: 'bare CR in line', input: 'a X "a\rb"\r\n', expect: [['error', 'a', 'Bare CR in command']] },
  { name: 'missing space', input: 'a X "a""b"\r\n', expect: [['error', 'a', 'Missing space between arguments']] },
  { name: 'missing space after list', input: 'a X (a)(b)\r\n', expect: [['error', 'a', 'Missing space between arguments']] },
  { name: 'literal not at line end', input: 'a X {3} b\r\n', expect: [['error', 'a', 'Invalid literal']] },
  { name: 'quote inside atom', input: 'a X ab"c"\r\n', expect: [['error', 'a', 'Unexpected " in atom']] },
  { name: 'unterminated bracket', input: 'a FETCH 1 BODY[HEADER\r\n', expect: [['error', 'a', 'Missing ]']] },
  { name: 'control char in atom', input: 'a X a\tb\r\n', expect: [['error', 'a', 'Invalid character in atom']] },
  { name: 'invalid UTF-8 in atom', input: 'a X \xff\xfe\r\n', expect: [['error', 'a', 'Invalid 8-bit data in atom']] },
  {
    name: 'NUL inside a literal',
    input: 'a X {3+}\r\na\0b\r\nc NOOP\r\n',
    expect: [['error', 'a', 'NUL octet in literal'], ['cmd', 'c', 'NOOP', []]],
  },
  {
    name: 'error in a line ending with a non-sync literal swallows the literal and the rest of the command',
    input: 'a X "unterminated {5+}\r\n1\r\n3\r more {2+}\r\nzz x\r\nb NOOP\r\n',
    expect: [['error', 'a', 'Unterminated quoted string'], ['cmd', 'b', 'NOOP', []]],
  },
  {
    name: 'error in a continuation segment',
    input: 'a X {2+}\r\nab "x\r\nb NOOP\r\n',
    expect: [['error', 'a', 'Unterminated quoted string'], ['cmd', 'b', 'NOOP', []]],
  },
  {
    name: 'garbage after a valid command in the same chunk',
    input: 'a NOOP\r\n)))garbage\r\nb NOOP\r\n',
    expect: [['cmd', 'a', 'NOOP', []], ['error', null, 'Invalid tag'], ['cmd', 'b', 'NOOP', []]],
  },
  // ---- IDLE / DONE pipelining ----
  {
    name: 'pipelined IDLE, DONE and the next command',
    input: 'a IDLE\r\nDONE\r\nb NOOP\r\n',
    expect: [['cmd', 'a', 'IDLE', []], ['line', 'DONE'], ['cmd', 'b', 'NOOP', []]],
  },
  {
    name: 'IDLE followed by a line that looks like a command',
    input: 'a IDLE\r\nb NOOP\r\nc NOOP\r\n',
    expect: [['cmd', 'a', 'IDLE', []], ['line', 'b NOOP'], ['cmd', 'c', 'NOOP', []]],
  },
  {
    name: 'AUTHENTICATE without initial response holds for the response line',
    input: 'a AUTHENTICATE PLAIN\r\nAGZyZWQAcHc=\r\nb NOOP\r\n',
    expect: [['cmd', 'a', 'AUTHENTICATE', ['PLAIN']], ['line', 'AGZyZWQAcHc='], ['cmd', 'b', 'NOOP', []]],
  },
  {
    name: 'AUTHENTICATE with SASL-IR does not hold',
    input: 'a AUTHENTICATE PLAIN AGZyZWQAcHc=\r\nb NOOP\r\n',
    expect: [['cmd', 'a', 'AUTHENTICATE', ['PLAIN', 'AGZyZWQAcHc=']], ['cmd', 'b', 'NOOP', []]],
  },
];

for (const c of cases) {
  test(`framer: ${c.name}`, () => {
    assert.deepEqual(feedAllWays(b(c.input)), c.expect);
  });
}

test('framer: APPEND literal streams into the sink, whole/bytewise/random chunks alike', () => {
  const msg = 'From: a@b\r\nSubject: hi\r\n\r\nbody (with) "quotes" {5}\r\n';
  const input = b(`a APPEND INBOX (\\Seen) {${msg.length}}\r\n${msg} {3+}\r\nxyz\r\nb NOOP\r\n`);
  const evs = feedAllWays(input, {}, (name) => name === 'APPEND');
  assert.deepEqual(evs, [
    ['continue', 'a', msg.length],
    ['cmd', 'a', 'APPEND', ['INBOX', ['\\Seen'], { stream: msg, size: msg.length }, { stream: 'xyz', size: 3 }]],
    ['cmd', 'b', 'NOOP', []],
  ]);
});

test('framer: sink receives end() on success and abort() when the command fails later', () => {
  const sinks: RecordingSink[] = [];
  const f = new CommandFramer({
    openLiteralSink: () => {
      const s = new RecordingSink();
      sinks.push(s);
      return s;
    },
  });
  const evs = f.push(b('a APPEND box {3+}\r\nabc "oops\r\nb NOOP\r\n')).map(normalize);
  assert.deepEqual(evs, [['error', 'a', 'Unterminated quoted string'], ['cmd', 'b', 'NOOP', []]]);
  assert.equal(sinks.length, 1);
  assert.equal(sinks[0]!.data, 'abc');
  assert.equal(sinks[0]!.ended, true);
  assert.equal(sinks[0]!.aborted, 'Unterminated quoted string');
});

test('framer: literal info tells the sink opener the command and literal kind', () => {
  const seen: unknown[] = [];
  const f = new CommandFramer({
    openLiteralSink: (info) => {
      seen.push(info);
      return undefined;
    },
  });
  f.push(b('t1 uid x {2}\r\nab ~{1+}\r\nc\r\n'));
  assert.deepEqual(seen, [
    { tag: 't1', name: 'UID X', size: 2, literal8: false, nonSync: false },
    { tag: 't1', name: 'UID X', size: 1, literal8: true, nonSync: true },
  ]);
});

// ---- limits ----

test('limit: over-long line gives one TOOBIG error with its tag, then the next command works', () => {
  const long = 'a X ' + 'y'.repeat(200) + '\r\nb NOOP\r\n';
  const evs = feedAllWays(b(long), { maxLineLength: 100 });
  assert.deepEqual(evs, [['error', 'a', 'Command line too long', 'TOOBIG'], ['cmd', 'b', 'NOOP', []]]);
});

test('limit: a line of exactly maxLineLength is accepted', () => {
  const line = 'a X ' + 'y'.repeat(96);
  assert.equal(line.length, 100);
  assert.deepEqual(feedAllWays(b(line + '\r\n'), { maxLineLength: 100 }), [['cmd', 'a', 'X', ['y'.repeat(96)]]]);
  assert.deepEqual(feedAllWays(b(line + 'z\r\n'), { maxLineLength: 100 })[0]?.[0], 'error');
});

test('limit: over-long line that ends with a non-sync literal swallows the literal too', () => {
  const input = 'a X ' + 'y'.repeat(200) + ' {5+}\r\n1\r\n34 more\r\nb NOOP\r\n';
  assert.deepEqual(feedAllWays(b(input), { maxLineLength: 100 }), [
    ['error', 'a', 'Command line too long', 'TOOBIG'],
    ['cmd', 'b', 'NOOP', []],
  ]);
});

test('limit: synchronizing literal over the inline limit is refused before the client sends it', () => {
  const evs = feedAllWays(b('a LOGIN {100}\r\nb NOOP\r\n'), { maxInlineLiteral: 50 });
  assert.deepEqual(evs, [['error', 'a', 'Literal too big', 'TOOBIG'], ['cmd', 'b', 'NOOP', []]]);
});

test('limit: non-sync literal over the inline limit is read, dropped and answered once', () => {
  const input = `a LOGIN {60+}\r\n${'z'.repeat(60)} rest\r\nb NOOP\r\n`;
  const evs = feedAllWays(b(input), { maxInlineLiteral: 50 });
  assert.deepEqual(evs, [['error', 'a', 'Literal too big', 'TOOBIG'], ['cmd', 'b', 'NOOP', []]]);
});

test('limit: literal exactly at the inline limit is accepted', () => {
  const evs = feedAllWays(b(`a X {50+}\r\n${'z'.repeat(50)}\r\n`), { maxInlineLiteral: 50 });
  assert.deepEqual(evs, [['cmd', 'a', 'X', [{ lit: 'z'.repeat(50) }]]]);
});

test('limit: streamed literal is capped by maxLiteralSize (APPENDLIMIT)', () => {
  const opts = { maxLiteralSize: 10, maxInlineLiteral: 4 };
  const app = (name: string): boolean => name === 'APPEND';
  assert.deepEqual(feedAllWays(b('a APPEND x {10}\r\n0123456789\r\n'), opts, app), [
    ['continue', 'a', 10],
    ['cmd', 'a', 'APPEND', ['x', { stream: '0123456789', size: 10 }]],
  ]);
  assert.deepEqual(feedAllWays(b('a APPEND x {11}\r\nb NOOP\r\n'), opts, app), [
    ['error', 'a', 'Literal too big', 'TOOBIG'],
    ['cmd', 'b', 'NOOP', []],
  ]);
  assert.deepEqual(feedAllWays(b('a APPEND x {11+}\r\n01234567890\r\nb NOOP\r\n'), opts, app), [
    ['error', 'a', 'Literal too big', 'TOOBIG'],
    ['cmd', 'b', 'NOOP', []],
  ]);
});

test('limit: over-size streamed literal never opens a sink; an opened one is aborted', () => {
  const sinks: RecordingSink[] = [];
  const f = new CommandFramer({
    maxLiteralSize: 10,
    maxInlineLiteral: 20,
    openLiteralSink: () => {
      const s = new RecordingSink();
      sinks.push(s);
      return s;
    },
  });
  // 30 > both limits: no sink is opened at all.
  assert.deepEqual(f.push(b(`a APPEND x {30+}\r\n${'q'.repeat(30)}\r\n`)).map(normalize), [
    ['error', 'a', 'Literal too big', 'TOOBIG'],
  ]);
  assert.equal(sinks.length, 0);
  // 15 fits inline but not the sink limit: the sink is opened, then aborted.
  assert.deepEqual(f.push(b(`b APPEND x {15+}\r\n${'q'.repeat(15)}\r\n`)).map(normalize), [
    ['error', 'b', 'Literal too big', 'TOOBIG'],
  ]);
  assert.equal(sinks.length, 1);
  assert.equal(sinks[0]!.aborted, 'Literal too big');
  assert.equal(sinks[0]!.data, '');
});

test('LITERAL-: non-sync literals above 4096 octets are refused with BAD [TOOBIG] after being swallowed', () => {
  const big = 'x'.repeat(4097);
  const f = new CommandFramer({ literalPlus: false, maxInlineLiteral: 10_000 });
  const evs = f.push(b(`a X {4097+}\r\n${big}\r\nb X {4096+}\r\n${big.slice(1)}\r\nc X {4097}\r\n`));
  assert.equal(evs.length, 3);
  assert.deepEqual(evs[0], {
    kind: 'error',
    tag: 'a',
    text: 'Non-synchronizing literal larger than 4096 octets (LITERAL-)',
    code: 'TOOBIG',
    status: 'BAD',
  });
  assert.equal(normalize(evs[1]!)[0], 'cmd');
  assert.deepEqual(normalize(evs[2]!), ['continue', 'c', 4097]);
  const rest = f.push(b(big + '\r\n')).map(normalize);
  assert.deepEqual(rest, [['cmd', 'c', 'X', [{ lit: big }]]]);
});

test('LITERAL+: non-sync literal of any size up to the limits is accepted', () => {
  const big = 'x'.repeat(5000);
  const evs = feedAllWays(b(`a X {5000+}\r\n${big}\r\n`), { maxInlineLiteral: 10_000 });
  assert.deepEqual(evs, [['cmd', 'a', 'X', [{ lit: big }]]]);
});

test('limit: nesting depth', () => {
  const ok = 'a X ' + '('.repeat(5) + ')'.repeat(5) + '\r\n';
  const bad = 'a X ' + '('.repeat(6) + ')'.repeat(6) + '\r\nb NOOP\r\n';
  assert.equal(feedAllWays(b(ok), { maxNesting: 5 })[0]?.[0], 'cmd');
  assert.deepEqual(feedAllWays(b(bad), { maxNesting: 5 }), [
    ['error', 'a', 'Lists nested too deeply', 'LIMIT'],
    ['cmd', 'b', 'NOOP', []],
  ]);
});

test('limit: token count', () => {
  assert.equal(feedAllWays(b('a X 1 2 3 4\r\n'), { maxTokens: 4 })[0]?.[0], 'cmd');
  assert.deepEqual(feedAllWays(b('a X 1 2 3 4 5\r\n'), { maxTokens: 4 }), [['error', 'a', 'Too many arguments', 'LIMIT']]);
  // A list counts as a token as well as its items.
  assert.deepEqual(feedAllWays(b('a X (1 2 3 4)\r\n'), { maxTokens: 4 }), [['error', 'a', 'Too many arguments', 'LIMIT']]);
});

test('limit: total command bytes across literals', () => {
  const input = `a X {30+}\r\n${'a'.repeat(30)} {30+}\r\n${'b'.repeat(30)}\r\nb NOOP\r\n`;
  assert.deepEqual(feedAllWays(b(input), { maxCommandBytes: 50 }), [
    ['error', 'a', 'Literal too big', 'TOOBIG'],
    ['cmd', 'b', 'NOOP', []],
  ]);
});

test('limit: tag length', () => {
  const tag = 't'.repeat(64);
  assert.deepEqual(feedAllWays(b(`${tag} NOOP\r\n`)), [['cmd', tag, 'NOOP', []]]);
  assert.deepEqual(feedAllWays(b(`${tag}t NOOP\r\n`)), [['error', null, 'Tag too long']]);
});

test('limit: literal size number too large', () => {
  assert.deepEqual(feedAllWays(b('a X {99999999999}\r\nb NOOP\r\n')), [
    ['error', 'a', 'Literal too big', 'TOOBIG'],
    ['cmd', 'b', 'NOOP', []],
  ]);
});

test('raw mode: over-long raw line gives an untagged error and raw mode continues', () => {
  const f = new CommandFramer({ maxLineLength: 10 });
  f.setRawLineMode(true);
  const evs = f.push(b('0123456789abcdef\r\nDONE\r\n')).map(normalize);
  assert.deepEqual(evs, [['error', null, 'Line too long', 'TOOBIG'], ['line', 'DONE']]);
});

test('hold: bytes after IDLE are kept until the server picks a mode', () => {
  const f = new CommandFramer();
  const evs: FramerEvent[] = f.push(b('a IDLE\r\nDONE\r\n'));
  assert.deepEqual(evs.map(normalize), [['cmd', 'a', 'IDLE', []]]);
  assert.equal(f.holding, true);
  assert.deepEqual(f.push(b('b NOOP\r\n')), []);
  assert.deepEqual(f.drain(), []);
  assert.ok(f.bufferedBytes >= 14);
  f.setRawLineMode(true);
  assert.deepEqual(f.drain().map(normalize), [['line', 'DONE']]);
  // Setting the same mode again (the server's readLine) does not release the next line.
  f.setRawLineMode(true);
  assert.deepEqual(f.drain(), []);
  f.setRawLineMode(false);
  assert.deepEqual(f.drain().map(normalize), [['cmd', 'b', 'NOOP', []]]);
});

test('hold: resume(command) releases a rejected IDLE, but not a hold for another command', () => {
  const f = new CommandFramer();
  const evs = f.push(b('a NOOP\r\nb IDLE\r\nc NOOP\r\n'));
  assert.equal(evs.length, 2);
  const noop = (evs[0] as Extract<FramerEvent, { kind: 'command' }>).command;
  const idle = (evs[1] as Extract<FramerEvent, { kind: 'command' }>).command;
  assert.deepEqual(f.resume(noop), []);
  assert.equal(f.holding, true);
  assert.deepEqual(f.resume(idle).map(normalize), [['cmd', 'c', 'NOOP', []]]);
  assert.equal(f.holding, false);
});

test('raw mode: DONE split across chunks', () => {
  assert.deepEqual(feed([b('a IDLE\r\nDO'), b('NE'), b('\r'), b('\nb NOOP\r\n')]), [
    ['cmd', 'a', 'IDLE', []],
    ['line', 'DONE'],
    ['cmd', 'b', 'NOOP', []],
  ]);
});

test('framer: a long random mix of commands gives identical events for every chunking', () => {
  const parts = [
    'a1 FETCH 1:5 (FLAGS BODY.PEEK[HEADER.FIELDS (DATE FROM)])\r\n',
    'a2 LOGIN {3}\r\nbob {2+}\r\npw\r\n',
    'a3 SEARCH CHARSET UTF-8 SUBJECT "x\\"y"\r\n',
    'a4 IDLE\r\nDONE\r\n',
    'bad"tag X\r\n',
    'a5 X (((a)) "b" {1+}\r\nc)\r\n',
    'a6 APPEND box ~{2+}\r\n\0\0\r\n',
  ];
  const input = b(parts.join('').repeat(20));
  const evs = feedAllWays(input);
  assert.equal(evs.filter((e) => e[0] === 'cmd').length, 6 * 20);
  assert.equal(evs.filter((e) => e[0] === 'error').length, 20);
});

test('fuzz: random garbage never throws, and without "{" the framer always resynchronises at the next line', () => {
  fc.assert(
    fc.property(
      fc.uint8Array({ maxLength: 200 }).map((u) => Buffer.from(u)),
      fc.integer({ min: 1, max: 50 }),
      (garbage, chunk) => {
        const clean = Buffer.from(garbage.filter((c) => c !== 0x7b));
        const input = Buffer.concat([clean, b('\r\nZ NOOP\r\n')]);
        const f = new CommandFramer({ maxLineLength: 64 });
        const evs: FramerEvent[] = [];
        for (let i = 0; i < input.length; i += chunk) {
          for (const ev of f.push(input.subarray(i, i + chunk))) {
            evs.push(ev);
            if (ev.kind === 'command' && f.holding) evs.push(...f.resume(ev.command));
          }
        }
        const last = evs[evs.length - 1];
        assert.ok(last && last.kind === 'command' && last.command.tag === 'Z', JSON.stringify(evs.map(normalize)));
        // Raw bytes with "{" may start literals; still no exception.
        const g = new CommandFramer({ maxLineLength: 64, maxInlineLiteral: 100 });
        g.push(Buffer.concat([garbage, b('\r\n')]));
      },
    ),
    { numRuns: 400 },
  );
});
