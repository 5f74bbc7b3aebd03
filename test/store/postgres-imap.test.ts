// Two Petrel IMAP servers ("nodes") on one PostgreSQL database (issue 8, "two nodes serve the same accounts
// with push notifications across nodes"): a session in IDLE (RFC 2177) on node A sees an APPEND, a STORE and
// an EXPUNGE made by a session on node B as untagged EXISTS / FETCH / EXPUNGE (RFC 9051 §7), brought by
// LISTEN/NOTIFY; UIDs handed out by both nodes form one sequence (RFC 4315 APPENDUID).
import assert from 'node:assert/strict';
import { after, it } from 'node:test';
import { startServer, type RunningServer } from '../../src/server/server.js';
import { openPostgresStore, type PostgresStore } from '../../src/store/postgres/postgres-store.js';
import { ImapTestClient } from '../helpers/imap-client.js';
import { createTestDatabase, ensurePostgres } from '../helpers/postgres.js';
import { provisionAccounts, TEST_PASSWORD, TEST_USER } from '../helpers/server.js';

after(async () => {
  await (await ensurePostgres()).stop();
});

interface Node {
  store: PostgresStore;
  server: RunningServer;
  port: number;
}

async function startNode(url: string): Promise<Node> {
  const store = await openPostgresStore(url, { gcIntervalMs: 0 });
  const server = await startServer({ store, host: '127.0.0.1', imapPort: 0, imapsPort: null, tls: null });
  return { store, server, port: server.imapPort! };
}

async function login(port: number): Promise<ImapTestClient> {
  const c = await ImapTestClient.connect(port);
  assert.match((await c.command('l1', `LOGIN "${TEST_USER}" "${TEST_PASSWORD}"`)).tagged, /^l1 OK/);
  return c;
}

it('a session idling on node A sees what a session on node B appends, flags and expunges', async () => {
  const db = await createTestDatabase(await ensurePostgres());
  const nodes: Node[] = [];
  const clients: ImapTestClient[] = [];
  try {
    nodes.push(await startNode(db.url), await startNode(db.url));
    const [a, b] = nodes as [Node, Node];
    await provisionAccounts(a.store);
    const idle = await login(a.port);
    clients.push(idle);
    const sel = await idle.command('a2', 'SELECT INBOX');
    assert.ok(sel.untagged.includes('* 0 EXISTS'), sel.untagged.join('\n'));
    idle.send('a3 IDLE');
    await idle.waitFor(/^\+ /);

    const writer = await login(b.port);
    clients.push(writer);
    const msg = Buffer.from('From: b@example.org\r\nSubject: from node B\r\nMessage-ID: <nodeb-1@example.org>\r\n\r\nhello across nodes\r\n');
    const app = await writer.commandWithLiterals('b2', ['APPEND INBOX () ', msg]);
    assert.match(app.tagged, /^b2 OK \[APPENDUID \d+ 1\]/);
    await idle.waitFor(/^\* 1 EXISTS$/);

    // The other way round: node A's own APPEND (after IDLE) takes the next UID, whichever node wrote before.
    idle.send('DONE');
    assert.match((await idle.readTagged('a3')).tagged, /^a3 OK/);
    const app2 = await idle.commandWithLiterals('a4', ['APPEND INBOX () ', Buffer.from('Subject: from node A\r\n\r\nsecond\r\n')]);
    assert.match(app2.tagged, /^a4 OK \[APPENDUID \d+ 2\]/);

    idle.send('a5 IDLE');
    await idle.waitFor(/^\+ /);
    const sel2 = await writer.command('b3', 'SELECT INBOX');
    assert.ok(sel2.untagged.includes('* 2 EXISTS'), sel2.untagged.join('\n'));
    assert.match((await writer.command('b4', 'STORE 1 +FLAGS.SILENT (\\Deleted \\Seen)')).tagged, /^b4 OK/);
    await idle.waitFor(/^\* 1 FETCH \(.*FLAGS \(.*\\Deleted.*\)/);
    assert.match((await writer.command('b5', 'EXPUNGE')).tagged, /^b5 OK/);
    await idle.waitFor(/^\* 1 EXPUNGE$/);
    idle.send('DONE');
    assert.match((await idle.readTagged('a5')).tagged, /^a5 OK/);
    const fetched = await idle.command('a6', 'UID FETCH 1:* (UID)');
    assert.deepEqual(fetched.untagged, ['* 1 FETCH (UID 2)']);
    for (const c of clients) await c.command('z', 'LOGOUT');
  } finally {
    for (const c of clients) c.close();
    for (const n of nodes) {
      await n.server.close();
      await n.store.close();
    }
    await db.drop();
  }
});
