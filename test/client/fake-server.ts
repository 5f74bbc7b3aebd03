// An in-memory transport and a scripted IMAP "server" for client unit tests: the test reads what the
// client sent, line by line, and answers with exact bytes, delivered whole, one byte at a time, or in
// random chunks (so the client's routing is checked at every chunk boundary).
import { Duplex } from 'node:stream';

class End extends Duplex {
  peer!: End;
  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    // Delivered on a later turn, as real sockets do (TLS, for one, breaks if a whole handshake completes
    // inside tls.connect()).
    setImmediate(() => {
      if (!this.peer.destroyed) this.peer.push(chunk);
      cb();
    });
  }
  override _read(): void {}
  override _final(cb: (err?: Error | null) => void): void {
    setImmediate(() => {
      if (!this.peer.destroyed) this.peer.push(null);
      cb();
    });
  }
  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    if (!this.peer.destroyed) {
      this.peer.push(null);
      this.peer.destroy();
    }
    cb(err);
  }
}

/** Two connected in-memory duplex ends: [client side, server side]. */
export function duplexPair(): [Duplex, Duplex] {
  const a = new End();
  const b = new End();
  a.peer = b;
  b.peer = a;
  return [a, b];
}

export type Chunking = 'whole' | 'bytes' | { seed: number };

/** Deterministic PRNG (mulberry32). */
export function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const tick = () => new Promise<void>((r) => setImmediate(r));

export class FakeServer {
  readonly clientSide: Duplex;
  private readonly end: Duplex;
  private received = Buffer.alloc(0);
  private waiters: Array<() => void> = [];
  private rand: (() => number) | null;
  closed = false;

  constructor(private readonly chunking: Chunking = 'whole') {
    const [c, s] = duplexPair();
    this.clientSide = c;
    this.end = s;
    this.rand = typeof chunking === 'object' ? rng(chunking.seed) : null;
    s.on('data', (d: Buffer) => {
      this.received = Buffer.concat([this.received, d]);
      this.wake();
    });
    s.on('close', () => {
      this.closed = true;
      this.wake();
    });
    s.on('end', () => {
      this.closed = true;
      this.wake();
    });
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  private async waitData(): Promise<void> {
    await new Promise<void>((r) => this.waiters.push(r));
  }

  /** Bytes the client sent that no read has taken yet. */
  get pending(): string {
    return this.received.toString('latin1');
  }

  /** The next line the client sent, without CRLF. Rejects if the client closes first. */
  async line(): Promise<string> {
    for (;;) {
      const i = this.received.indexOf('\r\n');
      if (i >= 0) {
        const l = this.received.subarray(0, i).toString('utf8');
        this.received = this.received.subarray(i + 2);
        return l;
      }
      if (this.closed) throw new Error(`client closed; pending: ${JSON.stringify(this.pending)}`);
      await this.waitData();
    }
  }

  /** Exactly n bytes the client sent. */
  async bytes(n: number): Promise<Buffer> {
    for (;;) {
      if (this.received.length >= n) {
        const b = this.received.subarray(0, n);
        this.received = this.received.subarray(n);
        return b;
      }
      if (this.closed) throw new Error('client closed');
      await this.waitData();
    }
  }

  /** Lets the client run for a few event-loop turns (to show it did NOT send something). */
  async settle(turns = 10): Promise<void> {
    for (let i = 0; i < turns; i++) await tick();
  }

  /** Sends bytes, chunked as configured; each chunk is a separate read on the client. */
  async send(data: string | Buffer): Promise<void> {
    const buf = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
    if (this.chunking === 'whole') {
      this.end.write(buf);
      await tick();
      return;
    }
    let i = 0;
    while (i < buf.length) {
      const n = this.chunking === 'bytes' ? 1 : 1 + Math.floor(this.rand!() * 40);
      this.end.write(buf.subarray(i, i + n));
      i += n;
      await tick();
    }
  }

  /** Closes the server side. */
  close(): void {
    this.end.destroy();
  }
}

export const CHUNKINGS: Chunking[] = ['whole', 'bytes', { seed: 1 }, { seed: 7 }, { seed: 42 }];

export function chunkingName(c: Chunking): string {
  return typeof c === 'string' ? c : `random seed ${c.seed}`;
}
