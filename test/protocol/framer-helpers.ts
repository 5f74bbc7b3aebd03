// Test helpers for the command framer: feed input whole, byte by byte or in random chunks while a tiny
// "server" reacts to events (IDLE → raw-line mode, a line → back to command mode), and normalize events
// into plain data for deepEqual.
import { CommandFramer, type CommandFramerOptions, type FramerEvent } from '../../src/protocol/command-framer.js';
import type { ImapArg, LiteralSink } from '../../src/protocol/types.js';

/** Compact argument form: atom → 'text'; quoted → {q}; literal → {lit} / {lit8}; stream → {stream}; list → []. */
export type Arg = string | { q: string } | { lit: string } | { lit8: string } | { stream: string; size: number } | Arg[];
export type Ev =
  | ['cmd', string, string, Arg[]]
  | ['continue', string, number]
  | ['error', string | null, string, string?]
  | ['line', string];

export class RecordingSink implements LiteralSink {
  readonly parts: Buffer[] = [];
  ended = false;
  aborted: string | null = null;
  write(chunk: Buffer): void {
    this.parts.push(Buffer.from(chunk));
  }
  end(): void {
    this.ended = true;
  }
  abort(reason: string): void {
    this.aborted = reason;
  }
  get data(): string {
    return Buffer.concat(this.parts).toString('latin1');
  }
}

export function argOf(a: ImapArg): Arg {
  switch (a.type) {
    case 'atom':
      return a.value;
    case 'string':
      if (!a.literal) return { q: a.value.toString('latin1') };
      return a.literal8 ? { lit8: a.value.toString('latin1') } : { lit: a.value.toString('latin1') };
    case 'list':
      return a.items.map(argOf);
    case 'stream':
      return { stream: (a.sink as RecordingSink).data, size: a.size };
  }
}

export function normalize(ev: FramerEvent): Ev {
  switch (ev.kind) {
    case 'command':
      return ['cmd', ev.command.tag, ev.command.name, ev.command.args.map(argOf)];
    case 'continue':
      return ['continue', ev.tag, ev.size];
    case 'error':
      return ev.code ? ['error', ev.tag, ev.text, ev.code] : ['error', ev.tag, ev.text];
    case 'line':
      return ['line', ev.line.toString('latin1')];
  }
}

/** A deterministic PRNG (mulberry32) so random chunking is reproducible. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function splitEvery(buf: Buffer, size: number): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0; i < buf.length; i += size) out.push(buf.subarray(i, i + size));
  return out;
}

export function splitRandom(buf: Buffer, seed: number, maxChunk = 17): Buffer[] {
  const r = rng(seed);
  const out: Buffer[] = [];
  let i = 0;
  while (i < buf.length) {
    const n = 1 + Math.floor(r() * maxChunk);
    out.push(buf.subarray(i, i + n));
    i += n;
  }
  return out;
}

/** Feeds chunks like the server does: on IDLE (or AUTHENTICATE without initial response) switch to raw
 *  mode and drain; on a raw line switch back and drain. Streams go to RecordingSinks for APPEND. */
export function feed(chunks: Buffer[], opts: CommandFramerOptions = {}, sinkFor?: (name: string) => boolean): Ev[] {
  const framer = new CommandFramer({
    openLiteralSink: sinkFor ? (info) => (sinkFor(info.name) ? new RecordingSink() : undefined) : undefined,
    ...opts,
  });
  const out: Ev[] = [];
  const handle = (evs: FramerEvent[]): void => {
    for (let i = 0; i < evs.length; i++) {
      const ev = evs[i]!;
      out.push(normalize(ev));
      // A holding command is always the last event of its batch.
      if (ev.kind === 'command' && framer.holding && i === evs.length - 1) {
        framer.setRawLineMode(true);
        handle(framer.drain());
      } else if (ev.kind === 'line') {
        framer.setRawLineMode(false);
        handle(framer.drain());
      }
    }
  };
  for (const c of chunks) handle(framer.push(c));
  return out;
}

/** The same input fed whole, byte by byte and in several random chunkings must give the same events. */
export function feedAllWays(input: Buffer, opts: CommandFramerOptions = {}, sinkFor?: (name: string) => boolean): Ev[] {
  const whole = feed([input], opts, sinkFor);
  const bytewise = feed(splitEvery(input, 1), opts, sinkFor);
  if (JSON.stringify(bytewise) !== JSON.stringify(whole)) {
    throw new Error(`byte-by-byte differs:\n${JSON.stringify(bytewise)}\nvs whole:\n${JSON.stringify(whole)}`);
  }
  for (let seed = 1; seed <= 5; seed++) {
    const r = feed(splitRandom(input, seed), opts, sinkFor);
    if (JSON.stringify(r) !== JSON.stringify(whole)) {
      throw new Error(`random chunks (seed ${seed}) differ:\n${JSON.stringify(r)}\nvs whole:\n${JSON.stringify(whole)}`);
    }
  }
  return whole;
}
