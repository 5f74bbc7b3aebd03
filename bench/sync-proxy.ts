// A counting TCP proxy for the sync benchmark (issue 5, item 11): listens on 127.0.0.1, forwards every
// connection to one upstream IMAP server (RFC 9051 over plain TCP, no TLS) and counts the octets in both
// directions, so two IMAP clients (Petrel's sync engine and mbsync) can be compared on the bytes they move
// without trusting either client's own accounting. Nothing is parsed or changed.
import { createServer, connect } from 'node:net';
import type { Server, Socket } from 'node:net';

export interface ByteCounts {
  /** Octets from the client to the server (commands, APPENDed literals). */
  up: number;
  /** Octets from the server to the client (responses, FETCHed literals). */
  down: number;
  /** TCP connections accepted. */
  connections: number;
}

export interface CountingProxy {
  host: string;
  port: number;
  /** Totals since the proxy started (a copy). */
  counts(): ByteCounts;
  /** Connections currently open. */
  open(): number;
  close(): Promise<void>;
}

/** The difference of two snapshots from `counts()`. */
export function diffCounts(after: ByteCounts, before: ByteCounts): ByteCounts {
  return { up: after.up - before.up, down: after.down - before.down, connections: after.connections - before.connections };
}

export async function startCountingProxy(upstreamHost: string, upstreamPort: number): Promise<CountingProxy> {
  const totals: ByteCounts = { up: 0, down: 0, connections: 0 };
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    totals.connections++;
    const upstream = connect({ host: upstreamHost, port: upstreamPort });
    sockets.add(client);
    sockets.add(upstream);
    client.setNoDelay(true);
    upstream.setNoDelay(true);
    client.on('data', (d: Buffer) => {
      totals.up += d.length;
      // Backpressure: pause the reader while the writer's buffer is full.
      if (!upstream.write(d)) client.pause();
    });
    upstream.on('drain', () => client.resume());
    upstream.on('data', (d: Buffer) => {
      totals.down += d.length;
      if (!client.write(d)) upstream.pause();
    });
    client.on('drain', () => upstream.resume());
    const closeBoth = () => {
      client.destroySoon();
      upstream.destroySoon();
    };
    client.on('end', () => upstream.end());
    upstream.on('end', () => client.end());
    client.on('error', closeBoth);
    upstream.on('error', closeBoth);
    client.on('close', () => {
      sockets.delete(client);
      upstream.destroy();
    });
    upstream.on('close', () => {
      sockets.delete(upstream);
      client.destroy();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const addr = server.address();
  if (addr === null || typeof addr === 'string') throw new Error('counting proxy: no TCP address');
  return {
    host: '127.0.0.1',
    port: addr.port,
    counts: () => ({ ...totals }),
    open: () => Math.ceil(sockets.size / 2),
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
