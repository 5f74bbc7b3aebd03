// The sync engine against Debian's Dovecot (issue 5, item 10): a replica synchronised with a Dovecot
// account while a second client changes the same mailboxes, with every resync tier (QRESYNC, CONDSTORE,
// full scan) and without UIDPLUS and MOVE; each ends converged with nothing lost or duplicated.
import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { after, before, describe, test } from 'node:test';
import { openSqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import { syncOnce } from '../../src/sync/engine.js';
import type { AccountSettings } from '../../src/sync/types.js';
import { ensureDovecotInstalled, startDovecot, type DovecotServer } from '../helpers/dovecot.js';
import { connect, counts, localSnapshot, message, remoteSnapshot, sameSnapshot, tempReplica } from '../sync/sync-helpers.js';

const CONFIGS: Array<{ name: string; user: string; disable: string[] }> = [
  { name: 'QRESYNC', user: 'q', disable: [] },
  { name: 'CONDSTORE only', user: 'c', disable: ['QRESYNC'] },
  { name: 'full scan', user: 'f', disable: ['QRESYNC', 'CONDSTORE'] },
  { name: 'no UIDPLUS, no MOVE', user: 'u', disable: ['UIDPLUS', 'MOVE'] },
];

let dc: DovecotServer;

before(async () => {
  assert.ok(await ensureDovecotInstalled(), 'Dovecot (dovecot-imapd) is needed for the interop tests and could not be installed');
  const d = await startDovecot({ extraUsers: CONFIGS.map((c) => ({ user: c.user, password: `pw-${c.user}` })) });
  assert.ok(d, 'Dovecot did not start');
  dc = d;
});
after(async () => {
  await dc?.stop();
});

function noDuplicates(s: Record<string, string[]>): void {
  for (const [name, rows] of Object.entries(s)) {
    const digests = rows.map((r) => r.split('|')[0]);
    assert.equal(new Set(digests).size, digests.length, `duplicate message in ${name}`);
  }
}

for (const cfg of CONFIGS) {
  describe(`sync engine against Dovecot (${cfg.name})`, () => {
    let account: AccountSettings;
    let replica: string;
    const run = () => syncOnce({ replicaDir: replica, account, disable: cfg.disable });

    before(async () => {
      account = { host: dc.host, port: dc.port, tls: 'none', user: cfg.user, password: `pw-${cfg.user}` };
      replica = await tempReplica();
      const c = await connect(account);
      for (let i = 0; i < 12; i++) await c.append('INBOX', message(`dovecot ${cfg.user} ${i}`), { flags: i % 3 === 0 ? ['\\Seen'] : [] });
      await c.create('Archive');
      await c.create('Lists.Debian'); // Dovecot's maildir hierarchy delimiter is '.'
      await c.append('Lists.Debian', message(`list ${cfg.user}`));
      await c.logout();
    });
    after(async () => {
      await rm(replica, { recursive: true, force: true });
    });

    test('initial sync, then offline work on both sides while a second client keeps changing the mailboxes', async () => {
      const first = await run();
      assert.equal(first.downloaded, 13);
      assert.ok(sameSnapshot(await localSnapshot(replica, account.user), await remoteSnapshot(account)));

      // Offline work in the replica: flags, a move, an expunge, a new message, a new mailbox.
      const store = await openSqliteStore(replica);
      const u = (await store.getUser(account.user))!;
      const inbox = (await store.getMailbox(u.id, 'INBOX'))!;
      const archive = (await store.getMailbox(u.id, 'Archive'))!;
      const msgs = await store.listMessages(inbox.id);
      await store.storeFlags(inbox.id, [msgs[0]!.uid, msgs[1]!.uid], 'add', ['\\Answered', '$Work']);
      await store.storeFlags(inbox.id, [msgs[0]!.uid], 'remove', ['\\Seen']);
      await store.moveMessages(inbox.id, [msgs[2]!.uid], archive.id);
      await store.storeFlags(inbox.id, [msgs[3]!.uid], 'add', ['\\Deleted']);
      await store.expunge(inbox.id, [msgs[3]!.uid]);
      const drafts = await store.createMailbox(u.id, 'Drafts');
      await store.append(drafts.id, [{ message: await store.prepare(message(`draft ${cfg.user}`)), flags: ['\\Draft', '\\Seen'] }]);
      await store.close();

      // The second client: changes before the sync and during it.
      const other = await connect(account);
      await other.select('INBOX');
      const uids = await other.search({ all: true }, { uid: true });
      await other.store(uids[0]!, ['$Other'], { uid: true, mode: 'add' });
      await other.store(uids[4]!, ['\\Flagged'], { uid: true, mode: 'add' });
      await other.store(uids[5]!, ['\\Deleted'], { uid: true, mode: 'add' });
      await other.expunge();
      let stop = false;
      let n = 0;
      const busy = (async () => {
        while (!stop) {
          await other.append('INBOX', message(`during sync ${cfg.user} ${n}`));
          const all = await other.search({ all: true }, { uid: true });
          await other.store(all[n % all.length]!, [`$During${n}`], { uid: true, mode: 'add' });
          n++;
        }
      })();
      const during = await run();
      stop = true;
      await busy;
      await other.logout();
      assert.ok(n > 0, 'the second client made changes during the sync');
      assert.ok(during.uploaded >= 1);

      // One more sync picks up whatever the second client did during the previous one.
      await run();
      const local = await localSnapshot(replica, account.user);
      const remote = await remoteSnapshot(account);
      assert.ok(sameSnapshot(local, remote), JSON.stringify({ local, remote }));
      noDuplicates(remote);
      assert.equal(counts(remote).Archive, 1, 'the moved message is in Archive on the server');
      assert.equal(counts(remote).Drafts, 1);
      assert.equal(counts(remote).INBOX, 12 - 1 - 1 - 1 + n, 'moved, expunged here, expunged there, plus the second client\'s mail');
      const first0 = remote.INBOX!.find((r) => r.includes('$other'));
      assert.ok(first0 && first0.includes('\\answered') && first0.includes('$work') && !first0.includes('\\seen'), first0);

      // And a rerun changes nothing.
      const quiet = await run();
      assert.equal(quiet.downloaded + quiet.uploaded + quiet.flagsToLocal + quiet.flagsToRemote + quiet.expungedLocal + quiet.expungedRemote, 0, JSON.stringify(quiet.actions));
    });
  });
}
