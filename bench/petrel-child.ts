// The Petrel side of the benchmark, run as its own process (forked by bench/run.ts) so its memory and CPU
// are measured apart from the benchmark client, as Dovecot's are. It opens a SQLite store in a temp data
// directory, provisions the bench user, starts the IMAP server on 127.0.0.1 with an OS-chosen port and
// answers a few requests over the IPC channel: fill a mailbox through the store API (fast population of
// the 100,000-message mailbox), run the garbage collector before a memory sample, stop.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openSqliteStore } from '../src/store/sqlite/sqlite-store.js';
import { provisionUser } from '../src/store/provision.js';
import { hashPassword } from '../src/auth/password.js';
import { startServer } from '../src/server/server.js';
import { populate } from './populate.js';

export type ChildRequest =
  | { id: number; type: 'populate'; mailbox: string; count: number; seed: number; kind: 'tiny' | 'small' }
  | { id: number; type: 'gc' }
  | { id: number; type: 'stop' };

export type ChildMessage =
  | { type: 'ready'; port: number; user: string; password: string; dataDir: string }
  | { type: 'done'; id: number; ms?: number; error?: string; heapKiB?: number };

const USER = 'bench';
const PASSWORD = 'bench-password';

async function main(): Promise<void> {
  const dataDir = mkdtempSync(join(tmpdir(), 'petrel-bench-'));
  const store = await openSqliteStore(dataDir);
  // Dovecot's passwd-file holds the password in clear; a cheaper scrypt cost keeps 1,000 logins from
  // dominating the memory benchmark's set-up time without changing what is measured.
  await provisionUser(store, USER, await hashPassword(PASSWORD, { ln: 10, r: 8, p: 1 }));
  const server = await startServer({
    store,
    host: '127.0.0.1',
    imapPort: 0,
    imapsPort: null,
    tls: null,
    allowInsecureAuth: 'always',
    maxConnectionsPerIp: 100_000,
  });
  const send = (m: ChildMessage) => process.send?.(m);
  send({ type: 'ready', port: server.imapPort ?? 0, user: USER, password: PASSWORD, dataDir });

  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    await server.close();
    await store.close();
    rmSync(dataDir, { recursive: true, force: true });
  };
  process.on('message', (raw: unknown) => {
    const req = raw as ChildRequest;
    void (async () => {
      const t0 = performance.now();
      try {
        if (req.type === 'populate') await populate(store, USER, req.mailbox, req.count, req.seed, req.kind);
        else if (req.type === 'gc') {
          const gc = (globalThis as { gc?: () => void }).gc;
          if (gc) {
            gc();
            await new Promise((r) => setTimeout(r, 100));
            gc();
          }
          const mu = process.memoryUsage();
          // Live JavaScript heap plus memory outside it held by JS objects (Buffers, sockets' buffers).
          const heapKiB = (mu.heapUsed + mu.external) / 1024;
          send({ type: 'done', id: req.id, ms: performance.now() - t0, heapKiB });
          return;
        } else if (req.type === 'stop') {
          await stop();
          send({ type: 'done', id: req.id, ms: performance.now() - t0 });
          process.exit(0);
        }
        send({ type: 'done', id: req.id, ms: performance.now() - t0 });
      } catch (e) {
        send({ type: 'done', id: req.id, error: (e as Error).stack ?? String(e) });
      }
    })();
  });
  process.on('disconnect', () => {
    void stop().then(() => process.exit(0));
  });
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
