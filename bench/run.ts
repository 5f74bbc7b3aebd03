// `npm run bench`: the same IMAP workload against Petrel and against Dovecot (Debian's dovecot-imapd on
// loopback with its own configuration), printing both numbers and their ratio (issue 2, item 10).
// Workloads: APPEND rate (RFC 9051 §6.3.12, MULTIAPPEND RFC 3502), FETCH FLAGS / ENVELOPE over a large
// mailbox and FETCH BODY[] throughput (RFC 9051 §6.4.5), SELECT of a 100,000-message mailbox
// (RFC 9051 §6.3.2), and server memory per idle connection, half of them in IDLE (RFC 2177).
// Issue 3 item 8: SEARCH FROM / BODY (RFC 9051 §6.4.4) and FETCH BODYSTRUCTURE over the 100,000-message mailbox.
// Issue 4 item 6: resynchronisation after N flag changes and N expunges, QRESYNC SELECT (RFC 7162 §3.2.5)
// against a full SELECT + UID FETCH 1:* (FLAGS) scan, time and octets on the wire, for several N and two sizes.
// Issue 8 item 6: the same workload on the PostgreSQL store with one and with N `petrel serve` nodes
// (--postgres, --nodes N; the driver spreads its sessions over the nodes), and IDLE push (RFC 2177): time
// from an APPEND in one session (on node B) to the untagged EXISTS (RFC 9051 §7.4.1) in an IDLE session
// (on node A), median and 95th percentile.
// Issue 5 item 11: `--only sync` runs bench/sync-bench.ts instead (Petrel's sync engine vs mbsync against
// Dovecot; not part of the default run).
// Issue 6 item 4: `--only import` runs bench/import-bench.ts instead (`petrel import` of 100,000 messages from
// mbox and Maildir, and `petrel export`, in msg/s; not part of the default run).
//
//   node dist/bench/run.js [--quick] [--only append,fetch,body,select,search,resync,push,memory] [--no-dovecot]
//                          [--no-petrel] [--postgres] [--postgres-url URL] [--nodes N]
//                          [--dovecot-format maildir|sdbox] [--repeat N] [--json FILE] [--markdown]
//
// Both servers run at the same time and each benchmark runs on one, then the other, so a change in the
// machine's load affects both alike. The read benchmarks report the first run and the median of --repeat
// warm runs. The memory benchmark uses freshly started servers.
import { fork, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync, chownSync, readFileSync, rmSync } from 'node:fs';
import { cpus, loadavg, totalmem, release, tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { ensureDovecotInstalled, startDovecot } from '../test/helpers/dovecot.js';
import type { DovecotMailFormat, DovecotServer } from '../test/helpers/dovecot.js';
import { createTestDatabase, startPostgres } from '../test/helpers/postgres.js';
import type { PostgresServer, TestDatabase } from '../test/helpers/postgres.js';
import { startChildServer } from '../tools/lib/child-server.js';
import type { ChildServer } from '../tools/lib/child-server.js';
import { openStore } from '../src/store/open-store.js';
import type { Store } from '../src/store/types.js';
import { provisionUser } from '../src/store/provision.js';
import { hashPassword } from '../src/auth/password.js';
import { populate } from './populate.js';
import { ImapDriver, quote } from './imap-driver.js';
import type { CommandPart } from './imap-driver.js';
import { makeMessage, rng, smallMessage, tinyMessage, variedMessages } from './messages.js';
import { treeMemory } from './proc-memory.js';
import { runSyncBenchCli, wantsSyncBench } from './sync-bench.js';
import { runImportBenchCli, wantsImportBench } from './import-bench.js';
import type { MemorySample } from './proc-memory.js';
import type { ChildMessage, ChildRequest } from './petrel-child.js';

// ---------------------------------------------------------------- options

const BENCHES = ['append', 'fetch', 'body', 'select', 'search', 'resync', 'push', 'memory'] as const;
type BenchName = (typeof BENCHES)[number];

interface Options {
  quick: boolean;
  only: Set<BenchName>;
  dovecot: boolean;
  petrel: boolean;
  dovecotFormat: DovecotMailFormat;
  json: string | null;
  markdown: boolean;
  /** Warm repetitions of the read benchmarks; the median is reported. */
  repeat: number;
  /** Also measure Petrel on PostgreSQL with one node. */
  postgres: boolean;
  /** An existing PostgreSQL server (its role needs CREATEDB) instead of a throwaway cluster. */
  postgresUrl: string | null;
  /** With a value of 2 or more: also measure Petrel on PostgreSQL with that many nodes. */
  nodes: number;
}

function parseArgs(argv: string[]): Options {
  const o: Options = {
    quick: false,
    only: new Set(BENCHES),
    dovecot: true,
    petrel: true,
    dovecotFormat: 'maildir',
    json: null,
    markdown: false,
    repeat: 3,
    postgres: false,
    postgresUrl: null,
    nodes: 1,
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const value = () => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${a} needs a value`);
      return v;
    };
    if (a === '--quick') o.quick = true;
    else if (a === '--no-dovecot') o.dovecot = false;
    else if (a === '--no-petrel') o.petrel = false;
    else if (a === '--markdown') o.markdown = true;
    else if (a === '--postgres') o.postgres = true;
    else if (a === '--postgres-url') {
      o.postgresUrl = value();
      o.postgres = true;
    } else if (a === '--nodes') {
      o.nodes = Number(value());
      if (!Number.isInteger(o.nodes) || o.nodes < 1 || o.nodes > 8) throw new Error('--nodes needs an integer from 1 to 8');
      o.postgres = true;
    }
    else if (a === '--json') o.json = value();
    else if (a === '--repeat') {
      o.repeat = Number(value());
      if (!Number.isInteger(o.repeat) || o.repeat < 1) throw new Error('--repeat needs a positive integer');
    }
    else if (a === '--dovecot-format') {
      const f = value();
      if (f !== 'maildir' && f !== 'sdbox') throw new Error('--dovecot-format is maildir or sdbox');
      o.dovecotFormat = f;
    } else if (a === '--only') {
      const names = value().split(',');
      o.only = new Set();
      for (const n of names) {
        if (!(BENCHES as readonly string[]).includes(n)) throw new Error(`unknown benchmark ${n} (${BENCHES.join(', ')})`);
        o.only.add(n as BenchName);
      }
    } else if (a === '--help' || a === '-h') {
      console.log(
        'usage: npm run bench -- [--quick] [--only ' +
          BENCHES.join(',') +
          '] [--no-dovecot] [--no-petrel] [--postgres] [--postgres-url URL] [--nodes N] [--dovecot-format maildir|sdbox]' +
          ' [--repeat N] [--json FILE] [--markdown]\n       npm run bench -- --only sync [--quick] ... (Petrel sync vs mbsync; --only sync --help)',
      );
      process.exit(0);
    } else throw new Error(`unknown option ${a}`);
  }
  return o;
}

interface Sizes {
  appendCount: number;
  appendPipeline: number;
  fetchCount: number;
  bodyCount: number;
  bodySize: number;
  selectCount: number;
  /** The smaller mailbox of the resync benchmark (the larger one is the SELECT mailbox). */
  resyncSmall: number;
  /** Numbers of flag changes (and as many expunges) between two resyncs. */
  resyncChanges: number[];
  connections: number;
  /** APPEND → EXISTS trials of the IDLE push benchmark. */
  pushTrials: number;
}

const FULL: Sizes = {
  appendCount: 2000,
  appendPipeline: 16,
  fetchCount: 10_000,
  bodyCount: 200,
  bodySize: 1_000_000,
  selectCount: 100_000,
  resyncSmall: 10_000,
  resyncChanges: [10, 100, 1000],
  connections: 1000,
  pushTrials: 200,
};
const QUICK: Sizes = {
  appendCount: 200,
  appendPipeline: 16,
  fetchCount: 1000,
  bodyCount: 20,
  bodySize: 1_000_000,
  selectCount: 10_000,
  resyncSmall: 1_000,
  resyncChanges: [10, 100],
  connections: 100,
  pushTrials: 50,
};

// ---------------------------------------------------------------- results

interface Metric {
  bench: BenchName;
  label: string;
  unit: string;
  higherIsBetter: boolean;
  values: Partial<Record<TargetName, number>>;
  notes: Partial<Record<TargetName, string>>;
}

/** 'Petrel' (embedded store), 'Dovecot', 'Petrel-PG' (PostgreSQL, one node), 'Petrel-PG×N' (N nodes). */
type TargetName = string;
const metrics: Metric[] = [];

function record(bench: BenchName, label: string, unit: string, higherIsBetter: boolean, target: TargetName, value: number, note?: string): void {
  let m = metrics.find((x) => x.bench === bench && x.label === label);
  if (!m) {
    m = { bench, label, unit, higherIsBetter, values: {}, notes: {} };
    metrics.push(m);
  }
  m.values[target] = value;
  if (note !== undefined) m.notes[target] = note;
  const shown = `${fmt(value)} ${unit}${note ? ` (${note})` : ''}`;
  console.log(`  ${target.padEnd(11)} ${label}: ${shown}`);
}

function fmt(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  if (Math.abs(v) >= 100) return Math.round(v).toLocaleString('en-US');
  if (Math.abs(v) >= 10) return v.toFixed(1);
  return v.toFixed(2);
}

// ---------------------------------------------------------------- targets

type ChildRequestBody = ChildRequest extends infer R ? (R extends ChildRequest ? Omit<R, 'id'> : never) : never;

interface Target {
  name: TargetName;
  host: string;
  port: number;
  /** Where sessions connect, in turn (several for several nodes); the first is host:port. */
  endpoints: Array<{ host: string; port: number }>;
  user: string;
  password: string;
  /** Fills `mailbox` with `count` tiny messages as fast as the target allows (not through APPEND). */
  populateDirect(mailbox: string, count: number, seed: number): Promise<{ ms: number; method: string }>;
  /** Server memory (all of its processes). */
  memory(): Promise<MemorySample>;
  /** The database server's memory (postmaster and all backends), when it runs on this machine. */
  databaseMemory?(): Promise<MemorySample>;
  describe(): string;
  stop(): Promise<void>;
}

async function startPetrel(): Promise<Target | null> {
  const childPath = new URL('./petrel-child.js', import.meta.url);
  const child: ChildProcess = fork(childPath, [], {
    execArgv: ['--expose-gc'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  let nextId = 1;
  const waiters = new Map<number, (m: ChildMessage & { type: 'done' }) => void>();
  let exited = false;
  const ready = new Promise<(ChildMessage & { type: 'ready' }) | null>((resolve) => {
    child.on('message', (raw: unknown) => {
      const m = raw as ChildMessage;
      if (m.type === 'ready') resolve(m);
      else if (m.type === 'done') {
        const w = waiters.get(m.id);
        waiters.delete(m.id);
        w?.(m);
      }
    });
    child.on('exit', (code) => {
      exited = true;
      resolve(null);
      for (const [, w] of waiters) w({ type: 'done', id: -1, error: `petrel child exited (${code})` });
      waiters.clear();
    });
  });
  const info = await ready;
  if (!info) {
    console.error('[bench] the Petrel server did not start (see the error above); measuring Dovecot only.');
    return null;
  }
  const request = (req: ChildRequestBody): Promise<ChildMessage & { type: 'done' }> => {
    const id = nextId++;
    return new Promise((resolve, reject) => {
      if (exited) {
        reject(new Error('petrel child is gone'));
        return;
      }
      waiters.set(id, (m) => (m.error ? reject(new Error(m.error)) : resolve(m)));
      child.send({ ...req, id } as ChildRequest);
    });
  };
  const pid = child.pid ?? -1;
  return {
    name: 'Petrel',
    host: '127.0.0.1',
    port: info.port,
    endpoints: [{ host: '127.0.0.1', port: info.port }],
    user: info.user,
    password: info.password,
    async populateDirect(mailbox, count, seed) {
      const r = await request({ type: 'populate', mailbox, count, seed, kind: 'tiny' });
      return { ms: r.ms ?? 0, method: 'store API (prepare + append, 1,000 per transaction) in the server process' };
    },
    async memory() {
      const r = await request({ type: 'gc' });
      return { ...treeMemory(pid, false), ...(r.heapKiB !== undefined ? { heapKiB: r.heapKiB } : {}) };
    },
    describe: () => `Petrel (Node ${process.version}, SQLite store, one process)`,
    async stop() {
      if (exited) return;
      const gone = new Promise<void>((r) => child.once('exit', () => r()));
      try {
        await Promise.race([request({ type: 'stop' }), gone]);
      } catch {
        /* exited */
      }
      await Promise.race([gone, new Promise((r) => setTimeout(r, 5000))]);
      if (!exited) child.kill('SIGKILL');
    },
  };
}

async function startDovecotTarget(opts: Options, sizes: Sizes): Promise<Target | null> {
  if (!(await ensureDovecotInstalled())) return null;
  const d: DovecotServer | null = await startDovecot({
    mailFormat: opts.dovecotFormat,
    maxConnections: sizes.connections + 50,
  });
  if (!d) return null;
  const target: Target = {
    name: 'Dovecot',
    host: d.host,
    port: d.port,
    endpoints: [{ host: d.host, port: d.port }],
    user: d.user,
    password: d.password,
    async populateDirect(mailbox, count, seed) {
      if (d.mailFormat !== 'maildir') {
        const t0 = performance.now();
        await populateByMultiappend(target, mailbox, count, (i) => tinyMessage(seed, i));
        return { ms: performance.now() - t0, method: 'MULTIAPPEND, 100 messages per command' };
      }
      return populateMaildir(d, mailbox, count, seed);
    },
    async memory() {
      return treeMemory(d.pid, true);
    },
    describe: () => `Dovecot ${d.version} (${d.mailFormat}, one imap process per connection)`,
    stop: () => d.stop(),
  };
  return target;
}

const PG_USER = 'bench';
const PG_PASSWORD = 'bench-password';

/**
 * Petrel on PostgreSQL: a fresh database on `server`, the bench user provisioned through the store API, then
 * `nodes` real `petrel serve --store postgres://…` processes (PETREL_STORE), each with its own data directory
 * (TLS certificate only), plain IMAP on 127.0.0.1. The benchmark process keeps a store of its own on the same
 * database to fill mailboxes directly (every node sees what it writes: the database is shared).
 */
async function startPostgresTarget(name: TargetName, nodes: number, server: PostgresServer): Promise<Target | null> {
  let db: TestDatabase;
  try {
    db = await createTestDatabase(server);
  } catch (e) {
    console.error(`[bench] cannot create a PostgreSQL database: ${(e as Error).message}`);
    return null;
  }
  const dirs: string[] = [];
  const children: ChildServer[] = [];
  let store: Store | null = null;
  const cleanup = async () => {
    for (const c of children) await c.stop().catch(() => undefined);
    await store?.close().catch(() => undefined);
    await db.drop().catch(() => undefined);
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  };
  try {
    for (let i = 0; i < nodes; i++) dirs.push(mkdtempSync(join(tmpdir(), `petrel-bench-pg${i + 1}-`)));
    store = await openStore({ dataDir: dirs[0]!, store: db.url });
    // Cheaper scrypt parameters, as for the embedded target (login cost is not measured).
    await provisionUser(store, PG_USER, await hashPassword(PG_PASSWORD, { ln: 10, r: 8, p: 1 }));
    const env = {
      PETREL_STORE: db.url,
      PETREL_MAX_CONNECTIONS_PER_IP: '1000000',
      PETREL_LOG_LEVEL: process.env.PETREL_LOG_LEVEL ?? 'warn',
    };
    // One after the other: each node migrates the schema (already done by our store) and checks for accounts.
    for (const d of dirs) children.push(await startChildServer(d, undefined, 60_000, env));
  } catch (e) {
    console.error(`[bench] ${name} did not start: ${(e as Error).message}`);
    await cleanup();
    return null;
  }
  const client = new pg.Client({ connectionString: db.url });
  await client.connect();
  const version = (await client.query<{ v: string }>(`SELECT current_setting('server_version') AS v`)).rows[0]?.v ?? '?';
  const settings = await client.query<{ name: string; setting: string }>(
    `SELECT name, setting FROM pg_settings WHERE name IN ('fsync', 'synchronous_commit', 'shared_buffers')`,
  );
  // The postmaster's PID (first line of postmaster.pid), to sample the local server's memory; null when the
  // server is elsewhere or the role may not read data_directory.
  let postmasterPid: number | null = null;
  try {
    const dir = (await client.query<{ d: string }>(`SELECT current_setting('data_directory') AS d`)).rows[0]?.d;
    if (dir) postmasterPid = Number(readFileSync(join(dir, 'postmaster.pid'), 'utf8').split('\n')[0]) || null;
  } catch {
    postmasterPid = null;
  }
  await client.end();
  const setting = (n: string) => settings.rows.find((r) => r.name === n)?.setting ?? '?';
  const durability = `fsync=${setting('fsync')}, synchronous_commit=${setting('synchronous_commit')}`;
  const opened = store;
  const endpoints = children.map((c) => ({ host: '127.0.0.1', port: c.port }));
  return {
    name,
    host: endpoints[0]!.host,
    port: endpoints[0]!.port,
    endpoints,
    user: PG_USER,
    password: PG_PASSWORD,
    async populateDirect(mailbox, count, seed) {
      const t0 = performance.now();
      await populate(opened, PG_USER, mailbox, count, seed, 'tiny');
      return { ms: performance.now() - t0, method: 'store API (prepare + append, 1,000 per transaction) from the bench process, same database' };
    },
    async memory() {
      const samples = children.map((c) => treeMemory(c.pid, false));
      return samples.reduce((a, b) => ({ rssKiB: a.rssKiB + b.rssKiB, pssKiB: a.pssKiB + b.pssKiB, processes: a.processes + b.processes }));
    },
    ...(postmasterPid !== null ? { databaseMemory: async () => treeMemory(postmasterPid, true) } : {}),
    describe: () =>
      `${name}: ${nodes} × \`petrel serve --store postgres://…\` (Node ${process.version}) on PostgreSQL ${version} ` +
      `(loopback, ${durability}, shared_buffers ${Number(setting('shared_buffers')) * 8 / 1024} MiB, message bytes in the database)`,
    stop: cleanup,
  };
}

/** Writes maildir files straight into a Maildir++ folder (Dovecot indexes them at the first SELECT). */
async function populateMaildir(d: DovecotServer, mailbox: string, count: number, seed: number): Promise<{ ms: number; method: string }> {
  const t0 = performance.now();
  const root = d.mailDir();
  const folder = join(root, `.${mailbox}`);
  const own = (p: string) => {
    if (process.getuid?.() === 0) chownSync(p, d.mailUid, d.mailGid);
  };
  for (const p of [root, join(root, 'cur'), join(root, 'new'), join(root, 'tmp'), folder, join(folder, 'cur'), join(folder, 'new'), join(folder, 'tmp')]) {
    mkdirSync(p, { recursive: true });
    own(p);
  }
  writeFileSync(join(folder, 'maildirfolder'), '');
  own(join(folder, 'maildirfolder'));
  const base = Math.floor(Date.UTC(2024, 0, 1) / 1000);
  for (let i = 0; i < count; i++) {
    const data = tinyMessage(seed, i);
    // Maildir name: time.unique.host,S=<size>:2,<flags> (the S= field saves Dovecot a stat per message).
    const name = `${base + i}.M${i}P1.bench,S=${data.length}:2,${i % 3 === 0 ? '' : 'S'}`;
    const p = join(folder, 'cur', name);
    writeFileSync(p, data);
    own(p);
  }
  return { ms: performance.now() - t0, method: 'maildir files written directly (no fsync)' };
}

// ---------------------------------------------------------------- helpers

const nextEndpoint = new Map<TargetName, number>();

/** A logged-in session, on the endpoint given or on the target's endpoints in turn (spreading over nodes). */
async function session(t: Target, endpoint?: number): Promise<ImapDriver> {
  let i = endpoint;
  if (i === undefined) {
    i = nextEndpoint.get(t.name) ?? 0;
    nextEndpoint.set(t.name, i + 1);
  }
  const e = t.endpoints[i % t.endpoints.length]!;
  const c = await ImapDriver.connect(e.host, e.port);
  await c.login(t.user, t.password);
  return c;
}

function appendFlags(i: number): string {
  if (i % 10 === 0) return '(\\Seen \\Flagged)';
  if (i % 3 === 0) return '()';
  return '(\\Seen)';
}

async function populateByMultiappend(t: Target, mailbox: string, count: number, message: (i: number) => Buffer): Promise<void> {
  const c = await session(t);
  try {
    await c.ok(`CREATE ${quote(mailbox)}`).catch(() => undefined);
    const per = 100;
    const multi = c.has('MULTIAPPEND');
    const inFlight: Array<Promise<unknown>> = [];
    for (let start = 0; start < count; start += per) {
      const end = Math.min(count, start + per);
      if (multi) {
        const parts: CommandPart[] = [`APPEND ${quote(mailbox)}`];
        for (let i = start; i < end; i++) parts.push(` ${appendFlags(i)} `, message(i));
        inFlight.push(c.ok(parts, { keepUntagged: false }));
      } else {
        for (let i = start; i < end; i++) inFlight.push(c.ok([`APPEND ${quote(mailbox)} ${appendFlags(i)} `, message(i)], { keepUntagged: false }));
      }
      if (inFlight.length >= 8) await inFlight.shift();
    }
    await Promise.all(inFlight);
  } finally {
    await c.logout();
  }
}

function ms(t0: number): number {
  return performance.now() - t0;
}

/** Counts the messages of the selected mailbox from a SELECT result. */
function existsOf(untagged: { text: string }[]): number {
  for (const u of untagged) {
    const m = /^\* (\d+) EXISTS/i.exec(u.text);
    if (m) return Number(m[1]);
  }
  return -1;
}

// ---------------------------------------------------------------- benchmarks

async function benchAppend(t: Target, s: Sizes): Promise<void> {
  const messages = variedMessages(42, s.appendCount);
  const totalBytes = messages.reduce((a, m) => a + m.length, 0);
  const c = await session(t);
  try {
    await c.ok('CREATE bench-append');
    let t0 = performance.now();
    for (let i = 0; i < messages.length; i++) {
      await c.ok([`APPEND bench-append ${appendFlags(i)} `, messages[i]!], { keepUntagged: false });
    }
    let el = ms(t0);
    record('append', `APPEND, one at a time (${s.appendCount} msgs, ${(totalBytes / 1e6).toFixed(0)} MB)`, 'msg/s', true, t.name, (messages.length * 1000) / el, `${((totalBytes / 1e6) * 1000 / el).toFixed(1)} MB/s`);

    await c.ok('CREATE bench-append2');
    t0 = performance.now();
    const inFlight: Array<Promise<unknown>> = [];
    for (let i = 0; i < messages.length; i++) {
      inFlight.push(c.ok([`APPEND bench-append2 ${appendFlags(i)} `, messages[i]!], { keepUntagged: false }));
      if (inFlight.length >= s.appendPipeline) await inFlight.shift();
    }
    await Promise.all(inFlight);
    el = ms(t0);
    record('append', `APPEND, ${s.appendPipeline} pipelined (LITERAL+)`, 'msg/s', true, t.name, (messages.length * 1000) / el, `${((totalBytes / 1e6) * 1000 / el).toFixed(1)} MB/s`);

    const sel = await c.ok('SELECT bench-append2');
    const n = existsOf(sel.untagged);
    if (n !== messages.length) throw new Error(`${t.name}: bench-append2 has ${n} messages, expected ${messages.length}`);
  } finally {
    await c.logout();
  }
}

function median(values: number[]): number {
  const v = [...values].sort((a, b) => a - b);
  const mid = Math.floor(v.length / 2);
  return v.length % 2 === 1 ? v[mid]! : (v[mid - 1]! + v[mid]!) / 2;
}

async function benchFetch(t: Target, s: Sizes, repeat: number): Promise<void> {
  const t0 = performance.now();
  await populateByMultiappend(t, 'bench-fetch', s.fetchCount, (i) => smallMessage(7, i));
  const el = ms(t0);
  record('fetch', `MULTIAPPEND 100/cmd, small msgs (populating ${s.fetchCount})`, 'msg/s', true, t.name, (s.fetchCount * 1000) / el);
  const c = await session(t);
  try {
    const sel = await c.ok('SELECT bench-fetch');
    const n = existsOf(sel.untagged);
    if (n !== s.fetchCount) throw new Error(`${t.name}: bench-fetch has ${n} messages, expected ${s.fetchCount}`);
    for (const item of ['FLAGS', 'ENVELOPE'] as const) {
      const times: number[] = [];
      for (let run = 0; run <= repeat; run++) {
        const f0 = performance.now();
        const r = await c.ok(`FETCH 1:* (${item})`, { keepUntagged: false });
        times.push(ms(f0));
        if (r.untaggedCount < s.fetchCount) throw new Error(`${t.name}: FETCH ${item} returned ${r.untaggedCount} responses`);
      }
      const first = times[0]!;
      const warm = median(times.slice(1));
      record('fetch', `FETCH 1:* (${item}) over ${s.fetchCount}, first`, 'ms', false, t.name, first, `${fmt((s.fetchCount * 1000) / first)} msg/s`);
      record('fetch', `FETCH 1:* (${item}) over ${s.fetchCount}, warm`, 'ms', false, t.name, warm, `${fmt((s.fetchCount * 1000) / warm)} msg/s`);
    }
  } finally {
    await c.logout();
  }
}

async function benchBody(t: Target, s: Sizes, repeat: number): Promise<void> {
  await populateByMultiappend(t, 'bench-body', s.bodyCount, (i) => makeMessage(99, i, s.bodySize));
  const c = await session(t);
  try {
    const sel = await c.ok('SELECT bench-body');
    const n = existsOf(sel.untagged);
    if (n !== s.bodyCount) throw new Error(`${t.name}: bench-body has ${n} messages, expected ${s.bodyCount}`);
    const all: number[] = [];
    const single: number[] = [];
    for (let run = 0; run < repeat; run++) {
      let f0 = performance.now();
      const r = await c.ok('FETCH 1:* (BODY.PEEK[])', { keepUntagged: false });
      let fel = ms(f0);
      if (r.literalBytes < s.bodyCount * s.bodySize * 0.9) throw new Error(`${t.name}: BODY[] returned only ${r.literalBytes} octets`);
      all.push(r.literalBytes / 1e6 / (fel / 1000));
      // One message at a time, as a client opening messages does.
      f0 = performance.now();
      let bytes = 0;
      for (let i = 1; i <= s.bodyCount; i++) {
        const one = await c.ok(`FETCH ${i} (BODY.PEEK[])`, { keepUntagged: false });
        bytes += one.literalBytes;
      }
      fel = ms(f0);
      single.push(bytes / 1e6 / (fel / 1000));
    }
    record('body', `FETCH 1:* (BODY.PEEK[]), ${s.bodyCount} × ~${s.bodySize / 1e6} MB`, 'MB/s', true, t.name, median(all));
    record('body', `FETCH n (BODY.PEEK[]), one message per command`, 'MB/s', true, t.name, median(single));
  } finally {
    await c.logout();
  }
}

/** Mailboxes already filled, per target: the SELECT, SEARCH and resync benchmarks share `bench-big`. */
const populated = new Map<TargetName, Set<string>>();

async function ensurePopulated(t: Target, mailbox: string, count: number, seed: number): Promise<void> {
  const done = populated.get(t.name) ?? new Set<string>();
  populated.set(t.name, done);
  if (done.has(mailbox)) return;
  const p = await t.populateDirect(mailbox, count, seed);
  done.add(mailbox);
  console.log(`  ${t.name.padEnd(7)} populated ${mailbox} with ${count} messages in ${fmt(p.ms / 1000)} s (${p.method})`);
}

async function benchSelect(t: Target, s: Sizes, repeat: number): Promise<void> {
  await ensurePopulated(t, 'bench-big', s.selectCount, 5);
  const times: number[] = [];
  for (let run = 0; run <= repeat; run++) {
    // A new session each time, as a client opening the mailbox does.
    const c = await session(t);
    try {
      const t0 = performance.now();
      const sel = await c.ok('SELECT bench-big', { keepUntagged: true });
      times.push(ms(t0));
      const n = existsOf(sel.untagged);
      if (n !== s.selectCount) throw new Error(`${t.name}: bench-big has ${n} messages, expected ${s.selectCount}`);
    } finally {
      await c.logout();
    }
  }
  const count = s.selectCount.toLocaleString('en-US');
  record('select', `SELECT of ${count} msgs, first (cold index)`, 'ms', false, t.name, times[0]!);
  record('select', `SELECT of ${count} msgs, warm`, 'ms', false, t.name, median(times.slice(1)));
}

/** Number of message numbers/UIDs in the untagged SEARCH response(s) of a result. */
function searchHits(untagged: { text: string }[]): number {
  let n = 0;
  for (const u of untagged) {
    const m = /^\* SEARCH((?: \d+)*)/i.exec(u.text);
    if (m) n += m[1]!.split(' ').filter((x) => x !== '').length;
  }
  return n;
}

/** UIDs listed in untagged SEARCH responses. */
function searchNumbers(untagged: { text: string }[]): number[] {
  const out: number[] = [];
  for (const u of untagged) {
    const m = /^\* SEARCH((?: \d+)*)/i.exec(u.text);
    if (m) for (const x of m[1]!.split(' ')) if (x !== '') out.push(Number(x));
  }
  return out;
}

/** A compact sequence set (RFC 9051 §9 sequence-set) of ascending ranges. */
function toSequenceSet(numbers: number[]): string {
  const v = [...numbers].sort((a, b) => a - b);
  const parts: string[] = [];
  for (let i = 0; i < v.length; ) {
    let j = i;
    while (j + 1 < v.length && v[j + 1] === v[j]! + 1) j++;
    parts.push(j === i ? String(v[i]) : `${v[i]}:${v[j]}`);
    i = j + 1;
  }
  return parts.join(',');
}

/** How many UIDs a sequence set names (no `*`). */
function sequenceSetSize(set: string): number {
  let n = 0;
  for (const part of set.split(',')) {
    const [a, b] = part.split(':');
    n += b === undefined ? 1 : Math.abs(Number(b) - Number(a)) + 1;
  }
  return n;
}

function responseCode(untagged: { text: string }[], code: string): number | null {
  const re = new RegExp(`\\[${code} (\\d+)\\]`, 'i');
  for (const u of untagged) {
    const m = re.exec(u.text);
    if (m) return Number(m[1]);
  }
  return null;
}

/**
 * Issue 3 item 8: SEARCH FROM, SEARCH BODY (a common word and an absent one: the worst case for a scan)
 * and FETCH 1:* (BODYSTRUCTURE) over the 100,000-message mailbox of the SELECT benchmark.
 */
async function benchSearch(t: Target, s: Sizes, repeat: number): Promise<void> {
  await ensurePopulated(t, 'bench-big', s.selectCount, 5);
  const c = await session(t);
  try {
    const sel = await c.ok('SELECT bench-big'); // not timed (Dovecot indexes a new maildir here)
    const n = existsOf(sel.untagged);
    if (n !== s.selectCount) throw new Error(`${t.name}: bench-big has ${n} messages, expected ${s.selectCount}`);
    const count = n.toLocaleString('en-US');
    const queries = ['SEARCH FROM "kowalski"', 'SEARCH BODY "because"', 'SEARCH BODY "zanzibar"'];
    for (const q of queries) {
      const times: number[] = [];
      let hits = -1;
      for (let run = 0; run <= repeat; run++) {
        const f0 = performance.now();
        const r = await c.ok(q);
        times.push(ms(f0));
        const h = searchHits(r.untagged);
        if (hits >= 0 && h !== hits) throw new Error(`${t.name}: ${q} found ${h} then ${hits}`);
        hits = h;
      }
      record('search', `${q} over ${count}, first`, 'ms', false, t.name, times[0]!, `${hits.toLocaleString('en-US')} hits`);
      record('search', `${q} over ${count}, warm`, 'ms', false, t.name, median(times.slice(1)));
    }
    const times: number[] = [];
    for (let run = 0; run <= repeat; run++) {
      const f0 = performance.now();
      const r = await c.ok('FETCH 1:* (BODYSTRUCTURE)', { keepUntagged: false });
      times.push(ms(f0));
      if (r.untaggedCount < n) throw new Error(`${t.name}: FETCH BODYSTRUCTURE returned ${r.untaggedCount} responses`);
    }
    record('search', `FETCH 1:* (BODYSTRUCTURE) over ${count}, first`, 'ms', false, t.name, times[0]!, `${fmt((n * 1000) / times[0]!)} msg/s`);
    const warm = median(times.slice(1));
    record('search', `FETCH 1:* (BODYSTRUCTURE) over ${count}, warm`, 'ms', false, t.name, warm, `${fmt((n * 1000) / warm)} msg/s`);
  } finally {
    await c.logout();
  }
}

/**
 * Issue 4 item 6: a client remembers (UIDVALIDITY, HIGHESTMODSEQ) of a mailbox; another session then changes
 * the flags of N messages and expunges N others; the client comes back and resynchronises, either with
 * SELECT ... (QRESYNC (uidvalidity modseq)) (RFC 7162 §3.2.5: only the changed FETCHes and a VANISHED
 * (EARLIER) set) or with SELECT + UID FETCH 1:* (FLAGS) (everything, then a diff on the client). Timed: from
 * the first command of the resync to its last tagged OK, in a new logged-in session; octets counted both ways.
 */
async function benchResync(t: Target, s: Sizes, repeat: number): Promise<void> {
  await ensurePopulated(t, 'bench-resync', s.resyncSmall, 11);
  await ensurePopulated(t, 'bench-big', s.selectCount, 5);
  const r = rng(4242);
  for (const [box, size] of [['bench-resync', s.resyncSmall], ['bench-big', s.selectCount]] as const) {
    const admin = await session(t);
    try {
      if (!admin.has('QRESYNC')) await admin.ok('CAPABILITY');
      if (!admin.has('QRESYNC')) throw new Error(`${t.name} does not advertise QRESYNC`);
      await admin.ok('ENABLE QRESYNC');
      await admin.ok(`SELECT ${box}`);
      const alive = new Set(searchNumbers((await admin.ok('UID SEARCH ALL')).untagged));
      if (alive.size !== size) throw new Error(`${t.name}: ${box} has ${alive.size} messages, expected ${size}`);
      const flagged = new Set<number>();
      const sizeText = size.toLocaleString('en-US');
      for (const changes of s.resyncChanges) {
        // The client's remembered state, as it left the mailbox.
        const snap = await session(t);
        let uidValidity: number | null;
        let modseq: number | null;
        try {
          await snap.ok('ENABLE QRESYNC');
          const sel = await snap.ok(`SELECT ${box}`);
          uidValidity = responseCode(sel.untagged, 'UIDVALIDITY');
          modseq = responseCode(sel.untagged, 'HIGHESTMODSEQ');
        } finally {
          await snap.logout();
        }
        if (uidValidity === null || modseq === null) throw new Error(`${t.name}: SELECT gave no UIDVALIDITY/HIGHESTMODSEQ`);

        // Another client changes N flags and expunges N messages, at UIDs spread over the whole mailbox.
        const pool = [...alive].filter((u) => !flagged.has(u));
        const chosen = new Set<number>();
        while (chosen.size < 2 * changes && chosen.size < pool.length) chosen.add(pool[Math.floor(r() * pool.length)]!);
        const picks = [...chosen];
        const toFlag = picks.slice(0, changes);
        const toExpunge = picks.slice(changes);
        await admin.ok(`UID STORE ${toSequenceSet(toFlag)} +FLAGS.SILENT (\\Flagged)`, { keepUntagged: false });
        await admin.ok(`UID STORE ${toSequenceSet(toExpunge)} +FLAGS.SILENT (\\Deleted)`, { keepUntagged: false });
        await admin.ok(`UID EXPUNGE ${toSequenceSet(toExpunge)}`, { keepUntagged: false });
        for (const u of toFlag) flagged.add(u);
        for (const u of toExpunge) alive.delete(u);

        const label = `resync ${sizeText} msgs after ${changes} flag changes + ${changes} expunges`;
        const qTimes: number[] = [];
        const fTimes: number[] = [];
        const bTimes: number[] = [];
        let qBytes = 0;
        let fBytes = 0;
        let qNote = '';
        for (let run = 0; run < repeat; run++) {
          // QRESYNC: ENABLE + SELECT (QRESYNC ...).
          const q = await session(t);
          try {
            const b0 = q.bytesIn + q.bytesOut;
            const t0 = performance.now();
            await q.ok('ENABLE QRESYNC');
            const sel = await q.ok(`SELECT ${box} (QRESYNC (${uidValidity} ${modseq}))`);
            qTimes.push(ms(t0));
            qBytes = q.bytesIn + q.bytesOut - b0;
            let fetches = 0;
            let vanished = 0;
            for (const u of sel.untagged) {
              if (/^\* \d+ FETCH /i.test(u.text)) fetches++;
              const v = /^\* VANISHED \(EARLIER\) ([\d:,]+)/i.exec(u.text);
              if (v) vanished += sequenceSetSize(v[1]!);
            }
            if (fetches < changes || vanished < changes) {
              throw new Error(`${t.name}: QRESYNC SELECT reported ${fetches} FETCH and ${vanished} vanished after ${changes} + ${changes} changes`);
            }
            qNote = `${fetches} FETCH, ${vanished} UIDs vanished`;
          } finally {
            await q.logout();
          }
          // Baseline: the same ENABLE + SELECT without the QRESYNC parameter, i.e. what opening the mailbox
          // costs anyway; QRESYNC minus this is the cost of the resync itself.
          const b = await session(t);
          try {
            const t0 = performance.now();
            await b.ok('ENABLE QRESYNC');
            await b.ok(`SELECT ${box}`, { keepUntagged: false });
            bTimes.push(ms(t0));
          } finally {
            await b.logout();
          }
          // Full scan: SELECT + UID FETCH 1:* (FLAGS).
          const f = await session(t);
          try {
            const b0 = f.bytesIn + f.bytesOut;
            const t0 = performance.now();
            await f.ok(`SELECT ${box}`, { keepUntagged: false });
            const all = await f.ok('UID FETCH 1:* (FLAGS)', { keepUntagged: false });
            fTimes.push(ms(t0));
            fBytes = f.bytesIn + f.bytesOut - b0;
            if (all.untaggedCount < alive.size) throw new Error(`${t.name}: UID FETCH 1:* (FLAGS) returned ${all.untaggedCount} of ${alive.size}`);
          } finally {
            await f.logout();
          }
        }
        record('resync', `${label}: QRESYNC SELECT, time`, 'ms', false, t.name, median(qTimes), qNote);
        record('resync', `${label}: QRESYNC SELECT, octets`, 'bytes', false, t.name, qBytes);
        record('resync', `${label}: plain SELECT (baseline), time`, 'ms', false, t.name, median(bTimes));
        record('resync', `${label}: SELECT + UID FETCH 1:* (FLAGS), time`, 'ms', false, t.name, median(fTimes));
        record('resync', `${label}: SELECT + UID FETCH 1:* (FLAGS), octets`, 'bytes', false, t.name, fBytes);
      }
    } finally {
      await admin.logout();
    }
  }
}

/** The p-th percentile (0 < p ≤ 100) by the nearest-rank method. */
function percentile(values: number[], p: number): number {
  const v = [...values].sort((a, b) => a - b);
  return v[Math.max(0, Math.ceil((p / 100) * v.length) - 1)]!;
}

/**
 * IDLE push (RFC 2177; the EXISTS response, RFC 9051 §7.4.1): session A selects a mailbox and IDLEs on the
 * first node; session B, on the second node when there are several (else on the same server), APPENDs one
 * message at a time. Timed per trial: from sending the APPEND to A receiving `* n EXISTS` for it (and, for
 * comparison, to B's tagged OK). Trials run one after the other, each waiting for its EXISTS.
 */
async function benchPush(t: Target, s: Sizes): Promise<void> {
  const multi = t.endpoints.length > 1;
  const a = await session(t, 0);
  const b = await session(t, multi ? 1 : 0);
  const latencies: number[] = [];
  const appendTimes: number[] = [];
  try {
    await b.ok('CREATE bench-push').catch(() => undefined);
    const sel = await a.ok('SELECT bench-push');
    let exists = Math.max(0, existsOf(sel.untagged));
    let waiter: { count: number; resolve: (at: number) => void } | null = null;
    a.onUntaggedResponse = (r) => {
      const m = /^\* (\d+) EXISTS/i.exec(r.text);
      if (!m) return;
      exists = Number(m[1]);
      if (waiter && exists >= waiter.count) {
        const w = waiter;
        waiter = null;
        w.resolve(performance.now());
      }
    };
    const idle = await a.idle();
    for (let i = 0; i < s.pushTrials; i++) {
      const count = exists + 1;
      let timer: NodeJS.Timeout | undefined;
      const seen = new Promise<number>((resolve, reject) => {
        waiter = { count, resolve };
        timer = setTimeout(() => reject(new Error(`${t.name}: no * ${count} EXISTS in IDLE within 10 s of the APPEND`)), 10_000);
      });
      const t0 = performance.now();
      await b.ok([`APPEND bench-push () `, tinyMessage(77, i)], { keepUntagged: false });
      const okAt = performance.now();
      try {
        latencies.push((await seen) - t0);
      } finally {
        clearTimeout(timer);
      }
      appendTimes.push(okAt - t0);
    }
    await idle.done();
  } finally {
    a.onUntaggedResponse = null;
    await Promise.all([a.logout(), b.logout()]);
  }
  const where = multi ? 'APPEND on node 2, IDLE on node 1' : 'both sessions on one server';
  record('push', `IDLE push: APPEND → untagged EXISTS in the IDLE session, median of ${s.pushTrials}`, 'ms', false, t.name, median(latencies), where);
  record('push', `IDLE push: APPEND → untagged EXISTS in the IDLE session, p95`, 'ms', false, t.name, percentile(latencies, 95), `max ${fmt(Math.max(...latencies))} ms`);
  record('push', `IDLE push: APPEND → its tagged OK (same trials), median`, 'ms', false, t.name, median(appendTimes));
}

async function benchMemory(t: Target, s: Sizes): Promise<void> {
  const settle = () => new Promise((r) => setTimeout(r, 1500));
  await settle();
  const before = await t.memory();
  const dbBefore = await t.databaseMemory?.();
  const conns: ImapDriver[] = [];
  const idles: Array<{ done(): Promise<unknown> }> = [];
  const t0 = performance.now();
  try {
    const batch = 20;
    for (let start = 0; start < s.connections; start += batch) {
      const group = await Promise.all(
        Array.from({ length: Math.min(batch, s.connections - start) }, async (_, k) => {
          const c = await session(t);
          await c.ok('SELECT INBOX');
          if ((start + k) % 2 === 0) idles.push(await c.idle());
          return c;
        }),
      );
      conns.push(...group);
    }
    const openMs = ms(t0);
    await settle();
    const after = await t.memory();
    const dbAfter = await t.databaseMemory?.();
    const n = conns.length;
    const perRss = (after.rssKiB - before.rssKiB) / n;
    const perPss = (after.pssKiB - before.pssKiB) / n;
    const procs = `${before.processes}→${after.processes} processes`;
    record('memory', `server memory before (RSS)`, 'MiB', false, t.name, before.rssKiB / 1024, procs);
    record('memory', `server memory with ${n} connections (RSS)`, 'MiB', false, t.name, after.rssKiB / 1024, `PSS ${fmt(after.pssKiB / 1024)} MiB`);
    record('memory', `memory per idle connection (RSS)`, 'KiB', false, t.name, perRss, `half in IDLE; ${fmt(openMs / 1000)} s to open`);
    record('memory', `memory per idle connection (PSS)`, 'KiB', false, t.name, perPss);
    if (dbBefore && dbAfter) {
      record('memory', `PostgreSQL server memory with the connections (PSS; not in the rows above)`, 'MiB', false, t.name, dbAfter.pssKiB / 1024,
        `${dbBefore.processes}→${dbAfter.processes} processes, +${fmt((dbAfter.pssKiB - dbBefore.pssKiB) / 1024)} MiB`);
    }
    if (before.heapKiB !== undefined && after.heapKiB !== undefined) {
      console.log(`  ${t.name.padEnd(7)} JS heap + external per connection: ${fmt((after.heapKiB - before.heapKiB) / n)} KiB`);
    }
  } finally {
    await Promise.all(idles.map((i) => i.done().catch(() => undefined)));
    await Promise.all(conns.map((c) => c.logout()));
  }
}

// ---------------------------------------------------------------- main

/** The soft open-file limit of this process, or null when unknown/unlimited. */
function openFileLimit(): number | null {
  try {
    const m = /^Max open files\s+(\d+|unlimited)\s+(\d+|unlimited)/m.exec(readFileSync('/proc/self/limits', 'utf8'));
    return m && m[1] !== 'unlimited' ? Number(m[1]) : null;
  } catch {
    return null; // not Linux
  }
}

/**
 * Node cannot call setrlimit(2). When the soft open-file limit is below what the memory benchmark needs (often
 * 1024), the bench re-runs itself through `sh -c 'ulimit -n …; exec node …'` (raising the soft limit up to the
 * hard one needs no privileges). Returns true when it re-ran itself and the caller should stop.
 */
async function raiseFileLimit(needed: number): Promise<boolean> {
  const soft = openFileLimit();
  if (soft === null || soft >= needed) return false;
  if (process.env.PETREL_BENCH_ULIMIT_TRIED === '1') {
    console.error(`[bench] open-file limit is ${soft}; the memory benchmark needs about ${needed} (ulimit -n ${needed}).`);
    return false;
  }
  const script = `ulimit -n ${needed} 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null; exec "$0" "$@"`;
  const child = spawn('sh', ['-c', script, process.execPath, ...process.execArgv, process.argv[1]!, ...process.argv.slice(2)], {
    stdio: 'inherit',
    env: { ...process.env, PETREL_BENCH_ULIMIT_TRIED: '1' },
  });
  const code = await new Promise<number>((resolve) => child.on('exit', (c, sig) => resolve(c ?? (sig ? 1 : 0))));
  process.exitCode = code;
  return true;
}

/** The ratio columns compare exactly two targets, Petrel (embedded) and Dovecot. */
function pairwise(targets: TargetName[]): boolean {
  return targets.length === 2 && targets.includes('Petrel') && targets.includes('Dovecot');
}

function printTable(targets: TargetName[]): void {
  const rows: string[][] = [['benchmark', 'unit', ...targets, ...(pairwise(targets) ? ['Petrel/Dovecot', 'better'] : [])]];
  for (const m of metrics) {
    const row = [m.label, m.unit];
    for (const t of targets) row.push(m.values[t] === undefined ? '–' : fmt(m.values[t]!));
    if (pairwise(targets)) {
      const p = m.values.Petrel;
      const d = m.values.Dovecot;
      if (p !== undefined && d !== undefined && d !== 0 && p !== 0) {
        row.push(`${(p / d).toFixed(2)}×`);
        const petrelWins = m.higherIsBetter ? p > d : p < d;
        const factor = petrelWins ? (m.higherIsBetter ? p / d : d / p) : m.higherIsBetter ? d / p : p / d;
        row.push(`${petrelWins ? 'Petrel' : 'Dovecot'} ${factor.toFixed(1)}×`);
      } else row.push('–', '–');
    }
    rows.push(row);
  }
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  console.log('');
  for (const [k, r] of rows.entries()) {
    console.log(r.map((cell, i) => (i < 2 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join('  '));
    if (k === 0) console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  }
}

function printMarkdown(targets: TargetName[]): void {
  const head = ['Benchmark', 'Unit', ...targets, ...(pairwise(targets) ? ['Petrel / Dovecot'] : [])];
  console.log('');
  console.log(`| ${head.join(' | ')} |`);
  console.log(`|${head.map((_, i) => (i < 2 ? '---' : '---:')).join('|')}|`);
  for (const m of metrics) {
    const cells = [m.label, m.unit + (m.higherIsBetter ? ' (higher is better)' : ' (lower is better)')];
    for (const t of targets) {
      const v = m.values[t];
      cells.push(v === undefined ? '–' : fmt(v) + (m.notes[t] ? ` (${m.notes[t]})` : ''));
    }
    if (pairwise(targets)) {
      const p = m.values.Petrel;
      const d = m.values.Dovecot;
      cells.push(p !== undefined && d !== undefined && d !== 0 ? `${(p / d).toFixed(2)}` : '–');
    }
    console.log(`| ${cells.join(' | ')} |`);
  }
}

async function main(): Promise<void> {
  if (wantsSyncBench(process.argv.slice(2))) return runSyncBenchCli(process.argv.slice(2));
  if (wantsImportBench(process.argv.slice(2))) return runImportBenchCli(process.argv.slice(2));
  const opts = parseArgs(process.argv.slice(2));
  const sizes = opts.quick ? QUICK : FULL;
  if (opts.only.has('memory') && (await raiseFileLimit(sizes.connections * 3 + 200))) return;
  console.log(`Petrel benchmark${opts.quick ? ' (quick)' : ''}: ${[...opts.only].join(', ')}`);
  const machine = `${cpus().length} × ${cpus()[0]?.model ?? '?'}, ${(totalmem() / 2 ** 30).toFixed(1)} GiB, Linux ${release()}, Node ${process.version}`;
  const load = () => loadavg().map((x) => x.toFixed(2)).join(' ');
  const loadBefore = load();
  console.log(`machine: ${machine}`);
  // Other work on the machine skews every number; the load average is printed so a reader can judge.
  console.log(`load average at start: ${loadBefore}`);

  const starters: Array<[TargetName, () => Promise<Target | null>]> = [];
  if (opts.petrel) starters.push(['Petrel', startPetrel]);
  // PostgreSQL: one server for the whole run (each target gets a fresh database on it), started on first use.
  let pgServer: Promise<PostgresServer | null> | null = null;
  const getPgServer = (): Promise<PostgresServer | null> =>
    (pgServer ??= (
      opts.postgresUrl !== null
        ? Promise.resolve<PostgresServer>({ url: opts.postgresUrl, stop: async () => {} })
        : startPostgres({ durable: true, sharedBuffers: '256MB' })
    ).catch((e: unknown) => {
      console.error(`[bench] PostgreSQL is not available: ${(e as Error).message}`);
      return null;
    }));
  if (opts.postgres) {
    const pgTarget = (name: TargetName, nodes: number) => async () => {
      const server = await getPgServer();
      return server ? startPostgresTarget(name, nodes, server) : null;
    };
    starters.push(['Petrel-PG', pgTarget('Petrel-PG', 1)]);
    if (opts.nodes >= 2) starters.push([`Petrel-PG×${opts.nodes}`, pgTarget(`Petrel-PG×${opts.nodes}`, opts.nodes)]);
  }
  if (opts.dovecot) starters.push(['Dovecot', () => startDovecotTarget(opts, sizes)]);
  const measured: TargetName[] = [];
  const descriptions: string[] = [];
  const run = async (b: BenchName, t: Target) => {
    console.log(`\n== ${b}: ${t.name}`);
    try {
      if (b === 'append') await benchAppend(t, sizes);
      else if (b === 'fetch') await benchFetch(t, sizes, opts.repeat);
      else if (b === 'body') await benchBody(t, sizes, opts.repeat);
      else if (b === 'select') await benchSelect(t, sizes, opts.repeat);
      else if (b === 'search') await benchSearch(t, sizes, opts.repeat);
      else if (b === 'resync') await benchResync(t, sizes, opts.repeat);
      else if (b === 'push') await benchPush(t, sizes);
      else await benchMemory(t, sizes);
    } catch (e) {
      console.error(`  ${t.name} ${b} failed: ${(e as Error).message}`);
      process.exitCode = 1;
    }
  };
  // Throughput benchmarks: both servers up, each benchmark on one then the other.
  const workload = BENCHES.filter((b) => b !== 'memory' && opts.only.has(b));
  const targets: Target[] = [];
  try {
    for (const [name, start] of workload.length > 0 ? starters : []) {
      const t = await start();
      if (!t) {
        console.log(`${name} is not available; skipped.`);
        continue;
      }
      targets.push(t);
      measured.push(name);
      descriptions.push(t.describe());
    }
    for (const b of workload) for (const t of targets) await run(b, t);
  } finally {
    for (const t of targets) await t.stop();
  }
  // Memory: a freshly started server each, measured alone.
  if (opts.only.has('memory')) {
    for (const [name, start] of starters) {
      if (workload.length > 0 && !measured.includes(name)) continue;
      const t = await start();
      if (!t) continue;
      if (!measured.includes(name)) {
        measured.push(name);
        descriptions.push(t.describe());
      }
      try {
        await run('memory', t);
      } finally {
        await t.stop();
      }
    }
  }
  const startedPg = await (pgServer as Promise<PostgresServer | null> | null);
  if (startedPg) await startedPg.stop();
  const loadAfter = load();
  console.log(`\nservers: ${descriptions.join('; ')}`);
  console.log(`load average at start: ${loadBefore}; at end: ${loadAfter}`);
  printTable(measured);
  if (opts.markdown) printMarkdown(measured);
  if (opts.json) {
    writeFileSync(
      opts.json,
      JSON.stringify(
        { date: new Date().toISOString(), machine, loadBefore, loadAfter, quick: opts.quick, repeat: opts.repeat, sizes, servers: descriptions, metrics },
        null,
        2,
      ) + '\n',
    );
    console.log(`\nresults written to ${opts.json}`);
  }
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
