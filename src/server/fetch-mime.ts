// What SEARCH needs from the stored MIME index beyond src/mime/sections.ts: the leaf parts with their
// media type (RFC 9051 §6.4.4 lets servers search only text and message parts) and Content-Type
// parameters (RFC 2045 §5.1, the charset of a text part).
import type { MimeIndex, MimeIndexV1, MimePart } from '../mime/types.js';

export interface LeafPart {
  part: MimePart;
  /** Lower-cased media type and subtype, defaulted per RFC 2045 §5.2 / RFC 2046 §5.1.5. */
  type: string;
  subtype: string;
}

/** Leaf parts in order, descending into multiparts and encapsulated messages. */
export function leafParts(index: MimeIndex): LeafPart[] {
  const out: LeafPart[] = [];
  const walk = (p: MimePart, depth: number): void => {
    if (depth > 64) return;
    if (p.k) {
      for (const c of p.k) walk(c, depth + 1);
      return;
    }
    if (p.g) {
      walk(p.g, depth + 1);
      return;
    }
    const type = (p.t ?? (p.dg ? 'message' : 'text')).toLowerCase();
    const subtype = (p.s ?? (p.dg ? 'rfc822' : 'plain')).toLowerCase();
    out.push({ part: p, type, subtype });
  };
  const idx = index as MimeIndexV1;
  if (idx.r) walk(idx.r, 0);
  return out;
}

/** The parameter `name` (lower-case) of a part's Content-Type, e.g. charset; null when absent. */
export function contentParam(p: MimePart, name: string): string | null {
  const params = p.p ?? [];
  for (let i = 0; i + 1 < params.length; i += 2) if (params[i]!.toLowerCase() === name) return params[i + 1]!;
  return null;
}
