// The sync engine against Debian's Dovecot (issue 5, item 10): a replica synchronised with a Dovecot
// account while a second client changes the same mailboxes, with every resync tier (QRESYNC, CONDSTORE,
// full scan) and without UIDPLUS and MOVE; each ends converged with nothing lost or duplicated.
import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { after, before, describe, test } from 'node:test';
import type { AccountSettings } from '../../src/sync/types.js';
import { ensureDovecotInstalled, startDovecot, type DovecotServer } from '../helpers/dovecot.js';
import { concurrentScenario, namesScenario, seedAccount } from '../sync/scenario.js';
import { tempReplica } from '../sync/sync-helpers.js';

const CONFIGS: Array<{ name: string; user: string; disable: string[] }> = [
  { name: 'QRESYNC', user: 'q', disable: [] },
  { name: 'CONDSTORE only', user: 'c', disable: ['QRESYNC'] },
  { name: 'full scan', user: 'f', disable: ['QRESYNC', 'CONDSTORE'] },
  { name: 'no UIDPLUS, no MOVE', user: 'u', disable: ['UIDPLUS', 'MOVE'] },
];

let dc: DovecotServer;

before(async () => {
  assert.ok(await ensureDovecotInstalled(), 'Dovecot (dovecot-imapd) is needed for the interop tests and could not be installed');
  const d = await startDovecot({ extraUsers: [...CONFIGS.map((c) => ({ user: c.user, password: `pw-${c.user}` })), { user: 'n', password: 'pw-n' }] });
  assert.ok(d, 'Dovecot did not start');
  dc = d;
});
after(async () => {
  await dc?.stop();
});

for (const cfg of CONFIGS) {
  describe(`sync engine against Dovecot (${cfg.name})`, () => {
    let account: AccountSettings;
    let replica: string;

    before(async () => {
      account = { host: dc.host, port: dc.port, tls: 'none', user: cfg.user, password: `pw-${cfg.user}` };
      replica = await tempReplica();
      await seedAccount(account, { tag: cfg.user, disable: cfg.disable }, 'Lists.Debian'); // Dovecot's maildir delimiter is '.'
    });
    after(async () => {
      await rm(replica, { recursive: true, force: true });
    });

    test('initial sync, then offline work on both sides while a second client keeps changing the mailboxes', async () => {
      await concurrentScenario(account, replica, { tag: cfg.user, disable: cfg.disable });
    });
  });
}

test('sync engine against Dovecot: non-ASCII names, nested levels with its "." delimiter, parent renames both ways', async () => {
  const replica = await tempReplica();
  try {
    await namesScenario({ host: dc.host, port: dc.port, tls: 'none', user: 'n', password: 'pw-n' }, replica, '.');
  } finally {
    await rm(replica, { recursive: true, force: true });
  }
});
