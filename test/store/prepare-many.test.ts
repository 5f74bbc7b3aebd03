// Store.prepareMany (the sync's bulk download): the SQLite store ingests a batch of whole messages with
// the blob writes grouped (BlobStore.writeMany: temp files fsynced a few at a time, placed under one lock,
// each directory fsynced once). Same result as prepare() of each — blob id, size, MIME index — duplicates
// in a batch and blobs already stored included; every blob file is in place and no temp file is left.
import assert from 'node:assert/strict';
import * as fsp from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { openSqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import { corpus, generated, rng } from './search-corpus.js';

describe('SQLite store: prepareMany', () => {
  it('gives what prepare() gives for each message, places every blob, leaves no temp file', async () => {
    const dirMany = await fsp.mkdtemp(join(tmpdir(), 'petrel-many-'));
    const dirOne = await fsp.mkdtemp(join(tmpdir(), 'petrel-one-'));
    const many = await openSqliteStore(dirMany, { gcIntervalMs: 0 });
    const one = await openSqliteStore(dirOne, { gcIntervalMs: 0 });
    try {
      const r = rng(31);
      const fixtures = await corpus();
      const messages = [...fixtures.slice(0, 30), ...Array.from({ length: 40 }, (_, i) => generated(r, i))];
      messages.push(messages[3]!, messages[50]!); // the same content twice in one batch
      const first = await many.prepareMany(messages.slice(0, 10)); // some already stored before the batch
      const got = await many.prepareMany(messages);
      const want = [];
      for (const m of messages) want.push(await one.prepare(m));
      assert.deepEqual(got, want);
      assert.deepEqual(first, want.slice(0, 10));
      for (const p of got) {
        const bytes = await fsp.readFile(join(dirMany, 'blobs', p.blobId.slice(0, 2), p.blobId.slice(2)));
        assert.equal(bytes.length, p.size);
      }
      assert.deepEqual(await fsp.readdir(join(dirMany, 'tmp')), []);
      // Appendable like any prepared message.
      const user = await many.createUser('u', 'x');
      const box = await many.createMailbox(user.id, 'INBOX');
      const res = await many.append(box.id, got.map((message) => ({ message, flags: [] })));
      assert.equal(res.uids.length, messages.length);
      const [rec] = await many.getMessages(box.id, [res.uids[5]!]);
      assert.deepEqual(await many.readBlob(rec!.blobId, 0, rec!.size), messages[5]);
    } finally {
      await many.close();
      await one.close();
      await fsp.rm(dirMany, { recursive: true, force: true });
      await fsp.rm(dirOne, { recursive: true, force: true });
    }
  });
});
