// `npm run bench -- --only sync`: Petrel's sync engine against mbsync (Debian's isync) on the same Dovecot in
// the same run (issue 5, item 11). RFC 1733's disconnected model: an initial sync that downloads a whole
// account (10,000 messages, ~250 MB of mixed sizes, 50 mailboxes), then a resync with nothing changed. Each
// client talks to Dovecot (plain IMAP, RFC 9051 / RFC 3501) through its own counting TCP proxy on 127.0.0.1,
// so the octets both ways are measured outside the clients. Reported per client and phase: wall time of the
// process, octets up and down, TCP connections, peak RSS; and the Petrel / mbsync ratios.
//
//   node dist/bench/run.js --only sync [--quick] [--messages N --mailboxes N] [--no-petrel] [--no-mbsync] [--petrel-first] [--cpu-prof DIR]
//                          [--json FILE]        (the results table is printed as Markdown)
import { fork } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, release, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { ensureDovecotInstalled, startDovecot } from '../test/helpers/dovecot.js';
import type { DovecotServer } from '../test/helpers/dovecot.js';
import { openStore } from '../src/store/open-store.js';
import { ImapDriver, quote } from './imap-driver.js';
import { SYNC_FULL, SYNC_QUICK, planSyncData, writeMaildirData } from './sync-data.js';
import type { SyncDataPlan, SyncDataSize } from './sync-data.js';
import { countMaildirTree, ensureMbsync, peakRss, runMbsync, writeMbsyncConfig } from './sync-mbsync.js';
import { diffCounts, startCountingProxy } from './sync-proxy.js';
import type { ByteCounts, CountingProxy } from './sync-proxy.js';
import type { PetrelSyncReply, PetrelSyncRequest, SummaryTotals } from './sync-petrel-child.js';

export type SyncTool = 'Petrel' | 'mbsync';

export interface SyncBenchOptions {
  size: SyncDataSize;
  petrel: boolean;
  mbsync: boolean;
  /** Run Petrel before mbsync in each phase (default: mbsync first). */
  petrelFirst?: boolean;
  /** Print progress lines (default true). */
  verbose?: boolean;
  /** Write a V8 CPU profile of each Petrel sync process into this directory (node --cpu-prof). */
  cpuProfDir?: string;
}

export interface PhaseResult {
  /** Wall time of the client process, spawn to exit. */
  ms: number;
  /** Petrel only: syncOnce() itself, measured inside the process. */
  innerMs?: number;
  /** Petrel only: syncOnce() until every message was stored (then it waits for the search index). */
  mailMs?: number;
  up: number;
  down: number;
  connections: number;
  /** Peak RSS of the client process, KiB. */
  peakRssKiB: number;
  /** CPU time (user + system) of the client process, ms. */
  cpuMs: number;
  /** What the client reported (Petrel's summary totals; mbsync's exit code). */
  detail: string;
}

export interface ToolResult {
  tool: SyncTool;
  available: boolean;
  /** Why the tool was not measured, or what went wrong. */
  reason?: string;
  initial?: PhaseResult;
  resync?: PhaseResult;
  /** Messages per mailbox in the local copy after the initial sync. */
  counts?: Record<string, number>;
  /** Messages found locally after the initial sync, and whether every mailbox matched the data set. */
  messagesSynced?: number;
  complete?: boolean;
  /** Mailboxes whose local count differs from the server's ("name: local/expected"). */
  mismatches?: string[];
  /** Petrel: summary totals of both runs. */
  summaries?: SummaryTotals[];
}

export interface SyncBenchResult {
  date: string;
  machine: string;
  loadBefore: string;
  loadAfter: string;
  size: SyncDataSize;
  dataBytes: number;
  attachments: number;
  generateMs: number;
  warmMs: number;
  server: string;
  client: Record<SyncTool, string>;
  tools: ToolResult[];
}

// ---------------------------------------------------------------- the run

/**
 * Starts Dovecot, writes the data set into its maildir, warms it (every mailbox selected and read once), then
 * for each phase (initial, no-change resync) runs mbsync and Petrel one after the other, each through its own
 * counting proxy. Throws only when Dovecot cannot be started; a client that fails is reported in its result.
 */
export async function runSyncBench(o: SyncBenchOptions): Promise<SyncBenchResult> {
  const say = (s: string) => {
    if (o.verbose !== false) console.log(s);
  };
  const load = () => loadavg().map((x) => x.toFixed(2)).join(' ');
  const machine = `${cpus().length} × ${cpus()[0]?.model ?? '?'}, ${(totalmem() / 2 ** 30).toFixed(1)} GiB, Linux ${release()}, Node ${process.version}`;
  const loadBefore = load();
  const client: Record<SyncTool, string> = { Petrel: `Petrel syncOnce() (Node ${process.version})`, mbsync: 'mbsync (not run)' };
  const tools: ToolResult[] = [];
  const mb: ToolResult = { tool: 'mbsync', available: o.mbsync, ...(o.mbsync ? {} : { reason: 'not requested (--no-mbsync)' }) };
  const pe: ToolResult = { tool: 'Petrel', available: o.petrel, ...(o.petrel ? {} : { reason: 'not requested (--no-petrel)' }) };
  if (o.mbsync) {
    try {
      client.mbsync = await ensureMbsync();
    } catch (e) {
      mb.available = false;
      mb.reason = `isync not installed: ${(e as Error).message}`;
    }
  }
  tools.push(pe, mb);

  if (!(await ensureDovecotInstalled())) throw new Error('Dovecot (dovecot-imapd) is not installed and could not be installed');
  const d: DovecotServer | null = await startDovecot({ mailFormat: 'maildir' });
  if (!d) throw new Error('Dovecot did not start');
  const work = mkdtempSync(join(tmpdir(), 'petrel-sync-bench-'));
  const proxies: CountingProxy[] = [];
  try {
    say(`sync bench: ${o.size.messages} messages in ${o.size.mailboxes} mailboxes; Dovecot ${d.version} (maildir) on ${d.host}:${d.port}`);
    let t0 = performance.now();
    const plan = planSyncData(o.size);
    const dataBytes = writeMaildirData(plan, d.mailDir(), { uid: d.mailUid, gid: d.mailGid });
    const generateMs = performance.now() - t0;
    const attachments = plan.messages.filter((m) => m.size >= 100_000).length;
    say(`  data set: ${(dataBytes / 1e6).toFixed(1)} MB (${attachments} messages with attachments), written in ${(generateMs / 1000).toFixed(1)} s`);
    t0 = performance.now();
    await warmDovecot(d, plan);
    const warmMs = performance.now() - t0;
    say(`  Dovecot warmed (index built, every message read once) in ${(warmMs / 1000).toFixed(1)} s`);

    const expected = new Map(plan.mailboxes.map((b) => [b.name, b.messages.length]));
    const mbProxy = await startCountingProxy(d.host, d.port);
    const peProxy = await startCountingProxy(d.host, d.port);
    proxies.push(mbProxy, peProxy);
    const mbsyncSetup = writeMbsyncConfig(join(work, 'mbsync'), { host: mbProxy.host, port: mbProxy.port, user: d.user, password: d.password });
    const replicaDir = join(work, 'petrel-replica');
    const account = { host: peProxy.host, port: peProxy.port, tls: 'none' as const, user: d.user, password: d.password };

    const runMb = async (phase: 'initial' | 'resync') => {
      if (mb.available) {
        const before = mbProxy.counts();
        const r = await runMbsync(mbsyncSetup);
        const bytes = await settled(mbProxy, before);
        const res: PhaseResult = { ms: r.ms, up: bytes.up, down: bytes.down, connections: bytes.connections, peakRssKiB: r.peakRssKiB, cpuMs: r.cpuMs, detail: `exit ${r.exitCode}` };
        mb[phase] = res;
        say(`  mbsync  ${describePhase(res)}`);
        if (r.exitCode !== 0) {
          mb.reason = `mbsync exited with ${r.exitCode} (${phase}): ${(r.stderr || r.stdout).trim().split('\n').slice(-5).join(' | ')}`;
          say(`  mbsync failed: ${mb.reason}`);
        }
        checkCounts(mb, phase, countMaildirTree(mbsyncSetup.mailRoot), expected);
      }
    };
    const runPe = async (phase: 'initial' | 'resync') => {
      if (pe.available) {
        const before = peProxy.counts();
        const r = await runPetrelSync({ replicaDir, account }, o.cpuProfDir);
        const bytes = await settled(peProxy, before);
        if (r.reply.type === 'unavailable') {
          pe.available = false;
          pe.reason = r.reply.reason;
          say(`  Petrel  unavailable: ${r.reply.reason}`);
        } else if (r.reply.type === 'error') {
          pe.reason = `syncOnce failed (${phase}): ${r.reply.message.split('\n').slice(0, 3).join(' | ')}`;
          pe[phase] = { ms: r.ms, up: bytes.up, down: bytes.down, connections: bytes.connections, peakRssKiB: r.peakRssKiB, cpuMs: 0, detail: 'failed' };
          say(`  Petrel  failed: ${pe.reason}`);
        } else {
          const s = r.reply.summary;
          const res: PhaseResult = {
            ms: r.ms,
            innerMs: r.reply.syncMs,
            ...(r.reply.mailMs !== undefined ? { mailMs: r.reply.mailMs } : {}),
            up: bytes.up,
            down: bytes.down,
            connections: bytes.connections,
            // getrusage(2) in the child right after syncOnce(): exact, unlike the 10 ms samples.
            peakRssKiB: r.reply.maxRssKiB,
            cpuMs: r.reply.cpuMs,
            detail: `downloaded ${s.downloaded}, uploaded ${s.uploaded}, flags ${s.flagsToLocal}/${s.flagsToRemote}, created ${s.mailboxesCreated}; tiers ${Object.entries(s.tiers).map(([k, v]) => `${k} ${v}`).join(', ')}`,
          };
          pe[phase] = res;
          (pe.summaries ??= []).push(s);
          say(`  Petrel  ${describePhase(res)}; ${res.detail}`);
          checkCounts(pe, phase, await countReplica(replicaDir, d.user), expected);
        }
      }
    };
    for (const phase of ['initial', 'resync'] as const) {
      say(`\n== ${phase === 'initial' ? 'initial sync' : 'no-change resync'}`);
      for (const tool of o.petrelFirst === true ? [runPe, runMb] : [runMb, runPe]) await tool(phase);
    }
    return {
      date: new Date().toISOString(),
      machine,
      loadBefore,
      loadAfter: load(),
      size: o.size,
      dataBytes,
      attachments,
      generateMs,
      warmMs,
      server: `Dovecot ${d.version} (Debian dovecot-imapd, maildir, ssl = no)`,
      client,
      tools,
    };
  } finally {
    for (const p of proxies) await p.close();
    await d.stop();
    rmSync(work, { recursive: true, force: true });
  }
}

/** Counters after the client's connections have all closed (the last octets of LOGOUT included). */
async function settled(p: CountingProxy, before: ByteCounts): Promise<ByteCounts> {
  for (let i = 0; i < 100 && p.open() > 0; i++) await new Promise((r) => setTimeout(r, 10));
  return diffCounts(p.counts(), before);
}

/** Messages per mailbox in Petrel's replica (a Petrel store; '/'-separated names). */
async function countReplica(dir: string, user: string): Promise<Map<string, number>> {
  const store = await openStore({ dataDir: dir, store: null });
  try {
    const out = new Map<string, number>();
    const u = await store.getUser(user);
    if (!u) return out;
    for (const box of await store.listMailboxes(u.id)) out.set(box.name, (await store.mailboxStatus(box.id)).messages);
    return out;
  } finally {
    await store.close();
  }
}

/** After the initial sync: records the local counts. After the resync: the local copy must not have changed. */
function checkCounts(t: ToolResult, phase: 'initial' | 'resync', got: Map<string, number>, expected: Map<string, number>): void {
  if (phase === 'resync') {
    const before = JSON.stringify(Object.entries(t.counts ?? {}).sort());
    if (JSON.stringify([...got].sort()) !== before) t.reason ??= 'the no-change resync changed the local message counts';
    return;
  }
  const mismatches: string[] = [];
  let total = 0;
  for (const n of got.values()) total += n;
  for (const [name, n] of expected) {
    const g = got.get(name) ?? 0;
    if (g !== n) mismatches.push(`${name}: ${g}/${n}`);
  }
  t.counts = Object.fromEntries(got);
  t.messagesSynced = total;
  t.mismatches = mismatches;
  t.complete = mismatches.length === 0 && total === [...expected.values()].reduce((a, b) => a + b, 0);
}

function describePhase(r: PhaseResult): string {
  return (
    `${(r.ms / 1000).toFixed(2)} s${r.innerMs !== undefined ? ` (syncOnce ${(r.innerMs / 1000).toFixed(2)} s${r.mailMs !== undefined ? `, mail stored at ${(r.mailMs / 1000).toFixed(2)} s` : ''})` : ''}, ` +
    `CPU ${(r.cpuMs / 1000).toFixed(2)} s, up ${fmtBytes(r.up)}, down ${fmtBytes(r.down)}, ${r.connections} connection(s), peak RSS ${(r.peakRssKiB / 1024).toFixed(1)} MiB`
  );
}

function fmtBytes(n: number): string {
  if (n >= 1e6) return `${(n / 1e6).toFixed(1)} MB`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(1)} KB`;
  return `${n} B`;
}

/**
 * Opens every mailbox once and reads every message (FETCH FLAGS, INTERNALDATE, RFC822.SIZE, BODY.PEEK[]), so
 * Dovecot has built its index and uidlist and the maildir files are in the page cache before either client
 * is timed; otherwise whichever client ran first would pay for that.
 */
async function warmDovecot(d: DovecotServer, plan: SyncDataPlan): Promise<void> {
  const c = await ImapDriver.connect(d.host, d.port);
  try {
    await c.login(d.user, d.password);
    const list = await c.ok('LIST "" "*"');
    let delimiter = '.';
    for (const u of list.untagged) {
      const m = /^\* LIST \([^)]*\) "(.)"/i.exec(u.text);
      if (m) delimiter = m[1]!;
    }
    for (const box of plan.mailboxes) {
      const name = box.name.split('/').join(delimiter);
      await c.ok(`SELECT ${quote(name)}`);
      const r = await c.ok('FETCH 1:* (FLAGS INTERNALDATE RFC822.SIZE BODY.PEEK[])', { keepUntagged: false });
      if (r.untaggedCount < box.messages.length) throw new Error(`warm-up: ${name} has ${r.untaggedCount} messages, expected ${box.messages.length}`);
    }
  } finally {
    await c.logout();
  }
}

interface PetrelRun {
  ms: number;
  peakRssKiB: number;
  reply: PetrelSyncReply;
}

/** One `syncOnce()` in a forked process (bench/sync-petrel-child.ts). */
function runPetrelSync(req: PetrelSyncRequest, cpuProfDir?: string): Promise<PetrelRun> {
  return new Promise((resolve) => {
    const t0 = performance.now();
    const execArgv = cpuProfDir ? [...process.execArgv, '--cpu-prof', '--cpu-prof-dir', cpuProfDir] : process.execArgv;
    const child = fork(new URL('./sync-petrel-child.js', import.meta.url), [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], execArgv });
    let reply: PetrelSyncReply | null = null;
    let peak = 0;
    const timer = setInterval(() => {
      if (child.pid !== undefined) peak = Math.max(peak, peakRss(child.pid));
    }, 10);
    child.on('message', (m: unknown) => {
      reply = m as PetrelSyncReply;
    });
    child.on('exit', (code, signal) => {
      clearInterval(timer);
      resolve({
        ms: performance.now() - t0,
        peakRssKiB: peak,
        reply: reply ?? { type: 'error', message: `the Petrel sync process exited (code ${code}, signal ${signal}) without an answer` },
      });
    });
    child.send(req);
  });
}

// ---------------------------------------------------------------- reporting

function ratio(p: number | undefined, m: number | undefined): string {
  if (p === undefined || m === undefined || m === 0) return '–';
  return `${(p / m).toFixed(2)}×`;
}

/** The results as a Markdown table (the form used in docs/benchmarks.md). */
export function syncMarkdown(r: SyncBenchResult): string {
  const pe = r.tools.find((t) => t.tool === 'Petrel')!;
  const mb = r.tools.find((t) => t.tool === 'mbsync')!;
  const cell = (t: ToolResult, v: number | undefined, f: (n: number) => string) =>
    !t.available && v === undefined ? 'unavailable' : v === undefined ? '–' : f(v);
  const secs = (n: number) => (n / 1000).toFixed(2);
  const mbytes = (n: number) => (n >= 100_000 ? (n / 1e6).toFixed(2) + ' MB' : n.toLocaleString('en-US') + ' B');
  const mib = (n: number) => (n / 1024).toFixed(1);
  const rows: string[] = [
    '| Phase | Measure | Petrel | mbsync | Petrel / mbsync |',
    '|---|---|---:|---:|---:|',
  ];
  for (const phase of ['initial', 'resync'] as const) {
    const label = phase === 'initial' ? `initial sync (${r.size.messages.toLocaleString('en-US')} msgs, ${(r.dataBytes / 1e6).toFixed(0)} MB)` : `no-change resync (${r.size.mailboxes} mailboxes)`;
    const p = pe[phase];
    const m = mb[phase];
    const line = (what: string, get: (x: PhaseResult) => number, f: (n: number) => string) =>
      rows.push(`| ${label} | ${what} | ${cell(pe, p && get(p), f)} | ${cell(mb, m && get(m), f)} | ${ratio(p && get(p), m && get(m))} |`);
    line('time, s', (x) => x.ms, secs);
    if (p?.mailMs !== undefined) rows.push(`| ${label} | of which until every message was stored (then the search index), s | ${secs(p.mailMs)} | | |`);
    line('CPU time (user + system), s', (x) => x.cpuMs, secs);
    line('octets up (client → server)', (x) => x.up, mbytes);
    line('octets down (server → client)', (x) => x.down, mbytes);
    line('TCP connections', (x) => x.connections, String);
    line('peak RSS, MiB', (x) => x.peakRssKiB, mib);
  }
  return rows.join('\n');
}

// ---------------------------------------------------------------- command line

/** True when `--only` names the sync benchmark (it is not part of the default run). */
export function wantsSyncBench(argv: readonly string[]): boolean {
  const i = argv.indexOf('--only');
  return i >= 0 && (argv[i + 1] ?? '').split(',').includes('sync');
}

/** `npm run bench -- --only sync [...]`. */
export async function runSyncBenchCli(argv: readonly string[]): Promise<void> {
  let size: SyncDataSize = SYNC_FULL;
  const custom: Partial<SyncDataSize> = {};
  let json: string | null = null;
  let petrel = true;
  let mbsync = true;
  let petrelFirst = false;
  let cpuProfDir: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const value = () => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${a} needs a value`);
      return v;
    };
    const count = () => {
      const n = Number(value());
      if (!Number.isInteger(n) || n < 1) throw new Error(`${a} needs a positive integer`);
      return n;
    };
    if (a === '--only') {
      if (value() !== 'sync') throw new Error('--only sync runs on its own (it starts its own Dovecot); run the other benchmarks separately');
    } else if (a === '--quick') size = SYNC_QUICK;
    else if (a === '--messages') custom.messages = count();
    else if (a === '--mailboxes') custom.mailboxes = count();
    else if (a === '--json') json = value();
    else if (a === '--no-petrel') petrel = false;
    else if (a === '--no-mbsync') mbsync = false;
    else if (a === '--petrel-first') petrelFirst = true;
    else if (a === '--cpu-prof') cpuProfDir = value();
    else if (a === '--help' || a === '-h') {
      console.log('usage: npm run bench -- --only sync [--quick] [--messages N] [--mailboxes N] [--no-petrel] [--no-mbsync] [--petrel-first] [--cpu-prof DIR] [--json FILE]');
      return;
    } else throw new Error(`unknown option for --only sync: ${a}`);
  }
  size = { ...size, ...custom };
  if (size.mailboxes > size.messages) throw new Error('--mailboxes must not exceed --messages');
  console.log(`Petrel sync benchmark${size === SYNC_QUICK ? ' (quick)' : ''}: Petrel syncOnce() vs mbsync against Dovecot`);
  const r = await runSyncBench({ size, petrel, mbsync, petrelFirst, ...(cpuProfDir ? { cpuProfDir } : {}) });
  console.log(`\nmachine: ${r.machine}`);
  console.log(`server: ${r.server}; clients: ${r.client.Petrel}; ${r.client.mbsync}`);
  console.log(`load average at start: ${r.loadBefore}; at end: ${r.loadAfter}`);
  console.log('');
  console.log(syncMarkdown(r));
  for (const t of r.tools) {
    if (t.reason) console.log(`\n${t.tool}: ${t.reason}`);
    if (t.complete === false) console.log(`${t.tool}: local copy incomplete after the initial sync (${t.messagesSynced} messages); differs in ${t.mismatches?.slice(0, 10).join(', ')}`);
    else if (t.complete) console.log(`${t.tool}: every message arrived (${t.messagesSynced} in ${r.size.mailboxes} mailboxes)`);
  }
  if (json) {
    writeFileSync(json, JSON.stringify(r, null, 2) + '\n');
    console.log(`\nresults written to ${json}`);
  }
  const failed = r.tools.some((t) => t.available && (t.complete === false || (t.reason !== undefined && t.initial !== undefined)));
  if (failed) process.exitCode = 1;
}
