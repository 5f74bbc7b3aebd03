// Response encoder: ResponseValue → wire bytes (sans I/O).
// RFC 9051 §4.3 (strings: quoted vs literal), §4.5 (NIL), §7 (responses), §7.1 (status responses and
// response codes), §7.5 (continuation request), §9 (formal syntax: quoted, literal, literal8 `~{n}` of
// RFC 3516, number), RFC 6855 §3 / RFC 9051 §4.3.1 (8-bit UTF-8 in quoted strings once UTF8=ACCEPT or
// IMAP4rev2 is enabled). RFC 7888 for the client side's non-synchronizing literals.
import { LIMITS } from './limits.js';
import { Adjacent, Atom, Encoded, LiteralData, StreamData } from './types.js';
import type { ResponseCode, ResponseValue, Status } from './types.js';

export interface EncodeOptions {
  /** UTF8=ACCEPT or IMAP4rev2 in effect: 8-bit UTF-8 may go in quoted strings. */
  utf8?: boolean;
  /** Client side with LITERAL+: send every literal as `{n+}` (never from a server, RFC 7888 §3). */
  literalPlus?: boolean;
  /** Client side with LITERAL-: `{n+}` for literals up to 4096 octets, `{n}` above (RFC 7888 §5). */
  literalMinus?: boolean;
  /** Longest quoted string before a literal is used (default LIMITS.maxQuotedLength). */
  maxQuotedLength?: number;
}

const MAX_DEPTH = Math.max(64, 2 * LIMITS.maxMimeDepth + 16);

export type EncodedChunk = Buffer | StreamData;

/** Accumulates output, merging adjacent text and buffers into one Buffer between streams. */
class Sink {
  readonly out: EncodedChunk[] = [];
  private parts: Buffer[] = [];
  private text = '';

  str(s: string): void {
    this.text += s;
  }

  buf(b: Buffer): void {
    this.flushText();
    this.parts.push(b);
  }

  stream(s: StreamData): void {
    this.flushParts();
    this.out.push(s);
  }

  private flushText(): void {
    if (this.text.length > 0) {
      this.parts.push(Buffer.from(this.text, 'utf8'));
      this.text = '';
    }
  }

  private flushParts(): void {
    this.flushText();
    if (this.parts.length === 1) this.out.push(this.parts[0]!);
    else if (this.parts.length > 1) this.out.push(Buffer.concat(this.parts));
    this.parts = [];
  }

  finish(): EncodedChunk[] {
    this.flushParts();
    return this.out;
  }
}

function literalHeader(size: number, binary: boolean, opts: EncodeOptions): string {
  const plus = opts.literalPlus || (opts.literalMinus && size <= LIMITS.literalMinusMax) ? '+' : '';
  return `${binary ? '~' : ''}{${size}${plus}}\r\n`;
}

/** Can these bytes go in a quoted string? (RFC 9051 §9: QUOTED-CHAR excludes CR, LF; no NUL anywhere.) */
function quotable(bytes: Buffer, opts: EncodeOptions): boolean {
  if (bytes.length > (opts.maxQuotedLength ?? LIMITS.maxQuotedLength)) return false;
  const utf8 = opts.utf8 === true;
  for (let i = 0; i < bytes.length; i++) {
    const c = bytes[i]!;
    if (c === 0x0d || c === 0x0a || c === 0) return false;
    if (c >= 0x80 && !utf8) return false;
  }
  return true;
}

function writeQuoted(sink: Sink, bytes: Buffer): void {
  let needsEscape = false;
  for (let i = 0; i < bytes.length; i++) {
    const c = bytes[i]!;
    if (c === 0x22 || c === 0x5c) {
      needsEscape = true;
      break;
    }
  }
  if (!needsEscape) {
    sink.str('"');
    sink.buf(bytes);
    sink.str('"');
    return;
  }
  const out: number[] = [0x22];
  for (let i = 0; i < bytes.length; i++) {
    const c = bytes[i]!;
    if (c === 0x22 || c === 0x5c) out.push(0x5c);
    out.push(c);
  }
  out.push(0x22);
  sink.buf(Buffer.from(out));
}

function writeString(sink: Sink, bytes: Buffer, opts: EncodeOptions): void {
  if (quotable(bytes, opts)) {
    writeQuoted(sink, bytes);
    return;
  }
  sink.str(literalHeader(bytes.length, false, opts));
  sink.buf(bytes);
}

function write(sink: Sink, v: ResponseValue, opts: EncodeOptions, depth: number): void {
  // BODYSTRUCTURE nests about one list per MIME level (src/mime caps those at LIMITS.maxMimeDepth).
  if (depth > MAX_DEPTH) throw new Error('Response nested too deeply');
  if (v === null) {
    sink.str('NIL');
  } else if (typeof v === 'number') {
    if (!Number.isSafeInteger(v) || v < 0) throw new Error(`Cannot encode number ${v}`);
    sink.str(String(v));
  } else if (typeof v === 'string') {
    // Fast path for short printable ASCII without specials.
    if (v.length <= 64 && /^[\x20\x21\x23-\x5b\x5d-\x7e]*$/.test(v)) sink.str(`"${v}"`);
    else writeString(sink, Buffer.from(v, 'utf8'), opts);
  } else if (Buffer.isBuffer(v)) {
    writeString(sink, v, opts);
  } else if (v instanceof Atom) {
    sink.str(v.value);
  } else if (v instanceof LiteralData) {
    sink.str(literalHeader(v.data.length, v.binary, opts));
    sink.buf(v.data);
  } else if (v instanceof StreamData) {
    sink.str(literalHeader(v.size, v.binary, opts));
    sink.stream(v);
  } else if (v instanceof Adjacent) {
    for (const item of v.items) write(sink, item, opts, depth);
  } else if (v instanceof Encoded) {
    if (typeof v.bytes === 'string') sink.str(v.bytes);
    else sink.buf(v.bytes);
  } else if (Array.isArray(v)) {
    sink.str('(');
    writeJoined(sink, v, opts, depth + 1);
    sink.str(')');
  } else {
    throw new Error('Cannot encode value');
  }
}

function writeJoined(sink: Sink, values: readonly ResponseValue[], opts: EncodeOptions, depth: number): void {
  for (let i = 0; i < values.length; i++) {
    if (i > 0) sink.str(' ');
    write(sink, values[i]!, opts, depth);
  }
}

/** One value. StreamData comes out as its own chunk right after its `{n}\r\n` header. */
export function encodeValue(v: ResponseValue, opts: EncodeOptions = {}): EncodedChunk[] {
  const sink = new Sink();
  write(sink, v, opts, 0);
  return sink.finish();
}

/** Values joined by SP, then CRLF: one complete response (or command, on the client side). */
export function encodeResponse(parts: readonly ResponseValue[], opts: EncodeOptions = {}): EncodedChunk[] {
  const sink = new Sink();
  writeJoined(sink, parts, opts, 0);
  sink.str('\r\n');
  return sink.finish();
}

/** Several responses, each values joined by SP then CRLF, in one chunk list (one socket write for many
 *  small untagged responses, e.g. a FETCH over many messages). */
export function encodeResponses(list: ReadonlyArray<readonly ResponseValue[]>, opts: EncodeOptions = {}): EncodedChunk[] {
  const sink = new Sink();
  for (const parts of list) {
    writeJoined(sink, parts, opts, 0);
    sink.str('\r\n');
  }
  return sink.finish();
}

/** `* <values...>\r\n` */
export function untagged(values: readonly ResponseValue[], opts: EncodeOptions = {}): EncodedChunk[] {
  return encodeResponse([new Atom('*'), ...values], opts);
}

/** Text after the status/code: one line, no CR/LF/NUL (RFC 9051 §9 text = 1*TEXT-CHAR). */
function cleanText(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/[\r\n\0]/g, ' ');
}

/** `[NAME args]` of a status response (RFC 9051 §7.1). */
export function formatResponseCode(code: ResponseCode, opts: EncodeOptions = {}): string {
  let s = '[' + code.name;
  if (code.args !== undefined) {
    let args: string;
    if (typeof code.args === 'string') args = cleanText(code.args);
    else {
      const chunks = encodeValueList(code.args, opts);
      args = chunks.toString('utf8');
      if (/[\r\n]/.test(args)) throw new Error('Response code arguments must fit on one line');
    }
    if (args.length > 0) s += ' ' + args;
  }
  return s + ']';
}

function encodeValueList(values: readonly ResponseValue[], opts: EncodeOptions): Buffer {
  const sink = new Sink();
  // Codes live on one line: quote everything quotable, 8-bit included (text is UTF-8 anyway).
  writeJoined(sink, values, { ...opts, utf8: true, maxQuotedLength: Number.MAX_SAFE_INTEGER }, 0);
  const out = sink.finish();
  if (out.some((c) => !Buffer.isBuffer(c))) throw new Error('Streams are not allowed in a response code');
  return Buffer.concat(out as Buffer[]);
}

/** A status response: `tag OK [CODE args] text\r\n`; tag '*' for untagged (RFC 9051 §7.1). */
export function statusLine(tag: string, status: Status, code: ResponseCode | null, text: string): Buffer {
  let s = `${tag} ${status} `;
  if (code) s += formatResponseCode(code) + ' ';
  const t = cleanText(text);
  // RFC 3501 requires text after the status (1*TEXT-CHAR); RFC 9051 makes it optional. Always send some.
  s += t.length > 0 ? t : status === 'OK' ? 'Completed' : 'Failed';
  return Buffer.from(s + '\r\n', 'utf8');
}

/** A command continuation request: `+ text\r\n` (RFC 9051 §7.5). Text may be empty (SASL). */
export function continuation(text: string): Buffer {
  return Buffer.from(`+ ${cleanText(text)}\r\n`, 'utf8');
}

/** Total wire size of encoded chunks (StreamData counts its declared size). */
export function encodedSize(chunks: readonly EncodedChunk[]): number {
  let n = 0;
  for (const c of chunks) n += Buffer.isBuffer(c) ? c.length : c.size;
  return n;
}

/** Queue of output for a connection: counts queued bytes so the I/O layer can apply backpressure
 *  (stop producing at LIMITS.maxOutputBuffer). Pure bookkeeping; the writer takes chunks and writes them. */
export class OutputBuffer {
  private chunks: EncodedChunk[] = [];
  private bytes = 0;

  constructor(readonly highWaterMark: number = LIMITS.maxOutputBuffer) {}

  push(chunks: readonly EncodedChunk[]): void {
    for (const c of chunks) {
      const last = this.chunks[this.chunks.length - 1];
      // Merge small adjacent buffers so the writer makes fewer syscalls.
      if (Buffer.isBuffer(c) && Buffer.isBuffer(last) && last.length + c.length <= 16 * 1024) {
        this.chunks[this.chunks.length - 1] = Buffer.concat([last, c]);
      } else {
        this.chunks.push(c);
      }
      this.bytes += Buffer.isBuffer(c) ? c.length : c.size;
    }
  }

  /** Everything queued, in order; the queue is then empty. */
  takeChunks(): EncodedChunk[] {
    const out = this.chunks;
    this.chunks = [];
    this.bytes = 0;
    return out;
  }

  get bytesQueued(): number {
    return this.bytes;
  }

  get length(): number {
    return this.chunks.length;
  }

  /** True when the producer should wait for the writer. */
  get full(): boolean {
    return this.bytes >= this.highWaterMark;
  }
}
