// The PostgreSQL store (issue 8): the shared conformance suite with message bytes in the database and with
// the file blob store, plus what only several nodes can show — two stores on one database (two pools, two
// listening connections: two "nodes") appending concurrently get distinct, ascending UIDs and strictly
// ascending mod-sequences (RFC 9051 §2.3.1.1, RFC 7162 §3.1), and a watcher on one node is poked by the other
// node's commits through LISTEN/NOTIFY (RFC 2177 IDLE across nodes), and a node killed mid-write loses nothing
// it acknowledged (RFC 3502 MULTIAPPEND stays all or nothing). One PostgreSQL server per test file
// (test/helpers/postgres.ts), a fresh database per test.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fsp from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { storeConformanceSuite } from '../../src/store/conformance/store-conformance.js';
import { provisionUser } from '../../src/store/provision.js';
import { openPostgresStore, type PostgresStore, type PostgresStoreOptions } from '../../src/store/postgres/postgres-store.js';
import { PG_MIGRATIONS } from '../../src/store/postgres/schema.js';
import type { ChangeEvent } from '../../src/store/types.js';
import { createTestDatabase, ensurePostgres, resetDatabase, type TestDatabase } from '../helpers/postgres.js';

/** A new database for tests that need one of their own (several nodes, reopening). */
async function freshDatabase(): Promise<TestDatabase> {
  return createTestDatabase(await ensurePostgres());
}

// The conformance suites run their tests one after the other on one database, emptied before each test
// (the schema stays: migrating takes longer than the test).
let conformanceDb: Promise<TestDatabase> | null = null;

async function emptyDatabase(): Promise<string> {
  conformanceDb ??= freshDatabase();
  const db = await conformanceDb;
  await resetDatabase(db.url, ['schema_version', 'meta']);
  return db.url;
}

after(async () => {
  if (conformanceDb) await (await conformanceDb).drop();
  await (await ensurePostgres()).stop();
});

storeConformanceSuite('postgres (bytes in the database)', async () => {
  const store = await openPostgresStore(await emptyDatabase(), { gcIntervalMs: 0 });
  return {
    store,
    async cleanup() {
      await store.close();
    },
  };
});

storeConformanceSuite('postgres (bytes in the file blob store)', async () => {
  const url = await emptyDatabase();
  const dir = await fsp.mkdtemp(join(tmpdir(), 'petrel-pgblobs-'));
  const store = await openPostgresStore(url, { gcIntervalMs: 0, blobDir: dir });
  return {
    store,
    async cleanup() {
      await store.close();
      await fsp.rm(dir, { recursive: true, force: true });
    },
  };
});

function message(n: number): Buffer {
  return Buffer.from(
    `From: a@example.org\r\nTo: b@example.org\r\nSubject: node message ${n}\r\nMessage-ID: <n${n}@example.org>\r\n\r\nBody ${n}\r\n`,
  );
}

/** Resolves with the first event `watch` delivers that satisfies `pred`; rejects after `ms`. */
function nextEvent(
  watch: (listener: (e: ChangeEvent) => void) => () => void,
  pred: (e: ChangeEvent) => boolean,
  ms = 10_000,
): Promise<ChangeEvent> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      unwatch();
      reject(new Error(`no matching change event within ${ms} ms`));
    }, ms);
    const unwatch = watch((e) => {
      if (!pred(e)) return;
      clearTimeout(timer);
      unwatch();
      resolve(e);
    });
  });
}

describe('PostgresStore with several nodes', () => {
  async function twoNodes(opts: PostgresStoreOptions = {}) {
    const url = await emptyDatabase();
    const a = await openPostgresStore(url, { gcIntervalMs: 0, ...opts });
    const b = await openPostgresStore(url, { gcIntervalMs: 0, ...opts });
    return {
      a,
      b,
      async close() {
        await a.close();
        await b.close();
      },
    };
  }

  it('gives concurrent appends from two nodes distinct, ascending UIDs and mod-sequences', async () => {
    const n = await twoNodes({ poolSize: 4 });
    try {
      const user = await provisionUser(n.a, 'alice', 'h');
      const inboxA = (await n.a.getMailbox(user.id, 'INBOX'))!;
      const inboxB = (await n.b.getMailbox(user.id, 'INBOX'))!;
      assert.equal(inboxA.id, inboxB.id);
      const preparedA = await Promise.all(Array.from({ length: 20 }, (_, i) => n.a.prepare(message(i))));
      const preparedB = await Promise.all(Array.from({ length: 20 }, (_, i) => n.b.prepare(message(100 + i))));
      // 40 single-message APPENDs in flight at once, half on each node, plus two 3-message MULTIAPPENDs.
      const results = await Promise.all([
        ...preparedA.map((m) => n.a.append(inboxA.id, [{ message: m, flags: [] }])),
        ...preparedB.map((m) => n.b.append(inboxB.id, [{ message: m, flags: ['$Node'] }])),
        n.a.append(inboxA.id, preparedA.slice(0, 3).map((m) => ({ message: m, flags: ['\\Seen'] }))),
        n.b.append(inboxB.id, preparedB.slice(0, 3).map((m) => ({ message: m, flags: ['\\Seen'] }))),
      ]);
      const uids = results.flatMap((r) => r.uids);
      assert.equal(uids.length, 46);
      assert.equal(new Set(uids).size, 46, 'no UID handed out twice');
      assert.deepEqual([...uids].sort((x, y) => x - y), Array.from({ length: 46 }, (_, i) => i + 1), 'no gaps');
      const modSeqs = results.map((r) => r.modSeq);
      assert.equal(new Set(modSeqs).size, results.length, 'one distinct mod-sequence per transaction');
      // A MULTIAPPEND's UIDs are consecutive (RFC 4315 APPENDUID uid-set), whatever ran beside it.
      for (const r of results.slice(40)) assert.deepEqual(r.uids, [r.uids[0]!, r.uids[0]! + 1, r.uids[0]! + 2]);
      // Per transaction, a higher mod-sequence means higher UIDs: allocation was serialised on the mailbox row.
      const byModSeq = [...results].sort((x, y) => x.modSeq - y.modSeq);
      for (let i = 1; i < byModSeq.length; i++) assert.ok(byModSeq[i]!.uids[0]! > byModSeq[i - 1]!.uids[0]!);
      const listed = await n.b.listMessages(inboxB.id);
      assert.deepEqual(listed.map((m) => m.uid), Array.from({ length: 46 }, (_, i) => i + 1));
      const status = await n.a.mailboxStatus(inboxA.id);
      assert.equal(status.messages, 46);
      assert.equal(status.uidNext, 47);
      assert.equal(status.unseen, 40);
      assert.equal(status.highestModSeq, Math.max(...modSeqs));
    } finally {
      await n.close();
    }
  });

  it('keeps flags and expunges consistent when both nodes write the same mailbox', async () => {
    const n = await twoNodes({ poolSize: 4 });
    try {
      const user = await provisionUser(n.a, 'alice', 'h');
      const inbox = (await n.a.getMailbox(user.id, 'INBOX'))!;
      const prepared = await Promise.all(Array.from({ length: 30 }, (_, i) => n.a.prepare(message(i))));
      await n.a.append(inbox.id, prepared.map((m) => ({ message: m, flags: [] })));
      const since = (await n.a.mailboxStatus(inbox.id)).highestModSeq;
      const ops: Array<Promise<unknown>> = [];
      for (let uid = 1; uid <= 30; uid++) {
        const node = uid % 2 === 0 ? n.a : n.b;
        ops.push(node.storeFlags(inbox.id, [uid], 'add', uid % 3 === 0 ? ['\\Deleted'] : ['\\Seen', 'Kw']));
        ops.push((uid % 2 === 0 ? n.b : n.a).storeFlags(inbox.id, [uid], 'add', ['\\Flagged']));
      }
      await Promise.all(ops);
      const [expungedA, expungedB] = await Promise.all([n.a.expunge(inbox.id), n.b.expunge(inbox.id)]);
      const expunged = [...expungedA, ...expungedB].sort((x, y) => x - y);
      assert.deepEqual(expunged, [3, 6, 9, 12, 15, 18, 21, 24, 27, 30], 'each message expunged once, by one node');
      const msgs = await n.b.listMessages(inbox.id);
      assert.equal(msgs.length, 20);
      for (const m of msgs) assert.deepEqual([...m.flags].sort(), ['Kw', '\\Flagged', '\\Seen']);
      const changes = await n.a.changesSince(inbox.id, since);
      assert.deepEqual(changes.expunged, expunged);
      assert.equal(changes.changed.length, 20);
      // 60 STOREs and at most 2 EXPUNGEs, each its own mod-sequence.
      assert.ok(changes.highestModSeq >= since + 61 && changes.highestModSeq <= since + 62, String(changes.highestModSeq - since));
      const status = await n.b.mailboxStatus(inbox.id);
      assert.equal(status.messages, 20);
      assert.equal(status.unseen, 0);
      assert.equal(status.deleted, 0);
    } finally {
      await n.close();
    }
  });

  it('moves in opposite directions at once without losing or duplicating a message', async () => {
    const n = await twoNodes({ poolSize: 4 });
    try {
      const user = await provisionUser(n.a, 'alice', 'h');
      const inbox = (await n.a.getMailbox(user.id, 'INBOX'))!;
      const other = await n.a.createMailbox(user.id, 'Other');
      const p = await Promise.all(Array.from({ length: 20 }, (_, i) => n.a.prepare(message(i))));
      await n.a.append(inbox.id, p.slice(0, 10).map((m) => ({ message: m, flags: [] })));
      await n.b.append(other.id, p.slice(10).map((m) => ({ message: m, flags: [] })));
      const moves: Array<Promise<{ mapping: Array<[number, number]> }>> = [];
      for (let uid = 1; uid <= 10; uid++) {
        moves.push(n.a.moveMessages(inbox.id, [uid], other.id));
        moves.push(n.b.moveMessages(other.id, [uid], inbox.id));
      }
      const results = await Promise.all(moves);
      const [inboxMsgs, otherMsgs] = await Promise.all([n.b.listMessages(inbox.id), n.a.listMessages(other.id)]);
      assert.equal(inboxMsgs.length + otherMsgs.length, 20, 'every message is in exactly one mailbox');
      const blobs = [...inboxMsgs, ...otherMsgs].map((m) => m.blobId).sort();
      assert.deepEqual(blobs, p.map((m) => m.blobId).sort());
      assert.equal(results.reduce((s, r) => s + r.mapping.length, 0), 20);
    } finally {
      await n.close();
    }
  });

  it('pokes a watcher on one node when another node commits (LISTEN/NOTIFY)', async () => {
    const n = await twoNodes();
    try {
      const user = await provisionUser(n.a, 'alice', 'h');
      const inbox = (await n.a.getMailbox(user.id, 'INBOX'))!;
      // Node A watches (a session in IDLE there); node B appends.
      const onA = nextEvent((l) => n.a.watchMailbox(inbox.id, l), () => true);
      const userOnA = nextEvent((l) => n.a.watchUser(user.id, l), (e) => e.mailboxId === inbox.id);
      const r = await n.b.append(inbox.id, [{ message: await n.b.prepare(message(1)), flags: [] }]);
      const event = await onA;
      assert.deepEqual(event, { mailboxId: inbox.id, userId: user.id, modSeq: r.modSeq });
      assert.deepEqual(await userOnA, event);
      // What the poke announces is committed and visible on the watching node.
      const changes = await n.a.changesSince(inbox.id, r.modSeq - 1);
      assert.deepEqual(changes.changed.map((m) => m.uid), r.uids);
      // Mailbox-list changes reach watchUser across nodes too.
      const created = nextEvent((l) => n.b.watchUser(user.id, l), (e) => e.mailboxId !== inbox.id);
      const box = await n.a.createMailbox(user.id, 'From A');
      assert.equal((await created).mailboxId, box.id);
      // A rolled-back write sends nothing: appending to a mailbox that is gone fails and pokes nobody.
      let pokes = 0;
      const stop = n.a.watchMailbox(box.id, () => pokes++);
      await n.b.deleteMailbox(user.id, 'From A');
      await assert.rejects(n.b.append(box.id, [{ message: await n.b.prepare(message(2)), flags: [] }]), { code: 'TRYCREATE' });
      // A later commit on the same channel arrives after anything the failed write could have sent.
      const marker = nextEvent((l) => n.a.watchMailbox(inbox.id, l), () => true);
      await n.b.storeFlags(inbox.id, r.uids, 'add', ['\\Seen']);
      await marker;
      stop();
      assert.equal(pokes, 1, 'only the DELETE poked the deleted mailbox');
    } finally {
      await n.close();
    }
  });

  it('delivers a node its own commits once (no echo through the server)', async () => {
    const n = await twoNodes();
    try {
      const user = await provisionUser(n.a, 'alice', 'h');
      const inbox = (await n.a.getMailbox(user.id, 'INBOX'))!;
      const onA: ChangeEvent[] = [];
      const stop = n.a.watchMailbox(inbox.id, (e) => onA.push(e));
      const r = await n.a.append(inbox.id, [{ message: await n.a.prepare(message(1)), flags: [] }]);
      assert.equal(onA.length, 1, 'delivered locally as soon as the write resolves');
      // B's later commit is delivered through the server after A's own NOTIFY would have been.
      const later = nextEvent((l) => n.a.watchMailbox(inbox.id, l), (e) => e.modSeq > r.modSeq);
      await n.b.storeFlags(inbox.id, r.uids, 'add', ['\\Seen']);
      await later;
      stop();
      assert.deepEqual(onA.map((e) => e.modSeq), [r.modSeq, r.modSeq + 1]);
    } finally {
      await n.close();
    }
  });
});

describe('PostgresStore when a node dies', () => {
  it('keeps every acknowledged message of a node killed mid-write; the survivor goes on; GC clears the leftovers', async () => {
    const url = await emptyDatabase();
    const survivor = await openPostgresStore(url, { gcIntervalMs: 0, gcGraceMs: 0 });
    try {
      const user = await provisionUser(survivor, 'alice', 'h');
      const inbox = (await survivor.getMailbox(user.id, 'INBOX'))!;
      const child = fileURLToPath(new URL('./postgres-crash-child.js', import.meta.url));
      const proc = spawn(process.execPath, [child, url], { stdio: ['ignore', 'pipe', 'inherit'] });
      const exited = new Promise<void>((resolve) => proc.on('exit', () => resolve()));
      const acknowledged = new Map<number, string>();
      // The survivor appends beside the dying node the whole time.
      let stop = false;
      const survivorUids: number[] = [];
      const survivorLoop = (async () => {
        for (let i = 0; !stop; i++) {
          const r = await survivor.append(inbox.id, [{ message: await survivor.prepare(message(1000 + i)), flags: [] }]);
          survivorUids.push(...r.uids);
        }
      })();
      const lines = createInterface({ input: proc.stdout! });
      let batches = 0;
      for await (const line of lines) {
        if (line === 'MID') {
          if (batches < 4) continue;
          // The fifth batch is half uploaded: kill the node now.
          proc.kill('SIGKILL');
          break;
        }
        assert.match(line, /^OK( \d+:[0-9a-f]{64}){3}$/);
        for (const pair of line.slice(3).split(' ')) {
          const [uid, blobId] = pair.split(':');
          acknowledged.set(Number(uid), blobId!);
        }
        batches++;
      }
      lines.close();
      await exited;
      assert.equal(acknowledged.size, 12, 'four MULTIAPPENDs acknowledged before the kill');
      stop = true;
      await survivorLoop;
      // The survivor's next write still works, and takes the next UID.
      const last = await survivor.append(inbox.id, [{ message: await survivor.prepare(message(9999)), flags: [] }]);
      const msgs = await survivor.listMessages(inbox.id);
      const uids = msgs.map((m) => m.uid);
      // Committed transactions only: UIDs 1..N without a hole, the last one the survivor's newest.
      assert.deepEqual(uids, Array.from({ length: uids.length }, (_, i) => i + 1));
      assert.equal(uids[uids.length - 1], last.uids[0]);
      const byUid = new Map(msgs.map((m) => [m.uid, m]));
      for (const [uid, blobId] of acknowledged) {
        const m = byUid.get(uid);
        assert.ok(m, `acknowledged uid ${uid} lost`);
        assert.equal(m.blobId, blobId);
        assert.deepEqual(m.flags, ['\\Flagged']);
        const bytes = await survivor.readBlob(m.blobId, 0, m.size);
        assert.equal(createHash('sha256').update(bytes).digest('hex'), blobId, `bytes of uid ${uid} intact`);
      }
      for (const uid of survivorUids) assert.ok(byUid.has(uid), `survivor's uid ${uid} lost`);
      // The dead node's MULTIAPPENDs are all or nothing: its messages (flagged) come in whole batches of 3.
      assert.equal(msgs.filter((m) => m.flags.includes('\\Flagged')).length % 3, 0);
      const status = await survivor.mailboxStatus(inbox.id);
      assert.equal(status.messages, msgs.length);
      assert.equal(status.uidNext, last.uids[0]! + 1);
      // GC (no grace) removes the dead node's unfinished upload and unappended blobs, never committed data.
      const q = async (sql: string) => (await survivor.pool.query<{ n: number }>(sql)).rows[0]!.n;
      assert.ok((await q('SELECT count(*)::int AS n FROM blob_uploads')) >= 1, 'the dead node left an upload');
      await survivor.collectGarbage();
      assert.equal(await q('SELECT count(*)::int AS n FROM blob_uploads'), 0);
      assert.equal(await q('SELECT count(*)::int AS n FROM blob_chunks c WHERE NOT EXISTS (SELECT 1 FROM blobs b WHERE b.upload_id = c.upload_id)'), 0);
      assert.equal(await q('SELECT count(*)::int AS n FROM blobs WHERE refcount = 0'), 0);
      for (const [uid, blobId] of acknowledged) {
        assert.equal((await survivor.readBlob(blobId, 0, 9)).toString(), 'Subject: ', `uid ${uid} after GC`);
      }
    } finally {
      await survivor.close();
    }
  });
});

describe('PostgresStore specifics', () => {
  it('migrates once, records the schema version and reopens with everything kept', async () => {
    const db = await freshDatabase();
    try {
      // Two nodes opening a new database at the same moment: one migrates, the other waits and sees it done.
      const [s1, s2] = await Promise.all([openPostgresStore(db.url, { gcIntervalMs: 0 }), openPostgresStore(db.url, { gcIntervalMs: 0 })]);
      const user = await provisionUser(s1, 'u', 'h');
      const inbox = (await s1.getMailbox(user.id, 'INBOX'))!;
      const p = await s2.prepare(Buffer.from('Subject: persist\r\n\r\nbody\r\n'));
      await s2.append(inbox.id, [{ message: p, flags: ['\\Seen', 'Kw'] }]);
      await s1.close();
      await s2.close();
      const client = new pg.Client({ connectionString: db.url });
      await client.connect();
      try {
        const v = await client.query<{ version: number }>('SELECT version FROM schema_version');
        assert.deepEqual(v.rows, [{ version: PG_MIGRATIONS.length }]);
      } finally {
        await client.end();
      }
      const s3 = await openPostgresStore(db.url, { gcIntervalMs: 0 });
      try {
        const msgs = await s3.listMessages(inbox.id);
        assert.deepEqual(msgs.map((m) => m.flags), [['\\Seen', 'Kw']]);
        assert.equal((await s3.readBlob(p.blobId, 0, 8)).toString(), 'Subject:');
        const again = await s3.createMailbox(user.id, 'New');
        assert.ok(again.uidValidity > inbox.uidValidity);
      } finally {
        await s3.close();
      }
    } finally {
      await db.drop();
    }
  });

  it('refuses a database whose schema is newer than the program', async () => {
    const db = await freshDatabase();
    try {
      const s = await openPostgresStore(db.url, { gcIntervalMs: 0 });
      await s.close();
      const client = new pg.Client({ connectionString: db.url });
      await client.connect();
      await client.query('UPDATE schema_version SET version = version + 1');
      await client.end();
      await assert.rejects(openPostgresStore(db.url, { gcIntervalMs: 0 }), /newer than this program/);
    } finally {
      await db.drop();
    }
  });

  it('keeps large messages in chunk rows and reads ranges across chunk boundaries', async () => {
    const url = await emptyDatabase();
    const store: PostgresStore = await openPostgresStore(url, { gcIntervalMs: 0 });
    try {
      const body = Buffer.alloc(700_000);
      for (let i = 0; i < body.length; i++) body[i] = 33 + ((i * 7) % 90);
      const data = Buffer.concat([Buffer.from('Subject: big\r\n\r\n'), body]);
      const w = store.beginIngest();
      for (let i = 0; i < data.length; i += 100_000) await w.write(data.subarray(i, i + 100_000));
      const p = await w.finish();
      const chunks = await store.pool.query<{ n: number; total: number }>(
        'SELECT count(*)::int AS n, sum(length(data))::int AS total FROM blob_chunks c JOIN blobs b ON b.upload_id = c.upload_id WHERE b.id = $1',
        [p.blobId],
      );
      assert.deepEqual(chunks.rows[0], { n: 3, total: data.length });
      for (const [s, e] of [
        [0, 10],
        [262_100, 262_200],
        [262_144, 262_145],
        [100, 600_000],
        [524_287, 524_289],
        [data.length - 5, data.length + 5],
      ] as Array<[number, number]>) {
        assert.deepEqual(await store.readBlob(p.blobId, s, e), data.subarray(s, e), `range ${s}-${e}`);
      }
      // Same content again: the second upload is dropped, the first kept.
      const again = await store.prepare(data);
      assert.equal(again.blobId, p.blobId);
      const uploads = await store.pool.query('SELECT DISTINCT upload_id FROM blob_chunks');
      assert.equal(uploads.rowCount, 1);
      const left = await store.pool.query('SELECT count(*)::int AS n FROM blob_uploads');
      assert.equal(left.rows[0].n, 0);
    } finally {
      await store.close();
    }
  });

  it('collects uploads abandoned by a crashed node after the grace period', async () => {
    const url = await emptyDatabase();
    const store = await openPostgresStore(url, { gcIntervalMs: 0, gcGraceMs: 0 });
    try {
      // A node died while streaming: its upload row and chunk are still there.
      const up = await store.pool.query<{ id: number }>('INSERT INTO blob_uploads (started_at) VALUES (0) RETURNING id');
      await store.pool.query('INSERT INTO blob_chunks (upload_id, seq, data) VALUES ($1, 0, $2)', [up.rows[0]!.id, Buffer.from('partial')]);
      await store.collectGarbage();
      assert.equal((await store.pool.query('SELECT 1 FROM blob_chunks')).rowCount, 0);
      assert.equal((await store.pool.query('SELECT 1 FROM blob_uploads')).rowCount, 0);
    } finally {
      await store.close();
    }
  });
});

describe('PostgresStore threading and tombstone retention', () => {
  function mail(headers: Record<string, string>): Buffer {
    const lines = Object.entries(headers).map(([k, v]) => `${k}: ${v}`);
    return Buffer.from(`From: a@example.com\r\n${lines.join('\r\n')}\r\n\r\nbody\r\n`);
  }

  async function put(store: PostgresStore, mailboxId: number, headers: Record<string, string>): Promise<string | null> {
    const res = await store.append(mailboxId, [{ message: await store.prepare(mail(headers)), flags: [] }]);
    const [rec] = await store.getMessages(mailboxId, res.uids);
    return rec!.threadId;
  }

  it('assigns THREADIDs like the embedded store: replies join, across mailboxes and nodes; per user', async () => {
    const url = await emptyDatabase();
    const a = await openPostgresStore(url, { gcIntervalMs: 0 });
    const b = await openPostgresStore(url, { gcIntervalMs: 0, blobDir: await fsp.mkdtemp(join(tmpdir(), 'petrel-pgthr-')) });
    try {
      const user = await a.createUser('t', 'x');
      const inbox = await a.createMailbox(user.id, 'INBOX');
      const sent = await a.createMailbox(user.id, 'Sent');
      const ta = await put(a, inbox.id, { 'Message-ID': '<a@x>', Subject: 'Message A' });
      const tb = await put(b, sent.id, { 'Message-ID': '<b@x>', Subject: 'Re: Message A', References: '<a@x>' });
      const tc = await put(a, inbox.id, { 'Message-ID': '<c@x>', Subject: 'Message C' });
      const td = await put(b, inbox.id, { 'Message-ID': '<d@x>', Subject: 'Re: Re: Message A', 'In-Reply-To': '<b@x>' });
      assert.ok(ta && /^T[A-Za-z0-9_-]+$/.test(ta), String(ta));
      assert.equal(tb, ta);
      assert.equal(td, ta);
      assert.notEqual(tc, ta);
      // A child before its parent: the parent joins the child's thread.
      const child = await put(a, inbox.id, { 'Message-ID': '<late-child@x>', References: '<late-root@x>', Subject: 'Re: Late' });
      assert.equal(await put(b, inbox.id, { 'Message-ID': '<late-root@x>', Subject: 'Late' }), child);
      // A bare reply falls back to the base subject; a non-reply with it starts a new thread.
      assert.equal(await put(a, inbox.id, { 'Message-ID': '<bare@x>', Subject: 'RE: message c' }), tc);
      assert.notEqual(await put(a, inbox.id, { 'Message-ID': '<again@x>', Subject: 'Message C' }), tc);
      // In one MULTIAPPEND, a later message sees the earlier one's thread.
      const r = await a.append(inbox.id, [
        { message: await a.prepare(mail({ 'Message-ID': '<m1@x>', Subject: 'Multi' })), flags: [] },
        { message: await a.prepare(mail({ 'Message-ID': '<m2@x>', Subject: 'Re: Multi', References: '<m1@x>' })), flags: [] },
      ]);
      const [m1, m2] = await a.getMessages(inbox.id, r.uids);
      assert.equal(m2!.threadId, m1!.threadId);
      // Two nodes appending replies to a thread nobody has seen yet, at once: one thread.
      const [x, y] = await Promise.all([
        put(a, inbox.id, { 'Message-ID': '<r1@x>', Subject: 'Re: Q', References: '<q@x>' }),
        put(b, sent.id, { 'Message-ID': '<r2@x>', Subject: 'Re: Q', References: '<q@x>' }),
      ]);
      assert.equal(x, y);
      // Copies keep the THREADID; another user with the same ids is threaded apart.
      const copy = await a.copyMessages(inbox.id, r.uids, sent.id);
      const [c1] = await b.getMessages(sent.id, [copy.mapping[0]![1]]);
      assert.equal(c1!.threadId, m1!.threadId);
      const other = await b.createUser('u', 'x');
      const oInbox = await b.createMailbox(other.id, 'INBOX');
      assert.notEqual(await put(b, oInbox.id, { 'Message-ID': '<b2@x>', References: '<a@x>', Subject: 'Re: Message A' }), ta);
      await a.deleteUser('u');
    } finally {
      await a.close();
      await fsp.rm(b.fileBlobs!.dataDir, { recursive: true, force: true });
      await b.close();
    }
  });

  it('collectGarbage prunes tombstones beyond the per-mailbox cap, keeping young ones; then truncated', async () => {
    for (const [policy, expectTruncated] of [
      [{ maxPerMailbox: 2, minAgeMs: 0 }, true],
      [{ maxPerMailbox: 1 }, false],
    ] as const) {
      const store = await openPostgresStore(await emptyDatabase(), { gcIntervalMs: 0, tombstonePolicy: policy });
      try {
        const user = await store.createUser('t', 'x');
        const box = await store.createMailbox(user.id, 'INBOX');
        const msg = await store.prepare(mail({ Subject: 'x' }));
        const res = await store.append(box.id, Array.from({ length: 6 }, () => ({ message: msg, flags: ['\\Deleted'] })));
        const before = (await store.getMailboxById(box.id))!.highestModSeq;
        for (const uid of res.uids) await store.expunge(box.id, [uid]);
        await store.collectGarbage();
        const full = await store.changesSince(box.id, before);
        assert.equal(full.truncated, expectTruncated);
        if (expectTruncated) {
          // Cap 2, no minimum age: the four oldest expunges go.
          assert.deepEqual(full.expunged, res.uids.slice(4));
          const recent = await store.changesSince(box.id, before + 4);
          assert.equal(recent.truncated, false);
          assert.deepEqual(recent.expunged, res.uids.slice(4));
        } else {
          // Default minimum age (1 day): nothing this young is pruned, whatever the cap.
          assert.deepEqual(full.expunged, res.uids);
        }
      } finally {
        await store.close();
      }
    }
  });
});

describe('PgChangeBus', () => {
  it('reconnects after losing its listening connection, pokes every watcher once, and hears other nodes again', async () => {
    const url = await emptyDatabase();
    const errors: unknown[] = [];
    const a = await openPostgresStore(url, { gcIntervalMs: 0, onBackgroundError: (e) => errors.push(e) });
    const b = await openPostgresStore(url, { gcIntervalMs: 0 });
    try {
      const user = await provisionUser(a, 'alice', 'h');
      const inbox = (await a.getMailbox(user.id, 'INBOX'))!;
      const events: ChangeEvent[] = [];
      const stop = a.watchMailbox(inbox.id, (e) => events.push(e));
      // The database ends node A's listening session (as a failover or an idle-session timeout would).
      const resync = nextEvent((l) => a.watchMailbox(inbox.id, l), (e) => e.modSeq === 0);
      await b.pool.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query ILIKE 'LISTEN %' AND pid <> pg_backend_pid()`);
      const poke = await resync;
      assert.deepEqual(poke, { mailboxId: inbox.id, userId: 0, modSeq: 0 }, 'a resync poke: re-read the change log');
      const heard = nextEvent((l) => a.watchMailbox(inbox.id, l), (e) => e.modSeq > 0);
      const r = await b.append(inbox.id, [{ message: await b.prepare(message(9)), flags: [] }]);
      assert.equal((await heard).modSeq, r.modSeq);
      stop();
      assert.ok(events.some((e) => e.modSeq === r.modSeq));
      assert.ok(errors.length >= 1, 'the lost connection was reported');
    } finally {
      await a.close();
      await b.close();
    }
  });
});
