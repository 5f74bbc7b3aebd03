// The replica keeps each message's INTERNALDATE with its zone (RFC 9051 §2.3.3): mail downloaded from the
// server shows the same date-time string locally as it does on the server, and mail uploaded from the replica
// reaches the server with the zone it had in the replica.
import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { test } from 'node:test';
import { openSqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import { syncOnce } from '../../src/sync/engine.js';
import { startTestServer } from '../helpers/server.js';
import { accountFor, connect, message, tempReplica } from './sync-helpers.js';

test('sync keeps INTERNALDATE zones both ways', async () => {
  const server = await startTestServer();
  const replica = await tempReplica();
  try {
    const account = accountFor(server);
    const at = new Date('2026-03-01T22:30:00Z');
    const c = await connect(account);
    await c.append('INBOX', message('east'), { internalDate: at, internalDateOffset: 5 * 60 + 30 });
    await c.append('INBOX', message('west'), { internalDate: at, internalDateOffset: -8 * 60 });
    await c.logout();
    await syncOnce({ replicaDir: replica, account, mailboxes: ['INBOX'] });

    const store = await openSqliteStore(replica);
    try {
      const user = (await store.getUser(server.user))!;
      const inbox = (await store.getMailbox(user.id, 'INBOX'))!;
      assert.deepEqual(
        (await store.listMessages(inbox.id)).map((m) => [m.internalDate, m.internalDateOffset]),
        [
          [at.getTime(), 330],
          [at.getTime(), -480],
        ],
      );
      const p = await store.prepare(message('from the replica'));
      await store.append(inbox.id, [{ message: p, flags: [], internalDate: at.getTime(), internalDateOffset: 9 * 60 }]);
    } finally {
      await store.close();
    }
    await syncOnce({ replicaDir: replica, account, mailboxes: ['INBOX'] });

    const d = await connect(account);
    try {
      await d.examine('INBOX');
      const dates = (await d.fetchAll('1:*', { uid: true, internalDate: true }, { uid: true })).map((m) => m.internalDateRaw);
      assert.deepEqual(dates, ['02-Mar-2026 04:00:00 +0530', '01-Mar-2026 14:30:00 -0800', '02-Mar-2026 07:30:00 +0900']);
    } finally {
      await d.logout();
    }
  } finally {
    await server.stop();
    await rm(replica, { recursive: true, force: true });
  }
});
