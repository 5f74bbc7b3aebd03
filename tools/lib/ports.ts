// Free TCP ports for tests and tools that must name a port before a child process binds it.
//
// The kernel may hand the same ephemeral port to two `listen(0)` calls in a row once the first
// socket is closed, so a test asking for four ports could get one twice (CI saw POP3 and LMTP
// collide). This module remembers every port it gave out in this process and never repeats one.
import net from 'node:net';

const handedOut = new Set<number>();

function probe(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr !== null ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

/** A TCP port on 127.0.0.1 that was free a moment ago and that this process has not handed out before. */
export async function freePort(): Promise<number> {
  for (let i = 0; i < 50; i++) {
    const port = await probe();
    if (port !== 0 && !handedOut.has(port)) {
      handedOut.add(port);
      return port;
    }
  }
  throw new Error('no fresh free port after 50 tries');
}
