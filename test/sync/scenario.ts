// A sync scenario shared by the Petrel and Dovecot interop tests (issue 5, item 10): initial sync, offline
// work in the replica (flags, a move, an expunge, a new message, a new mailbox) and changes by a second
// client before and during the sync; afterwards both sides hold the same messages, each once.
import assert from 'node:assert/strict';
import { openSqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import { syncOnce } from '../../src/sync/engine.js';
import type { AccountSettings, SyncSummary } from '../../src/sync/types.js';
import { connect, counts, localSnapshot, message, remoteSnapshot, sameSnapshot } from './sync-helpers.js';

export interface ScenarioConfig {
  /** Tag used in message subjects (distinct per account). */
  tag: string;
  disable: string[];
}

/** Puts 12 messages in INBOX, creates Archive and a nested mailbox (`nested`, in the server's syntax). */
export async function seedAccount(account: AccountSettings, cfg: ScenarioConfig, nested: string): Promise<void> {
  const c = await connect(account);
  for (let i = 0; i < 12; i++) await c.append('INBOX', message(`server ${cfg.tag} ${i}`), { flags: i % 3 === 0 ? ['\\Seen'] : [] });
  const existing = new Set((await c.list('', '*')).map((e) => e.path));
  if (!existing.has('Archive')) await c.create('Archive'); // Petrel provisions it, Dovecot does not
  await c.create(nested);
  await c.append(nested, message(`list ${cfg.tag}`));
  await c.logout();
}

function noDuplicates(s: Record<string, string[]>): void {
  for (const [name, rows] of Object.entries(s)) {
    const digests = rows.map((r) => r.split('|')[0]);
    assert.equal(new Set(digests).size, digests.length, `duplicate message in ${name}`);
  }
}

export async function concurrentScenario(account: AccountSettings, replica: string, cfg: ScenarioConfig): Promise<void> {
  const run = (): Promise<SyncSummary> => syncOnce({ replicaDir: replica, account, disable: cfg.disable });
  const user = account.user;

  const first = await run();
  assert.equal(first.downloaded, 13);
  assert.ok(sameSnapshot(await localSnapshot(replica, user), await remoteSnapshot(account)));

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
  const drafts = await store.createMailbox(u.id, 'Written offline');
  await store.append(drafts.id, [{ message: await store.prepare(message(`draft ${cfg.tag}`)), flags: ['\\Draft', '\\Seen'] }]);
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
      await other.append('INBOX', message(`during sync ${cfg.tag} ${n}`));
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
  const local = await localSnapshot(replica, user);
  const remote = await remoteSnapshot(account);
  assert.ok(sameSnapshot(local, remote), JSON.stringify({ local, remote }));
  noDuplicates(remote);
  assert.equal(counts(remote).Archive, 1, 'the moved message is in Archive on the server');
  assert.equal(counts(remote)['Written offline'], 1);
  assert.equal(counts(remote).INBOX, 12 - 1 - 1 - 1 + n, 'moved, expunged here, expunged there, plus the second client\'s mail');
  const first0 = remote.INBOX!.find((r) => r.includes('$other'));
  assert.ok(first0 && first0.includes('\\answered') && first0.includes('$work') && !first0.includes('\\seen'), first0);

  // And a rerun changes nothing.
  const quiet = await run();
  assert.equal(quiet.downloaded + quiet.uploaded + quiet.flagsToLocal + quiet.flagsToRemote + quiet.expungedLocal + quiet.expungedRemote, 0, JSON.stringify(quiet.actions));
}

/**
 * Non-ASCII and nested mailbox names both ways, and a parent renamed on either side taking its children
 * along. `sep` is the server's hierarchy delimiter ('/' on Petrel, '.' on Dovecot's maildir).
 */
export async function namesScenario(account: AccountSettings, replica: string, sep: string): Promise<void> {
  const c = await connect(account);
  await c.create('Entwürfe');
  await c.append('Entwürfe', message('entwurf'));
  await c.create(`Projekte${sep}Café ☕`);
  await c.append(`Projekte${sep}Café ☕`, message('kaffee'));
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
}
