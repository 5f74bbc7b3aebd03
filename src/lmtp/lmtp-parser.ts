// LMTP wire syntax without I/O, so it can be fed any byte chunks and fuzzed:
// - LmtpReader: command lines (RFC 5321 §2.3.8, §4.5.3.1.4 line length) and, after DATA's 354, the
//   message text with dot-unstuffing up to "<CRLF>.<CRLF>" (RFC 5321 §4.5.2, §4.1.1.4), with line ends
//   normalised to CRLF; it switches mode exactly where the data ends, so commands pipelined after
//   the final "." (RFC 2920 §3.1, RFC 2033 §4.2) are read as commands again.
// - parseCommandLine, parseMailFrom / parseRcptTo: "MAIL FROM:<path> params" and "RCPT TO:<path>"
//   (RFC 5321 §4.1.1.2, §4.1.1.3, §4.1.2 paths, §4.1.2 esmtp-param; RFC 1870 SIZE; RFC 6152 BODY).

export type LmtpEvent =
  | { kind: 'line'; line: Buffer }
  | { kind: 'too-long' }
  /** Message octets: unstuffed, CRLF line ends. */
  | { kind: 'data'; chunk: Buffer }
  /** The "." line that ends the message was read; the reader is back in command mode. */
  | { kind: 'data-end' };

const LF = 0x0a;
const CR = 0x0d;
const DOT = 0x2e;
const EMPTY = Buffer.alloc(0);
const CRLF_BYTES = Buffer.from('\r\n');

/**
 * Decodes DATA's text: removes the dot of dot-stuffed lines, turns bare LF into CRLF and finds the
 * end line. It consumes only what it can decide on; undecided bytes (a "." or ".CR" at a line start,
 * a CR at the end of input) stay with the caller until more input comes.
 */
export class DataDecoder {
  private lineStart = true;

  decode(buf: Buffer): { out: Buffer; consumed: number; end: boolean } {
    const parts: Buffer[] = [];
    let pos = 0;
    let end = false;
    while (pos < buf.length) {
      if (this.lineStart) {
        if (buf[pos] === DOT) {
          if (pos + 1 >= buf.length) break;
          const b1 = buf[pos + 1];
          if (b1 === LF) {
            pos += 2;
            end = true;
            break;
          }
          if (b1 === CR) {
            if (pos + 2 >= buf.length) break;
            if (buf[pos + 2] === LF) {
              pos += 3;
              end = true;
              break;
            }
          }
          pos++; // RFC 5321 §4.5.2: the first dot of a line that starts with one is deleted.
        }
        this.lineStart = false;
      }
      const nl = buf.indexOf(LF, pos);
      if (nl < 0) {
        let stop = buf.length;
        if (buf[stop - 1] === CR) stop--;
        if (stop > pos) parts.push(buf.subarray(pos, stop));
        pos = stop;
        break;
      }
      let contentEnd = nl;
      if (contentEnd > pos && buf[contentEnd - 1] === CR) contentEnd--;
      if (contentEnd > pos) parts.push(buf.subarray(pos, contentEnd));
      parts.push(CRLF_BYTES);
      pos = nl + 1;
      this.lineStart = true;
    }
    if (end) this.lineStart = true;
    const out = parts.length === 0 ? EMPTY : parts.length === 1 ? parts[0]! : Buffer.concat(parts);
    return { out, consumed: pos, end };
  }
}

/** Pull-based reader: `push()` input, then call `next()` until it returns null. */
export class LmtpReader {
  private buf: Buffer = EMPTY;
  private off = 0;
  private discarding = false;
  private mode: 'command' | 'data' = 'command';
  private decoder: DataDecoder | null = null;
  private endPending = false;

  constructor(private readonly maxLineLength: number) {}

  push(chunk: Buffer): void {
    if (chunk.length === 0) return;
    this.buf = this.off >= this.buf.length ? chunk : Buffer.concat([this.buf.subarray(this.off), chunk]);
    this.off = 0;
  }

  /** After answering DATA with 354: what follows is message text. */
  startData(): void {
    this.mode = 'data';
    this.decoder = new DataDecoder();
    this.endPending = false;
  }

  get inData(): boolean {
    return this.mode === 'data' || this.endPending;
  }

  /** Octets received but not yet returned. */
  buffered(): number {
    return this.buf.length - this.off;
  }

  next(): LmtpEvent | null {
    if (this.endPending) {
      this.endPending = false;
      return { kind: 'data-end' };
    }
    return this.mode === 'data' ? this.nextData() : this.nextLine();
  }

  private nextData(): LmtpEvent | null {
    const r = this.decoder!.decode(this.buf.subarray(this.off));
    this.off += r.consumed;
    if (this.off >= this.buf.length) {
      this.buf = EMPTY;
      this.off = 0;
    }
    if (r.end) {
      this.mode = 'command';
      this.decoder = null;
      if (r.out.length === 0) return { kind: 'data-end' };
      this.endPending = true;
    }
    return r.out.length > 0 ? { kind: 'data', chunk: r.out } : null;
  }

  private nextLine(): LmtpEvent | null {
    for (;;) {
      const idx = this.buf.indexOf(LF, this.off);
      if (this.discarding) {
        if (idx < 0) {
          this.buf = EMPTY;
          this.off = 0;
          return null;
        }
        this.off = idx + 1;
        this.discarding = false;
        continue;
      }
      if (idx < 0) {
        if (this.buf.length - this.off > this.maxLineLength + 1) {
          this.buf = EMPTY;
          this.off = 0;
          this.discarding = true;
          return { kind: 'too-long' };
        }
        return null;
      }
      let end = idx;
      if (end > this.off && this.buf[end - 1] === CR) end--;
      const line = Buffer.from(this.buf.subarray(this.off, end));
      this.off = idx + 1;
      if (line.length > this.maxLineLength) return { kind: 'too-long' };
      return { kind: 'line', line };
    }
  }
}

export interface LmtpCommandLine {
  /** Upper-cased verb. */
  verb: string;
  /** The rest of the line after the verb and its space. */
  arg: string;
}

/** Splits "VERB rest"; null for lines with control characters (other than TAB) or no verb. */
export function parseCommandLine(line: Buffer): LmtpCommandLine | null {
  for (const byte of line) if ((byte < 0x20 && byte !== 0x09) || byte === 0x7f) return null;
  const text = line.toString('utf8');
  const m = /^([A-Za-z]{1,16})(?: (.*))?$/s.exec(text);
  if (!m) return null;
  return { verb: m[1]!.toUpperCase(), arg: (m[2] ?? '').trim() };
}

export interface MailAddress {
  /** Local part, unquoted (RFC 5321 §4.1.2 Quoted-string resolved). */
  localPart: string;
  /** Domain, or null for a bare local part (e.g. <postmaster>, RFC 5321 §4.1.1.3). */
  domain: string | null;
  /** The address as written between the angle brackets (source route removed). */
  text: string;
}

export type PathResult =
  | { ok: true; address: MailAddress | null; params: Map<string, string | null> }
  | { ok: false; error: string };

/** "FROM:<reverse-path> [params]"; the null reverse-path "<>" gives address null (RFC 5321 §4.5.5). */
export function parseMailFrom(arg: string): PathResult {
  return parsePathCommand(arg, 'FROM:', true);
}

/** "TO:<forward-path> [params]". */
export function parseRcptTo(arg: string): PathResult {
  return parsePathCommand(arg, 'TO:', false);
}

function parsePathCommand(arg: string, keyword: string, allowNull: boolean): PathResult {
  if (arg.slice(0, keyword.length).toUpperCase() !== keyword) return { ok: false, error: `Syntax: ${keyword}<address>` };
  // Some clients put a space after the colon; tolerate it.
  let rest = arg.slice(keyword.length).replace(/^ +/, '');
  if (!rest.startsWith('<')) return { ok: false, error: 'The address must be in angle brackets' };
  // Find the closing ">" outside quoted strings.
  let i = 1;
  let inQuote = false;
  for (; i < rest.length; i++) {
    const c = rest[i];
    if (inQuote) {
      if (c === '\\') i++;
      else if (c === '"') inQuote = false;
    } else if (c === '"') inQuote = true;
    else if (c === '>') break;
  }
  if (i >= rest.length) return { ok: false, error: 'Unterminated address' };
  const inner = rest.slice(1, i);
  rest = rest.slice(i + 1);
  if (rest.length > 0 && !rest.startsWith(' ')) return { ok: false, error: 'Junk after the address' };
  const params = new Map<string, string | null>();
  for (const p of rest.split(' ')) {
    if (p === '') continue;
    const m = /^([A-Za-z0-9][A-Za-z0-9-]*)(?:=([\x21-\x3c\x3e-\x7e]+))?$/.exec(p);
    if (!m) return { ok: false, error: 'Invalid parameter' };
    params.set(m[1]!.toUpperCase(), m[2] ?? null);
  }
  if (inner === '') {
    if (!allowNull) return { ok: false, error: 'Empty recipient address' };
    return { ok: true, address: null, params };
  }
  const address = parseAddress(inner);
  if (!address) return { ok: false, error: 'Invalid address' };
  return { ok: true, address, params };
}

/** Parses "local@domain" or a bare local part; drops an obsolete source route ("@a,@b:"). */
export function parseAddress(text: string): MailAddress | null {
  let s = text;
  if (s.startsWith('@')) {
    const colon = s.indexOf(':');
    if (colon < 0) return null;
    s = s.slice(colon + 1);
  }
  if (s.length === 0 || s.length > 512) return null;
  let localPart: string;
  let rest: string;
  if (s.startsWith('"')) {
    let i = 1;
    let local = '';
    for (; i < s.length; i++) {
      const c = s[i]!;
      if (c === '\\') {
        i++;
        if (i >= s.length) return null;
        local += s[i];
      } else if (c === '"') break;
      else local += c;
    }
    if (i >= s.length) return null;
    localPart = local;
    rest = s.slice(i + 1);
  } else {
    const at = s.lastIndexOf('@');
    localPart = at < 0 ? s : s.slice(0, at);
    rest = at < 0 ? '' : s.slice(at);
    if (/[\s"(),:;<>[\\\]]/.test(localPart)) return null;
  }
  if (localPart.length === 0) return null;
  let domain: string | null = null;
  if (rest !== '') {
    if (!rest.startsWith('@')) return null;
    domain = rest.slice(1);
    if (!/^(?:\[[^\]\s]+\]|[^\s@<>()[\]\\,;:"]+)$/.test(domain)) return null;
  }
  return { localPart, domain, text: s };
}

/** RFC 1870 SIZE value: a decimal octet count. */
export function parseSizeParam(value: string | null | undefined): number | null {
  if (value === null || value === undefined || !/^[0-9]{1,15}$/.test(value)) return null;
  return Number(value);
}
