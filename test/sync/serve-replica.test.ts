// `petrel serve --data REPLICA --sync-account FILE` (issue 5, item 4): a local mail client reads a
// replica made with selective download; what was not downloaded comes from the server on first read.
import assert from 'node:assert/strict';
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { ImapClient } from '../../src/client/imap-client.js';
import { syncOnce } from '../../src/sync/engine.js';
import type { AccountSettings } from '../../src/sync/types.js';
import { freePort, serve, type Serving } from '../cli/serve-process.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { accountFor, connect, tempReplica } from './sync-helpers.js';

const BIG = Buffer.from(
  'Subject: report\r\nMessage-ID: <report@example.org>\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=x\r\n\r\n' +
    '--x\r\nContent-Type: text/plain\r\n\r\nSee the attached report.\r\n--x\r\nContent-Type: application/pdf\r\nContent-Transfer-Encoding: base64\r\n\r\n' +
    Buffer.alloc(200_000, 3).toString('base64').replace(/.{76}/g, '$&\r\n') +
    '\r\n--x--\r\n',
);

let server: TestServer;
let replica: string;
let local: Serving;
let account: AccountSettings;

before(async () => {
  server = await startTestServer();
  account = accountFor(server);
  const c = await connect(account);
  await c.append('INBOX', BIG);
  await c.logout();
  replica = await tempReplica();
  await syncOnce({ replicaDir: replica, account, rules: [{ pattern: '*', policy: { mode: 'text', maxTextBytes: 4096 } }] });
  const accountFile = join(replica, '..', `${replica.split('/').pop()}-account.json`);
  await writeFile(accountFile, JSON.stringify(accountFor(server)));
  const port = await freePort();
  local = await serve(['--data', replica, '--sync-account', accountFile, '--host', '127.0.0.1', '--imap-port', String(port), '--imaps-port', '0', '--pop3-port', '0', '--pop3s-port', '0']);
  (local as Serving & { port: number }).port = port;
});
after(async () => {
  await local?.stop();
  await server.stop();
  await rm(replica, { recursive: true, force: true });
});

test('petrel serve on a replica fetches the attachment from the server when a client reads it', async () => {
  const port = (local as Serving & { port: number }).port;
  const c = await ImapClient.connect({ host: '127.0.0.1', port, tls: 'none', auth: { user: account.user, password: account.password } });
  await c.examine('INBOX');
  const [m] = await c.fetchAll('1', { size: true, sections: [{ section: '1', peek: true }, { section: '2', peek: true }] });
  assert.equal(m!.size, BIG.length);
  assert.equal(m!.sections.find((s) => s.section === '1')!.data!.toString(), 'See the attached report.');
  const r = await connect(account);
  await r.examine('INBOX');
  const [theirs] = await r.fetchAll('1', { sections: [{ section: '2', peek: true }] });
  await r.logout();
  assert.ok(m!.sections.find((s) => s.section === '2')!.data!.equals(theirs!.sections[0]!.data!));
  const [whole] = await c.fetchAll('1', { sections: [{ section: '', peek: true }] });
  assert.ok(whole!.sections[0]!.data!.equals(BIG));
  await c.logout();
});
