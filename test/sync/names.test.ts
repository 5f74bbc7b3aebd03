// Mailbox names beyond ASCII (RFC 9051 §5.1.3 modified UTF-7 on the wire, Unicode in the replica) and
// nested levels travel both ways, and a rename of a parent carries its children.
import { rm } from 'node:fs/promises';
import { after, before, test } from 'node:test';
import type { AccountSettings } from '../../src/sync/types.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { namesScenario } from './scenario.js';
import { accountFor, tempReplica } from './sync-helpers.js';

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

test('non-ASCII and nested mailbox names sync both ways; renaming a parent on either side moves its children', async () => {
  await namesScenario(account, replica, '/');
});
