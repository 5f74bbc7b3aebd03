// The shared interop scenario (test/sync/scenario.ts) against a Petrel server, with every resync tier and
// without UIDPLUS/MOVE: a second client changes INBOX while the sync runs; both sides converge.
import { rm } from 'node:fs/promises';
import { after, before, describe, test } from 'node:test';
import type { AccountSettings } from '../../src/sync/types.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { concurrentScenario, seedAccount } from './scenario.js';
import { tempReplica } from './sync-helpers.js';

const CONFIGS: Array<{ name: string; user: string; disable: string[] }> = [
  { name: 'QRESYNC', user: 'q', disable: [] },
  { name: 'CONDSTORE only', user: 'c', disable: ['QRESYNC'] },
  { name: 'full scan', user: 'f', disable: ['QRESYNC', 'CONDSTORE'] },
  { name: 'no UIDPLUS, no MOVE', user: 'u', disable: ['UIDPLUS', 'MOVE'] },
];

let server: TestServer;
before(async () => {
  server = await startTestServer({ extraUsers: CONFIGS.map((c) => ({ user: c.user, password: `pw-${c.user}` })) });
});
after(async () => {
  await server.stop();
});

for (const cfg of CONFIGS) {
  describe(`sync engine against Petrel with a second client (${cfg.name})`, () => {
    let account: AccountSettings;
    let replica: string;
    before(async () => {
      account = { host: '127.0.0.1', port: server.port, tls: 'none', user: cfg.user, password: `pw-${cfg.user}` };
      replica = await tempReplica();
      await seedAccount(account, { tag: cfg.user, disable: cfg.disable }, 'Lists/Debian');
    });
    after(async () => {
      await rm(replica, { recursive: true, force: true });
    });
    test('offline work on both sides while a second client keeps changing the mailboxes', async () => {
      await concurrentScenario(account, replica, { tag: cfg.user, disable: cfg.disable });
    });
  });
}
