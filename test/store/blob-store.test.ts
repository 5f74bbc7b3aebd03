// The content-addressed blob files (src/store/blob) and the change bus on their own.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import * as fsp from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { BlobStore, BLOB_CHUNK_SIZE, isBlobId } from '../../src/store/blob/blob-store.js';
import { LocalChangeBus } from '../../src/store/change-bus.js';
import { StoreError, type ChangeEvent } from '../../src/store/types.js';

async function withBlobs(fn: (blobs: BlobStore, dir: string) => Promise<void>): Promise<void> {
  const dir = await fsp.mkdtemp(join(tmpdir(), 'petrel-blobs-'));
  try {
    const blobs = new BlobStore(dir);
    await blobs.init();
    await fn(blobs, dir);
  } finally {
    await fsp.rm(dir, { recursive: true, force: true });
  }
}

function sha256(b: Buffer): string {
  return createHash('sha256').update(b).digest('hex');
}

describe('BlobStore', () => {
  it('names blobs by their SHA-256 and stores them at blobs/ab/cdef…', async () => {
    await withBlobs(async (blobs, dir) => {
      const data = Buffer.from('hello blob');
      const w = await blobs.write(data);
      assert.equal(w.blobId, sha256(data));
      assert.equal(w.size, data.length);
      assert.ok(isBlobId(w.blobId));
      assert.deepEqual(await fsp.readFile(join(dir, 'blobs', w.blobId.slice(0, 2), w.blobId.slice(2))), data);
      assert.equal(blobs.existsSync(w.blobId), true);
      assert.deepEqual(await fsp.readdir(join(dir, 'tmp')), []);
      const empty = await blobs.write(Buffer.alloc(0));
      assert.equal(empty.blobId, sha256(Buffer.alloc(0)));
      assert.equal((await blobs.read(empty.blobId, 0, 100)).length, 0);
    });
  });

  it('hashes streamed chunks in order, whatever their sizes', async () => {
    await withBlobs(async (blobs) => {
      const data = Buffer.alloc(3 * BLOB_CHUNK_SIZE + 123);
      for (let i = 0; i < data.length; i++) data[i] = (i * 7) & 0xff;
      const w = blobs.createWriter();
      const sizes = [1, 5000, BLOB_CHUNK_SIZE, 70_000, 1];
      let pos = 0;
      const pending: Promise<void>[] = [];
      for (let k = 0; pos < data.length; k++) {
        const n = sizes[k % sizes.length]!;
        pending.push(w.write(data.subarray(pos, pos + n)));
        pos += n;
      }
      await Promise.all(pending);
      assert.equal(w.bytesWritten, data.length);
      const r = await w.finish();
      assert.equal(r.blobId, sha256(data));
      assert.deepEqual(await blobs.read(r.blobId, 0, data.length), data);
      await assert.rejects(w.write(Buffer.from('late')));
    });
  });

  it('reads clamped ranges and streams only the range, in 64 KiB chunks', async () => {
    await withBlobs(async (blobs) => {
      const data = Buffer.alloc(200_000);
      for (let i = 0; i < data.length; i++) data[i] = i % 251;
      const { blobId } = await blobs.write(data);
      assert.deepEqual(await blobs.read(blobId, 100, 200), data.subarray(100, 200));
      assert.deepEqual(await blobs.read(blobId, -5, 3), data.subarray(0, 3));
      assert.deepEqual(await blobs.read(blobId, 199_990, 1e12), data.subarray(199_990));
      assert.equal((await blobs.read(blobId, 300, 200)).length, 0);
      const chunks: Buffer[] = [];
      for await (const c of blobs.stream(blobId, 10, 150_010)) chunks.push(c);
      assert.deepEqual(
        chunks.map((c) => c.length),
        [BLOB_CHUNK_SIZE, BLOB_CHUNK_SIZE, 150_000 - 2 * BLOB_CHUNK_SIZE],
      );
      assert.deepEqual(Buffer.concat(chunks), data.subarray(10, 150_010));
      await assert.rejects(blobs.read('ab'.repeat(32), 0, 1), (e: unknown) => e instanceof StoreError && e.code === 'NONEXISTENT');
      assert.throws(() => blobs.pathOf('../../etc/passwd'), StoreError);
    });
  });

  it('keeps the existing file when the same content is written again, refreshing its mtime', async () => {
    await withBlobs(async (blobs) => {
      const data = Buffer.from('same content');
      const first = await blobs.write(data);
      const past = new Date(Date.now() - 3_600_000);
      await fsp.utimes(blobs.pathOf(first.blobId), past, past);
      const before = blobs.mtimeSync(first.blobId)!;
      const second = await blobs.write(data);
      assert.equal(second.blobId, first.blobId);
      assert.ok(blobs.mtimeSync(first.blobId)! > before);
      assert.deepEqual(await fsp.readdir(blobs.tmpDir), []);
    });
  });

  it('aborting drops the temp file; cleanTemp spares temp files of writers still open', async () => {
    await withBlobs(async (blobs) => {
      const aborted = blobs.createWriter();
      await aborted.write(Buffer.alloc(100_000, 1));
      await aborted.abort();
      assert.deepEqual(await fsp.readdir(blobs.tmpDir), []);
      const open = blobs.createWriter();
      await open.write(Buffer.alloc(100_000, 2));
      await fsp.writeFile(join(blobs.tmpDir, 'stale.tmp'), 'x');
      assert.equal(await blobs.cleanTemp(Date.now() + 60_000), 1);
      assert.equal((await fsp.readdir(blobs.tmpDir)).length, 1, 'the open writer keeps its file');
      const r = await open.finish();
      assert.equal(r.size, 100_000);
      const listed = [];
      for await (const f of blobs.listFiles()) listed.push(f.blobId);
      assert.deepEqual(listed, [r.blobId]);
      assert.equal(blobs.removeSync(r.blobId), true);
      assert.equal(blobs.removeSync(r.blobId), false);
      assert.equal(blobs.mtimeSync(r.blobId), null);
    });
  });
});

describe('LocalChangeBus', () => {
  it('delivers to mailbox and user listeners, isolates throwing listeners, unsubscribes once', () => {
    const errors: unknown[] = [];
    const bus = new LocalChangeBus((e) => errors.push(e));
    const got: string[] = [];
    const e1: ChangeEvent = { mailboxId: 1, userId: 10, modSeq: 5 };
    const offA = bus.watchMailbox(1, () => {
      throw new Error('boom');
    });
    const offB = bus.watchMailbox(1, (e) => got.push(`m1:${e.modSeq}`));
    const offC = bus.watchMailbox(2, (e) => got.push(`m2:${e.modSeq}`));
    const offU = bus.watchUser(10, (e) => got.push(`u10:${e.mailboxId}`));
    bus.publish(e1);
    assert.deepEqual(got, ['m1:5', 'u10:1']);
    assert.equal(errors.length, 1);
    offB();
    offB();
    offU();
    bus.publish({ ...e1, modSeq: 6 });
    assert.deepEqual(got, ['m1:5', 'u10:1']);
    offA();
    offC();
    bus.close();
    bus.publish({ mailboxId: 2, userId: 10, modSeq: 1 });
    assert.deepEqual(got, ['m1:5', 'u10:1']);
  });
});
