// A throwaway PostgreSQL server for the PostgreSQL store's tests (issue 8, "the same tests on both
// backends"). `ensurePostgres()` installs Debian's `postgresql` with apt-get when it is missing, runs
// `initdb` into a temp directory (as the `postgres` OS user when we are root: the server refuses to run
// as root), starts it with `pg_ctl` on 127.0.0.1 and a free port, with its Unix socket in the temp
// directory, and creates a database. One server per test process (each test file is its own process);
// `createTestDatabase()` then hands every test a fresh database of its own.
//
// PETREL_TEST_PG_URL=postgres://user@host:port/db makes the helpers use that server instead (CI may start
// one for all tests); the role needs CREATEDB for createTestDatabase().
//
// Nothing is skipped silently: when PostgreSQL cannot be installed or started, ensurePostgres() rejects
// with a message that says why, and every test that needs it fails with that message.
import { spawn, spawnSync } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { freePort } from '../../tools/lib/ports.js';

export interface PostgresServer {
  /** URL of a database on the server (postgres://...). */
  url: string;
  /** Stops the server and removes its directory (a no-op for PETREL_TEST_PG_URL). */
  stop(): Promise<void>;
}

export interface TestDatabase {
  url: string;
  /** Drops the database (closing what is still connected to it). */
  drop(): Promise<void>;
}

let shared: Promise<PostgresServer> | null = null;

/** The process's test server, started (and installed) on first use. */
export function ensurePostgres(): Promise<PostgresServer> {
  shared ??= start().catch((err: unknown) => {
    const msg = err instanceof Error ? err.message : String(err);
    throw new Error(
      `PostgreSQL tests cannot run: ${msg}\n` +
        'Install Debian\'s postgresql package (apt-get install -y postgresql) or point PETREL_TEST_PG_URL at a server.',
    );
  });
  return shared;
}

export interface StartPostgresOptions {
  /** fsync, synchronous_commit and full_page_writes on (the default cluster turns them off). */
  durable?: boolean;
  /** shared_buffers (default 32MB). */
  sharedBuffers?: string;
}

/**
 * A server of the caller's own, not the process's shared one (the benchmark: durable, larger cache).
 * Honours PETREL_TEST_PG_URL like ensurePostgres().
 */
export function startPostgres(options: StartPostgresOptions = {}): Promise<PostgresServer> {
  return start(options);
}

let dbCounter = 0;
/** A fresh, empty database on the server, named after this process and a counter. */
export async function createTestDatabase(server: PostgresServer): Promise<TestDatabase> {
  const name = `petrel_t${process.pid}_${++dbCounter}_${Date.now().toString(36)}`;
  await adminQuery(server.url, `CREATE DATABASE ${name}`);
  const url = withDatabase(server.url, name);
  return {
    url,
    async drop() {
      await adminQuery(server.url, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    },
  };
}

/**
 * Empties every table of the database's public schema except `keep`, restarting identity columns (several
 * times faster than creating a database per test). Nothing else may be connected to it meanwhile.
 */
export async function resetDatabase(url: string, keep: readonly string[] = []): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const r = await client.query<{ name: string }>(
      `SELECT quote_ident(tablename) AS name FROM pg_tables WHERE schemaname = 'public' AND NOT (tablename = ANY($1::text[]))`,
      [keep],
    );
    if (r.rows.length > 0) await client.query(`TRUNCATE ${r.rows.map((x) => x.name).join(', ')} RESTART IDENTITY CASCADE`);
  } finally {
    await client.end();
  }
}

/** `url` with its database name replaced. */
export function withDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = '/' + encodeURIComponent(database);
  return u.toString();
}

async function adminQuery(url: string, sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

// ------------------------------------------------------------------ starting a server

async function start(options: StartPostgresOptions = {}): Promise<PostgresServer> {
  const given = process.env.PETREL_TEST_PG_URL;
  if (given) {
    await adminQuery(given, 'SELECT 1');
    return { url: given, stop: async () => {} };
  }
  let bin = findPostgresBin();
  if (bin === null) {
    await installPostgres();
    bin = findPostgresBin();
    if (bin === null) throw new Error('apt-get installed postgresql but no /usr/lib/postgresql/*/bin/initdb was found');
  }
  return startCluster(bin, options);
}

/** The bin directory of the newest installed PostgreSQL (Debian layout), or null. */
export function findPostgresBin(): string | null {
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return null;
  const versions = readdirSync(root)
    .filter((v) => /^\d+(\.\d+)?$/.test(v) && existsSync(join(root, v, 'bin', 'initdb')) && existsSync(join(root, v, 'bin', 'pg_ctl')))
    .sort((a, b) => Number(b) - Number(a));
  return versions.length > 0 ? join(root, versions[0]!, 'bin') : null;
}

function isRoot(): boolean {
  return typeof process.getuid === 'function' && process.getuid() === 0;
}

function run(cmd: string[], env: NodeJS.ProcessEnv = process.env): Promise<{ code: number; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(cmd[0]!, cmd.slice(1), { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    const keep = (d: Buffer) => {
      output += d.toString('utf8');
      if (output.length > 20_000) output = output.slice(-10_000);
    };
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    child.on('error', (e) => resolve({ code: 127, output: `${cmd[0]}: ${e.message}` }));
    child.on('close', (code) => resolve({ code: code ?? 1, output }));
  });
}

async function installPostgres(): Promise<void> {
  if (spawnSync('sh', ['-c', 'command -v apt-get'], { stdio: 'ignore' }).status !== 0) {
    throw new Error('PostgreSQL is not installed and apt-get is not available');
  }
  const prefix: string[] = [];
  if (!isRoot()) {
    if (spawnSync('sudo', ['-n', 'true'], { stdio: 'ignore' }).status !== 0) {
      throw new Error('PostgreSQL is not installed and installing it needs root (sudo apt-get install -y postgresql)');
    }
    prefix.push('sudo', '-n');
  }
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  // Another test process (or the Dovecot helper) may be running apt-get at the same time: wait for the lock.
  const lock = ['-o', 'DPkg::Lock::Timeout=600'];
  console.error('[postgres] installing Debian\'s postgresql with apt-get');
  const update = await run([...prefix, 'apt-get', ...lock, 'update'], env);
  if (update.code !== 0) console.error(`[postgres] apt-get update failed (${update.output.trim().slice(-500)}); trying the install anyway`);
  const inst = await run([...prefix, 'apt-get', ...lock, 'install', '-y', 'postgresql'], env);
  if (inst.code !== 0) throw new Error(`apt-get install -y postgresql failed: ${inst.output.trim().slice(-2000)}`);
}

/** Runs a PostgreSQL program as the postgres OS user when we are root (the server refuses root). */
function asPostgres(cmd: string[]): string[] {
  if (!isRoot()) return cmd;
  if (spawnSync('sh', ['-c', 'command -v runuser'], { stdio: 'ignore' }).status === 0) {
    return ['runuser', '-u', 'postgres', '--', ...cmd];
  }
  return ['su', 'postgres', '-s', '/bin/sh', '-c', cmd.map(shellQuote).join(' ')];
}

function shellQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

function postgresAccount(): { uid: number; gid: number } | null {
  try {
    for (const line of readFileSync('/etc/passwd', 'utf8').split('\n')) {
      const f = line.split(':');
      if (f[0] === 'postgres' && f.length >= 4) return { uid: Number(f[2]), gid: Number(f[3]) };
    }
  } catch {
    /* no /etc/passwd */
  }
  return null;
}


async function startCluster(bin: string, options: StartPostgresOptions): Promise<PostgresServer> {
  const dir = mkdtempSync(join(tmpdir(), 'petrel-pg-'));
  if (isRoot()) {
    const acct = postgresAccount();
    if (acct === null) throw new Error('no postgres OS user (the postgresql package creates it)');
    chownSync(dir, acct.uid, acct.gid);
  }
  const data = join(dir, 'data');
  const log = join(dir, 'server.log');
  const init = await run(
    asPostgres([join(bin, 'initdb'), '-D', data, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--locale=C', '--no-sync']),
  );
  if (init.code !== 0) {
    rmSync(dir, { recursive: true, force: true });
    throw new Error(`initdb failed: ${init.output.trim().slice(-2000)}`);
  }
  const pgCtl = join(bin, 'pg_ctl');
  let lastError = '';
  // A free port may be taken between choosing and binding it: try a few.
  for (let attempt = 0; attempt < 4; attempt++) {
    const port = await freePort();
    // Durability settings off unless asked for: these clusters are thrown away, and fsync would only slow the tests.
    const durable = options.durable === true ? 'on' : 'off';
    const opts = [
      `-p ${port}`,
      '-c listen_addresses=127.0.0.1',
      `-c unix_socket_directories=${dir}`,
      `-c fsync=${durable}`,
      `-c synchronous_commit=${durable}`,
      `-c full_page_writes=${durable}`,
      '-c max_connections=200',
      `-c shared_buffers=${options.sharedBuffers ?? '32MB'}`,
    ].join(' ');
    const started = await run(asPostgres([pgCtl, '-D', data, '-l', log, '-w', '-t', '60', '-o', opts, 'start']));
    if (started.code === 0) {
      const stopNow = (): void => {
        const cmd = asPostgres([pgCtl, '-D', data, '-m', 'immediate', '-w', 'stop']);
        spawnSync(cmd[0]!, cmd.slice(1), { stdio: 'ignore' });
        rmSync(dir, { recursive: true, force: true });
      };
      // A test process that ends without calling stop() must not leave a server running.
      process.once('exit', stopNow);
      const base = `postgres://postgres@127.0.0.1:${port}/postgres`;
      await adminQuery(base, 'CREATE DATABASE petrel_test');
      let stopped = false;
      return {
        url: withDatabase(base, 'petrel_test'),
        async stop() {
          if (stopped) return;
          stopped = true;
          process.off('exit', stopNow);
          await run(asPostgres([pgCtl, '-D', data, '-m', 'fast', '-w', 'stop']));
          rmSync(dir, { recursive: true, force: true });
        },
      };
    }
    lastError = started.output.trim();
    try {
      lastError += '\n' + readFileSync(log, 'utf8').slice(-2000);
    } catch {
      /* no log */
    }
  }
  rmSync(dir, { recursive: true, force: true });
  throw new Error(`pg_ctl start failed: ${lastError.slice(-3000)}`);
}
