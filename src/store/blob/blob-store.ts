// Content-addressed message bytes (ARCHITECTURE decision 9): `<dataDir>/blobs/ab/cdef…`, named by the
// hex SHA-256 of the content. Writing goes temp file → write (hashing as we go) → fsync → rename →
// fsync the directory, so a blob that a committed message refers to is always complete on disk.
// Ranged reads read only the requested octets (RFC 9051 §6.4.5 `<partial>`, BODY[section]).
// Reference counts live in the metadata database; this file only knows paths and bytes.
import { createHash, randomBytes, type Hash } from 'node:crypto';
import * as fs from 'node:fs';
import * as fsp from 'node:fs/promises';
import { join } from 'node:path';
import { StoreError } from '../types.js';

/** Size of the chunks streamBlob yields and of the write buffer. */
export const BLOB_CHUNK_SIZE = 64 * 1024;

const BLOB_ID = /^[0-9a-f]{64}$/;

/**
 * Runs `fn` while holding a lock that also excludes garbage collection, in every process sharing the
 * data directory (the SQLite store passes an IMMEDIATE transaction). `fn` must be synchronous.
 */
export type CriticalSection = <T>(fn: () => T) => T;

export interface WrittenBlob {
  blobId: string;
  size: number;
}

export interface BlobFileInfo {
  blobId: string;
  mtimeMs: number;
}

export function isBlobId(id: string): boolean {
  return BLOB_ID.test(id);
}

export class BlobStore {
  readonly blobDir: string;
  readonly tmpDir: string;
  /** Temp files being written by this process; GC never removes them. */
  private readonly openTemps = new Set<string>();
  private readonly knownDirs = new Set<string>();
  private critical: CriticalSection = (fn) => fn();

  constructor(readonly dataDir: string) {
    this.blobDir = join(dataDir, 'blobs');
    this.tmpDir = join(dataDir, 'tmp');
  }

  async init(): Promise<void> {
    await fsp.mkdir(this.blobDir, { recursive: true });
    await fsp.mkdir(this.tmpDir, { recursive: true });
  }

  /** Installs the lock used for placing blobs (see CriticalSection). */
  setCriticalSection(critical: CriticalSection): void {
    this.critical = critical;
  }

  pathOf(blobId: string): string {
    if (!isBlobId(blobId)) throw new StoreError('NONEXISTENT', `Invalid blob id ${JSON.stringify(blobId)}`);
    return join(this.blobDir, blobId.slice(0, 2), blobId.slice(2));
  }

  createWriter(): BlobWriter {
    return new BlobWriter(this);
  }

  /** Writes a whole buffer as a blob. */
  async write(data: Buffer): Promise<WrittenBlob> {
    const w = this.createWriter();
    try {
      await w.write(data);
      return await w.finish();
    } catch (err) {
      await w.abort();
      throw err;
    }
  }

  /**
   * Writes several whole buffers as blobs, durably, with less per-blob work than write() each: the temp
   * files are written and fsynced a few at a time, then all are moved to their addresses in ONE critical
   * section (one lock round instead of one per blob), then each distinct directory is fsynced once. Same
   * guarantee as write(): when this resolves every blob is complete on disk under its name. On failure
   * the temp files are removed (blobs already placed stay, as unreferenced files GC may collect).
   */
  async writeMany(datas: readonly Buffer[], concurrency = 8): Promise<WrittenBlob[]> {
    const out: WrittenBlob[] = datas.map((d) => ({ blobId: createHash('sha256').update(d).digest('hex'), size: d.length }));
    const temps = datas.map(() => this.newTempPath());
    try {
      let next = 0;
      const worker = async () => {
        while (next < datas.length) {
          const i = next++;
          const fh = await fsp.open(temps[i]!, 'wx', 0o600);
          try {
            const data = datas[i]!;
            let done = 0;
            while (done < data.length) done += (await fh.write(data, done, data.length - done)).bytesWritten;
            await fh.sync();
          } finally {
            await fh.close();
          }
        }
      };
      await Promise.all(Array.from({ length: Math.max(1, Math.min(concurrency, datas.length)) }, worker));
      const dirs = new Map<string, boolean>();
      for (const { blobId } of out) {
        const dir = join(this.blobDir, blobId.slice(0, 2));
        if (dirs.has(dir)) continue;
        let newDir = false;
        if (!this.knownDirs.has(dir)) {
          newDir = !fs.existsSync(dir);
          await fsp.mkdir(dir, { recursive: true });
          this.knownDirs.add(dir);
        }
        dirs.set(dir, newDir);
      }
      const renamedDirs = this.critical(() => {
        const touched = new Set<string>();
        out.forEach(({ blobId }, i) => {
          const final = this.pathOf(blobId);
          if (fs.existsSync(final)) {
            const now = new Date();
            fs.utimesSync(final, now, now);
            fs.unlinkSync(temps[i]!);
            return;
          }
          fs.renameSync(temps[i]!, final);
          touched.add(join(this.blobDir, blobId.slice(0, 2)));
        });
        return touched;
      });
      await Promise.all([...renamedDirs].map((d) => fsyncDir(d)));
      if ([...dirs.values()].some((created) => created)) await fsyncDir(this.blobDir);
      return out;
    } catch (err) {
      await Promise.all(temps.map((t) => fsp.unlink(t).catch(() => {})));
      throw err;
    } finally {
      for (const t of temps) this.releaseTemp(t);
    }
  }

  existsSync(blobId: string): boolean {
    return fs.existsSync(this.pathOf(blobId));
  }

  /** mtime of the blob file in ms, or null when it does not exist. */
  mtimeSync(blobId: string): number | null {
    try {
      return fs.statSync(this.pathOf(blobId)).mtimeMs;
    } catch (err) {
      if (isNotFound(err)) return null;
      throw err;
    }
  }

  /** Removes a blob file; true when it existed. Call only inside the critical section. */
  removeSync(blobId: string): boolean {
    try {
      fs.unlinkSync(this.pathOf(blobId));
      return true;
    } catch (err) {
      if (isNotFound(err)) return false;
      throw err;
    }
  }

  /** Reads [start, end) of a blob, clamped to its size, with positioned reads of just that range. */
  async read(blobId: string, start: number, end: number): Promise<Buffer> {
    const fh = await this.open(blobId);
    try {
      const size = (await fh.stat()).size;
      const [from, to] = clampRange(start, end, size);
      const out = Buffer.allocUnsafe(to - from);
      let done = 0;
      while (done < out.length) {
        const { bytesRead } = await fh.read(out, done, out.length - done, from + done);
        if (bytesRead === 0) throw new StoreError('CORRUPTION', `Blob ${blobId} is shorter than its size`);
        done += bytesRead;
      }
      return out;
    } finally {
      await fh.close();
    }
  }

  /** Yields [start, end) of a blob in chunks of BLOB_CHUNK_SIZE, reading only that range. */
  async *stream(blobId: string, start: number, end: number): AsyncGenerator<Buffer> {
    const fh = await this.open(blobId);
    try {
      const size = (await fh.stat()).size;
      const [from, to] = clampRange(start, end, size);
      let pos = from;
      while (pos < to) {
        const want = Math.min(BLOB_CHUNK_SIZE, to - pos);
        const buf = Buffer.allocUnsafe(want);
        const { bytesRead } = await fh.read(buf, 0, want, pos);
        if (bytesRead === 0) throw new StoreError('CORRUPTION', `Blob ${blobId} is shorter than its size`);
        pos += bytesRead;
        yield bytesRead === want ? buf : buf.subarray(0, bytesRead);
      }
    } finally {
      await fh.close();
    }
  }

  /** Every blob file on disk (for GC), with its mtime. Files with foreign names are skipped. */
  async *listFiles(): AsyncGenerator<BlobFileInfo> {
    let dirs: string[];
    try {
      dirs = await fsp.readdir(this.blobDir);
    } catch (err) {
      if (isNotFound(err)) return;
      throw err;
    }
    for (const d of dirs.sort()) {
      if (!/^[0-9a-f]{2}$/.test(d)) continue;
      let names: string[];
      try {
        names = await fsp.readdir(join(this.blobDir, d));
      } catch (err) {
        if (isNotFound(err) || (err as NodeJS.ErrnoException).code === 'ENOTDIR') continue;
        throw err;
      }
      for (const name of names) {
        const blobId = d + name;
        if (!isBlobId(blobId)) continue;
        try {
          const st = await fsp.stat(join(this.blobDir, d, name));
          yield { blobId, mtimeMs: st.mtimeMs };
        } catch (err) {
          if (!isNotFound(err)) throw err;
        }
      }
    }
  }

  /** Removes temp files (left by crashes or abandoned writers) last modified before `olderThan`. */
  async cleanTemp(olderThan: number): Promise<number> {
    let removed = 0;
    let names: string[];
    try {
      names = await fsp.readdir(this.tmpDir);
    } catch (err) {
      if (isNotFound(err)) return 0;
      throw err;
    }
    for (const name of names) {
      const p = join(this.tmpDir, name);
      if (this.openTemps.has(p)) continue;
      try {
        const st = await fsp.stat(p);
        if (!st.isFile() || st.mtimeMs >= olderThan) continue;
        await fsp.unlink(p);
        removed++;
      } catch (err) {
        if (!isNotFound(err)) throw err;
      }
    }
    return removed;
  }

  // --- used by BlobWriter

  /** @internal */
  newTempPath(): string {
    const p = join(this.tmpDir, `${process.pid}-${randomBytes(12).toString('hex')}.tmp`);
    this.openTemps.add(p);
    return p;
  }

  /** @internal */
  releaseTemp(path: string): void {
    this.openTemps.delete(path);
  }

  /**
   * Moves a complete, fsynced temp file to its content address. If the blob already exists the temp
   * file is dropped and the existing file's mtime refreshed, which tells GC that the blob was just
   * prepared (see SqliteStore.collectGarbage). The directory is fsynced so the rename is durable.
   * @internal
   */
  async place(tempPath: string, blobId: string): Promise<void> {
    const dir = join(this.blobDir, blobId.slice(0, 2));
    let newDir = false;
    if (!this.knownDirs.has(dir)) {
      newDir = !fs.existsSync(dir);
      await fsp.mkdir(dir, { recursive: true });
      this.knownDirs.add(dir);
    }
    const final = join(dir, blobId.slice(2));
    const renamed = this.critical(() => {
      if (fs.existsSync(final)) {
        const now = new Date();
        fs.utimesSync(final, now, now);
        fs.unlinkSync(tempPath);
        return false;
      }
      fs.renameSync(tempPath, final);
      return true;
    });
    if (renamed) {
      await fsyncDir(dir);
      if (newDir) await fsyncDir(this.blobDir);
    }
  }

  private async open(blobId: string): Promise<fsp.FileHandle> {
    try {
      return await fsp.open(this.pathOf(blobId), 'r');
    } catch (err) {
      if (isNotFound(err)) throw new StoreError('NONEXISTENT', `No blob ${blobId}`);
      throw err;
    }
  }
}

/**
 * Streams one blob to a temp file, hashing as it goes. Calls may be issued without awaiting the previous
 * one: they are applied in order. `write` resolves once the data is buffered or written (backpressure).
 */
export class BlobWriter {
  private readonly hash: Hash = createHash('sha256');
  private readonly tempPath: string;
  private readonly fh: Promise<fsp.FileHandle>;
  private chain: Promise<unknown> = Promise.resolve();
  private buffered: Buffer[] = [];
  private bufferedBytes = 0;
  private size = 0;
  private state: 'open' | 'finished' | 'aborted' = 'open';

  constructor(private readonly store: BlobStore) {
    this.tempPath = store.newTempPath();
    this.fh = fsp.open(this.tempPath, 'wx', 0o600);
    // Errors surface through write/finish; avoid an unhandled rejection in between.
    this.fh.catch(() => {});
  }

  /** Octets written so far. */
  get bytesWritten(): number {
    return this.size;
  }

  write(chunk: Buffer): Promise<void> {
    if (this.state !== 'open') return Promise.reject(new Error('BlobWriter: write after finish/abort'));
    if (chunk.length === 0) return this.chain.then(() => {});
    this.hash.update(chunk);
    this.size += chunk.length;
    this.buffered.push(chunk);
    this.bufferedBytes += chunk.length;
    if (this.bufferedBytes < BLOB_CHUNK_SIZE) return this.chain.then(() => {});
    return this.enqueue(() => this.flush());
  }

  async finish(): Promise<WrittenBlob> {
    if (this.state !== 'open') throw new Error('BlobWriter: finish after finish/abort');
    this.state = 'finished';
    try {
      await this.enqueue(async () => {
        await this.flush();
        const fh = await this.fh;
        await fh.sync();
        await fh.close();
      });
      const blobId = this.hash.digest('hex');
      await this.store.place(this.tempPath, blobId);
      return { blobId, size: this.size };
    } catch (err) {
      await this.removeTemp();
      throw err;
    } finally {
      this.store.releaseTemp(this.tempPath);
    }
  }

  async abort(): Promise<void> {
    if (this.state !== 'open') return;
    this.state = 'aborted';
    this.buffered = [];
    this.bufferedBytes = 0;
    await this.chain;
    await this.removeTemp();
    this.store.releaseTemp(this.tempPath);
  }

  private enqueue(fn: () => Promise<void>): Promise<void> {
    const next = this.chain.then(fn);
    this.chain = next.catch(() => {});
    // A failed write ends the writer: the temp file is dropped even if the caller never aborts.
    next.catch(() => this.abort());
    return next;
  }

  private async flush(): Promise<void> {
    if (this.bufferedBytes === 0) return;
    const data = this.buffered.length === 1 ? this.buffered[0]! : Buffer.concat(this.buffered, this.bufferedBytes);
    this.buffered = [];
    this.bufferedBytes = 0;
    const fh = await this.fh;
    let done = 0;
    while (done < data.length) {
      const { bytesWritten } = await fh.write(data, done, data.length - done);
      done += bytesWritten;
    }
  }

  private async removeTemp(): Promise<void> {
    try {
      const fh = await this.fh;
      await fh.close().catch(() => {});
    } catch {
      // never opened
    }
    await fsp.unlink(this.tempPath).catch(() => {});
  }
}

function clampRange(start: number, end: number, size: number): [number, number] {
  const from = Math.max(0, Math.min(Math.floor(start), size));
  const to = Math.max(from, Math.min(Math.floor(end), size));
  return [from, to];
}

async function fsyncDir(dir: string): Promise<void> {
  const fh = await fsp.open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

function isNotFound(err: unknown): boolean {
  return (err as NodeJS.ErrnoException | null)?.code === 'ENOENT';
}
