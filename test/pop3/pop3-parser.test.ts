// POP3 wire syntax (src/pop3/pop3-parser.ts): line splitting fed whole, byte by byte and in random
// chunks; command parsing; SASL PLAIN; the RETR/TOP encoder (RFC 1939 §3 byte-stuffing, CRLF, TOP's
// line budget), checked against the LMTP data decoder as its inverse.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  LineReader,
  MessageEncoder,
  decodeSaslPlain,
  parseLineCount,
  parseMessageNumber,
  parsePop3Command,
  type LineEvent,
} from '../../src/pop3/pop3-parser.js';
import { DataDecoder } from '../../src/lmtp/lmtp-parser.js';

type Ev = string | 'TOO-LONG';

function drain(r: LineReader, out: Ev[]): void {
  for (let ev: LineEvent | null; (ev = r.next()); ) out.push(ev.kind === 'line' ? ev.line.toString('latin1') : 'TOO-LONG');
}

function feed(input: Buffer, chunks: number[], max = 20): Ev[] {
  const r = new LineReader(max);
  const out: Ev[] = [];
  let pos = 0;
  for (const n of chunks) {
    r.push(input.subarray(pos, pos + n));
    pos += n;
    drain(r, out);
  }
  r.push(input.subarray(pos));
  drain(r, out);
  return out;
}

function randomChunks(len: number, seed: number): number[] {
  const out: number[] = [];
  let s = seed;
  let total = 0;
  while (total < len) {
    s = (s * 1103515245 + 12345) & 0x7fffffff;
    const n = 1 + (s % 7);
    out.push(n);
    total += n;
  }
  return out;
}

const LINE_CASES: Array<[string, string, Ev[]]> = [
  ['simple CRLF lines', 'USER alice\r\nPASS x y\r\n', ['USER alice', 'PASS x y']],
  ['bare LF tolerated', 'STAT\nLIST\n', ['STAT', 'LIST']],
  ['incomplete last line waits', 'NOOP\r\nQUI', ['NOOP']],
  ['empty line', '\r\nNOOP\r\n', ['', 'NOOP']],
  ['CR inside a line is kept', 'A\rB\r\n', ['A\rB']],
  ['too long line, then a normal one', `${'x'.repeat(50)}\r\nNOOP\r\n`, ['TOO-LONG', 'NOOP']],
  ['exactly the limit', `${'y'.repeat(20)}\r\n`, ['y'.repeat(20)]],
  ['one over the limit', `${'y'.repeat(21)}\r\nQUIT\r\n`, ['TOO-LONG', 'QUIT']],
];

for (const [name, input, expected] of LINE_CASES) {
  test(`LineReader: ${name} (whole, byte by byte, random chunks)`, () => {
    const buf = Buffer.from(input, 'latin1');
    assert.deepEqual(feed(buf, []), expected);
    assert.deepEqual(feed(buf, Array(buf.length).fill(1)), expected);
    for (let seed = 1; seed <= 5; seed++) assert.deepEqual(feed(buf, randomChunks(buf.length, seed)), expected);
  });
}

test('LineReader: a too-long line is reported once however it is chunked', () => {
  const buf = Buffer.from(`${'z'.repeat(200)}\r\nNOOP\r\n`);
  assert.deepEqual(feed(buf, Array(buf.length).fill(1)), ['TOO-LONG', 'NOOP']);
});

test('LineReader: reset drops buffered (pipelined plaintext) input', () => {
  const r = new LineReader(100);
  r.push(Buffer.from('STLS\r\nUSER evil\r\nPASS x\r\n'));
  const first = r.next();
  assert.equal(first?.kind === 'line' && first.line.toString(), 'STLS');
  r.reset();
  assert.equal(r.next(), null);
  assert.equal(r.buffered(), 0);
  r.push(Buffer.from('CAPA\r\n'));
  const ev = r.next();
  assert.equal(ev?.kind === 'line' && ev.line.toString(), 'CAPA');
});

test('parsePop3Command: keywords, arguments, PASS with spaces, junk', () => {
  const p = (s: string) => parsePop3Command(Buffer.from(s, 'latin1'));
  assert.deepEqual(p('user alice'), { ok: true, command: { name: 'USER', args: ['alice'], rest: 'alice' } });
  assert.deepEqual(p('PASS correct horse  battery'), {
    ok: true,
    command: { name: 'PASS', args: ['correct', 'horse', 'battery'], rest: 'correct horse  battery' },
  });
  assert.deepEqual(p('STAT'), { ok: true, command: { name: 'STAT', args: [], rest: '' } });
  assert.deepEqual(p('TOP 1 10'), { ok: true, command: { name: 'TOP', args: ['1', '10'], rest: '1 10' } });
  assert.equal(p('').ok, false);
  assert.equal(p(' STAT').ok, false);
  assert.equal(p('ST4T').ok, false);
  assert.equal(p('LIST\x001').ok, false);
  assert.equal(p('LIST\x1b').ok, false);
  assert.equal(p('NOOP\t').ok, true);
});

test('parseMessageNumber / parseLineCount', () => {
  assert.equal(parseMessageNumber('1'), 1);
  assert.equal(parseMessageNumber('007'), 7);
  assert.equal(parseMessageNumber('0'), null);
  assert.equal(parseMessageNumber('-1'), null);
  assert.equal(parseMessageNumber('1.5'), null);
  assert.equal(parseMessageNumber('12345678901'), null);
  assert.equal(parseMessageNumber(undefined), null);
  assert.equal(parseLineCount('0'), 0);
  assert.equal(parseLineCount('x'), null);
});

test('decodeSaslPlain: RFC 4616 message, empty authzid, "=" and bad input', () => {
  const b64 = (s: string) => Buffer.from(s, 'utf8').toString('base64');
  assert.deepEqual(decodeSaslPlain(b64('\0alice\0pw with space')), { ok: true, authzid: '', authcid: 'alice', password: 'pw with space' });
  assert.deepEqual(decodeSaslPlain(b64('admin\0alice\0pw')), { ok: true, authzid: 'admin', authcid: 'alice', password: 'pw' });
  assert.deepEqual(decodeSaslPlain(b64('\0jörg\0pässwort')), { ok: true, authzid: '', authcid: 'jörg', password: 'pässwort' });
  assert.deepEqual(decodeSaslPlain('='), { ok: false, error: 'syntax' });
  assert.deepEqual(decodeSaslPlain('not base64!'), { ok: false, error: 'base64' });
  assert.deepEqual(decodeSaslPlain('abc'), { ok: false, error: 'base64' });
  assert.deepEqual(decodeSaslPlain(b64('alice\0pw')), { ok: false, error: 'syntax' });
  assert.deepEqual(decodeSaslPlain(b64('\0\0pw')), { ok: false, error: 'syntax' });
});

function encode(input: Buffer, chunks: number[] | null, bodyLines: number | null = null): string {
  const enc = new MessageEncoder(bodyLines);
  const out: Buffer[] = [];
  if (chunks === null) {
    out.push(enc.push(input));
  } else {
    let pos = 0;
    for (const n of chunks) {
      out.push(enc.push(input.subarray(pos, pos + n)));
      pos += n;
    }
    out.push(enc.push(input.subarray(pos)));
  }
  out.push(enc.end());
  return Buffer.concat(out).toString('latin1');
}

const ENCODE_CASES: Array<[string, string, number | null, string]> = [
  ['CRLF message', 'A: 1\r\n\r\nbody\r\n', null, 'A: 1\r\n\r\nbody\r\n.\r\n'],
  ['bare LF becomes CRLF', 'A: 1\n\nline1\nline2\n', null, 'A: 1\r\n\r\nline1\r\nline2\r\n.\r\n'],
  ['dot lines are stuffed', 'A: 1\r\n\r\n.\r\n..x\r\n.hidden\r\nok.\r\n', null, 'A: 1\r\n\r\n..\r\n...x\r\n..hidden\r\nok.\r\n.\r\n'],
  ['no final line end', 'A: 1\r\n\r\nlast', null, 'A: 1\r\n\r\nlast\r\n.\r\n'],
  ['bare CR kept inside a line', 'A: 1\r\n\r\nx\ry\r\n', null, 'A: 1\r\n\r\nx\ry\r\n.\r\n'],
  ['trailing CR ends the last line', 'A: 1\r\n\r\nz\r', null, 'A: 1\r\n\r\nz\r\n.\r\n'],
  ['empty message', '', null, '.\r\n'],
  ['TOP 0: header and blank line', 'A: 1\r\nB: 2\r\n\r\nl1\r\nl2\r\n', 0, 'A: 1\r\nB: 2\r\n\r\n.\r\n'],
  ['TOP 1', 'A: 1\r\n\r\nl1\r\n.l2\r\nl3\r\n', 1, 'A: 1\r\n\r\nl1\r\n.\r\n'],
  ['TOP 2 stuffs dots in the body', 'A: 1\r\n\r\nl1\r\n.l2\r\nl3\r\n', 2, 'A: 1\r\n\r\nl1\r\n..l2\r\n.\r\n'],
  ['TOP more than there is', 'A: 1\n\nl1\n', 10, 'A: 1\r\n\r\nl1\r\n.\r\n'],
  ['TOP on a message without body', 'A: 1\r\nB: 2\r\n', 3, 'A: 1\r\nB: 2\r\n.\r\n'],
  ['TOP with bare LF header end', 'A: 1\n\nx\ny\n', 1, 'A: 1\r\n\r\nx\r\n.\r\n'],
];

for (const [name, input, lines, expected] of ENCODE_CASES) {
  test(`MessageEncoder: ${name} (whole, byte by byte, random chunks)`, () => {
    const buf = Buffer.from(input, 'latin1');
    assert.equal(encode(buf, null, lines), expected);
    assert.equal(encode(buf, Array(buf.length).fill(1), lines), expected);
    for (let seed = 1; seed <= 5; seed++) assert.equal(encode(buf, randomChunks(buf.length, seed), lines), expected);
  });
}

test('MessageEncoder: done after the TOP budget; later input is ignored', () => {
  const enc = new MessageEncoder(1);
  assert.equal(enc.push(Buffer.from('H: v\r\n\r\nfirst\r\n')).toString(), 'H: v\r\n\r\nfirst\r\n');
  assert.equal(enc.done, true);
  assert.equal(enc.push(Buffer.from('second\r\n')).length, 0);
  assert.equal(enc.end().toString(), '.\r\n');
});

/** CRLF-normalise as the encoder promises: bare LF → CRLF; a last line without LF gets CRLF. */
function normalise(s: string): string {
  let t = s.replace(/\r?\n/g, '\r\n');
  if (t.endsWith('\r')) t += '\n';
  else if (t.length > 0 && !t.endsWith('\r\n')) t += '\r\n';
  return t;
}

test('property: the LMTP data decoder undoes the POP3 encoder (any content, any chunking)', () => {
  const alphabet = fc.constantFrom('a', '.', '\r', '\n', ' ', 'Z', '\r\n', '\n.', '\r\n.\r\n');
  fc.assert(
    fc.property(fc.array(alphabet, { maxLength: 60 }), fc.array(fc.integer({ min: 1, max: 9 }), { maxLength: 30 }), (parts, chunks) => {
      const input = parts.join('');
      const wire = Buffer.from(encode(Buffer.from(input, 'latin1'), chunks), 'latin1');
      // The wire form ends with exactly one terminator, found by the decoder at the very end.
      const dec = new DataDecoder();
      const r = dec.decode(wire);
      assert.equal(r.end, true);
      assert.equal(r.consumed, wire.length);
      assert.equal(r.out.toString('latin1'), normalise(input));
    }),
    { numRuns: 500 },
  );
});

test('property: random bytes never throw; lines come out the same however the input is chunked', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 200 }), fc.integer({ min: 1, max: 1000 }), (bytes, seed) => {
      const buf = Buffer.from(bytes);
      const whole = feed(buf, [], 16);
      assert.deepEqual(feed(buf, randomChunks(buf.length, seed), 16), whole);
      for (const ev of whole) {
        if (ev === 'TOO-LONG') continue;
        const r = parsePop3Command(Buffer.from(ev, 'latin1'));
        if (r.ok) assert.match(r.command.name, /^[A-Z]{1,20}$/);
        else assert.equal(typeof r.error, 'string');
      }
      const b64 = buf.toString('base64');
      const plain = decodeSaslPlain(b64);
      if (plain.ok) assert.ok(plain.authcid.length > 0);
    }),
    { numRuns: 500 },
  );
});
