// One behavioural suite every Store backend runs (ARCHITECTURE "tests", item 3). It checks the
// contract of src/store/types.ts through the interface only: RFC 9051 §2.3.1.1 (UID strictly
// ascending, never reused; UIDVALIDITY new for every mailbox ever created), §2.3.2 (flags, \Recent),
// §6.3.4-§6.3.6 (DELETE, RENAME with children and INBOX), RFC 3502 (MULTIAPPEND all or nothing),
// RFC 4315 (COPYUID order), RFC 6851 (MOVE), RFC 7162 §3.1.3 (UNCHANGEDSINCE / MODIFIED), §3.1.11,
// RFC 7162 §3.2.5 (expunged log), RFC 8474 (OBJECTID syntax), decision 2 (poke after commit); the import-only
// restoreMessages (UIDVALIDITY, UIDs and mod-sequences kept for `petrel migrate`).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ChangeEvent, MailboxRecord, PreparedMessage, Store, StoreErrorCode, UserRecord } from '../types.js';
import { provisionUser } from '../provision.js';
import { localZoneOffset } from '../../protocol/dates.js';

export interface ConformanceFixture {
  store: Store;
  cleanup(): Promise<void>;
}

const OBJECT_ID = /^[A-Za-z0-9_-]{1,255}$/;

function message(n: number, body = `Body of message ${n}\r\n`): Buffer {
  return Buffer.from(
    `From: Alice <alice@example.org>\r\nTo: bob@example.org\r\nSubject: Message ${n}\r\n` +
      `Message-ID: <m${n}@example.org>\r\nDate: Mon, 7 Feb 1994 21:52:25 -0800\r\n\r\n${body}`,
  );
}

async function rejectsWith(p: Promise<unknown>, code: StoreErrorCode): Promise<void> {
  await assert.rejects(p, (err: unknown) => {
    const e = err as { name?: string; code?: string };
    assert.equal(e.name, 'StoreError', `expected StoreError(${code}), got ${String(err)}`);
    assert.equal(e.code, code);
    return true;
  });
}

function tick(ms = 0): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export function storeConformanceSuite(name: string, makeStore: () => Promise<ConformanceFixture>): void {
  /** Runs `fn` with a fresh store and a provisioned user; always cleans up. */
  async function withStore(
    fn: (ctx: { store: Store; user: UserRecord; inbox: MailboxRecord; mbox(name: string): Promise<MailboxRecord> }) => Promise<void>,
  ): Promise<void> {
    const fx = await makeStore();
    try {
      const store = fx.store;
      const user = await provisionUser(store, 'alice', 'hash-1');
      const inbox = (await store.getMailbox(user.id, 'INBOX'))!;
      const mbox = async (n: string): Promise<MailboxRecord> =>
        (await store.getMailbox(user.id, n)) ?? store.createMailbox(user.id, n);
      await fn({ store, user, inbox, mbox });
    } finally {
      await fx.cleanup();
    }
  }

  async function appendN(store: Store, mailboxId: number, n: number, flags: string[] = [], start = 1): Promise<number[]> {
    const items = [];
    for (let i = 0; i < n; i++) items.push({ message: await store.prepare(message(start + i)), flags });
    return (await store.append(mailboxId, items)).uids;
  }

  describe(`Store conformance: ${name}`, () => {
    describe('accounts', () => {
      it('creates, finds, lists, re-passwords and deletes users', async () => {
        const fx = await makeStore();
        try {
          const { store } = fx;
          const a = await store.createUser('alice', 'h1');
          const b = await store.createUser('bob', 'h2');
          assert.notEqual(a.id, b.id);
          assert.equal(a.name, 'alice');
          assert.equal(a.passwordHash, 'h1');
          await rejectsWith(store.createUser('alice', 'x'), 'ALREADYEXISTS');
          assert.deepEqual((await store.getUser('alice'))?.id, a.id);
          assert.equal(await store.getUser('carol'), null);
          assert.deepEqual(
            (await store.listUsers()).map((u) => u.name),
            ['alice', 'bob'],
          );
          await store.setPassword('alice', 'h3');
          assert.equal((await store.getUser('alice'))?.passwordHash, 'h3');
          await rejectsWith(store.setPassword('carol', 'x'), 'NONEXISTENT');
          const mb = await store.createMailbox(b.id, 'INBOX');
          await store.deleteUser('bob');
          assert.equal(await store.getUser('bob'), null);
          assert.equal(await store.getMailboxById(mb.id), null);
          await rejectsWith(store.deleteUser('bob'), 'NONEXISTENT');
          assert.deepEqual(
            (await store.listUsers()).map((u) => u.name),
            ['alice'],
          );
        } finally {
          await fx.cleanup();
        }
      });

      it('provisions INBOX and the special-use mailboxes, all subscribed', async () => {
        await withStore(async ({ store, user }) => {
          const boxes = await store.listMailboxes(user.id);
          const byName = new Map(boxes.map((b) => [b.name, b.specialUse]));
          assert.deepEqual(
            [...byName.keys()].sort(),
            ['Archive', 'Drafts', 'INBOX', 'Junk', 'Sent', 'Trash'],
          );
          assert.equal(byName.get('INBOX'), null);
          assert.equal(byName.get('Drafts'), '\\Drafts');
          assert.equal(byName.get('Sent'), '\\Sent');
          assert.equal(byName.get('Trash'), '\\Trash');
          assert.equal(byName.get('Junk'), '\\Junk');
          assert.equal(byName.get('Archive'), '\\Archive');
          assert.deepEqual(
            (await store.listSubscriptions(user.id)).sort(),
            ['Archive', 'Drafts', 'INBOX', 'Junk', 'Sent', 'Trash'],
          );
          for (const b of boxes) assert.match(b.objectId, OBJECT_ID);
          assert.equal(new Set(boxes.map((b) => b.objectId)).size, boxes.length);
          assert.equal(new Set(boxes.map((b) => b.uidValidity)).size, boxes.length);
        });
      });
    });

    describe('mailboxes', () => {
      it('creates and finds mailboxes; INBOX is case-insensitive', async () => {
        await withStore(async ({ store, user, inbox }) => {
          const work = await store.createMailbox(user.id, 'Work/Projects');
          assert.equal(work.name, 'Work/Projects');
          assert.equal(work.uidNext, 1);
          assert.ok(work.uidValidity > 0 && work.uidValidity <= 0xffffffff);
          await rejectsWith(store.createMailbox(user.id, 'Work/Projects'), 'ALREADYEXISTS');
          await rejectsWith(store.createMailbox(user.id, 'inbox'), 'ALREADYEXISTS');
          assert.equal((await store.getMailbox(user.id, 'iNbOx'))?.id, inbox.id);
          assert.equal(await store.getMailbox(user.id, 'work/projects'), null, 'other names are case-sensitive');
          assert.equal((await store.getMailboxById(work.id))?.name, 'Work/Projects');
          assert.equal(await store.getMailboxById(999_999), null);
        });
      });

      it('keeps mailboxes of different users apart', async () => {
        await withStore(async ({ store, user }) => {
          const bob = await provisionUser(store, 'bob', 'h');
          const bobInbox = (await store.getMailbox(bob.id, 'INBOX'))!;
          await appendN(store, bobInbox.id, 1);
          assert.notEqual(bobInbox.id, (await store.getMailbox(user.id, 'INBOX'))!.id);
          await store.createMailbox(bob.id, 'Private');
          assert.equal(await store.getMailbox(user.id, 'Private'), null);
          assert.ok(!(await store.listMailboxes(user.id)).some((m) => m.name === 'Private'));
          assert.equal((await store.mailboxStatus((await store.getMailbox(user.id, 'INBOX'))!.id)).messages, 0);
        });
      });

      it('deletes a mailbox with its messages but not its children; INBOX cannot be deleted', async () => {
        await withStore(async ({ store, user, mbox }) => {
          const parent = await mbox('Parent');
          const child = await mbox('Parent/Child');
          await appendN(store, parent.id, 2);
          await store.deleteMailbox(user.id, 'Parent');
          assert.equal(await store.getMailbox(user.id, 'Parent'), null);
          assert.equal((await store.getMailbox(user.id, 'Parent/Child'))?.id, child.id);
          await rejectsWith(store.deleteMailbox(user.id, 'Parent'), 'NONEXISTENT');
          await rejectsWith(store.deleteMailbox(user.id, 'INBOX'), 'NOPERM');
          await rejectsWith(store.listMessages(parent.id), 'NONEXISTENT');
          await rejectsWith(store.mailboxStatus(parent.id), 'NONEXISTENT');
        });
      });

      it('gives a re-created name a new UIDVALIDITY and never confuses the incarnations', async () => {
        await withStore(async ({ store, user }) => {
          const seen = new Set<number>();
          const ids = new Set<number>();
          let last: MailboxRecord | null = null;
          for (let i = 0; i < 5; i++) {
            const mb = await store.createMailbox(user.id, 'Again');
            assert.ok(!seen.has(mb.uidValidity), 'UIDVALIDITY reused');
            assert.ok(!ids.has(mb.id), 'mailbox id reused: a stale id would reach the new mailbox');
            seen.add(mb.uidValidity);
            ids.add(mb.id);
            if (last) assert.notEqual(mb.objectId, last.objectId);
            await appendN(store, mb.id, 1);
            await store.deleteMailbox(user.id, 'Again');
            last = mb;
          }
          for (const mb of await store.listMailboxes(user.id)) assert.ok(!seen.has(mb.uidValidity));
        });
      });

      it('renames a mailbox and its children, keeping ids, UIDVALIDITY and messages', async () => {
        await withStore(async ({ store, user, mbox }) => {
          const a = await mbox('A');
          const ab = await mbox('A/B');
          const abc = await mbox('A/B/C');
          const ax = await mbox('AX');
          await appendN(store, ab.id, 2);
          await store.renameMailbox(user.id, 'A', 'Z/Y');
          const names = (await store.listMailboxes(user.id)).map((m) => m.name);
          assert.ok(!names.includes('A') && !names.includes('A/B') && !names.includes('A/B/C'));
          assert.equal((await store.getMailbox(user.id, 'Z/Y'))?.id, a.id);
          const moved = (await store.getMailbox(user.id, 'Z/Y/B'))!;
          assert.equal(moved.id, ab.id);
          assert.equal(moved.uidValidity, ab.uidValidity);
          assert.equal(moved.objectId, ab.objectId);
          assert.equal((await store.getMailbox(user.id, 'Z/Y/B/C'))?.id, abc.id);
          assert.equal((await store.getMailbox(user.id, 'AX'))?.id, ax.id, 'a sibling with the same prefix stays');
          assert.equal((await store.listMessages(ab.id)).length, 2);
        });
      });

      it('refuses bad renames', async () => {
        await withStore(async ({ store, user, mbox }) => {
          await mbox('P');
          await mbox('Q');
          await mbox('R/Sub');
          await rejectsWith(store.renameMailbox(user.id, 'Nope', 'X'), 'NONEXISTENT');
          await rejectsWith(store.renameMailbox(user.id, 'P', 'Q'), 'ALREADYEXISTS');
          await rejectsWith(store.renameMailbox(user.id, 'P', 'P/Inside'), 'CANNOT');
          await mbox('Q2');
          await mbox('Q2/Sub');
          // A child would land on an existing name: nothing is renamed.
          await rejectsWith(store.renameMailbox(user.id, 'Q2', 'R'), 'ALREADYEXISTS');
          assert.ok(await store.getMailbox(user.id, 'Q2'));
          assert.ok(await store.getMailbox(user.id, 'Q2/Sub'));
        });
      });

      it('renames when new names overlap old ones ("a/b" to "a")', async () => {
        await withStore(async ({ store, user }) => {
          const ab = await store.createMailbox(user.id, 'a/b');
          const abb = await store.createMailbox(user.id, 'a/b/b');
          const abbb = await store.createMailbox(user.id, 'a/b/b/b');
          await store.renameMailbox(user.id, 'a/b', 'a');
          assert.equal((await store.getMailbox(user.id, 'a'))?.id, ab.id);
          assert.equal((await store.getMailbox(user.id, 'a/b'))?.id, abb.id);
          assert.equal((await store.getMailbox(user.id, 'a/b/b'))?.id, abbb.id);
          assert.equal(await store.getMailbox(user.id, 'a/b/b/b'), null);
        });
      });

      it('renames INBOX by moving its messages to a new mailbox; INBOX stays with its UIDVALIDITY', async () => {
        await withStore(async ({ store, user, inbox, mbox }) => {
          const child = await mbox('INBOX/Child');
          await appendN(store, inbox.id, 3, ['\\Flagged']);
          const before = await store.listMessages(inbox.id);
          await store.renameMailbox(user.id, 'INBOX', 'Old Mail');
          const old = (await store.getMailbox(user.id, 'Old Mail'))!;
          assert.notEqual(old.id, inbox.id);
          assert.notEqual(old.uidValidity, inbox.uidValidity);
          const after = (await store.getMailbox(user.id, 'INBOX'))!;
          assert.equal(after.id, inbox.id);
          assert.equal(after.uidValidity, inbox.uidValidity);
          assert.deepEqual(await store.listMessages(inbox.id), []);
          const movedMsgs = await store.listMessages(old.id);
          assert.equal(movedMsgs.length, 3);
          assert.deepEqual(
            movedMsgs.map((m) => [m.blobId, m.flags, m.emailId]),
            before.map((m) => [m.blobId, m.flags, m.emailId]),
          );
          assert.equal((await store.getMailbox(user.id, 'INBOX/Child'))?.id, child.id, 'children of INBOX stay');
          // UIDs are never reused in INBOX, and its log says what went away.
          const ch = await store.changesSince(inbox.id, inbox.highestModSeq);
          assert.deepEqual(ch.expunged, before.map((m) => m.uid));
          const [uid] = await appendN(store, inbox.id, 1);
          assert.ok(uid! > Math.max(...before.map((m) => m.uid)));
          await rejectsWith(store.renameMailbox(user.id, 'INBOX', 'Old Mail'), 'ALREADYEXISTS');
        });
      });

      it('keeps subscriptions as names, independent of mailboxes', async () => {
        await withStore(async ({ store, user }) => {
          await store.setSubscribed(user.id, 'Ghost', true);
          await store.setSubscribed(user.id, 'Ghost', true);
          assert.ok((await store.listSubscriptions(user.id)).includes('Ghost'));
          await store.createMailbox(user.id, 'Real');
          await store.setSubscribed(user.id, 'Real', true);
          await store.deleteMailbox(user.id, 'Real');
          assert.ok((await store.listSubscriptions(user.id)).includes('Real'), 'DELETE does not unsubscribe');
          await store.setSubscribed(user.id, 'Ghost', false);
          await store.setSubscribed(user.id, 'Ghost', false);
          assert.ok(!(await store.listSubscriptions(user.id)).includes('Ghost'));
        });
      });

      it('sets and clears special use', async () => {
        await withStore(async ({ store, mbox }) => {
          const m = await mbox('Everything');
          await store.setSpecialUse(m.id, '\\All');
          assert.equal((await store.getMailboxById(m.id))?.specialUse, '\\All');
          await store.setSpecialUse(m.id, null);
          assert.equal((await store.getMailboxById(m.id))?.specialUse, null);
          await rejectsWith(store.setSpecialUse(999_999, '\\All'), 'NONEXISTENT');
        });
      });
    });

    describe('append and uids', () => {
      it('assigns ascending uids, one mod-sequence per batch, and keeps per-message data', async () => {
        await withStore(async ({ store, inbox }) => {
          const p1 = await store.prepare(message(1));
          const p2 = await store.prepare(message(2));
          const date = Date.UTC(2020, 0, 2, 3, 4, 5);
          const before = Date.now();
          const r = await store.append(inbox.id, [
            { message: p1, flags: ['\\seen', '$Label1'], internalDate: date },
            { message: p2, flags: [] },
          ]);
          assert.equal(r.uidValidity, inbox.uidValidity);
          assert.deepEqual(r.uids, [1, 2]);
          assert.ok(r.modSeq > inbox.highestModSeq);
          const msgs = await store.listMessages(inbox.id);
          assert.deepEqual(
            msgs.map((m) => m.uid),
            [1, 2],
          );
          assert.deepEqual(
            msgs.map((m) => m.modSeq),
            [r.modSeq, r.modSeq],
          );
          const [m1, m2] = msgs as [(typeof msgs)[0], (typeof msgs)[0]];
          assert.deepEqual(m1.flags, ['\\Seen', '$Label1']);
          assert.equal(m1.internalDate, date);
          assert.equal(m1.size, message(1).length);
          assert.equal(m1.blobId, p1.blobId);
          assert.ok(m2.internalDate >= before, 'internal date defaults to now');
          assert.ok(m1.saveDate >= before);
          assert.notEqual(m1.emailId, m2.emailId);
          assert.match(m1.emailId, OBJECT_ID);
          const mb = (await store.getMailboxById(inbox.id))!;
          assert.equal(mb.uidNext, 3);
          assert.equal(mb.highestModSeq, r.modSeq);
          const r2 = await store.append(inbox.id, [{ message: p1, flags: [] }]);
          assert.deepEqual(r2.uids, [3]);
          assert.equal(r2.modSeq, r.modSeq + 1);
          assert.notEqual((await store.getMessages(inbox.id, [3]))[0]?.emailId, m1.emailId, 'each delivery gets an EMAILID');
        });
      });

      it('never stores \\Recent and de-duplicates flags case-insensitively', async () => {
        await withStore(async ({ store, inbox }) => {
          const p = await store.prepare(message(1));
          await store.append(inbox.id, [{ message: p, flags: ['\\Recent', '\\Seen', '\\SEEN', 'Work', 'WORK'] }]);
          assert.deepEqual((await store.listMessages(inbox.id))[0]?.flags, ['\\Seen', 'Work']);
        });
      });

      it('appends all or nothing (MULTIAPPEND)', async () => {
        await withStore(async ({ store, inbox }) => {
          const good = await store.prepare(message(1));
          await assert.rejects(
            store.append(inbox.id, [
              { message: good, flags: [] },
              { message: good, flags: ['bad flag'] },
            ]),
          );
          const missing: PreparedMessage = { blobId: 'f'.repeat(64), size: 10, mime: { v: 1 } };
          await assert.rejects(
            store.append(inbox.id, [
              { message: good, flags: [] },
              { message: missing, flags: [] },
            ]),
          );
          assert.deepEqual(await store.listMessages(inbox.id), []);
          const mb = (await store.getMailboxById(inbox.id))!;
          assert.equal(mb.uidNext, inbox.uidNext);
          assert.equal(mb.highestModSeq, inbox.highestModSeq);
          assert.equal((await store.mailboxStatus(inbox.id)).messages, 0);
          const r = await store.append(inbox.id, [{ message: good, flags: [] }]);
          assert.deepEqual(r.uids, [1]);
        });
      });

      it('answers TRYCREATE when appending to a mailbox that is gone', async () => {
        await withStore(async ({ store, user }) => {
          const m = await store.createMailbox(user.id, 'Gone');
          await store.deleteMailbox(user.id, 'Gone');
          const p = await store.prepare(message(1));
          await rejectsWith(store.append(m.id, [{ message: p, flags: [] }]), 'TRYCREATE');
        });
      });

      it('never reuses a uid after expunge', async () => {
        await withStore(async ({ store, inbox }) => {
          await appendN(store, inbox.id, 3);
          await store.storeFlags(inbox.id, [2, 3], 'add', ['\\Deleted']);
          assert.deepEqual(await store.expunge(inbox.id), [2, 3]);
          const [uid] = await appendN(store, inbox.id, 1);
          assert.equal(uid, 4);
          assert.deepEqual(
            (await store.listMessages(inbox.id)).map((m) => m.uid),
            [1, 4],
          );
        });
      });

      it('returns messages with their MIME index, ascending, only those that exist', async () => {
        await withStore(async ({ store, inbox }) => {
          await appendN(store, inbox.id, 5);
          const recs = await store.getMessages(inbox.id, [5, 2, 99, 2, 3]);
          assert.deepEqual(
            recs.map((r) => r.uid),
            [2, 3, 5],
          );
          for (const r of recs) {
            assert.equal(typeof r.mime.v, 'number');
            assert.equal(r.mime.v, 1);
          }
          assert.deepEqual(await store.getMessages(inbox.id, []), []);
          await rejectsWith(store.getMessages(999_999, [1]), 'NONEXISTENT');
        });
      });
    });

    describe('flags', () => {
      it('adds, removes and sets flags, keeping the first spelling of a keyword', async () => {
        await withStore(async ({ store, inbox }) => {
          await appendN(store, inbox.id, 3, ['$Work']);
          let r = await store.storeFlags(inbox.id, [1, 2], 'add', ['\\Seen', '$WORK', 'Later']);
          assert.deepEqual(
            r.updated.map((u) => [u.uid, u.flags]),
            [
              [1, ['$Work', '\\Seen', 'Later']],
              [2, ['$Work', '\\Seen', 'Later']],
            ],
          );
          r = await store.storeFlags(inbox.id, [1], 'remove', ['$work', 'later']);
          assert.deepEqual(r.updated[0]?.flags, ['\\Seen']);
          r = await store.storeFlags(inbox.id, [3], 'set', ['\\Answered', 'LATER']);
          assert.deepEqual(r.updated[0]?.flags, ['\\Answered', 'Later']);
          const msgs = await store.listMessages(inbox.id);
          assert.deepEqual(
            msgs.map((m) => m.flags),
            [['\\Seen'], ['$Work', '\\Seen', 'Later'], ['\\Answered', 'Later']],
          );
          await rejectsWith(store.storeFlags(999_999, [1], 'add', ['\\Seen']), 'NONEXISTENT');
        });
      });

      it('takes one mod-sequence per STORE, only for messages that changed', async () => {
        await withStore(async ({ store, inbox }) => {
          await appendN(store, inbox.id, 3);
          await store.storeFlags(inbox.id, [1], 'add', ['\\Seen']);
          const base = (await store.getMailboxById(inbox.id))!.highestModSeq;
          const r = await store.storeFlags(inbox.id, [1, 2, 3], 'add', ['\\Seen']);
          assert.equal(r.modSeq, base + 1);
          const changed = r.updated.filter((u) => u.changed !== false).map((u) => u.uid);
          assert.deepEqual(changed, [2, 3]);
          const msgs = await store.listMessages(inbox.id);
          assert.equal(msgs[0]?.modSeq, base, 'unchanged message keeps its mod-sequence');
          assert.equal(msgs[1]?.modSeq, base + 1);
          assert.equal(msgs[2]?.modSeq, base + 1);
          // Nothing changes: no new mod-sequence at all (RFC 7162 §3.1.11).
          const none = await store.storeFlags(inbox.id, [1, 2, 3], 'add', ['\\Seen']);
          assert.equal(none.modSeq, base + 1);
          assert.equal((await store.getMailboxById(inbox.id))!.highestModSeq, base + 1);
          assert.deepEqual((await store.changesSince(inbox.id, base + 1)).changed, []);
          // Touched messages are still reported with their flags.
          assert.deepEqual(
            none.updated.map((u) => [u.uid, u.flags]),
            [
              [1, ['\\Seen']],
              [2, ['\\Seen']],
              [3, ['\\Seen']],
            ],
          );
          const unknown = await store.storeFlags(inbox.id, [42], 'add', ['\\Seen']);
          assert.deepEqual(unknown.updated, []);
        });
      });

      it('honours UNCHANGEDSINCE and reports MODIFIED messages', async () => {
        await withStore(async ({ store, inbox }) => {
          await appendN(store, inbox.id, 3);
          const since = (await store.getMailboxById(inbox.id))!.highestModSeq;
          await store.storeFlags(inbox.id, [2], 'add', ['\\Flagged']);
          const r = await store.storeFlags(inbox.id, [1, 2, 3], 'add', ['\\Seen'], { unchangedSince: since });
          assert.deepEqual(r.modified, [2]);
          assert.deepEqual(
            r.updated.map((u) => u.uid),
            [1, 3],
          );
          const msgs = await store.listMessages(inbox.id);
          assert.deepEqual(
            msgs.map((m) => m.flags),
            [['\\Seen'], ['\\Flagged'], ['\\Seen']],
          );
          // RFC 7162 §3.1.3: UNCHANGEDSINCE 0 always fails.
          const zero = await store.storeFlags(inbox.id, [1], 'remove', ['\\Seen'], { unchangedSince: 0 });
          assert.deepEqual(zero.modified, [1]);
          assert.deepEqual((await store.listMessages(inbox.id))[0]?.flags, ['\\Seen']);
        });
      });

      it('rejects invalid flags', async () => {
        await withStore(async ({ store, inbox }) => {
          await appendN(store, inbox.id, 1);
          for (const bad of ['has space', '', 'par(en', '\\*', 'quo"te']) {
            await assert.rejects(store.storeFlags(inbox.id, [1], 'add', [bad]), `flag ${JSON.stringify(bad)}`);
          }
          assert.deepEqual((await store.listMessages(inbox.id))[0]?.flags, []);
        });
      });
    });

    describe('status and recent', () => {
      it('keeps STATUS counters exact through every operation', async () => {
        await withStore(async ({ store, inbox, mbox }) => {
          const other = await mbox('Other');
          await appendN(store, inbox.id, 4, ['\\Seen'], 1);
          await appendN(store, inbox.id, 2, [], 5);
          let st = await store.mailboxStatus(inbox.id);
          const sizes = [1, 2, 3, 4, 5, 6].map((n) => message(n).length);
          assert.equal(st.messages, 6);
          assert.equal(st.unseen, 2);
          assert.equal(st.deleted, 0);
          assert.equal(st.size, sizes.reduce((a, b) => a + b, 0));
          assert.equal(st.uidNext, 7);
          assert.equal(st.uidValidity, inbox.uidValidity);
          await store.storeFlags(inbox.id, [1, 5], 'add', ['\\Deleted']);
          await store.storeFlags(inbox.id, [2], 'remove', ['\\Seen']);
          st = await store.mailboxStatus(inbox.id);
          assert.equal(st.unseen, 3);
          assert.equal(st.deleted, 2);
          await store.expunge(inbox.id);
          st = await store.mailboxStatus(inbox.id);
          assert.equal(st.messages, 4);
          assert.equal(st.unseen, 2);
          assert.equal(st.deleted, 0);
          assert.equal(st.size, sizes[1]! + sizes[2]! + sizes[3]! + sizes[5]!);
          await store.moveMessages(inbox.id, [2, 6], other.id);
          st = await store.mailboxStatus(inbox.id);
          assert.equal(st.messages, 2);
          assert.equal(st.unseen, 0);
          const so = await store.mailboxStatus(other.id);
          assert.equal(so.messages, 2);
          assert.equal(so.unseen, 2);
          assert.equal(so.size, sizes[1]! + sizes[5]!);
          assert.equal(st.highestModSeq, (await store.getMailboxById(inbox.id))!.highestModSeq);
        });
      });

      it('hands out \\Recent once (claimRecent)', async () => {
        await withStore(async ({ store, inbox }) => {
          await appendN(store, inbox.id, 2);
          assert.equal((await store.mailboxStatus(inbox.id)).recent, 2);
          assert.equal(await store.claimRecent(inbox.id), 1);
          assert.equal((await store.mailboxStatus(inbox.id)).recent, 0);
          assert.equal(await store.claimRecent(inbox.id), 3, 'a second session sees nothing recent');
          await appendN(store, inbox.id, 1, [], 3);
          assert.equal((await store.mailboxStatus(inbox.id)).recent, 1);
          assert.equal(await store.claimRecent(inbox.id), 3);
          assert.equal(await store.claimRecent(inbox.id), 4);
          await rejectsWith(store.claimRecent(999_999), 'NONEXISTENT');
        });
      });
    });

    describe('internal date zones', () => {
      it('keeps the zone an internal date was given in through COPY, MOVE and RENAME INBOX; defaults to the local zone', async () => {
        await withStore(async ({ store, user, inbox, mbox }) => {
          const dst = await mbox('Zones');
          const date = Date.UTC(2007, 2, 24, 22, 30, 0); // 25-Mar-2007 00:30:00 +0200
          const p1 = await store.prepare(message(1));
          const p2 = await store.prepare(message(2));
          const p3 = await store.prepare(message(3));
          await store.append(inbox.id, [
            { message: p1, flags: [], internalDate: date, internalDateOffset: 120 },
            { message: p2, flags: [], internalDate: date, internalDateOffset: -(9 * 60 + 30) },
            { message: p3, flags: [], internalDate: date },
          ]);
          const listed = await store.listMessages(inbox.id);
          assert.deepEqual(
            listed.map((m) => [m.internalDate, m.internalDateOffset]),
            [
              [date, 120],
              [date, -570],
              [date, localZoneOffset(date)],
            ],
          );
          assert.deepEqual(
            (await store.getMessages(inbox.id, [1, 2])).map((m) => m.internalDateOffset),
            [120, -570],
          );
          await store.copyMessages(inbox.id, [1], dst.id);
          await store.moveMessages(inbox.id, [2], dst.id);
          assert.deepEqual(
            (await store.listMessages(dst.id)).map((m) => m.internalDateOffset),
            [120, -570],
          );
          await store.renameMailbox(user.id, 'INBOX', 'Zoned Inbox');
          const renamed = (await store.getMailbox(user.id, 'Zoned Inbox'))!;
          assert.deepEqual(
            (await store.listMessages(renamed.id)).map((m) => [m.uid, m.internalDateOffset]),
            [
              [1, 120],
              [3, localZoneOffset(date)],
            ],
          );
          // RFC 9051 zone: ("+" / "-") 4DIGIT, so at most 99 hours 59 minutes either way.
          const p4 = await store.prepare(message(4));
          await rejectsWith(store.append(dst.id, [{ message: p4, flags: [], internalDate: date, internalDateOffset: 6000 }]), 'CANNOT');
          await rejectsWith(store.append(dst.id, [{ message: p4, flags: [], internalDate: date, internalDateOffset: 1.5 }]), 'CANNOT');
        });
      });
    });

    describe('copy, move, expunge and the change log', () => {
      it('copies without new blobs, in source uid order, keeping flags, dates and EMAILID', async () => {
        await withStore(async ({ store, inbox, mbox }) => {
          const dst = await mbox('Dest');
          await appendN(store, dst.id, 1); // so destination uids differ from source uids
          await appendN(store, inbox.id, 4, ['\\Flagged', 'Kw']);
          const src = await store.listMessages(inbox.id);
          const before = Date.now();
          const r = await store.copyMessages(inbox.id, [4, 2, 3, 77], dst.id);
          assert.equal(r.uidValidity, dst.uidValidity);
          assert.deepEqual(r.mapping, [
            [2, 2],
            [3, 3],
            [4, 4],
          ]);
          const copies = await store.getMessages(dst.id, [2, 3, 4]);
          for (const [i, c] of copies.entries()) {
            const orig = src[i + 1]!;
            assert.equal(c.blobId, orig.blobId, 'same content, no new blob');
            assert.deepEqual(c.flags, orig.flags);
            assert.equal(c.internalDate, orig.internalDate);
            assert.equal(c.emailId, orig.emailId);
            assert.equal(c.size, orig.size);
            assert.ok(c.saveDate >= before);
            assert.equal(c.modSeq, r.modSeq);
          }
          assert.equal((await store.listMessages(inbox.id)).length, 4, 'source untouched');
          const empty = await store.copyMessages(inbox.id, [100], dst.id);
          assert.deepEqual(empty.mapping, []);
          await rejectsWith(store.copyMessages(inbox.id, [1], 999_999), 'TRYCREATE');
          await rejectsWith(store.copyMessages(999_999, [1], dst.id), 'NONEXISTENT');
        });
      });

      it('moves: copies, then expunges from the source with tombstones', async () => {
        await withStore(async ({ store, inbox, mbox }) => {
          const dst = await mbox('Dest');
          await appendN(store, inbox.id, 3);
          const since = (await store.getMailboxById(inbox.id))!.highestModSeq;
          const r = await store.moveMessages(inbox.id, [1, 3], dst.id);
          assert.deepEqual(r.mapping, [
            [1, 1],
            [3, 2],
          ]);
          assert.deepEqual(r.expunged, [1, 3]);
          assert.deepEqual(
            (await store.listMessages(inbox.id)).map((m) => m.uid),
            [2],
          );
          assert.deepEqual(
            (await store.listMessages(dst.id)).map((m) => m.uid),
            [1, 2],
          );
          const ch = await store.changesSince(inbox.id, since);
          assert.deepEqual(ch.expunged, [1, 3]);
          assert.deepEqual(ch.changed, []);
          assert.equal(ch.highestModSeq, since + 1);
          await rejectsWith(store.moveMessages(inbox.id, [2], 999_999), 'TRYCREATE');
          assert.equal((await store.listMessages(inbox.id)).length, 1, 'failed MOVE changes nothing');
        });
      });

      it('expunges only \\Deleted messages, optionally only some, and logs them', async () => {
        await withStore(async ({ store, inbox }) => {
          await appendN(store, inbox.id, 5);
          await store.storeFlags(inbox.id, [1, 2, 4], 'add', ['\\Deleted']);
          const since = (await store.getMailboxById(inbox.id))!.highestModSeq;
          assert.deepEqual(await store.expunge(inbox.id, [2, 3, 4]), [2, 4]);
          assert.deepEqual(
            (await store.listMessages(inbox.id)).map((m) => m.uid),
            [1, 3, 5],
          );
          const afterFirst = (await store.getMailboxById(inbox.id))!.highestModSeq;
          assert.equal(afterFirst, since + 1);
          assert.deepEqual(await store.expunge(inbox.id), [1]);
          assert.deepEqual(await store.expunge(inbox.id), []);
          assert.equal((await store.getMailboxById(inbox.id))!.highestModSeq, afterFirst + 1, 'empty expunge takes no modseq');
          const ch = await store.changesSince(inbox.id, since);
          assert.deepEqual(ch.expunged, [1, 2, 4]);
          assert.equal(ch.truncated, false);
          assert.equal(ch.uidNext, 6);
          const ch2 = await store.changesSince(inbox.id, afterFirst);
          assert.deepEqual(ch2.expunged, [1]);
          await rejectsWith(store.expunge(999_999), 'NONEXISTENT');
        });
      });

      it('answers changesSince from rows and tombstones', async () => {
        await withStore(async ({ store, inbox }) => {
          const m0 = (await store.getMailboxById(inbox.id))!.highestModSeq;
          await appendN(store, inbox.id, 4);
          const m1 = (await store.getMailboxById(inbox.id))!.highestModSeq;
          await store.storeFlags(inbox.id, [3], 'add', ['\\Seen']);
          const m2 = (await store.getMailboxById(inbox.id))!.highestModSeq;
          await store.storeFlags(inbox.id, [1], 'add', ['\\Deleted']);
          await store.expunge(inbox.id);
          const all = await store.changesSince(inbox.id, m0);
          assert.deepEqual(
            all.changed.map((m) => m.uid),
            [2, 3, 4],
          );
          assert.deepEqual(all.expunged, [1]);
          const fromM1 = await store.changesSince(inbox.id, m1);
          assert.deepEqual(
            fromM1.changed.map((m) => [m.uid, m.flags]),
            [[3, ['\\Seen']]],
          );
          assert.deepEqual(fromM1.expunged, [1]);
          const fromM2 = await store.changesSince(inbox.id, m2);
          assert.deepEqual(fromM2.changed, []);
          assert.deepEqual(fromM2.expunged, [1]);
          const now = await store.changesSince(inbox.id, fromM2.highestModSeq);
          assert.deepEqual([now.changed, now.expunged], [[], []]);
          await rejectsWith(store.changesSince(999_999, 0), 'NONEXISTENT');
        });
      });

      it('publishes events only after the change is committed', async () => {
        await withStore(async ({ store, user, inbox, mbox }) => {
          const other = await mbox('Other');
          const seen: Array<{ event: ChangeEvent; visible: Promise<number> }> = [];
          const unwatch = store.watchMailbox(inbox.id, (event) => {
            // A listener reading right away must see the committed state.
            seen.push({ event, visible: store.listMessages(inbox.id).then((m) => m.length) });
          });
          const userEvents: ChangeEvent[] = [];
          const unwatchUser = store.watchUser(user.id, (e) => userEvents.push(e));
          const otherEvents: ChangeEvent[] = [];
          const unwatchOther = store.watchMailbox(other.id, (e) => otherEvents.push(e));
          const r = await store.append(inbox.id, [{ message: await store.prepare(message(1)), flags: [] }]);
          await tick();
          assert.equal(seen.length, 1);
          assert.deepEqual(seen[0]!.event, { mailboxId: inbox.id, userId: user.id, modSeq: r.modSeq });
          assert.equal(await seen[0]!.visible, 1);
          await store.storeFlags(inbox.id, [1], 'add', ['\\Seen']);
          await store.storeFlags(inbox.id, [1], 'add', ['\\Seen']); // no change, no event
          await tick();
          assert.equal(seen.length, 2);
          await store.moveMessages(inbox.id, [1], other.id);
          await tick();
          assert.equal(seen.length, 3);
          assert.equal(await seen[2]!.visible, 0);
          assert.equal(otherEvents.length, 1);
          assert.ok(userEvents.some((e) => e.mailboxId === other.id));
          const n = userEvents.length;
          const created = await store.createMailbox(user.id, 'Fresh');
          await tick();
          assert.ok(userEvents.slice(n).some((e) => e.mailboxId === created.id), 'mailbox list change reaches watchUser');
          unwatch();
          unwatchUser();
          unwatchOther();
          await appendN(store, inbox.id, 1, [], 2);
          await tick();
          assert.equal(seen.length, 3, 'no events after unsubscribe');
        });
      });

      it('a throwing listener does not break the write or other listeners', async () => {
        await withStore(async ({ store, inbox }) => {
          let calls = 0;
          const u1 = store.watchMailbox(inbox.id, () => {
            throw new Error('listener bug');
          });
          const u2 = store.watchMailbox(inbox.id, () => calls++);
          const uids = await appendN(store, inbox.id, 1);
          await tick();
          assert.deepEqual(uids, [1]);
          assert.equal(calls, 1);
          u1();
          u2();
        });
      });
    });

    describe('message bytes', () => {
      it('reads byte ranges and streams them in chunks', async () => {
        await withStore(async ({ store, inbox }) => {
          const body = Buffer.alloc(300_000);
          for (let i = 0; i < body.length; i++) body[i] = 32 + (i % 90);
          const data = Buffer.concat([Buffer.from('Subject: big\r\n\r\n'), body]);
          const p = await store.prepare(data);
          assert.equal(p.size, data.length);
          await store.append(inbox.id, [{ message: p, flags: [] }]);
          assert.deepEqual(await store.readBlob(p.blobId, 0, data.length), data);
          assert.deepEqual(await store.readBlob(p.blobId, 10, 20), data.subarray(10, 20));
          assert.deepEqual(await store.readBlob(p.blobId, 250_000, 1e9), data.subarray(250_000));
          assert.equal((await store.readBlob(p.blobId, 5, 5)).length, 0);
          assert.equal((await store.readBlob(p.blobId, data.length + 10, data.length + 20)).length, 0);
          const chunks: Buffer[] = [];
          for await (const c of store.streamBlob(p.blobId, 1000, 200_000)) {
            assert.ok(c.length > 0 && c.length <= 64 * 1024);
            chunks.push(c);
          }
          assert.ok(chunks.length >= 3);
          assert.deepEqual(Buffer.concat(chunks), data.subarray(1000, 200_000));
          const all: Buffer[] = [];
          for await (const c of store.streamBlob(p.blobId, 0, Infinity)) all.push(c);
          assert.deepEqual(Buffer.concat(all), data);
          await rejectsWith(store.readBlob('0'.repeat(64), 0, 10), 'NONEXISTENT');
        });
      });

      it('ingests a stream in pieces to the same blob and index as a whole buffer', async () => {
        await withStore(async ({ store }) => {
          const data = message(7, 'line one\r\nline two\r\n'.repeat(5000));
          const whole = await store.prepare(data);
          const w = store.beginIngest();
          for (let i = 0; i < data.length; i += 777) await w.write(data.subarray(i, i + 777));
          const streamed = await w.finish();
          assert.equal(streamed.blobId, whole.blobId);
          assert.equal(streamed.size, data.length);
          assert.deepEqual(streamed.mime, whole.mime);
          assert.deepEqual(await store.readBlob(streamed.blobId, 0, data.length), data);
          // Writes issued without waiting are applied in order.
          const w2 = store.beginIngest();
          const parts = [data.subarray(0, 100), data.subarray(100, 70_000), data.subarray(70_000)];
          await Promise.all(parts.map((p) => w2.write(p)));
          assert.equal((await w2.finish()).blobId, whole.blobId);
          const w3 = store.beginIngest();
          await w3.write(Buffer.from('Subject: abandoned\r\n\r\nnever finished\r\n'));
          await w3.abort();
        });
      });

      it('garbage-collects unreferenced blobs but not referenced or freshly prepared ones', async () => {
        await withStore(async ({ store, inbox, mbox }) => {
          const other = await mbox('Other');
          const keep = await store.prepare(message(1));
          const drop = await store.prepare(message(2));
          const shared = await store.prepare(message(3));
          await store.append(inbox.id, [
            { message: keep, flags: [] },
            { message: drop, flags: ['\\Deleted'] },
            { message: shared, flags: ['\\Deleted'] },
          ]);
          await store.copyMessages(inbox.id, [3], other.id);
          await store.expunge(inbox.id);
          const pending = await store.prepare(message(4)); // prepared, not yet appended
          const gc = await store.collectGarbage();
          assert.equal(gc.removedBlobs, 1);
          await rejectsWith(store.readBlob(drop.blobId, 0, 10), 'NONEXISTENT');
          assert.equal((await store.readBlob(keep.blobId, 0, 4)).toString(), 'From');
          assert.equal((await store.readBlob(shared.blobId, 0, 4)).toString(), 'From', 'still referenced by the copy');
          assert.equal((await store.readBlob(pending.blobId, 0, 4)).toString(), 'From');
          const r = await store.append(other.id, [{ message: pending, flags: [] }]);
          assert.equal(r.uids.length, 1);
          // Re-preparing content whose blob was unreferenced protects it again until it is appended.
          await store.storeFlags(other.id, [1], 'add', ['\\Deleted']);
          await store.expunge(other.id);
          await tick(5);
          const again = await store.prepare(message(3));
          assert.equal(again.blobId, shared.blobId);
          await store.collectGarbage();
          await store.append(inbox.id, [{ message: again, flags: [] }]);
          assert.equal((await store.readBlob(shared.blobId, 0, 4)).toString(), 'From');
          // A deleted mailbox releases its messages.
          await store.deleteMailbox((await store.getMailboxById(other.id))!.userId, 'Other');
          assert.equal((await store.collectGarbage()).removedBlobs, 1);
          await rejectsWith(store.readBlob(pending.blobId, 0, 10), 'NONEXISTENT');
        });
      });
    });

    // docs/sync.md "Partial messages": a replica keeps messages whose bytes are partly downloaded.
    describe('FETCH render cache (getFetchCache / putFetchCache)', () => {
      const ALL = ['envelope', 'body', 'bodystructure'] as const;
      it('keeps texts per slot and content; the index comes only where a slot asked for has none; goes with EXPUNGE and replaceContent', async () => {
        await withStore(async ({ store, inbox, mbox }) => {
          if (!store.getFetchCache || !store.putFetchCache) return; // optional
          const uids = await appendN(store, inbox.id, 3);
          const full = await store.getMessages(inbox.id, uids);
          const fresh = await store.getFetchCache(inbox.id, [...uids, 99], ALL, true);
          assert.deepEqual(fresh.map((r) => r.uid), uids);
          for (const [i, r] of fresh.entries()) {
            assert.deepEqual(r.cached, [null, null, null]);
            assert.deepEqual(JSON.parse(r.mimeJson!), full[i]!.mime);
            for (const k of ['modSeq', 'flags', 'internalDate', 'size', 'blobId', 'saveDate', 'emailId', 'threadId'] as const) {
              assert.deepEqual(r.meta![k], full[i]![k], k);
            }
          }
          await store.putFetchCache(full.slice(0, 2).map((m) => ({ mailboxId: inbox.id, uid: m.uid, blobId: m.blobId, texts: { bodystructure: `bs ${m.uid}` } })));
          await store.putFetchCache([{ mailboxId: inbox.id, uid: 1, blobId: full[0]!.blobId, texts: { envelope: 'env 1', body: 'body 1' } }]);
          const shape = (recs: Awaited<ReturnType<NonNullable<Store['getFetchCache']>>>) => recs.map((r) => [r.uid, r.cached, r.mimeJson === null]);
          // Only the slots asked for, in their order; the index whenever one of them is missing.
          assert.deepEqual(shape(await store.getFetchCache(inbox.id, uids, ['bodystructure'], true)), [[1, ['bs 1'], true], [2, ['bs 2'], true], [3, [null], false]]);
          assert.deepEqual(shape(await store.getFetchCache(inbox.id, uids, ['body', 'envelope'], true)), [[1, ['body 1', 'env 1'], true], [2, [null, null], false], [3, [null, null], false]]);
          assert.deepEqual(shape(await store.getFetchCache(inbox.id, [1, 2], ALL, true)), [[1, ['env 1', 'body 1', 'bs 1'], true], [2, [null, null, 'bs 2'], false]]);
          // Without the row: uid, texts, and the blob id and index where a text is missing.
          const lean = await store.getFetchCache(inbox.id, uids, ['bodystructure'], false);
          assert.deepEqual(lean.map((r) => [r.uid, r.meta, r.cached]), [[1, null, ['bs 1']], [2, null, ['bs 2']], [3, null, [null]]]);
          assert.equal(lean[2]!.blobId, full[2]!.blobId);
          assert.deepEqual(JSON.parse(lean[2]!.mimeJson!), full[2]!.mime);
          // Replaced texts; an expunged message takes its texts along.
          await store.putFetchCache([{ mailboxId: inbox.id, uid: 1, blobId: full[0]!.blobId, texts: { bodystructure: 'bs 1b' } }]);
          await store.storeFlags(inbox.id, [2], 'add', ['\\Deleted']);
          await store.expunge(inbox.id);
          assert.deepEqual(shape(await store.getFetchCache(inbox.id, uids, ['bodystructure'], true)), [[1, ['bs 1b'], true], [3, [null], false]]);
          // A text for a message that is gone is not an answer for anything.
          await store.putFetchCache([{ mailboxId: inbox.id, uid: 2, blobId: full[1]!.blobId, texts: { bodystructure: 'late' } }]);
          assert.deepEqual(await store.getFetchCache(inbox.id, [2], ALL, true), []);
          // A new content (a partial message completed) has no text until one is stored for it.
          const body = message(7, 'the whole body\r\n');
          const header = body.subarray(0, body.indexOf('\r\n\r\n') + 4);
          const partialIndex = { v: 1, z: body.length, dt: null, pz: 1, r: { h: 0, b: header.length, e: header.length, n: 0, u: 1 } };
          const other = await mbox('Partial');
          const { uids: [puid] } = await store.append(other.id, [{ message: await store.preparePartial(header, partialIndex, body.length), flags: [] }]);
          const [p] = await store.getFetchCache(other.id, [puid!], ALL, true);
          await store.putFetchCache([{ mailboxId: other.id, uid: puid!, blobId: p!.blobId!, texts: { bodystructure: 'partial' } }]);
          const whole = await store.prepare(body);
          await store.replaceContent(other.id, puid!, whole);
          const [after] = await store.getFetchCache(other.id, [puid!], ['bodystructure'], true);
          assert.equal(after!.blobId, whole.blobId);
          assert.deepEqual(after!.cached, [null]);
          assert.deepEqual(JSON.parse(after!.mimeJson!), whole.mime);
        });
      });

      it('stores the installed renderer\'s texts at append; none when it returns null or throws, or none is installed', async () => {
        await withStore(async ({ store, inbox }) => {
          if (!store.getFetchCache || !store.setFetchCacheRenderer) return; // optional
          store.setFetchCacheRenderer((mime) => {
            const size: number = (mime as { z?: number }).z ?? 0;
            if (size % 3 === 0) return null;
            if (size % 3 === 1) throw new Error('cannot render');
            return { envelope: `e ${size}`, bodystructure: `s ${size}` };
          });
          const items = [];
          for (let n = 1; n <= 9; n++) items.push({ message: await store.prepare(message(n, 'x'.repeat(n))), flags: [] });
          const { uids } = await store.append(inbox.id, items);
          store.setFetchCacheRenderer(null);
          const recs = await store.getFetchCache(inbox.id, uids, ALL, true);
          for (const [i, r] of recs.entries()) {
            const size: number = items[i]!.message.size;
            assert.deepEqual(r.cached, size % 3 === 2 ? [`e ${size}`, null, `s ${size}`] : [null, null, null], `uid ${r.uid}`);
            assert.equal(r.mimeJson !== null, true, 'body has no text: the index comes');
          }
          const [plain] = await store.getFetchCache(inbox.id, await appendN(store, inbox.id, 1, [], 10), ALL, true);
          assert.deepEqual(plain!.cached, [null, null, null]);
        });
      });
    });

    describe('partial content', () => {
      const full = message(9, 'the whole body, downloaded later\r\n');
      const header = full.subarray(0, full.indexOf('\r\n\r\n') + 4);
      /** An index of the header-only bytes that claims the full size and marks itself partial. */
      const partialIndex = { v: 1, z: full.length, dt: null, pz: 1, r: { h: 0, b: header.length, e: header.length, n: 0, u: 1 } };

      it('stores synthetic bytes with the given index and size, and swaps in the full content', async () => {
        await withStore(async ({ store, inbox }) => {
          const p = await store.preparePartial(header, partialIndex, full.length);
          assert.equal(p.size, full.length);
          const { uids } = await store.append(inbox.id, [{ message: p, flags: ['\\Flagged', 'kw'] }]);
          const uid = uids[0]!;
          const [before] = await store.getMessages(inbox.id, [uid]);
          assert.equal(before!.size, full.length);
          assert.deepEqual(before!.mime, partialIndex);
          assert.deepEqual(await store.readBlob(before!.blobId, 0, 1e9), header);
          assert.equal((await store.mailboxStatus(inbox.id)).size, full.length);
          await store.listMessages(inbox.id);
          await tick(5);
          const whole = await store.prepare(full);
          await store.replaceContent(inbox.id, uid, whole);
          const [after] = await store.getMessages(inbox.id, [uid]);
          assert.equal(after!.blobId, whole.blobId);
          assert.deepEqual(after!.mime, whole.mime);
          assert.deepEqual(await store.readBlob(after!.blobId, 0, 1e9), full);
          for (const k of ['uid', 'modSeq', 'flags', 'internalDate', 'size', 'saveDate', 'emailId', 'threadId'] as const) {
            assert.deepEqual(after![k], before![k], k);
          }
          const [listed] = await store.listMessages(inbox.id);
          assert.equal(listed!.blobId, whole.blobId, 'listMessages sees the new content');
          const changes = await store.changesSince(inbox.id, before!.modSeq);
          assert.deepEqual(changes.changed, [], 'no new mod-sequence');
          assert.equal(changes.highestModSeq, before!.modSeq);
          assert.equal((await store.mailboxStatus(inbox.id)).size, full.length);
          // Replacing with the same content again is a no-op.
          await store.replaceContent(inbox.id, uid, whole);
          // The partial blob lost its only reference: GC removes it, and keeps the new one.
          assert.equal((await store.collectGarbage()).removedBlobs, 1);
          await rejectsWith(store.readBlob(before!.blobId, 0, 10), 'NONEXISTENT');
          assert.deepEqual(await store.readBlob(whole.blobId, 0, 1e9), full);
        });
      });

      it('keeps a copy of the partial message partial, and rejects a gone message or another size', async () => {
        await withStore(async ({ store, inbox, mbox }) => {
          const other = await mbox('Other');
          const p = await store.preparePartial(header, partialIndex, full.length);
          const { uids } = await store.append(inbox.id, [{ message: p, flags: [] }]);
          const uid = uids[0]!;
          const { mapping } = await store.copyMessages(inbox.id, [uid], other.id);
          await tick(5);
          const whole = await store.prepare(full);
          await rejectsWith(store.replaceContent(inbox.id, uid + 1, whole), 'NONEXISTENT');
          await rejectsWith(store.replaceContent(other.id + 1000, uid, whole), 'NONEXISTENT');
          await rejectsWith(store.replaceContent(inbox.id, uid, await store.prepare(message(9, 'other length\r\n'))), 'CANNOT');
          await store.replaceContent(inbox.id, uid, whole);
          assert.equal((await store.collectGarbage()).removedBlobs, 0, 'the copy still references the partial blob');
          const [copy] = await store.getMessages(other.id, [mapping[0]![1]]);
          assert.equal(copy!.blobId, p.blobId);
          assert.deepEqual(copy!.mime, partialIndex);
          assert.deepEqual(await store.readBlob(p.blobId, 0, 1e9), header);
          await store.storeFlags(inbox.id, [uid], 'add', ['\\Deleted']);
          await store.expunge(inbox.id);
          await rejectsWith(store.replaceContent(inbox.id, uid, whole), 'NONEXISTENT');
        });
      });
    });

    describe('restoreMessages (import only, for petrel migrate)', () => {
      // Far from the values stores hand out (seconds since 1970), so no mailbox of the store has it.
      const V = 4_000_000_000 - 7;
      const item = async (store: Store, n: number, uid: number, modSeq: number, flags: string[]) => ({
        message: await store.prepare(message(n)),
        flags,
        internalDate: Date.UTC(2020, 1, n),
        internalDateOffset: 60 * n,
        uid,
        modSeq,
      });

      it('keeps UIDVALIDITY, UIDs, mod-sequences, flags and dates; UIDNEXT and HIGHESTMODSEQ at least the source\'s', async () => {
        await withStore(async ({ store, mbox }) => {
          const box = await mbox('Restored');
          const r = await store.restoreMessages(box.id, { uidValidity: V, uidNext: 20, highestModSeq: 500 }, [
            await item(store, 1, 3, 10, ['\\Seen']),
            await item(store, 2, 7, 480, ['\\Flagged', '$Work']),
            await item(store, 3, 12, 500, []),
          ]);
          assert.equal(r.uidValidity, V);
          assert.deepEqual(r.uids, [3, 7, 12]);
          const mb = (await store.getMailboxById(box.id))!;
          assert.equal(mb.uidValidity, V);
          assert.equal(mb.uidNext, 20);
          assert.ok(mb.highestModSeq >= 500);
          const list = await store.listMessages(box.id);
          assert.deepEqual(
            list.map((m) => [m.uid, m.modSeq, [...m.flags].sort(), m.internalDate, m.internalDateOffset]),
            [
              [3, 10, ['\\Seen'], Date.UTC(2020, 1, 1), 60],
              [7, 480, ['$Work', '\\Flagged'], Date.UTC(2020, 1, 2), 120],
              [12, 500, [], Date.UTC(2020, 1, 3), 180],
            ],
          );
          const st = await store.mailboxStatus(box.id);
          assert.equal(st.messages, 3);
          assert.equal(st.unseen, 2);
          assert.equal(st.recent, 0);
          // Nothing changed after the source's HIGHESTMODSEQ; expunges below it are unknown here.
          assert.deepEqual((await store.changesSince(box.id, mb.highestModSeq)).changed, []);
          const below = await store.changesSince(box.id, 100);
          assert.equal(below.truncated, true);
          assert.deepEqual(below.changed.map((m) => m.uid), [7, 12]);
          // Mail arriving later continues above both.
          const next = await store.append(box.id, [{ message: await store.prepare(message(4)), flags: [] }]);
          assert.deepEqual(next.uids, [20]);
          assert.equal(next.uidValidity, V);
          assert.ok(next.modSeq > mb.highestModSeq);
          // The restored UIDVALIDITY is never handed out again.
          const fresh = await mbox('Created later');
          assert.notEqual(fresh.uidValidity, V);
        });
      });

      it('resumes in batches above the UIDs present; refuses what would break UIDs, all or nothing', async () => {
        await withStore(async ({ store, mbox }) => {
          const box = await mbox('Batches');
          const state = { uidValidity: V, uidNext: 30, highestModSeq: 90 };
          await store.restoreMessages(box.id, state, [await item(store, 1, 2, 5, []), await item(store, 2, 4, 6, [])]);
          const h1 = (await store.getMailboxById(box.id))!.highestModSeq;
          const events: ChangeEvent[] = [];
          const stop = store.watchMailbox(box.id, (e) => events.push(e));
          await store.restoreMessages(box.id, state, [await item(store, 3, 9, 80, ['\\Answered'])]);
          stop();
          const h2 = (await store.getMailboxById(box.id))!.highestModSeq;
          assert.ok(h2 > h1, 'every restore that writes takes a new HIGHESTMODSEQ');
          await tick(20);
          assert.ok(events.length >= 1);
          // Not above the UIDs present, not ascending, not below UIDNEXT, mod-sequence above the source's:
          await rejectsWith(store.restoreMessages(box.id, state, [await item(store, 4, 9, 7, [])]), 'CANNOT');
          await rejectsWith(
            store.restoreMessages(box.id, state, [await item(store, 4, 12, 7, []), await item(store, 5, 11, 7, [])]),
            'CANNOT',
          );
          await rejectsWith(store.restoreMessages(box.id, state, [await item(store, 4, 30, 7, [])]), 'CANNOT');
          await rejectsWith(
            store.restoreMessages(box.id, state, [await item(store, 4, 10, 7, []), await item(store, 5, 11, 91, [])]),
            'CANNOT',
          );
          // A mailbox that holds messages keeps its UIDVALIDITY.
          await rejectsWith(store.restoreMessages(box.id, { ...state, uidValidity: V - 1 }, []), 'CANNOT');
          assert.deepEqual((await store.listMessages(box.id)).map((m) => m.uid), [2, 4, 9]);
          assert.equal((await store.getMailboxById(box.id))!.highestModSeq, h2);
          // Another mailbox cannot take the same UIDVALIDITY.
          const other = await mbox('Other');
          await rejectsWith(store.restoreMessages(other.id, state, []), 'CANNOT');
          // An empty mailbox gets its numbering alone; repeating the same call changes nothing.
          const empty = await store.restoreMessages(other.id, { uidValidity: V - 2, uidNext: 7, highestModSeq: 40 }, []);
          assert.equal(empty.uidValidity, V - 2);
          const e1 = (await store.getMailboxById(other.id))!;
          assert.deepEqual([e1.uidValidity, e1.uidNext], [V - 2, 7]);
          assert.ok(e1.highestModSeq >= 40);
          const again = await store.restoreMessages(other.id, { uidValidity: V - 2, uidNext: 7, highestModSeq: 40 }, []);
          assert.equal(again.modSeq, e1.highestModSeq);
          assert.deepEqual(await store.getMailboxById(other.id), e1);
          await rejectsWith(store.restoreMessages(99_999_999, state, []), 'TRYCREATE');
        });
      });
    });
  });
}
