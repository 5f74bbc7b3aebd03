// SelectedView: {pending changes, command kind} → what is announced (ARCHITECTURE.md tests §2).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SelectedView } from '../../src/server/selected-view.js';
import type { ChangeSet, MailboxRecord, MessageMeta } from '../../src/store/types.js';

const mailbox: MailboxRecord = {
  id: 1,
  userId: 1,
  name: 'INBOX',
  uidValidity: 100,
  uidNext: 6,
  highestModSeq: 5,
  specialUse: null,
  objectId: 'M1',
  createdAt: 0,
};

function meta(uid: number, flags: string[] = [], modSeq = uid): MessageMeta {
  return { uid, modSeq, flags, internalDate: 0, internalDateOffset: 0, size: 10, blobId: 'b', saveDate: 0, emailId: `E${uid}`, threadId: null };
}

function changes(partial: Partial<ChangeSet>): ChangeSet {
  return { highestModSeq: 10, uidNext: 10, changed: [], expunged: [], truncated: false, ...partial };
}

function view(): SelectedView {
  return new SelectedView(mailbox, false, [1, 2, 3, 4, 5].map((u) => meta(u)), 4);
}

test('initial state maps sequence numbers to uids and marks recent from the watermark', () => {
  const v = view();
  assert.equal(v.exists, 5);
  assert.equal(v.uidAt(3), 3);
  assert.equal(v.seqOf(5), 5);
  assert.equal(v.seqOf(9), 0);
  assert.deepEqual([...v.recent].sort(), [4, 5]);
});

test('new messages produce EXISTS and RECENT; the claim decides what is recent', () => {
  const v = view();
  v.absorb(changes({ changed: [meta(6, [], 6), meta(7, [], 7)] }));
  const up = v.takeUpdates(true, 7);
  assert.equal(up.exists, 7);
  assert.equal(up.recent, 3);
  assert.deepEqual(up.expunged, []);
  assert.ok(v.recent.has(7) && !v.recent.has(6));
});

test('expunges are announced highest sequence first, each number valid when sent', () => {
  const v = view();
  v.absorb(changes({ expunged: [2, 4] }));
  const up = v.takeUpdates(true, null);
  assert.deepEqual(up.expunged, [4, 2]);
  assert.deepEqual(up.vanished, [2, 4]);
  assert.equal(v.exists, 3);
  assert.deepEqual([...v.allUids()], [1, 3, 5]);
});

test('during FETCH/STORE/SEARCH by sequence number expunges wait, EXISTS still counts the ghosts', () => {
  const v = view();
  v.absorb(changes({ expunged: [2], changed: [meta(6)] }));
  const during = v.takeUpdates(false, null);
  assert.deepEqual(during.expunged, []);
  assert.equal(during.exists, 6);
  assert.ok(v.isGhost(2));
  const after = v.takeUpdates(true, null);
  assert.deepEqual(after.expunged, [2]);
  assert.equal(v.exists, 5);
});

test('a message added and expunged before it was announced is never shown', () => {
  const v = view();
  v.absorb(changes({ changed: [meta(6)] }));
  v.absorb(changes({ expunged: [6] }));
  const up = v.takeUpdates(true, null);
  assert.equal(up.exists, null);
  assert.deepEqual(up.expunged, []);
  assert.equal(v.exists, 5);
});

test('only the last flag state is sent, and nothing when flags end as they were', () => {
  const v = view();
  v.absorb(changes({ changed: [meta(2, ['\\Seen'], 7)] }));
  v.absorb(changes({ changed: [meta(2, ['\\Seen', '\\Flagged'], 8)] }));
  v.absorb(changes({ changed: [meta(3, ['\\Seen'], 9)] }));
  v.absorb(changes({ changed: [meta(3, [], 10)] }));
  const up = v.takeUpdates(true, null);
  assert.equal(up.flagChanges.length, 2);
  assert.deepEqual(up.flagChanges[0], { seq: 2, uid: 2, flags: ['\\Seen', '\\Flagged'], modSeq: 8 });
  // uid 3 was changed and changed back between announcements: the client's knowledge is still right,
  // but it was told nothing new about it either way — a FETCH for it is harmless and carries the
  // current state.
  assert.deepEqual(up.flagChanges[1]?.flags, []);
});

test("the session's own STORE is not announced again", () => {
  const v = view();
  v.noteOwnFlags(1, ['\\Deleted'], 11);
  v.absorb(changes({ changed: [meta(1, ['\\Deleted'], 11)] }));
  const up = v.takeUpdates(true, null);
  assert.deepEqual(up.flagChanges, []);
});

test('flag changes of a message expunged meanwhile are dropped with it', () => {
  const v = view();
  v.absorb(changes({ changed: [meta(3, ['\\Seen'], 7)] }));
  v.absorb(changes({ expunged: [3] }));
  const up = v.takeUpdates(true, null);
  assert.deepEqual(up.expunged, [3]);
  assert.deepEqual(up.flagChanges, []);
});

test('before a command, flag changes are taken without moving expunges or new messages', () => {
  const v = view();
  v.absorbFlagChanges(changes({ changed: [meta(2, ['\\Seen'], 7), meta(6, [], 8)], expunged: [4] }));
  assert.deepEqual(v.flagsOf(2), ['\\Seen']);
  assert.equal(v.exists, 5);
  assert.equal(v.isGhost(4), false);
  assert.equal(v.highestModSeq, 5, 'the view re-reads the same range at the next announcement');
  v.absorb(changes({ changed: [meta(2, ['\\Seen'], 7), meta(6, [], 8)], expunged: [4] }));
  const up = v.takeUpdates(true, null);
  assert.deepEqual(up.expunged, [4]);
  assert.equal(up.exists, 5);
  assert.deepEqual(up.flagChanges.map((f) => f.uid), [2], 'announced once');
});

test('an older change never overwrites a newer state the view holds', () => {
  const v = view();
  v.noteOwnFlags(3, ['\\Flagged'], 12);
  v.absorb(changes({ changed: [meta(3, [], 11)] }));
  assert.deepEqual(v.flagsOf(3), ['\\Flagged']);
  assert.deepEqual(v.takeUpdates(true, null).flagChanges, []);
});
