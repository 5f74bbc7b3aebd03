// mbox reading and writing (src/mailfile): From_ lines and dates, mboxo/mboxrd quoting (RFC 4155 App. A),
// Status/X-Status/X-Keywords flags, Content-Length, separators, chunking independence, and writer → reader
// round trips (fast-check).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { asctime, formatFromLine, parseFromLine } from '../../src/mailfile/from-line.js';
import { MboxParser, MboxFormatError, type MboxEvent, type MboxParserOptions } from '../../src/mailfile/mbox-parser.js';
import { MboxEntryEncoder } from '../../src/mailfile/mbox-writer.js';
import { flagsFromMboxHeaders, mboxStatusHeaders } from '../../src/mailfile/flags.js';

interface Msg {
  offset: number;
  end: number;
  date: number | null;
  headerDate: number | null;
  flags: string[];
  text: string;
}

function collect(events: MboxEvent[]): Msg[] {
  const out: Msg[] = [];
  let cur: Msg | null = null;
  for (const e of events) {
    if (e.type === 'begin') cur = { offset: e.offset, end: -1, date: e.internalDate, headerDate: null, flags: [], text: '' };
    else if (e.type === 'header') {
      cur!.flags = e.flags;
      cur!.headerDate = e.date;
      cur!.text += e.data.toString('latin1');
    } else if (e.type === 'body') cur!.text += e.data.toString('latin1');
    else {
      cur!.end = e.offset;
      out.push(cur!);
      cur = null;
    }
  }
  return out;
}

/** Parses `input` fed whole, one byte at a time, and in odd chunks; all three must agree. */
function parse(input: string, options: Partial<MboxParserOptions> = {}): Msg[] {
  const opts: MboxParserOptions = { format: 'mboxrd', crlf: false, ...options };
  const buf = Buffer.from(input, 'latin1');
  const run = (sizes: (i: number) => number): Msg[] => {
    const p = new MboxParser(opts);
    const events: MboxEvent[] = [];
    let i = 0;
    while (i < buf.length) {
      const n = Math.max(1, sizes(i));
      events.push(...p.push(Buffer.from(buf.subarray(i, i + n))));
      i += n;
    }
    events.push(...p.finish());
    return collect(events);
  };
  const whole = run(() => buf.length);
  assert.deepEqual(run(() => 1), whole, 'byte at a time');
  assert.deepEqual(run((i) => (i % 7) + 3), whole, 'odd chunks');
  return whole;
}

test('From_ lines: dates in asctime and its variants; prose is not a From_ line', () => {
  assert.equal(parseFromLine('From ann@example.org Thu Jan  4 10:11:12 2024')?.date, Date.UTC(2024, 0, 4, 10, 11, 12));
  assert.equal(parseFromLine('From ann@example.org Thu Jan  4 10:11:12 2024')?.sender, 'ann@example.org');
  assert.equal(parseFromLine('From MAILER-DAEMON Jan 4 10:11 2024')?.date, Date.UTC(2024, 0, 4, 10, 11, 0));
  assert.equal(parseFromLine('From a Thu Jan  4 10:11:12 +0200 2024')?.date, Date.UTC(2024, 0, 4, 8, 11, 12));
  assert.equal(parseFromLine('From a Thu Jan  4 10:11:12 2024 -0130')?.date, Date.UTC(2024, 0, 4, 11, 41, 12));
  assert.equal(parseFromLine('From a Thu Jan  4 10:11:12 UTC 2024')?.date, Date.UTC(2024, 0, 4, 10, 11, 12));
  assert.equal(parseFromLine('From here on we go'), null);
  assert.equal(parseFromLine('From the desk of Jan 3 10:00 2024'), null, 'unquoted sender with spaces is prose');
  assert.equal(parseFromLine('>From a Thu Jan  4 10:11:12 2024'), null);
  assert.equal(asctime(Date.UTC(2024, 0, 4, 1, 2, 3)), 'Thu Jan  4 01:02:03 2024');
  assert.equal(asctime(Date.UTC(1999, 11, 31, 23, 59, 59)), 'Fri Dec 31 23:59:59 1999');
  assert.equal(formatFromLine('a b', 0), 'From MAILER-DAEMON Thu Jan  1 00:00:00 1970\n');
  const d = Date.UTC(2025, 6, 15, 12, 0, 1);
  assert.equal(parseFromLine(formatFromLine('x@y', d).trimEnd())?.date, d);
});

test('messages, offsets and the blank separator line', () => {
  const a = 'From a@x Mon Jan  1 00:00:00 2024\nSubject: one\n\nbody 1\n\n';
  const b = 'From b@x Tue Jan  2 00:00:00 2024\nSubject: two\n\nbody 2\n\nlast para\n';
  const msgs = parse(a + b);
  assert.equal(msgs.length, 2);
  assert.equal(msgs[0]!.text, 'Subject: one\n\nbody 1\n');
  assert.equal(msgs[0]!.offset, 0);
  assert.equal(msgs[0]!.end, a.length);
  assert.equal(msgs[0]!.date, Date.UTC(2024, 0, 1));
  assert.equal(msgs[1]!.text, 'Subject: two\n\nbody 2\n\nlast para\n', 'no trailing blank: nothing removed');
  assert.equal(msgs[1]!.offset, a.length);
  assert.equal(msgs[1]!.end, a.length + b.length);

  // A message whose content ends in a blank line keeps it (the writer added one more).
  const blank = parse('From a Mon Jan  1 00:00:00 2024\nS: x\n\nend\n\n\nFrom b Mon Jan  1 00:00:00 2024\nS: y\n\n');
  assert.equal(blank[0]!.text, 'S: x\n\nend\n\n');
  assert.equal(blank[1]!.text, 'S: y\n');
  // Header only, separator straight after the header: the blank line is the separator.
  const headerOnly = parse('From a Mon Jan  1 00:00:00 2024\nS: x\n\nFrom b Mon Jan  1 00:00:00 2024\nS: y\n');
  assert.deepEqual(headerOnly.map((m) => m.text), ['S: x\n', 'S: y\n']);
  // "From " after a blank line but without a date is body text.
  const prose = parse('From a Mon Jan  1 00:00:00 2024\nS: x\n\nhello\n\nFrom here on, prose.\n');
  assert.equal(prose.length, 1);
  assert.equal(prose[0]!.text, 'S: x\n\nhello\n\nFrom here on, prose.\n');
  // A From_ line not preceded by a blank line in a body is body text.
  const inBody = parse('From a Mon Jan  1 00:00:00 2024\nS: x\n\nhello\nFrom b Mon Jan  1 00:00:00 2024\n');
  assert.equal(inBody.length, 1);
  // Empty input: no messages; garbage: an error.
  assert.deepEqual(parse(''), []);
  assert.throws(() => parse('Subject: not an mbox\n\nhi\n'), MboxFormatError);
});

test('quoting: mboxrd removes one ">" from ^>+From, mboxo only from ^>From', () => {
  const input =
    'From a Mon Jan  1 00:00:00 2024\nSubject: q\n\n' +
    '>From one\n>>From two\n>>>From three\n> From spaced\n>Fromage\nFrom inline, not after blank\n';
  const rd = parse(input, { format: 'mboxrd' })[0]!.text;
  assert.equal(rd, 'Subject: q\n\nFrom one\n>From two\n>>From three\n> From spaced\n>Fromage\nFrom inline, not after blank\n');
  const o = parse(input, { format: 'mboxo' })[0]!.text;
  assert.equal(o, 'Subject: q\n\nFrom one\n>>From two\n>>>From three\n> From spaced\n>Fromage\nFrom inline, not after blank\n');
});

test('Status, X-Status and X-Keywords become flags and are removed; Date is reported', () => {
  const msgs = parse(
    'From a Mon Jan  1 00:00:00 2024\nSubject: s\nStatus: RO\nX-Status: AFTD\nX-Keywords: $Label1, work\n  later\n' +
      'Content-Length: 5\nX-UID: 7\nDate: Tue, 2 Jan 2024 03:04:05 +0000\n\nbody\n',
  );
  assert.deepEqual(msgs[0]!.flags, ['\\Seen', '\\Answered', '\\Flagged', '\\Draft', '\\Deleted', '$Label1', 'work', 'later']);
  assert.equal(msgs[0]!.text, 'Subject: s\nDate: Tue, 2 Jan 2024 03:04:05 +0000\n\nbody\n');
  assert.equal(msgs[0]!.headerDate, Date.UTC(2024, 0, 2, 3, 4, 5));
  assert.deepEqual(flagsFromMboxHeaders('O', null, null).flags, []);
  assert.deepEqual(flagsFromMboxHeaders(null, null, 'ok bad(word)').invalid, ['bad(word)']);
  assert.deepEqual(mboxStatusHeaders(['\\Seen', '\\Flagged', 'x']), { status: 'RO', xStatus: 'F', xKeywords: 'x' });
  assert.deepEqual(mboxStatusHeaders([]), { status: 'O', xStatus: null, xKeywords: null });
});

test('CRLF conversion: bare LF becomes CRLF, existing CRLF is kept', () => {
  const msgs = parse('From a Mon Jan  1 00:00:00 2024\nSubject: s\r\nX: y\n\nline\r\nline2\n\n', { crlf: true });
  assert.equal(msgs[0]!.text, 'Subject: s\r\nX: y\r\n\r\nline\r\nline2\r\n');
  // A CRLF-terminated separator line works as well.
  const crlfFile = parse('From a Mon Jan  1 00:00:00 2024\r\nS: 1\r\n\r\nb\r\n\r\nFrom b Mon Jan  1 00:00:00 2024\r\nS: 2\r\n', { crlf: true });
  assert.deepEqual(crlfFile.map((m) => m.text), ['S: 1\r\n\r\nb\r\n', 'S: 2\r\n']);
});

test('--trust-content-length: the body is taken by length, verbatim; a wrong length falls back', () => {
  const body = 'line\n\nFrom x Mon Jan  1 00:00:00 2024\n>From y\n';
  const input =
    `From a Mon Jan  1 00:00:00 2024\nSubject: cl\nContent-Length: ${body.length}\n\n${body}\n` +
    'From b Mon Jan  1 00:00:00 2024\nSubject: two\n\nb\n';
  const trusted = parse(input, { trustContentLength: true });
  assert.equal(trusted.length, 2);
  assert.equal(trusted[0]!.text, `Subject: cl\n\n${body}`);
  const ignored = parse(input);
  assert.equal(ignored.length, 3, 'without trust the embedded From_ line after a blank line splits');
  const wrong = parse(input.replace(`Content-Length: ${body.length}`, 'Content-Length: 3'), { trustContentLength: true });
  assert.equal(wrong.length, 3, 'a length that does not end at a line boundary is ignored');
});

test('resuming at an offset: parsing starts at a From_ line and reports absolute offsets', () => {
  const a = 'From a Mon Jan  1 00:00:00 2024\nS: 1\n\n';
  const b = 'From b Mon Jan  1 00:00:00 2024\nS: 2\n';
  const p = new MboxParser({ format: 'mboxrd', crlf: false, startOffset: a.length });
  const msgs = collect([...p.push(Buffer.from(b)), ...p.finish()]);
  assert.equal(msgs[0]!.offset, a.length);
  assert.equal(msgs[0]!.end, a.length + b.length);
});

test('overlong lines stream in pieces and keep their bytes', () => {
  const long = 'x'.repeat(3 * 1024 * 1024 + 17);
  const p = new MboxParser({ format: 'mboxrd', crlf: true });
  const input = Buffer.from(`From a Mon Jan  1 00:00:00 2024\nS: 1\n\n${long}\nend\n`);
  const events: MboxEvent[] = [];
  for (let i = 0; i < input.length; i += 65536) events.push(...p.push(Buffer.from(input.subarray(i, i + 65536))));
  events.push(...p.finish());
  const msgs = collect(events);
  assert.equal(msgs.length, 1);
  assert.equal(msgs[0]!.text, `S: 1\r\n\r\n${long}\r\nend\r\n`);
});

function encode(message: string, flags: string[], date: number, format: 'mboxrd' | 'mboxo' = 'mboxrd', split = 5): string {
  const enc = new MboxEntryEncoder({ format, flags, internalDate: date });
  const buf = Buffer.from(message, 'latin1');
  const parts: Buffer[] = [];
  for (let i = 0; i < buf.length; i += split) parts.push(enc.push(Buffer.from(buf.subarray(i, i + split))));
  parts.push(enc.finish());
  return Buffer.concat(parts).toString('latin1');
}

test('writer: From_ line with the internal date and Return-Path sender, flag fields, quoting, CRLF → LF', () => {
  const date = Date.UTC(2024, 2, 5, 6, 7, 8);
  const out = encode(
    'Return-Path: <ann@example.org>\r\nSubject: w\r\nStatus: stale\r\n\r\nFrom me\r\n>From you\r\nok\r\n',
    ['\\Seen', '\\Answered', '$Forwarded'],
    date,
  );
  assert.equal(
    out,
    'From ann@example.org Tue Mar  5 06:07:08 2024\nReturn-Path: <ann@example.org>\nSubject: w\n' +
      'Status: RO\nX-Status: A\nX-Keywords: $Forwarded\n\n>From me\n>>From you\nok\n\n',
  );
  const o = encode('Subject: w\n\nFrom me\n>From you\n', [], date, 'mboxo');
  assert.match(o, /\n>From me\n>From you\n\n$/);
  // No final line end: one is added before the separator.
  assert.match(encode('Subject: x\n\nno newline', [], date), /\nno newline\n\n$/);
});

test('round trip (property): writer then reader gives back message, flags and date (mboxrd)', () => {
  const line = fc.oneof(
    fc.constantFrom('From here', '>From there', '>>>From x', 'From a Mon Jan  1 00:00:00 2024', '', '>', 'From', ' From'),
    fc.string({ maxLength: 20 }).map((s) => s.replace(/[\r\n]/g, '')),
  );
  const keyword = fc.constantFrom('$Label1', 'work', 'Junk', '$Forwarded');
  fc.assert(
    fc.property(
      fc.array(
        fc.record({
          subject: fc.string({ maxLength: 10 }).map((s) => s.replace(/[\r\n]/g, '')),
          body: fc.array(line, { maxLength: 8 }),
          flags: fc.subarray(['\\Seen', '\\Answered', '\\Flagged', '\\Deleted', '\\Draft']),
          keywords: fc.uniqueArray(keyword, { maxLength: 3 }),
          seconds: fc.integer({ min: 0, max: 4_000_000_000 }),
        }),
        { minLength: 1, maxLength: 5 },
      ),
      fc.integer({ min: 1, max: 64 }),
      (messages, split) => {
        let file = '';
        const expected: string[] = [];
        for (const m of messages) {
          const text = `Subject: ${m.subject}\r\n\r\n${m.body.map((l) => `${l}\r\n`).join('')}`;
          expected.push(text);
          file += encode(text, [...m.flags, ...m.keywords], m.seconds * 1000, 'mboxrd', split);
        }
        const got = parse(file, { crlf: true });
        assert.equal(got.length, messages.length);
        got.forEach((g, i) => {
          const m = messages[i]!;
          assert.equal(g.text, expected[i]);
          assert.equal(g.date, m.seconds * 1000);
          assert.deepEqual(new Set(g.flags), new Set([...m.flags, ...m.keywords]));
        });
      },
    ),
    { numRuns: 150 },
  );
});
