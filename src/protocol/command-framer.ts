// Push tokenizer for client commands (sans I/O: bytes in, events out).
// RFC 9051 §2.2.1 (client commands, synchronizing literals), §4 (data formats), §9 (formal syntax: tag,
// atom, quoted, literal, literal8), RFC 3501 §9, RFC 7888 (LITERAL+ / LITERAL-: non-synchronizing
// literals; oversized ones are read and discarded, §4), RFC 3516 (literal8 `~{n}`), RFC 4469 (TOOBIG).
//
// Leniencies (documented on purpose): a bare LF ends a line like CRLF does; runs of spaces between
// arguments are accepted; `{` inside an atom (not at its start) is taken as an atom character; 8-bit
// bytes in an atom are accepted when they form valid UTF-8.
//
// Flow control: after emitting an IDLE command or an AUTHENTICATE command without initial response, the
// framer *holds*: it only buffers bytes until the server calls `setRawLineMode()` with a different mode,
// or `resume(command)`. In raw-line mode each line is delivered as a 'line' event and the framer holds
// again after it. This lets a pipelined "A IDLE\r\nDONE\r\nB NOOP\r\n" in one chunk be split correctly:
// the server gets IDLE, switches to raw mode, drains and gets DONE, switches back, drains and gets B NOOP.
import { isUtf8 } from 'node:buffer';
import { LIMITS } from './limits.js';
import type { ImapArg, LiteralInfo, LiteralSink, ParsedCommand } from './types.js';

export type FramerEvent =
  | { kind: 'command'; command: ParsedCommand }
  /** A synchronizing `{n}` literal was accepted: the server must now send "+ ...". */
  | { kind: 'continue'; tag: string; size: number }
  /** The command was rejected and discarded; the framer has resynchronised. `status` is the suggested
   *  tagged status (RFC 7888 §4/§5 ask for BAD [TOOBIG] on an oversized non-synchronizing literal). */
  | { kind: 'error'; tag: string | null; text: string; code?: string; status?: 'BAD' | 'NO' }
  /** A raw line without its line end, only while raw-line mode is on. */
  | { kind: 'line'; line: Buffer };

export interface CommandFramerOptions {
  maxLineLength?: number;
  maxInlineLiteral?: number;
  /** Largest literal streamed to a sink (APPENDLIMIT, RFC 7889). */
  maxLiteralSize?: number;
  maxNesting?: number;
  maxTokens?: number;
  maxCommandBytes?: number;
  /** true (default): LITERAL+, `{n+}` of any size. false: LITERAL-, `{n+}` only up to 4096 octets (RFC 7888 §5). */
  literalPlus?: boolean;
  /** Chosen by the server when a literal header is read; returning a sink streams the literal into it. */
  openLiteralSink?: (info: LiteralInfo) => LiteralSink | undefined;
  /** Which commands make the framer hold until resume()/setRawLineMode(). Default: IDLE, and
   *  AUTHENTICATE without an initial response. */
  holdAfter?: (command: ParsedCommand) => boolean;
}

const SP = 0x20;
const LF = 0x0a;
const CR = 0x0d;
const DQUOTE = 0x22;
const BACKSLASH = 0x5c;
const LPAREN = 0x28;
const RPAREN = 0x29;
const LBRACE = 0x7b;
const LBRACKET = 0x5b;
const RBRACKET = 0x5d;
const TILDE = 0x7e;
const PLUS = 0x2b;

const MAX_NUMBER = 4294967295;

function defaultHold(cmd: ParsedCommand): boolean {
  if (cmd.name === 'IDLE') return true;
  return cmd.name === 'AUTHENTICATE' && cmd.args.length < 2;
}

/** A malformed command. */
class FrameError extends Error {
  constructor(
    message: string,
    readonly code?: string,
    readonly status?: 'BAD' | 'NO',
  ) {
    super(message);
  }
}

/** The command being assembled across line segments (a literal splits a command into segments). */
class CommandBuilder {
  tag: string | null = null;
  name = '';
  readonly root: ImapArg[] = [];
  readonly stack: ImapArg[][] = [this.root];
  needSep = false;
  tokens = 0;
  bytes = 0;
  readonly sinks: LiteralSink[] = [];

  get current(): ImapArg[] {
    return this.stack[this.stack.length - 1]!;
  }
}

type State =
  | { kind: 'line' }
  | { kind: 'literal'; remaining: number; size: number; literal8: boolean; mode: 'buffer' | 'sink' | 'discard'; parts: Buffer[]; sink?: LiteralSink }
  | { kind: 'skip'; tail: Buffer; raw: boolean };

interface PendingError {
  tag: string | null;
  text: string;
  code?: string;
  status?: 'BAD' | 'NO';
}

export class CommandFramer {
  private readonly maxLineLength: number;
  private readonly maxInlineLiteral: number;
  private readonly maxLiteralSize: number;
  private readonly maxNesting: number;
  private readonly maxTokens: number;
  private readonly maxCommandBytes: number;
  private readonly literalPlus: boolean;
  private readonly openLiteralSink: ((info: LiteralInfo) => LiteralSink | undefined) | undefined;
  private readonly holdAfter: (command: ParsedCommand) => boolean;

  /** Unconsumed input: chunks[0] from `offset` on, then the other chunks. */
  private chunks: Buffer[] = [];
  private offset = 0;
  private queued = 0;

  private state: State = { kind: 'line' };
  private lineParts: Buffer[] = [];
  private lineLen = 0;
  private cmd: CommandBuilder | null = null;
  private pending: PendingError | null = null;
  private rawMode = false;
  private held = false;
  private heldCommand: ParsedCommand | null = null;
  private out: FramerEvent[] = [];

  constructor(opts: CommandFramerOptions = {}) {
    this.maxLineLength = opts.maxLineLength ?? LIMITS.maxLineLength;
    this.maxInlineLiteral = opts.maxInlineLiteral ?? LIMITS.maxInlineLiteral;
    this.maxLiteralSize = opts.maxLiteralSize ?? LIMITS.maxMessageSize;
    this.maxNesting = opts.maxNesting ?? LIMITS.maxNesting;
    this.maxTokens = opts.maxTokens ?? LIMITS.maxTokens;
    this.maxCommandBytes = opts.maxCommandBytes ?? LIMITS.maxCommandBytes;
    this.literalPlus = opts.literalPlus ?? true;
    this.openLiteralSink = opts.openLiteralSink;
    this.holdAfter = opts.holdAfter ?? defaultHold;
  }

  /** Adds bytes; returns the events they complete, in order. */
  push(chunk: Buffer): FramerEvent[] {
    if (chunk.length > 0) {
      this.chunks.push(chunk);
      this.queued += chunk.length;
    }
    return this.run();
  }

  /** Tokenizes bytes already pushed but not yet consumed (after a mode switch). */
  drain(): FramerEvent[] {
    return this.run();
  }

  /** Lifts the hold placed after `command` (or any hold when omitted) and drains. Call it after finishing a
   *  command that made the framer hold but did not switch modes (e.g. a rejected IDLE). */
  resume(command?: ParsedCommand): FramerEvent[] {
    if (this.held && (command === undefined || command === this.heldCommand)) {
      this.held = false;
      this.heldCommand = null;
    }
    return this.run();
  }

  /** Raw-line mode: each line is delivered as {kind:'line'} (AUTHENTICATE responses, IDLE's DONE).
   *  Changing the mode lifts a hold; bytes are tokenized under the new mode on the next drain()/push(). */
  setRawLineMode(on: boolean): void {
    if (on === this.rawMode) return;
    this.rawMode = on;
    this.held = false;
    this.heldCommand = null;
  }

  get rawLineMode(): boolean {
    return this.rawMode;
  }

  /** True while the framer waits for resume()/setRawLineMode(). */
  get holding(): boolean {
    return this.held;
  }

  /** Bytes received but not yet consumed (lets the I/O layer stop reading while the framer holds). */
  get bufferedBytes(): number {
    return this.queued + this.lineLen;
  }

  /** The connection is gone: abort any literal sink of the command in progress. */
  close(reason = 'connection closed'): void {
    if (this.cmd) for (const s of this.cmd.sinks) safeAbort(s, reason);
    this.cmd = null;
    this.chunks = [];
    this.offset = 0;
    this.queued = 0;
    this.lineParts = [];
    this.lineLen = 0;
    this.state = { kind: 'line' };
  }

  // ---- input queue -------------------------------------------------------------------------------

  private head(): Buffer | null {
    for (;;) {
      const c = this.chunks[0];
      if (!c) return null;
      if (this.offset < c.length) return this.offset === 0 ? c : c.subarray(this.offset);
      this.chunks.shift();
      this.offset = 0;
    }
  }

  private consume(n: number): void {
    this.offset += n;
    this.queued -= n;
  }

  // ---- main loop ---------------------------------------------------------------------------------

  private run(): FramerEvent[] {
    while (!this.held) {
      const chunk = this.head();
      if (!chunk) break;
      switch (this.state.kind) {
        case 'line':
          this.stepLine(chunk);
          break;
        case 'literal':
          this.stepLiteral(chunk, this.state);
          break;
        case 'skip':
          this.stepSkip(chunk, this.state);
          break;
      }
    }
    const out = this.out;
    this.out = [];
    return out;
  }

  private stepLine(chunk: Buffer): void {
    const lf = chunk.indexOf(LF);
    const limit = this.maxLineLength + 1; // + the CR of CRLF
    const take = lf < 0 ? chunk.length : lf;
    if (this.lineLen + take > limit) {
      this.lineTooLong(chunk);
      return;
    }
    if (lf < 0) {
      this.lineParts.push(chunk);
      this.lineLen += chunk.length;
      this.consume(chunk.length);
      return;
    }
    const part = chunk.subarray(0, lf);
    let line = this.lineParts.length === 0 ? part : Buffer.concat([...this.lineParts, part]);
    this.lineParts = [];
    this.lineLen = 0;
    this.consume(lf + 1);
    if (line.length > 0 && line[line.length - 1] === CR) line = line.subarray(0, line.length - 1);
    if (this.rawMode && this.cmd === null) {
      this.out.push({ kind: 'line', line: Buffer.from(line) });
      this.held = true;
      this.heldCommand = null;
      return;
    }
    this.segment(line);
  }

  private lineTooLong(chunk: Buffer): void {
    const raw = this.rawMode && this.cmd === null;
    let tag: string | null = this.cmd?.tag ?? null;
    if (!raw && this.cmd === null) {
      const start = Buffer.concat([...this.lineParts, chunk.subarray(0, LIMITS.maxTagLength + 1)]);
      tag = readTag(start);
    }
    // The skipped line may still end in a non-synchronizing literal header ({n+}, RFC 7888 §4): keep the end
    // of what was already buffered, or a header split across chunks would be missed (found by fuzzing).
    let end: Buffer = Buffer.alloc(0);
    for (let i = this.lineParts.length - 1; i >= 0 && end.length < 32; i--) end = Buffer.concat([this.lineParts[i]!, end]);
    const tail = keepTail(Buffer.alloc(0), end);
    this.lineParts = [];
    this.lineLen = 0;
    this.fail(new FrameError(raw ? 'Line too long' : 'Command line too long', 'TOOBIG', 'BAD'), tag);
    this.state = { kind: 'skip', tail, raw };
  }

  private stepSkip(chunk: Buffer, st: Extract<State, { kind: 'skip' }>): void {
    const lf = chunk.indexOf(LF);
    const part = lf < 0 ? chunk : chunk.subarray(0, lf);
    st.tail = keepTail(st.tail, part);
    this.consume(lf < 0 ? chunk.length : lf + 1);
    if (lf < 0) return;
    let tail = st.tail;
    if (tail.length > 0 && tail[tail.length - 1] === CR) tail = tail.subarray(0, tail.length - 1);
    this.endOfDiscardedLine(tail, st.raw);
  }

  /** A line of a rejected command ended: RFC 7888 §3 — if it ends with a non-synchronizing literal, the
   *  literal and the next line still belong to the command; otherwise the command is over. */
  private endOfDiscardedLine(tail: Buffer, raw: boolean): void {
    const size = raw ? null : nonSyncTail(tail);
    if (size !== null) {
      this.state = { kind: 'literal', remaining: size, size, literal8: false, mode: 'discard', parts: [] };
      if (size === 0) this.finishLiteral(this.state);
      return;
    }
    this.state = { kind: 'line' };
    const p = this.pending;
    this.pending = null;
    if (p) {
      const ev: FramerEvent = { kind: 'error', tag: p.tag, text: p.text };
      if (p.code !== undefined) ev.code = p.code;
      if (p.status !== undefined) ev.status = p.status;
      this.out.push(ev);
    }
  }

  private stepLiteral(chunk: Buffer, st: Extract<State, { kind: 'literal' }>): void {
    const n = Math.min(st.remaining, chunk.length);
    const piece = n === chunk.length ? chunk : chunk.subarray(0, n);
    this.consume(n);
    st.remaining -= n;
    if (st.mode === 'buffer') st.parts.push(piece);
    else if (st.mode === 'sink') {
      try {
        st.sink!.write(piece);
      } catch {
        /* the sink reports its own failure when the command runs */
      }
    }
    if (st.remaining === 0) this.finishLiteral(st);
  }

  private finishLiteral(st: Extract<State, { kind: 'literal' }>): void {
    if (st.mode === 'discard') {
      this.state = { kind: 'skip', tail: Buffer.alloc(0), raw: false };
      return;
    }
    const cmd = this.cmd!;
    this.state = { kind: 'line' };
    if (st.mode === 'sink') {
      try {
        st.sink!.end();
      } catch {
        /* reported by the sink */
      }
      this.addArg(cmd, { type: 'stream', size: st.size, literal8: st.literal8, sink: st.sink! });
      return;
    }
    const value = st.parts.length === 1 ? Buffer.from(st.parts[0]!) : Buffer.concat(st.parts);
    if (!st.literal8 && value.includes(0)) {
      // RFC 9051 §9: CHAR8 excludes NUL; only literal8 may carry it.
      this.fail(new FrameError('NUL octet in literal'), cmd.tag);
      this.state = { kind: 'skip', tail: Buffer.alloc(0), raw: false };
      return;
    }
    this.addArg(cmd, { type: 'string', value, literal: true, literal8: st.literal8 });
  }

  private addArg(cmd: CommandBuilder, arg: ImapArg): void {
    cmd.current.push(arg);
    cmd.needSep = true;
    cmd.tokens++;
  }

  /** Records an error for the current command, aborts its sinks and forgets it. */
  private fail(err: FrameError, tag: string | null): void {
    const cmd = this.cmd;
    if (cmd) for (const s of cmd.sinks) safeAbort(s, err.message);
    this.cmd = null;
    const p: PendingError = { tag, text: err.message };
    if (err.code !== undefined) p.code = err.code;
    if (err.status !== undefined) p.status = err.status;
    this.pending = p;
  }

  // ---- one line segment of a command -------------------------------------------------------------

  private segment(line: Buffer): void {
    const fresh = this.cmd === null;
    const cmd = this.cmd ?? new CommandBuilder();
    this.cmd = cmd;
    try {
      cmd.bytes += line.length;
      if (cmd.bytes > this.maxCommandBytes) throw new FrameError('Command too long', 'TOOBIG', 'BAD');
      const lit = this.tokenize(line, cmd, fresh);
      if (lit === null) {
        if (cmd.stack.length > 1) throw new FrameError('Missing )');
        const command: ParsedCommand = { tag: cmd.tag!, name: cmd.name, args: cmd.root };
        this.cmd = null;
        this.out.push({ kind: 'command', command });
        if (this.holdAfter(command)) {
          this.held = true;
          this.heldCommand = command;
        }
        return;
      }
      this.startLiteral(cmd, lit);
    } catch (err) {
      if (!(err instanceof FrameError)) throw err;
      this.fail(err, cmd.tag);
      this.endOfDiscardedLine(line.subarray(Math.max(0, line.length - 32)), false);
    }
  }

  private startLiteral(cmd: CommandBuilder, lit: { size: number; nonSync: boolean; literal8: boolean }): void {
    const { size, nonSync, literal8 } = lit;
    const tooBig = (text: string): never => {
      throw new FrameError(text, 'TOOBIG', nonSync ? 'BAD' : 'NO');
    };
    const swallow = (err: FrameError): void => {
      // RFC 7888 §4: read and discard the octets of a non-synchronizing literal we cannot accept.
      this.fail(err, cmd.tag);
      if (!nonSync) {
        this.endOfDiscardedLine(Buffer.alloc(0), false);
        return;
      }
      this.state = { kind: 'literal', remaining: size, size, literal8, mode: 'discard', parts: [] };
      if (size === 0) this.finishLiteral(this.state);
    };
    try {
      if (nonSync && !this.literalPlus && size > LIMITS.literalMinusMax) {
        tooBig(`Non-synchronizing literal larger than ${LIMITS.literalMinusMax} octets (LITERAL-)`);
      }
      const inlineRoom = Math.min(this.maxInlineLiteral, this.maxCommandBytes - cmd.bytes);
      if (size > inlineRoom && size > this.maxLiteralSize) tooBig('Literal too big');
      const sink = this.openLiteralSink?.({ tag: cmd.tag!, name: cmd.name, size, literal8, nonSync });
      if (sink) {
        cmd.sinks.push(sink);
        if (size > this.maxLiteralSize) tooBig('Literal too big');
      } else if (size > inlineRoom) {
        tooBig('Literal too big');
      }
      if (!sink) cmd.bytes += size;
      if (!nonSync) this.out.push({ kind: 'continue', tag: cmd.tag!, size });
      const st: Extract<State, { kind: 'literal' }> = {
        kind: 'literal',
        remaining: size,
        size,
        literal8,
        mode: sink ? 'sink' : 'buffer',
        parts: [],
      };
      if (sink) st.sink = sink;
      this.state = st;
      if (size === 0) this.finishLiteral(st);
    } catch (err) {
      if (!(err instanceof FrameError)) throw err;
      swallow(err);
    }
  }

  /** Tokenizes one line segment. Returns the literal header that ends it, or null at the end of the command. */
  private tokenize(
    line: Buffer,
    cmd: CommandBuilder,
    fresh: boolean,
  ): { size: number; nonSync: boolean; literal8: boolean } | null {
    let pos = 0;
    const len = line.length;
    if (fresh) {
      if (len === 0) throw new FrameError('Empty command line');
      let end = line.indexOf(SP);
      if (end < 0) end = len;
      const tag = readTag(line);
      if (tag === null || tag.length !== end) {
        throw new FrameError(end > LIMITS.maxTagLength ? 'Tag too long' : 'Invalid tag');
      }
      cmd.tag = tag;
    }
    if (line.includes(0)) throw new FrameError('NUL octet in command');
    if (line.includes(CR)) throw new FrameError('Bare CR in command');
    if (fresh) {
      pos = cmd.tag!.length;
      if (pos >= len) throw new FrameError('Missing command name');
      while (line[pos] === SP) pos++;
      const first = readName(line, pos);
      if (first === null) throw new FrameError('Missing or invalid command name');
      pos = first.end;
      cmd.name = first.name.toUpperCase();
      if (cmd.name === 'UID') {
        if (line[pos] !== SP) throw new FrameError('Missing command after UID');
        const second = readName(line, pos + 1);
        if (second === null) throw new FrameError('Missing or invalid command after UID');
        pos = second.end;
        cmd.name = 'UID ' + second.name.toUpperCase();
      }
      if (pos < len && line[pos] !== SP) throw new FrameError('Invalid command name');
    }
    while (pos < len) {
      const c = line[pos]!;
      if (c === SP) {
        cmd.needSep = false;
        pos++;
        continue;
      }
      if (c === RPAREN) {
        if (cmd.stack.length <= 1) throw new FrameError('Unexpected )');
        const items = cmd.stack.pop()!;
        this.addArgChecked(cmd, { type: 'list', items });
        pos++;
        continue;
      }
      if (cmd.needSep) throw new FrameError('Missing space between arguments');
      if (c === LPAREN) {
        if (cmd.stack.length > this.maxNesting) throw new FrameError('Lists nested too deeply', 'LIMIT');
        cmd.stack.push([]);
        pos++;
        continue;
      }
      if (c === DQUOTE) {
        const q = readQuoted(line, pos);
        this.addArgChecked(cmd, { type: 'string', value: q.value, literal: false, literal8: false });
        pos = q.end;
        continue;
      }
      if (c === LBRACE || (c === TILDE && line[pos + 1] === LBRACE)) {
        return readLiteralHeader(line, pos);
      }
      const a = readAtom(line, pos);
      this.addArgChecked(cmd, { type: 'atom', value: a.value });
      pos = a.end;
    }
    return null;
  }

  private addArgChecked(cmd: CommandBuilder, arg: ImapArg): void {
    if (cmd.tokens >= this.maxTokens) throw new FrameError('Too many arguments', 'LIMIT');
    this.addArg(cmd, arg);
  }
}

// ---- lexical helpers -----------------------------------------------------------------------------

function safeAbort(s: LiteralSink, reason: string): void {
  try {
    s.abort(reason);
  } catch {
    /* ignore */
  }
}

function keepTail(tail: Buffer, part: Buffer): Buffer {
  if (part.length >= 32) return Buffer.from(part.subarray(part.length - 32));
  const t = Buffer.concat([tail, part]);
  return t.length > 32 ? t.subarray(t.length - 32) : t;
}

/** `{n+}` or `~{n+}` at the very end of a line → n (RFC 7888 §3). */
function nonSyncTail(tail: Buffer): number | null {
  const m = /~?\{(\d{1,10})\+\}$/.exec(tail.toString('latin1'));
  if (!m) return null;
  const n = Number(m[1]);
  return n <= MAX_NUMBER ? n : null;
}

/** tag = 1*<any ASTRING-CHAR except "+"> (RFC 9051 §9). Returns the valid prefix up to SP/end, or null. */
function readTag(line: Buffer): string | null {
  let i = 0;
  while (i < line.length && i <= LIMITS.maxTagLength) {
    const c = line[i]!;
    if (c === SP || c === CR || c === LF) break;
    if (!isAtomChar(c) || c === PLUS) return null;
    i++;
  }
  if (i === 0 || i > LIMITS.maxTagLength) return null;
  if (i < line.length && line[i] !== SP && line[i] !== CR && line[i] !== LF) return null;
  return line.toString('latin1', 0, i);
}

/** ATOM-CHAR plus "]" (ASTRING-CHAR): any CHAR except atom-specials, RFC 9051 §9. */
function isAtomChar(c: number): boolean {
  if (c <= 0x20 || c >= 0x7f) return false;
  return c !== LPAREN && c !== RPAREN && c !== LBRACE && c !== 0x25 && c !== 0x2a && c !== DQUOTE && c !== BACKSLASH;
}

function readName(line: Buffer, pos: number): { name: string; end: number } | null {
  let i = pos;
  while (i < line.length) {
    const c = line[i]!;
    const alnum = (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) || (c >= 0x30 && c <= 0x39);
    if (!alnum && c !== 0x2d && c !== 0x5f && c !== 0x2e) break;
    i++;
  }
  if (i === pos) return null;
  return { name: line.toString('latin1', pos, i), end: i };
}

/** quoted = DQUOTE *QUOTED-CHAR DQUOTE; only \" and \\ may be escaped (RFC 9051 §9). */
function readQuoted(line: Buffer, start: number): { value: Buffer; end: number } {
  let i = start + 1;
  const close = line.indexOf(DQUOTE, i);
  const bs = line.indexOf(BACKSLASH, i);
  if (close >= 0 && (bs < 0 || bs > close)) {
    // Fast path: no escapes.
    return { value: Buffer.from(line.subarray(i, close)), end: close + 1 };
  }
  const bytes: number[] = [];
  while (i < line.length) {
    const c = line[i]!;
    if (c === DQUOTE) return { value: Buffer.from(bytes), end: i + 1 };
    if (c === BACKSLASH) {
      const n = line[i + 1];
      if (n !== DQUOTE && n !== BACKSLASH) throw new FrameError('Invalid escape in quoted string');
      bytes.push(n);
      i += 2;
      continue;
    }
    bytes.push(c);
    i++;
  }
  throw new FrameError('Unterminated quoted string');
}

/** `{n}`, `{n+}`, `~{n}`, `~{n+}` — must end the line (RFC 9051 §9 literal, RFC 3516 literal8). */
function readLiteralHeader(line: Buffer, pos: number): { size: number; nonSync: boolean; literal8: boolean } {
  const text = line.toString('latin1', pos);
  const m = /^(~?)\{(\d+)(\+?)\}$/.exec(text);
  if (!m) throw new FrameError('Invalid literal');
  const digits = m[2]!;
  const size = digits.length > 10 ? Infinity : Number(digits);
  if (size > MAX_NUMBER) throw new FrameError('Literal too big', 'TOOBIG');
  return { size, nonSync: m[3] === '+', literal8: m[1] === '~' };
}

/** An atom; a "[" inside it runs to the matching "]" including spaces, parens and quoted strings, so
 *  `BODY.PEEK[HEADER.FIELDS (From To)]<0.100>` is one atom. */
function readAtom(line: Buffer, start: number): { value: string; end: number } {
  let i = start;
  while (i < line.length) {
    const c = line[i]!;
    if (c === SP || c === LPAREN || c === RPAREN) break;
    if (c === LBRACKET) {
      i = skipBrackets(line, i);
      continue;
    }
    if (c === DQUOTE) throw new FrameError('Unexpected " in atom');
    if (c < 0x20 || c === 0x7f) throw new FrameError('Invalid character in atom');
    i++;
  }
  const bytes = line.subarray(start, i);
  let eight = false;
  for (const b of bytes) {
    if (b >= 0x80) {
      eight = true;
      break;
    }
  }
  if (eight && !isUtf8(bytes)) throw new FrameError('Invalid 8-bit data in atom');
  return { value: bytes.toString(eight ? 'utf8' : 'latin1'), end: i };
}

function skipBrackets(line: Buffer, start: number): number {
  let depth = 0;
  let i = start;
  while (i < line.length) {
    const c = line[i]!;
    if (c === LBRACKET) depth++;
    else if (c === RBRACKET) {
      depth--;
      if (depth === 0) return i + 1;
    } else if (c === DQUOTE) {
      i = readQuoted(line, i).end;
      continue;
    } else if (c < 0x20 || c === 0x7f) throw new FrameError('Invalid character in atom');
    i++;
  }
  throw new FrameError('Missing ]');
}
