// Response parser (client side): RFC 9051 §7 responses, fed whole, byte by byte and in random chunks.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ResponseParser, type ResponseEvent } from '../../src/protocol/response-parser.js';
import type { ImapArg } from '../../src/protocol/types.js';
import { RecordingSink, splitEvery, splitRandom } from './framer-helpers.js';

type V = string | { s: string } | V[];
function val(a: ImapArg): V {
  if (a.type === 'atom') return a.value;
  if (a.type === 'string') return { s: a.value.toString('latin1') };
  if (a.type === 'list') return a.items.map(val);
  return { s: (a.sink as RecordingSink).data };
}
function norm(e: ResponseEvent): unknown {
  if (e.kind === 'error') return ['error', e.text];
  const r = e.response;
  if (r.kind === 'data') return ['data', r.values.map(val)];
  if (r.kind === 'continuation') return ['+', r.text];
  return ['status', r.tag, r.status, r.code ? [r.code.name, r.code.args.map(val), r.code.raw] : null, r.text];
}

function parseAllWays(input: string, opts = {}): unknown[] {
  const buf = Buffer.from(input, 'latin1');
  const run = (chunks: Buffer[]) => {
    const p = new ResponseParser(opts);
    return chunks.flatMap((c) => p.push(c)).map(norm);
  };
  const whole = run([buf]);
  assert.deepEqual(run(splitEvery(buf, 1)), whole);
  for (let seed = 1; seed <= 4; seed++) assert.deepEqual(run(splitRandom(buf, seed)), whole);
  return whole;
}

test('status responses with and without codes', () => {
  assert.deepEqual(
    parseAllWays(
      '* OK [CAPABILITY IMAP4rev1 IMAP4rev2 LITERAL+] Petrel ready\r\n' +
        'a1 OK [READ-WRITE] SELECT completed\r\n' +
        'a2 NO [TRYCREATE] No such mailbox\r\n' +
        '* OK [PERMANENTFLAGS (\\Seen \\*)] Limited\r\n' +
        '* OK [BADCHARSET ("UTF-8" US-ASCII)] x\r\n' +
        'a3 BAD Unknown command {5}\r\n' +
        '* BYE Logging out\r\n' +
        'a4 OK\r\n' +
        '* OK [ALERT] System (going) "down"\r\n',
    ),
    [
      ['status', null, 'OK', ['CAPABILITY', ['IMAP4rev1', 'IMAP4rev2', 'LITERAL+'], 'CAPABILITY IMAP4rev1 IMAP4rev2 LITERAL+'], 'Petrel ready'],
      ['status', 'a1', 'OK', ['READ-WRITE', [], 'READ-WRITE'], 'SELECT completed'],
      ['status', 'a2', 'NO', ['TRYCREATE', [], 'TRYCREATE'], 'No such mailbox'],
      ['status', null, 'OK', ['PERMANENTFLAGS', [['\\Seen', '\\*']], 'PERMANENTFLAGS (\\Seen \\*)'], 'Limited'],
      ['status', null, 'OK', ['BADCHARSET', [[{ s: 'UTF-8' }, 'US-ASCII']], 'BADCHARSET ("UTF-8" US-ASCII)'], 'x'],
      ['status', 'a3', 'BAD', null, 'Unknown command {5}'],
      ['status', null, 'BYE', null, 'Logging out'],
      ['status', 'a4', 'OK', null, ''],
      ['status', null, 'OK', ['ALERT', [], 'ALERT'], 'System (going) "down"'],
    ],
  );
});

test('untagged data, including literals and bracketed FETCH items', () => {
  assert.deepEqual(
    parseAllWays(
      '* 3 EXISTS\r\n' +
        '* LIST (\\HasNoChildren) "/" "INBOX"\r\n' +
        '* 1 FETCH (UID 7 FLAGS (\\Seen) BODY[HEADER.FIELDS (FROM)]<0> {11}\r\nFrom: a\r\n\r\n INTERNALDATE "17-Jul-1996 02:44:25 -0700")\r\n' +
        '* 2 FETCH (BINARY[1] ~{3}\r\n\0\x01\x02 ENVELOPE (NIL "s" NIL))\r\n' +
        '* SEARCH 1 2 3\r\n' +
        '* LIST () "/" {4}\r\na\r\nb\r\n',
    ),
    [
      ['data', ['3', 'EXISTS']],
      ['data', ['LIST', ['\\HasNoChildren'], { s: '/' }, { s: 'INBOX' }]],
      ['data', ['1', 'FETCH', ['UID', '7', 'FLAGS', ['\\Seen'], 'BODY[HEADER.FIELDS (FROM)]<0>', { s: 'From: a\r\n\r\n' }, 'INTERNALDATE', { s: '17-Jul-1996 02:44:25 -0700' }]]],
      ['data', ['2', 'FETCH', ['BINARY[1]', { s: '\0\x01\x02' }, 'ENVELOPE', ['NIL', { s: 's' }, 'NIL']]]],
      ['data', ['SEARCH', '1', '2', '3']],
      ['data', ['LIST', [], { s: '/' }, { s: 'a\r\nb' }]],
    ],
  );
});

test('continuation requests', () => {
  assert.deepEqual(parseAllWays('+ Ready for literal\r\n+ \r\n+\r\n+ {5}\r\n'), [
    ['+', 'Ready for literal'],
    ['+', ''],
    ['+', ''],
    ['+', '{5}'],
  ]);
});

test('large literals can stream into a sink', () => {
  const sinks: RecordingSink[] = [];
  const p = new ResponseParser({
    openLiteralSink: (size) => {
      if (size < 10) return undefined;
      const s = new RecordingSink();
      sinks.push(s);
      return s;
    },
  });
  const evs = p.push(Buffer.from('* 1 FETCH (BODY[] {12}\r\nhello world! RFC822.SIZE 12)\r\n'));
  assert.equal(evs.length, 1);
  assert.equal(sinks[0]!.data, 'hello world!');
  assert.equal(sinks[0]!.ended, true);
  const r = evs[0]!;
  assert.ok(r.kind === 'response' && r.response.kind === 'data');
  if (r.kind === 'response' && r.response.kind === 'data') {
    const list = r.response.values[2]!;
    assert.ok(list.type === 'list' && list.items[1]!.type === 'stream');
  }
});

test('errors: malformed lines are reported and parsing continues', () => {
  assert.deepEqual(parseAllWays('a1 FETCH 1\r\n* 1 FETCH (a\r\nnonsense\r\n* 2 EXISTS\r\n'), [
    ['error', 'Tagged response without a status'],
    ['error', 'Missing )'],
    ['error', 'Malformed response line'],
    ['data', ['2', 'EXISTS']],
  ]);
});

test('limits: over-long line and over-size literal', () => {
  assert.deepEqual(parseAllWays(`* SEARCH ${'1 '.repeat(50)}\r\n* 1 EXISTS\r\n`, { maxLineLength: 40 }), [
    ['error', 'Response line too long'],
    ['data', ['1', 'EXISTS']],
  ]);
  assert.deepEqual(parseAllWays(`* 1 FETCH (BODY[] {20}\r\n${'x'.repeat(20)})\r\n* 2 EXISTS\r\n`, { maxLiteralSize: 10 }), [
    ['error', 'Literal too big'],
    ['data', ['2', 'EXISTS']],
  ]);
});
