// Test helper: turns a whole message into what a replica holds when only some parts were downloaded
// (src/mime/partial.ts), without a remote server: BODYSTRUCTURE-like tree from the message's own index,
// the header sections partialHeaderSections asks for, and the chosen part bodies.
import { buildPartialMessage, partialHeaderSections, type PartialMessage, type PartialStructure } from '../../src/mime/partial.js';
import { indexMessage } from '../../src/mime/indexer.js';
import { locateSection } from '../../src/mime/sections.js';
import type { MimePart } from '../../src/mime/types.js';
import type { SectionSpec } from '../../src/protocol/types.js';

function node(p: MimePart, sec: string): PartialStructure {
  const params: Record<string, string> = {};
  for (let i = 0; i + 1 < (p.p ?? []).length; i += 2) params[p.p![i]!.toLowerCase()] = p.p![i + 1]!;
  if (p.k) {
    return { part: sec, type: 'multipart', subtype: (p.s ?? 'mixed').toLowerCase(), parameters: params, children: p.k.map((c, i) => node(c, sec === '' ? String(i + 1) : `${sec}.${i + 1}`)) };
  }
  const type = p.x ? 'application' : (p.t ?? (p.dg ? 'message' : 'text')).toLowerCase();
  const subtype = p.x ? 'octet-stream' : (p.s ?? (p.dg ? 'rfc822' : 'plain')).toLowerCase();
  const out: PartialStructure = { part: sec, type, subtype, parameters: params, size: p.e - p.b, lines: p.n };
  if (p.c) out.encoding = p.c.toLowerCase();
  if (p.g) out.children = [p.g.k ? node(p.g, sec) : node(p.g, `${sec}.1`)];
  return out;
}

export function spec(section: string): SectionSpec {
  const m = /^([\d.]*?)\.?(HEADER|MIME|TEXT)?$/.exec(section)!;
  const path = m[1] ? m[1].split('.').map(Number) : [];
  return m[2] ? { path, text: m[2] as SectionSpec['text'] } : { path };
}

/** The BODYSTRUCTURE-like tree of a whole message, numbered as RFC 9051 §6.4.5 (and our client) number parts. */
export function structureOf(raw: Buffer): PartialStructure {
  const ix = indexMessage(raw);
  return ix.r.k ? node(ix.r, '') : node(ix.r, '1');
}

/** The partial form of `raw` holding the top header, the MIME headers (all, or those `headers` keeps)
 *  and the bodies of `keep`. */
export function makePartial(
  raw: Buffer,
  keep: readonly string[],
  headers: (section: string) => boolean = () => true,
): PartialMessage & { structure: PartialStructure } {
  const ix = indexMessage(raw);
  const structure = structureOf(raw);
  const parts = new Map<string, Buffer>();
  for (const sec of [...partialHeaderSections(structure).filter(headers), ...keep]) {
    const loc = locateSection(ix, spec(sec));
    if (loc) parts.set(sec, raw.subarray(loc.start, loc.end));
  }
  const built = buildPartialMessage({ header: raw.subarray(ix.r.h, ix.r.b), structure, size: raw.length, parts });
  return { ...built, structure };
}

/** A multipart/mixed message: a text part (1), a base64 attachment (2), a forwarded message (3). */
export const SAMPLE = Buffer.from(
  [
    'From: Ann Example <ann@example.org>',
    'To: bob@example.net',
    'Subject: quarterly report',
    'Message-ID: <partial-1@example.org>',
    'Date: Tue, 2 Jan 2024 09:00:00 +0100',
    'MIME-Version: 1.0',
    'Content-Type: multipart/mixed; boundary="b1"',
    '',
    'preamble',
    '--b1',
    'Content-Type: text/plain; charset=utf-8',
    '',
    'Hello Bob, the figures are attached.',
    '--b1',
    'Content-Type: application/octet-stream; name="figures.bin"',
    'Content-Disposition: attachment; filename="figures.bin"',
    'Content-Transfer-Encoding: base64',
    '',
    Buffer.from('zebra-in-the-attachment\0binary').toString('base64'),
    '--b1',
    'Content-Type: message/rfc822',
    '',
    'From: Carl <carl@example.com>',
    'Subject: the forwarded one',
    '',
    'forwarded walrus text',
    '--b1--',
    'epilogue',
    '',
  ].join('\r\n'),
);
