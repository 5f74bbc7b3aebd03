// The MIME indexer (ARCHITECTURE.md decision 4): one streaming pass over the raw message at ingest
// builds the part tree with byte offsets (src/mime/types.ts MimeIndexV1), so FETCH never re-parses.
// RFC 5322 §2.2 (header fields, unfolding), RFC 2045 §5-6 (Content-Type, Content-Transfer-Encoding;
// §5.2 default text/plain; charset=us-ascii), RFC 2046 §5.1 (multipart: boundary delimiters, the CRLF
// before a delimiter belongs to it, preamble/epilogue, §5.1.5 digest defaults to message/rfc822),
// RFC 2046 §5.2.1 / RFC 6532 §3.7 (message/rfc822, message/global), RFC 2183, RFC 3282, RFC 2231.
//
// Memory: only the current line's first bytes (enough to recognise a boundary) and, while in a header
// block, the values of the fields we index (capped by LIMITS.maxHeaderBytes) are kept.
// Robustness choices follow Dovecot 2.3 (the reference the differential tests compare with):
// boundaries match by longest prefix among all open multiparts, a delimiter also ends a header block,
// parts inside message/rfc822 are parsed whatever the transfer encoding, a multipart without a
// boundary has no children, and CRLF or bare LF are both line ends (offsets are of the stored bytes).

import { LIMITS } from '../protocol/limits.js';
import {
  parseContentType,
  parseDate,
  parseDisposition,
  parseLanguage,
  parseMechanism,
  unfold,
  envelopeText,
} from './header-parse.js';
import type { MimeIndexV1, MimePart, RawEnvelope } from './types.js';

/** Fields whose values are kept for every part. */
const MIME_FIELDS = new Set([
  'content-type',
  'content-transfer-encoding',
  'content-id',
  'content-description',
  'content-disposition',
  'content-language',
  'content-location',
  'content-md5',
  'mime-version',
]);
/** Envelope fields (RFC 9051 §7.5.2), in ENVELOPE order, kept for message roots. */
export const ENVELOPE_FIELDS = [
  'date',
  'subject',
  'from',
  'sender',
  'reply-to',
  'to',
  'cc',
  'bcc',
  'in-reply-to',
  'message-id',
] as const;
const ENVELOPE_SET = new Set<string>(ENVELOPE_FIELDS);
const ADDRESS_FIELDS = new Set(['from', 'sender', 'reply-to', 'to', 'cc', 'bcc']);

/** Longest boundary we recognise (RFC 2046 allows 70; real mail sometimes has more). */
const MAX_BOUNDARY = 200;

interface HeaderState {
  isMessage: boolean;
  /** Octets of indexed field values kept so far (capped by LIMITS.maxHeaderBytes). */
  bytes: number;
  /** Current field (lower-cased name) when it is one we keep, else null. */
  name: string | null;
  value: string;
  fields: Map<string, string>;
  /** Default Content-Type is message/rfc822 (child of multipart/digest). */
  digestChild: boolean;
}

interface OpenPart {
  part: MimePart;
  kind: 'header' | 'leaf' | 'multi' | 'message';
  depth: number;
  /** LF count at the body start. */
  lfAtBody: number;
  /** multi: boundary as latin1 bytes; undefined = no boundary (no children). */
  boundary?: Buffer;
  /** multi: the close delimiter was seen (we are in the epilogue). */
  closed: boolean;
  digest: boolean;
  /** multi beyond the nesting cap: no children; its body is the preamble, ended by the first delimiter. */
  capped?: boolean;
  /** capped: the body already ended. */
  cappedEnded?: boolean;
  hdr?: HeaderState;
}

const EMPTY = Buffer.alloc(0);

/**
 * Diagnostics: the most bytes any indexer has held at once (the kept prefix of the current line plus the
 * indexed header values of the open header block) since the last reset. Lets tests show that ingest
 * memory does not grow with the size of a part (RFC 1733's 40 MB video). Cheap: one comparison per line.
 */
export const indexerStats = { peakRetainedBytes: 0 };

export class MimeIndexer {
  /** Octets consumed so far. */
  private pos = 0;
  private lineStart = 0;
  private lineParts: Buffer[] = [];
  private lineKept = 0;
  private lineCap = 0;
  private prevByte = -1;
  /** LF characters before the current line. */
  private lfTotal = 0;
  /** LFs not preceded by CR (each widens to CRLF on the wire of POP3). */
  private bareLf = 0;
  /** Start of the previous line's terminator (CRLF or LF), -1 before the first line. */
  private prevTermStart = -1;
  /** The previous line was a boundary delimiter line. */
  private prevWasDelimiter = false;
  private readonly stack: OpenPart[] = [];
  private partCount = 1;
  private noMoreParts = false;
  private finished: MimeIndexV1 | null = null;
  private readonly root: MimePart;
  private date: number | null = null;
  private zone = 0;

  constructor() {
    this.root = { h: 0, b: 0, e: 0, n: 0 };
    this.stack.push(this.headerState(this.root, 0, true, false));
    this.lineCap = this.capFor();
  }

  /** Feeds the next bytes of the message; chunks may be of any size. */
  push(chunk: Buffer): void {
    if (this.finished) throw new Error('MimeIndexer: push after finish');
    let i = 0;
    const len = chunk.length;
    while (i < len) {
      const nl = chunk.indexOf(10, i);
      const end = nl < 0 ? len : nl + 1;
      this.keep(chunk, i, end);
      if (nl < 0) {
        this.pos += end - i;
        break;
      }
      const hasCr = nl > i ? chunk[nl - 1] === 13 : this.prevByte === 13;
      if (!hasCr) this.bareLf++;
      this.pos += end - i;
      this.prevByte = 10;
      this.endLine(true, hasCr);
      i = end;
    }
    if (len > 0 && chunk[len - 1] !== 10) this.prevByte = chunk[len - 1]!;
  }

  /** Ends the message and returns its index. */
  finish(): MimeIndexV1 {
    if (this.finished) return this.finished;
    const unterminated = this.pos > this.lineStart;
    if (unterminated) this.endLine(false, false);
    const end = this.pos;
    while (this.stack.length > 0) this.close(this.stack.pop()!, end, this.lfTotal);
    this.finished = { v: 1, z: end, dt: this.date, r: this.root };
    if (this.date !== null && this.zone !== 0) this.finished.dz = this.zone;
    const crlfSize = end + this.bareLf + (unterminated ? 2 : 0);
    if (crlfSize !== end) this.finished.cz = crlfSize;
    return this.finished;
  }

  private headerState(part: MimePart, depth: number, isMessage: boolean, digestChild: boolean): OpenPart {
    return {
      part,
      kind: 'header',
      depth,
      lfAtBody: 0,
      closed: false,
      digest: false,
      hdr: { isMessage, bytes: 0, name: null, value: '', fields: new Map(), digestChild },
    };
  }

  /** How many bytes of the next line to keep. */
  private capFor(): number {
    let longest = 0;
    if (!this.noMoreParts) {
      for (const o of this.stack) {
        if (o.kind === 'multi' && !o.closed && o.boundary && o.boundary.length > longest) longest = o.boundary.length;
      }
    }
    const boundaryKeep = longest + 5;
    const top = this.stack[this.stack.length - 1];
    if (top?.kind === 'header') {
      return Math.max(boundaryKeep, LIMITS.maxHeaderBytes - top.hdr!.bytes + 2);
    }
    return boundaryKeep;
  }

  private keep(chunk: Buffer, from: number, to: number): void {
    const room = this.lineCap - this.lineKept;
    if (room <= 0) return;
    const n = Math.min(room, to - from);
    this.lineParts.push(chunk.subarray(from, from + n));
    this.lineKept += n;
    const held = this.retainedBytes();
    if (held > indexerStats.peakRetainedBytes) indexerStats.peakRetainedBytes = held;
  }

  /** Bytes held right now: the kept prefix of the current line and the indexed header values. */
  retainedBytes(): number {
    const top = this.stack[this.stack.length - 1];
    return this.lineKept + (top?.kind === 'header' ? top.hdr!.bytes : 0);
  }

  private endLine(hasLf: boolean, hasCr: boolean): void {
    const ls = this.lineStart;
    const le = this.pos;
    const termLen = hasLf ? (hasCr ? 2 : 1) : 0;
    const termStart = le - termLen;
    let content =
      this.lineParts.length === 1 ? this.lineParts[0]! : this.lineParts.length === 0 ? EMPTY : Buffer.concat(this.lineParts);
    // Strip the terminator when we kept it (we may have kept only a prefix of a long line).
    const keptEnd = ls + content.length;
    if (keptEnd > termStart) content = content.subarray(0, Math.max(0, termStart - ls));
    const truncated = ls + content.length < termStart;
    this.lineParts = [];
    this.lineKept = 0;
    const lfBefore = this.lfTotal;
    if (hasLf) this.lfTotal++;
    this.processLine(content, truncated, ls, le, hasLf, lfBefore);
    this.prevTermStart = termStart;
    this.lineStart = le;
    this.lineCap = this.capFor();
  }

  private processLine(content: Buffer, truncated: boolean, ls: number, le: number, hasLf: boolean, lfBefore: number): void {
    if (!this.noMoreParts && content.length >= 2 && content[0] === 45 && content[1] === 45) {
      const found = this.findBoundary(content);
      if (found) {
        this.delimiter(found.index, found.close, ls, le, lfBefore);
        this.prevWasDelimiter = true;
        return;
      }
    }
    this.prevWasDelimiter = false;
    const top = this.stack[this.stack.length - 1]!;
    if (top.kind !== 'header') return;
    const hdr = top.hdr!;
    if (content.length === 0 && !truncated && hasLf) {
      this.endField(hdr);
      this.endHeader(top, le, this.lfTotal);
      return;
    }
    const c0 = content[0];
    if (c0 === 0x20 || c0 === 0x09) {
      // LIMITS.maxHeaderBytes also holds for a field folded over many short lines (each line alone fits
      // in the per-line cap of capFor()).
      if (hdr.name !== null && hdr.bytes + content.length + 2 <= LIMITS.maxHeaderBytes) {
        hdr.value += '\r\n' + content.toString('latin1');
        hdr.bytes += content.length + 2;
      }
      return;
    }
    this.endField(hdr);
    // Cap reached: later fields are not indexed (else many short "To:" lines would merge without bound).
    if (hdr.bytes >= LIMITS.maxHeaderBytes) return;
    const colon = content.indexOf(0x3a);
    if (colon <= 0) return;
    const name = content.toString('latin1', 0, colon).replace(/[ \t]+$/, '').toLowerCase();
    const mime = MIME_FIELDS.has(name);
    const env = hdr.isMessage && ENVELOPE_SET.has(name);
    if (!mime && !env) return;
    const value = content.toString('latin1', colon + 1);
    hdr.bytes += content.length;
    const prev = hdr.fields.get(name);
    if (prev === undefined) {
      hdr.name = name;
      hdr.value = value;
    } else if (env && ADDRESS_FIELDS.has(name)) {
      // Repeated address fields are merged into one list; other envelope fields and Content-Disposition:
      // the last one wins; other Content-* fields: the first one wins (Dovecot 2.3; RFC 5322 §3.6 and
      // RFC 2045 allow one each).
      hdr.fields.delete(name);
      hdr.name = name;
      hdr.value = prev + ',' + value;
    } else if (env || name === 'content-disposition') {
      hdr.name = name;
      hdr.value = value;
    }
  }

  private endField(hdr: HeaderState): void {
    if (hdr.name !== null) {
      hdr.fields.set(hdr.name, hdr.value);
      hdr.name = null;
      hdr.value = '';
    }
  }

  /** Longest open boundary that prefixes the line after "--" (innermost wins ties). */
  private findBoundary(content: Buffer): { index: number; close: boolean } | null {
    let best = -1;
    let bestLen = -1;
    for (let i = this.stack.length - 1; i >= 0; i--) {
      const o = this.stack[i]!;
      if (o.kind !== 'multi' || o.closed || !o.boundary) continue;
      const bl = o.boundary.length;
      if (bl > bestLen && content.length >= bl + 2 && content.compare(o.boundary, 0, bl, 2, 2 + bl) === 0) {
        best = i;
        bestLen = bl;
      }
    }
    if (best < 0) return null;
    const close = content[2 + bestLen] === 45 && content[3 + bestLen] === 45;
    return { index: best, close };
  }

  private delimiter(index: number, close: boolean, ls: number, le: number, lfBefore: number): void {
    // The line break before the delimiter belongs to it (RFC 2046 §5.1.1), unless that line was
    // itself a delimiter line (whose line break ends it, as Dovecot counts it).
    const endAt = this.prevWasDelimiter ? ls : this.prevTermStart;
    const lfAtEnd = this.prevWasDelimiter ? lfBefore : lfBefore - 1;
    while (this.stack.length - 1 > index) this.close(this.stack.pop()!, endAt, lfAtEnd);
    const multi = this.stack[index]!;
    if (multi.capped) {
      // Beyond the nesting cap (Dovecot 2.3's rule): the first delimiter ends the part, whatever follows up
      // to its close delimiter belongs to no part.
      if (!multi.cappedEnded) {
        this.close(multi, endAt, lfAtEnd);
        multi.cappedEnded = true;
      }
      if (close) multi.closed = true;
      return;
    }
    if (close) {
      multi.closed = true;
      return;
    }
    if (this.partCount >= LIMITS.maxMimeParts) {
      // Too many parts: stop splitting; the rest folds into the open part's body.
      this.noMoreParts = true;
      multi.closed = true;
      return;
    }
    this.partCount++;
    const child: MimePart = { h: le, b: le, e: le, n: 0 };
    (multi.part.k ??= []).push(child);
    this.stack.push(this.headerState(child, multi.depth + 1, false, multi.digest));
  }

  /** A header block ended at `b` (after its blank line); decide what the body is. */
  private endHeader(open: OpenPart, b: number, lfAtBody: number): void {
    const part = open.part;
    const hdr = open.hdr!;
    part.b = b;
    const type = this.applyFields(part, hdr);
    open.hdr = undefined;
    open.lfAtBody = lfAtBody;
    const deepOk = open.depth < LIMITS.maxMimeDepth;
    if (type.t === 'multipart') {
      open.kind = 'multi';
      const boundary = paramValue(part.p, 'boundary');
      if (boundary !== undefined && boundary.length <= MAX_BOUNDARY) {
        // An empty boundary is invalid (RFC 2046 §5.1.1: 1 to 70 characters) but Dovecot 2.3 splits on "--"
        // lines then, and so do we.
        open.boundary = Buffer.from(boundary, 'latin1');
      }
      if (deepOk) {
        part.k = [];
        open.digest = type.s === 'digest';
      } else {
        // Too deep: a leaf sent as application/octet-stream (MimePart.x), as Dovecot 2.3 does.
        part.x = 1;
        if (open.boundary) open.capped = true;
        else open.kind = 'leaf';
      }
    } else if (type.t === 'message' && (type.s === 'rfc822' || type.s === 'global') && !deepOk) {
      part.x = 1;
      open.kind = 'leaf';
    } else if (type.t === 'message' && (type.s === 'rfc822' || type.s === 'global') && deepOk && !this.noMoreParts) {
      open.kind = 'message';
      this.partCount++;
      const child: MimePart = { h: b, b, e: b, n: 0 };
      part.g = child;
      this.stack.push(this.headerState(child, open.depth + 1, true, false));
    } else {
      open.kind = 'leaf';
    }
  }

  /** Copies the indexed header fields into the part; returns the effective lower-cased type. */
  private applyFields(part: MimePart, hdr: HeaderState): { t: string; s: string } {
    let f = hdr.fields;
    if (hdr.isMessage && !f.has('content-type') && !f.has('mime-version')) {
      // Not a MIME message (RFC 2045 §4: without MIME-Version the body may be read by local convention):
      // its other Content-* fields are ignored, as Dovecot 2.3 does. Envelope fields still count.
      f = new Map([...f].filter(([name]) => !name.startsWith('content-')));
    }
    const ctRaw = f.get('content-type');
    const ct = ctRaw !== undefined ? parseContentType(ctRaw) : null;
    let eff: { t: string; s: string };
    if (ct) {
      part.t = ct.type;
      part.s = ct.subtype;
      if (ct.params.length > 0) part.p = ct.params;
      eff = { t: ct.type.toLowerCase(), s: ct.subtype.toLowerCase() };
    } else if (hdr.digestChild) {
      part.dg = 1;
      eff = { t: 'message', s: 'rfc822' };
    } else {
      eff = { t: 'text', s: 'plain' };
    }
    const simple: [string, 'id' | 'ds' | 'c' | 'lo' | 'm'][] = [
      ['content-id', 'id'],
      ['content-description', 'ds'],
      ['content-location', 'lo'],
      ['content-md5', 'm'],
    ];
    for (const [name, key] of simple) {
      const v = f.get(name);
      // As Dovecot 2.3 sends them: leading white space and CR/LF removed, trailing white space kept.
      if (v !== undefined) part[key] = envelopeText(v);
    }
    const cte = f.get('content-transfer-encoding');
    if (cte !== undefined) {
      const c = parseMechanism(cte);
      if (c !== null) part.c = c;
    }
    const disp = f.get('content-disposition');
    if (disp !== undefined) {
      const d = parseDisposition(disp);
      if (d) {
        part.dt = d.type;
        if (d.params.length > 0) part.dp = d.params;
      }
    }
    const lang = f.get('content-language');
    if (lang !== undefined) {
      const l = parseLanguage(lang);
      if (l.length > 0) part.la = l;
    }
    if (hdr.isMessage) {
      const en = ENVELOPE_FIELDS.map((name) => {
        const v = f.get(name);
        return v === undefined ? null : envelopeText(v);
      }) as RawEnvelope;
      part.en = en;
      const subject = f.get('subject');
      if (subject !== undefined && /[\r\n]/.test(subject)) part.sf = 1;
      if (part === this.root && en[0] !== null) {
        const d = parseDate(en[0]);
        if (d) {
          this.date = d.ms;
          this.zone = d.zone;
        }
      }
    }
    return eff;
  }

  /** Closes an open part whose body ends at `endAt` (clamped to its body start). */
  private close(open: OpenPart, endAt: number, lfAtEnd: number): void {
    const part = open.part;
    if (open.kind === 'header') {
      // The header never ended with a blank line: it runs to here and the body is empty.
      this.endField(open.hdr!);
      // An encapsulated message whose parent's header blank line was the delimiter's line break (RFC 2046
      // §5.1.1) starts where its parent's empty body does, not after that line break.
      if (endAt < part.h) part.h = endAt;
      const b = Math.max(part.h, endAt);
      this.endHeader(open, b, lfAtEnd);
      if ((open.kind as OpenPart['kind']) === 'message') {
        // endHeader pushed the encapsulated message; it is empty too.
        const inner = this.stack.pop()!;
        this.close(inner, b, lfAtEnd);
      }
      part.e = b;
      part.n = 0;
      return;
    }
    // A capped multipart's body ended at its first delimiter.
    if (open.cappedEnded) return;
    if (endAt > part.b) {
      part.e = endAt;
      part.n = Math.max(0, lfAtEnd - open.lfAtBody);
    } else {
      // Empty body and the header's blank line is the delimiter's line break: the header ends there.
      part.b = Math.max(part.h, Math.min(part.b, endAt));
      part.e = part.b;
      part.n = 0;
    }
  }
}

function paramValue(params: string[] | undefined, name: string): string | undefined {
  if (!params) return undefined;
  for (let i = 0; i + 1 < params.length; i += 2) if (params[i]!.toLowerCase() === name) return params[i + 1];
  return undefined;
}

/** Indexes a whole message held in memory. */
export function indexMessage(data: Buffer): MimeIndexV1 {
  const ix = new MimeIndexer();
  ix.push(data);
  return ix.finish();
}
