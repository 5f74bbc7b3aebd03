// Splits a byte stream into lines (each with its LF) without holding more than one line in memory; a line
// longer than `maxLine` is handed over in pieces (only the first piece has `first` set), so a file with a
// huge line, or none at all, still streams in bounded memory.

export type LineHandler = (line: Buffer, first: boolean, complete: boolean) => void;

export class LineSplitter {
  private carry: Buffer[] = [];
  private carryLen = 0;
  private midLine = false;

  constructor(private readonly maxLine = 1 << 20) {}

  /** Feeds a chunk; `onLine` gets every complete line (and pieces of overlong ones). Keeps references
   *  into `chunk` only until a line is complete, so callers must not reuse the buffer. */
  push(chunk: Buffer, onLine: LineHandler): void {
    let start = 0;
    for (;;) {
      const nl = chunk.indexOf(10, start);
      if (nl < 0) break;
      let line = chunk.subarray(start, nl + 1);
      if (this.carryLen > 0) {
        this.carry.push(line);
        line = Buffer.concat(this.carry, this.carryLen + line.length);
        this.carry = [];
        this.carryLen = 0;
      }
      const first = !this.midLine;
      this.midLine = false;
      onLine(line, first, true);
      start = nl + 1;
    }
    if (start < chunk.length) {
      const rest = chunk.subarray(start);
      this.carry.push(rest);
      this.carryLen += rest.length;
      if (this.carryLen >= this.maxLine) {
        const piece = Buffer.concat(this.carry, this.carryLen);
        this.carry = [];
        this.carryLen = 0;
        const first = !this.midLine;
        this.midLine = true;
        onLine(piece, first, false);
      }
    }
  }

  /** Ends the stream: a last line without LF is handed over as incomplete. */
  finish(onLine: LineHandler): void {
    if (this.carryLen > 0) {
      const piece = Buffer.concat(this.carry, this.carryLen);
      this.carry = [];
      this.carryLen = 0;
      onLine(piece, !this.midLine, false);
    }
    this.midLine = false;
  }
}

const CRLF = Buffer.from('\r\n');
const LF = Buffer.from('\n');

/** Appends `line` to `out` with a bare LF ending turned into CRLF. `prevCR`: the byte before `line` was CR. */
export function pushCrlf(out: Buffer[], line: Buffer, complete: boolean, prevCR: boolean): void {
  const n = line.length;
  if (complete && n > 0 && line[n - 1] === 10 && !(n >= 2 ? line[n - 2] === 13 : prevCR)) {
    if (n > 1) out.push(line.subarray(0, n - 1));
    out.push(CRLF);
  } else {
    out.push(line);
  }
}

/** Appends `line` to `out` with a CRLF ending turned into LF. */
export function pushLf(out: Buffer[], line: Buffer, complete: boolean): void {
  const n = line.length;
  if (complete && n >= 2 && line[n - 1] === 10 && line[n - 2] === 13) {
    if (n > 2) out.push(line.subarray(0, n - 2));
    out.push(LF);
  } else {
    out.push(line);
  }
}

/** Streaming bare-LF → CRLF conversion for message files (Maildir import). */
export class CrlfConverter {
  private prevCR = false;
  push(chunk: Buffer): Buffer {
    if (chunk.length === 0) return chunk;
    const out: Buffer[] = [];
    let start = 0;
    for (;;) {
      const nl = chunk.indexOf(10, start);
      if (nl < 0) break;
      const before = nl > 0 ? chunk[nl - 1] === 13 : this.prevCR;
      if (!before) {
        out.push(chunk.subarray(start, nl), CRLF);
        start = nl + 1;
      } else {
        // keep going: the CRLF is already fine; emit up to and including it lazily
        out.push(chunk.subarray(start, nl + 1));
        start = nl + 1;
      }
    }
    if (start < chunk.length) out.push(chunk.subarray(start));
    this.prevCR = chunk[chunk.length - 1] === 13;
    return out.length === 1 ? out[0]! : Buffer.concat(out);
  }
}

/** Streaming CRLF → LF conversion (export). A CR at a chunk's end is held until the next chunk. */
export class LfConverter {
  private heldCR = false;
  push(chunk: Buffer): Buffer {
    const out: Buffer[] = [];
    if (this.heldCR) {
      this.heldCR = false;
      if (chunk.length === 0 || chunk[0] !== 10) out.push(Buffer.from('\r'));
    }
    let start = 0;
    for (;;) {
      const nl = chunk.indexOf(10, start);
      if (nl < 0) break;
      if (nl > start && chunk[nl - 1] === 13) {
        out.push(chunk.subarray(start, nl - 1), LF);
      } else {
        out.push(chunk.subarray(start, nl + 1));
      }
      start = nl + 1;
    }
    if (start < chunk.length) {
      if (chunk[chunk.length - 1] === 13) {
        out.push(chunk.subarray(start, chunk.length - 1));
        this.heldCR = true;
      } else {
        out.push(chunk.subarray(start));
      }
    }
    return Buffer.concat(out);
  }
  finish(): Buffer {
    const tail = this.heldCR ? Buffer.from('\r') : Buffer.alloc(0);
    this.heldCR = false;
    return tail;
  }
}
