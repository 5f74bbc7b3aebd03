// FETCH / UID FETCH over an in-memory store: wire output of data items, sections, partials, BINARY,
// implicit \Seen, sequence-set rules, ghosts (RFC 9051 §6.4.5, §6.4.9, §7.5.2; RFC 3516; RFC 2180 §4.1).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fetchCommands } from '../../src/server/commands/fetch.js';
import { renderFetch, parseFetchItems } from '../../src/server/fetch-render.js';
import { StreamData } from '../../src/protocol/types.js';
import { FakeStore, run, selectBox } from './command-harness.js';

const SIMPLE = ['From: Alice <alice@example.com>', 'To: bob@example.com', 'Subject: Hello', 'Date: Mon, 15 Jan 2024 10:00:00 +0100', '', 'Hello Bob,', 'how are you?', ''].join('\n');

const MULTI = [
  'From: carol@example.com',
  'Subject: Report',
  'MIME-Version: 1.0',
  'Content-Type: multipart/mixed; boundary="XX"',
  '',
  'preamble',
  '--XX',
  'Content-Type: text/plain; charset=utf-8',
  '',
  'See attached.',
  '--XX',
  'Content-Type: application/octet-stream',
  'Content-Transfer-Encoding: base64',
  '',
  Buffer.from('binary\u0000data!').toString('base64'),
  '--XX',
  'Content-Type: text/plain',
  'Content-Transfer-Encoding: x-uuencode',
  '',
  'begin 644 x',
  '--XX--',
  '',
].join('\n');

function setup(opts: { enabled?: string[]; readOnly?: boolean; recentFrom?: number | null } = {}) {
  const store = new FakeStore();
  store.addMailbox('INBOX');
  store.addMessage('INBOX', { raw: SIMPLE, flags: ['\\Seen'] });
  store.addMessage('INBOX', { raw: MULTI, flags: [] });
  store.addMessage('INBOX', { raw: SIMPLE.replace('Hello', 'Third'), flags: ['\\Flagged', '$Work'] });
  const { session, view } = selectBox(store, 'INBOX', opts);
  return { store, session, view };
}

test('FETCH FLAGS and UID are answered from the view for every message', async () => {
  const { store, session } = setup();
  const r = await run(fetchCommands, store, session, 'A1 FETCH 1:* (UID FLAGS)');
  assert.deepEqual(r.lines, [
    '* 1 FETCH (UID 1 FLAGS (\\Seen))',
    '* 2 FETCH (UID 2 FLAGS ())',
    '* 3 FETCH (UID 3 FLAGS (\\Flagged $Work))',
    'A1 OK FETCH completed',
  ]);
  assert.equal(store.reads.length, 0);
});

test('UID FETCH always includes UID; * and ranges beyond the last UID return the last message', async () => {
  const { store, session } = setup();
  const r = await run(fetchCommands, store, session, 'A2 UID FETCH 4294967295:* FLAGS');
  assert.deepEqual(r.lines, ['* 3 FETCH (UID 3 FLAGS (\\Flagged $Work))', 'A2 OK UID FETCH completed']);
  const none = await run(fetchCommands, store, session, 'A3 UID FETCH 10:20 FLAGS');
  assert.deepEqual(none.lines, ['A3 OK UID FETCH completed']);
});

test('FETCH by sequence number past the end is a BAD; so is * in an empty mailbox', async () => {
  const { store, session } = setup();
  const r = await run(fetchCommands, store, session, 'A4 FETCH 4 FLAGS');
  assert.equal(r.result.status, 'BAD');
  const empty = new FakeStore();
  empty.addMailbox('INBOX');
  const s2 = selectBox(empty, 'INBOX').session;
  assert.equal((await run(fetchCommands, empty, s2, 'A5 FETCH * FLAGS')).result.status, 'BAD');
  assert.equal((await run(fetchCommands, empty, s2, 'A6 UID FETCH 1:* FLAGS')).result.status, 'OK');
});

test('macros expand; FAST gives FLAGS INTERNALDATE RFC822.SIZE', async () => {
  const { store, session } = setup();
  const r = await run(fetchCommands, store, session, 'A7 FETCH 1 FAST');
  const size = Buffer.byteLength(SIMPLE.replace(/\n/g, '\r\n'));
  assert.deepEqual(r.lines[0], `* 1 FETCH (FLAGS (\\Seen) INTERNALDATE "15-Jan-2024 12:00:00 +0000" RFC822.SIZE ${size})`);
  const bad = await run(fetchCommands, store, session, 'A8 FETCH 1 (FAST UID)');
  assert.equal(bad.result.status, 'BAD');
});

test('BODY.PEEK[HEADER.FIELDS (...)] returns the subset and the blank line, and does not set \\Seen', async () => {
  const { store, session } = setup();
  const r = await run(fetchCommands, store, session, 'A9 FETCH 2 BODY.PEEK[HEADER.FIELDS (Subject From)]');
  const body = 'From: carol@example.com\r\nSubject: Report\r\n\r\n';
  // The field names are echoed (Dovecot upper-cases them; either is valid, RFC 9051 §7.5.2).
  const [head, ...rest] = r.text.split('\r\n');
  assert.match(head!, new RegExp(`^\\* 2 FETCH \\(BODY\\[HEADER\\.FIELDS \\(Subject From\\)\\] \\{${body.length}\\}$`, 'i'));
  assert.equal(rest.join('\r\n'), `${body})\r\nA9 OK FETCH completed\r\n`);
  assert.deepEqual(store.box('INBOX').messages[1]!.flags, []);
});

test('non-PEEK BODY[] sets \\Seen and adds FLAGS to the response; partial names <origin>', async () => {
  const { store, session, view } = setup();
  const r = await run(fetchCommands, store, session, 'A10 FETCH 2 BODY[]<0.4>');
  assert.equal(r.text, '* 2 FETCH (BODY[]<0> {4}\r\nFrom FLAGS (\\Seen))\r\nA10 OK FETCH completed\r\n');
  assert.deepEqual(store.box('INBOX').messages[1]!.flags, ['\\Seen']);
  assert.deepEqual(view.flagsOf(2), ['\\Seen']);
  // Already seen: no second FLAGS item.
  const again = await run(fetchCommands, store, session, 'A11 FETCH 2 BODY[]<0.4>');
  assert.equal(again.lines[0], '* 2 FETCH (BODY[]<0> {4}\r\nFrom)');
});

test('a read-only (EXAMINE) view never sets \\Seen', async () => {
  const { store, session } = setup({ readOnly: true });
  await run(fetchCommands, store, session, 'A12 FETCH 2 RFC822.TEXT');
  assert.deepEqual(store.box('INBOX').messages[1]!.flags, []);
});

test('partial beyond the end is an empty string; past the end is truncated', async () => {
  const { store, session } = setup();
  const r = await run(fetchCommands, store, session, 'A13 FETCH 1 (BODY.PEEK[TEXT]<1000.5> BODY.PEEK[TEXT]<20.100>)');
  // The empty string is sent as the literal {0}, as Dovecot 2.3 does.
  assert.equal(r.text.split('\r\n')[0], '* 1 FETCH (BODY[TEXT]<1000> {0}');
  assert.ok(r.text.includes('BODY[TEXT]<20> {6}'));
  assert.ok(r.text.includes('you?\r\n)'));
});

test('numbered parts, MIME headers and only the part\'s byte range is read', async () => {
  const { store, session } = setup();
  store.reads.length = 0;
  const r = await run(fetchCommands, store, session, 'A14 FETCH 2 (BODY.PEEK[1] BODY.PEEK[1.MIME])');
  assert.equal(
    r.text.split('\r\n').slice(0, 3).join('\r\n'),
    '* 2 FETCH (BODY[1] {13}\r\nSee attached. BODY[1.MIME] {43}\r\nContent-Type: text/plain; charset=utf-8',
  );
  const total = store.reads.reduce((n, x) => n + (x.end - x.start), 0);
  assert.ok(total < 100, `read ${total} bytes`);
});

test('HEADER.FIELDS with odd field names: "_" and "." atoms, quoted names with "]" and "("; echoed so they parse back', async () => {
  const store = new FakeStore();
  store.addMailbox('INBOX');
  store.addMessage('INBOX', { raw: 'X-Odd_Field.Name: one\nX]Y: two\nA(B: three\nSubject: s\nx-odd_field.name: four\n\nbody\n' });
  const { session } = selectBox(store, 'INBOX');
  const r = await run(fetchCommands, store, session, 'H1 FETCH 1 (BODY.PEEK[HEADER.FIELDS (X-ODD_FIELD.NAME "X]Y" "A(B")])');
  assert.equal(
    r.text,
    '* 1 FETCH (BODY[HEADER.FIELDS (X-ODD_FIELD.NAME "X]Y" "A(B")] {71}\r\nX-Odd_Field.Name: one\r\nX]Y: two\r\nA(B: three\r\nx-odd_field.name: four\r\n\r\n)\r\nH1 OK FETCH completed\r\n',
  );
  const not = await run(fetchCommands, store, session, 'H2 FETCH 1 (BODY.PEEK[HEADER.FIELDS.NOT ("X]Y" subject x-odd_field.name)])');
  assert.equal(not.text, '* 1 FETCH (BODY[HEADER.FIELDS.NOT ("X]Y" subject x-odd_field.name)] {14}\r\nA(B: three\r\n\r\n)\r\nH2 OK FETCH completed\r\n');
});

test('BINARY decodes base64 and uses literal8 for NUL data; BINARY.SIZE gives the decoded size', async () => {
  const { store, session } = setup();
  const r = await run(fetchCommands, store, session, 'A15 FETCH 2 (BINARY.PEEK[2] BINARY.SIZE[2] BINARY.PEEK[1]<4.4>)');
  assert.equal(r.text, '* 2 FETCH (BINARY[2] ~{12}\r\nbinary\u0000data! BINARY.SIZE[2] 12 BINARY[1]<4> {4}\r\natta)\r\nA15 OK FETCH completed\r\n');
});

test('BINARY sends textual sections of bare-LF mail with CRLF; BINARY.SIZE and partials count the CRLFs (RFC 9051 §7.5.2)', async () => {
  const store = new FakeStore();
  store.addMailbox('INBOX');
  // Stored as received, bare LF (an APPEND from a sloppy client). Part 1 text, 2 quoted-printable text,
  // 3 an 8bit application part (not text: its bytes go as they are), 4 a message/rfc822 part.
  const raw = [
    'Subject: lf', 'MIME-Version: 1.0', 'Content-Type: multipart/mixed; boundary=B', '',
    '--B', 'Content-Type: text/plain', '', 'one', 'two', '--B',
    'Content-Type: text/plain', 'Content-Transfer-Encoding: quoted-printable', '', 'a=3Db soft=', 'joined', 'next=0Aline', '--B',
    'Content-Type: application/octet-stream', 'Content-Transfer-Encoding: 8bit', '', 'x', 'y', '--B',
    'Content-Type: message/rfc822', '', 'Subject: inner', '', 'body', '--B--', '',
  ].join('\n');
  store.addMessage('INBOX', { raw: Buffer.from(raw, 'latin1') });
  const { session } = selectBox(store, 'INBOX');
  const r = await run(fetchCommands, store, session, 'B1 FETCH 1 (BINARY.PEEK[1] BINARY.SIZE[1] BINARY.PEEK[2] BINARY.SIZE[2] BINARY.PEEK[3] BINARY.SIZE[3])');
  assert.equal(
    r.text,
    '* 1 FETCH (BINARY[1] {8}\r\none\r\ntwo BINARY.SIZE[1] 8 BINARY[2] {25}\r\na=b softjoined\r\nnext\nline BINARY.SIZE[2] 25 ' +
      'BINARY[3] {3}\r\nx\ny BINARY.SIZE[3] 3)\r\nB1 OK FETCH completed\r\n',
  );
  const m = await run(fetchCommands, store, session, 'B2 FETCH 1 (BINARY.PEEK[4] BINARY.SIZE[4] BINARY.PEEK[1]<3.3> BINARY.SIZE[])');
  assert.equal(
    m.text,
    `* 1 FETCH (BINARY[4] {22}\r\nSubject: inner\r\n\r\nbody BINARY.SIZE[4] 22 BINARY[1]<3> {3}\r\n\r\nt BINARY.SIZE[] ${Buffer.byteLength(raw.replace(/\n/g, '\r\n'))})\r\nB2 OK FETCH completed\r\n`,
  );
});

test('BINARY with a section-text (HEADER, HEADER.FIELDS, TEXT, MIME) answers BODY[]\'s bytes; BINARY.SIZE counts them', async () => {
  // Outside RFC 3516's grammar (only part numbers); accepted as Dovecot accepts it, since those sections
  // have no Content-Transfer-Encoding to undo.
  const { store, session } = setup();
  const body = await run(fetchCommands, store, session, 'C1 FETCH 2 (BODY.PEEK[1.MIME] BODY.PEEK[HEADER.FIELDS (Subject)] BODY.PEEK[TEXT]<0.8>)');
  assert.equal(body.result.status, 'OK', body.text);
  const bin = await run(fetchCommands, store, session, 'C2 FETCH 2 (BINARY.PEEK[1.MIME] BINARY.PEEK[HEADER.FIELDS (Subject)] BINARY.PEEK[TEXT]<0.8>)');
  assert.equal(bin.text, body.text.replace(/BODY\[/g, 'BINARY[').replace('C1 OK', 'C2 OK'));
  // The harness stores mail with CRLF line ends.
  const mime = 'Content-Type: text/plain; charset=utf-8\r\n\r\n';
  const text = MULTI.slice(MULTI.indexOf('\n\n') + 2).replace(/\n/g, '\r\n');
  const size = await run(fetchCommands, store, session, 'C3 FETCH 2 (BINARY.SIZE[1.MIME] BINARY.SIZE[HEADER.FIELDS (Subject)] BINARY.SIZE[TEXT])');
  assert.equal(size.text, `* 2 FETCH (BINARY.SIZE[1.MIME] ${mime.length} BINARY.SIZE[HEADER.FIELDS (Subject)] ${'Subject: Report\r\n\r\n'.length} BINARY.SIZE[TEXT] ${text.length})\r\nC3 OK FETCH completed\r\n`);
  assert.ok(bin.text.startsWith(`* 2 FETCH (BINARY[1.MIME] {43}\r\n${mime} BINARY[HEADER.FIELDS (Subject)] {19}\r\nSubject: Report\r\n\r\n BINARY[TEXT]<0> {8}\r\n`), bin.text);
  const bad = await run(fetchCommands, store, session, 'C4 FETCH 2 (BINARY[1.FOO])');
  assert.equal(bad.result.status, 'BAD');
});

test('BINARY[TEXT] of a single-part message, or of an attached one, is its decoded body; of a multipart it is raw', async () => {
  const store = new FakeStore();
  store.addMailbox('INBOX');
  const b64 = Buffer.from('decoded body').toString('base64');
  store.addMessage('INBOX', { raw: `Subject: one\nContent-Type: application/octet-stream\nContent-Transfer-Encoding: base64\n\n${b64}\n`, flags: [] });
  store.addMessage('INBOX', {
    raw: `Subject: outer\nContent-Type: multipart/mixed; boundary=q\n\n--q\nContent-Type: message/rfc822\n\nSubject: inner\nContent-Type: application/octet-stream\nContent-Transfer-Encoding: base64\n\n${b64}\n--q--\n`,
    flags: [],
  });
  const { session } = selectBox(store, 'INBOX');
  const one = await run(fetchCommands, store, session, 'E1 FETCH 1 (BINARY.PEEK[TEXT] BINARY.SIZE[TEXT])');
  assert.equal(one.text, '* 1 FETCH (BINARY[TEXT] {12}\r\ndecoded body BINARY.SIZE[TEXT] 12)\r\nE1 OK FETCH completed\r\n');
  const two = await run(fetchCommands, store, session, 'E2 FETCH 2 (BINARY.PEEK[1.TEXT] BINARY.SIZE[1.TEXT] BINARY.SIZE[TEXT])');
  const raw = await run(fetchCommands, store, session, 'E3 FETCH 2 (BODY.PEEK[TEXT])');
  // The multipart's TEXT is not decoded: its size is the raw body's.
  const rawSize = /\{(\d+)\}/.exec(raw.text)![1];
  assert.equal(two.text, `* 2 FETCH (BINARY[1.TEXT] {12}\r\ndecoded body BINARY.SIZE[1.TEXT] 12 BINARY.SIZE[TEXT] ${rawSize})\r\nE2 OK FETCH completed\r\n`);
});

test('a partial with an origin and no count (<n>) runs to the end of the section, for BODY and BINARY', async () => {
  const { store, session } = setup();
  const r = await run(fetchCommands, store, session, 'D1 FETCH 2 (BINARY.PEEK[2]<7> BODY.PEEK[1]<4> BODY.PEEK[1]<99>)');
  assert.equal(r.text, '* 2 FETCH (BINARY[2]<7> {5}\r\ndata! BODY[1]<4> {9}\r\nattached. BODY[1]<99> {0}\r\n)\r\nD1 OK FETCH completed\r\n');
});

test('BINARY of a bare-LF message holding a binary-encoded part sends the octets unchanged (no CRLF added inside it)', async () => {
  const store = new FakeStore();
  store.addMailbox('INBOX');
  const raw = Buffer.concat([
    Buffer.from('Subject: b\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=B\n\n--B\nContent-Type: text/plain\n\nhi\n--B\nContent-Type: application/octet-stream\nContent-Transfer-Encoding: binary\n\n', 'latin1'),
    Buffer.from([0x00, 0x0a, 0x01, 0x0a, 0x02]),
    Buffer.from('\n--B--\n', 'latin1'),
  ]);
  store.addMessage('INBOX', { raw });
  const { session } = selectBox(store, 'INBOX');
  const r = await run(fetchCommands, store, session, 'B3 FETCH 1 (BINARY.SIZE[] BINARY.SIZE[1] BINARY.SIZE[2])');
  // The whole message as stored; part 1 (text) with CRLF; part 2 as stored.
  assert.equal(r.text, `* 1 FETCH (BINARY.SIZE[] ${raw.length} BINARY.SIZE[1] 2 BINARY.SIZE[2] 5)\r\nB3 OK FETCH completed\r\n`);
});

test('BINARY of an unknown transfer encoding fails with NO [UNKNOWN-CTE]', async () => {
  const { store, session } = setup();
  const r = await run(fetchCommands, store, session, 'A16 FETCH 2 BINARY.PEEK[3]');
  assert.equal(r.result.status, 'NO');
  assert.equal(r.result.code?.name, 'UNKNOWN-CTE');
});

test('FETCH MODSEQ enables CONDSTORE implicitly; with it, FETCH MODSEQ and CHANGEDSINCE work', async () => {
  const plain = setup();
  const implicit = await run(fetchCommands, plain.store, plain.session, 'A17 FETCH 1 MODSEQ');
  assert.equal(implicit.result.status, 'OK');
  assert.ok(plain.session.enabled.has('CONDSTORE'));
  // RFC 7162 §3.1: the first enabling command with a mailbox selected reports HIGHESTMODSEQ.
  assert.match(implicit.lines[0]!, /^\* OK \[HIGHESTMODSEQ \d+\]/);
  assert.match(implicit.lines[1]!, /^\* 1 FETCH \(MODSEQ \(\d+\)\)$/);
  const cs = setup({ enabled: ['CONDSTORE'] });
  const r = await run(fetchCommands, cs.store, cs.session, 'A18 FETCH 1:* (FLAGS) (CHANGEDSINCE 3)');
  assert.deepEqual(r.lines, ['* 3 FETCH (FLAGS (\\Flagged $Work) MODSEQ (4))', 'A18 OK FETCH completed']);
  // The implicit \Seen of a non-PEEK fetch reports FLAGS and the new MODSEQ.
  const seen = await run(fetchCommands, cs.store, cs.session, 'A18b FETCH 2 BODY[]<0.4>');
  // RFC 7162 §3.2.4: with CONDSTORE on, a FETCH that implicitly set \Seen also carries the UID.
  assert.equal(seen.lines[0], '* 2 FETCH (BODY[]<0> {4}\r\nFrom FLAGS (\\Seen) MODSEQ (5) UID 2)');
});

test('UID FETCH (CHANGEDSINCE n VANISHED) reports expunged UIDs first (QRESYNC only)', async () => {
  const { store, session, view } = setup({ enabled: ['CONDSTORE', 'QRESYNC'] });
  store.addMailbox('Other');
  await store.moveMessages(store.box('INBOX').rec.id, [2], store.box('Other').rec.id);
  // Announce the move first: a VANISHED (EARLIER) never names a message the session still shows
  // (RFC 7162 §3.2.10.2: such a UID comes in the plain VANISHED after the command).
  const before = await run(fetchCommands, store, session, 'V0 UID FETCH 1:* (FLAGS) (CHANGEDSINCE 1000 VANISHED)');
  assert.ok(!before.lines.some((l) => l.startsWith('* VANISHED (EARLIER)')), before.lines.join('\n'));
  view.absorb(await store.asStore().changesSince(view.mailboxId, view.highestModSeq));
  view.takeUpdates(true, null);
  const r = await run(fetchCommands, store, session, 'V1 UID FETCH 1:* (FLAGS) (CHANGEDSINCE 1 VANISHED)');
  assert.equal(r.lines[0], '* VANISHED (EARLIER) 2');
  assert.ok(r.lines.some((l) => l.startsWith('* 2 FETCH (UID 3 FLAGS')), r.lines.join('\n'));
  const bad1 = await run(fetchCommands, store, session, 'V2 FETCH 1:* (FLAGS) (CHANGEDSINCE 1 VANISHED)');
  assert.equal(bad1.result.status, 'BAD');
  const cs = setup({ enabled: ['CONDSTORE'] });
  const bad2 = await run(fetchCommands, cs.store, cs.session, 'V3 UID FETCH 1:* (FLAGS) (CHANGEDSINCE 1 VANISHED)');
  assert.equal(bad2.result.status, 'BAD');
});

test('rev1 sessions see \\Recent; rev2 sessions do not', async () => {
  const rev1 = setup({ recentFrom: 3 });
  const r = await run(fetchCommands, rev1.store, rev1.session, 'A19 FETCH 3 FLAGS');
  assert.equal(r.lines[0], '* 3 FETCH (FLAGS (\\Flagged $Work \\Recent))');
  const rev2 = setup({ recentFrom: 3, enabled: ['IMAP4REV2'] });
  const r2 = await run(fetchCommands, rev2.store, rev2.session, 'A20 FETCH 3 FLAGS');
  assert.equal(r2.lines[0], '* 3 FETCH (FLAGS (\\Flagged $Work))');
});

test('expunged-but-unannounced messages are skipped: FETCH ends NO [EXPUNGEISSUED], UID FETCH OK', async () => {
  const { store, session, view } = setup();
  view.noteOwnExpunge([2]);
  store.box('INBOX').messages.splice(1, 1);
  const r = await run(fetchCommands, store, session, 'A21 FETCH 1:3 (UID RFC822.SIZE)');
  assert.equal(r.lines.length, 3);
  assert.ok(r.lines[0]!.startsWith('* 1 FETCH (UID 1 '));
  assert.ok(r.lines[1]!.startsWith('* 3 FETCH (UID 3 '));
  assert.equal(r.lines[2], 'A21 NO [EXPUNGEISSUED] Some messages were expunged');
  const u = await run(fetchCommands, store, session, 'A22 UID FETCH 1:3 FLAGS');
  assert.equal(u.result.status, 'OK');
  assert.equal(u.lines.length, 3);
});

test('SEARCHRES $ fetches the saved UIDs', async () => {
  const { store, session } = setup();
  session.searchResult = [3, 1];
  const r = await run(fetchCommands, store, session, 'A23 FETCH $ UID');
  assert.deepEqual(r.lines, ['* 1 FETCH (UID 1)', '* 3 FETCH (UID 3)', 'A23 OK FETCH completed']);
});

test('large sections are streamed by range with the exact declared size', async () => {
  const { store, view } = setup();
  const [rec] = await store.getMessages(view.mailboxId, [1]);
  const req = parseFetchItems({ type: 'atom', value: 'BODY.PEEK[]' }, false);
  const items = await renderFetch(store.asStore(), view, req, 1, rec!, { byUid: false, rev1: true, condstore: false, streamThreshold: 10 });
  const value = items[1];
  assert.ok(value instanceof StreamData);
  const chunks: Buffer[] = [];
  for await (const c of value.open()) chunks.push(c);
  assert.equal(Buffer.concat(chunks).toString(), SIMPLE.replace(/\n/g, '\r\n'));
  assert.equal(value.size, rec!.size);
  // BINARY of a big base64 part streams too, decoded, with its decoded size.
  const [multi] = await store.getMessages(view.mailboxId, [2]);
  const breq = parseFetchItems({ type: 'atom', value: 'BINARY.PEEK[2]<1.5>' }, false);
  const b = await renderFetch(store.asStore(), view, breq, 2, multi!, { byUid: false, rev1: true, condstore: false, streamThreshold: 4 });
  const bv = b[1];
  assert.ok(bv instanceof StreamData);
  const out: Buffer[] = [];
  for await (const c of bv.open()) out.push(c);
  assert.equal(Buffer.concat(out).toString('latin1'), 'inary');
  assert.equal(bv.size, 5);
  assert.equal(bv.binary, false);
});

test('malformed data items and modifiers are BAD; EMAILID and THREADID render from the record', async () => {
  const { store, session } = setup();
  for (const items of ['BODY[]<5.0>', 'BINARY[HEADER.FOO]', 'ENVELOPES', 'BODY[MIME]', '(FLAGS) (CHANGEDSINCE x)', 'PREVIEW']) {
    const r = await run(fetchCommands, store, session, `P FETCH 1 ${items}`);
    assert.equal(r.result.status, 'BAD', items);
  }
  const r = await run(fetchCommands, store, session, 'P FETCH 1 (EMAILID THREADID)');
  assert.equal(r.lines[0], '* 1 FETCH (EMAILID (Eblob1) THREADID NIL)');
});
