// Unit tests for src/mime: transfer decoding (RFC 2045 §6.7, §6.8) streamed in any chunks, header field
// helpers (RFC 9051 §6.4.5 HEADER.FIELDS), RFC 2231 parameters, dates (RFC 5322 §3.3/§4.3), addresses
// (RFC 5322 §3.4), section lookup and BINARY info, and the nesting/part-count limits.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { MimeIndexer, indexMessage } from '../../src/mime/indexer.js';
import { parseAddressList, envelopeValue } from '../../src/mime/envelope.js';
import { parseDate, parseParams } from '../../src/mime/header-parse.js';
import { bodyStructureValue } from '../../src/mime/body-structure.js';
import {
  binaryInfo,
  createTransferDecoder,
  decodeTransferEncoding,
  filterHeaderFields,
  headerFieldValues,
  locateSection,
  messageDate,
  messageSentDay,
  topHeaderRange,
} from '../../src/mime/sections.js';
import { withCrlfLineEnds } from '../../src/mime/transfer-decoding.js';
import { encodeValue } from '../../src/protocol/encoder.js';
import { LIMITS } from '../../src/protocol/limits.js';
import type { MimeIndexV1, MimePart } from '../../src/mime/types.js';
import type { ResponseValue } from '../../src/protocol/types.js';

const crlf = (s: string) => Buffer.from(s.replace(/\r?\n/g, '\r\n'), 'utf8');
const wire = (v: ResponseValue) => Buffer.concat(encodeValue(v) as Buffer[]).toString('latin1');

function decodeChunked(data: Buffer, enc: string, sizes: number[]): Buffer {
  const d = createTransferDecoder(enc)!;
  const out: Buffer[] = [];
  let i = 0;
  let k = 0;
  while (i < data.length) {
    const n = Math.max(1, sizes[k++ % sizes.length]!);
    out.push(d.push(data.subarray(i, i + n)));
    i += n;
  }
  out.push(d.end());
  return Buffer.concat(out);
}

test('base64 decoding ignores line breaks and junk, stops at padding', () => {
  assert.equal(decodeTransferEncoding(Buffer.from('aGVs\r\nbG8g\r\nd29y bGQ=\r\n'), 'BASE64')!.toString(), 'hello world');
  assert.equal(decodeTransferEncoding(Buffer.from('aGk=IGlnbm9yZWQ='), 'base64')!.toString(), 'hi');
});

test('quoted-printable: escapes, soft breaks, trailing white space, malformed escapes', () => {
  const qp = Buffer.from('Gr=C3=BC=C3=9Fe  \r\nsoft=\r\nbreak=\nlf  =  \r\nkeep =ZZ and =4\r\nlower =c3=a9');
  assert.equal(decodeTransferEncoding(qp, 'Quoted-Printable')!.toString('utf8'), 'Grüße\r\nsoftbreaklf  keep =ZZ and =4\r\nlower é');
});

test('identity encodings and unknown ones', () => {
  const b = Buffer.from([0, 1, 2, 255]);
  for (const e of ['7bit', '8bit', 'binary', '', ' 8BIT ']) assert.deepEqual(decodeTransferEncoding(b, e), b);
  assert.equal(decodeTransferEncoding(b, 'x-uuencode'), null);
  assert.equal(createTransferDecoder('x-gzip'), null);
});

test('streamed decoding equals whole decoding for any chunking (property)', () => {
  fc.assert(
    fc.property(
      fc.uint8Array({ maxLength: 300 }),
      fc.array(fc.integer({ min: 1, max: 9 }), { minLength: 1, maxLength: 10 }),
      (bytes, sizes) => {
        const raw = Buffer.from(bytes);
        const b64 = Buffer.from(raw.toString('base64').replace(/(.{76})/g, '$1\r\n'));
        assert.deepEqual(decodeChunked(b64, 'base64', sizes), raw);
        // Quoted-printable: encode every byte that is not plain printable ASCII, add soft breaks.
        let qp = '';
        for (const c of raw) qp += c >= 33 && c <= 126 && c !== 61 ? String.fromCharCode(c) : '=' + c.toString(16).toUpperCase().padStart(2, '0');
        const qpBuf = Buffer.from(qp.replace(/(.{70})/g, '$1=\r\n'));
        assert.deepEqual(decodeChunked(qpBuf, 'quoted-printable', sizes), raw);
        assert.deepEqual(decodeChunked(qpBuf, 'quoted-printable', sizes), decodeTransferEncoding(qpBuf, 'quoted-printable'));
      },
    ),
    { numRuns: 200 },
  );
});

test('qp decoding of text with white space at chunk edges is chunk-independent', () => {
  const text = Buffer.from('a b  \r\nc\t=\r\nd =20 \r\n  \r\n= \r\nx=\r');
  const whole = decodeTransferEncoding(text, 'quoted-printable')!;
  for (let size = 1; size <= 5; size++) assert.deepEqual(decodeChunked(text, 'quoted-printable', [size]), whole, `size ${size}`);
});

const HEADER = crlf('Received: from a\n\tby b\nSubject: one\nX-Long: part1\n part2\nsubject:  two  \nFrom: f@x\n\n');

test('filterHeaderFields keeps matching fields with continuation lines and ends with a blank line', () => {
  assert.equal(filterHeaderFields(HEADER, ['SUBJECT', 'x-long'], false).toString(), 'Subject: one\r\nX-Long: part1\r\n part2\r\nsubject:  two  \r\n\r\n');
  assert.equal(filterHeaderFields(HEADER, ['subject', 'received'], true).toString(), 'X-Long: part1\r\n part2\r\nFrom: f@x\r\n\r\n');
  assert.equal(filterHeaderFields(HEADER, ['nothing'], false).toString(), '\r\n');
  // A header that ends without a line break still yields well-formed output.
  assert.equal(filterHeaderFields(Buffer.from('A: 1\r\nB: 2'), ['b'], false).toString(), 'B: 2\r\n\r\n');
});

test('headerFieldValues unfolds and trims every occurrence', () => {
  assert.deepEqual(headerFieldValues(HEADER, 'Subject'), ['one', 'two']);
  assert.deepEqual(headerFieldValues(HEADER, 'x-long'), ['part1 part2']);
  assert.deepEqual(headerFieldValues(HEADER, 'received'), ['from a\tby b']);
  assert.deepEqual(headerFieldValues(HEADER, 'cc'), []);
});

test('RFC 2231 parameters: continuations, encoded pieces, gaps, order', () => {
  assert.deepEqual(parseParams("; a*1=y; a*0=x; b=plain; c*0*=utf-8''%E2; c*1=%20z", 0), ['b', 'plain', 'a', 'xy', 'c*', "utf-8''%E2%2520z"]);
  assert.deepEqual(parseParams("; t*=us-ascii'en'A%20B", 0), ['t*', "us-ascii'en'A%20B"]);
  assert.deepEqual(parseParams('; n*0=a; n*2=c', 0), ['n*0', 'a', 'n*2', 'c']);
  assert.deepEqual(parseParams('; Name="q\\"uoted"; x=1 (comment); y = "2"', 0), ['Name', 'q"uoted', 'x', '1', 'y', '2']);
  // Junk is skipped the way Dovecot does; a trailing parameter without '=' is dropped.
  assert.deepEqual(parseParams('; name=unquoted file.bin; =v; junk', 0), ['name', 'unquoted', '', 'v']);
  assert.deepEqual(parseParams('; a==?utf-8?q?x?=; b=1', 0), ['a', '=?utf-8?q?x?=', 'b', '1']);
});

test('dates: RFC 5322 and obsolete forms; sent day in the sender zone', () => {
  assert.equal(parseDate('Tue, 4 Jun 2024 09:12:30 +0200')!.ms, Date.UTC(2024, 5, 4, 7, 12, 30));
  assert.equal(parseDate('4 Jun 24 09:12 EDT')!.ms, Date.UTC(2024, 5, 4, 13, 12, 0));
  assert.equal(parseDate('Fri, 21 Nov 1997 09:55:06 -0600 (CST)')!.zone, -360);
  assert.equal(parseDate('1 Jan 99 00:00 GMT')!.ms, Date.UTC(1999, 0, 1));
  assert.equal(parseDate('not a date'), null);
  assert.equal(parseDate('32 Jan 2024 10:00 +0000'), null);
  const ix = indexMessage(crlf('Date: Mon, 3 Jun 2024 23:30:00 -0500\n\nx'));
  assert.equal(messageDate(ix), Date.UTC(2024, 5, 4, 4, 30));
  assert.equal(messageSentDay(ix), Date.UTC(2024, 5, 3)); // June 3rd where it was sent
  assert.equal(messageDate(indexMessage(crlf('Subject: x\n\ny'))), null);
});

test('address lists: names, routes, groups, comments', () => {
  assert.deepEqual(parseAddressList('"Doe, J." <j@d.example> (c), Mary <@r1,@r2:m@x.example>'), [
    { name: 'Doe, J.', adl: null, mailbox: 'j', host: 'd.example' },
    { name: 'Mary', adl: '@r1,@r2', mailbox: 'm', host: 'x.example' },
  ]);
  assert.deepEqual(parseAddressList('Team: a@b, C <c@d>;, e@f'), [
    { name: null, adl: null, mailbox: 'Team', host: null },
    { name: null, adl: null, mailbox: 'a', host: 'b' },
    { name: 'C', adl: null, mailbox: 'c', host: 'd' },
    { name: null, adl: null, mailbox: null, host: null },
    { name: null, adl: null, mailbox: 'e', host: 'f' },
  ]);
  assert.deepEqual(parseAddressList('user (Real Name)'), [{ name: 'Real Name', adl: null, mailbox: 'user', host: 'MISSING_DOMAIN' }]);
  assert.deepEqual(parseAddressList(''), []);
});

test('ENVELOPE: sender and reply-to default to from; absent fields are NIL', () => {
  const ix = indexMessage(crlf('From: A <a@x>\nSubject: s\n\nbody'));
  assert.equal(wire(envelopeValue(ix)), '(NIL "s" (("A" NIL "a" "x")) (("A" NIL "a" "x")) (("A" NIL "a" "x")) NIL NIL NIL NIL NIL)');
  assert.equal(wire(envelopeValue(indexMessage(Buffer.alloc(0)))), '(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)');
});

const NESTED = crlf(
  'Subject: n\nContent-Type: multipart/mixed; boundary=o\n\n--o\n\none\n--o\nContent-Type: message/rfc822\n\nSubject: inner\nContent-Type: multipart/alternative; boundary=i\n\n--i\n\ntwo\n--i\nContent-Type: text/html\nContent-Transfer-Encoding: Base64\n\nPGI+\n--i--\n--o--\n',
);

test('sections: paths, MIME, HEADER/TEXT of message/rfc822, missing parts', () => {
  const ix = indexMessage(NESTED);
  const get = (path: number[], text?: 'HEADER' | 'TEXT' | 'MIME') => {
    const loc = locateSection(ix, text ? { path, text } : { path });
    return loc ? NESTED.subarray(loc.start, loc.end).toString() : null;
  };
  assert.equal(get([1]), 'one');
  assert.equal(get([1, 1]), 'one');
  assert.equal(get([1, 1, 1]), null);
  assert.equal(get([2], 'MIME'), 'Content-Type: message/rfc822\r\n\r\n');
  assert.equal(get([2], 'HEADER'), 'Subject: inner\r\nContent-Type: multipart/alternative; boundary=i\r\n\r\n');
  assert.equal(get([2, 1]), 'two');
  assert.equal(get([2, 2]), 'PGI+');
  assert.equal(get([2, 2], 'MIME'), 'Content-Type: text/html\r\nContent-Transfer-Encoding: Base64\r\n\r\n');
  assert.equal(get([2, 3]), null);
  assert.equal(get([3]), null);
  assert.equal(get([1], 'HEADER'), null);
  assert.equal(get([], 'TEXT')!.startsWith('--o\r\n'), true);
  assert.equal(get([])!.length, NESTED.length);
  assert.deepEqual(topHeaderRange(ix), { start: 0, end: NESTED.indexOf('\r\n\r\n') + 4 });
  assert.deepEqual(binaryInfo(ix, [2, 2]), { start: NESTED.indexOf('PGI+'), end: NESTED.indexOf('PGI+') + 4, encoding: 'base64', text: true });
  assert.equal(binaryInfo(ix, [2])!.encoding, 'binary');
  assert.equal(binaryInfo(ix, [1])!.encoding, '7bit');
  assert.equal(binaryInfo(ix, [4]), null);
});

test('bare LF and CRLF messages get the same structure, sizes of the stored bytes', () => {
  const lf = Buffer.from(NESTED.toString().replace(/\r\n/g, '\n'));
  const a = indexMessage(NESTED);
  const b = indexMessage(lf);
  assert.equal(wire(bodyStructureValue(a, true)).replace(/ \d+/g, ' N'), wire(bodyStructureValue(b, true)).replace(/ \d+/g, ' N'));
  const loc = locateSection(b, { path: [2, 1] })!;
  assert.equal(lf.subarray(loc.start, loc.end).toString(), 'two');
});

function depth(p: MimePart): number {
  const kids = [...(p.k ?? []), ...(p.g ? [p.g] : [])];
  return 1 + Math.max(0, ...kids.map(depth));
}

function countParts(p: MimePart): number {
  return 1 + (p.k ?? []).reduce((n, c) => n + countParts(c), 0) + (p.g ? countParts(p.g) : 0);
}

test('nesting deeper than LIMITS.maxMimeDepth becomes a leaf', () => {
  const levels = LIMITS.maxMimeDepth + 10;
  let msg = '';
  for (let i = 0; i < levels; i++) msg += `Content-Type: multipart/mixed; boundary=b${i}\r\n\r\n--b${i}\r\n`;
  msg += 'Content-Type: text/plain\r\n\r\ndeep\r\n';
  for (let i = levels - 1; i >= 0; i--) msg += `--b${i}--\r\n`;
  const ix = indexMessage(Buffer.from(msg)) as MimeIndexV1;
  assert.equal(depth(ix.r), LIMITS.maxMimeDepth + 1);
  // The encoder copes with the nesting this produces.
  const bs = wire(bodyStructureValue(ix, true));
  assert.ok(bs.startsWith('('.repeat(LIMITS.maxMimeDepth)), bs.slice(0, 80));
  // The multipart at the cap is application/octet-stream whose body is its (empty) preamble; the parts
  // inside it belong to no part (Dovecot 2.3 answers the same).
  const capped = `("application" "octet-stream" ("boundary" "b${LIMITS.maxMimeDepth}") NIL NIL "7bit" 0 NIL NIL NIL NIL) "mixed" ("boundary" "b${LIMITS.maxMimeDepth - 1}")`;
  assert.ok(bs.includes(capped), bs.slice(LIMITS.maxMimeDepth - 5, LIMITS.maxMimeDepth + 200));
});

test('message/rfc822 nested deeper than LIMITS.maxMimeDepth: the innermost is application/octet-stream', () => {
  const levels = LIMITS.maxMimeDepth + 3;
  let msg = '';
  for (let i = 0; i < levels; i++) msg += `From: l${i}@example.com\r\nContent-Type: message/rfc822\r\n\r\n`;
  msg += 'From: last@example.com\r\n\r\ninnermost\r\n';
  const ix = indexMessage(Buffer.from(msg)) as MimeIndexV1;
  assert.equal(depth(ix.r), LIMITS.maxMimeDepth + 1);
  const bs = wire(bodyStructureValue(ix, false));
  assert.match(bs, /\("application" "octet-stream" NIL NIL NIL "7bit" \d+\)/);
  assert.equal(bs.match(/"message" "rfc822"/g)?.length, LIMITS.maxMimeDepth);
});

test('more than LIMITS.maxMimeParts parts: the rest folds into the parent body', () => {
  const n = LIMITS.maxMimeParts + 50;
  const chunks = ['Content-Type: multipart/mixed; boundary=p\r\n\r\n'];
  for (let i = 0; i < n; i++) chunks.push(`--p\r\n\r\n${i}\r\n`);
  chunks.push('--p--\r\n');
  const raw = Buffer.from(chunks.join(''));
  const ix = indexMessage(raw) as MimeIndexV1;
  assert.equal(countParts(ix.r), LIMITS.maxMimeParts);
  const last = ix.r.k![ix.r.k!.length - 1]!;
  assert.equal(raw.subarray(last.b, last.e).toString(), String(LIMITS.maxMimeParts - 2));
  assert.equal(ix.r.e, raw.length);
});

test('a huge header line and a huge body line are handled without keeping them', () => {
  const big = 'x'.repeat(3 * 1024 * 1024);
  const raw = Buffer.from(`Subject: s\r\nX-Big: ${big}\r\nContent-Type: multipart/mixed; boundary=q\r\n\r\n--q\r\n\r\n${big}\r\n--q--\r\n`);
  const ix = indexMessage(raw) as MimeIndexV1;
  assert.equal(ix.r.k!.length, 1);
  assert.equal(ix.r.k![0]!.e - ix.r.k![0]!.b, big.length);
  assert.ok(JSON.stringify(ix).length < 1000);
});

function checkOffsets(p: MimePart, lo: number, hi: number): void {
  assert.ok(lo <= p.h && p.h <= p.b && p.b <= p.e && p.e <= hi, JSON.stringify({ lo, hi, h: p.h, b: p.b, e: p.e }));
  for (const c of p.k ?? []) checkOffsets(c, p.b, p.e);
  if (p.g) checkOffsets(p.g, p.b, p.e);
}

test('random MIME-ish input: sane offsets, chunking invariance, encodable structures (property)', () => {
  const piece = fc.constantFrom(
    '--a\r\n', '--a--\r\n', '--b\n', '--b--', '\r\n', '\n', 'Content-Type: multipart/mixed; boundary=a\r\n',
    'Content-Type: multipart/digest; boundary=b\n', 'Content-Type: message/rfc822\r\n', 'Subject: x\r\n',
    'From: a@b, (c) <d@e>\r\n', 'text line\r\n', ' folded\r\n', '\r', 'x', '-', ': \r\n',
  );
  fc.assert(
    fc.property(fc.array(piece, { maxLength: 60 }), fc.integer({ min: 1, max: 13 }), (pieces, step) => {
      const raw = Buffer.from(pieces.join(''));
      const whole = indexMessage(raw) as MimeIndexV1;
      checkOffsets(whole.r, 0, raw.length);
      const ixr = new MimeIndexer();
      for (let i = 0; i < raw.length; i += step) ixr.push(raw.subarray(i, i + step));
      assert.deepEqual(ixr.finish(), whole);
      wire(bodyStructureValue(whole, true));
      wire(envelopeValue(whole));
    }),
    { numRuns: 300 },
  );
});

test('the CRLF size (what POP3 sends, RFC 1939 §5) counts bare LFs as CRLF and ends an unterminated last line; any chunking', () => {
  const cases: Array<[string, number | undefined]> = [
    ['Subject: a\r\n\r\nbody\r\n', undefined], // already CRLF: no cz
    ['Subject: a\n\nline 1\nline 2\n', 'Subject: a\n\nline 1\nline 2\n'.length + 4],
    ['Subject: a\r\n\nmixed\r\nends\n', 'Subject: a\r\n\nmixed\r\nends\n'.length + 2],
    ['Subject: a\r\n\r\nno final newline', 'Subject: a\r\n\r\nno final newline'.length + 2],
    ['Subject: a\n\nboth', 'Subject: a\n\nboth'.length + 2 + 2],
  ];
  for (const [text, cz] of cases) {
    const bytes = Buffer.from(text, 'latin1');
    assert.equal((indexMessage(bytes) as MimeIndexV1).cz, cz, JSON.stringify(text));
    // CR and LF split across chunks.
    const ix = new MimeIndexer();
    for (const b of bytes) ix.push(Buffer.from([b]));
    assert.equal(ix.finish().cz, cz, `${JSON.stringify(text)} byte by byte`);
  }
});

test('withCrlfLineEnds: bare LF becomes CRLF, CRLF stays, for any chunking (property); QP and base64 decode after it', () => {
  fc.assert(
    fc.property(fc.array(fc.constantFrom('a', '\r', '\n', '\r\n', '=', '=0A', 'xy'), { maxLength: 30 }), fc.array(fc.integer({ min: 1, max: 4 }), { maxLength: 30 }), (parts, cuts) => {
      const text = Buffer.from(parts.join(''), 'latin1');
      const want = Buffer.from(parts.join('').replace(/\r?\n/g, '\r\n'), 'latin1');
      const dec = withCrlfLineEnds(createTransferDecoder('7bit')!);
      const out: Buffer[] = [];
      let pos = 0;
      for (const c of cuts) {
        out.push(dec.push(text.subarray(pos, pos + c)));
        pos += c;
      }
      out.push(dec.push(text.subarray(pos)), dec.end());
      assert.deepEqual(Buffer.concat(out), want);
    }),
  );
  const qp = withCrlfLineEnds(createTransferDecoder('quoted-printable')!);
  assert.equal(Buffer.concat([qp.push(Buffer.from('a=3Db soft=\nx\nnext=0Aline\n')), qp.end()]).toString('latin1'), 'a=b softx\r\nnext\nline\r\n');
  const b64 = withCrlfLineEnds(createTransferDecoder('base64')!);
  assert.equal(Buffer.concat([b64.push(Buffer.from('aGVs\nbG8K\n')), b64.end()]).toString('latin1'), 'hello\n');
});
