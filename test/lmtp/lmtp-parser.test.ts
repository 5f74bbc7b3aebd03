// LMTP wire syntax (src/lmtp/lmtp-parser.ts): the reader in command and DATA mode fed whole, byte by
// byte and in random chunks (dot-unstuffing, end of data, commands pipelined after the final dot,
// RFC 5321 §4.5.2, RFC 2920), MAIL/RCPT path and parameter parsing (RFC 5321 §4.1.2, RFC 1870).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { LmtpReader, parseAddress, parseCommandLine, parseMailFrom, parseRcptTo, parseSizeParam } from '../../src/lmtp/lmtp-parser.js';

type Ev = ['line', string] | ['too-long'] | ['data', string] | ['end'];

/**
 * Drives a reader like the session does: a "DATA" line switches to data mode. Data events are merged
 * (chunking may split them differently) so runs can be compared.
 */
function run(input: Buffer, chunks: number[], max = 64): Ev[] {
  const r = new LmtpReader(max);
  const out: Ev[] = [];
  const pull = (): void => {
    for (let ev = r.next(); ev; ev = r.next()) {
      if (ev.kind === 'line') {
        const text = ev.line.toString('latin1');
        out.push(['line', text]);
        if (text === 'DATA') r.startData();
      } else if (ev.kind === 'too-long') out.push(['too-long']);
      else if (ev.kind === 'data-end') out.push(['end']);
      else {
        const last = out[out.length - 1];
        if (last && last[0] === 'data') last[1] += ev.chunk.toString('latin1');
        else out.push(['data', ev.chunk.toString('latin1')]);
      }
    }
  };
  let pos = 0;
  for (const n of chunks) {
    r.push(input.subarray(pos, pos + n));
    pos += n;
    pull();
  }
  r.push(input.subarray(pos));
  pull();
  return out;
}

function randomChunks(len: number, seed: number): number[] {
  const out: number[] = [];
  let s = seed;
  let total = 0;
  while (total < len) {
    s = (s * 1103515245 + 12345) & 0x7fffffff;
    out.push(1 + (s % 11));
    total += out[out.length - 1]!;
  }
  return out;
}

const CASES: Array<[string, string, Ev[]]> = [
  [
    'a pipelined transaction with QUIT after the final dot',
    'MAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nDATA\r\nSubject: x\r\n\r\nhello\r\n.\r\nQUIT\r\n',
    [['line', 'MAIL FROM:<a@b>'], ['line', 'RCPT TO:<c@d>'], ['line', 'DATA'], ['data', 'Subject: x\r\n\r\nhello\r\n'], ['end'], ['line', 'QUIT']],
  ],
  [
    'dot-unstuffing',
    'DATA\r\n..\r\n...x\r\n.y\r\nend.\r\n.\r\n',
    [['line', 'DATA'], ['data', '.\r\n..x\r\ny\r\nend.\r\n'], ['end']],
  ],
  ['empty message', 'DATA\r\n.\r\nNOOP\r\n', [['line', 'DATA'], ['end'], ['line', 'NOOP']]],
  [
    'bare LF line ends become CRLF, bare-LF end line accepted',
    'DATA\nA: 1\n\nbody\n.\nRSET\n',
    [['line', 'DATA'], ['data', 'A: 1\r\n\r\nbody\r\n'], ['end'], ['line', 'RSET']],
  ],
  [
    'a dot not at a line start and ".x" lines are content',
    'DATA\r\na.b\r\n. \r\n.\r\n',
    [['line', 'DATA'], ['data', 'a.b\r\n \r\n'], ['end']],
  ],
  ['bare CR inside data is kept', 'DATA\r\nx\ry\r\n.\r\n', [['line', 'DATA'], ['data', 'x\ry\r\n'], ['end']]],
  [
    'long data lines are not limited by the command line cap',
    `DATA\r\n${'L'.repeat(300)}\r\n.\r\n`,
    [['line', 'DATA'], ['data', `${'L'.repeat(300)}\r\n`], ['end']],
  ],
  ['too-long command line', `${'M'.repeat(100)}\r\nNOOP\r\n`, [['too-long'], ['line', 'NOOP']]],
];

for (const [name, input, expected] of CASES) {
  test(`LmtpReader: ${name} (whole, byte by byte, random chunks)`, () => {
    const buf = Buffer.from(input, 'latin1');
    assert.deepEqual(run(buf, []), expected);
    assert.deepEqual(run(buf, Array(buf.length).fill(1)), expected);
    for (let seed = 1; seed <= 6; seed++) assert.deepEqual(run(buf, randomChunks(buf.length, seed)), expected);
  });
}

test('LmtpReader: unfinished data yields no end event', () => {
  const ev = run(Buffer.from('DATA\r\nabc\r\n.'), []);
  assert.deepEqual(ev, [['line', 'DATA'], ['data', 'abc\r\n']]);
});

test('property: random garbage never throws and chunking never changes the events', () => {
  fc.assert(
    fc.property(
      fc.array(fc.constantFrom('DATA\r\n', '.', '\r', '\n', 'x', '..', '\r\n.\r\n', 'NOOP\r\n', 'Q'), { maxLength: 40 }),
      fc.integer({ min: 1, max: 1000 }),
      (parts, seed) => {
        const buf = Buffer.from(parts.join(''), 'latin1');
        const whole = run(buf, [], 16);
        assert.deepEqual(run(buf, Array(buf.length).fill(1), 16), whole);
        assert.deepEqual(run(buf, randomChunks(buf.length, seed), 16), whole);
      },
    ),
    { numRuns: 400 },
  );
});

test('parseCommandLine', () => {
  assert.deepEqual(parseCommandLine(Buffer.from('lhlo mx.example')), { verb: 'LHLO', arg: 'mx.example' });
  assert.deepEqual(parseCommandLine(Buffer.from('DATA')), { verb: 'DATA', arg: '' });
  assert.equal(parseCommandLine(Buffer.from('')), null);
  assert.equal(parseCommandLine(Buffer.from('MA1L x')), null);
  assert.equal(parseCommandLine(Buffer.from('NOOP\x00')), null);
});

test('parseMailFrom: paths, null sender, parameters', () => {
  const r = parseMailFrom('FROM:<bob@example.org> SIZE=1000 BODY=8BITMIME');
  assert.ok(r.ok);
  assert.deepEqual(r.address, { localPart: 'bob', domain: 'example.org', text: 'bob@example.org' });
  assert.deepEqual([...r.params], [['SIZE', '1000'], ['BODY', '8BITMIME']]);
  const n = parseMailFrom('from:<>');
  assert.ok(n.ok);
  assert.equal(n.address, null);
  const sp = parseMailFrom('FROM: <x@y>');
  assert.ok(sp.ok && sp.address?.text === 'x@y');
  const sr = parseMailFrom('FROM:<@relay.example,@r2.example:joe@example.com>');
  assert.ok(sr.ok && sr.address?.localPart === 'joe' && sr.address.domain === 'example.com');
  assert.equal(parseMailFrom('FROM:bob@example.org').ok, false);
  assert.equal(parseMailFrom('TO:<bob@example.org>').ok, false);
  assert.equal(parseMailFrom('FROM:<bob@example.org').ok, false);
  assert.equal(parseMailFrom('FROM:<bob@example.org>junk').ok, false);
  assert.equal(parseMailFrom('FROM:<a@b> =x').ok, false);
});

test('parseRcptTo: subaddress, quoted local part, bare postmaster, bad addresses', () => {
  const r = parseRcptTo('TO:<alice+lists@example.org>');
  assert.ok(r.ok);
  assert.deepEqual(r.address, { localPart: 'alice+lists', domain: 'example.org', text: 'alice+lists@example.org' });
  const q = parseRcptTo('TO:<"john smith>"@example.org>');
  assert.ok(q.ok);
  assert.equal(q.address?.localPart, 'john smith>');
  const pm = parseRcptTo('TO:<postmaster>');
  assert.ok(pm.ok && pm.address?.domain === null && pm.address.localPart === 'postmaster');
  assert.equal(parseRcptTo('TO:<>').ok, false);
  assert.equal(parseRcptTo('TO:<a b@c>').ok, false);
  assert.equal(parseRcptTo('TO:<a@b c>').ok, false);
  assert.equal(parseRcptTo('TO:<@x>').ok, false);
});

test('parseAddress and parseSizeParam', () => {
  assert.deepEqual(parseAddress('u@[192.0.2.1]'), { localPart: 'u', domain: '[192.0.2.1]', text: 'u@[192.0.2.1]' });
  assert.equal(parseAddress('"unterminated@x'), null);
  assert.equal(parseAddress('a@'), null);
  assert.equal(parseSizeParam('123'), 123);
  assert.equal(parseSizeParam('12a'), null);
  assert.equal(parseSizeParam(null), null);
});
