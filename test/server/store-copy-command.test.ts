// STORE / UID STORE (RFC 9051 §6.4.6, RFC 7162 §3.1.3) and COPY / MOVE (RFC 9051 §6.4.7-6.4.8,
// RFC 4315 COPYUID, RFC 6851) over an in-memory store.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { storeCommands } from '../../src/server/commands/store.js';
import { copyMoveCommands } from '../../src/server/commands/copy-move.js';
import { FakeStore, run, selectBox } from './command-harness.js';

function setup(opts: { enabled?: string[]; readOnly?: boolean; recentFrom?: number | null } = {}) {
  const store = new FakeStore();
  store.addMailbox('INBOX');
  store.addMailbox('Archive');
  for (let i = 0; i < 4; i++) store.addMessage('INBOX', { raw: `Subject: m${i}\n\nbody ${i}\n`, flags: i === 0 ? ['\\Seen'] : [] });
  const { session, view } = selectBox(store, 'INBOX', opts);
  return { store, session, view };
}

test('STORE +FLAGS answers with the new flags of every message and updates the store', async () => {
  const { store, session, view } = setup();
  const r = await run(storeCommands, store, session, 'A1 STORE 1:2 +FLAGS (\\Deleted)');
  assert.deepEqual(r.lines, ['* 1 FETCH (FLAGS (\\Seen \\Deleted))', '* 2 FETCH (FLAGS (\\Deleted))', 'A1 OK STORE completed']);
  assert.deepEqual(store.box('INBOX').messages[1]!.flags, ['\\Deleted']);
  assert.deepEqual(view.flagsOf(2), ['\\Deleted']);
});

test('FLAGS replaces, -FLAGS removes, keywords without parentheses, .SILENT sends nothing', async () => {
  const { store, session } = setup();
  let r = await run(storeCommands, store, session, 'A2 STORE 1 FLAGS $Work \\Flagged');
  // $Work is new to the mailbox: FLAGS and PERMANENTFLAGS name it before the FETCH shows it (RFC 9051 §7.3.5).
  assert.deepEqual(r.lines, [
    '* FLAGS (\\Seen \\Answered \\Flagged \\Deleted \\Draft $Work)',
    '* OK [PERMANENTFLAGS (\\Seen \\Answered \\Flagged \\Deleted \\Draft $Work \\*)] Flags permitted',
    '* 1 FETCH (FLAGS ($Work \\Flagged))',
    'A2 OK STORE completed',
  ]);
  r = await run(storeCommands, store, session, 'A3 STORE 1 -FLAGS.SILENT ($work)');
  assert.deepEqual(r.lines, ['A3 OK STORE completed']);
  assert.deepEqual(store.box('INBOX').messages[0]!.flags, ['\\Flagged']);
});

test('UID STORE includes UID; unknown UIDs are ignored', async () => {
  const { store, session } = setup();
  const r = await run(storeCommands, store, session, 'A4 UID STORE 3,99 +FLAGS (\\Answered)');
  assert.deepEqual(r.lines, ['* 3 FETCH (FLAGS (\\Answered) UID 3)', 'A4 OK UID STORE completed']);
});

test('\\Recent cannot be stored, unknown system flags and data items are BAD', async () => {
  const { store, session } = setup();
  assert.equal((await run(storeCommands, store, session, 'A5 STORE 1 +FLAGS (\\Recent)')).result.status, 'BAD');
  assert.equal((await run(storeCommands, store, session, 'A6 STORE 1 +FLAGS (\\Bogus)')).result.status, 'BAD');
  assert.equal((await run(storeCommands, store, session, 'A7 STORE 1 +LABELS (x)')).result.status, 'BAD');
  assert.equal((await run(storeCommands, store, session, 'A8 STORE 9 +FLAGS (x)')).result.status, 'BAD');
});

test('STORE in a read-only (EXAMINE) mailbox is NO', async () => {
  const { store, session } = setup({ readOnly: true });
  const r = await run(storeCommands, store, session, 'A9 STORE 1 +FLAGS (\\Deleted)');
  assert.equal(r.result.status, 'NO');
  assert.deepEqual(store.box('INBOX').messages[0]!.flags, ['\\Seen']);
});

test('UNCHANGEDSINCE (CONDSTORE) stores what is unchanged and reports the rest as MODIFIED', async () => {
  const plain = setup();
  const implicit = await run(storeCommands, plain.store, plain.session, 'B1 STORE 1 (UNCHANGEDSINCE 5) +FLAGS (x)');
  assert.equal(implicit.result.status, 'OK');
  assert.ok(plain.session.enabled.has('CONDSTORE'), 'UNCHANGEDSINCE is a CONDSTORE enabling command');
  const { store, session } = setup({ enabled: ['CONDSTORE'] });
  // modseqs are 2..5 for uids 1..4
  const r = await run(storeCommands, store, session, 'B2 STORE 1:4 (UNCHANGEDSINCE 3) +FLAGS.SILENT (\\Flagged)');
  assert.deepEqual(r.lines, [
    // RFC 7162 §3.1.3 Examples 3-6: .SILENT still reports the new MODSEQ (with the UID, §3.2.4), no FLAGS.
    '* 1 FETCH (UID 1 MODSEQ (6))',
    '* 2 FETCH (UID 2 MODSEQ (6))',
    'B2 OK [MODIFIED 3:4] Conditional STORE failed',
  ]);
});

test('a STORE touching an expunged-but-unannounced message ends NO [EXPUNGEISSUED]', async () => {
  const { store, session, view } = setup();
  view.noteOwnExpunge([2]);
  const r = await run(storeCommands, store, session, 'B3 STORE 1:2 +FLAGS (x)');
  assert.deepEqual(r.lines.filter((l) => !/^\* (FLAGS|OK \[PERMANENTFLAGS)/.test(l)), [
    '* 1 FETCH (FLAGS (\\Seen x))',
    'B3 NO [EXPUNGEISSUED] Some messages were expunged',
  ]);
});

test('COPY answers COPYUID; a missing destination is NO [TRYCREATE]', async () => {
  const { store, session } = setup();
  const r = await run(copyMoveCommands, store, session, 'C1 COPY 2:3 Archive');
  const dst = store.box('Archive').rec;
  assert.deepEqual(r.lines, [`C1 OK [COPYUID ${dst.uidValidity} 2:3 1:2] COPY completed`]);
  assert.equal(store.box('Archive').messages.length, 2);
  assert.equal(store.box('INBOX').messages.length, 4);
  const missing = await run(copyMoveCommands, store, session, 'C2 COPY 1 Nowhere');
  assert.equal(missing.lines[0], 'C2 NO [TRYCREATE] Destination mailbox does not exist');
  const uid = await run(copyMoveCommands, store, session, 'C3 UID COPY 4,77 Archive');
  assert.deepEqual(uid.lines, [`C3 OK [COPYUID ${dst.uidValidity} 4 3] UID COPY completed`]);
});

test('MOVE sends COPYUID untagged, then EXPUNGEs from the highest, before the tagged OK', async () => {
  const { store, session, view } = setup();
  const r = await run(copyMoveCommands, store, session, 'D1 MOVE 2,4 Archive');
  const dst = store.box('Archive').rec;
  assert.deepEqual(r.lines, [`* OK [COPYUID ${dst.uidValidity} 2,4 1:2] Moved UIDs`, '* 4 EXPUNGE', '* 2 EXPUNGE', 'D1 OK MOVE completed']);
  assert.equal(view.exists, 2);
  assert.deepEqual(view.allUids(), [1, 3]);
  assert.deepEqual(
    store.box('INBOX').messages.map((m) => m.uid),
    [1, 3],
  );
  const ro = setup({ readOnly: true });
  assert.equal((await run(copyMoveCommands, ro.store, ro.session, 'D2 MOVE 1 Archive')).result.status, 'NO');
});

test('COPY of an expunged-but-unannounced message copies nothing (RFC 2180 §4.4.1)', async () => {
  const { store, session, view } = setup();
  view.noteOwnExpunge([3]);
  const r = await run(copyMoveCommands, store, session, 'E1 COPY 2:3 Archive');
  assert.equal(r.result.status, 'NO');
  assert.equal(r.result.code?.name, 'EXPUNGEISSUED');
  assert.equal(store.box('Archive').messages.length, 0);
});
