// The one ingest path (ARCHITECTURE decision 3): message bytes are streamed once, into the blob
// writer (hashing, temp file, fsync, rename) and into the MIME indexer at the same time (decision 4:
// parse MIME once, at ingest). The result is a PreparedMessage that any mailbox can then append.
// RFC 3502 (MULTIAPPEND: several prepared messages commit in one transaction), RFC 9051 §6.3.12.
import { MimeIndexer } from '../mime/indexer.js';
import type { BlobStore } from './blob/blob-store.js';
import type { IngestWriter, PreparedMessage } from './types.js';

/** Starts streaming one message into `blobs` and the MIME indexer. */
export function beginIngest(blobs: BlobStore): IngestWriter {
  const writer = blobs.createWriter();
  const indexer = new MimeIndexer();
  let done = false;
  return {
    write(chunk: Buffer): Promise<void> {
      if (done) return Promise.reject(new Error('IngestWriter: write after finish/abort'));
      try {
        indexer.push(chunk);
      } catch (err) {
        done = true;
        return writer.abort().then(() => Promise.reject(err));
      }
      return writer.write(chunk);
    },
    async finish(): Promise<PreparedMessage> {
      if (done) throw new Error('IngestWriter: finish after finish/abort');
      done = true;
      let mime;
      try {
        mime = indexer.finish();
      } catch (err) {
        await writer.abort();
        throw err;
      }
      const { blobId, size } = await writer.finish();
      return { blobId, size, mime };
    },
    async abort(): Promise<void> {
      done = true;
      await writer.abort();
    },
  };
}

/** Ingests a whole buffer (small APPEND literals, tests, imports). */
export async function prepareBuffer(blobs: BlobStore, data: Buffer): Promise<PreparedMessage> {
  const w = beginIngest(blobs);
  try {
    await w.write(data);
    return await w.finish();
  } catch (err) {
    await w.abort();
    throw err;
  }
}

/**
 * Ingests several whole buffers (a batch of downloaded messages): each is indexed, then all are written
 * with BlobStore.writeMany (fsynced a few at a time, placed under one lock, each directory fsynced once).
 */
export async function prepareBuffers(blobs: BlobStore, datas: readonly Buffer[]): Promise<PreparedMessage[]> {
  const mimes = datas.map((d) => {
    const indexer = new MimeIndexer();
    indexer.push(d);
    return indexer.finish();
  });
  const written = await blobs.writeMany(datas);
  return written.map((w, i) => ({ blobId: w.blobId, size: w.size, mime: mimes[i]! }));
}
