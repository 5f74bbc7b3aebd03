// Mailbox names beyond ASCII (RFC 9051 §5.1.3 modified UTF-7 on the wire, Unicode in the replica) and
// nested levels travel both ways, and a rename of a parent carries its children.
import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { after, before, test } from 'node:test';
import { openSqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import { syncOnce } from '../../src/sync/engine.js';
import type { AccountSettings } from '../../src/sync/types.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { connect, counts, localSnapshot, message, remoteSnapshot, sameSnapshot, tempReplica } from './sync-helpers.js';

let server: TestServer;
let account: AccountSettings;
let replica: string;

before(async () => {
  server = await startTestServer();
  account = { host: '127.0.0.1', port: server.port, tls: 'none', user: server.user, password: server.password };
  replica = await tempReplica();
});
after(async () => {
  await server.stop();
  await rm(replica, { recursive: true, force: true });
});

test('non-ASCII and nested mailbox names sync both ways; renaming a parent on either side moves its children', async () => {
  const c = await connect(account);
  await c.create('Entwürfe');
  await c.append('Entwürfe', message('entwurf'));
  await c.create('Projekte/Café ☕');
  await c.append('Projekte/Café ☕', message('kaffee'));
  await c.logout();
  await syncOnce({ replicaDir: replica, account });

  const store = await openSqliteStore(replica);
  const u = (await store.getUser(account.user))!;
  const recus = await store.createMailbox(u.id, 'Reçus');
  await store.append(recus.id, [{ message: await store.prepare(message('reçu')), flags: [] }]);
  await store.renameMailbox(u.id, 'Projekte', 'Archiv 2026');
  await store.close();
  await syncOnce({ replicaDir: replica, account });

  const remote = await remoteSnapshot(account);
  const local = await localSnapshot(replica, account.user);
  assert.ok(sameSnapshot(local, remote), JSON.stringify({ local: counts(local), remote: counts(remote) }));
  assert.equal(counts(remote)['Entwürfe'], 1);
  assert.equal(counts(remote)['Reçus'], 1);
  assert.equal(counts(remote)['Archiv 2026/Café ☕'], 1, Object.keys(remote).join(', '));
  assert.ok(!('Projekte/Café ☕' in remote));

  // And a parent renamed on the server: the replica's children follow.
  const c2 = await connect(account);
  await c2.rename('Archiv 2026', 'Alt');
  await c2.logout();
  const renamed = await syncOnce({ replicaDir: replica, account });
  assert.equal(renamed.downloaded, 0, 'nothing downloaded again');
  const after = await localSnapshot(replica, account.user);
  assert.ok(sameSnapshot(after, await remoteSnapshot(account)));
  assert.equal(counts(after)['Alt/Café ☕'], 1, Object.keys(after).join(', '));

  const quiet = await syncOnce({ replicaDir: replica, account });
  assert.equal(quiet.downloaded + quiet.uploaded + quiet.mailboxesCreated + quiet.mailboxesDeleted + quiet.mailboxesRenamed, 0, JSON.stringify(quiet.actions));
});
