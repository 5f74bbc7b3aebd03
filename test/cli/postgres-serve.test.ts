// `petrel serve --store postgres://…` end to end (issue 8, "Configuration" and "two nodes serve the same
// accounts with push notifications across nodes"): real `petrel` child processes on one PostgreSQL database.
// One node: first start creates the account in PostgreSQL; LOGIN, APPEND (RFC 4315 APPENDUID) and FETCH work.
// Two nodes (the second configured through PETREL_STORE): a session in IDLE (RFC 2177) on node A receives
// `* n EXISTS` for an APPEND made on node B, through LISTEN/NOTIFY. `petrel user` and `mailbox` commands take
// --store and the config file's `store` key and act on the same database; import/export take --blob-dir.
import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, it } from 'node:test';
import { openPostgresStore } from '../../src/store/postgres/postgres-store.js';
import { ImapTestClient, logoutQuietly } from '../helpers/imap-client.js';
import { createTestDatabase, ensurePostgres } from '../helpers/postgres.js';
import { freePort, petrel, serve, type Serving } from './serve-process.js';

const dirs: string[] = [];
after(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
  await (await ensurePostgres()).stop();
});

async function tempDir(): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'petrel-pgserve-'));
  dirs.push(d);
  return d;
}

/** Only the cleartext IMAP port (POP3 ports may be taken on the machine). */
async function listenArgs(): Promise<{ port: number; args: string[] }> {
  const port = await freePort();
  return { port, args: ['--imap-port', String(port), '--imaps-port', '0', '--pop3-port', '0', '--pop3s-port', '0'] };
}

async function login(port: number, user: string, password: string): Promise<ImapTestClient> {
  const c = await ImapTestClient.connect(port);
  const r = await c.command('l1', `LOGIN "${user}" "${password}"`);
  assert.match(r.tagged, /^l1 OK/, r.tagged);
  return c;
}

it('petrel serve --store postgres://…: first account in PostgreSQL, LOGIN, APPEND, FETCH', async () => {
  const db = await createTestDatabase(await ensurePostgres());
  const nodes: Serving[] = [];
  const clients: ImapTestClient[] = [];
  try {
    const { port, args } = await listenArgs();
    const node = await serve(['--data', await tempDir(), '--store', db.url, ...args]);
    nodes.push(node);
    assert.ok(node.user && node.password, node.stdout);
    assert.ok(!node.stdout.includes(new URL(db.url).password || '\u0000'), 'the database password is not printed');

    const c = await login(port, node.user, node.password);
    clients.push(c);
    const body = Buffer.from('From: a@example.org\r\nSubject: kept in PostgreSQL\r\n\r\nhello postgres\r\n');
    const app = await c.commandWithLiterals('a1', ['APPEND INBOX (\\Flagged) ', body]);
    assert.match(app.tagged, /^a1 OK \[APPENDUID \d+ 1\]/);
    await c.command('a2', 'SELECT INBOX');
    const fetch = await c.command('a3', 'UID FETCH 1 (FLAGS BODY.PEEK[])');
    assert.match(fetch.tagged, /^a3 OK/);
    const text = fetch.untagged.join('\n');
    assert.match(text, /FLAGS \(\\Flagged( \\Recent)?\)/);
    assert.ok(fetch.responses.some((r) => r.literals.some((l) => l.equals(body))), text);

    // The account and the message really are in the database, not in the data directory.
    const store = await openPostgresStore(db.url, { gcIntervalMs: 0 });
    try {
      const user = await store.getUser(node.user);
      assert.ok(user);
      const inbox = await store.getMailbox(user.id, 'INBOX');
      assert.ok(inbox);
      const msgs = await store.listMessages(inbox.id);
      assert.equal(msgs.length, 1);
      assert.deepEqual(await store.readBlob(msgs[0]!.blobId, 0, msgs[0]!.size), body);
    } finally {
      await store.close();
    }
  } finally {
    for (const c of clients) await logoutQuietly(c);
    for (const n of nodes) await n.stop();
    await db.drop();
  }
});

it('two petrel serve processes on one database: IDLE on node A sees an APPEND made on node B', async () => {
  const db = await createTestDatabase(await ensurePostgres());
  const nodes: Serving[] = [];
  const clients: ImapTestClient[] = [];
  try {
    // The account comes from `petrel user add --store`, before any node starts (so neither creates one).
    const add = await petrel(['user', 'add', 'ann', '--store', db.url, '--password-stdin'], 'ann-secret-pw\n');
    assert.equal(add.code, 0, add.stderr);
    const a = await listenArgs();
    const b = await listenArgs();
    nodes.push(await serve(['--data', await tempDir(), '--store', db.url, ...a.args]));
    nodes.push(await serve(['--data', await tempDir(), ...b.args], { PETREL_STORE: db.url }));
    assert.equal(nodes[0]!.user, null, 'an account existed: none is created');
    assert.equal(nodes[1]!.user, null);

    const idle = await login(a.port, 'ann', 'ann-secret-pw');
    clients.push(idle);
    const sel = await idle.command('i1', 'SELECT INBOX');
    assert.ok(sel.untagged.includes('* 0 EXISTS'), sel.untagged.join('\n'));
    idle.send('i2 IDLE');
    await idle.waitFor(/^\+ /);

    const writer = await login(b.port, 'ann', 'ann-secret-pw');
    clients.push(writer);
    const app = await writer.commandWithLiterals('w1', ['APPEND INBOX () ', Buffer.from('Subject: from node B\r\n\r\nhi A\r\n')]);
    assert.match(app.tagged, /^w1 OK \[APPENDUID \d+ 1\]/);
    await idle.waitFor(/^\* 1 EXISTS$/);
    idle.send('DONE');
    assert.match((await idle.readTagged('i2')).tagged, /^i2 OK/);
    const f = await idle.command('i3', 'FETCH 1 (BODY.PEEK[HEADER.FIELDS (SUBJECT)])');
    assert.match(f.untagged.join('\n'), /Subject: from node B/);
  } finally {
    for (const c of clients) await logoutQuietly(c);
    for (const n of nodes) await n.stop();
    await db.drop();
  }
});

it('user and mailbox commands take --store and the config file\'s store key', async () => {
  const db = await createTestDatabase(await ensurePostgres());
  const dir = await tempDir();
  try {
    const cfg = join(dir, 'petrel.toml');
    await writeFile(cfg, `store = ${JSON.stringify(db.url)}\n`);
    assert.equal((await petrel(['user', 'add', 'bob', '--config', cfg, '--password', 'bob-password-1'])).code, 0);
    const created = await petrel(['mailbox', 'create', 'Projects/2026', '--user', 'bob', '--store', db.url]);
    assert.equal(created.code, 0, created.stderr);
    const list = await petrel(['mailbox', 'list', '--user', 'bob', '--config', cfg]);
    assert.equal(list.code, 0, list.stderr);
    assert.match(list.stdout, /Projects\/2026/);
    const users = await petrel(['user', 'list', '--store', db.url]);
    assert.match(users.stdout, /^bob\b/m);
    // The embedded store of a fresh directory knows nothing of bob: the commands really used PostgreSQL.
    // (The data directory's own petrel.toml names the store too: PostgreSQL again.)
    const embedded = await petrel(['user', 'list', '--data', await tempDir()]);
    assert.equal(embedded.code, 0, embedded.stderr);
    assert.doesNotMatch(embedded.stdout, /bob/);
    assert.match((await petrel(['user', 'list', '--data', dir])).stdout, /^bob\b/m);
    // import with message bytes as files in --blob-dir; export reads them back.
    const blobs = await tempDir();
    const mbox = join(dir, 'in.mbox');
    await writeFile(mbox, 'From a@example.org Thu Jan  1 00:00:00 2026\nSubject: one\n\nfirst body\n\n' +
      'From b@example.org Thu Jan  1 00:01:00 2026\nSubject: two\n\nsecond body\n');
    const imp = await petrel(['import', '--user', 'bob', '--mbox', mbox, '--store', db.url, '--blob-dir', blobs]);
    assert.equal(imp.code, 0, imp.stderr);
    const blobFiles = (await readdir(join(blobs, 'blobs'), { recursive: true, withFileTypes: true })).filter((e) => e.isFile());
    assert.equal(blobFiles.length, 2);
    const out = join(dir, 'out.mbox');
    const exp = await petrel(['export', '--user', 'bob', '--mailbox', 'INBOX', '--mbox', out, '--store', db.url, '--blob-dir', blobs]);
    assert.equal(exp.code, 0, exp.stderr);
    const exported = await readFile(out, 'utf8');
    assert.match(exported, /first body/);
    assert.match(exported, /second body/);

    const bad = await petrel(['user', 'list', '--store', 'mysql://x']);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /not a postgres:\/\/… URL/);
  } finally {
    await db.drop();
  }
});
