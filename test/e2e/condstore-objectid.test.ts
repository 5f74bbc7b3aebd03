// The extensions around quick resync, end to end with a raw client: OBJECTID (RFC 8474 — its examples in
// §4.1-§4.3, §5.3 and §6), SAVEDATE (RFC 8514), PARTIAL (RFC 9394 — its examples in §3.1 and §3.3-§3.4),
// STATUS=SIZE (RFC 8438), LIST-STATUS (RFC 5819) with HIGHESTMODSEQ, and UNSELECT (RFC 3691).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { ImapTestClient, logoutQuietly } from '../helpers/imap-client.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

let srv: TestServer;
let c: ImapTestClient;

before(async () => {
  srv = await startTestServer();
  c = await ImapTestClient.connect(srv.port);
  assert.match((await c.command('L', `LOGIN ${srv.user} "${srv.password}"`)).tagged, /^L OK/);
  // IMAP4rev2: no \Recent in FLAGS, ESEARCH answers.
  assert.match((await c.command('E', 'ENABLE IMAP4rev2')).tagged, /^E OK/);
});

after(async () => {
  await logoutQuietly(c);
  await srv?.stop();
});

async function append(box: string, headers: string, date = ''): Promise<number> {
  const msg = Buffer.from(`From: a@example.com\r\n${headers}\r\n\r\nbody\r\n`);
  const r = await c.commandWithLiterals('A', [`APPEND ${box} () ${date}`, msg]);
  const m = /APPENDUID \d+ (\d+)/.exec(r.tagged);
  assert.ok(m, r.tagged);
  return Number(m[1]);
}

const OBJECTID = '[A-Za-z0-9_-]{1,255}';

test('capabilities: OBJECTID, SAVEDATE, PARTIAL, STATUS=SIZE, LIST-STATUS, UNSELECT', async () => {
  const caps = (await c.command('K', 'CAPABILITY')).untagged[0]!.split(' ');
  for (const cap of ['OBJECTID', 'SAVEDATE', 'PARTIAL', 'STATUS=SIZE', 'LIST-STATUS', 'UNSELECT', 'CONDSTORE', 'QRESYNC']) {
    assert.ok(caps.includes(cap), cap);
  }
});

test('RFC 8474 §4.1-4.3: MAILBOXID from CREATE, in SELECT, STATUS and LIST-STATUS; kept by RENAME', async () => {
  const foo = await c.command('3', 'create foo');
  const fooId = new RegExp(`^3 OK \\[MAILBOXID \\((${OBJECTID})\\)\\]`).exec(foo.tagged)?.[1];
  assert.ok(fooId, foo.tagged);
  const bar = await c.command('4', 'create bar');
  const barId = /MAILBOXID \(([^)]+)\)/.exec(bar.tagged)?.[1];
  assert.ok(barId && barId !== fooId);
  assert.match((await c.command('5', 'create foo')).tagged, /^5 NO/);
  assert.deepEqual((await c.command('6', 'status foo (mailboxid)')).untagged, [`* STATUS "foo" (MAILBOXID (${fooId}))`]);
  assert.match((await c.command('8', 'rename foo renamed')).tagged, /^8 OK/);
  assert.deepEqual((await c.command('9', 'status renamed (mailboxid)')).untagged, [`* STATUS "renamed" (MAILBOXID (${fooId}))`]);
  assert.deepEqual((await c.command('10', 'status bar (mailboxid)')).untagged, [`* STATUS "bar" (MAILBOXID (${barId}))`]);
  const sel = await c.command('27', 'select "renamed"');
  assert.ok(sel.untagged.includes(`* OK [MAILBOXID (${fooId})] Ok`), sel.untagged.join('\n'));
  const list = await c.command('11', 'list "" "*" return (status (mailboxid highestmodseq size))');
  assert.ok(list.untagged.includes(`* STATUS "renamed" (MAILBOXID (${fooId}) HIGHESTMODSEQ 1 SIZE 0)`), list.untagged.join('\n'));
  assert.ok(list.untagged.some((l) => /^\* STATUS "INBOX" \(MAILBOXID \(\S+\) HIGHESTMODSEQ \d+ SIZE \d+\)$/.test(l)), list.untagged.join('\n'));
  // A deleted and re-created name gets a new id.
  assert.match((await c.command('U', 'UNSELECT')).tagged, /^U OK/);
  assert.match((await c.command('D', 'delete bar')).tagged, /^D OK/);
  const again = await c.command('C', 'create bar');
  assert.ok(!again.tagged.includes(barId!), again.tagged);
});

test('RFC 8474 §5.3/§6 example: EMAILID and THREADID, kept by MOVE; SEARCH EMAILID / THREADID', async () => {
  assert.match((await c.command('C1', 'create threads')).tagged, /^C1 OK/);
  assert.match((await c.command('C2', 'create threads2')).tagged, /^C2 OK/);
  await append('threads', 'Subject: Message A\r\nMessage-ID: <fake.1521475657.54797@example.com>');
  await append('threads', 'Subject: Re: Message A\r\nMessage-ID: <fake.1521475657.21213@example.org>\r\nReferences: <fake.1521475657.54797@example.com>');
  await append('threads', 'Subject: Message C\r\nMessage-ID: <fake.1521475657.60280@example.com>');
  assert.match((await c.command('S', 'select threads')).tagged, /^S OK/);
  const f = await c.command('22', 'fetch 1:* (emailid threadid)');
  const rows = f.untagged.map((l) => new RegExp(`^\\* (\\d) FETCH \\(EMAILID \\((${OBJECTID})\\) THREADID \\((${OBJECTID})\\)\\)$`).exec(l));
  assert.ok(rows.every((r) => r), f.untagged.join('\n'));
  const [e1, e2, e3] = rows.map((r) => r![2]!);
  const [t1, t2, t3] = rows.map((r) => r![3]!);
  assert.equal(t1, t2);
  assert.notEqual(t1, t3);
  assert.equal(new Set([e1, e2, e3]).size, 3);
  assert.ok(![e1, e2, e3].includes(t1!), 'EMAILIDs and THREADIDs never share a value (§5.2)');
  assert.deepEqual((await c.command('27', `search emailid ${e1}`)).untagged, ['* ESEARCH (TAG "27") ALL 1']);
  assert.deepEqual((await c.command('28', `search threadid ${t1}`)).untagged, ['* ESEARCH (TAG "28") ALL 1:2']);
  // ObjectIDs are case-sensitive.
  assert.deepEqual((await c.command('29', `search emailid ${e1!.toLowerCase() === e1 ? e1!.toUpperCase() : e1!.toLowerCase()}`)).untagged, ['* ESEARCH (TAG "29")']);
  const mv = await c.command('23', 'move 2 threads2');
  assert.match(mv.untagged[0]!, /^\* OK \[COPYUID \d+ 2 1\]/);
  const after = await c.command('24', 'fetch 1:* (emailid threadid)');
  assert.deepEqual(after.untagged, [`* 1 FETCH (EMAILID (${e1}) THREADID (${t1}))`, `* 2 FETCH (EMAILID (${e3}) THREADID (${t3}))`]);
  assert.match((await c.command('25', 'select "threads2"')).tagged, /^25 OK/);
  assert.deepEqual((await c.command('26', 'fetch 1:* (emailid threadid)')).untagged, [`* 1 FETCH (EMAILID (${e2}) THREADID (${t1}))`]);
  // COPY keeps it too; identical bytes appended again get a new EMAILID (same thread: same Message-ID).
  const cp = await c.command('CP', 'copy 1 threads');
  assert.match(cp.tagged, /^CP OK \[COPYUID \d+ 1 4\]/);
  assert.match((await c.command('S2', 'select threads')).tagged, /^S2 OK/);
  assert.deepEqual((await c.command('F4', 'uid fetch 4 (emailid threadid)')).untagged, [`* 3 FETCH (UID 4 EMAILID (${e2}) THREADID (${t1}))`]);
  await append('threads', 'Subject: Message C\r\nMessage-ID: <fake.1521475657.60280@example.com>');
  const dup = await c.command('F5', 'uid fetch 5 (emailid threadid)');
  assert.ok(!dup.untagged[0]!.includes(e3!), dup.untagged[0]);
  assert.ok(dup.untagged[0]!.includes(`THREADID (${t3})`), dup.untagged[0]);
  assert.match((await c.command('U', 'unselect')).tagged, /^U OK/);
});

test('RFC 8514: FETCH SAVEDATE, SEARCH SAVEDBEFORE/SAVEDON/SAVEDSINCE/SAVEDATESUPPORTED; COPY gets a new save date', async () => {
  assert.match((await c.command('C', 'create saved')).tagged, /^C OK/);
  await append('saved', 'Subject: old internal date', '"01-Jan-2001 00:00:00 +0000" ');
  assert.match((await c.command('S', 'select saved')).tagged, /^S OK/);
  const f = await c.command('F', 'fetch 1 (savedate internaldate)');
  const m = /^\* 1 FETCH \(SAVEDATE "(\d\d-\w{3}-\d{4}) [^"]+" INTERNALDATE "01-Jan-2001 00:00:00 \+0000"\)$/.exec(f.untagged[0]!);
  assert.ok(m, f.untagged[0]);
  const today = m[1]!.replace(/^0/, '');
  // The save date is now, whatever the internal date says.
  assert.deepEqual((await c.command('S1', `search savedon ${today}`)).untagged, ['* ESEARCH (TAG "S1") ALL 1']);
  assert.deepEqual((await c.command('S2', `search savedsince ${today} on 1-Jan-2001`)).untagged, ['* ESEARCH (TAG "S2") ALL 1']);
  assert.deepEqual((await c.command('S3', `search savedbefore ${today}`)).untagged, ['* ESEARCH (TAG "S3")']);
  assert.deepEqual((await c.command('S4', 'search savedatesupported')).untagged, ['* ESEARCH (TAG "S4") ALL 1']);
});

test('RFC 8438 STATUS=SIZE, RFC 3691 UNSELECT', async () => {
  assert.match((await c.command('C', 'create sized')).tagged, /^C OK/);
  await append('sized', 'Subject: one');
  await append('sized', 'Subject: two');
  const size = 2 * Buffer.byteLength('From: a@example.com\r\nSubject: one\r\n\r\nbody\r\n');
  assert.deepEqual((await c.command('ST', 'status sized (size messages)')).untagged, [`* STATUS "sized" (SIZE ${size} MESSAGES 2)`]);
  assert.match((await c.command('S', 'select sized')).tagged, /^S OK/);
  assert.match((await c.command('D', 'store 1 +flags.silent (\\Deleted)')).tagged, /^D OK/);
  // UNSELECT leaves without expunging (unlike CLOSE) and with no [CLOSED].
  const u = await c.command('U', 'unselect');
  assert.deepEqual(u.untagged, []);
  assert.deepEqual((await c.command('ST2', 'status sized (messages deleted)')).untagged, ['* STATUS "sized" (MESSAGES 2 DELETED 1)']);
  assert.match((await c.command('F', 'fetch 1 flags')).tagged, /^F BAD/);
});

test('RFC 9394 §3.1: SEARCH RETURN (PARTIAL ...) pages from either end, NIL past the end, with COUNT, MIN, SAVE', async () => {
  assert.match((await c.command('C', 'create paged')).tagged, /^C OK/);
  for (let i = 1; i <= 12; i++) await append('paged', `Subject: page ${i}`);
  assert.match((await c.command('S', 'select paged')).tagged, /^S OK/);
  // Leave UIDs 1..12 but expunge 4 and 5, so sequence numbers and UIDs differ.
  assert.match((await c.command('D', 'uid store 4:5 +flags.silent (\\Deleted)')).tagged, /^D OK/);
  assert.match((await c.command('E', 'expunge')).tagged, /^E OK/);
  const last = await c.command('A01', 'UID SEARCH RETURN (PARTIAL -1:-3) UNDELETED');
  assert.deepEqual(last.untagged, ['* ESEARCH (TAG "A01") UID PARTIAL (-1:-3 10:12)']);
  const first = await c.command('A03', 'UID SEARCH RETURN (PARTIAL 1:5) ALL');
  assert.deepEqual(first.untagged, ['* ESEARCH (TAG "A03") UID PARTIAL (1:5 1:3,6:7)']);
  const span = await c.command('A02', 'SEARCH RETURN (PARTIAL 8:20) ALL');
  assert.deepEqual(span.untagged, ['* ESEARCH (TAG "A02") PARTIAL (8:20 8:10)']);
  const beyond = await c.command('A04', 'UID SEARCH RETURN (PARTIAL 24000:24500) ALL');
  assert.deepEqual(beyond.untagged, ['* ESEARCH (TAG "A04") UID PARTIAL (24000:24500 NIL)']);
  const reversed = await c.command('A05', 'UID SEARCH RETURN (PARTIAL 3:2 COUNT MIN) ALL');
  assert.deepEqual(reversed.untagged, ['* ESEARCH (TAG "A05") UID MIN 1 COUNT 10 PARTIAL (3:2 2:3)']);
  assert.match((await c.command('A06', 'SEARCH RETURN (PARTIAL 1:2 ALL) ALL')).tagged, /^A06 BAD/);
  assert.match((await c.command('A07', 'SEARCH RETURN (PARTIAL 0:2) ALL')).tagged, /^A07 BAD/);
  assert.match((await c.command('A08', 'SEARCH RETURN (PARTIAL -1:2) ALL')).tagged, /^A08 BAD/);
  // §3.2: SAVE with PARTIAL saves the page.
  assert.match((await c.command('A09', 'UID SEARCH RETURN (SAVE PARTIAL -2:-1) ALL')).tagged, /^A09 OK/);
  assert.deepEqual((await c.command('A10', 'UID FETCH $ (UID)')).untagged, ['* 9 FETCH (UID 11)', '* 10 FETCH (UID 12)']);
});

test('RFC 9394 §3.3/§3.4: UID FETCH (PARTIAL ...) alone and with CHANGEDSINCE', async () => {
  assert.match((await c.command('S', 'select paged')).tagged, /^S OK/);
  const last3 = await c.command('10', 'UID FETCH 2:11 (UID FLAGS) (PARTIAL -1:-3)');
  assert.deepEqual(last3.untagged, ['* 7 FETCH (UID 9 FLAGS ())', '* 8 FETCH (UID 10 FLAGS ())', '* 9 FETCH (UID 11 FLAGS ())']);
  const first2 = await c.command('11', 'UID FETCH 2:11 (UID FLAGS) (PARTIAL 1:2)');
  assert.deepEqual(first2.untagged, ['* 2 FETCH (UID 2 FLAGS ())', '* 3 FETCH (UID 3 FLAGS ())']);
  const st = await c.command('ST', 'UID STORE 3,10 +FLAGS.SILENT (\\Flagged)');
  assert.match(st.tagged, /^ST OK/);
  const ms = await c.command('MS', 'UID FETCH 10 (MODSEQ)');
  const modseq = Number(/MODSEQ \((\d+)\)/.exec(ms.untagged.find((l) => l.includes('FETCH'))!)![1]);
  // The last 3 of 2:11 are 9, 10, 11; of those only 10 changed since modseq-1.
  const both = await c.command('101', `UID FETCH 2:11 (UID FLAGS) (PARTIAL -1:-3 CHANGEDSINCE ${modseq - 1})`);
  assert.deepEqual(both.untagged, [`* 8 FETCH (UID 10 FLAGS (\\Flagged) MODSEQ (${modseq}))`]);
  const swapped = await c.command('102', `UID FETCH 2:11 (UID FLAGS) (CHANGEDSINCE ${modseq - 1} PARTIAL -1:-3)`);
  assert.deepEqual(swapped.untagged, both.untagged);
  assert.match((await c.command('103', 'UID FETCH 1:* (FLAGS) (PARTIAL 1:2 PARTIAL 3:4)')).tagged, /^103 BAD/);
});
