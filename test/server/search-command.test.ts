// SEARCH / UID SEARCH over an in-memory store: metadata keys, header and body keys with decoding,
// rev1 SEARCH vs ESEARCH, RETURN options, SAVE and "$", CHARSET (RFC 9051 §6.4.4, RFC 4731, RFC 5182).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { searchCommands } from '../../src/server/commands/search.js';
import { fetchCommands } from '../../src/server/commands/fetch.js';
import { storeCommands } from '../../src/server/commands/store.js';
import { copyMoveCommands } from '../../src/server/commands/copy-move.js';
import { decodeHeaderText, headerMatches } from '../../src/server/search-eval.js';
import { FakeStore, run, selectBox } from './command-harness.js';

const day = (y: number, m: number, d: number, h = 12) => Date.UTC(y, m - 1, d, h);

function setup(opts: { enabled?: string[]; recentFrom?: number | null } = {}) {
  const store = new FakeStore();
  store.addMailbox('INBOX');
  // 1: plain ASCII, seen, small
  store.addMessage('INBOX', {
    raw: 'From: Alice <alice@example.com>\nTo: bob@example.com\nSubject: Lunch plans\nDate: Sun, 14 Jan 2024 23:30:00 -0800\nX-Tag: alpha\n\nShall we meet at noon?\n',
    flags: ['\\Seen'],
    internalDate: day(2024, 1, 10),
  });
  // 2: encoded-word subject and from, base64 UTF-8 body, flagged + keyword
  store.addMessage('INBOX', {
    raw: [
      'From: =?UTF-8?Q?J=C3=B6rg?= <joerg@example.de>',
      'To: team@example.com',
      'Cc: boss@example.com',
      'Subject: =?UTF-8?B?R3LDvMOfZQ==?= aus Berlin',
      'Date: 20 Jan 2024 09:00:00 +0100',
      'MIME-Version: 1.0',
      'Content-Type: text/plain; charset=utf-8',
      'Content-Transfer-Encoding: base64',
      '',
      Buffer.from('Das Treffen ist am Dienstag in der Straße.\n').toString('base64'),
      '',
    ].join('\n'),
    flags: ['\\Flagged', '$Work'],
    internalDate: day(2024, 1, 20),
  });
  // 3: multipart with a quoted-printable text part and an attachment; deleted; big
  store.addMessage('INBOX', {
    raw: [
      'From: carol@example.com',
      'To: bob@example.com',
      'Subject: Quarterly report',
      'MIME-Version: 1.0',
      'Content-Type: multipart/mixed; boundary=b1',
      '',
      '--b1',
      'Content-Type: text/plain; charset=iso-8859-1',
      'Content-Transfer-Encoding: quoted-printable',
      '',
      'Caf=E9 revenue grew by fif=',
      'teen percent.',
      '--b1',
      'Content-Type: application/pdf; name=report.pdf',
      'Content-Transfer-Encoding: base64',
      '',
      Buffer.from('secretword inside pdf').toString('base64'),
      '--b1--',
      '',
      'x'.repeat(2000),
    ].join('\n'),
    flags: ['\\Deleted'],
    internalDate: day(2024, 2, 1),
  });
  return { store, ...selectBox(store, 'INBOX', opts) };
}

async function search(s: ReturnType<typeof setup>, criteria: string, uid = false): Promise<string> {
  const r = await run(searchCommands, s.store, s.session, `T ${uid ? 'UID ' : ''}SEARCH ${criteria}`);
  assert.equal(r.result.status, 'OK', r.text);
  return r.lines[0]!;
}

test('FROM/TO/CC/BCC match the envelope address (mailbox@host), not only the header text (RFC 9051 §6.4.4)', async () => {
  const store = new FakeStore();
  store.addMailbox('INBOX');
  // RFC 5322 §3.2.2 allows comments and folding white space around the "@" of an addr-spec; ENVELOPE gives
  // the address as mailbox "dana" and host "example.net", so FROM dana@example.net must find it.
  store.addMessage('INBOX', {
    raw: 'From: <dana (the sender) @ (her domain) example.net>\nTo: team: erin @example.org, frank@example.org;\nSubject: s\n\nhi\n',
    flags: [],
    internalDate: day(2024, 3, 1),
  });
  store.addMessage('INBOX', { raw: 'From: Dana Other <dana@example.com>\nSubject: t\n\nho\n', flags: [], internalDate: day(2024, 3, 2) });
  const s = { store, ...selectBox(store, 'INBOX') };
  assert.equal(await search(s, 'FROM dana@example.net'), '* SEARCH 1');
  assert.equal(await search(s, 'FROM "the sender"'), '* SEARCH 1');
  assert.equal(await search(s, 'FROM dana@example'), '* SEARCH 1 2');
  assert.equal(await search(s, 'TO erin@example.org'), '* SEARCH 1');
  assert.equal(await search(s, 'TO team'), '* SEARCH 1');
  assert.equal(await search(s, 'CC dana@example.net'), '* SEARCH');
});

test('flag keys, NOT, OR, ALL, keywords', async () => {
  const s = setup();
  assert.equal(await search(s, 'ALL'), '* SEARCH 1 2 3');
  assert.equal(await search(s, 'SEEN'), '* SEARCH 1');
  assert.equal(await search(s, 'UNSEEN'), '* SEARCH 2 3');
  assert.equal(await search(s, 'NOT DELETED'), '* SEARCH 1 2');
  assert.equal(await search(s, 'OR SEEN DELETED'), '* SEARCH 1 3');
  assert.equal(await search(s, 'KEYWORD $work'), '* SEARCH 2');
  assert.equal(await search(s, 'UNKEYWORD $Work FLAGGED'), '* SEARCH');
  assert.equal(await search(s, '(OR FLAGGED SEEN) UNDELETED'), '* SEARCH 1 2');
});

test('sequence sets, UID sets, sizes and internal dates', async () => {
  const s = setup();
  assert.equal(await search(s, '2:*'), '* SEARCH 2 3');
  assert.equal(await search(s, 'UID 1,3'), '* SEARCH 1 3');
  assert.equal(await search(s, 'UID 3:1 NOT 2', true), '* SEARCH 1 3');
  assert.equal(await search(s, 'LARGER 1000'), '* SEARCH 3');
  assert.equal(await search(s, 'SMALLER 1000'), '* SEARCH 1 2');
  assert.equal(await search(s, 'SINCE 20-Jan-2024'), '* SEARCH 2 3');
  assert.equal(await search(s, 'ON 20-Jan-2024'), '* SEARCH 2');
  assert.equal(await search(s, 'BEFORE "20-Jan-2024"'), '* SEARCH 1');
});

test('SENT* use the Date header in its own zone', async () => {
  const s = setup();
  // Message 1: Sun, 14 Jan 2024 23:30 -0800 (15 Jan in UTC) counts as 14 Jan.
  assert.equal(await search(s, 'SENTON 14-Jan-2024'), '* SEARCH 1');
  assert.equal(await search(s, 'SENTBEFORE 15-Jan-2024'), '* SEARCH 1');
  assert.equal(await search(s, 'SENTSINCE 15-Jan-2024 NOT 3'), '* SEARCH 2');
});

test('envelope and header keys decode RFC 2047 and match case-insensitively', async () => {
  const s = setup();
  assert.equal(await search(s, 'FROM jörg'), '* SEARCH 2');
  assert.equal(await search(s, 'FROM ALICE'), '* SEARCH 1');
  assert.equal(await search(s, 'SUBJECT "grüße aus"'), '* SEARCH 2');
  assert.equal(await search(s, 'TO bob'), '* SEARCH 1 3');
  assert.equal(await search(s, 'CC boss'), '* SEARCH 2');
  assert.equal(await search(s, 'HEADER X-Tag ""'), '* SEARCH 1');
  assert.equal(await search(s, 'HEADER x-tag ALPHA'), '* SEARCH 1');
  assert.equal(await search(s, 'HEADER X-Tag beta'), '* SEARCH');
});

test('BODY and TEXT decode transfer encodings and charsets; attachments are not searched', async () => {
  const s = setup();
  assert.equal(await search(s, 'BODY straße'), '* SEARCH 2');
  assert.equal(await search(s, 'BODY "café revenue grew by fifteen"'), '* SEARCH 3');
  assert.equal(await search(s, 'BODY secretword'), '* SEARCH');
  assert.equal(await search(s, 'BODY lunch'), '* SEARCH');
  assert.equal(await search(s, 'TEXT lunch'), '* SEARCH 1');
  assert.equal(await search(s, 'TEXT noon'), '* SEARCH 1');
});

test('rev2 and RETURN answer ESEARCH with TAG, UID, MIN, MAX, COUNT, ALL', async () => {
  const s = setup();
  assert.equal(await search(s, 'RETURN (MIN MAX COUNT) UNDELETED'), '* ESEARCH (TAG "T") MIN 1 MAX 2 COUNT 2');
  assert.equal(await search(s, 'RETURN () ALL', true), '* ESEARCH (TAG "T") UID ALL 1:3');
  assert.equal(await search(s, 'RETURN (COUNT ALL) BODY nothing-matches'), '* ESEARCH (TAG "T") COUNT 0');
  const v2 = setup({ enabled: ['IMAP4REV2'] });
  assert.equal(await search(v2, 'NOT 2'), '* ESEARCH (TAG "T") ALL 1,3');
  assert.equal(await search(v2, 'DRAFT'), '* ESEARCH (TAG "T")');
});

test('RETURN (SAVE) stores UIDs for "$" and suppresses ESEARCH; MIN with SAVE saves only the minimum', async () => {
  const s = setup();
  let r = await run(searchCommands, s.store, s.session, 'S1 SEARCH RETURN (SAVE) UNSEEN');
  assert.deepEqual(r.lines, ['S1 OK SEARCH completed']);
  assert.deepEqual(s.session.searchResult, [2, 3]);
  r = await run(fetchCommands, s.store, s.session, 'S2 UID FETCH $ FLAGS');
  assert.equal(r.lines.length, 3);
  assert.equal(await search(s, 'UID $ DELETED'), '* SEARCH 3');
  r = await run(searchCommands, s.store, s.session, 'S3 SEARCH RETURN (SAVE MIN) ALL');
  assert.deepEqual(r.lines, ['* ESEARCH (TAG "S3") MIN 1', 'S3 OK SEARCH completed']);
  assert.deepEqual(s.session.searchResult, [1]);
});

test('unsupported CHARSET is NO [BADCHARSET] and empties a SAVE result; bad syntax is BAD', async () => {
  const s = setup();
  s.session.searchResult = [1];
  const r = await run(searchCommands, s.store, s.session, 'C1 SEARCH RETURN (SAVE) CHARSET X-NO-SUCH-CHARSET TEXT x');
  assert.match(r.lines[0]!, /^C1 NO \[BADCHARSET \(US-ASCII UTF-8 ISO-8859-1 .*KOI8-R .*\)\] Unsupported charset X-NO-SUCH-CHARSET$/);
  assert.deepEqual(s.session.searchResult, []);
  assert.equal(await search(s, 'CHARSET utf-8 SUBJECT lunch'), '* SEARCH 1');
  for (const bad of ['FOO', 'SINCE 32-Jan-2024', 'OR SEEN', 'RETURN (BOGUS) ALL', 'LARGER x', 'MODSEQ x']) {
    const b = await run(searchCommands, s.store, s.session, `B SEARCH ${bad}`);
    assert.equal(b.result.status, 'BAD', bad);
  }
});

test('SEARCH MODSEQ is a CONDSTORE enabling command (RFC 7162 §3.1)', async () => {
  const s = setup();
  const r = await run(searchCommands, s.store, s.session, 'M1 SEARCH MODSEQ 3');
  assert.equal(r.result.status, 'OK');
  assert.ok(s.session.enabled.has('CONDSTORE'));
  assert.match(r.lines[0]!, /^\* OK \[HIGHESTMODSEQ \d+\]/);
  assert.equal(r.lines[1], '* SEARCH 2 3 (MODSEQ 4)');
});

test('ESEARCH MODSEQ covers only the MIN/MAX messages when no ALL/COUNT is asked (RFC 4731 §3.2)', async () => {
  const s = setup({ enabled: ['CONDSTORE'] });
  // modseqs are 2, 3, 4
  assert.equal(await search(s, 'RETURN (MIN) MODSEQ 1'), '* ESEARCH (TAG "T") MIN 1 MODSEQ 2');
  assert.equal(await search(s, 'RETURN (MAX) MODSEQ 1'), '* ESEARCH (TAG "T") MAX 3 MODSEQ 4');
  assert.equal(await search(s, 'RETURN (MIN COUNT) MODSEQ 1'), '* ESEARCH (TAG "T") MIN 1 COUNT 3 MODSEQ 4');
});

test('NEW, OLD, RECENT (rev1) and MODSEQ with CONDSTORE', async () => {
  const s = setup({ recentFrom: 2, enabled: ['CONDSTORE'] });
  assert.equal(await search(s, 'RECENT'), '* SEARCH 2 3');
  assert.equal(await search(s, 'NEW'), '* SEARCH 2 3');
  assert.equal(await search(s, 'OLD'), '* SEARCH 1');
  // modseqs are 2, 3, 4
  assert.equal(await search(s, 'MODSEQ 3'), '* SEARCH 2 3 (MODSEQ 4)');
  assert.equal(await search(s, 'MODSEQ "/flags/\\\\draft" all 3'), '* SEARCH 2 3 (MODSEQ 4)');
});

test('expunged-but-unannounced messages are left out and flagged with EXPUNGEISSUED', async () => {
  const s = setup();
  s.view.noteOwnExpunge([2]);
  const r = await run(searchCommands, s.store, s.session, 'X SEARCH ALL');
  assert.deepEqual(r.lines, ['* SEARCH 1 3', 'X OK [EXPUNGEISSUED] SEARCH completed']);
});

test('header helpers', () => {
  assert.equal(decodeHeaderText('=?ISO-8859-1?Q?Andr=E9?= =?ISO-8859-1?Q?_Pirard?= <x@y>'), 'André Pirard <x@y>');
  assert.equal(decodeHeaderText('plain =?utf-8?b?w6k=?= text'), 'plain é text');
  const h = Buffer.from('Subject: a\r\n b\r\nX-Empty:\r\n\r\n');
  assert.equal(headerMatches(h, 'subject', 'a b'), true);
  assert.equal(headerMatches(h, 'X-EMPTY', ''), true);
  assert.equal(headerMatches(h, 'X-Missing', ''), false);
});

test('every flag key alone and negated: ANSWERED, DELETED, DRAFT, FLAGGED, SEEN and their UN- forms; BCC', async () => {
  const s = setup();
  await run(storeCommands, s.store, s.session, 'F1 STORE 1 +FLAGS (\\Answered \\Draft)');
  assert.equal(await search(s, 'ANSWERED'), '* SEARCH 1');
  assert.equal(await search(s, 'UNANSWERED'), '* SEARCH 2 3');
  assert.equal(await search(s, 'DELETED'), '* SEARCH 3');
  assert.equal(await search(s, 'UNDELETED'), '* SEARCH 1 2');
  assert.equal(await search(s, 'DRAFT'), '* SEARCH 1');
  assert.equal(await search(s, 'UNDRAFT'), '* SEARCH 2 3');
  assert.equal(await search(s, 'FLAGGED'), '* SEARCH 2');
  assert.equal(await search(s, 'UNFLAGGED'), '* SEARCH 1 3');
  assert.equal(await search(s, 'SEEN'), '* SEARCH 1');
  assert.equal(await search(s, 'NOT UNSEEN'), '* SEARCH 1');
  const b = new FakeStore();
  b.addMailbox('INBOX');
  b.addMessage('INBOX', { raw: 'From: a@x\nTo: b@x\nBcc: =?UTF-8?Q?S=C3=B8ren?= <hidden@example.org>\nSubject: s\n\nx\n' });
  b.addMessage('INBOX', { raw: 'From: a@x\nTo: hidden@example.org\nSubject: s\n\nx\n' });
  const bs = { store: b, ...selectBox(b, 'INBOX') };
  assert.equal(await search(bs, 'BCC hidden'), '* SEARCH 1');
  assert.equal(await search(bs, 'BCC søren'), '* SEARCH 1');
  assert.equal(await search(bs, 'TO hidden'), '* SEARCH 2');
  assert.equal(await search(bs, 'NOT BCC ""'), '* SEARCH 2');
});

test('ESEARCH with no match sends neither MIN nor MAX nor ALL (RFC 4731 §3.1); UID ESEARCH carries UID', async () => {
  const s = setup();
  assert.equal(await search(s, 'RETURN (MIN MAX) SUBJECT nothing-here'), '* ESEARCH (TAG "T")');
  assert.equal(await search(s, 'RETURN (MIN MAX ALL) SUBJECT nothing-here', true), '* ESEARCH (TAG "T") UID');
  assert.equal(await search(s, 'RETURN (MIN MAX COUNT ALL) SUBJECT nothing-here'), '* ESEARCH (TAG "T") COUNT 0');
  assert.equal(await search(s, 'RETURN () UNDELETED'), '* ESEARCH (TAG "T") ALL 1:2');
  assert.equal(await search(s, 'RETURN (ALL) 2:3', true), '* ESEARCH (TAG "T") UID ALL 2:3');
  // SAVE with MIN and MAX: "$" holds both (RFC 9051 §6.4.4.1 table 4).
  const r = await run(searchCommands, s.store, s.session, 'S SEARCH RETURN (SAVE MIN MAX) ALL');
  assert.deepEqual(r.lines, ['* ESEARCH (TAG "S") MIN 1 MAX 3', 'S OK SEARCH completed']);
  assert.deepEqual(s.session.searchResult, [1, 3]);
});

test('SEARCHRES: a BAD SEARCH or a NO without SAVE leaves "$"; a NO with SAVE empties it; "$" drives UID STORE, COPY and MOVE', async () => {
  const s = setup();
  s.store.addMailbox('Archive');
  await run(searchCommands, s.store, s.session, 'S1 SEARCH RETURN (SAVE) UNSEEN');
  assert.deepEqual(s.session.searchResult, [2, 3]);
  // RFC 9051 §6.4.4.1: a SEARCH answered BAD, and a SEARCH without SAVE answered NO, leave "$" alone.
  const bad = await run(searchCommands, s.store, s.session, 'S2 SEARCH RETURN (SAVE) NO-SUCH-KEY');
  assert.equal(bad.result.status, 'BAD');
  assert.deepEqual(s.session.searchResult, [2, 3]);
  const no = await run(searchCommands, s.store, s.session, 'S3 SEARCH CHARSET X-NOPE BODY x');
  assert.equal(no.result.status, 'NO');
  assert.deepEqual(s.session.searchResult, [2, 3]);
  // "$" in UID STORE, UID COPY, UID MOVE (and as a sequence set in STORE).
  let r = await run(storeCommands, s.store, s.session, 'S4 UID STORE $ +FLAGS (\\Answered)');
  assert.deepEqual(r.lines, ['* 2 FETCH (FLAGS (\\Flagged $Work \\Answered) UID 2)', '* 3 FETCH (FLAGS (\\Deleted \\Answered) UID 3)', 'S4 OK UID STORE completed']);
  r = await run(copyMoveCommands, s.store, s.session, 'S5 UID COPY $ Archive');
  assert.match(r.lines[0]!, /^S5 OK \[COPYUID \d+ 2:3 1:2\] /);
  r = await run(copyMoveCommands, s.store, s.session, 'S6 UID MOVE $ Archive');
  assert.equal(r.lines.filter((l) => / EXPUNGE$/.test(l)).length, 2);
  assert.equal(s.store.box('INBOX').messages.length, 1);
  assert.equal(s.store.box('Archive').messages.length, 4);
  // The moved messages are gone: "$" matches nothing now (RFC 9051 §6.4.4.1, expunged messages leave it).
  r = await run(storeCommands, s.store, s.session, 'S7 STORE $ +FLAGS (\\Seen)');
  assert.deepEqual(r.lines, ['S7 OK STORE completed']);
  // A NO with SAVE empties it.
  await run(searchCommands, s.store, s.session, 'S8 SEARCH RETURN (SAVE) ALL');
  assert.deepEqual(s.session.searchResult, [1]);
  await run(searchCommands, s.store, s.session, 'S9 SEARCH RETURN (SAVE) CHARSET X-NOPE BODY x');
  assert.deepEqual(s.session.searchResult, []);
});
