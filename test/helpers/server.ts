// Starts a real Petrel IMAP server for end-to-end tests: in-process on an OS-chosen loopback port
// (startTestServer), or as the real `petrel serve` command in a child process (startCliServer), which
// the kill -9 durability test needs. Each server gets its own temporary data directory.
//
// Backends (issue 8, "the same tests on both backends"): startTestServer runs on the embedded SQLite store,
// or on a PostgresStore in a fresh database of its own when `backend: 'postgres'` is given or the
// environment says PETREL_TEST_BACKEND=postgres (test/e2e/postgres-backend.test.ts runs whole e2e files
// that way, with PETREL_TEST_PG_URL naming the one PostgreSQL server they share).
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { hashPassword } from '../../src/auth/password.js';
import { startServer, type RunningServer, type ServerOptions } from '../../src/server/server.js';
import { openPostgresStore } from '../../src/store/postgres/postgres-store.js';
import { openSqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import { provisionUser } from '../../src/store/provision.js';
import type { Store } from '../../src/store/types.js';
import { freePort } from './ports.js';
import { createTestDatabase, ensurePostgres, type TestDatabase } from './postgres.js';
export { freePort };

export type TestBackend = 'sqlite' | 'postgres';

/** The backend named by PETREL_TEST_BACKEND ('sqlite' when unset). */
export function defaultTestBackend(): TestBackend {
  const b = process.env.PETREL_TEST_BACKEND ?? 'sqlite';
  if (b !== 'sqlite' && b !== 'postgres') throw new Error(`PETREL_TEST_BACKEND: "${b}" is neither sqlite nor postgres`);
  return b;
}

/** Repository root, from dist/test/helpers/server.js. */
export const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));

export interface TestServerOptions {
  allowInsecureAuth?: ServerOptions['allowInsecureAuth'];
  tls?: ServerOptions['tls'];
  maxMessageSize?: number;
  maxConnectionsPerIp?: number;
  idleTimeoutMs?: number;
  /** Accounts besides alice. */
  extraUsers?: Array<{ user: string; password: string }>;
  /** The store: default from PETREL_TEST_BACKEND, else SQLite. PostgreSQL: a fresh database per server. */
  backend?: TestBackend;
}

export interface TestServer {
  port: number;
  user: string;
  password: string;
  store: Store;
  backend: TestBackend;
  dataDir: string;
  server: RunningServer;
  stop(): Promise<void>;
}

export const TEST_USER = 'alice';
export const TEST_PASSWORD = 'correct horse battery staple';

export async function makeDataDir(): Promise<string> {
  return mkdtemp(join(tmpdir(), 'petrel-e2e-'));
}

/** Creates alice (and extra users) in a store at `dataDir`. */
export async function provisionAccounts(store: Store, extra: Array<{ user: string; password: string }> = []): Promise<void> {
  await provisionUser(store, TEST_USER, await hashPassword(TEST_PASSWORD));
  for (const u of extra) await provisionUser(store, u.user, await hashPassword(u.password));
}

/** A store of the backend: SQLite in `dataDir`, or PostgreSQL in a database created for it (dropped by `drop`). */
async function openTestStore(backend: TestBackend, dataDir: string): Promise<{ store: Store; drop(): Promise<void> }> {
  if (backend === 'sqlite') return { store: await openSqliteStore(dataDir), drop: async () => {} };
  const db: TestDatabase = await createTestDatabase(await ensurePostgres());
  try {
    return { store: await openPostgresStore(db.url, { gcIntervalMs: 0 }), drop: () => db.drop() };
  } catch (err) {
    await db.drop().catch(() => undefined);
    throw err;
  }
}

export async function startTestServer(opts: TestServerOptions = {}): Promise<TestServer> {
  const backend = opts.backend ?? defaultTestBackend();
  const dataDir = await makeDataDir();
  let store: Store | null = null;
  let drop: () => Promise<void> = async () => {};
  try {
    ({ store, drop } = await openTestStore(backend, dataDir));
    await provisionAccounts(store, opts.extraUsers);
    const server = await startServer({
      store,
      host: '127.0.0.1',
      imapPort: 0,
      imapsPort: null,
      tls: opts.tls ?? null,
      ...(opts.allowInsecureAuth ? { allowInsecureAuth: opts.allowInsecureAuth } : {}),
      ...(opts.maxMessageSize ? { maxMessageSize: opts.maxMessageSize } : {}),
      ...(opts.maxConnectionsPerIp ? { maxConnectionsPerIp: opts.maxConnectionsPerIp } : {}),
      ...(opts.idleTimeoutMs ? { idleTimeoutMs: opts.idleTimeoutMs } : {}),
    });
    const s = store;
    let stopped = false;
    return {
      port: server.imapPort!,
      user: TEST_USER,
      password: TEST_PASSWORD,
      store: s,
      backend,
      dataDir,
      server,
      async stop() {
        if (stopped) return;
        stopped = true;
        await server.close();
        await s.close();
        await drop();
        await rm(dataDir, { recursive: true, force: true });
      },
    };
  } catch (err) {
    await store?.close().catch(() => undefined);
    await drop().catch(() => undefined);
    await rm(dataDir, { recursive: true, force: true });
    throw err;
  }
}

export interface ChildServer {
  port: number;
  child: ChildProcess;
  /** Everything the child wrote to stdout and stderr so far. */
  output(): string;
  /** SIGKILL, then wait for the exit. */
  kill9(): Promise<void>;
  /** SIGTERM (then SIGKILL after a while), and wait for the exit. */
  stop(): Promise<void>;
}

/**
 * Runs `node bin/petrel.js serve --data DIR --host 127.0.0.1 --imap-port N --imaps-port 0 --pop3-port 0
 * --pop3s-port 0` and waits until
 * the port answers with a greeting. Accounts must exist in DIR already (see provisionAccounts).
 */
export async function startCliServer(dataDir: string, opts: { imapsPort?: number; timeoutMs?: number } = {}): Promise<ChildServer> {
  const port = await freePort();
  const args = [
    join(REPO_ROOT, 'bin/petrel.js'),
    'serve',
    '--data',
    dataDir,
    '--host',
    '127.0.0.1',
    '--imap-port',
    String(port),
    '--imaps-port',
    String(opts.imapsPort ?? 0),
    // No POP3 listeners: their default ports would collide between servers running at the same time.
    '--pop3-port',
    '0',
    '--pop3s-port',
    '0',
  ];
  return spawnAndWait(args, port, opts.timeoutMs ?? 15000);
}

async function spawnAndWait(args: string[], port: number, timeoutMs: number): Promise<ChildServer> {
  const child = spawn(process.execPath, args, {
    cwd: REPO_ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, PETREL_LOG_LEVEL: process.env.PETREL_LOG_LEVEL ?? 'warn' },
  });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  let exited = child.exitCode !== null;
  const exitPromise = new Promise<void>((resolve) => {
    child.once('exit', () => {
      exited = true;
      resolve();
    });
  });
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (exited) throw new Error(`server process exited early: ${out}`);
    if (await greets(port)) break;
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`server did not answer on port ${port}: ${out}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    port,
    child,
    output: () => out,
    async kill9() {
      if (!exited) child.kill('SIGKILL');
      await exitPromise;
    },
    async stop() {
      if (exited) return;
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exitPromise;
      clearTimeout(t);
    },
  };
}

/** True if something on the port sends an IMAP greeting. */
function greets(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ port, host: '127.0.0.1' });
    let data = '';
    const done = (ok: boolean): void => {
      s.destroy();
      resolve(ok);
    };
    s.setTimeout(2000, () => done(false));
    s.on('data', (d: Buffer) => {
      data += d.toString('latin1');
      if (data.includes('\r\n')) done(data.startsWith('* OK'));
    });
    s.on('error', () => done(false));
    s.on('close', () => done(false));
  });
}
