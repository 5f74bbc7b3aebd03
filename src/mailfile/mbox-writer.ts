// A sans-I/O mbox message encoder (RFC 4155; quoting as in qmail's mbox(5)): one stored message in, the
// bytes of its mbox entry out — the From_ line with the internal date, the header with Status, X-Status and
// X-Keywords carrying the flags (any old copies of those fields, Content-Length, X-UID, X-IMAP and
// X-IMAPbase removed), the quoted body, and the blank separator line. mboxrd (default) quotes every line
// matching /^>*From / with one more ">", so a reader removes exactly one; mboxo only /^From /, which
// cannot be undone exactly. Line ends become LF by default (`lineEndings: 'lf'`); 'keep' leaves them.
import { mboxStatusHeaders } from './flags.js';
import { formatFromLine, senderFromReturnPath } from './from-line.js';
import { LineSplitter, pushLf } from './line-splitter.js';
import type { MboxFormat } from './mbox-parser.js';

export interface MboxEntryOptions {
  format?: MboxFormat;
  lineEndings?: 'lf' | 'keep';
  flags: readonly string[];
  /** ms since the epoch. */
  internalDate: number;
  maxHeaderBytes?: number;
}

const STRIPPED = new Set(['status', 'x-status', 'x-keywords', 'content-length', 'x-uid', 'x-imap', 'x-imapbase']);
const FROM_ = Buffer.from('From ');
const GT = Buffer.from('>');

export class MboxEntryEncoder {
  private readonly splitter = new LineSplitter();
  private readonly format: MboxFormat;
  private readonly lf: boolean;
  private readonly maxHeaderBytes: number;
  private inHeader = true;
  private headerLines: Buffer[] = [];
  private headerBytes = 0;
  private out: Buffer[] = [];
  private lastByte = -1;
  private eol = '\n';

  constructor(private readonly options: MboxEntryOptions) {
    this.format = options.format ?? 'mboxrd';
    this.lf = (options.lineEndings ?? 'lf') === 'lf';
    this.maxHeaderBytes = options.maxHeaderBytes ?? 256 * 1024;
  }

  push(chunk: Buffer): Buffer {
    this.splitter.push(chunk, this.onLine);
    return this.take();
  }

  /** The end of the message: completes a last line without line end, and adds the blank separator line. */
  finish(): Buffer {
    this.splitter.finish(this.onLine);
    if (this.inHeader) this.flushHeader();
    if (this.lastByte !== 10) this.emit(Buffer.from(this.eol));
    this.emit(Buffer.from(this.eol));
    return this.take();
  }

  private take(): Buffer {
    const b = Buffer.concat(this.out);
    this.out = [];
    return b;
  }

  private emit(b: Buffer): void {
    if (b.length === 0) return;
    this.out.push(b);
    this.lastByte = b[b.length - 1]!;
  }

  private emitLine(line: Buffer, complete: boolean): void {
    if (this.lf) {
      const parts: Buffer[] = [];
      pushLf(parts, line, complete);
      for (const p of parts) this.emit(p);
    } else {
      this.emit(line);
    }
  }

  private onLine = (line: Buffer, first: boolean, complete: boolean): void => {
    if (this.inHeader) {
      const blank = complete && (line.length === 1 || (line.length === 2 && line[0] === 13));
      if (first && complete && !blank && this.headerBytes + line.length <= this.maxHeaderBytes) {
        if (this.headerLines.length === 0 && !this.lf && line.length >= 2 && line[line.length - 2] === 13) this.eol = '\r\n';
        this.headerLines.push(Buffer.from(line));
        this.headerBytes += line.length;
        return;
      }
      this.flushHeader();
    }
    this.emitLine(first ? this.quote(line) : line, complete);
  };

  private quote(line: Buffer): Buffer {
    let k = 0;
    if (this.format === 'mboxrd') while (k < line.length && line[k] === 0x3e) k++;
    if (line.length >= k + 5 && line.compare(FROM_, 0, 5, k, k + 5) === 0) return Buffer.concat([GT, line]);
    return line;
  }

  /** Writes the From_ line and the header with the flag fields. */
  private flushHeader(): void {
    this.inHeader = false;
    let sender: string | null = null;
    const kept: Buffer[] = [];
    const lines = this.headerLines;
    let i = 0;
    while (i < lines.length) {
      let j = i + 1;
      while (j < lines.length && (lines[j]![0] === 0x20 || lines[j]![0] === 0x09)) j++;
      const first = lines[i]!.toString('latin1');
      const colon = first.indexOf(':');
      const name = colon > 0 ? first.slice(0, colon).trim().toLowerCase() : '';
      if (!STRIPPED.has(name)) {
        if (name === 'return-path' && sender === null) {
          sender = senderFromReturnPath(lines.slice(i, j).map((l) => l.toString('latin1')).join('').slice(colon + 1));
        }
        for (let k = i; k < j; k++) kept.push(lines[k]!);
      }
      i = j;
    }
    this.emit(Buffer.from(formatFromLine(sender, this.options.internalDate)));
    for (const l of kept) this.emitLine(this.quote(l), true);
    const { status, xStatus, xKeywords } = mboxStatusHeaders(this.options.flags);
    let fields = `Status: ${status}${this.eol}`;
    if (xStatus) fields += `X-Status: ${xStatus}${this.eol}`;
    if (xKeywords) fields += `X-Keywords: ${xKeywords}${this.eol}`;
    this.emit(Buffer.from(fields, 'latin1'));
    this.headerLines = [];
  }
}
