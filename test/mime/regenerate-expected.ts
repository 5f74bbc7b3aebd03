// Tool, not a test: writes test/fixtures/mime/expected.json entries from Petrel's own answers.
//   node dist/test/mime/regenerate-expected.js [fixture.eml ...]   (no names: only fixtures without an entry)
// Run it only for fixtures whose answers the Dovecot differential test (test/interop/dovecot-mime.test.ts)
// has just compared with Dovecot's (or that are documented RFC-over-Dovecot cases in the README), so that
// expected.json keeps holding checked answers.
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { indexMessage } from '../../src/mime/indexer.js';
import { bodyStructureValue } from '../../src/mime/body-structure.js';
import { envelopeValue } from '../../src/mime/envelope.js';
import { filterHeaderFields, locateSection } from '../../src/mime/sections.js';
import { encodeValue } from '../../src/protocol/encoder.js';
import type { ResponseValue, SectionSpec } from '../../src/protocol/types.js';

const dir = new URL('../../../test/fixtures/mime/', import.meta.url);
const SECTIONS = [
  '1',
  '2',
  '3',
  'HEADER',
  'TEXT',
  '1.MIME',
  '2.MIME',
  '1.1',
  '2.1',
  '2.HEADER',
  '2.TEXT',
  '3.MIME',
  'HEADER.FIELDS (From Subject Content-Type)',
  'HEADER.FIELDS.NOT (From Subject Received)',
];

function wire(v: ResponseValue): string {
  return Buffer.concat(encodeValue(v) as Buffer[]).toString('latin1');
}

function parseSection(sec: string): SectionSpec {
  const m = /^([\d.]*?)\.?(HEADER\.FIELDS\.NOT|HEADER\.FIELDS|HEADER|TEXT|MIME)?(?: \((.*)\))?$/.exec(sec)!;
  const path = m[1] ? m[1].split('.').filter((x) => x !== '').map(Number) : [];
  const spec: SectionSpec = { path };
  if (m[2]) spec.text = m[2] as SectionSpec['text'];
  if (m[3]) spec.fields = m[3].split(' ');
  return spec;
}

const path = new URL('expected.json', dir);
const expected = JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
const all = readdirSync(dir).filter((n) => n.endsWith('.eml')).sort();
const names = process.argv.slice(2).length > 0 ? process.argv.slice(2) : all.filter((f) => !(f in expected));
for (const f of names) {
  const raw = readFileSync(new URL(f, dir));
  const ix = indexMessage(raw);
  const sections: Record<string, string | null> = {};
  for (const sec of SECTIONS) {
    const loc = locateSection(ix, parseSection(sec));
    if (!loc) {
      sections[sec] = null;
      continue;
    }
    let data: Buffer = raw.subarray(loc.start, loc.end);
    if (loc.headerFilter) data = filterHeaderFields(data, loc.headerFilter.fields, loc.headerFilter.not);
    sections[sec] = data.toString('latin1');
  }
  expected[f] = {
    ENVELOPE: wire(envelopeValue(ix)),
    BODY: wire(bodyStructureValue(ix, false)),
    BODYSTRUCTURE: wire(bodyStructureValue(ix, true)),
    sections,
  };
  console.log(`wrote ${f}`);
}
const sorted: Record<string, unknown> = {};
for (const k of Object.keys(expected).sort()) sorted[k] = expected[k];
writeFileSync(path, JSON.stringify(sorted, null, 1) + '\n');
