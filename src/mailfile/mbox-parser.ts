// A sans-I/O mbox reader: bytes in, message events out (RFC 4155 and its Appendix A on the mbox family;
// the mboxo/mboxrd quoting as in qmail's mbox(5)). It never holds more than one line (up to 1 MiB; longer
// lines pass in pieces) plus one header section (up to `maxHeaderBytes`), so a 1 GB file streams.
//
// - A message starts at a From_ line ("From sender asctime-date", see from-line.ts) that is the first line of
//   the input, or follows a blank line, or follows the header section directly (a header line never starts
//   with "From "), or follows a body whose Content-Length was trusted. The blank line before a From_ line
//   is the separator the writer added and is not part of the message.
// - Quoting: mboxrd removes one ">" from every line matching /^>+From /; mboxo only from /^>From /.
// - Status, X-Status, X-Keywords (→ flags), Content-Length, X-UID, X-IMAP and X-IMAPbase are mbox
//   bookkeeping (written by mbox MUAs and Dovecot/UW), read from the top-level header and removed.
// - With `trustContentLength` (mboxcl2) the body is the next Content-Length bytes, taken verbatim; when the
//   bytes after it are not a separator the count is ignored and reading goes on line by line.
// - Bare LF line ends become CRLF (RFC 5322 §2.1 / RFC 9051 §2.3.4 messages) unless `crlf: false`.
import { flagsFromMboxHeaders } from './flags.js';
import { parseFromLine } from './from-line.js';
import { LineSplitter, pushCrlf } from './line-splitter.js';

export type MboxFormat = 'mboxo' | 'mboxrd';

export interface MboxParserOptions {
  format: MboxFormat;
  trustContentLength?: boolean;
  /** Turn bare LF line ends into CRLF (default true). */
  crlf?: boolean;
  /** File offset of the first byte pushed (when resuming); it must be the start of a From_ line. */
  startOffset?: number;
  maxHeaderBytes?: number;
}

export type MboxEvent =
  | { type: 'begin'; offset: number; sender: string; internalDate: number | null }
  | {
      type: 'header';
      /** The header section without the mbox bookkeeping fields and without the blank line after it. */
      data: Buffer;
      flags: string[];
      /** Keywords in X-Keywords that are not IMAP atoms (dropped). */
      invalidKeywords: string[];
      /** The Date header, ms since the epoch, or null. */
      date: number | null;
    }
  | { type: 'body'; data: Buffer }
  /** `offset`: just past the message: where the next From_ line starts, or the end of the input. */
  | { type: 'end'; offset: number };

export class MboxFormatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MboxFormatError';
  }
}

const STRIPPED = new Set(['status', 'x-status', 'x-keywords', 'content-length', 'x-uid', 'x-imap', 'x-imapbase']);
const FROM_ = Buffer.from('From ');

function startsWithFrom(line: Buffer, at = 0): boolean {
  return line.length >= at + 5 && line.compare(FROM_, 0, 5, at, at + 5) === 0;
}

function isBlank(line: Buffer, complete: boolean): boolean {
  return complete && (line.length === 1 || (line.length === 2 && line[0] === 13));
}

export class MboxParser {
  private readonly splitter = new LineSplitter();
  private readonly format: MboxFormat;
  private readonly trustContentLength: boolean;
  private readonly crlf: boolean;
  private readonly maxHeaderBytes: number;
  private state: 'start' | 'header' | 'body' = 'start';
  /** Offset of the next line's first byte. */
  private offset: number;
  private held: Buffer | null = null;
  private allowBareSeparator = false;
  private headerLines: Buffer[] = [];
  private headerBytes = 0;
  private contentLength: number | null = null;
  private clRemaining = -1;
  private prevCR = false;
  private events: MboxEvent[] = [];
  private body: Buffer[] = [];
  private sawInput = false;

  constructor(options: MboxParserOptions) {
    this.format = options.format;
    this.trustContentLength = options.trustContentLength ?? false;
    this.crlf = options.crlf ?? true;
    this.maxHeaderBytes = options.maxHeaderBytes ?? 256 * 1024;
    this.offset = options.startOffset ?? 0;
  }

  /** Feeds bytes; returns the events they complete. `chunk` must not be reused by the caller. */
  push(chunk: Buffer): MboxEvent[] {
    if (chunk.length > 0) this.sawInput = true;
    this.splitter.push(chunk, this.onLine);
    return this.take();
  }

  /** Ends the input; returns the last events (the last message's end). */
  finish(): MboxEvent[] {
    this.splitter.finish(this.onLine);
    if (this.state === 'start') {
      if (this.sawInput) throw new MboxFormatError(`no From_ line at offset ${this.offset}: not an mbox file`);
    } else {
      this.held = null;
      this.endMessage(this.offset);
    }
    return this.take();
  }

  private take(): MboxEvent[] {
    this.flushBody();
    const out = this.events;
    this.events = [];
    return out;
  }

  private flushBody(): void {
    if (this.body.length === 0) return;
    this.events.push({ type: 'body', data: Buffer.concat(this.body) });
    this.body = [];
  }

  private emit(event: MboxEvent): void {
    this.flushBody();
    this.events.push(event);
  }

  private onLine = (line: Buffer, first: boolean, complete: boolean): void => {
    const lineOffset = this.offset;
    this.offset += line.length;
    if (!first) {
      this.continuation(line, complete);
      return;
    }
    if (this.state === 'start') {
      const from = complete && startsWithFrom(line) ? parseFromLine(line.toString('latin1', 0, 1024)) : null;
      if (!from) throw new MboxFormatError(`no From_ line at offset ${lineOffset}: not an mbox file`);
      this.begin(lineOffset, from.sender, from.date);
      return;
    }
    if (this.state === 'header') {
      if (complete && startsWithFrom(line)) {
        const from = parseFromLine(line.toString('latin1', 0, 1024));
        if (from) {
          this.endMessage(lineOffset);
          this.begin(lineOffset, from.sender, from.date);
          return;
        }
      }
      if (isBlank(line, complete)) {
        this.finishHeader();
        if (this.trustContentLength && this.contentLength !== null) {
          this.out(line, complete);
          this.clRemaining = this.contentLength;
          if (this.clRemaining === 0) {
            this.clRemaining = -1;
            this.allowBareSeparator = true;
          }
        } else {
          this.held = line;
        }
        return;
      }
      if (!complete) {
        this.finishHeader();
        this.out(this.unquote(line), complete);
        return;
      }
      const unquoted = this.unquote(line);
      this.headerLines.push(unquoted);
      this.headerBytes += unquoted.length;
      if (this.headerBytes > this.maxHeaderBytes) this.finishHeader();
      return;
    }
    // body
    if (this.clRemaining >= 0) {
      if (line.length <= this.clRemaining) {
        this.out(line, complete);
        this.clRemaining -= line.length;
        if (this.clRemaining === 0) {
          this.clRemaining = -1;
          this.allowBareSeparator = true;
        }
        return;
      }
      this.clRemaining = -1; // the count was wrong: read on line by line
    }
    if (complete && (this.held !== null || this.allowBareSeparator) && startsWithFrom(line)) {
      const from = parseFromLine(line.toString('latin1', 0, 1024));
      if (from) {
        this.held = null;
        this.endMessage(lineOffset);
        this.begin(lineOffset, from.sender, from.date);
        return;
      }
    }
    this.allowBareSeparator = false;
    if (this.held !== null) {
      this.out(this.held, true);
      this.held = null;
    }
    if (isBlank(line, complete)) {
      this.held = line;
      return;
    }
    this.out(this.clRemaining >= 0 ? line : this.unquote(line), complete);
  };

  /** The second and later pieces of an overlong line: content, whatever the state. */
  private continuation(piece: Buffer, complete: boolean): void {
    if (this.state === 'start') throw new MboxFormatError('no From_ line at the start: not an mbox file');
    if (this.state === 'header') this.finishHeader();
    if (this.clRemaining >= 0) {
      if (piece.length <= this.clRemaining) {
        this.clRemaining -= piece.length;
        if (this.clRemaining === 0) {
          this.clRemaining = -1;
          this.allowBareSeparator = true;
        }
      } else {
        this.clRemaining = -1;
      }
    }
    this.out(piece, complete);
  }

  private out(line: Buffer, complete: boolean): void {
    if (this.crlf) pushCrlf(this.body, line, complete, this.prevCR);
    else this.body.push(line);
    this.prevCR = !complete && line.length > 0 && line[line.length - 1] === 13;
  }

  private unquote(line: Buffer): Buffer {
    if (line[0] !== 0x3e) return line;
    let k = 1;
    while (k < line.length && line[k] === 0x3e) k++;
    if (!startsWithFrom(line, k)) return line;
    if (this.format === 'mboxo' && k !== 1) return line;
    return line.subarray(1);
  }

  private begin(offset: number, sender: string, date: number | null): void {
    this.emit({ type: 'begin', offset, sender, internalDate: date });
    this.state = 'header';
    this.headerLines = [];
    this.headerBytes = 0;
    this.contentLength = null;
    this.clRemaining = -1;
    this.allowBareSeparator = false;
    this.held = null;
    this.prevCR = false;
  }

  private endMessage(offset: number): void {
    if (this.state === 'header') this.finishHeader();
    this.emit({ type: 'end', offset });
    this.state = 'body';
  }

  /** Reads the bookkeeping fields out of the header lines and emits the rest as the header event. */
  private finishHeader(): void {
    let status: string | null = null;
    let xStatus: string | null = null;
    let xKeywords: string | null = null;
    let date: number | null = null;
    this.contentLength = null;
    const kept: Buffer[] = [];
    const lines = this.headerLines;
    let i = 0;
    while (i < lines.length) {
      // One field: its first line and the continuation lines (starting with SP or HTAB; RFC 5322 §2.2.3).
      let j = i + 1;
      while (j < lines.length && (lines[j]![0] === 0x20 || lines[j]![0] === 0x09)) j++;
      const first = lines[i]!.toString('latin1');
      const colon = first.indexOf(':');
      const name = colon > 0 ? first.slice(0, colon).trim().toLowerCase() : '';
      if (STRIPPED.has(name)) {
        const value = lines
          .slice(i, j)
          .map((l) => l.toString('latin1'))
          .join('')
          .slice(colon + 1)
          .replace(/\r?\n[ \t]*/g, ' ')
          .trim();
        if (name === 'status') status = (status ?? '') + value;
        else if (name === 'x-status') xStatus = (xStatus ?? '') + value;
        else if (name === 'x-keywords') xKeywords = xKeywords === null ? value : `${xKeywords} ${value}`;
        else if (name === 'content-length' && /^\d{1,15}$/.test(value)) this.contentLength = Number(value);
      } else {
        if (name === 'date' && date === null) {
          const value = lines.slice(i, j).map((l) => l.toString('latin1')).join('').slice(colon + 1);
          const ms = Date.parse(value.replace(/\s+/g, ' ').replace(/\([^)]*\)/g, '').trim());
          if (Number.isFinite(ms)) date = ms;
        }
        for (let k = i; k < j; k++) kept.push(lines[k]!);
      }
      i = j;
    }
    const parts: Buffer[] = [];
    for (const l of kept) {
      if (this.crlf) pushCrlf(parts, l, true, false);
      else parts.push(l);
    }
    const flags = flagsFromMboxHeaders(status, xStatus, xKeywords);
    this.emit({ type: 'header', data: Buffer.concat(parts), flags: flags.flags, invalidKeywords: flags.invalid, date });
    this.headerLines = [];
    this.headerBytes = 0;
    this.state = 'body';
  }
}
