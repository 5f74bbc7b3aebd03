// mbox files on disk: streaming reads through MboxParser (one chunk at a time, from any message boundary, so
// an import can resume at a byte offset) and the quoting-style detection for `--mbox-format auto`.
import { open } from 'node:fs/promises';
import { MboxParser, type MboxEvent, type MboxFormat, type MboxParserOptions } from './mbox-parser.js';

export const MBOX_READ_CHUNK = 1 << 20;

/** Yields the events of `path` from `options.startOffset` on, one array per chunk read. */
export async function* readMboxEvents(path: string, options: MboxParserOptions): AsyncGenerator<MboxEvent[]> {
  const parser = new MboxParser(options);
  const fh = await open(path, 'r');
  try {
    let position = options.startOffset ?? 0;
    for (;;) {
      // A fresh buffer per read: the parser keeps references to partial lines until they complete.
      const buf = Buffer.allocUnsafe(MBOX_READ_CHUNK);
      const { bytesRead } = await fh.read(buf, 0, buf.length, position);
      if (bytesRead === 0) break;
      position += bytesRead;
      const events = parser.push(buf.subarray(0, bytesRead));
      if (events.length > 0) yield events;
    }
    const last = parser.finish();
    if (last.length > 0) yield last;
  } finally {
    await fh.close();
  }
}

export interface FormatGuess {
  format: MboxFormat;
  /** Whether a line matching /^>>+From / was found (if not, mboxo and mboxrd read the file identically). */
  doubleQuoted: boolean;
}

/**
 * Guesses the quoting style. The two styles read a file differently only on lines matching /^>>+From /:
 * an mboxrd writer makes one from every body line ">From ..." (frequent: it is how mail that was once in an
 * mboxo file looks), an mboxo writer only from a body line that already was ">>From ..." (rare). So such
 * a line is taken as evidence of mboxrd; without one the answer does not matter and is "mboxo".
 * Scans the file with indexOf (about a second per GB) and stops at the first such line.
 */
export async function detectMboxFormat(path: string): Promise<FormatGuess> {
  const fh = await open(path, 'r');
  const needle = Buffer.from('\n>>');
  try {
    let position = 0;
    // The tail of the previous chunk is kept so a line start across the boundary is seen; "\n" stands
    // for the start of the file.
    let tail = Buffer.from('\n');
    for (;;) {
      const buf = Buffer.allocUnsafe(4 << 20);
      const { bytesRead } = await fh.read(buf, 0, buf.length, position);
      if (bytesRead === 0) break;
      position += bytesRead;
      const hay = Buffer.concat([tail, buf.subarray(0, bytesRead)]);
      let at = hay.indexOf(needle);
      while (at >= 0) {
        let k = at + 1;
        while (k < hay.length && hay[k] === 0x3e) k++;
        if (k + 5 <= hay.length && hay.toString('latin1', k, k + 5) === 'From ') {
          return { format: 'mboxrd', doubleQuoted: true };
        }
        at = hay.indexOf(needle, at + 1);
      }
      // 256 bytes of tail cover any plausible run of '>' (a longer one split by the boundary is missed).
      tail = hay.subarray(Math.max(0, hay.length - 256));
    }
  } finally {
    await fh.close();
  }
  return { format: 'mboxo', doubleQuoted: false };
}
