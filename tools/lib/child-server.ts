// Runs the real `petrel serve` (bin/petrel.js) as a child process on a data directory, for the soak and
// stress tools: start, wait for the greeting, SIGKILL, graceful stop. With PETREL_STORE=postgres://… in
// `env` the node serves that database (several such nodes share it; issue 8).
import { spawn, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { hashPassword } from '../../src/auth/password.js';
import { provisionUser } from '../../src/store/provision.js';
import { openPostgresStore } from '../../src/store/postgres/postgres-store.js';
import { openSqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import { freePort } from './ports.js';

export { freePort };

/** Repository root, from dist/tools/lib/child-server.js. */
export const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));

export const SOAK_USER = 'soak';
export const SOAK_PASSWORD = 'soak password';

/** Creates the accounts (password SOAK_PASSWORD). `cheapHash`: scrypt with tiny parameters, so that load tools
 *  can log in thousands of sessions without spending minutes in password hashing (never for real accounts). */
export async function provision(dataDir: string, users: string[] = [SOAK_USER], cheapHash = false): Promise<void> {
  const store = await openSqliteStore(dataDir);
  try {
    const hash = await hashPassword(SOAK_PASSWORD, cheapHash ? { ln: 4, r: 1, p: 1 } : undefined);
    for (const u of users) if (!(await store.getUser(u))) await provisionUser(store, u, hash);
  } finally {
    await store.close();
  }
}

/** As provision(), in a PostgreSQL store (the database every `petrel serve --store URL` node shares). */
export async function provisionPostgres(url: string, users: string[] = [SOAK_USER], cheapHash = false): Promise<void> {
  const store = await openPostgresStore(url, { gcIntervalMs: 0 });
  try {
    const hash = await hashPassword(SOAK_PASSWORD, cheapHash ? { ln: 4, r: 1, p: 1 } : undefined);
    for (const u of users) if (!(await store.getUser(u))) await provisionUser(store, u, hash);
  } finally {
    await store.close();
  }
}

export interface ChildServer {
  port: number;
  pid: number;
  child: ChildProcess;
  output(): string;
  kill9(): Promise<void>;
  stop(): Promise<void>;
  exited(): boolean;
}

export async function startChildServer(
  dataDir: string,
  port?: number,
  timeoutMs = 20_000,
  env: Record<string, string> = {},
  imapsPort = 0,
): Promise<ChildServer> {
  const p = port ?? (await freePort());
  const child = spawn(
    process.execPath,
    [join(REPO_ROOT, 'bin/petrel.js'), 'serve', '--data', dataDir, '--host', '127.0.0.1', '--imap-port', String(p), '--imaps-port', String(imapsPort), '--pop3-port', '0', '--pop3s-port', '0'],
    { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, PETREL_LOG_LEVEL: process.env.PETREL_LOG_LEVEL ?? 'warn', ...env } },
  );
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out = (out + d.toString()).slice(-20_000)));
  child.stderr!.on('data', (d: Buffer) => (out = (out + d.toString()).slice(-20_000)));
  let exited = false;
  const exitPromise = new Promise<void>((resolve) => child.once('exit', () => ((exited = true), resolve())));
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (exited) throw new Error(`server exited during start: ${out}`);
    if (await greets(p)) break;
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`server did not answer on port ${p}: ${out}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    port: p,
    pid: child.pid!,
    child,
    output: () => out,
    exited: () => exited,
    async kill9() {
      if (!exited) child.kill('SIGKILL');
      await exitPromise;
    },
    async stop() {
      if (exited) return;
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exitPromise;
      clearTimeout(t);
    },
  };
}

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
