// Store tools on a replica (docs/sync.md "Partial messages"): petrel migrate keeps a partly downloaded
// message's synthetic bytes, index (BODYSTRUCTURE, sizes) and full RFC822.SIZE, so it can still be
// completed on demand in the target; petrel export leaves such messages out (and says so) rather than
// writing bytes that are not the message.
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { buildPartialMessage, isPartial } from '../../src/mime/partial.js';
import { migrateStore, type MigrateProgress } from '../../src/store/migrate.js';
import { openSqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import { petrel } from '../cli/serve-process.js';

test('a partial message migrates as a partial message', async () => {
  const a = await mkdtemp(join(tmpdir(), 'petrel-mig-a-'));
  const b = await mkdtemp(join(tmpdir(), 'petrel-mig-b-'));
  const source = await openSqliteStore(a);
  const target = await openSqliteStore(b);
  try {
    const user = await source.createUser('ann', 'x');
    const inbox = await source.createMailbox(user.id, 'INBOX');
    const header = Buffer.from('Subject: report\r\nContent-Type: multipart/mixed; boundary=x\r\n\r\n');
    const text = Buffer.from('See the attachment.\r\n');
    const built = buildPartialMessage({
      header,
      size: 50_000,
      structure: {
        part: '',
        type: 'multipart',
        subtype: 'mixed',
        parameters: { boundary: 'x' },
        children: [
          { part: '1', type: 'text', subtype: 'plain', parameters: { charset: 'us-ascii' }, encoding: '7bit', size: text.length, lines: 1 },
          { part: '2', type: 'application', subtype: 'pdf', parameters: {}, encoding: 'base64', size: 49_000 },
        ],
      },
      parts: new Map([['1', text]]),
    });
    const prepared = await source.preparePartial(built.bytes, built.mime, 50_000);
    await source.append(inbox.id, [{ message: prepared, flags: ['\\Seen'] }]);

    let saved: MigrateProgress | null = null;
    const report = await migrateStore({
      source,
      target,
      sourceName: a,
      progress: { load: async () => saved, save: async (p) => void (saved = p) },
    });
    assert.deepEqual(report.mismatches, []);
    const tu = (await target.getUser('ann'))!;
    const tinbox = (await target.getMailbox(tu.id, 'INBOX'))!;
    const [m] = await target.getMessages(tinbox.id, [1]);
    assert.ok(m);
    assert.equal(m.size, 50_000);
    assert.ok(isPartial(m.mime), 'still partial in the target');
    assert.deepEqual(m.mime, built.mime);
    assert.ok((await target.readBlob(m.blobId, 0, m.size)).equals(built.bytes));

    // Export: the complete message is written, the partial one is left out with a note.
    await source.append(inbox.id, [{ message: await source.prepare(Buffer.from('Subject: whole\r\n\r\nall here\r\n')), flags: [] }]);
    await source.close();
    const out = join(b, 'out.mbox');
    const r = await petrel(['export', '--data', a, '--user', 'ann', '--mbox', out, '--mailbox', 'INBOX']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout + r.stderr, /1 partly downloaded messages of this replica were left out/);
    const mbox = await readFile(out, 'latin1');
    assert.match(mbox, /Subject: whole/);
    assert.doesNotMatch(mbox, /Subject: report/);
  } finally {
    await source.close().catch(() => undefined);
    await target.close();
    await rm(a, { recursive: true, force: true });
    await rm(b, { recursive: true, force: true });
  }
});
