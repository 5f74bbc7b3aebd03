// The SQLite store: the shared conformance suite plus what only this backend can show — files on
// disk, reopening, kill -9 durability (an APPEND answered OK survives), GC of orphan and temp files,
// tombstone pruning (RFC 7162 §3.2.5.1: `truncated`).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import * as fsp from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { storeConformanceSuite } from '../../src/store/conformance/store-conformance.js';
import { provisionUser } from '../../src/store/provision.js';
import { openSqliteStore, type SqliteStoreOptions } from '../../src/store/sqlite/sqlite-store.js';
import { StoreError } from '../../src/store/types.js';

async function tempDir(): Promise<string> {
  return fsp.mkdtemp(join(tmpdir(), 'petrel-store-'));
}

async function withDir<T>(fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = await tempDir();
  try {
    return await fn(dir);
  } finally {
    await fsp.rm(dir, { recursive: true, force: true });
  }
}

storeConformanceSuite('sqlite', async () => {
  const dir = await tempDir();
  const store = await openSqliteStore(dir);
  return {
    store,
    async cleanup() {
      await store.close();
      await fsp.rm(dir, { recursive: true, force: true });
    },
  };
});

describe('SqliteStore specifics', () => {
  async function open(dir: string, opts?: SqliteStoreOptions) {
    const store = await openSqliteStore(dir, opts);
    const user = (await store.getUser('u')) ?? (await provisionUser(store, 'u', 'h'));
    const inbox = (await store.getMailbox(user.id, 'INBOX'))!;
    return { store, user, inbox };
  }

  it('stores blobs content-addressed under blobs/ab/cdef… and leaves no temp files', async () => {
    await withDir(async (dir) => {
      const { store } = await open(dir);
      const p = await store.prepare(Buffer.from('Subject: x\r\n\r\nhello\r\n'));
      assert.match(p.blobId, /^[0-9a-f]{64}$/);
      const path = join(dir, 'blobs', p.blobId.slice(0, 2), p.blobId.slice(2));
      assert.equal((await fsp.readFile(path)).toString(), 'Subject: x\r\n\r\nhello\r\n');
      const again = await store.prepare(Buffer.from('Subject: x\r\n\r\nhello\r\n'));
      assert.equal(again.blobId, p.blobId);
      const w = store.beginIngest();
      await w.write(Buffer.from('Subject: aborted\r\n\r\n'));
      await w.abort();
      assert.deepEqual(await fsp.readdir(join(dir, 'tmp')), []);
      await store.close();
    });
  });

  it('keeps everything across close and reopen; UIDVALIDITY keeps counting', async () => {
    await withDir(async (dir) => {
      const a = await open(dir);
      const p = await a.store.prepare(Buffer.from('Subject: persist\r\n\r\nbody\r\n'));
      await a.store.append(a.inbox.id, [{ message: p, flags: ['\\Seen', 'Kw'] }]);
      const x = await a.store.createMailbox(a.user.id, 'X');
      await a.store.deleteMailbox(a.user.id, 'X');
      await a.store.close();
      const b = await open(dir);
      const msgs = await b.store.listMessages(b.inbox.id);
      assert.equal(msgs.length, 1);
      assert.deepEqual(msgs[0]?.flags, ['\\Seen', 'Kw']);
      assert.equal((await b.store.readBlob(p.blobId, 0, 8)).toString(), 'Subject:');
      const x2 = await b.store.createMailbox(b.user.id, 'X');
      assert.ok(x2.uidValidity > x.uidValidity);
      assert.notEqual(x2.objectId, x.objectId);
      await b.store.close();
    });
  });

  it('removes orphan blob files and stale temp files after the grace period', async () => {
    await withDir(async (dir) => {
      const { store, inbox } = await open(dir, { gcGraceMs: 0 });
      const orphan = await store.prepare(Buffer.from('Subject: orphan\r\n\r\nnever appended\r\n'));
      const kept = await store.prepare(Buffer.from('Subject: kept\r\n\r\nappended\r\n'));
      await store.append(inbox.id, [{ message: kept, flags: [] }]);
      const stale = join(dir, 'tmp', 'crashed-writer.tmp');
      await fsp.writeFile(stale, 'partial');
      const past = new Date(Date.now() - 60_000);
      await fsp.utimes(stale, past, past);
      await fsp.utimes(join(dir, 'blobs', orphan.blobId.slice(0, 2), orphan.blobId.slice(2)), past, past);
      const gc = await store.collectGarbage();
      assert.equal(gc.removedBlobs, 1);
      assert.equal(existsSync(stale), false);
      await assert.rejects(store.readBlob(orphan.blobId, 0, 1), (e: unknown) => e instanceof StoreError && e.code === 'NONEXISTENT');
      assert.equal((await store.readBlob(kept.blobId, 0, 8)).toString(), 'Subject:');
      // Appending a prepared message whose file GC removed fails cleanly instead of committing a hole.
      await assert.rejects(store.append(inbox.id, [{ message: orphan, flags: [] }]), (e: unknown) => e instanceof StoreError);
      assert.equal((await store.listMessages(inbox.id)).length, 1);
      await store.close();
    });
  });

  it('collects garbage in the background when asked to', async () => {
    await withDir(async (dir) => {
      // A short grace, not zero: with none, a run of the background GC between prepare() and append()
      // may take the just-written blob (it is unreferenced until the append), as CI once saw.
      const { store, inbox } = await open(dir, { gcGraceMs: 300, gcIntervalMs: 20 });
      const p = await store.prepare(Buffer.from('Subject: bg\r\n\r\nbody\r\n'));
      await store.append(inbox.id, [{ message: p, flags: ['\\Deleted'] }]);
      await store.expunge(inbox.id);
      let gone = false;
      for (let i = 0; i < 500 && !gone; i++) {
        await new Promise((r) => setTimeout(r, 20));
        gone = !existsSync(join(dir, 'blobs', p.blobId.slice(0, 2), p.blobId.slice(2)));
      }
      assert.ok(gone, 'background GC never removed the unreferenced blob');
      await store.close();
    });
  });

  it('keeps orphans younger than the grace period', async () => {
    await withDir(async (dir) => {
      const { store } = await open(dir, { gcGraceMs: 60 * 60 * 1000 });
      const fresh = await store.prepare(Buffer.from('Subject: fresh\r\n\r\nx\r\n'));
      assert.equal((await store.collectGarbage()).removedBlobs, 0);
      assert.equal((await store.readBlob(fresh.blobId, 0, 8)).toString(), 'Subject:');
      await store.close();
    });
  });

  it('listMessages from its cache equals a fresh read, also after writes by another store instance', async () => {
    await withDir(async (dir) => {
      const a = await open(dir, { listCacheMinMessages: 1 });
      const b = await openSqliteStore(dir, { listCacheMinMessages: Number.MAX_SAFE_INTEGER });
      const other = await a.store.createMailbox(a.user.id, 'Other');
      let seed = 12345;
      const rnd = (n: number) => {
        seed = (seed * 1103515245 + 12345) % 2147483648;
        return seed % n;
      };
      const blobs = [];
      for (let i = 0; i < 8; i++) blobs.push(await a.store.prepare(Buffer.from(`Subject: ${i}\r\n\r\nbody\r\n`)));
      const flagPool = ['\\Seen', '\\Deleted', '\\Flagged', 'Work', '$Junk'];
      for (let step = 0; step < 150; step++) {
        const writer = rnd(2) === 0 ? a.store : b;
        const box = rnd(4) === 0 ? other.id : a.inbox.id;
        const live = (await b.listMessages(box)).map((m) => m.uid);
        const pick = () => live.filter(() => rnd(3) === 0);
        switch (rnd(6)) {
          case 0:
          case 1: {
            const n = 1 + rnd(3);
            const items = [];
            for (let i = 0; i < n; i++) items.push({ message: blobs[rnd(blobs.length)]!, flags: [flagPool[rnd(5)]!] });
            await writer.append(box, items);
            break;
          }
          case 2:
            await writer.storeFlags(box, pick(), (['add', 'remove', 'set'] as const)[rnd(3)]!, [flagPool[rnd(5)]!]);
            break;
          case 3:
            await writer.expunge(box);
            break;
          case 4:
            await writer.moveMessages(box, pick(), box === other.id ? a.inbox.id : other.id);
            break;
          case 5:
            if (rnd(4) === 0) await a.store.pruneTombstones(box, (await b.getMailboxById(box))!.highestModSeq - rnd(3));
            else await writer.copyMessages(box, pick(), box === other.id ? a.inbox.id : other.id);
            break;
        }
        for (const id of [a.inbox.id, other.id]) {
          assert.deepEqual(await a.store.listMessages(id), await b.listMessages(id), `step ${step}`);
        }
      }
      assert.ok((await b.listMessages(a.inbox.id)).length > 0);
      await b.close();
      await a.store.close();
    });
  });

  it('reports truncated after tombstones are pruned', async () => {
    await withDir(async (dir) => {
      const { store, inbox } = await open(dir);
      const items = [];
      for (let i = 0; i < 4; i++) {
        items.push({ message: await store.prepare(Buffer.from(`Subject: ${i}\r\n\r\n.\r\n`)), flags: ['\\Deleted'] });
      }
      await store.append(inbox.id, items.slice(0, 2));
      const m1 = (await store.getMailboxById(inbox.id))!.highestModSeq;
      await store.expunge(inbox.id);
      const m2 = (await store.getMailboxById(inbox.id))!.highestModSeq;
      await store.append(inbox.id, items.slice(2));
      await store.expunge(inbox.id);
      assert.equal(await store.pruneTombstones(inbox.id, m2), 2);
      const old = await store.changesSince(inbox.id, m1);
      assert.equal(old.truncated, true);
      assert.deepEqual(old.expunged, [3, 4]);
      const recent = await store.changesSince(inbox.id, m2);
      assert.equal(recent.truncated, false);
      assert.deepEqual(recent.expunged, [3, 4]);
      await store.close();
    });
  });

  it('an append answered OK survives kill -9', async () => {
    await withDir(async (dir) => {
      const child = fileURLToPath(new URL('./durability-child.js', import.meta.url));
      const proc = spawn(process.execPath, [child, dir, 'loop'], { stdio: ['ignore', 'pipe', 'inherit'] });
      const exited = new Promise<void>((resolve) => proc.on('exit', () => resolve()));
      const acknowledged: Array<{ uid: number; blobId: string }> = [];
      const lines = createInterface({ input: proc.stdout! });
      for await (const line of lines) {
        const m = /^OK (\d+) ([0-9a-f]{64})$/.exec(line);
        assert.ok(m, `unexpected child output ${line}`);
        acknowledged.push({ uid: Number(m[1]), blobId: m[2]! });
        if (acknowledged.length === 5) {
          proc.kill('SIGKILL');
          break;
        }
      }
      lines.close();
      await exited;
      assert.equal(acknowledged.length, 5);
      // GC right after the crash (no grace) clears the dead writer's leftovers, never committed data.
      const store = await openSqliteStore(dir, { gcGraceMs: 0 });
      await store.collectGarbage();
      assert.deepEqual(await fsp.readdir(join(dir, 'tmp')), []);
      const user = (await store.getUser('durable'))!;
      const inbox = (await store.getMailbox(user.id, 'INBOX'))!;
      const byUid = new Map((await store.listMessages(inbox.id)).map((m) => [m.uid, m]));
      for (const ack of acknowledged) {
        const m = byUid.get(ack.uid);
        assert.ok(m, `acknowledged uid ${ack.uid} lost`);
        assert.equal(m.blobId, ack.blobId);
        assert.deepEqual(m.flags, ['\\Flagged']);
        const bytes = await store.readBlob(m.blobId, 0, m.size);
        assert.equal(bytes.length, m.size);
        assert.match(bytes.toString(), new RegExp(`^Subject: durable ${ack.uid}\\r\\n`));
      }
      await store.close();
    });
  });
});
