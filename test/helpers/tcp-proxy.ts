// A loopback TCP proxy a test controls: forwards to a target port, counts bytes both ways, and can
// cut the network (destroy every connection and refuse new ones) and restore it.
import net from 'node:net';

export interface TcpProxy {
  port: number;
  /** Bytes client → server and server → client so far. */
  bytesUp(): number;
  bytesDown(): number;
  /** Drops every open connection; new ones are closed at once until restore(). */
  cut(): void;
  restore(): void;
  close(): Promise<void>;
}

export async function startTcpProxy(targetPort: number, targetHost = '127.0.0.1'): Promise<TcpProxy> {
  let up = 0;
  let down = 0;
  let down_ = false;
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    if (down_) {
      client.destroy();
      return;
    }
    const upstream = net.connect(targetPort, targetHost);
    sockets.add(client);
    sockets.add(upstream);
    const drop = () => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on('data', (d) => {
      up += d.length;
    });
    upstream.on('data', (d) => {
      down += d.length;
    });
    client.pipe(upstream);
    upstream.pipe(client);
    client.on('error', drop);
    upstream.on('error', drop);
    client.on('close', drop);
    upstream.on('close', drop);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as net.AddressInfo).port;
  return {
    port,
    bytesUp: () => up,
    bytesDown: () => down,
    cut() {
      down_ = true;
      for (const s of sockets) s.destroy();
      sockets.clear();
    },
    restore() {
      down_ = false;
    },
    async close() {
      down_ = true;
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
