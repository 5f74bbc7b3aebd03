// The sync engine against a Petrel server (issue 5, items 2, 3, 5, 6, 8): initial sync, two-way flag
// merge against the base, uploads exactly once, expunges both ways, local moves become server moves,
// mailbox create/rename/delete both ways, UIDVALIDITY change, read-only mailboxes — each with every
// resync tier (QRESYNC, CONDSTORE, full scan) reaching the same end state.
import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { after, before, describe, test } from 'node:test';
import { openSqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import type { Store } from '../../src/store/types.js';
import { syncOnce } from '../../src/sync/engine.js';
import type { AccountSettings, SyncOptions } from '../../src/sync/types.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { accountFor, connect, counts, localSnapshot, message, remoteSnapshot, storeSnapshot, tempReplica } from './sync-helpers.js';

const TIERS: Array<{ name: string; disable: string[] }> = [
  { name: 'QRESYNC', disable: [] },
  { name: 'CONDSTORE', disable: ['QRESYNC'] },
  { name: 'full scan', disable: ['QRESYNC', 'CONDSTORE'] },
];

async function withReplica<T>(dir: string, user: string, fn: (store: Store, userId: number) => Promise<T>): Promise<T> {
  const store = await openSqliteStore(dir);
  try {
    const u = await store.getUser(user);
    assert.ok(u);
    return await fn(store, u.id);
  } finally {
    await store.close();
  }
}

async function localMailbox(store: Store, userId: number, name: string) {
  const mb = await store.getMailbox(userId, name);
  assert.ok(mb, `local mailbox ${name}`);
  return mb;
}

for (const tier of TIERS) {
  describe(`sync engine against Petrel (${tier.name})`, () => {
    let server: TestServer;
    let account: AccountSettings;
    let replica: string;
    const run = (extra: Partial<SyncOptions> = {}) => syncOnce({ replicaDir: replica, account, disable: tier.disable, ...extra });

    before(async () => {
      server = await startTestServer();
      account = accountFor(server);
      replica = await tempReplica();
      const c = await connect(account);
      for (let i = 1; i <= 5; i++) await c.append('INBOX', message(`inbox ${i}`), { flags: i % 2 ? ['\\Seen'] : [] });
      await c.create('Work/Projects');
      await c.append('Work/Projects', message('project plan'), { flags: ['$Important'] });
      await c.logout();
    });
    after(async () => {
      await server.stop();
      await rm(replica, { recursive: true, force: true });
    });

    test('the first sync copies every mailbox and message; a second one changes nothing', async () => {
      const s = await run();
      assert.equal(s.downloaded, 6);
      assert.equal(s.uploaded, 0);
      const remote = await remoteSnapshot(account);
      assert.deepEqual(await localSnapshot(replica, account.user), remote);
      assert.equal(counts(remote).INBOX, 5);
      const again = await run();
      assert.equal(again.downloaded + again.uploaded + again.flagsToLocal + again.flagsToRemote + again.expungedLocal + again.expungedRemote, 0, JSON.stringify(again.actions));
      assert.equal(again.mailboxesCreated, 0);
    });

    test('flags merge per flag against the base: a flag set on one side and another cleared on the other both survive', async () => {
      // Replica: add \Flagged to inbox 1 (which is \Seen). Server: clear \Seen of the same message, add $Later.
      const c = await connect(account);
      await c.select('INBOX');
      const first = (await c.search({ all: true }, { uid: true }))[0]!;
      await c.store(first, ['\\Seen'], { uid: true, mode: 'remove' });
      await c.store(first, ['$Later'], { uid: true, mode: 'add' });
      await c.logout();
      await withReplica(replica, account.user, async (store, uid) => {
        const inbox = await localMailbox(store, uid, 'INBOX');
        const firstLocal = (await store.listMessages(inbox.id))[0]!;
        await store.storeFlags(inbox.id, [firstLocal.uid], 'add', ['\\Flagged']);
      });
      const s = await run();
      assert.equal(s.conflicts.length, 0);
      const remote = await remoteSnapshot(account);
      assert.deepEqual(await localSnapshot(replica, account.user), remote);
      assert.ok(remote.INBOX!.some((r) => r.endsWith('|$later \\flagged')), JSON.stringify(remote.INBOX));
    });

    test('messages added in the replica are uploaded exactly once; expunges travel both ways', async () => {
      await withReplica(replica, account.user, async (store, uid) => {
        const sent = await localMailbox(store, uid, 'Sent');
        const prepared = await store.prepare(message('written offline'));
        await store.append(sent.id, [{ message: prepared, flags: ['\\Seen'] }]);
        // Delete inbox 2 in the replica.
        const inbox = await localMailbox(store, uid, 'INBOX');
        const second = (await store.listMessages(inbox.id))[1]!;
        await store.storeFlags(inbox.id, [second.uid], 'add', ['\\Deleted']);
        await store.expunge(inbox.id, [second.uid]);
      });
      // And inbox 3 on the server.
      const c = await connect(account);
      await c.select('INBOX');
      const uids = await c.search({ all: true }, { uid: true });
      await c.store(uids[2]!, ['\\Deleted'], { uid: true, mode: 'add' });
      await c.uidExpunge(uids[2]!);
      await c.logout();
      const s = await run();
      assert.equal(s.uploaded, 1);
      assert.equal(s.expungedRemote, 1);
      assert.equal(s.expungedLocal, 1);
      const remote = await remoteSnapshot(account);
      assert.deepEqual(await localSnapshot(replica, account.user), remote);
      assert.equal(counts(remote).INBOX, 3);
      assert.equal(counts(remote).Sent, 1);
      const again = await run();
      assert.equal(again.uploaded, 0);
      assert.deepEqual(await remoteSnapshot(account), remote);
    });

    test('a move and a copy between mailboxes in the replica become a move and a copy on the server, without uploading', async () => {
      await withReplica(replica, account.user, async (store, uid) => {
        const inbox = await localMailbox(store, uid, 'INBOX');
        const archive = await localMailbox(store, uid, 'Archive');
        const drafts = await localMailbox(store, uid, 'Drafts');
        const [first, second] = await store.listMessages(inbox.id);
        await store.moveMessages(inbox.id, [first!.uid], archive.id);
        await store.copyMessages(inbox.id, [second!.uid], drafts.id);
      });
      const s = await run();
      assert.equal(s.bytesUp, 0, 'no message bytes were uploaded');
      const remote = await remoteSnapshot(account);
      assert.deepEqual(await localSnapshot(replica, account.user), remote);
      assert.equal(counts(remote).Archive, 1);
      assert.equal(counts(remote).Drafts, 1);
      assert.equal(counts(remote).INBOX, 2);
      assert.equal(remote.Drafts![0]!.split('|')[0], remote.INBOX!.find((r) => r.startsWith(remote.Drafts![0]!.split('|')[0]!))?.split('|')[0]);
    });

    test('mailboxes created, renamed and deleted on either side', async () => {
      await withReplica(replica, account.user, async (store, uid) => {
        await store.createMailbox(uid, 'Offline');
        const off = await localMailbox(store, uid, 'Offline');
        await store.append(off.id, [{ message: await store.prepare(message('offline note')), flags: [] }]);
        await store.renameMailbox(uid, 'Junk', 'Spam');
      });
      const c = await connect(account);
      await c.create('Lists');
      await c.append('Lists', message('list mail'));
      await c.rename('Work/Projects', 'Work/Old projects');
      await c.delete('Trash');
      await c.logout();
      const s = await run();
      assert.ok(s.mailboxesCreated >= 2, JSON.stringify(s.actions));
      assert.ok(s.mailboxesRenamed >= 2, JSON.stringify(s.actions));
      const remote = await remoteSnapshot(account);
      const local = await localSnapshot(replica, account.user);
      assert.deepEqual(local, remote);
      assert.ok('Offline' in remote && 'Lists' in remote && 'Spam' in remote && 'Work/Old projects' in remote, Object.keys(remote).join(','));
      assert.ok(!('Trash' in local) && !('Junk' in remote) && !('Work/Projects' in local), Object.keys(local).join(','));
      assert.equal(counts(remote)['Work/Old projects'], 1, 'the renamed mailbox kept its message (no new download needed)');

      // Deleting in the replica deletes on the server.
      await withReplica(replica, account.user, (store, uid) => store.deleteMailbox(uid, 'Offline'));
      await run();
      assert.ok(!('Offline' in (await remoteSnapshot(account))));
    });

    test('a UIDVALIDITY change keeps local data and re-pairs by content; only local-only mail is uploaded', async () => {
      // The server's Lists mailbox is re-created with the same message: a new UIDVALIDITY.
      const c = await connect(account);
      await c.delete('Lists');
      await c.create('Lists');
      await c.append('Lists', message('list mail'));
      await c.logout();
      // Meanwhile the replica adds a message to Lists.
      await withReplica(replica, account.user, async (store, uid) => {
        const lists = await localMailbox(store, uid, 'Lists');
        await store.append(lists.id, [{ message: await store.prepare(message('reply drafted offline')), flags: ['\\Draft'] }]);
      });
      const s = await run();
      const remote = await remoteSnapshot(account);
      assert.deepEqual(await localSnapshot(replica, account.user), remote);
      assert.equal(counts(remote).Lists, 2, 'no duplicate of the re-paired message');
      assert.equal(s.downloaded, 0, JSON.stringify(s.actions));
    });

    test('a read-only mailbox keeps \\Seen and keywords in the replica, never on the server, across resyncs', async () => {
      const ro = await tempReplica();
      try {
        const opts: Partial<SyncOptions> = { replicaDir: ro, rules: [{ pattern: 'INBOX', policy: { mode: 'full' }, readOnly: true }], mailboxes: ['INBOX'] };
        await run(opts);
        const before = (await remoteSnapshot(account)).INBOX;
        await withReplica(ro, account.user, async (store, uid) => {
          const inbox = await localMailbox(store, uid, 'INBOX');
          const msgs = await store.listMessages(inbox.id);
          await store.storeFlags(inbox.id, msgs.map((m) => m.uid), 'add', ['\\Seen', '$Read']);
        });
        // The server changes a flag too: it arrives, and the replica's own flags stay.
        const c = await connect(account);
        await c.select('INBOX');
        await c.store('1:*', ['$FromServer'], { mode: 'add' });
        await c.logout();
        await run(opts);
        await run(opts);
        const remote = (await remoteSnapshot(account)).INBOX!;
        assert.ok(remote.every((r) => !r.includes('$read')), 'nothing of the replica reached the server');
        assert.equal(remote.length, before!.length);
        const local = await withReplica(ro, account.user, (store) => storeSnapshot(store, account.user));
        assert.ok(local.INBOX!.every((r) => r.includes('$read') && r.includes('\\seen') && r.includes('$fromserver')), JSON.stringify(local.INBOX));
      } finally {
        await rm(ro, { recursive: true, force: true });
      }
    });
  });
}
