// SQLite specifics of partial messages (docs/sync.md "Partial messages"): replaceContent keeps the
// listMessages cache of a large mailbox right (no new mod-sequence tells the cache that a row's blob
// changed), the full-text index covers the new content, and a reopened store sees the replacement.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { isPartial } from '../../src/mime/partial.js';
import { fold } from '../../src/mime/search-text.js';
import { provisionUser } from '../../src/store/provision.js';
import { openSqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import { makePartial, SAMPLE } from '../server/partial-helpers.js';

test('replaceContent: the listMessages cache, the search index and a reopened store see the full content', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'petrel-partial-store-'));
  try {
    let store = await openSqliteStore(dir, { listCacheMinMessages: 1, gcIntervalMs: 0 });
    const user = await provisionUser(store, 'alice', 'hash');
    const inbox = (await store.getMailbox(user.id, 'INBOX'))!;
    const partial = makePartial(SAMPLE, ['1']);
    assert.ok(isPartial(partial.mime));
    const p = await store.preparePartial(partial.bytes, partial.mime, SAMPLE.length);
    await store.append(inbox.id, [{ message: p, flags: ['\\Seen'] }]);
    const [cached] = await store.listMessages(inbox.id); // fills the cache
    assert.equal(cached!.blobId, p.blobId);
    assert.equal(cached!.size, SAMPLE.length);
    // The forwarded part (3) was not downloaded: the index does not offer its text.
    assert.deepEqual(await store.searchTextCandidates(inbox.id, 'body', fold('walrus')), []);
    assert.deepEqual(await store.searchTextCandidates(inbox.id, 'body', fold('figures')), [1]);

    const whole = await store.prepare(SAMPLE);
    await store.replaceContent(inbox.id, 1, whole);
    const [listed] = await store.listMessages(inbox.id);
    assert.equal(listed!.blobId, whole.blobId, 'the cached row follows the new content');
    assert.deepEqual(listed!.flags, ['\\Seen']);
    assert.equal(listed!.modSeq, cached!.modSeq);
    assert.deepEqual(await store.searchTextCandidates(inbox.id, 'body', fold('walrus')), [1]);

    await store.close();
    store = await openSqliteStore(dir, { gcIntervalMs: 0 });
    const [rec] = await store.getMessages(inbox.id, [1]);
    assert.equal(rec!.blobId, whole.blobId);
    assert.equal(isPartial(rec!.mime), false);
    assert.deepEqual(await store.readBlob(rec!.blobId, 0, 1e9), SAMPLE);
    await store.close();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
