// POP3 wire syntax without I/O, so it can be fed any byte chunks and fuzzed:
// - LineReader: CRLF-terminated command lines with a length cap (RFC 1939 §3; RFC 2449 §4 line lengths),
// - parsePop3Command: keyword and arguments (RFC 1939 §3, RFC 2449 §3, RFC 1939 §7 PASS with spaces),
// - parseMessageNumber: "msg" arguments (RFC 1939 §5),
// - decodeSaslPlain: the PLAIN mechanism's response (RFC 4616 §2) as carried by AUTH (RFC 5034 §4),
// - MessageEncoder: a message as a multi-line response: CRLF line ends, byte-stuffed lines that start
//   with ".", the ".CRLF" terminator (RFC 1939 §3), and TOP's header + n body lines (RFC 1939 §7).

export type LineEvent = { kind: 'line'; line: Buffer } | { kind: 'too-long' };

const LF = 0x0a;
const CR = 0x0d;
const DOT = 0x2e;
const EMPTY = Buffer.alloc(0);
const CRLF_BYTES = Buffer.from('\r\n');
const DOT_BYTES = Buffer.from('.');

/**
 * Splits input into lines. A line ends at LF; a CR before the LF is dropped (clients that send bare LF
 * are tolerated). A line longer than `maxLineLength` octets (line end excluded) yields one `too-long`
 * event and is skipped up to its LF, so the session can answer -ERR and go on.
 * Pull-based: `push()` buffers, `next()` returns one event or null when more input is needed. This
 * lets the session stop reading lines at STLS and drop what the client pipelined after it.
 */
export class LineReader {
  private buf: Buffer = EMPTY;
  private off = 0;
  private discarding = false;

  constructor(private readonly maxLineLength: number) {}

  push(chunk: Buffer): void {
    if (chunk.length === 0) return;
    if (this.off >= this.buf.length) {
      this.buf = chunk;
    } else {
      this.buf = Buffer.concat([this.buf.subarray(this.off), chunk]);
    }
    this.off = 0;
  }

  next(): LineEvent | null {
    for (;;) {
      const idx = this.buf.indexOf(LF, this.off);
      if (this.discarding) {
        if (idx < 0) {
          this.drop();
          return null;
        }
        this.off = idx + 1;
        this.discarding = false;
        continue;
      }
      if (idx < 0) {
        // Without a line end yet: give up early on a line that can no longer fit (+1 for a CR).
        if (this.buf.length - this.off > this.maxLineLength + 1) {
          this.drop();
          this.discarding = true;
          return { kind: 'too-long' };
        }
        return null;
      }
      let end = idx;
      if (end > this.off && this.buf[end - 1] === CR) end--;
      const line = this.buf.subarray(this.off, end);
      this.off = idx + 1;
      if (line.length > this.maxLineLength) return { kind: 'too-long' };
      return { kind: 'line', line: Buffer.from(line) };
    }
  }

  /** Octets received but not yet returned as lines. */
  buffered(): number {
    return this.buf.length - this.off;
  }

  /** Forgets all buffered input (STLS: RFC 2595 §4 — nothing sent in the clear may survive). */
  reset(): void {
    this.drop();
    this.discarding = false;
  }

  private drop(): void {
    this.buf = EMPTY;
    this.off = 0;
  }
}

export interface Pop3Command {
  /** Upper-cased keyword. */
  name: string;
  /** Arguments split on spaces. */
  args: string[];
  /** Everything after the keyword and its one separating space, unsplit (PASS, RFC 1939 §7). */
  rest: string;
}

export type Pop3ParseResult = { ok: true; command: Pop3Command } | { ok: false; error: string };

/** Keywords are letters only; RFC 1939 §3 says 3 or 4, RFC 2449 §3 lets extensions use longer ones. */
const KEYWORD = /^[A-Za-z]{1,20}$/;

/** Parses one command line (without its line end). */
export function parsePop3Command(line: Buffer): Pop3ParseResult {
  for (const byte of line) {
    // Control characters other than TAB have no place in a command line (RFC 1939 §3: printable ASCII).
    if ((byte < 0x20 && byte !== 0x09) || byte === 0x7f) return { ok: false, error: 'Invalid characters in command' };
  }
  const text = line.toString('utf8');
  const space = text.search(/[ \t]/);
  const keyword = space < 0 ? text : text.slice(0, space);
  if (keyword.length === 0) return { ok: false, error: 'Empty command' };
  if (!KEYWORD.test(keyword)) return { ok: false, error: 'Invalid command keyword' };
  const rest = space < 0 ? '' : text.slice(space + 1);
  const args = rest.split(' ').filter((a) => a.length > 0);
  return { ok: true, command: { name: keyword.toUpperCase(), args, rest } };
}

/** A message number (RFC 1939 §5: decimal, 1-based). Returns null when the text is not one. */
export function parseMessageNumber(text: string | undefined): number | null {
  if (text === undefined || !/^[0-9]{1,10}$/.test(text)) return null;
  const n = Number(text);
  return n >= 1 && Number.isSafeInteger(n) ? n : null;
}

/** A non-negative line count (TOP's second argument). */
export function parseLineCount(text: string | undefined): number | null {
  if (text === undefined || !/^[0-9]{1,10}$/.test(text)) return null;
  return Number(text);
}

export type SaslPlainResult =
  | { ok: true; authzid: string; authcid: string; password: string }
  | { ok: false; error: 'base64' | 'syntax' };

/** Decodes a base64 SASL PLAIN response: [authzid] NUL authcid NUL passwd (RFC 4616 §2). */
export function decodeSaslPlain(response: string): SaslPlainResult {
  // RFC 5034 §4: "=" is an empty initial response.
  const b64 = response === '=' ? '' : response;
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(b64) || b64.length % 4 !== 0) return { ok: false, error: 'base64' };
  const decoded = Buffer.from(b64, 'base64').toString('utf8');
  const parts = decoded.split('\0');
  if (parts.length !== 3) return { ok: false, error: 'syntax' };
  const [authzid, authcid, password] = parts as [string, string, string];
  if (authcid.length === 0) return { ok: false, error: 'syntax' };
  return { ok: true, authzid, authcid, password };
}

/**
 * Turns a stored message into the body of a multi-line response (RFC 1939 §3): every line ends in CRLF
 * (bare LF becomes CRLF, so mail stored with Unix line ends is sent correctly), a line starting with
 * "." gets one more, and `end()` adds the terminating ".CRLF". With `bodyLines` set it produces TOP's
 * answer (RFC 1939 §7): the header, the blank line after it and at most that many body lines; `done`
 * then says no more input is needed.
 */
export class MessageEncoder {
  private lineStart = true;
  /** Content octets of the current line seen so far (CR before LF excluded). */
  private lineLength = 0;
  /** A CR at the end of the last chunk: it may be the first half of CRLF. */
  private heldCr = false;
  private inHeader = true;
  private bodyLinesSent = 0;
  private finished = false;

  constructor(private readonly bodyLines: number | null = null) {}

  /** True once TOP's line budget is used up: further input would be ignored. */
  get done(): boolean {
    return this.finished;
  }

  push(chunk: Buffer): Buffer {
    if (this.finished || chunk.length === 0) return EMPTY;
    const out: Buffer[] = [];
    let pos = 0;
    if (this.heldCr) {
      this.heldCr = false;
      if (chunk[0] !== LF) this.emitContent(out, Buffer.from([CR]));
    }
    while (pos < chunk.length && !this.finished) {
      const nl = chunk.indexOf(LF, pos);
      if (nl < 0) {
        let end = chunk.length;
        if (chunk[end - 1] === CR) {
          this.heldCr = true;
          end--;
        }
        if (end > pos) this.emitContent(out, chunk.subarray(pos, end));
        break;
      }
      let end = nl;
      if (end > pos && chunk[end - 1] === CR) end--;
      if (end > pos) this.emitContent(out, chunk.subarray(pos, end));
      this.endLine(out);
      pos = nl + 1;
    }
    return out.length === 1 ? out[0]! : Buffer.concat(out);
  }

  /** The rest of the response: a line end for an unterminated last line, then ".CRLF". */
  end(): Buffer {
    const out: Buffer[] = [];
    if (!this.finished) {
      if (this.heldCr) {
        this.heldCr = false;
        this.endLine(out);
      } else if (!this.lineStart) {
        this.endLine(out);
      }
    }
    this.finished = true;
    out.push(Buffer.from('.\r\n'));
    return Buffer.concat(out);
  }

  private emitContent(out: Buffer[], content: Buffer): void {
    if (this.lineStart && content[0] === DOT) out.push(DOT_BYTES);
    out.push(content);
    this.lineStart = false;
    this.lineLength += content.length;
  }

  private endLine(out: Buffer[]): void {
    out.push(CRLF_BYTES);
    const wasEmpty = this.lineLength === 0;
    this.lineStart = true;
    this.lineLength = 0;
    if (this.bodyLines === null) return;
    if (this.inHeader) {
      if (wasEmpty) {
        this.inHeader = false;
        if (this.bodyLines === 0) this.finished = true;
      }
    } else if (++this.bodyLinesSent >= this.bodyLines) {
      this.finished = true;
    }
  }
}
