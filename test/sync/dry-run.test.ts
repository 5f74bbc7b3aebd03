// --dry-run (issue 5, item 9): the run reports what it would change, on both sides, and changes nothing.
import assert from 'node:assert/strict';
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { openSqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import { syncOnce } from '../../src/sync/engine.js';
import type { AccountSettings } from '../../src/sync/types.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { accountFor, connect, localSnapshot, message, remoteSnapshot, tempReplica } from './sync-helpers.js';

let server: TestServer;
let account: AccountSettings;
let replica: string;

before(async () => {
  server = await startTestServer();
  account = accountFor(server);
  replica = await tempReplica();
});
after(async () => {
  await server.stop();
  await rm(replica, { recursive: true, force: true });
});

test('a dry run lists downloads, uploads, flags, expunges and mailboxes, and changes neither side', async () => {
  const c = await connect(account);
  await c.append('INBOX', message('one'));
  await c.append('INBOX', message('two'));
  await c.logout();
  await syncOnce({ replicaDir: replica, account });

  // Changes on both sides.
  const c2 = await connect(account);
  await c2.append('INBOX', message('three'));
  await c2.create('New on server');
  await c2.select('INBOX');
  await c2.store('1', ['\\Answered'], { mode: 'add' });
  await c2.logout();
  const store = await openSqliteStore(replica);
  const u = (await store.getUser(account.user))!;
  const inbox = (await store.getMailbox(u.id, 'INBOX'))!;
  const msgs = await store.listMessages(inbox.id);
  await store.storeFlags(inbox.id, [msgs[1]!.uid], 'add', ['\\Flagged']);
  await store.append((await store.getMailbox(u.id, 'Drafts'))!.id, [{ message: await store.prepare(message('draft')), flags: ['\\Draft'] }]);
  await store.close();

  const beforeLocal = await localSnapshot(replica, account.user);
  const beforeRemote = await remoteSnapshot(account);
  const beforeState = await readFile(join(replica, 'sync.db'));
  const lines: string[] = [];
  const s = await syncOnce({ replicaDir: replica, account, dryRun: true, onLog: (l) => lines.push(l) });
  assert.equal(s.dryRun, true);
  const kinds = s.actions.map((a) => `${a.side}:${a.kind}:${a.mailbox}`);
  for (const want of ['local:download:INBOX', 'remote:upload:Drafts', 'remote:flags:INBOX', 'local:flags:INBOX', 'local:create-mailbox:New on server']) {
    assert.ok(kinds.includes(want), `${want} in ${kinds.join(', ')}`);
  }
  assert.ok(lines.some((l) => l.startsWith('would ')));
  assert.deepEqual(await localSnapshot(replica, account.user), beforeLocal);
  assert.deepEqual(await remoteSnapshot(account), beforeRemote);
  assert.ok((await readFile(join(replica, 'sync.db'))).equals(beforeState), 'sync state untouched');

  // The real run then does exactly that.
  const real = await syncOnce({ replicaDir: replica, account });
  assert.equal(real.downloaded, 1);
  assert.equal(real.uploaded, 1);
});
