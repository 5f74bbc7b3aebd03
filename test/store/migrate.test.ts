// `petrel migrate` (issue 8): an embedded store copied into PostgreSQL and back is equal to the original
// (users with password hashes, mailboxes with special-use, UIDVALIDITY, UIDNEXT and HIGHESTMODSEQ at least
// the source's, subscriptions, messages with UIDs, MODSEQs, bytes, flags, keywords and INTERNALDATE:
// RFC 9051 §2.3.1.1, RFC 7162 §3.1); a migration killed part-way finishes on a rerun with nothing copied twice;
// a rerun of a finished migration copies nothing; a target with someone else's user is refused.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { hashPassword } from '../../src/auth/password.js';
import { startServer } from '../../src/server/server.js';
import { mailboxDigest } from '../../src/store/migrate.js';
import { openPostgresStore } from '../../src/store/postgres/postgres-store.js';
import { openSqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import type { Store } from '../../src/store/types.js';
import { run } from '../cli/helpers.js';
import { ImapTestClient } from '../helpers/imap-client.js';
import { createTestDatabase, ensurePostgres } from '../helpers/postgres.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const BIN = join(ROOT, 'bin', 'petrel.js');
const dirs: string[] = [];

after(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
  await (await ensurePostgres()).stop();
});

async function tempDir(): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'petrel-migrate-'));
  dirs.push(d);
  return d;
}

function message(i: number, extra = ''): Buffer {
  return Buffer.from(
    `From: sender${i}@example.org\r\nTo: ann@example.org\r\nSubject: message ${i}\r\n` +
      `Message-ID: <m${i}@example.org>\r\n\r\nbody of message ${i}\r\n${extra}`,
  );
}

/** A source store: two users, several mailboxes (one with UID gaps), keywords, dates, subscriptions. */
async function makeSource(messagesInInbox: number): Promise<string> {
  const dir = await tempDir();
  const store = await openSqliteStore(dir);
  try {
    const ann = await store.createUser('ann', '$scrypt$ann-hash');
    const bob = await store.createUser('bob', '$scrypt$bob-hash');
    const inbox = await store.createMailbox(ann.id, 'INBOX');
    await store.createMailbox(ann.id, 'Sent', { specialUse: '\\Sent' });
    const work = await store.createMailbox(ann.id, 'Projects/Wörk');
    await store.createMailbox(bob.id, 'INBOX');
    await store.setSubscribed(ann.id, 'INBOX', true);
    await store.setSubscribed(ann.id, 'Projects/Wörk', true);
    await store.setSubscribed(ann.id, 'Gone/Away', true); // a subscription without a mailbox (RFC 9051 §6.3.7)
    for (let i = 0; i < messagesInInbox; i++) {
      const flags = i % 3 === 0 ? ['\\Seen'] : i % 3 === 1 ? ['\\Flagged', '$Important'] : [];
      await store.append(inbox.id, [
        { message: await store.prepare(message(i, 'x'.repeat(i * 37))), flags, internalDate: Date.UTC(2024, 0, 1) + i * 60_000 },
      ]);
    }
    // UID gaps: 5 messages, the 2nd and 4th expunged.
    for (let i = 100; i < 105; i++) {
      await store.append(work.id, [{ message: await store.prepare(message(i)), flags: i % 2 ? ['\\Deleted'] : ['\\Answered'] }]);
    }
    assert.deepEqual(await store.expunge(work.id), [2, 4]);
    // The same bytes twice (deduplicated blob) in two users' mailboxes.
    const bobInbox = (await store.getMailbox(bob.id, 'INBOX'))!;
    await store.append(bobInbox.id, [{ message: await store.prepare(message(0, '')), flags: ['\\Draft'] }]);
  } finally {
    await store.close();
  }
  return dir;
}

interface Snapshot {
  users: Array<{ name: string; hash: string; subscriptions: string[] }>;
  mailboxes: Array<{
    user: string;
    name: string;
    specialUse: string | null;
    uidValidity: number;
    uidNext: number;
    digest: string;
    messages: Array<{ uid: number; modSeq: number; flags: string[]; date: number; bytes: string }>;
  }>;
  /** HIGHESTMODSEQ per "user/mailbox": the target's may be above the source's, never below. */
  highestModSeq: Map<string, number>;
}

/** `copy` equals `orig`, and every HIGHESTMODSEQ of `copy` is at least the original's. */
function assertSameStore(copy: Snapshot, orig: Snapshot): void {
  assert.deepEqual(copy.users, orig.users);
  assert.deepEqual(copy.mailboxes, orig.mailboxes);
  for (const [k, h] of orig.highestModSeq) assert.ok((copy.highestModSeq.get(k) ?? 0) >= h, `HIGHESTMODSEQ of ${k}`);
}

async function snapshot(store: Store): Promise<Snapshot> {
  const snap: Snapshot = { users: [], mailboxes: [], highestModSeq: new Map() };
  for (const u of (await store.listUsers()).sort((a, b) => a.name.localeCompare(b.name))) {
    snap.users.push({ name: u.name, hash: u.passwordHash, subscriptions: (await store.listSubscriptions(u.id)).sort() });
    for (const b of (await store.listMailboxes(u.id)).sort((x, y) => (x.name < y.name ? -1 : 1))) {
      const list = await store.listMessages(b.id);
      const messages = [];
      for (const m of list) {
        messages.push({
          uid: m.uid,
          modSeq: m.modSeq,
          flags: [...m.flags].sort(),
          date: m.internalDate,
          bytes: (await store.readBlob(m.blobId, 0, m.size)).toString('latin1'),
        });
      }
      snap.mailboxes.push({
        user: u.name,
        name: b.name,
        specialUse: b.specialUse,
        uidValidity: b.uidValidity,
        uidNext: b.uidNext,
        digest: mailboxDigest(list),
        messages,
      });
      snap.highestModSeq.set(`${u.name}/${b.name}`, b.highestModSeq);
    }
  }
  return snap;
}

async function snapshotDir(dir: string): Promise<Snapshot> {
  const store = await openSqliteStore(dir);
  try {
    return await snapshot(store);
  } finally {
    await store.close();
  }
}

async function snapshotPg(url: string): Promise<Snapshot> {
  const store = await openPostgresStore(url, { gcIntervalMs: 0 });
  try {
    return await snapshot(store);
  } finally {
    await store.close();
  }
}

function digestsPrinted(stdout: string): string[] {
  return [...stdout.matchAll(/\b([0-9a-f]{64})\b/g)].map((m) => m[1]!);
}

it('SQLite -> PostgreSQL -> SQLite: everything arrives, equal, with the same UIDVALIDITY, UIDs and MODSEQs, verified', async () => {
  const src = await makeSource(12);
  const db = await createTestDatabase(await ensurePostgres());
  const back = join(await tempDir(), 'back');
  try {
    const before = await snapshotDir(src);
    assert.equal(before.mailboxes.length, 4);

    const there = await run(['migrate', '--from', src, '--to', db.url, '--batch', '5']);
    assert.equal(there.code, 0, there.stderr);
    assert.match(there.stdout, /users: 2, mailboxes: 4, messages: 16 \(16 copied by this run\)/);
    assert.match(there.stdout, /verified: counts, UIDVALIDITY, UIDs, mod-sequences and digests of source and target agree/);
    // Every mailbox keeps its UIDVALIDITY and UIDs, also the one with gaps (UIDs 1, 3, 5; UIDNEXT 6).
    const work = before.mailboxes.find((m) => m.name === 'Projects/Wörk')!;
    assert.deepEqual([work.messages.map((m) => m.uid), work.uidNext], [[1, 3, 5], 6]);
    assert.match(there.stdout, new RegExp(`ann\\s+INBOX\\s+12\\s+12\\s+${before.mailboxes.find((m) => m.user === 'ann' && m.name === 'INBOX')!.uidValidity}\\s+same`));
    assert.match(there.stdout, new RegExp(`ann\\s+Projects/Wörk\\s+3\\s+3\\s+${work.uidValidity}\\s+same`));
    assert.doesNotMatch(there.stdout, /renumbered/);
    assertSameStore(await snapshotPg(db.url), before);

    const home = await run(['migrate', '--from', db.url, '--to', back, '-q']);
    assert.equal(home.code, 0, home.stderr);
    assertSameStore(await snapshotDir(back), before);
    // The digests printed on the way there and on the way back are the same, and are those of the source.
    assert.deepEqual(digestsPrinted(home.stdout), digestsPrinted(there.stdout));
    assert.deepEqual(digestsPrinted(there.stdout).sort(), before.mailboxes.map((m) => m.digest).sort());

    // A rerun of a finished migration copies nothing and still verifies.
    const again = await run(['migrate', '--from', src, '--to', db.url, '-q']);
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout, /messages: 16 \(0 copied by this run\)/);
    assertSameStore(await snapshotPg(db.url), before);
  } finally {
    await db.drop();
  }
});

function runChild(args: string[], until: (stdout: string, stderr: string) => boolean): Promise<{ stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, 'migrate', ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let killed = false;
    const check = () => {
      if (!killed && until(stdout, stderr)) {
        killed = true;
        child.kill('SIGKILL');
      }
    };
    child.stdout.on('data', (d) => ((stdout += d), check()));
    child.stderr.on('data', (d) => ((stderr += d), check()));
    child.on('error', reject);
    child.on('exit', () => resolve({ stdout, stderr }));
  });
}

it('killed part-way (SQLite -> PostgreSQL), a rerun completes with nothing duplicated or lost', async () => {
  const src = await makeSource(40);
  const db = await createTestDatabase(await ensurePostgres());
  try {
    const before = await snapshotDir(src);
    // Stopped at a known point: after 3 batches of 4, inside ann's INBOX, then SIGKILL.
    const first = await runChild(['--from', src, '--to', db.url, '--batch', '4', '--pause-after', '3'], (_o, e) =>
      e.includes('paused after 3 batches'),
    );
    assert.match(first.stdout, /ann\/INBOX: 12\/40 messages/);
    const partial = await snapshotPg(db.url);
    const partialInbox = partial.mailboxes.find((m) => m.user === 'ann' && m.name === 'INBOX')!;
    assert.equal(partialInbox.messages.length, 12);
    // The prefix already has the source's UIDVALIDITY and UIDs.
    const sourceInbox = before.mailboxes.find((m) => m.user === 'ann' && m.name === 'INBOX')!;
    assert.equal(partialInbox.uidValidity, sourceInbox.uidValidity);
    assert.deepEqual(partialInbox.messages, sourceInbox.messages.slice(0, 12));

    const rerun = await run(['migrate', '--from', src, '--to', db.url, '--batch', '4']);
    assert.equal(rerun.code, 0, rerun.stderr);
    assert.match(rerun.stdout, /ann\/INBOX: resuming after 12 messages/);
    assert.match(rerun.stdout, /messages: 44 \(32 copied by this run\)/);
    assertSameStore(await snapshotPg(db.url), before);
  } finally {
    await db.drop();
  }
});

it('killed at an arbitrary moment (PostgreSQL -> SQLite), a rerun completes with nothing duplicated or lost', async () => {
  const src = await makeSource(30);
  const db = await createTestDatabase(await ensurePostgres());
  const dst = join(await tempDir(), 'dst');
  try {
    const there = await run(['migrate', '--from', src, '--to', db.url, '-q']);
    assert.equal(there.code, 0, there.stderr);
    const before = await snapshotPg(db.url);
    // SIGKILL as soon as the first batch is reported: wherever the process happens to be then.
    await runChild(['--from', db.url, '--to', dst, '--batch', '2'], (o) => /\d+\/\d+ messages/.test(o));
    const rerun = await run(['migrate', '--from', db.url, '--to', dst, '--batch', '2']);
    assert.equal(rerun.code, 0, rerun.stderr);
    const copied = Number(/messages: 34 \((\d+) copied by this run\)/.exec(rerun.stdout)?.[1]);
    assert.ok(copied < 34, rerun.stdout); // the killed run had copied some
    assertSameStore(await snapshotDir(dst), before);
  } finally {
    await db.drop();
  }
});

it('refuses a target that holds a user it did not create, and a rerun from another source', async () => {
  const src = await makeSource(2);
  const other = await makeSource(1);
  const dst = await tempDir();
  const pre = await openSqliteStore(dst);
  await pre.createUser('bob', '$scrypt$someone-else');
  await pre.close();
  const refused = await run(['migrate', '--from', src, '--to', dst]);
  assert.equal(refused.code, 1);
  assert.match(refused.stderr, /already has a user "bob" that this migration did not create/);

  const dst2 = join(await tempDir(), 'new');
  const killed = await runChild(['--from', src, '--to', dst2, '--batch', '1', '--pause-after', '1'], (_o, e) =>
    e.includes('paused'),
  );
  assert.match(killed.stderr, /paused after 1 batches/);
  const wrongSource = await run(['migrate', '--from', other, '--to', dst2]);
  assert.equal(wrongSource.code, 1);
  assert.match(wrongSource.stderr, /unfinished migration from .* not from/);
  const missing = await run(['migrate', '--from', join(dst2, 'nothing'), '--to', dst]);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /no store in/);
});

/** Serves `store` on a loopback port while `fn` runs; `fn` gets a logged-in session of ann with QRESYNC. */
async function withSession(store: Store, fn: (c: ImapTestClient) => Promise<void>): Promise<void> {
  const server = await startServer({ store, host: '127.0.0.1', imapPort: 0, imapsPort: null, tls: null });
  const c = await ImapTestClient.connect(server.imapPort!);
  try {
    assert.match((await c.command('L', 'LOGIN ann "ann pw"')).tagged, /^L OK/);
    assert.match((await c.command('E', 'ENABLE QRESYNC IMAP4rev2')).tagged, /^E OK/);
    await fn(c);
    await c.command('O', 'LOGOUT');
  } finally {
    c.close();
    await server.close();
  }
}

function uidFlags(lines: string[]): string[] {
  return lines
    .filter((l) => / FETCH /.test(l))
    .map((l) => `${/UID (\d+)/.exec(l)?.[1]} ${(/FLAGS \(([^)]*)\)/.exec(l)?.[1] ?? '').split(' ').sort().join(' ')}`);
}

it('a QRESYNC client in sync with the embedded store finds nothing to resync on PostgreSQL (RFC 7162 §3.2.5)', async () => {
  const src = await makeSource(7);
  const db = await createTestDatabase(await ensurePostgres());
  try {
    // What a client caches from the source: UIDVALIDITY, HIGHESTMODSEQ, and UID -> FLAGS.
    let uidValidity = 0;
    let highest = 0;
    let cache: string[] = [];
    const s = await openSqliteStore(src);
    try {
      await s.setPassword('ann', await hashPassword('ann pw'));
      await withSession(s, async (c) => {
        const sel = await c.command('S', 'SELECT "Projects/Wörk"');
        uidValidity = Number(/\[UIDVALIDITY (\d+)\]/.exec(sel.untagged.join('\n'))?.[1]);
        highest = Number(/\[HIGHESTMODSEQ (\d+)\]/.exec(sel.untagged.join('\n'))?.[1]);
        cache = uidFlags((await c.command('F', 'UID FETCH 1:* (FLAGS)')).untagged);
      });
    } finally {
      await s.close();
    }
    assert.ok(uidValidity > 0 && highest > 0);
    assert.deepEqual(cache.map((x) => x.split(' ')[0]), ['1', '3', '5']); // UIDs with gaps

    const there = await run(['migrate', '--from', src, '--to', db.url, '-q']);
    assert.equal(there.code, 0, there.stderr);

    const t = await openPostgresStore(db.url, { gcIntervalMs: 0 });
    try {
      await withSession(t, async (c) => {
        // Same UIDVALIDITY, and from the cached HIGHESTMODSEQ: no VANISHED, no FETCH — nothing to do.
        const sel = await c.command('S', `SELECT "Projects/Wörk" (QRESYNC (${uidValidity} ${highest} 1:5))`);
        assert.match(sel.tagged, /^S OK/);
        assert.ok(sel.untagged.some((l) => l.includes(`[UIDVALIDITY ${uidValidity}]`)), sel.untagged.join('\n'));
        assert.deepEqual(sel.untagged.filter((l) => /VANISHED| FETCH /.test(l)), [], sel.untagged.join('\n'));
        assert.deepEqual(uidFlags((await c.command('F', 'UID FETCH 1:* (FLAGS)')).untagged), cache);
        // A change made on the target after the migration is exactly what the next resync reports.
        assert.match((await c.command('ST', 'UID STORE 3 +FLAGS.SILENT (\\Flagged)')).tagged, /^ST OK/);
        await c.command('U', 'UNSELECT');
        const again = await c.command('S2', `SELECT "Projects/Wörk" (QRESYNC (${uidValidity} ${highest} 1:5))`);
        const changes = again.untagged.filter((l) => /VANISHED| FETCH /.test(l));
        assert.equal(changes.length, 1, again.untagged.join('\n'));
        assert.match(changes[0]!, /UID 3\b.*\\Flagged|\\Flagged.*UID 3\b/);
      });
    } finally {
      await t.close();
    }
  } finally {
    await db.drop();
  }
});
