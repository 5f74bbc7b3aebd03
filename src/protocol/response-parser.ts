// Push tokenizer for server responses, for the client side (sans I/O).
// RFC 9051 §2.2.2 (server responses), §7 (responses: status with response codes, server data,
// continuation requests), §7.1 (resp-text-code), §9 (formal syntax: response, resp-cond-state,
// resp-cond-bye, continue-req, literal, quoted, nil), RFC 3516 (literal8 `~{n}` in FETCH BINARY).
// A response spanning literals is delivered as one event once its last line arrives. Status text is
// taken verbatim to the end of the line; untagged data and response-code arguments are tokenized into
// ImapArg values (NIL stays the atom "NIL", numbers stay atoms: the consumer knows the grammar).
import { LIMITS } from './limits.js';
import type { ImapArg, LiteralSink, Status } from './types.js';

export interface ParsedResponseCode {
  /** Upper-cased name, e.g. 'UIDVALIDITY'. */
  name: string;
  args: ImapArg[];
  /** The text between "[" and "]" as sent. */
  raw: string;
}

export type ServerResponse =
  | { kind: 'status'; tag: string | null; status: Status; code: ParsedResponseCode | null; text: string }
  /** Untagged server data: everything after "* ", e.g. ['3', 'EXISTS'] or ['12', 'FETCH', [...]]. */
  | { kind: 'data'; values: ImapArg[] }
  | { kind: 'continuation'; text: string };

export type ResponseEvent = { kind: 'response'; response: ServerResponse } | { kind: 'error'; text: string };

export interface ResponseParserOptions {
  /** Longest response line (without literals). Server lines such as SEARCH results can be long. */
  maxLineLength?: number;
  /** Largest literal buffered in memory. */
  maxLiteralSize?: number;
  /** Optional: stream big literals (message bodies) into a sink instead of buffering them. `context`
   *  tells where the literal sits: `head` is the response's first line (e.g. `* 12 FETCH (UID 5 BODY[] `
   *  for the first literal), `line` the current line up to the literal's `{n}` (e.g. ` BODY[2] `). */
  openLiteralSink?: (size: number, literal8: boolean, context: LiteralContext) => LiteralSink | undefined;
}

export interface LiteralContext {
  head: Buffer;
  line: Buffer;
}

class ResponseSyntaxError extends Error {}

type Piece = { text: Buffer } | { literal: ImapArg };

const STATUS = new Set(['OK', 'NO', 'BAD', 'BYE', 'PREAUTH']);

export class ResponseParser {
  private readonly maxLineLength: number;
  private readonly maxLiteralSize: number;
  private readonly openLiteralSink: ResponseParserOptions['openLiteralSink'];
  private chunks: Buffer[] = [];
  private lineParts: Buffer[] = [];
  private lineLen = 0;
  private pieces: Piece[] = [];
  private literal: { remaining: number; size: number; literal8: boolean; parts: Buffer[]; sink?: LiteralSink; discard: boolean } | null = null;
  private skipping = false;
  private out: ResponseEvent[] = [];

  constructor(opts: ResponseParserOptions = {}) {
    this.maxLineLength = opts.maxLineLength ?? 16 * 1024 * 1024;
    this.maxLiteralSize = opts.maxLiteralSize ?? LIMITS.maxMessageSize * 2;
    this.openLiteralSink = opts.openLiteralSink;
  }

  push(chunk: Buffer): ResponseEvent[] {
    this.chunks.push(chunk);
    while (this.chunks.length > 0) {
      const c = this.chunks[0]!;
      if (c.length === 0) {
        this.chunks.shift();
        continue;
      }
      const used = this.literal ? this.stepLiteral(c) : this.stepLine(c);
      if (used >= c.length) this.chunks.shift();
      else this.chunks[0] = c.subarray(used);
    }
    const out = this.out;
    this.out = [];
    return out;
  }

  private stepLiteral(c: Buffer): number {
    const lit = this.literal!;
    const n = Math.min(lit.remaining, c.length);
    const piece = c.subarray(0, n);
    if (!lit.discard) {
      if (lit.sink) lit.sink.write(piece);
      else lit.parts.push(piece);
    }
    lit.remaining -= n;
    if (lit.remaining === 0) {
      this.literal = null;
      if (!lit.discard) {
        if (lit.sink) {
          lit.sink.end();
          this.pieces.push({ literal: { type: 'stream', size: lit.size, literal8: lit.literal8, sink: lit.sink } });
        } else {
          this.pieces.push({ literal: { type: 'string', value: Buffer.concat(lit.parts), literal: true, literal8: lit.literal8 } });
        }
      }
    }
    return n;
  }

  private stepLine(c: Buffer): number {
    const lf = c.indexOf(0x0a);
    const take = lf < 0 ? c.length : lf;
    if (!this.skipping && this.lineLen + take > this.maxLineLength + 1) {
      this.abortResponse('Response line too long');
      this.skipping = true;
    }
    if (this.skipping) {
      if (lf < 0) return c.length;
      this.skipping = false;
      return lf + 1;
    }
    if (lf < 0) {
      this.lineParts.push(c);
      this.lineLen += c.length;
      return c.length;
    }
    let line = Buffer.concat([...this.lineParts, c.subarray(0, lf)]);
    this.lineParts = [];
    this.lineLen = 0;
    if (line.length > 0 && line[line.length - 1] === 0x0d) line = line.subarray(0, line.length - 1);
    this.endOfLine(line);
    return lf + 1;
  }

  private abortResponse(text: string): void {
    for (const p of this.pieces) if ('literal' in p && p.literal.type === 'stream') p.literal.sink.abort(text);
    this.pieces = [];
    this.lineParts = [];
    this.lineLen = 0;
    this.out.push({ kind: 'error', text });
  }

  private endOfLine(line: Buffer): void {
    const first = this.pieces.length === 0;
    const mayHaveLiteral = !(first && isTextOnlyLine(line));
    const m = mayHaveLiteral ? /(~?)\{(\d{1,10})\+?\}$/.exec(line.toString('latin1', Math.max(0, line.length - 16))) : null;
    if (m) {
      const size = Number(m[2]);
      const literal8 = m[1] === '~';
      const before = line.subarray(0, line.length - m[0].length);
      this.pieces.push({ text: before });
      const headPiece = this.pieces[0];
      const head = headPiece && 'text' in headPiece ? headPiece.text : before;
      const sink = this.openLiteralSink?.(size, literal8, { head, line: before });
      if (!sink && size > this.maxLiteralSize) {
        this.abortResponse('Literal too big');
        this.literal = { remaining: size, size, literal8, parts: [], discard: true };
        this.skipping = false;
        // The rest of this response is skipped after the literal: treat its next line as garbage.
        this.afterDiscard = true;
        return;
      }
      this.literal = { remaining: size, size, literal8, parts: [], discard: false };
      if (sink) this.literal.sink = sink;
      if (size === 0) this.stepLiteral(Buffer.alloc(0));
      return;
    }
    if (this.afterDiscard) {
      this.afterDiscard = false;
      this.pieces = [];
      return;
    }
    this.pieces.push({ text: line });
    const pieces = this.pieces;
    this.pieces = [];
    try {
      this.out.push({ kind: 'response', response: parseResponse(pieces) });
    } catch (err) {
      if (!(err instanceof ResponseSyntaxError)) throw err;
      for (const p of pieces) if ('literal' in p && p.literal.type === 'stream') p.literal.sink.abort(err.message);
      this.out.push({ kind: 'error', text: err.message });
    }
  }

  private afterDiscard = false;
}

/** "+ ..." and status responses carry free text: never literals. */
function isTextOnlyLine(line: Buffer): boolean {
  if (line[0] === 0x2b) return true;
  const s = line.toString('latin1', 0, Math.min(line.length, 200));
  const m = /^\S+ (\S+)/.exec(s);
  return !!m && STATUS.has(m[1]!.toUpperCase());
}

function parseResponse(pieces: Piece[]): ServerResponse {
  const head = pieces[0];
  if (!head || !('text' in head)) throw new ResponseSyntaxError('Empty response');
  const line = head.text;
  if (line[0] === 0x2b) {
    // continue-req = "+" SP (resp-text / base64) CRLF; tolerate a missing SP.
    const text = line.toString('utf8', line[1] === 0x20 ? 2 : 1);
    return { kind: 'continuation', text };
  }
  const sp = line.indexOf(0x20);
  if (sp <= 0) throw new ResponseSyntaxError('Malformed response line');
  const tag = line.toString('latin1', 0, sp);
  const rest = line.subarray(sp + 1);
  const wordEnd = rest.indexOf(0x20) < 0 ? rest.length : rest.indexOf(0x20);
  const word = rest.toString('latin1', 0, wordEnd).toUpperCase();
  if (STATUS.has(word) && pieces.length === 1) {
    if (tag !== '*' && word !== 'OK' && word !== 'NO' && word !== 'BAD') throw new ResponseSyntaxError(`Tagged ${word}`);
    const { code, text } = parseRespText(rest.subarray(Math.min(rest.length, wordEnd + 1)));
    return { kind: 'status', tag: tag === '*' ? null : tag, status: word as Status, code, text };
  }
  if (tag !== '*') throw new ResponseSyntaxError('Tagged response without a status');
  const tz = new Tokenizer([{ text: rest }, ...pieces.slice(1)], false);
  return { kind: 'data', values: tz.all() };
}

/** resp-text = ["[" resp-text-code "]" SP] [text] */
function parseRespText(buf: Buffer): { code: ParsedResponseCode | null; text: string } {
  if (buf[0] !== 0x5b) return { code: null, text: buf.toString('utf8') };
  const close = findCodeEnd(buf);
  if (close < 0) return { code: null, text: buf.toString('utf8') };
  const inner = buf.subarray(1, close);
  const raw = inner.toString('utf8');
  const sp = inner.indexOf(0x20);
  const name = inner.toString('latin1', 0, sp < 0 ? inner.length : sp).toUpperCase();
  let args: ImapArg[] = [];
  if (sp >= 0) {
    try {
      args = new Tokenizer([{ text: inner.subarray(sp + 1) }], true).all();
    } catch {
      args = [{ type: 'atom', value: inner.toString('utf8', sp + 1) }];
    }
  }
  let textStart = close + 1;
  if (buf[textStart] === 0x20) textStart++;
  return { code: { name, args, raw }, text: buf.toString('utf8', textStart) };
}

function findCodeEnd(buf: Buffer): number {
  let inQuote = false;
  for (let i = 1; i < buf.length; i++) {
    const c = buf[i];
    if (inQuote) {
      if (c === 0x5c) i++;
      else if (c === 0x22) inQuote = false;
    } else if (c === 0x22) inQuote = true;
    else if (c === 0x5d) return i;
  }
  return -1;
}

/** Tokenizes values across text pieces and literals. In a response code, "]" ends atoms. */
class Tokenizer {
  private idx = 0;
  private pos = 0;
  constructor(
    private readonly pieces: Piece[],
    private readonly inCode: boolean,
  ) {}

  all(): ImapArg[] {
    const stack: ImapArg[][] = [[]];
    for (;;) {
      const p = this.pieces[this.idx];
      if (!p) break;
      if ('literal' in p) {
        stack[stack.length - 1]!.push(p.literal);
        this.idx++;
        this.pos = 0;
        continue;
      }
      const t = p.text;
      if (this.pos >= t.length) {
        this.idx++;
        this.pos = 0;
        continue;
      }
      const c = t[this.pos]!;
      if (c === 0x20) {
        this.pos++;
      } else if (c === 0x28) {
        if (stack.length > 64) throw new ResponseSyntaxError('Response nested too deeply');
        stack.push([]);
        this.pos++;
      } else if (c === 0x29) {
        if (stack.length <= 1) throw new ResponseSyntaxError('Unexpected )');
        const items = stack.pop()!;
        stack[stack.length - 1]!.push({ type: 'list', items });
        this.pos++;
      } else if (c === 0x22) {
        stack[stack.length - 1]!.push(this.quoted(t));
      } else {
        stack[stack.length - 1]!.push(this.atom(t));
      }
    }
    if (stack.length !== 1) throw new ResponseSyntaxError('Missing )');
    return stack[0]!;
  }

  private quoted(t: Buffer): ImapArg {
    const bytes: number[] = [];
    let i = this.pos + 1;
    while (i < t.length) {
      const c = t[i]!;
      if (c === 0x22) {
        this.pos = i + 1;
        return { type: 'string', value: Buffer.from(bytes), literal: false, literal8: false };
      }
      if (c === 0x5c && i + 1 < t.length) {
        bytes.push(t[i + 1]!);
        i += 2;
        continue;
      }
      bytes.push(c);
      i++;
    }
    throw new ResponseSyntaxError('Unterminated quoted string');
  }

  private atom(t: Buffer): ImapArg {
    let i = this.pos;
    while (i < t.length) {
      const c = t[i]!;
      if (c === 0x20 || c === 0x28 || c === 0x29) break;
      if (c === 0x5d && this.inCode) break;
      if (c === 0x5b && !this.inCode) {
        // BODY[HEADER.FIELDS (A B)]<0>: the bracket runs to its "]".
        let depth = 0;
        for (; i < t.length; i++) {
          if (t[i] === 0x5b) depth++;
          else if (t[i] === 0x5d && --depth === 0) break;
        }
        if (i >= t.length) throw new ResponseSyntaxError('Missing ]');
      }
      i++;
    }
    if (i === this.pos) throw new ResponseSyntaxError('Unexpected character');
    const value = t.toString('utf8', this.pos, i);
    this.pos = i;
    return { type: 'atom', value };
  }
}
