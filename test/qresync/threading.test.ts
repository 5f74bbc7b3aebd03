// THREADID assignment (RFC 8474 §5.2, src/store/threading.ts) through the real SQLite store, and the
// tombstone retention policy (RFC 7162 §5.3, src/store/sqlite/thread-index.ts) run from collectGarbage.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openSqliteStore, type SqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import { baseSubject, threadKeys } from '../../src/store/threading.js';

async function withStore(fn: (store: SqliteStore) => Promise<void>, opts: Parameters<typeof openSqliteStore>[1] = {}): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'petrel-thread-'));
  const store = await openSqliteStore(dir, { gcIntervalMs: 0, ...opts });
  try {
    await fn(store);
  } finally {
    await store.close();
    await rm(dir, { recursive: true, force: true });
  }
}

function mail(headers: Record<string, string>): Buffer {
  const lines = Object.entries(headers).map(([k, v]) => `${k}: ${v}`);
  return Buffer.from(`From: a@example.com\r\n${lines.join('\r\n')}\r\n\r\nbody\r\n`);
}

async function put(store: SqliteStore, mailboxId: number, headers: Record<string, string>): Promise<string | null> {
  const prepared = await store.prepare(mail(headers));
  const res = await store.append(mailboxId, [{ message: prepared, flags: [] }]);
  const [rec] = await store.getMessages(mailboxId, res.uids);
  return rec!.threadId;
}

test('threadKeys: Message-ID, References then In-Reply-To, base subject', () => {
  const k = threadKeys(
    Buffer.from(
      'Message-ID: <c@x>\r\nReferences: <a@x>\r\n <b@x> (comment) <a@x>\r\nIn-Reply-To: <b@x> (Bob)\r\nSubject: Re: [list] Fwd: Plans\r\n\r\n',
    ),
  );
  assert.deepEqual(k, { messageId: '<c@x>', parents: ['<a@x>', '<b@x>'], baseSubject: 'plans', isReply: true });
  assert.deepEqual(baseSubject('Meeting (fwd)'), { base: 'meeting', isReply: true });
  assert.deepEqual(baseSubject('  Hello   world '), { base: 'hello world', isReply: false });
});

test('replies join their parent thread, across mailboxes; unrelated mail gets its own; ids are T-prefixed', async () => {
  await withStore(async (store) => {
    const user = await store.createUser('t', 'x');
    const inbox = await store.createMailbox(user.id, 'INBOX');
    const sent = await store.createMailbox(user.id, 'Sent');
    const a = await put(store, inbox.id, { 'Message-ID': '<a@x>', Subject: 'Message A' });
    const b = await put(store, sent.id, { 'Message-ID': '<b@x>', Subject: 'Re: Message A', References: '<a@x>' });
    const c = await put(store, inbox.id, { 'Message-ID': '<c@x>', Subject: 'Message C' });
    const d = await put(store, inbox.id, { 'Message-ID': '<d@x>', Subject: 'Re: Re: Message A', 'In-Reply-To': '<b@x>' });
    assert.ok(a && /^T[A-Za-z0-9_-]+$/.test(a), String(a));
    assert.equal(b, a);
    assert.equal(d, a);
    assert.notEqual(c, a);
    // A child that arrives before its parent: the parent then joins the child's thread.
    const child = await put(store, inbox.id, { 'Message-ID': '<late-child@x>', References: '<late-root@x>', Subject: 'Re: Late' });
    const root = await put(store, inbox.id, { 'Message-ID': '<late-root@x>', Subject: 'Late' });
    assert.equal(root, child);
    // A reply without References/In-Reply-To falls back to the base subject of a recent thread.
    const bare = await put(store, inbox.id, { 'Message-ID': '<bare@x>', Subject: 'RE: message c' });
    assert.equal(bare, c);
    // ...but a non-reply with the same subject starts a new thread.
    const again = await put(store, inbox.id, { 'Message-ID': '<again@x>', Subject: 'Message C' });
    assert.notEqual(again, c);
    // Another user's mail with the same ids is threaded separately.
    const other = await store.createUser('u', 'x');
    const oInbox = await store.createMailbox(other.id, 'INBOX');
    const o = await put(store, oInbox.id, { 'Message-ID': '<b2@x>', References: '<a@x>', Subject: 'Re: Message A' });
    assert.notEqual(o, a);
  });
});

test('COPY and MOVE keep EMAILID and THREADID; identical content appended twice gets two EMAILIDs', async () => {
  await withStore(async (store) => {
    const user = await store.createUser('t', 'x');
    const inbox = await store.createMailbox(user.id, 'INBOX');
    const other = await store.createMailbox(user.id, 'Other');
    const bytes = mail({ 'Message-ID': '<same@x>', Subject: 'Same' });
    const r1 = await store.append(inbox.id, [{ message: await store.prepare(bytes), flags: [] }]);
    const r2 = await store.append(inbox.id, [{ message: await store.prepare(bytes), flags: [] }]);
    const [m1, m2] = await store.getMessages(inbox.id, [...r1.uids, ...r2.uids]);
    assert.notEqual(m1!.emailId, m2!.emailId);
    assert.equal(m1!.threadId, m2!.threadId, 'same Message-ID, same thread');
    const copy = await store.copyMessages(inbox.id, r1.uids, other.id);
    const moved = await store.moveMessages(inbox.id, r2.uids, other.id);
    const [c, m] = await store.getMessages(other.id, [copy.mapping[0]![1], moved.mapping[0]![1]]);
    assert.equal(c!.emailId, m1!.emailId);
    assert.equal(m!.emailId, m2!.emailId);
    assert.equal(c!.threadId, m1!.threadId);
    assert.equal(m!.threadId, m2!.threadId);
  });
});

test('collectGarbage prunes tombstones beyond the per-mailbox cap (keeping young ones); changesSince then says truncated', async () => {
  await withStore(
    async (store) => {
      const user = await store.createUser('t', 'x');
      const box = await store.createMailbox(user.id, 'INBOX');
      const msg = await store.prepare(mail({ Subject: 'x' }));
      const res = await store.append(box.id, Array.from({ length: 6 }, () => ({ message: msg, flags: ['\\Deleted'] })));
      const before = (await store.getMailboxById(box.id))!.highestModSeq;
      for (const uid of res.uids) await store.expunge(box.id, [uid]);
      await store.collectGarbage();
      // Cap 2, no minimum age: the four oldest expunges go.
      const full = await store.changesSince(box.id, before);
      assert.equal(full.truncated, true);
      assert.deepEqual(full.expunged, res.uids.slice(4));
      const recent = await store.changesSince(box.id, before + 4);
      assert.equal(recent.truncated, false);
      assert.deepEqual(recent.expunged, res.uids.slice(4));
    },
    { tombstonePolicy: { maxPerMailbox: 2, minAgeMs: 0 } },
  );
  await withStore(
    async (store) => {
      const user = await store.createUser('t', 'x');
      const box = await store.createMailbox(user.id, 'INBOX');
      const msg = await store.prepare(mail({ Subject: 'x' }));
      const res = await store.append(box.id, Array.from({ length: 4 }, () => ({ message: msg, flags: ['\\Deleted'] })));
      const before = (await store.getMailboxById(box.id))!.highestModSeq;
      for (const uid of res.uids) await store.expunge(box.id, [uid]);
      await store.collectGarbage();
      // Default minimum age (1 day): nothing this young is pruned, whatever the cap.
      const all = await store.changesSince(box.id, before);
      assert.equal(all.truncated, false);
      assert.deepEqual(all.expunged, res.uids);
    },
    { tombstonePolicy: { maxPerMailbox: 1 } },
  );
});
