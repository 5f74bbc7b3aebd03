// FETCH's render cache: ENVELOPE, BODY and BODYSTRUCTURE (RFC 9051 §7.5.2, RFC 3501 §7.4.2) of a message are
// encoded once and kept in the store (Store.getFetchCache / putFetchCache: per message in SQLite, per blob
// in PostgreSQL), so a later `FETCH 1:* (BODYSTRUCTURE)` reads a short string per message instead of
// parsing the stored part tree and building the answer again (docs/benchmarks.md "FETCH render cache").
// Texts are written at append when a server runs in the process (startServer installs the renderer with
// Store.setFetchCacheRenderer), else by the message's first FETCH. The answer bytes are the
// renderer's own (src/mime/body-structure.ts, src/mime/envelope.ts through src/protocol/encoder.ts): the
// cache only remembers them.
//
// The encoded form depends on one session setting: with UTF8=ACCEPT or IMAP4rev2 (RFC 6855 §3, RFC 9051
// §4.3.1) 8-bit strings may be quoted, otherwise they are literals. Both forms are kept when they differ.
// Partial messages of a replica (src/mime/partial.ts) are not cached: their index can still change.
//
// Text format, one text per item (the store's slots; opaque to the store): "P<version>;" then entries
// `<key><length>:<bytes>`, bytes as latin1 characters (one per octet). Keys: S BODYSTRUCTURE, B BODY,
// E ENVELOPE for the plain form; lower case for the UTF-8 form, present only when it differs. A text of
// another version or the wrong key is ignored and replaced: bump RENDER_CACHE_VERSION whenever
// src/mime/body-structure.ts, src/mime/envelope.ts or the encoder change what they send.
import { encodeValue } from '../../protocol/encoder.js';
import { Encoded } from '../../protocol/types.js';
import type { ResponseValue } from '../../protocol/types.js';
import { bodyStructureValue } from '../../mime/body-structure.js';
import { envelopeValue } from '../../mime/envelope.js';
import { isPartial } from '../../mime/partial.js';
import type { MimeIndex } from '../../mime/types.js';
import type { FetchAtt } from '../../protocol/fetch-items.js';
import type { FetchRequest } from '../fetch-render.js';
import type { FetchCacheSlot } from '../../store/types.js';

export const RENDER_CACHE_VERSION = 1;
const PREFIX = `P${RENDER_CACHE_VERSION};`;

export type CachedKind = 'ENVELOPE' | 'BODY' | 'BODYSTRUCTURE';
const KEY: Record<CachedKind, string> = { ENVELOPE: 'E', BODY: 'B', BODYSTRUCTURE: 'S' };

/** Items a FETCH can answer from the message row and the render cache alone (no blob read, no \Seen). */
const ROW_ITEMS = new Set<FetchAtt['kind']>([
  'UID',
  'FLAGS',
  'MODSEQ',
  'INTERNALDATE',
  'RFC822.SIZE',
  'ENVELOPE',
  'BODY',
  'BODYSTRUCTURE',
  'EMAILID',
  'THREADID',
  'SAVEDATE',
]);

/** True when every item of `req` is answered from the row (and the render cache). */
export function rowOnly(req: FetchRequest): boolean {
  return req.items.every((it) => ROW_ITEMS.has(it.kind));
}

/** The items of `req` the render cache holds (none: the cache is of no use to it). */
export function cachedKinds(req: FetchRequest): CachedKind[] {
  const out: CachedKind[] = [];
  for (const it of req.items) {
    if ((it.kind === 'ENVELOPE' || it.kind === 'BODY' || it.kind === 'BODYSTRUCTURE') && !out.includes(it.kind)) out.push(it.kind);
  }
  return out;
}

/** The store's slot of each cached item (Store.getFetchCache). */
export const SLOT: Record<CachedKind, FetchCacheSlot> = { ENVELOPE: 'envelope', BODY: 'body', BODYSTRUCTURE: 'bodystructure' };

/** One message's cached items (the stored texts of the slots asked for); records what this FETCH adds. */
export class RenderCacheEntry {
  /** Texts rendered by this FETCH, by item; null until a miss. */
  private added: Map<CachedKind, string> | null = null;

  constructor(
    /** The items whose texts were read, and the texts (null: none stored), in the same order. */
    private readonly kinds: readonly CachedKind[],
    private readonly stored: ReadonlyArray<string | null>,
    /** The message's index; only called on a miss. */
    private readonly mime: () => MimeIndex | null,
  ) {}

  /** True when a stored text answers `kind` in either quoting mode (the plain form is always stored, the
   *  UTF-8 one next to it when it differs). */
  static covers(text: string | null, kind: CachedKind): boolean {
    return text !== null && text.startsWith(PREFIX) && findEntry(text, PREFIX.length, KEY[kind]) !== undefined;
  }

  /** Something was added: the texts should be stored. */
  get dirty(): boolean {
    return this.added !== null;
  }

  /** The encoded value of `kind` for a session with (utf8) or without UTF-8 quoting. */
  value(kind: CachedKind, utf8: boolean): ResponseValue {
    const key = KEY[kind];
    const text = this.added?.get(kind) ?? this.stored[this.kinds.indexOf(kind)] ?? null;
    if (text !== null && text.startsWith(PREFIX)) {
      const hit = (utf8 ? findEntry(text, PREFIX.length, key.toLowerCase()) : undefined) ?? findEntry(text, PREFIX.length, key);
      if (hit !== undefined) return new Encoded(ASCII.test(hit) ? hit : Buffer.from(hit, 'latin1'));
    }
    const mime = this.mime();
    if (!mime) throw new Error('message index required');
    const v = kind === 'ENVELOPE' ? envelopeValue(mime) : bodyStructureValue(mime, kind === 'BODYSTRUCTURE');
    if (isPartial(mime)) return v;
    let plain: Buffer;
    let wide: Buffer;
    try {
      plain = encodedBytes(v, false);
      // All US-ASCII: no string had an 8-bit octet, the only thing the UTF-8 mode quotes differently.
      wide = isAscii(plain) ? plain : encodedBytes(v, true);
    } catch {
      return v; // not encodable (nested too deeply): the response encoder reports it as before
    }
    // PostgreSQL text cannot hold NUL; such a value (never in practice: the encoder makes NUL-bearing
    // strings literals, and stored mail rarely has NUL in a header) is simply rendered every time.
    if (plain.includes(0) || wide.includes(0)) return v;
    let stored = `${PREFIX}${key}${plain.length}:${plain.toString('latin1')}`;
    if (!wide.equals(plain)) stored += `${key.toLowerCase()}${wide.length}:${wide.toString('latin1')}`;
    (this.added ??= new Map()).set(kind, stored);
    return new Encoded(utf8 ? wide : plain);
  }

  /** The texts this FETCH rendered, by slot, for Store.putFetchCache. */
  addedTexts(): Partial<Record<FetchCacheSlot, string>> {
    const out: Partial<Record<FetchCacheSlot, string>> = {};
    for (const [kind, text] of this.added ?? []) out[SLOT[kind]] = text;
    return out;
  }
}

// eslint-disable-next-line no-control-regex
const ASCII = /^[\x00-\x7f]*$/;

/** The bytes of entry `key` in a stored text, scanning `<key><length>:<bytes>` entries from `pos`. */
function findEntry(text: string, pos: number, key: string): string | undefined {
  while (pos < text.length) {
    const k = text[pos]!;
    const colon = text.indexOf(':', pos + 1);
    if (colon < 0) return undefined;
    const len = Number(text.slice(pos + 1, colon));
    if (!Number.isSafeInteger(len) || len < 0 || colon + 1 + len > text.length) return undefined;
    if (k === key) return text.slice(colon + 1, colon + 1 + len);
    pos = colon + 1 + len;
  }
  return undefined;
}

function isAscii(b: Buffer): boolean {
  for (let i = 0; i < b.length; i++) if (b[i]! >= 0x80) return false;
  return true;
}

function encodedBytes(v: ResponseValue, utf8: boolean): Buffer {
  const chunks = encodeValue(v, { utf8 });
  if (chunks.length === 1 && Buffer.isBuffer(chunks[0])) return chunks[0];
  return Buffer.concat(chunks.filter((c): c is Buffer => Buffer.isBuffer(c)));
}


/**
 * The render-cache texts of a new message: ENVELOPE, BODY and BODYSTRUCTURE encoded, for the store to keep
 * from append on (Store.setFetchCacheRenderer); null for a partial message.
 */
export function renderCacheText(mime: MimeIndex): Partial<Record<FetchCacheSlot, string>> | null {
  const entry = new RenderCacheEntry([], [], () => mime);
  for (const kind of ['ENVELOPE', 'BODY', 'BODYSTRUCTURE'] as const) entry.value(kind, false);
  return entry.dirty ? entry.addedTexts() : null;
}
