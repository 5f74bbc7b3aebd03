// Concurrency stress in the spirit of imaptest's state checking (issue 7, item 3). Many sessions of one
// user work on the same mailboxes at once; each keeps the view the server gave it and flags contradictions:
//   - EXISTS going backwards without an EXPUNGE (RFC 9051 §7.4.1: EXISTS is the current size);
//   - a FETCH for a sequence number beyond EXISTS, or naming a UID other than the one the session
//     already knows at that number (§2.3.1.2: numbers shift only with EXPUNGE);
//   - UIDs not ascending with sequence numbers (§2.3.1.1);
//   - a message returned by FETCH after this session was told it was expunged (§7.5.1);
//   - a flag value no linearization allows: every session i only ever sets or clears its own keyword
//     $S<i>, so each keyword is a register with one writer; a FETCH observed in [sent, answered] must show a
//     value that some STORE of that writer could have produced in that window (STORE sent before the window
//     ended, not superseded by a later STORE acknowledged before the window began).
//   - at the end, when every session has stopped: each session's view (its sequence number → UID map after
//     a NOOP) must be exactly the mailbox's UIDs, and every keyword its writer's last acknowledged value.
// With `nodes: 2` (issue 8, item 5) the sessions are spread over two `petrel serve` processes on one
// PostgreSQL database, so every rule above is also checked across nodes: a session on node B must be told
// of node A's APPENDs, STOREs and EXPUNGEs (LISTEN/NOTIFY pokes + the change log) and never see its own
// node's stale state; the final state is read on every node.
// Plus idle connections (half in IDLE) with the server's memory per connection, measured from the child
// process's RSS.
import net from 'node:net';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ImapTestClient } from '../../test/helpers/imap-client.js';
import { createTestDatabase, ensurePostgres, type PostgresServer } from '../../test/helpers/postgres.js';
import { provision, provisionPostgres, SOAK_PASSWORD, SOAK_USER, startChildServer, type ChildServer } from './child-server.js';

export interface StressOptions {
  sessions: number;
  seconds: number;
  seed?: number;
  log?: (line: string) => void;
  /** `petrel serve` processes; sessions go round-robin over them. More than 1 needs PostgreSQL. Default 1. */
  nodes?: number;
  /** Run on PostgreSQL (a fresh database on this server; the role needs CREATEDB). Default with nodes > 1:
   *  PETREL_TEST_PG_URL, else a throwaway cluster started by test/helpers/postgres.ts. */
  postgresUrl?: string;
  /** Use PostgreSQL also with one node. */
  postgres?: boolean;
  /** With 2+ nodes: SIGKILL the last node this long after the start; its sessions reconnect to node 1
   *  (as behind a load balancer) and go on. */
  killNodeAfterMs?: number;
}

export interface StressReport {
  seed: number;
  backend: 'sqlite' | 'postgres';
  nodes: number;
  contradictions: string[];
  stats: { commands: number; appends: number; stores: number; fetches: number; expunges: number; flagChecks: number; expungeChecks: number };
  /** Commands answered by each node. */
  commandsPerNode: number[];
  /** APPENDs acknowledged with an APPENDUID and checked at the end (present unless an expunge was tried). */
  appendsChecked: number;
  /** Set when a node was killed: which (1-based), and how many sessions moved to another node. */
  killed?: { node: number; afterMs: number; sessionsMoved: number };
}

/** What was acknowledged, for the end: APPENDUIDs per mailbox, and UIDs any session tried to expunge. */
class Ledger {
  readonly appended = new Map<string, Set<number>>();
  readonly expungeTried = new Map<string, Set<number>>();
  add(map: Map<string, Set<number>>, mailbox: string, uid: number): void {
    const set = map.get(mailbox);
    if (set) set.add(uid);
    else map.set(mailbox, new Set([uid]));
  }
}

function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** One STORE of a session's own keyword on one UID. */
interface Write {
  value: boolean;
  sent: number;
  /** When the tagged OK arrived; Infinity while in flight or if it failed to answer. */
  acked: number;
}

export class Registers {
  /** `${mailbox}:${uid}:${session}` → writes in order (UIDs are per mailbox). */
  private readonly writes = new Map<string, Write[]>();

  begin(mailbox: string, uid: number, session: number, value: boolean, sent: number): Write {
    const w: Write = { value, sent, acked: Infinity };
    const k = `${mailbox}:${uid}:${session}`;
    const list = this.writes.get(k);
    if (list) list.push(w);
    else this.writes.set(k, [w]);
    return w;
  }

  /** The value of the last write, when every write was acknowledged (null if one is still uncertain). */
  final(mailbox: string, uid: number, session: number): boolean | null {
    const list = this.writes.get(`${mailbox}:${uid}:${session}`) ?? [];
    const done = list.filter((w) => w.sent !== Infinity);
    if (done.some((w) => w.acked === Infinity)) return null;
    return done.length === 0 ? false : done[done.length - 1]!.value;
  }

  /** Could `value` be observed for (uid, session's keyword) by a command in flight during [from, to]? */
  possible(mailbox: string, uid: number, session: number, value: boolean, from: number, to: number): boolean {
    const list = this.writes.get(`${mailbox}:${uid}:${session}`) ?? [];
    // The initial state (keyword absent) counts as a write acknowledged at -Infinity.
    const all: Write[] = [{ value: false, sent: -Infinity, acked: -Infinity }, ...list];
    for (let i = 0; i < all.length; i++) {
      const w = all[i]!;
      if (w.value !== value || w.sent > to) continue;
      // Superseded before the window: a later write of this session acknowledged before `from`.
      const superseded = all.slice(i + 1).some((n) => n.acked < from);
      if (!superseded) return true;
    }
    return false;
  }
}

const MAILBOXES = ['INBOX', 'Stress'];

class StressSession {
  private c: ImapTestClient | null = null;
  private n = 0;
  /** seq-1 → uid (0 = not yet known). */
  private view: number[] = [];
  private readonly expunged = new Set<number>();
  private mailbox = '';
  stopped = false;

  constructor(
    readonly id: number,
    private readonly r: () => number,
    private readonly regs: Registers,
    private readonly report: StressReport,
    private readonly sessions: number,
    public node: number,
    private readonly ledger: Ledger,
  ) {}

  /** Moved to another node after its node was killed. */
  movedFrom: number | null = null;

  private flag(text: string): void {
    if (this.report.contradictions.length < 200) this.report.contradictions.push(`session ${this.id} (${this.mailbox}): ${text}`);
  }

  private async cmd(text: string | Array<string | Buffer>): Promise<{ ok: boolean; tagged: string }> {
    const tag = `s${this.id}.${++this.n}`;
    const sent = Date.now();
    const res = typeof text === 'string' ? await this.c!.command(tag, text, 30_000) : await this.c!.commandWithLiterals(tag, text, 30_000);
    const answered = Date.now();
    this.report.stats.commands++;
    this.report.commandsPerNode[this.node] = (this.report.commandsPerNode[this.node] ?? 0) + 1;
    this.absorb(res.untagged, sent, answered);
    return { ok: new RegExp(`^${tag} OK`).test(res.tagged), tagged: res.tagged };
  }

  /** Applies untagged responses in order, checking each against the session's view. */
  private absorb(lines: string[], from: number, to: number): void {
    for (const line of lines) {
      let m = /^\* (\d+) EXISTS$/.exec(line);
      if (m) {
        const n = Number(m[1]);
        if (n < this.view.length) this.flag(`EXISTS went from ${this.view.length} to ${n} without EXPUNGE`);
        while (this.view.length < n) this.view.push(0);
        continue;
      }
      m = /^\* (\d+) EXPUNGE$/.exec(line);
      if (m) {
        const seq = Number(m[1]);
        if (seq < 1 || seq > this.view.length) {
          this.flag(`EXPUNGE ${seq} outside 1..${this.view.length}`);
          continue;
        }
        const uid = this.view[seq - 1]!;
        if (uid > 0) this.expunged.add(uid);
        this.view.splice(seq - 1, 1);
        continue;
      }
      m = /^\* (\d+) FETCH \((.*)\)$/s.exec(line);
      if (m) {
        const seq = Number(m[1]);
        const body = m[2]!;
        if (seq < 1 || seq > this.view.length) {
          this.flag(`FETCH for ${seq} beyond EXISTS ${this.view.length}`);
          continue;
        }
        const uidM = /(?:^| )UID (\d+)/.exec(body);
        let uid = this.view[seq - 1]!;
        if (uidM) {
          const u = Number(uidM[1]);
          if (uid !== 0 && uid !== u) this.flag(`FETCH says ${seq} is UID ${u}, the session knew UID ${uid} there`);
          uid = u;
          this.view[seq - 1] = u;
          const before = this.view.slice(0, seq - 1).reverse().find((x) => x !== 0);
          const after = this.view.slice(seq).find((x) => x !== 0);
          if ((before !== undefined && before >= u) || (after !== undefined && after <= u)) this.flag(`UID ${u} at ${seq} breaks ascending order`);
        }
        if (uid !== 0 && this.expunged.size > 0) {
          this.report.stats.expungeChecks++;
          if (this.expunged.has(uid)) this.flag(`FETCH returned UID ${uid} after this session was told it was expunged`);
        }
        const flags = /FLAGS \(([^)]*)\)/.exec(body);
        if (flags && uid !== 0) {
          const set = new Set(flags[1]!.split(' ').filter((f) => f !== '').map((f) => f.toLowerCase()));
          for (let s = 1; s <= this.sessions; s++) {
            const v = set.has(`$s${s}`);
            this.report.stats.flagChecks++;
            if (!this.regs.possible(this.mailbox, uid, s, v, from, to)) this.flag(`UID ${uid}: $S${s} ${v ? 'set' : 'clear'}, which no STORE by session ${s} allows in this window`);
          }
        }
      }
    }
  }

  private pick<T>(xs: readonly T[]): T {
    return xs[Math.floor(this.r() * xs.length)]!;
  }

  private knownUid(): number {
    const known = this.view.filter((u) => u !== 0);
    return known.length === 0 ? 0 : this.pick(known);
  }

  /**
   * Works until the deadline; stays logged in (see finish) unless it fails. When its node dies
   * (`failover` returns another node), it reconnects there once and starts over with a fresh view, as a
   * client behind a load balancer would.
   */
  async run(ports: readonly number[], deadline: number, failover: (node: number) => number | null): Promise<void> {
    for (;;) {
      try {
        this.c = await ImapTestClient.connect(ports[this.node]!);
        if (!(await this.cmd(`LOGIN ${SOAK_USER} "${SOAK_PASSWORD}"`)).ok) throw new Error('login failed');
        await this.select(this.pick(MAILBOXES));
        while (!this.stopped && Date.now() < deadline) await this.step();
        return;
      } catch (err) {
        this.c?.close();
        this.c = null;
        const next = this.movedFrom === null ? failover(this.node) : null;
        if (next === null) throw err;
        this.movedFrom = this.node;
        this.node = next;
      }
    }
  }

  get selected(): string {
    return this.mailbox;
  }

  /**
   * Once every session has stopped: after a NOOP (RFC 9051 §6.1.2, which reports pending changes) and a
   * FETCH of every UID, the session's view must be exactly `uids`, the mailbox's UIDs — whatever node
   * made the changes. Then LOGOUT.
   */
  async finish(uids: readonly number[]): Promise<void> {
    if (!this.c) return;
    try {
      await this.cmd('NOOP');
      if (this.view.length > 0) await this.cmd('FETCH 1:* (UID)');
      if (this.view.length !== uids.length || this.view.some((u, i) => u !== uids[i])) {
        const show = (xs: readonly number[]) => (xs.length > 12 ? `${xs.slice(0, 12).join(',')},… (${xs.length})` : xs.join(','));
        this.flag(`final view [${show(this.view)}] is not the mailbox's UIDs [${show(uids)}]`);
      }
      await this.cmd('LOGOUT');
    } finally {
      this.c.close();
      this.c = null;
    }
  }

  private async select(name: string): Promise<void> {
    this.view = [];
    this.expunged.clear();
    this.mailbox = name;
    await this.cmd(`SELECT ${name}`);
    await this.cmd('FETCH 1:* (UID FLAGS)');
  }

  private async step(): Promise<void> {
    const x = this.r();
    if (x < 0.15) {
      if (this.view.length > 150) return this.expunge();
      this.report.stats.appends++;
      const r = await this.cmd([`APPEND ${this.mailbox} `, Buffer.from(`Subject: stress ${this.id}.${this.n}\r\n\r\nbody\r\n`)]);
      // RFC 4315 §3: APPENDUID <uidvalidity> <uid> — this UID must exist at the end unless it is expunged.
      const uid = r.ok ? /\[APPENDUID \d+ (\d+)\]/.exec(r.tagged)?.[1] : undefined;
      if (uid !== undefined) this.ledger.add(this.ledger.appended, this.mailbox, Number(uid));
    } else if (x < 0.5) {
      const uid = this.knownUid();
      if (uid === 0) return;
      const value = this.r() < 0.5;
      const w = this.regs.begin(this.mailbox, uid, this.id, value, Date.now());
      const r = await this.cmd(`UID STORE ${uid} ${value ? '+' : '-'}FLAGS ($S${this.id})`);
      if (r.ok) w.acked = Date.now();
      else if (/NO/.test(r.tagged)) w.sent = Infinity; // refused: never took effect
      this.report.stats.stores++;
    } else if (x < 0.75) {
      this.report.stats.fetches++;
      const n = this.view.length;
      if (n === 0) return void (await this.cmd('NOOP'));
      const a = 1 + Math.floor(this.r() * n);
      const b = Math.min(n, a + Math.floor(this.r() * 10));
      await this.cmd(this.r() < 0.5 ? `FETCH ${a}:${b} (UID FLAGS)` : `UID FETCH ${this.knownUid() || 1}:* (FLAGS)`);
    } else if (x < 0.85) {
      await this.expunge();
    } else if (x < 0.95) {
      await this.cmd(this.pick(['NOOP', 'CHECK', 'SEARCH ALL', `SEARCH KEYWORD $S${this.id}`, 'STATUS Stress (MESSAGES UIDNEXT)']));
    } else {
      await this.select(this.pick(MAILBOXES));
    }
  }

  private async expunge(): Promise<void> {
    const uid = this.knownUid();
    if (uid === 0) return;
    this.ledger.add(this.ledger.expungeTried, this.mailbox, uid);
    await this.cmd(`UID STORE ${uid} +FLAGS.SILENT (\\Deleted)`);
    const r = await this.cmd(`UID EXPUNGE ${uid}`);
    if (r.ok) this.report.stats.expunges++;
  }
}

interface StressServers {
  backend: 'sqlite' | 'postgres';
  ports: number[];
  nodes: ChildServer[];
  stop(): Promise<void>;
}

/** One `petrel serve` on a fresh embedded store, or `nodes` of them on a fresh PostgreSQL database. */
async function startServers(opts: StressOptions): Promise<StressServers> {
  const nodes = Math.max(1, opts.nodes ?? 1);
  const env = { PETREL_MAX_CONNECTIONS_PER_IP: String(opts.sessions + 10) };
  const dirs: string[] = [];
  const servers: ChildServer[] = [];
  let cleanup: () => Promise<void> = async () => {};
  const stop = async (): Promise<void> => {
    await Promise.all(servers.map((s) => s.stop()));
    await cleanup();
    for (const d of dirs) await rm(d, { recursive: true, force: true });
  };
  try {
    if (nodes === 1 && !opts.postgres && opts.postgresUrl === undefined) {
      const dataDir = await mkdtemp(join(tmpdir(), 'petrel-stress-'));
      dirs.push(dataDir);
      await provision(dataDir, [SOAK_USER], true);
      servers.push(await startChildServer(dataDir, undefined, 20_000, env));
      return { backend: 'sqlite', ports: servers.map((s) => s.port), nodes: servers, stop };
    }
    const own = opts.postgresUrl === undefined;
    const pg: PostgresServer = own ? await ensurePostgres() : { url: opts.postgresUrl!, stop: async () => {} };
    const db = await createTestDatabase(pg);
    cleanup = async () => {
      await db.drop().catch(() => undefined);
      if (own && !process.env.PETREL_TEST_PG_URL) await pg.stop();
    };
    await provisionPostgres(db.url, [SOAK_USER], true);
    for (let i = 0; i < nodes; i++) {
      // Each node: its own data directory (TLS certificate), the one database (PETREL_STORE).
      const dataDir = await mkdtemp(join(tmpdir(), `petrel-stress-node${i + 1}-`));
      dirs.push(dataDir);
      servers.push(await startChildServer(dataDir, undefined, 30_000, { ...env, PETREL_STORE: db.url }));
    }
    return { backend: 'postgres', ports: servers.map((s) => s.port), nodes: servers, stop };
  } catch (err) {
    await stop().catch(() => undefined);
    throw err;
  }
}

export async function runStress(opts: StressOptions): Promise<StressReport> {
  const seed = opts.seed ?? Math.floor(Math.random() * 2 ** 31);
  const servers = await startServers(opts);
  const nodes = servers.ports.length;
  const report: StressReport = {
    seed,
    backend: servers.backend,
    nodes,
    contradictions: [],
    stats: { commands: 0, appends: 0, stores: 0, fetches: 0, expunges: 0, flagChecks: 0, expungeChecks: 0 },
    commandsPerNode: servers.ports.map(() => 0),
    appendsChecked: 0,
  };
  const ledger = new Ledger();
  const dead = new Set<number>();
  try {
    const setup = await ImapTestClient.connect(servers.ports[0]!);
    await setup.command('L', `LOGIN ${SOAK_USER} "${SOAK_PASSWORD}"`);
    await setup.command('C', 'CREATE Stress');
    setup.close();
    const regs = new Registers();
    const deadline = Date.now() + opts.seconds * 1000;
    const sessions = Array.from(
      { length: opts.sessions },
      (_, i) => new StressSession(i + 1, rng(seed + i * 7919), regs, report, opts.sessions, i % nodes, ledger),
    );
    let killTimer: NodeJS.Timeout | null = null;
    let killing: Promise<void> = Promise.resolve();
    if (opts.killNodeAfterMs !== undefined && nodes > 1) {
      const victim = nodes - 1;
      killTimer = setTimeout(() => {
        dead.add(victim);
        killing = servers.nodes[victim]!.kill9();
        report.killed = { node: victim + 1, afterMs: opts.killNodeAfterMs!, sessionsMoved: 0 };
      }, opts.killNodeAfterMs);
    }
    // A session whose node was killed moves to the first live node.
    const failover = (node: number): number | null => {
      if (!dead.has(node)) return null;
      const next = servers.ports.findIndex((_, i) => !dead.has(i));
      if (next < 0) return null;
      if (report.killed) report.killed.sessionsMoved++;
      return next;
    };
    const results = await Promise.allSettled(sessions.map((s) => s.run(servers.ports, deadline, failover)));
    if (killTimer) clearTimeout(killTimer);
    await killing;
    for (const [i, res] of results.entries()) {
      if (res.status === 'rejected') report.contradictions.push(`session ${i + 1} failed: ${(res.reason as Error).message}`);
    }
    // Quiescent state, read on every node: each keyword must hold its writer's last acknowledged value (a
    // lost update shows here), and every node must list the same UIDs.
    const uidsOf = new Map<string, number[]>();
    for (const [node, port] of servers.ports.entries()) {
      if (dead.has(node)) continue;
      const check = await ImapTestClient.connect(port);
      await check.command('L', `LOGIN ${SOAK_USER} "${SOAK_PASSWORD}"`);
      for (const mb of MAILBOXES) {
        await check.command('S', `EXAMINE ${mb}`);
        const f = await check.command('F', 'UID FETCH 1:* (FLAGS)', 60_000);
        const uids: number[] = [];
        for (const line of f.untagged) {
          const uid = Number(/UID (\d+)/.exec(line)?.[1]);
          const flags = /FLAGS \(([^)]*)\)/.exec(line)?.[1];
          if (!uid || flags === undefined) continue;
          uids.push(uid);
          const set = new Set(flags.split(' ').map((x) => x.toLowerCase()));
          for (let s = 1; s <= opts.sessions; s++) {
            const want = regs.final(mb, uid, s);
            if (want !== null && set.has(`$s${s}`) !== want) {
              report.contradictions.push(
                `final ${mb} UID ${uid} on node ${node + 1}: $S${s} is ${set.has(`$s${s}`) ? 'set' : 'clear'}, its writer last stored ${want ? 'set' : 'clear'} (lost update)`,
              );
            }
          }
        }
        const known = uidsOf.get(mb);
        if (known === undefined) uidsOf.set(mb, uids);
        else if (known.join(',') !== uids.join(',')) report.contradictions.push(`final ${mb}: node ${node + 1} lists other UIDs than another node`);
      }
      await check.command('O', 'LOGOUT');
      check.close();
    }
    // Nothing acknowledged is lost — also what the killed node acknowledged before it died.
    for (const [mb, appended] of ledger.appended) {
      const present = new Set(uidsOf.get(mb) ?? []);
      const tried = ledger.expungeTried.get(mb) ?? new Set<number>();
      for (const uid of appended) {
        if (tried.has(uid)) continue;
        report.appendsChecked++;
        if (!present.has(uid)) report.contradictions.push(`final ${mb}: UID ${uid}, acknowledged by APPENDUID and never expunged, is gone`);
      }
    }
    // Every session's own view, after a NOOP, is the mailbox it has selected.
    await Promise.all(sessions.map((s) => s.finish(uidsOf.get(s.selected) ?? [])));
  } finally {
    await servers.stop();
  }
  return report;
}

// ---- idle connections ----------------------------------------------------------------------------

export interface IdleOptions {
  connections: number;
  /** Fraction of the connections that log in, select INBOX and enter IDLE (the rest log in only). */
  idleFraction: number;
  log?: (line: string) => void;
}

export interface IdleReport {
  connections: number;
  inIdle: number;
  baseRssMb: number;
  loadedRssMb: number;
  bytesPerConnection: number;
  wakeups: number;
}

function rssOf(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) * 1024 : 0;
}

/** A minimal raw session: greeting, LOGIN, optionally SELECT + IDLE. Resolves when set up. */
function idleSession(port: number, localAddress: string, idle: boolean, onUntagged: () => void): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ port, host: '127.0.0.1', localAddress });
    let buf = '';
    let stage = 0;
    let woke = false;
    s.setNoDelay(true);
    s.on('error', reject);
    s.on('data', (d: Buffer) => {
      buf += d.toString('latin1');
      for (;;) {
        const i = buf.indexOf('\r\n');
        if (i < 0) break;
        const line = buf.slice(0, i);
        buf = buf.slice(i + 2);
        if (stage === 0 && line.startsWith('* OK')) {
          stage = 1;
          s.write(`a LOGIN ${SOAK_USER} "${SOAK_PASSWORD}"\r\n`);
        } else if (stage === 1 && line.startsWith('a ')) {
          if (!line.startsWith('a OK')) return reject(new Error(line));
          if (!idle) {
            stage = 9;
            return resolve(s);
          }
          stage = 2;
          s.write('b SELECT INBOX\r\n');
        } else if (stage === 2 && line.startsWith('b ')) {
          stage = 3;
          s.write('c IDLE\r\n');
        } else if (stage === 3 && line.startsWith('+')) {
          stage = 9;
          resolve(s);
        } else if (stage === 9 && line.startsWith('* ') && !woke) {
          woke = true;
          onUntagged();
        } else if (line.startsWith('* BYE')) {
          reject(new Error(line));
        }
      }
    });
  });
}

export async function runIdleConnections(opts: IdleOptions): Promise<IdleReport> {
  const log = opts.log ?? (() => undefined);
  const dataDir = await mkdtemp(join(tmpdir(), 'petrel-idle-'));
  await provision(dataDir, [SOAK_USER], true);
  const perIp = 50;
  const server = await startChildServer(dataDir, undefined, 20_000, { PETREL_MAX_CONNECTIONS_PER_IP: String(perIp) });
  const sockets: net.Socket[] = [];
  let wakeups = 0;
  try {
    // Warm up (first login, first SELECT) before taking the baseline.
    const warm = await idleSession(server.port, '127.0.0.1', true, () => undefined);
    await new Promise((r) => setTimeout(r, 500));
    const base = rssOf(server.pid);
    warm.destroy();
    const inIdle = Math.round(opts.connections * opts.idleFraction);
    // Spread over 127.0.0.x source addresses: the server allows `perIp` connections per address.
    const batch = 200;
    for (let i = 0; i < opts.connections; i += batch) {
      const n = Math.min(batch, opts.connections - i);
      const made = await Promise.all(
        Array.from({ length: n }, (_, k) => {
          const idx = i + k;
          const addr = `127.0.${1 + Math.floor(idx / perIp / 250)}.${1 + (Math.floor(idx / perIp) % 250)}`;
          return idleSession(server.port, addr, idx < inIdle, () => wakeups++);
        }),
      );
      sockets.push(...made);
      if ((i / batch) % 10 === 0) log(`${sockets.length} connections, server RSS ${(rssOf(server.pid) / 1048576).toFixed(0)} MB`);
    }
    await new Promise((r) => setTimeout(r, 2000));
    const loaded = rssOf(server.pid);
    // One APPEND wakes every IDLE session (RFC 2177): they all get EXISTS.
    const c = await ImapTestClient.connect(server.port);
    await c.command('L', `LOGIN ${SOAK_USER} "${SOAK_PASSWORD}"`);
    await c.commandWithLiterals('A', ['APPEND INBOX ', Buffer.from('Subject: wake\r\n\r\nup\r\n')]);
    c.close();
    const deadline = Date.now() + 30_000;
    while (wakeups < inIdle && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    return {
      connections: sockets.length,
      inIdle,
      baseRssMb: Math.round(base / 1048576),
      loadedRssMb: Math.round(loaded / 1048576),
      bytesPerConnection: Math.round((loaded - base) / Math.max(1, sockets.length)),
      wakeups,
    };
  } finally {
    for (const s of sockets) s.destroy();
    await server.stop();
    await rm(dataDir, { recursive: true, force: true });
  }
}
