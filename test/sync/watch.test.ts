// Switching models (issue 5, item 7): `watch` stays online (IDLE wakes a sync when mail arrives, local
// changes are pushed as they happen); when the network is cut (a proxy the test controls) both sides keep
// changing, and when it comes back the replica and the server converge with nothing lost or duplicated.
import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { after, before, test } from 'node:test';
import { openSqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import type { AccountSettings, SyncSummary } from '../../src/sync/types.js';
import { watch } from '../../src/sync/watch.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { startTcpProxy, type TcpProxy } from '../helpers/tcp-proxy.js';
import { accountFor, connect, counts, localSnapshot, message, remoteSnapshot, sameSnapshot, tempReplica } from './sync-helpers.js';

let server: TestServer;
let proxy: TcpProxy;
let replica: string;
let direct: AccountSettings;
let viaProxy: AccountSettings;

before(async () => {
  server = await startTestServer();
  proxy = await startTcpProxy(server.port);
  replica = await tempReplica();
  direct = accountFor(server);
  viaProxy = { ...direct, port: proxy.port };
});
after(async () => {
  await proxy.close();
  await server.stop();
  await rm(replica, { recursive: true, force: true });
});

/** Polls `check` until it returns true (a wait, not a timed assertion: the limit only stops a hung test). */
async function until(what: string, check: () => Promise<boolean>, limitMs = 30_000, explain?: () => Promise<string>): Promise<void> {
  const end = Date.now() + limitMs;
  while (Date.now() < end) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 150));
  }
  assert.fail(`gave up waiting for: ${what}${explain ? `\n${await explain()}` : ''}`);
}

test('watch: online push both ways, keeps working through a network cut, converges after it', async () => {
  const ctl = new AbortController();
  const cycles: Array<SyncSummary | Error> = [];
  const running = watch({
    replicaDir: replica,
    account: viaProxy,
    signal: ctl.signal,
    onCycle: (r) => cycles.push(r),
    localPollMs: 200,
    retryBaseMs: 100,
    retryMaxMs: 400,
    fullCycleMs: 60_000,
  });
  try {
    await until('first cycle', async () => cycles.length > 0);
    assert.ok(!(cycles[0] instanceof Error), String(cycles[0]));

    // Online: new mail on the server arrives without anyone asking (IDLE).
    const c = await connect(direct);
    await c.append('INBOX', message('pushed while online'));
    await until('server mail in the replica', async () => counts(await localSnapshot(replica, direct.user)).INBOX === 1);

    // Online: a flag set in the replica reaches the server.
    {
      const store = await openSqliteStore(replica);
      const u = (await store.getUser(direct.user))!;
      const inbox = (await store.getMailbox(u.id, 'INBOX'))!;
      const m = (await store.listMessages(inbox.id))[0]!;
      await store.storeFlags(inbox.id, [m.uid], 'add', ['\\Flagged']);
      await store.close();
    }
    await until('replica flag on the server', async () => (await remoteSnapshot(direct)).INBOX!.some((r) => r.includes('\\flagged')));

    // The network goes. Both sides change.
    proxy.cut();
    const failedBefore = cycles.filter((x) => x instanceof Error).length;
    await c.append('INBOX', message('arrived while offline'));
    await c.create('Server side');
    {
      const store = await openSqliteStore(replica);
      const u = (await store.getUser(direct.user))!;
      const drafts = await store.createMailbox(u.id, 'Drafts offline');
      await store.append(drafts.id, [{ message: await store.prepare(message('draft written on the train')), flags: ['\\Draft'] }]);
      const inbox = (await store.getMailbox(u.id, 'INBOX'))!;
      const m = (await store.listMessages(inbox.id))[0]!;
      await store.storeFlags(inbox.id, [m.uid], 'add', ['\\Seen']);
      await store.close();
    }
    await until('a failed cycle while disconnected', async () => cycles.filter((x) => x instanceof Error).length > failedBefore);
    assert.equal(counts(await localSnapshot(replica, direct.user)).INBOX, 1, 'the replica still works on its own');

    // The network returns: both sides converge.
    proxy.restore();
    await until('convergence after the cut', async () => {
      const [l, r] = [await localSnapshot(replica, direct.user), await remoteSnapshot(direct)];
      return sameSnapshot(l, r) && counts(r).INBOX === 2 && counts(r)['Drafts offline'] === 1;
    }, 30_000, async () => JSON.stringify({ local: await localSnapshot(replica, direct.user), remote: await remoteSnapshot(direct), cycles: cycles.slice(-3).map((x) => (x instanceof Error ? x.message : x.actions)) }));
    const remote = await remoteSnapshot(direct);
    assert.ok('Server side' in remote);
    assert.ok(remote.INBOX!.some((r) => r.includes('\\flagged') && r.includes('\\seen')));
    await c.logout();
  } finally {
    ctl.abort();
    await running;
  }
});
