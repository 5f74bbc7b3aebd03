// Crash-consistency soak (issue 7, item 2): N clients do random APPEND, STORE, COPY, MOVE, EXPUNGE and
// mailbox operations against `petrel serve` in a child process, which is SIGKILLed at random moments K times
// and restarted on the same data directory. One shared model records what the server acknowledged:
//   - a message is present once an APPEND answered OK [APPENDUID] (RFC 4315 §3) or a COPY/MOVE answered
//     COPYUID names it; it is removed once the server reported it VANISHED (QRESYNC is enabled in every
//     session, RFC 7162 §3.2.10) or a MOVE moved it;
//   - a command cut off by the kill leaves its messages "uncertain" until the next check observes them.
// After every restart the checker verifies: every acknowledged message is present with its Message-ID
// unless acknowledged removed; nothing acknowledged removed is back; UIDs ascend strictly and are never
// reused (UIDNEXT above every UID ever seen, RFC 9051 §2.3.1.1); UIDVALIDITY is unchanged; HIGHESTMODSEQ
// and each message's MODSEQ never go below what was reported (RFC 7162 §3.1.1); scratch mailboxes whose
// CREATE/RENAME/DELETE was acknowledged exist or not accordingly. While the server is dead the SQLite
// database is opened read-only: every blob a message references exists with its size, and reference
// counts match. At the end the store's collectGarbage() must leave no unreferenced blob file and no temp file.
import BetterSqlite3 from 'better-sqlite3';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ImapTestClient } from '../../test/helpers/imap-client.js';
import { expandRanges, parseNumSet, resolveNumSet } from '../../src/protocol/sequence-set.js';
import { METADATA_FILE, openSqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import { provision, SOAK_PASSWORD, SOAK_USER, startChildServer, type ChildServer } from './child-server.js';

export interface SoakOptions {
  clients: number;
  kills: number;
  /** Random run time between kills. */
  minRunMs: number;
  maxRunMs: number;
  seed?: number;
  dataDir?: string;
  keepDataDir?: boolean;
  log?: (line: string) => void;
}

export interface SoakReport {
  seed: number;
  dataDir: string;
  kills: number;
  violations: string[];
  stats: {
    appendsAcked: number;
    appendsCutOff: number;
    stores: number;
    copies: number;
    moves: number;
    expunges: number;
    mailboxOps: number;
    commandsAcked: number;
    messagesChecked: number;
    blobsChecked: number;
    gcRemoved: number;
  };
}

export const TRACKED = ['INBOX', 'Soak/A', 'Soak/B'];

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

function uidList(text: string): number[] {
  return expandRanges(resolveNumSet(parseNumSet(text), 4294967295));
}

interface MailboxModel {
  uidValidity: number | null;
  /** Acknowledged present: uid → Message-ID ('' when unknown). */
  present: Map<number, string>;
  /** Acknowledged removed. */
  removed: Set<number>;
  /** Maybe present or removed: a command touching them was cut off. */
  uncertain: Set<number>;
  /** Message-IDs of APPENDs cut off by a kill (their UID is unknown). */
  uncertainAppends: Set<string>;
  maxUid: number;
  maxModSeq: number;
  modSeq: Map<number, number>;
}

export class Model {
  readonly boxes = new Map<string, MailboxModel>(TRACKED.map((m) => [m, Model.empty()]));
  /** Scratch mailboxes: name → true (acknowledged existing), false (acknowledged deleted). */
  readonly scratch = new Map<string, boolean>();
  readonly scratchUncertain = new Set<string>();
  readonly violations: string[] = [];

  static empty(): MailboxModel {
    return { uidValidity: null, present: new Map(), removed: new Set(), uncertain: new Set(), uncertainAppends: new Set(), maxUid: 0, maxModSeq: 0, modSeq: new Map() };
  }

  box(name: string): MailboxModel {
    return this.boxes.get(name)!;
  }

  violation(text: string): void {
    this.violations.push(text);
  }

  sawUid(mb: MailboxModel, uid: number): void {
    if (uid > mb.maxUid) mb.maxUid = uid;
  }

  sawModSeq(mb: MailboxModel, uid: number | null, modSeq: number): void {
    if (modSeq > mb.maxModSeq) mb.maxModSeq = modSeq;
    if (uid !== null && modSeq > (mb.modSeq.get(uid) ?? 0)) mb.modSeq.set(uid, modSeq);
  }

  added(mb: MailboxModel, uid: number, msgId: string, what: string): void {
    if (mb.removed.has(uid) || (uid <= mb.maxUid && !mb.present.has(uid) && !mb.uncertain.has(uid))) {
      this.violation(`${what}: UID ${uid} handed out again (max seen ${mb.maxUid})`);
    }
    mb.present.set(uid, msgId);
    mb.uncertain.delete(uid);
    this.sawUid(mb, uid);
  }

  vanished(mb: MailboxModel, uids: number[]): void {
    for (const u of uids) {
      mb.present.delete(u);
      mb.uncertain.delete(u);
      mb.removed.add(u);
    }
  }
}

/** Parses the untagged responses every command may carry: FETCH (UID, MODSEQ), VANISHED, HIGHESTMODSEQ. */
function absorb(model: Model, mb: MailboxModel | null, untagged: string[]): void {
  if (!mb) return;
  for (const line of untagged) {
    const v = /^\* VANISHED (?:\(EARLIER\) )?([\d:,]+)/.exec(line);
    if (v) {
      model.vanished(mb, uidList(v[1]!));
      continue;
    }
    const f = /^\* \d+ FETCH \(/.exec(line);
    if (f) {
      const uid = /[( ]UID (\d+)/.exec(line);
      const ms = /MODSEQ \((\d+)\)/.exec(line);
      if (uid) model.sawUid(mb, Number(uid[1]));
      if (ms) model.sawModSeq(mb, uid ? Number(uid[1]) : null, Number(ms[1]));
      continue;
    }
    const h = /\[HIGHESTMODSEQ (\d+)\]/.exec(line);
    if (h) model.sawModSeq(mb, null, Number(h[1]));
  }
}

class SoakClient {
  private c: ImapTestClient | null = null;
  private tagN = 0;
  private selected: string | null = null;
  private msgN = 0;
  private scratchN = 0;
  stopped = false;

  constructor(
    readonly id: number,
    private readonly model: Model,
    private readonly r: () => number,
    private readonly stats: SoakReport['stats'],
    private readonly round: () => number,
  ) {}

  private tag(): string {
    return `c${this.id}t${++this.tagN}`;
  }

  private pick<T>(xs: readonly T[]): T {
    return xs[Math.floor(this.r() * xs.length)]!;
  }

  private async cmd(text: string | Array<string | Buffer>, timeoutMs = 20_000): Promise<{ ok: boolean; tagged: string; untagged: string[] }> {
    const tag = this.tag();
    const c = this.c!;
    const res = typeof text === 'string' ? await c.command(tag, text, timeoutMs) : await c.commandWithLiterals(tag, text, timeoutMs);
    const ok = new RegExp(`^${tag} OK`).test(res.tagged);
    if (ok) this.stats.commandsAcked++;
    return { ok, tagged: res.tagged, untagged: res.untagged };
  }

  /** Runs until the connection dies (the kill) or stop is set. */
  async run(port: number): Promise<void> {
    try {
      this.c = await ImapTestClient.connect(port);
      if (!(await this.cmd(`LOGIN ${SOAK_USER} "${SOAK_PASSWORD}"`)).ok) throw new Error('login failed');
      await this.cmd('ENABLE QRESYNC');
      this.selected = null;
      while (!this.stopped) await this.step();
      await this.cmd('LOGOUT').catch(() => undefined);
    } catch {
      /* the server was killed; the in-flight operation was marked uncertain by step() */
    } finally {
      this.c?.close();
      this.c = null;
    }
  }

  private knownUids(mb: MailboxModel, n: number): number[] {
    const all = [...mb.present.keys()];
    const out = new Set<number>();
    for (let i = 0; i < n && all.length > 0; i++) out.add(this.pick(all));
    return [...out].sort((a, b) => a - b);
  }

  private async select(name: string): Promise<MailboxModel | null> {
    if (this.selected === name) return this.model.box(name);
    const mb = this.model.box(name);
    const r = await this.cmd(`SELECT ${quote(name)}`);
    if (!r.ok) {
      this.selected = null;
      return null;
    }
    this.selected = name;
    const uv = /UIDVALIDITY (\d+)/.exec(r.untagged.join('\n'));
    if (uv) {
      const v = Number(uv[1]);
      if (mb.uidValidity !== null && mb.uidValidity !== v) this.model.violation(`${name}: UIDVALIDITY changed ${mb.uidValidity} → ${v}`);
      mb.uidValidity = v;
    }
    absorb(this.model, mb, r.untagged);
    return mb;
  }

  private async step(): Promise<void> {
    const x = this.r();
    const name = this.pick(TRACKED);
    if (x < 0.35) return this.append(name);
    const mb = await this.select(name);
    if (!mb) return;
    if (x < 0.55) return this.store(name, mb);
    if (x < 0.68) return this.copyOrMove(name, mb, false);
    if (x < 0.8) return this.copyOrMove(name, mb, true);
    if (x < 0.92) return this.expunge(name, mb);
    return this.mailboxOp();
  }

  private async append(name: string): Promise<void> {
    const mb = this.model.box(name);
    const msgId = `<r${this.round()}.c${this.id}.m${++this.msgN}.${Math.floor(this.r() * 1e9)}@soak.petrel>`;
    const size = this.r() < 0.1 ? 200_000 : 200 + Math.floor(this.r() * 3000);
    const body = Buffer.alloc(size, 0x61);
    for (let i = 76; i < size; i += 78) (body[i] = 13), (body[i + 1] = 10);
    const msg = Buffer.concat([Buffer.from(`Message-ID: ${msgId}\r\nSubject: soak ${msgId}\r\nFrom: soak@petrel\r\n\r\n`), body, Buffer.from('\r\n')]);
    let done = false;
    try {
      const flags = this.r() < 0.3 ? '(\\Seen) ' : '';
      const r = await this.cmd([`APPEND ${quote(name)} ${flags}`, msg]);
      done = true;
      if (!r.ok) return;
      const m = /APPENDUID (\d+) (\d+)/.exec(r.tagged);
      if (!m) return this.model.violation(`APPEND OK without APPENDUID: ${r.tagged}`);
      if (mb.uidValidity !== null && Number(m[1]) !== mb.uidValidity) this.model.violation(`${name}: APPENDUID validity ${m[1]} != ${mb.uidValidity}`);
      mb.uidValidity ??= Number(m[1]);
      this.model.added(mb, Number(m[2]), msgId, `APPEND to ${name}`);
      this.stats.appendsAcked++;
      if (this.selected === name) absorb(this.model, mb, r.untagged);
    } finally {
      if (!done) {
        mb.uncertainAppends.add(msgId);
        this.stats.appendsCutOff++;
      }
    }
  }

  private async store(name: string, mb: MailboxModel): Promise<void> {
    const uids = this.knownUids(mb, 1 + Math.floor(this.r() * 4));
    if (uids.length === 0) return;
    const op = this.pick(['+FLAGS', '-FLAGS', 'FLAGS']);
    const flags = this.pick(['(\\Seen)', '(\\Flagged $Soak)', '($Soak)', '(\\Answered \\Seen)', '()']);
    const r = await this.cmd(`UID STORE ${uids.join(',')} ${op} ${flags}`);
    absorb(this.model, mb, r.untagged);
    if (r.ok) this.stats.stores++;
    void name;
  }

  private async copyOrMove(name: string, mb: MailboxModel, move: boolean): Promise<void> {
    const uids = this.knownUids(mb, 1 + Math.floor(this.r() * 3));
    if (uids.length === 0) return;
    const dstName = this.pick(TRACKED.filter((t) => t !== name));
    const dst = this.model.box(dstName);
    let done = false;
    try {
      const r = await this.cmd(`UID ${move ? 'MOVE' : 'COPY'} ${uids.join(',')} ${quote(dstName)}`);
      done = true;
      absorb(this.model, mb, r.untagged);
      if (!r.ok) return;
      const m = /COPYUID (\d+) ([\d:,]+) ([\d:,]+)/.exec([...r.untagged, r.tagged].join('\n'));
      if (!m) return; // none of the UIDs existed any more
      const src = uidList(m[2]!);
      const dstUids = uidList(m[3]!);
      if (src.length !== dstUids.length) return this.model.violation(`COPYUID with unequal sets: ${m[0]}`);
      src.forEach((s, i) => this.model.added(dst, dstUids[i]!, mb.present.get(s) ?? '', `${move ? 'MOVE' : 'COPY'} to ${dstName}`));
      if (move) this.model.vanished(mb, src);
      if (move) this.stats.moves++;
      else this.stats.copies++;
    } finally {
      if (!done) {
        // Cut off: the copies may exist (unknown UIDs), the moved originals may be gone.
        if (move) for (const u of uids) if (mb.present.delete(u)) mb.uncertain.add(u);
      }
    }
  }

  private async expunge(name: string, mb: MailboxModel): Promise<void> {
    const uids = this.knownUids(mb, 1 + Math.floor(this.r() * 2));
    if (uids.length === 0) return;
    let done = false;
    try {
      const s = await this.cmd(`UID STORE ${uids.join(',')} +FLAGS.SILENT (\\Deleted)`);
      absorb(this.model, mb, s.untagged);
      const r = await this.cmd(`UID EXPUNGE ${uids.join(',')}`);
      done = true;
      absorb(this.model, mb, r.untagged);
      if (r.ok) this.stats.expunges++;
    } finally {
      if (!done) for (const u of uids) if (mb.present.delete(u)) mb.uncertain.add(u);
    }
    void name;
  }

  private async mailboxOp(): Promise<void> {
    const mine = [...this.model.scratch.entries()].filter(([n, exists]) => exists && n.startsWith(`Scratch/c${this.id}/`)).map(([n]) => n);
    const x = this.r();
    let target: string;
    let other: string | null = null;
    let verb: 'CREATE' | 'DELETE' | 'RENAME';
    if (mine.length === 0 || x < 0.5) {
      verb = 'CREATE';
      target = `Scratch/c${this.id}/r${this.round()}n${++this.scratchN}`;
    } else if (x < 0.75) {
      verb = 'DELETE';
      target = this.pick(mine);
    } else {
      verb = 'RENAME';
      target = this.pick(mine);
      other = `Scratch/c${this.id}/r${this.round()}n${++this.scratchN}`;
    }
    this.model.scratchUncertain.add(target);
    if (other) this.model.scratchUncertain.add(other);
    const r = await this.cmd(`${verb} ${quote(target)}${other ? ' ' + quote(other) : ''}`);
    this.model.scratchUncertain.delete(target);
    if (other) this.model.scratchUncertain.delete(other);
    if (!r.ok) return;
    this.stats.mailboxOps++;
    if (verb === 'CREATE') this.model.scratch.set(target, true);
    else if (verb === 'DELETE') this.model.scratch.set(target, false);
    else {
      this.model.scratch.set(target, false);
      this.model.scratch.set(other!, true);
    }
  }
}

function quote(s: string): string {
  return `"${s.replace(/["\\]/g, (c) => '\\' + c)}"`;
}

/** After a restart: compares the server's state with the model and resolves uncertain entries. */
export async function checkState(port: number, model: Model, stats: SoakReport['stats'], label: string): Promise<void> {
  const c = await ImapTestClient.connect(port);
  try {
    const login = await c.command('L', `LOGIN ${SOAK_USER} "${SOAK_PASSWORD}"`);
    if (!/^L OK/.test(login.tagged)) throw new Error(`checker login failed: ${login.tagged}`);
    await c.command('E', 'ENABLE QRESYNC');
    for (const name of TRACKED) {
      const mb = model.box(name);
      const st = await c.command('S', `STATUS ${quote(name)} (UIDNEXT UIDVALIDITY HIGHESTMODSEQ MESSAGES)`);
      const s = st.untagged.join('\n');
      const uidNext = Number(/UIDNEXT (\d+)/.exec(s)?.[1]);
      const uidValidity = Number(/UIDVALIDITY (\d+)/.exec(s)?.[1]);
      const hms = Number(/HIGHESTMODSEQ (\d+)/.exec(s)?.[1]);
      if (!Number.isFinite(uidNext) || !Number.isFinite(hms)) {
        model.violation(`${label} ${name}: STATUS incomplete: ${st.tagged} ${s}`);
        continue;
      }
      if (mb.uidValidity !== null && uidValidity !== mb.uidValidity) model.violation(`${label} ${name}: UIDVALIDITY ${mb.uidValidity} → ${uidValidity}`);
      mb.uidValidity ??= uidValidity;
      if (uidNext <= mb.maxUid) model.violation(`${label} ${name}: UIDNEXT ${uidNext} not above the largest UID seen ${mb.maxUid} (UIDs would be reused)`);
      if (hms < mb.maxModSeq) model.violation(`${label} ${name}: HIGHESTMODSEQ ${hms} below ${mb.maxModSeq} seen before`);
      const sel = await c.command('X', `EXAMINE ${quote(name)}`);
      if (!/^X OK/.test(sel.tagged)) {
        model.violation(`${label} ${name}: EXAMINE failed: ${sel.tagged}`);
        continue;
      }
      const f = await c.command('F', 'UID FETCH 1:* (UID MODSEQ BODY.PEEK[HEADER.FIELDS (Message-ID)])', 60_000);
      const listing = new Map<number, { msgId: string; modSeq: number }>();
      let prev = 0;
      for (const line of f.untagged) {
        if (!/^\* \d+ FETCH/.test(line)) continue;
        const uid = Number(/[( ]UID (\d+)/.exec(line)?.[1]);
        const modSeq = Number(/MODSEQ \((\d+)\)/.exec(line)?.[1]);
        const msgId = /Message-ID: (<[^>\r\n]*>)/i.exec(line)?.[1] ?? '';
        if (!(uid > prev)) model.violation(`${label} ${name}: UIDs not strictly ascending (${prev} then ${uid})`);
        prev = uid;
        if (uid >= uidNext) model.violation(`${label} ${name}: UID ${uid} not below UIDNEXT ${uidNext}`);
        listing.set(uid, { msgId, modSeq });
      }
      stats.messagesChecked += listing.size;
      for (const [uid, msgId] of mb.present) {
        const got = listing.get(uid);
        if (!got) model.violation(`${label} ${name}: acknowledged UID ${uid} ${msgId} is missing`);
        else if (msgId !== '' && got.msgId !== msgId) model.violation(`${label} ${name}: UID ${uid} holds ${got.msgId}, expected ${msgId}`);
      }
      for (const uid of mb.removed) if (listing.has(uid)) model.violation(`${label} ${name}: UID ${uid} was reported expunged but is back`);
      for (const [uid, got] of listing) {
        const before = mb.modSeq.get(uid);
        if (before !== undefined && got.modSeq < before) model.violation(`${label} ${name}: MODSEQ of UID ${uid} went from ${before} to ${got.modSeq}`);
        if (!mb.present.has(uid) && !mb.removed.has(uid)) {
          // Uncertain before (a cut-off command) or written by a command cut off by the kill: now known.
          mb.present.set(uid, got.msgId);
          mb.uncertainAppends.delete(got.msgId);
        }
        model.sawUid(mb, uid);
        model.sawModSeq(mb, uid, got.modSeq);
      }
      for (const uid of mb.uncertain) if (!listing.has(uid)) mb.removed.add(uid);
      mb.uncertain.clear();
      for (const [uid] of mb.present) if (!listing.has(uid)) mb.present.delete(uid);
      model.sawModSeq(mb, null, hms);
      if (uidNext - 1 > mb.maxUid) mb.maxUid = uidNext - 1;
    }
    const l = await c.command('LS', 'LIST "" "Scratch/*"');
    const names = new Set(l.untagged.map((x) => /^\* LIST \([^)]*\) (?:"[^"]*"|NIL) "?(.*?)"?$/.exec(x)?.[1] ?? '').filter((x) => x !== ''));
    for (const [name, exists] of model.scratch) {
      if (model.scratchUncertain.has(name)) continue;
      if (exists && !names.has(name)) model.violation(`${label}: mailbox ${name} (CREATE/RENAME acknowledged) is missing`);
      if (!exists && names.has(name)) model.violation(`${label}: mailbox ${name} (DELETE/RENAME acknowledged) exists`);
    }
    for (const name of model.scratchUncertain) model.scratch.set(name, names.has(name));
    model.scratchUncertain.clear();
    await c.command('Z', 'LOGOUT').catch(() => undefined);
  } finally {
    c.close();
  }
}

/** With the server dead: every blob referenced by metadata exists with its size; refcounts are exact. */
export function checkBlobs(dataDir: string, model: Model, stats: SoakReport['stats'], label: string): void {
  let db: BetterSqlite3.Database;
  try {
    db = new BetterSqlite3(join(dataDir, METADATA_FILE), { readonly: true, fileMustExist: true });
  } catch (err) {
    model.violation(`${label}: cannot open the metadata read-only after the kill: ${(err as Error).message}`);
    return;
  }
  try {
    const rows = db.prepare('SELECT b.id, b.size, b.refcount, (SELECT COUNT(*) FROM messages m WHERE m.blob_id = b.id) AS refs FROM blobs b').all() as Array<{ id: string; size: number; refcount: number; refs: number }>;
    const known = new Set(rows.map((r) => r.id));
    for (const r of rows) {
      if (r.refcount !== r.refs) model.violation(`${label}: blob ${r.id.slice(0, 12)} refcount ${r.refcount} but ${r.refs} messages`);
      if (r.refs === 0) continue;
      stats.blobsChecked++;
      const p = join(dataDir, 'blobs', r.id.slice(0, 2), r.id.slice(2));
      if (!existsSync(p)) model.violation(`${label}: blob ${r.id.slice(0, 12)} referenced by ${r.refs} message(s) is missing`);
      else if (statSync(p).size !== r.size) model.violation(`${label}: blob ${r.id.slice(0, 12)} has ${statSync(p).size} octets, metadata says ${r.size}`);
    }
    const orphan = db.prepare('SELECT COUNT(*) AS n FROM messages m WHERE NOT EXISTS (SELECT 1 FROM blobs b WHERE b.id = m.blob_id)').get() as { n: number };
    if (orphan.n > 0) model.violation(`${label}: ${orphan.n} messages reference a blob without a row`);
    void known;
  } finally {
    db.close();
  }
}

function listBlobFiles(dataDir: string): string[] {
  const out: string[] = [];
  const dir = join(dataDir, 'blobs');
  if (!existsSync(dir)) return out;
  for (const a of readdirSync(dir)) for (const b of readdirSync(join(dir, a))) out.push(a + b);
  return out;
}

export function emptyStats(): SoakReport['stats'] {
  return {
    appendsAcked: 0, appendsCutOff: 0, stores: 0, copies: 0, moves: 0, expunges: 0, mailboxOps: 0,
    commandsAcked: 0, messagesChecked: 0, blobsChecked: 0, gcRemoved: 0,
  };
}

export async function runSoak(opts: SoakOptions): Promise<SoakReport> {
  const seed = opts.seed ?? Math.floor(Math.random() * 2 ** 31);
  const r = rng(seed);
  const log = opts.log ?? (() => undefined);
  const dataDir = opts.dataDir ?? (await mkdtemp(join(tmpdir(), 'petrel-soak-')));
  const stats = emptyStats();
  const model = new Model();
  await provision(dataDir);
  let server: ChildServer | null = await startChildServer(dataDir);
  let round = 0;
  try {
    {
      const c = await ImapTestClient.connect(server.port);
      await c.command('L', `LOGIN ${SOAK_USER} "${SOAK_PASSWORD}"`);
      for (const m of TRACKED.slice(1)) await c.command('C', `CREATE ${quote(m)}`);
      c.close();
    }
    await checkState(server.port, model, stats, 'start');
    for (round = 1; round <= opts.kills + 1; round++) {
      const clients = Array.from({ length: opts.clients }, (_, i) => new SoakClient(i + 1, model, rng(seed * 31 + round * 1009 + i), stats, () => round));
      const running = clients.map((c) => c.run(server!.port));
      const last = round === opts.kills + 1;
      const runMs = opts.minRunMs + Math.floor(r() * (opts.maxRunMs - opts.minRunMs));
      await new Promise((res) => setTimeout(res, runMs));
      if (last) {
        for (const c of clients) c.stopped = true;
        await Promise.all(running);
        await checkState(server.port, model, stats, `final`);
        await server.stop();
        server = null;
        break;
      }
      await server.kill9();
      log(`round ${round}: SIGKILL after ${runMs} ms (${stats.appendsAcked} appends acknowledged so far)`);
      await Promise.all(running);
      checkBlobs(dataDir, model, stats, `after kill ${round}`);
      server = await startChildServer(dataDir);
      await checkState(server.port, model, stats, `after kill ${round}`);
    }
    checkBlobs(dataDir, model, stats, 'final');
    // Unreferenced blobs (expunged messages, appends cut off before commit) and temp files are collected.
    const store = await openSqliteStore(dataDir, { gcGraceMs: 0 });
    try {
      stats.gcRemoved = (await store.collectGarbage()).removedBlobs;
    } finally {
      await store.close();
    }
    const db = new BetterSqlite3(join(dataDir, METADATA_FILE), { readonly: true });
    try {
      const referenced = new Set((db.prepare('SELECT DISTINCT blob_id AS id FROM messages').all() as Array<{ id: string }>).map((x) => x.id));
      for (const f of listBlobFiles(dataDir)) if (!referenced.has(f)) model.violation(`after GC: blob file ${f.slice(0, 12)} is not referenced by any message`);
      const rows = (db.prepare('SELECT COUNT(*) AS n FROM blobs WHERE refcount = 0').get() as { n: number }).n;
      if (rows > 0) model.violation(`after GC: ${rows} unreferenced blob rows left`);
    } finally {
      db.close();
    }
    const tmp = join(dataDir, 'tmp');
    if (existsSync(tmp) && readdirSync(tmp).length > 0) model.violation(`after GC: temp files left: ${readdirSync(tmp).slice(0, 3).join(', ')}`);
  } finally {
    if (server) await server.kill9();
    if (!opts.keepDataDir && !opts.dataDir) await rm(dataDir, { recursive: true, force: true });
  }
  return { seed, dataDir, kills: opts.kills, violations: model.violations, stats };
}
