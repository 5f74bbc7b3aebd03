// Short crash-consistency soak for CI (issue 7, item 2): 3 clients, 2 SIGKILLs of `petrel serve`, a second
// or so between kills; tools/lib/soak.ts checks acknowledged APPEND/COPY/MOVE/EXPUNGE/mailbox operations,
// UID and MODSEQ monotonicity, blob references and garbage collection after each restart. The negative
// controls show that the checkers do catch a missing blob and a lost message.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, unlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { checkBlobs, checkState, emptyStats, Model, runSoak } from '../../tools/lib/soak.js';
import { provision, SOAK_PASSWORD, SOAK_USER, startChildServer } from '../../tools/lib/child-server.js';
import { ImapTestClient } from '../helpers/imap-client.js';
import { METADATA_FILE } from '../../src/store/sqlite/sqlite-store.js';

test('short soak: 3 clients, 2 SIGKILLs, no acknowledged operation lost, UIDs/MODSEQs monotonic, blobs consistent', async () => {
  const report = await runSoak({ clients: 3, kills: 2, minRunMs: 400, maxRunMs: 1200 });
  assert.deepEqual(report.violations, [], `seed ${report.seed}`);
  assert.ok(report.stats.appendsAcked > 0, 'clients did work');
  assert.ok(report.stats.messagesChecked > 0, 'the checker saw messages');
});

test('negative controls: the checkers report a message that disappeared and a blob file that is gone', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'petrel-soak-neg-'));
  try {
    await provision(dir);
    const server = await startChildServer(dir);
    let uid = 0;
    try {
      const c = await ImapTestClient.connect(server.port);
      await c.command('L', `LOGIN ${SOAK_USER} "${SOAK_PASSWORD}"`);
      for (const m of ['Soak/A', 'Soak/B']) await c.command('C', `CREATE ${m}`);
      const a = await c.commandWithLiterals('A', ['APPEND INBOX ', Buffer.from('Message-ID: <x@y>\r\n\r\nhi\r\n')]);
      uid = Number(/APPENDUID \d+ (\d+)/.exec(a.tagged)![1]);
      c.close();
      const model = new Model();
      model.added(model.box('INBOX'), uid, '<x@y>', 'test');
      model.added(model.box('INBOX'), uid + 1, '<never@appended>', 'test');
      await checkState(server.port, model, emptyStats(), 'neg');
      assert.ok(model.violations.some((v) => /UID \d+ <never@appended> is missing/.test(v)), JSON.stringify(model.violations));
      assert.ok(model.violations.some((v) => /UIDNEXT .* not above/.test(v)), JSON.stringify(model.violations));
    } finally {
      await server.kill9();
    }
    const db = new BetterSqlite3(join(dir, METADATA_FILE), { readonly: true });
    const blob = (db.prepare('SELECT blob_id FROM messages LIMIT 1').get() as { blob_id: string }).blob_id;
    db.close();
    await unlink(join(dir, 'blobs', blob.slice(0, 2), blob.slice(2)));
    const model = new Model();
    checkBlobs(dir, model, emptyStats(), 'neg');
    assert.ok(model.violations.some((v) => /is missing/.test(v)), JSON.stringify(model.violations));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
