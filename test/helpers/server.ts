// Starts a real Petrel IMAP server for end-to-end tests: in-process on an OS-chosen loopback port
// (startTestServer), or as the real `petrel serve` command in a child process (startCliServer), which
// the kill -9 durability test needs. Each server gets its own temporary data directory.
//
// Backends (issue 8, "the same tests on both backends"): startTestServer runs on the embedded SQLite store,
// or on a PostgresStore in a fresh database of its own when `backend: 'postgres'` is given or the
// environment says PETREL_TEST_BACKEND=postgres (test/e2e/postgres-backend.test.ts runs whole e2e files
// that way, with PETREL_TEST_PG_URL naming the one PostgreSQL server they share).
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { hashPassword } from '../../src/auth/password.js';
import { startServer, type RunningServer, type ServerOptions } from '../../src/server/server.js';
import { openPostgresStore } from '../../src/store/postgres/postgres-store.js';
import { openSqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import { provisionUser } from '../../src/store/provision.js';
import type { Store } from '../../src/store/types.js';
import { startChildServer, type ChildServer } from '../../tools/lib/child-server.js';
import { freePort } from '../../tools/lib/ports.js';
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

export type { ChildServer };

/**
 * Runs `node bin/petrel.js serve --data DIR --host 127.0.0.1 --imap-port N --imaps-port 0 --pop3-port 0
 * --pop3s-port 0` (tools/lib/child-server.ts) and waits until the port answers with a greeting. Accounts
 * must exist in DIR already (see provisionAccounts). No POP3 listeners: their default ports would collide
 * between servers running at the same time.
 */
export function startCliServer(dataDir: string, opts: { imapsPort?: number; timeoutMs?: number } = {}): Promise<ChildServer> {
  return startChildServer(dataDir, undefined, opts.timeoutMs ?? 15_000, {}, opts.imapsPort ?? 0);
}
