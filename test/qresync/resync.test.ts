// Quick resynchronisation as a disconnected client lives it (RFC 7162 §6, RFC 4549): two sessions change
// flags, expunge, move and append while a third, offline or online, keeps a UID → flags cache with only
// QRESYNC's answers (SELECT (QRESYNC ...), VANISHED, VANISHED (EARLIER), FETCH with MODSEQ, and a UID FETCH
// of the new UIDs), and must end with exactly the server's state — also after the server forgot its
// expunges (pruned tombstones). Then imapflow with `qresync: true` receiving VANISHED.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { ImapTestClient, logoutQuietly, type CommandResult } from '../helpers/imap-client.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import type { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';

let srv: TestServer;
const clients: ImapTestClient[] = [];

before(async () => {
  srv = await startTestServer();
});

after(async () => {
  for (const c of clients) await logoutQuietly(c);
  await srv?.stop();
});

async function session(): Promise<ImapTestClient> {
  const c = await ImapTestClient.connect(srv.port);
  clients.push(c);
  assert.match((await c.command('L', `LOGIN ${srv.user} "${srv.password}"`)).tagged, /^L OK/);
  // IMAP4rev2: no \Recent to filter out of FLAGS.
  assert.match((await c.command('E', 'ENABLE IMAP4rev2')).tagged, /^E OK/);
  return c;
}

/** A small deterministic PRNG (tests must be reproducible). */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

function expand(set: string): number[] {
  const out: number[] = [];
  for (const part of set.split(',')) {
    const [a, b] = part.split(':').map(Number);
    const lo = Math.min(a!, b ?? a!);
    const hi = Math.max(a!, b ?? a!);
    for (let n = lo; n <= hi; n++) out.push(n);
  }
  return out;
}

const norm = (flags: string) => flags.split(' ').filter((f) => f !== '').sort().join(' ');

/** The client's replica of one mailbox: what a disconnected client keeps (RFC 4549 §3). */
class Replica {
  flags = new Map<number, string>();
  uidValidity = 0;
  highestModSeq = 0;
  uidNext = 1;

  /** Applies untagged responses (VANISHED with or without EARLIER, FETCH with UID and FLAGS). */
  apply(lines: string[]): void {
    for (const l of lines) {
      const v = /^\* VANISHED (?:\(EARLIER\) )?(\S+)$/.exec(l);
      if (v) {
        for (const uid of expand(v[1]!)) this.flags.delete(uid);
        continue;
      }
      assert.ok(!/^\* \d+ EXPUNGE$/.test(l), `EXPUNGE sent to a QRESYNC session: ${l}`);
      const f = /^\* \d+ FETCH \((.*)\)$/.exec(l);
      if (f) {
        const uid = /UID (\d+)/.exec(f[1]!);
        const flags = /FLAGS \(([^)]*)\)/.exec(f[1]!);
        assert.ok(uid, `FETCH without UID in a QRESYNC session: ${l}`);
        if (flags) this.flags.set(Number(uid[1]), norm(flags[1]!));
        // RFC 7162 §3.2.4: every unsolicited FETCH carries MODSEQ.
        assert.match(f[1]!, /MODSEQ \(\d+\)/, l);
      }
      const h = /^\* OK \[HIGHESTMODSEQ (\d+)\]/.exec(l);
      if (h) this.highestModSeq = Number(h[1]);
      const u = /^\* OK \[UIDNEXT (\d+)\]/.exec(l);
      if (u) this.uidNext = Number(u[1]);
      const uv = /^\* OK \[UIDVALIDITY (\d+)\]/.exec(l);
      if (uv) this.uidValidity = Number(uv[1]);
    }
  }

  /** Known UIDs as a compact set. */
  knownSet(): string {
    const uids = [...this.flags.keys()].sort((a, b) => a - b);
    const parts: string[] = [];
    for (let i = 0; i < uids.length; ) {
      let j = i;
      while (j + 1 < uids.length && uids[j + 1] === uids[j]! + 1) j++;
      parts.push(i === j ? `${uids[i]}` : `${uids[i]}:${uids[j]}`);
      i = j + 1;
    }
    return parts.join(',');
  }

  /** Sequence match data: every third known UID with its sequence number (RFC 7162 §3.2.5.2). */
  seqMatch(): string {
    const uids = [...this.flags.keys()].sort((a, b) => a - b);
    const seqs: number[] = [];
    const picked: number[] = [];
    for (let i = 0; i < uids.length; i += 3) {
      seqs.push(i + 1);
      picked.push(uids[i]!);
    }
    return seqs.length ? ` (${seqs.join(',')} ${picked.join(',')})` : '';
  }

  /** Reconnects with SELECT (QRESYNC ...), then fetches the new messages (RFC 7162 §6 steps 1a-2). */
  async resync(c: ImapTestClient, box: string, withSeqMatch: boolean): Promise<CommandResult> {
    const known = this.knownSet();
    const params = `${this.uidValidity} ${this.highestModSeq}${known ? ` ${known}${withSeqMatch ? this.seqMatch() : ''}` : ''}`;
    const sel = await c.command('RS', `SELECT ${box} (QRESYNC (${params}))`);
    assert.match(sel.tagged, /^RS OK/);
    const before = this.uidNext;
    this.apply(sel.untagged);
    await this.fetchNew(c, before);
    return sel;
  }

  async fetchNew(c: ImapTestClient, from: number): Promise<void> {
    const r = await c.command('FN', `UID FETCH ${from}:* (UID FLAGS)`);
    for (const l of r.untagged) {
      const m = /^\* \d+ FETCH \(UID (\d+) FLAGS \(([^)]*)\)/.exec(l);
      if (m && Number(m[1]) >= from) this.flags.set(Number(m[1]), norm(m[2]!));
      else this.apply([l]);
    }
    const maxUid = Math.max(0, ...this.flags.keys());
    this.uidNext = Math.max(this.uidNext, maxUid + 1);
  }
}

/** The server's truth, read by a fresh session. */
async function truth(c: ImapTestClient, box: string): Promise<Map<number, string>> {
  assert.match((await c.command('TX', `EXAMINE ${box}`)).tagged, /^TX OK/);
  const r = await c.command('TF', 'UID FETCH 1:* (FLAGS)');
  await c.command('TU', 'UNSELECT');
  const out = new Map<number, string>();
  for (const l of r.untagged) {
    const m = /^\* \d+ FETCH \(UID (\d+) FLAGS \(([^)]*)\)\)$/.exec(l) ?? /^\* \d+ FETCH \(FLAGS \(([^)]*)\) UID (\d+)\)$/.exec(l);
    if (m) out.set(Number(m[1]), norm(m[2]!));
  }
  return out;
}

function sorted(m: Map<number, string>): Array<[number, string]> {
  return [...m].sort((a, b) => a[0] - b[0]);
}

const FLAGS = ['\\Seen', '\\Flagged', '\\Answered', '$Work', '$Later'];

/** One round of changes by a session: flag changes, deletions + expunge, a move, new mail. */
async function mutate(c: ImapTestClient, box: string, other: string, rand: () => number, round: number): Promise<void> {
  assert.match((await c.command('MS', `SELECT ${box}`)).tagged, /^MS OK/);
  const uids = [...(await truth(c, box)).keys()];
  assert.match((await c.command('MS2', `SELECT ${box}`)).tagged, /^MS2 OK/);
  for (const uid of uids) {
    const x = rand();
    if (x < 0.25) {
      const flag = FLAGS[Math.floor(rand() * FLAGS.length)]!;
      assert.match((await c.command('MF', `UID STORE ${uid} ${rand() < 0.6 ? '+' : '-'}FLAGS.SILENT (${flag})`)).tagged, /^MF OK/);
    } else if (x < 0.33) {
      assert.match((await c.command('MD', `UID STORE ${uid} +FLAGS.SILENT (\\Deleted)`)).tagged, /^MD OK/);
    } else if (x < 0.36) {
      assert.match((await c.command('MM', `UID MOVE ${uid} ${other}`)).tagged, /^MM OK/);
    }
  }
  // EXPUNGE only the ones this session deleted in this round half the time (UID EXPUNGE), else all.
  assert.match((await c.command('ME', rand() < 0.5 ? 'EXPUNGE' : `UID EXPUNGE 1:*`)).tagged, /^ME OK/);
  const n = 1 + Math.floor(rand() * 4);
  for (let i = 0; i < n; i++) {
    const msg = Buffer.from(`Subject: round ${round} ${i}\r\nFrom: a@example.com\r\n\r\nbody\r\n`);
    const flags = rand() < 0.5 ? '(\\Seen)' : '()';
    assert.match((await c.commandWithLiterals('MA', [`APPEND ${box} ${flags} `, msg])).tagged, /^MA OK/);
  }
  assert.match((await c.command('MU', 'UNSELECT')).tagged, /^MU OK/);
}

test('three sessions: A and B change the mailbox while C resyncs with QRESYNC and ends with exactly the server state', async () => {
  const a = await session();
  const b = await session();
  const box = 'Resync3';
  const other = 'Resync3-other';
  assert.match((await a.command('C1', `CREATE ${box}`)).tagged, /^C1 OK/);
  assert.match((await a.command('C2', `CREATE ${other}`)).tagged, /^C2 OK/);
  for (let i = 0; i < 30; i++) {
    const msg = Buffer.from(`Subject: seed ${i}\r\nFrom: a@example.com\r\n\r\nbody ${i}\r\n`);
    assert.match((await a.commandWithLiterals('A', [`APPEND ${box} () `, msg])).tagged, /^A OK/);
  }
  const rand = rng(7162);
  const replica = new Replica();
  // C's first synchronisation: a full one.
  let c = await session();
  assert.match((await c.command('EQ', 'ENABLE QRESYNC')).tagged, /^EQ OK/);
  const first = await c.command('S', `SELECT ${box}`);
  replica.apply(first.untagged);
  await replica.fetchNew(c, 1);
  assert.deepEqual(sorted(replica.flags), sorted(await truth(a, box)));

  for (let round = 1; round <= 6; round++) {
    const online = round % 3 === 0;
    if (!online) {
      await logoutQuietly(c);
    }
    await mutate(a, box, other, rand, round);
    await mutate(b, box, other, rand, round * 10);
    if (round === 4) {
      // The server forgets every expunge so far: answers must stay exact (announce all that might be gone).
      const mb = (await srv.store.listMailboxes((await srv.store.getUser(srv.user))!.id)).find((m) => m.name === box)!;
      await (srv.store as SqliteStore).pruneTombstones(mb.id, mb.highestModSeq);
    }
    if (online) {
      // C stayed selected: the changes arrive as VANISHED and FETCH (UID FLAGS MODSEQ) at NOOP.
      const n = await c.command('N', 'NOOP');
      const before = replica.uidNext;
      replica.apply(n.untagged);
      assert.ok(!n.untagged.some((l) => /EXPUNGE/.test(l)));
      await replica.fetchNew(c, before);
    } else {
      c = await session();
      assert.match((await c.command('EQ', 'ENABLE QRESYNC')).tagged, /^EQ OK/);
      await replica.resync(c, box, round % 2 === 0);
    }
    assert.deepEqual(sorted(replica.flags), sorted(await truth(a, box)), `round ${round}`);
  }
});

test('imapflow with qresync: true resyncs with VANISHED (EARLIER) and receives VANISHED while selected', async () => {
  const { ImapFlow } = await import('imapflow');
  const mk = () =>
    new ImapFlow({ host: '127.0.0.1', port: srv.port, secure: false, auth: { user: srv.user, pass: srv.password }, logger: false, qresync: true });
  const actor = await session();
  const box = 'FlowQ';
  assert.match((await actor.command('C', `CREATE ${box}`)).tagged, /^C OK/);
  for (let i = 0; i < 6; i++) {
    const msg = Buffer.from(`Subject: flow ${i}\r\nFrom: a@example.com\r\n\r\nbody\r\n`);
    assert.match((await actor.commandWithLiterals('A', [`APPEND ${box} () `, msg])).tagged, /^A OK/);
  }
  const flow = mk();
  await flow.connect();
  try {
    assert.ok(flow.enabled.has('QRESYNC'), 'imapflow enabled QRESYNC');
    const mb = await flow.mailboxOpen(box);
    const uidValidity = mb.uidValidity;
    const highest = mb.highestModseq;
    assert.ok(highest && highest > 0n);
    await flow.mailboxClose();
    // Offline changes: 2 and 5 expunged, 3 flagged.
    assert.match((await actor.command('S', `SELECT ${box}`)).tagged, /^S OK/);
    assert.match((await actor.command('D', 'UID STORE 2,5 +FLAGS.SILENT (\\Deleted)')).tagged, /^D OK/);
    assert.match((await actor.command('E', 'EXPUNGE')).tagged, /^E OK/);
    assert.match((await actor.command('F', 'UID STORE 3 +FLAGS.SILENT (\\Flagged)')).tagged, /^F OK/);
    const events: Array<{ uid?: number; vanished: boolean; earlier?: boolean }> = [];
    const flags: Array<{ uid?: number; flags?: Set<string> }> = [];
    flow.on('expunge', (e: { uid?: number; vanished: boolean; earlier?: boolean }) => events.push(e));
    flow.on('flags', (e: { uid?: number; flags?: Set<string> }) => flags.push(e));
    await flow.mailboxOpen(box, { changedSince: highest, uidValidity } as never);
    assert.deepEqual(
      events.map((e) => [e.uid, e.vanished, e.earlier]),
      [
        [2, true, true],
        [5, true, true],
      ],
    );
    assert.ok(flags.some((f) => f.uid === 3 && f.flags?.has('\\Flagged')), JSON.stringify(flags.map((f) => [f.uid, [...(f.flags ?? [])]])));
    // While selected: another session's expunge arrives as VANISHED (not EXPUNGE).
    events.length = 0;
    assert.match((await actor.command('D2', 'UID STORE 6 +FLAGS.SILENT (\\Deleted)')).tagged, /^D2 OK/);
    assert.match((await actor.command('E2', 'EXPUNGE')).tagged, /^E2 OK/);
    await flow.noop();
    assert.deepEqual(
      events.map((e) => [e.uid, e.vanished, e.earlier]),
      [[6, true, false]],
    );
    assert.equal(flow.mailbox && typeof flow.mailbox === 'object' ? flow.mailbox.exists : -1, 3);
  } finally {
    await flow.logout().catch(() => undefined);
  }
});
