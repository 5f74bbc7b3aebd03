// buildPartialMessage over the MIME fixture corpus without a server (src/mime/partial.ts): for random
// choices of downloaded parts and MIME headers, the partial index renders the same BODYSTRUCTURE, BODY
// and ENVELOPE as the whole message (RFC 9051 §7.5.2) when the MIME headers are there, every section it
// calls available reads the same bytes as in the whole message, offsets stay inside the synthetic blob,
// and absent parts are reported as such.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { test } from 'node:test';
import fc from 'fast-check';
import { bodyStructureValue } from '../../src/mime/body-structure.js';
import { envelopeValue } from '../../src/mime/envelope.js';
import { indexMessage } from '../../src/mime/indexer.js';
import { buildPartialMessage, isPartial, partialHeaderSections, partialSectionAvailable, type PartialStructure } from '../../src/mime/partial.js';
import { filterHeaderFields, locateSection } from '../../src/mime/sections.js';
import type { MimePart } from '../../src/mime/types.js';
import { encodeValue } from '../../src/protocol/encoder.js';
import type { ResponseValue, SectionSpec } from '../../src/protocol/types.js';
import { makePartial, spec, structureOf } from '../server/partial-helpers.js';
import { walkBodyStructure } from '../../src/client/body-structure.js';
import type { BodyStructure } from '../../src/client/types.js';

const dir = new URL('../../../test/fixtures/mime/', import.meta.url);
const corpus = readdirSync(dir)
  .filter((n) => n.endsWith('.eml'))
  .sort()
  .map((name) => ({ name, raw: readFileSync(new URL(name, dir)) }));

function wire(v: ResponseValue): string {
  return Buffer.concat(encodeValue(v) as Buffer[]).toString('latin1');
}

function sectionsOf(raw: Buffer): string[] {
  const out = new Set<string>();
  for (const n of walkBodyStructure(structureOf(raw) as BodyStructure)) if (n.part) out.add(n.part);
  return [...out];
}

/** Sections a sync may download whole: leaves and message/rfc822 parts (a multipart's body is never asked for). */
function downloadable(raw: Buffer): string[] {
  const out = new Set<string>();
  for (const n of walkBodyStructure(structureOf(raw) as BodyStructure)) if (n.part && n.type !== 'multipart') out.add(n.part);
  return [...out];
}

function read(buf: Buffer, ix: Parameters<typeof locateSection>[0], s: SectionSpec): Buffer | null {
  const loc = locateSection(ix, s);
  if (!loc) return null;
  const bytes = buf.subarray(loc.start, loc.end);
  return loc.headerFilter ? filterHeaderFields(bytes, loc.headerFilter.fields, loc.headerFilter.not) : bytes;
}

function inside(p: MimePart, size: number): boolean {
  if (!(p.h <= p.b && p.b <= p.e && p.e <= size)) return false;
  return (p.k ?? []).every((c) => inside(c, size)) && (!p.g || inside(p.g, size));
}

test('random partial forms of every fixture answer like the whole message for what they hold', () => {
  fc.assert(
    fc.property(fc.nat(corpus.length - 1), fc.array(fc.boolean(), { minLength: 64, maxLength: 64 }), fc.boolean(), (i, mask, allHeaders) => {
      const { name, raw } = corpus[i]!;
      const full = indexMessage(raw);
      const secs = sectionsOf(raw);
      const keep = downloadable(raw).filter((_, j) => mask[j % mask.length]);
      let h = 0;
      const built = makePartial(raw, keep, () => allHeaders || mask[(h++ * 7) % mask.length]!);
      const ix = built.mime;
      assert.equal(ix.z, raw.length, name);
      assert.ok(inside(ix.r, built.bytes.length), `${name}: offsets inside the blob`);
      assert.equal(wire(envelopeValue(ix)), wire(envelopeValue(full)), `${name}: ENVELOPE`);
      if (allHeaders) {
        for (const rev2 of [false, true]) {
          assert.equal(wire(bodyStructureValue(ix, true, { rev2 })), wire(bodyStructureValue(full, true, { rev2 })), `${name}: BODYSTRUCTURE`);
          assert.equal(wire(bodyStructureValue(ix, false, { rev2 })), wire(bodyStructureValue(full, false, { rev2 })), `${name}: BODY`);
        }
      }
      const specs: SectionSpec[] = [{ path: [], text: 'HEADER' }, { path: [], text: 'HEADER.FIELDS', fields: ['Subject', 'To'] }, { path: [] }, { path: [], text: 'TEXT' }];
      for (const s of secs) {
        for (const text of [undefined, 'MIME', 'HEADER', 'TEXT'] as const) specs.push(text ? { ...spec(s), text } : spec(s));
      }
      for (const s of specs) {
        const label = `${name}: ${s.path.join('.')}${s.text ? '.' + s.text : ''}`;
        if (!partialSectionAvailable(ix, s)) {
          assert.ok(isPartial(ix), `${label}: only partial messages lack sections`);
          continue;
        }
        assert.deepEqual(read(built.bytes, ix, s), read(raw, full, s), label);
      }
      // What was downloaded is available.
      for (const s of keep) assert.ok(partialSectionAvailable(ix, spec(s)), `${name}: ${s} kept`);
    }),
    { numRuns: 300, seed: 1733 },
  );
});

test('any structure, header and parts (also inconsistent ones) give an index inside its blob that renders', () => {
  const leafType = fc.constantFrom(['text', 'plain'], ['text', 'html'], ['application', 'octet-stream'], ['image', 'png'], ['message', 'rfc822'], ['message', 'global']);
  const { node } = fc.letrec<{ node: PartialStructure }>((tie) => ({
    node: fc.oneof(
      { depthSize: 'small', withCrossShrink: true },
      fc.record({
        type: leafType.map((t) => t[0]!),
        subtype: fc.constant('plain'),
        size: fc.option(fc.nat(5000), { nil: undefined }),
        lines: fc.option(fc.nat(100), { nil: undefined }),
        parameters: fc.dictionary(fc.constantFrom('charset', 'name', 'boundary'), fc.string({ maxLength: 8 })),
      }),
      fc.record({
        type: fc.constant('multipart'),
        subtype: fc.constantFrom('mixed', 'digest', 'alternative'),
        parameters: fc.dictionary(fc.constantFrom('boundary'), fc.string({ maxLength: 8 })),
        children: fc.array(tie('node'), { maxLength: 4 }),
      }),
      fc.record({
        type: fc.constant('message'),
        subtype: fc.constant('rfc822'),
        size: fc.nat(5000),
        lines: fc.nat(100),
        envelope: fc.record({ subject: fc.string({ maxLength: 10 }), from: fc.array(fc.record({ name: fc.string({ maxLength: 6 }), address: fc.emailAddress() }), { maxLength: 2 }) }),
        children: fc.array(tie('node'), { minLength: 0, maxLength: 2 }),
      }),
    ),
  }));
  const header = fc.constantFrom(
    'Subject: x\r\n\r\n',
    'Content-Type: multipart/mixed; boundary=b\r\n\r\n',
    'Content-Type: message/rfc822\r\n\r\n',
    'no colon line\r\n',
    '',
  );
  fc.assert(
    fc.property(node, header, fc.array(fc.tuple(fc.constantFrom('1', '2', '1.1', '2.1', '1.MIME', '2.HEADER', '1.2.MIME'), fc.string({ maxLength: 40 })), { maxLength: 6 }), fc.nat(100_000), (structure, h, partList, size) => {
      const parts = new Map(partList.map(([k, v]) => [k, Buffer.from(v)] as const));
      const built = buildPartialMessage({ header: Buffer.from(h), structure, size, parts });
      assert.ok(inside(built.mime.r, built.bytes.length));
      wire(bodyStructureValue(built.mime, true));
      wire(envelopeValue(built.mime));
      for (const sec of partialHeaderSections(structure)) partialSectionAvailable(built.mime, spec(sec));
    }),
    { numRuns: 500, seed: 2045 },
  );
});
