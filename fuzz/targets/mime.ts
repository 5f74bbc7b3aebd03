// Fuzz target for the MIME indexer (src/mime/indexer.ts): RFC 5322 §2.2 headers, RFC 2045/2046 multipart
// and message/rfc822 structure, and the FETCH views built on the index (RFC 9051 §7.5.2 BODYSTRUCTURE,
// ENVELOPE; §6.4.5 sections).
import fc from 'fast-check';
import { MimeIndexer, indexMessage } from '../../src/mime/indexer.js';
import { bodyStructureValue } from '../../src/mime/body-structure.js';
import { envelopeValue } from '../../src/mime/envelope.js';
import { findPart, locateSection } from '../../src/mime/sections.js';
import type { MimePart } from '../../src/mime/types.js';
import { encodeValue } from '../../src/protocol/encoder.js';
import { LIMITS } from '../../src/protocol/limits.js';
import { bytesArbitrary, check, chunkings, tokenArbitrary, type FuzzTarget } from '../lib.js';

const MIME_DICT = [
  'Content-Type: multipart/mixed; boundary="b"\r\n', 'Content-Type: multipart/digest; boundary=b\r\n',
  'Content-Type: message/rfc822\r\n', 'Content-Type: message/global\r\n', 'Content-Type: text/plain; charset=utf-8\r\n',
  "Content-Type: text/plain; name*0*=utf-8''a%20b; name*1=c\r\n", 'Content-Transfer-Encoding: base64\r\n',
  'Content-Disposition: attachment; filename="x.txt"\r\n', 'Content-Language: en, de\r\n', 'Content-ID: <a@b>\r\n',
  'From: "A" <a@b.example>, (comment) c@d\r\n', 'To: undisclosed-recipients:;\r\n', 'Subject: =?utf-8?q?h=C3=A9?=\r\n',
  'Date: Mon, 1 Jan 2024 10:00:00 +0100\r\n', 'Message-ID: <x@y>\r\n', '\r\n', '\n', '--b\r\n', '--b--\r\n', '--b', '--',
  ' folded\r\n', '\t', ':', ';', '"', '(', ')', '<', '>', '@', ',', '=', '\0', '\xff', 'boundary=', 'a'.repeat(300),
];

function checkPart(p: MimePart, lo: number, hi: number, data: Buffer, depth: number, count: { n: number }): void {
  count.n++;
  check(depth <= LIMITS.maxMimeDepth * 2 + 4, `part tree ${depth} deep`);
  check(lo <= p.h && p.h <= p.b && p.b <= p.e && p.e <= hi, () => `offsets h=${p.h} b=${p.b} e=${p.e} outside [${lo}, ${hi}]`);
  let lf = 0;
  for (let i = p.b; i < p.e; i++) if (data[i] === 10) lf++;
  check(lf === p.n, () => `part body [${p.b}, ${p.e}) has ${lf} LFs, index says ${p.n}`);
  let prevEnd = p.b;
  for (const k of p.k ?? []) {
    check(k.h >= prevEnd, 'children overlap or are out of order');
    checkPart(k, p.b, p.e, data, depth + 1, count);
    prevEnd = k.e;
  }
  if (p.g) checkPart(p.g, p.b, p.e, data, depth + 1, count);
}

/** Every section path that names a part (RFC 9051 §6.4.5 part numbering), up to a bound. `p`'s children
 *  are addressed as prefix.N; a non-multipart is its own part 1; message/rfc822 parts continue into `g`. */
function paths(p: MimePart, prefix: number[], out: number[][]): void {
  if (out.length > 2000 || prefix.length > 200) return;
  if (p.k) {
    p.k.forEach((c, i) => {
      const path = [...prefix, i + 1];
      out.push(path);
      if (c.g) paths(c.g, path, out);
      else if (c.k) paths(c, path, out);
    });
  } else {
    const path = [...prefix, 1];
    out.push(path);
    if (p.g) paths(p.g, path, out);
  }
}

/** A random MIME tree as text (nesting multiparts and message/rfc822 parts). */
const treeArbitrary: fc.Arbitrary<Buffer> = fc
  .letrec<{ node: string }>((tie) => ({
    node: fc.oneof(
      { depthSize: 'small', withCrossShrink: true },
      fc.tuple(fc.constantFrom('text/plain', 'text/html', 'application/octet-stream'), fc.string({ maxLength: 30 }), fc.constantFrom('', 'Content-Transfer-Encoding: base64\r\n', 'Content-Transfer-Encoding: quoted-printable\r\n'))
        .map(([t, body, cte]) => `Content-Type: ${t}\r\n${cte}\r\n${body}\r\n`),
      fc.tuple(fc.constantFrom('b1', 'b2', 'b', '=_x', 'b1b'), fc.array(tie('node'), { maxLength: 4 }), fc.constantFrom('mixed', 'alternative', 'digest'))
        .map(([b, kids, sub]) => `Content-Type: multipart/${sub}; boundary="${b}"\r\n\r\npreamble\r\n${kids.map((k) => `--${b}\r\n${k}`).join('\r\n')}\r\n--${b}--\r\nepilogue\r\n`),
      tie('node').map((inner) => `Content-Type: message/rfc822\r\n\r\nSubject: inner\r\nFrom: a@b\r\n${inner}`),
    ),
  }))
  .node.map((s) => Buffer.from(`From: x@y\r\nSubject: t\r\nMIME-Version: 1.0\r\n${s}`, 'utf8'));

export const mimeTarget: FuzzTarget = {
  name: 'mime-indexer',
  description:
    'MimeIndexer on a message fed whole and in random chunks (and byte by byte when small): no exception at all; the ' +
    'index does not depend on chunking and survives JSON; every part has h <= b <= e inside its parent, the LF count ' +
    'matches, nesting is bounded; BODYSTRUCTURE (rev1/rev2, basic/extended), ENVELOPE and every part section ' +
    'locate and encode without error.',
  seeds: [
    'From: a@b\r\nSubject: hi\r\n\r\nbody\r\n',
    'Content-Type: multipart/mixed; boundary=x\r\n\r\n--x\r\nContent-Type: message/rfc822\r\n\r\nSubject: in\r\n\r\nbody\r\n--x--\r\n',
    'Content-Type: multipart/digest; boundary=d\r\n\r\n--d\r\n\r\nSubject: 1\r\n\r\nx\r\n--d\r\nContent-Type: text/plain\r\n\r\ny\r\n--d--',
    'Subject: no body',
    'Content-Type: message/rfc822\r\n\r\n'.repeat(100) + 'Subject: deep\r\n\r\nx',
  ],
  dictionary: MIME_DICT,
  arbitrary: fc.oneof(
    { weight: 3, arbitrary: treeArbitrary },
    { weight: 4, arbitrary: tokenArbitrary(MIME_DICT, { separators: ['', '', '\r\n', '\n', ' '], maxTokens: 60 }) },
    { weight: 1, arbitrary: bytesArbitrary(1024) },
  ),
  run(data) {
    const whole = indexMessage(data);
    const json = JSON.stringify(whole);
    for (const chunks of chunkings(data).slice(1)) {
      const ix = new MimeIndexer();
      for (const c of chunks) ix.push(c);
      const j = JSON.stringify(ix.finish());
      check(j === json, () => `index differs with chunking:\n${j.slice(0, 1500)}\nvs\n${json.slice(0, 1500)}`);
    }
    check(whole.z === data.length, 'z is not the message size');
    const count = { n: 0 };
    checkPart(whole.r, 0, data.length, data, 0, count);
    check(count.n <= LIMITS.maxMimeParts * 2 + 2, `${count.n} parts indexed`);
    const idx = JSON.parse(json) as typeof whole;
    for (const extended of [false, true]) {
      for (const rev2 of [false, true]) encodeValue(bodyStructureValue(idx, extended, { rev2 }));
    }
    encodeValue(envelopeValue(idx));
    const all: number[][] = [];
    paths(idx.r, [], all);
    for (const p of all) {
      check(findPart(idx, p) !== null, () => `part ${p.join('.')} listed but not found`);
      for (const text of [undefined, 'MIME', 'HEADER', 'TEXT'] as const) {
        const loc = locateSection(idx, text ? { path: p, text } : { path: p });
        if (loc) check(loc.start >= 0 && loc.start <= loc.end && loc.end <= data.length, () => `section ${p.join('.')}.${text} out of range`);
      }
    }
  },
};
