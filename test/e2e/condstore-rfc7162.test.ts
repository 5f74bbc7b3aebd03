// RFC 7162 (CONDSTORE and QRESYNC) end to end: each example of the RFC replayed against the real server
// with a raw client, with our own mailbox contents in place of the RFC's numbers (mod-sequences are read
// from the server and the expected answers computed from them). Examples are named by their number or
// tag in the RFC.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { ImapTestClient, logoutQuietly } from '../helpers/imap-client.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import type { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';

let srv: TestServer;
const clients: ImapTestClient[] = [];
let boxes = 0;

before(async () => {
  srv = await startTestServer();
});

after(async () => {
  for (const c of clients) await logoutQuietly(c);
  await srv?.stop();
});

async function session(): Promise<ImapTestClient> {
  const c = await ImapTestClient.connect(srv.port);
  clients.push(c);
  const r = await c.command('L', `LOGIN ${srv.user} "${srv.password}"`);
  assert.match(r.tagged, /^L OK/);
  return c;
}

/** Creates a mailbox with `n` messages (flags per message from `flags`), all in one pipelined write. */
async function mailbox(c: ImapTestClient, n: number, flags: (i: number) => string = () => ''): Promise<string> {
  const name = `Box${++boxes}`;
  assert.match((await c.command('C', `CREATE ${name}`)).tagged, /^C OK/);
  let wire = '';
  for (let i = 1; i <= n; i++) {
    const msg = `Message-ID: <m${i}.${name}@example.com>\r\nSubject: message ${i}\r\nFrom: a@example.com\r\n\r\n${'x'.repeat(i * 100)}\r\n`;
    wire += `A${i} APPEND ${name} (${flags(i)}) {${Buffer.byteLength(msg)}+}\r\n${msg}\r\n`;
  }
  c.sendRaw(wire);
  for (let i = 1; i <= n; i++) assert.match((await c.readTagged(`A${i}`)).tagged, new RegExp(`^A${i} OK`));
  return name;
}

function modSeqOf(line: string): number {
  const m = /MODSEQ \((\d+)\)/.exec(line);
  assert.ok(m, `no MODSEQ in ${line}`);
  return Number(m[1]);
}

function highestIn(lines: string[]): number {
  const l = lines.find((x) => /^\* OK \[HIGHESTMODSEQ \d+\]/.test(x));
  assert.ok(l, `no HIGHESTMODSEQ in\n${lines.join('\n')}`);
  return Number(/HIGHESTMODSEQ (\d+)/.exec(l)![1]);
}

/** The FETCH responses, without \Recent (these rev1 sessions see the messages they appended as recent). */
function fetches(lines: string[]): string[] {
  return lines.filter((l) => /^\* \d+ FETCH /.test(l)).map((l) => l.replace(/ \\Recent(?=[ )])/g, '').replace(/\(\\Recent ?/g, '('));
}

test('CONDSTORE and QRESYNC are advertised with ENABLE (§3.1.1, §3.2.2, §3.2.3)', async () => {
  const c = await session();
  const caps = (await c.command('K', 'CAPABILITY')).untagged.join(' ').split(' ');
  for (const cap of ['CONDSTORE', 'QRESYNC', 'ENABLE']) assert.ok(caps.includes(cap), cap);
  // "ENABLE QRESYNC" and "ENABLE QRESYNC CONDSTORE" have identical results (§3.2.3).
  const e = await c.command('E', 'ENABLE QRESYNC CONDSTORE');
  assert.match(e.untagged[0]!, /^\* ENABLED( QRESYNC| CONDSTORE){2}$/);
  assert.ok(e.untagged[0]!.includes('CONDSTORE') && e.untagged[0]!.includes('QRESYNC'), e.untagged[0]);
});

test('Example 1 / 18: HIGHESTMODSEQ only after a CONDSTORE enabling command; SELECT (CONDSTORE) enables it', async () => {
  const setup = await session();
  const box = await mailbox(setup, 3);
  const c = await session();
  const plain = await c.command('S1', `SELECT ${box}`);
  assert.ok(!plain.untagged.some((l) => /HIGHESTMODSEQ/.test(l)), plain.untagged.join('\n'));
  assert.ok(!fetches(plain.untagged).length);
  const cs = await c.command('S2', `SELECT ${box} (CONDSTORE)`);
  assert.match(cs.tagged, /^S2 OK \[READ-WRITE\]/);
  // §3.2.11: a SELECT while a mailbox is selected first reports [CLOSED].
  assert.match(cs.untagged[0]!, /^\* OK \[CLOSED\]/);
  const h = highestIn(cs.untagged);
  assert.ok(h >= 2);
  // Once enabled, plain SELECT and EXAMINE report it too (§3.1.2.1 "with every successful SELECT or EXAMINE").
  const ex = await c.command('S3', `EXAMINE ${box}`);
  assert.equal(highestIn(ex.untagged), h);
});

test('Examples 3, 5, 6, 7, 8: STORE (UNCHANGEDSINCE) with .SILENT, MODIFIED, and 0', async () => {
  const c = await session();
  const box = await mailbox(c, 9);
  assert.match((await c.command('S', `SELECT ${box}`)).tagged, /^S OK/);
  // Example 5: the first CONDSTORE enabling command with a mailbox selected reports HIGHESTMODSEQ first.
  const e5 = await c.command('c101', 'STORE 5 (UNCHANGEDSINCE 1000000) -FLAGS.SILENT (\\Deleted)');
  assert.match(e5.tagged, /^c101 OK/);
  const h0 = highestIn(e5.untagged);
  // -FLAGS of an absent flag changes nothing (§3.1.11), so the mod-sequence stays and still is reported.
  assert.equal(e5.untagged.length, 2);
  assert.match(e5.untagged[1]!, /^\* 5 FETCH \(UID 5 MODSEQ \(\d+\)\)$/);
  assert.ok(modSeqOf(e5.untagged[1]!) <= h0);
  // Example 3: UID STORE 6,4,8 (UNCHANGEDSINCE h) +FLAGS.SILENT: one FETCH (UID, MODSEQ) per message.
  const e3 = await c.command('a103', `UID STORE 6,4,8 (UNCHANGEDSINCE ${h0}) +FLAGS.SILENT (\\Deleted)`);
  assert.match(e3.tagged, /^a103 OK/);
  const f3 = fetches(e3.untagged);
  assert.equal(f3.length, 3);
  const m3 = modSeqOf(f3[0]!);
  assert.ok(m3 > h0);
  assert.deepEqual(f3, [`* 4 FETCH (UID 4 MODSEQ (${m3}))`, `* 6 FETCH (UID 6 MODSEQ (${m3}))`, `* 8 FETCH (UID 8 MODSEQ (${m3}))`]);
  // Example 6: 7,5,9 (UNCHANGEDSINCE h0): 5 passes; 7 and 9 were changed by someone else meanwhile.
  const other = await session();
  assert.match((await other.command('S', `SELECT ${box}`)).tagged, /^S OK/);
  assert.match((await other.command('O', 'STORE 7,9 +FLAGS.SILENT (\\Answered)')).tagged, /^O OK/);
  const e6 = await c.command('d105', `STORE 7,5,9 (UNCHANGEDSINCE ${m3}) +FLAGS.SILENT (\\Deleted)`);
  assert.match(e6.tagged, /^d105 OK \[MODIFIED 7,9\]/);
  const f6 = fetches(e6.untagged);
  const m6 = modSeqOf(f6.find((l) => l.startsWith('* 5 FETCH'))!);
  assert.ok(f6.includes(`* 5 FETCH (UID 5 MODSEQ (${m6}))`), f6.join('\n'));
  // Example 6 variant (RFC 3501 §6.4.6 SHOULD): the other session's change to 7 and 9 is reported with it.
  assert.ok(f6.some((l) => /^\* 7 FETCH \(UID 7 FLAGS \(\\Answered\) MODSEQ \(\d+\)\)$/.test(l)), f6.join('\n'));
  assert.ok(f6.some((l) => /^\* 9 FETCH \(UID 9 FLAGS \(\\Answered\) MODSEQ \(\d+\)\)$/.test(l)), f6.join('\n'));
  // Example 8: UNCHANGEDSINCE 0 always fails for an existing message.
  const e8 = await c.command('a102', 'STORE 2 (UNCHANGEDSINCE 0) +FLAGS.SILENT ($MDNSent)');
  assert.deepEqual(e8.untagged, []);
  assert.match(e8.tagged, /^a102 OK \[MODIFIED 2\]/);
  // Example 4: STORE * (message 9 is now at a higher mod-sequence than m3... use its own).
  const f9 = fetches((await c.command('F', 'FETCH 9 (MODSEQ)')).untagged)[0]!;
  const e4 = await c.command('a104', `STORE * (UNCHANGEDSINCE ${modSeqOf(f9)}) +FLAGS.SILENT (\\Deleted $Processed)`);
  assert.match(e4.tagged, /^a104 OK/);
  assert.match(fetches(e4.untagged)[0]!, /^\* 9 FETCH \(UID 9 MODSEQ \(\d+\)\)$/);
  // The flags really are as stored.
  const all = await c.command('F2', 'FETCH 1:9 (FLAGS)');
  assert.ok(fetches(all.untagged).includes('* 9 FETCH (FLAGS (\\Answered \\Deleted $Processed))'), all.untagged.join('\n'));
  assert.ok(fetches(all.untagged).includes('* 2 FETCH (FLAGS ())'), all.untagged.join('\n'));
});

test('Example 11: conditional STORE over expunged and modified messages ends NO [MODIFIED]', async () => {
  const c = await session();
  const box = await mailbox(c, 7);
  assert.match((await c.command('S', `SELECT ${box} (CONDSTORE)`)).tagged, /^S OK/);
  const h = highestIn((await c.command('N', 'NOOP')).untagged.concat([`* OK [HIGHESTMODSEQ ${await statusHighest(c, box)}]`]));
  const other = await session();
  assert.match((await other.command('S', `SELECT ${box}`)).tagged, /^S OK/);
  assert.match((await other.command('D', 'STORE 4:7 +FLAGS.SILENT (\\Deleted)')).tagged, /^D OK/);
  assert.match((await other.command('E', 'EXPUNGE')).tagged, /^E OK/);
  assert.match((await other.command('M', 'STORE 2 +FLAGS.SILENT (\\Answered)')).tagged, /^M OK/);
  const r = await c.command('B001', `STORE 1:7 (UNCHANGEDSINCE ${h}) +FLAGS (\\Seen)`);
  assert.match(r.tagged, /^B001 NO \[MODIFIED 2\]/);
  const f = fetches(r.untagged);
  assert.ok(f.some((l) => /^\* 1 FETCH \(FLAGS \(\\Seen\) UID 1 MODSEQ \(\d+\)\)$/.test(l)), f.join('\n'));
  assert.ok(f.some((l) => /^\* 3 FETCH \(FLAGS \(\\Seen\) UID 3 MODSEQ \(\d+\)\)$/.test(l)), f.join('\n'));
  assert.ok(!r.untagged.some((l) => /EXPUNGE|VANISHED/.test(l)), 'no EXPUNGE during STORE by sequence number');
  const n = await c.command('B002', 'NOOP');
  assert.deepEqual(n.untagged.filter((l) => / EXPUNGE$/.test(l)), ['* 7 EXPUNGE', '* 6 EXPUNGE', '* 5 EXPUNGE', '* 4 EXPUNGE']);
  // The client retries message 2 with its new mod-sequence.
  const f2 = fetches((await c.command('F', 'FETCH 2 (MODSEQ)')).untagged)[0]!;
  const retry = await c.command('b003', `STORE 2 (UNCHANGEDSINCE ${modSeqOf(f2)}) +FLAGS (\\Seen)`);
  assert.match(retry.tagged, /^b003 OK/);
  assert.match(fetches(retry.untagged)[0]!, /^\* 2 FETCH \(FLAGS \(\\Answered \\Seen\) UID 2 MODSEQ \(\d+\)\)$/);
});

async function statusHighest(c: ImapTestClient, box: string): Promise<number> {
  const r = await c.command('ST', `STATUS ${box} (HIGHESTMODSEQ)`);
  const m = /HIGHESTMODSEQ (\d+)/.exec(r.untagged.join('\n'));
  assert.ok(m, r.untagged.join('\n'));
  return Number(m[1]);
}

test('Examples 12, 13: FETCH (MODSEQ) and UID FETCH (FLAGS) (CHANGEDSINCE n)', async () => {
  const c = await session();
  const box = await mailbox(c, 5);
  assert.match((await c.command('S', `SELECT ${box}`)).tagged, /^S OK/);
  const e13 = await c.command('a', 'FETCH 1:3 (MODSEQ)');
  const h = highestIn(e13.untagged);
  const f13 = fetches(e13.untagged);
  assert.equal(f13.length, 3);
  for (const [i, l] of f13.entries()) assert.match(l, new RegExp(`^\\* ${i + 1} FETCH \\(MODSEQ \\(\\d+\\)\\)$`));
  assert.match((await c.command('X', 'STORE 2,4 +FLAGS.SILENT ($NoJunk)')).tagged, /^X OK/);
  const e12 = await c.command('s100', `UID FETCH 1:* (FLAGS) (CHANGEDSINCE ${h})`);
  // (This rev1 session appended and selected the messages, so they are \Recent for it.)
  const f12 = fetches(e12.untagged);
  assert.equal(f12.length, 2, f12.join('\n'));
  assert.match(f12[0]!, /^\* 2 FETCH \(UID 2 FLAGS \(\$NoJunk\) MODSEQ \(\d+\)\)$/);
  assert.match(f12[1]!, /^\* 4 FETCH \(UID 4 FLAGS \(\$NoJunk\) MODSEQ \(\d+\)\)$/);
  assert.ok(modSeqOf(f12[0]!) > h);
});

test('Example 14: flag changes from other sessions carry MODSEQ (and UID, §3.2.4) once CONDSTORE is on', async () => {
  const a = await session();
  const box = await mailbox(a, 7);
  const b = await session();
  const old = await session();
  assert.match((await a.command('A142', `SELECT ${box}`)).tagged, /^A142 OK/);
  assert.match((await b.command('S', `SELECT ${box} (CONDSTORE)`)).tagged, /^S OK/);
  assert.match((await old.command('S', `SELECT ${box}`)).tagged, /^S OK/);
  const s = await a.command('A160', 'STORE 7 +FLAGS.SILENT (\\Deleted)');
  assert.deepEqual(s.untagged, [], 'A is not CONDSTORE-aware: .SILENT means nothing');
  const n = await b.command('C180', 'NOOP');
  const m = fetches(n.untagged);
  assert.equal(m.length, 1);
  assert.match(m[0]!, /^\* 7 FETCH \(UID 7 FLAGS \(\\Deleted\) MODSEQ \(\d+\)\)$/);
  // A session that never enabled CONDSTORE gets no MODSEQ.
  const o = await old.command('D210', 'NOOP');
  assert.deepEqual(fetches(o.untagged), ['* 7 FETCH (UID 7 FLAGS (\\Deleted))']);
  // Once A enables CONDSTORE, its own .SILENT stores report the new mod-sequence (Example 14, A240).
  assert.match((await a.command('E', 'ENABLE CONDSTORE')).untagged.join('\n'), /ENABLED CONDSTORE[\s\S]*HIGHESTMODSEQ/);
  const s2 = await a.command('A240', 'STORE 7 +FLAGS.SILENT (\\Seen)');
  assert.match(fetches(s2.untagged)[0]!, /^\* 7 FETCH \(UID 7 MODSEQ \(\d+\)\)$/);
  const n2 = await b.command('C270', 'NOOP');
  assert.equal(modSeqOf(fetches(n2.untagged)[0]!), modSeqOf(fetches(s2.untagged)[0]!));
  assert.match(fetches(n2.untagged)[0]!, /FLAGS \(\\Deleted \\Seen\)/);
});

test('Examples 15, 16, 19: SEARCH MODSEQ (with entry name) appends (MODSEQ n); ESEARCH carries MODSEQ', async () => {
  const c = await session();
  const box = await mailbox(c, 6, (i) => (i % 2 === 0 ? '\\Draft' : ''));
  assert.match((await c.command('S', `SELECT ${box}`)).tagged, /^S OK/);
  const h = await statusHighest(c, box);
  assert.match((await c.command('X', 'STORE 2,5 +FLAGS.SILENT (\\Flagged)')).tagged, /^X OK/);
  const e15 = await c.command('a', `SEARCH MODSEQ "/flags/\\\\draft" all ${h + 1}`);
  const s15 = e15.untagged.find((l) => l.startsWith('* SEARCH'))!;
  const highest = await statusHighest(c, box);
  assert.equal(s15, `* SEARCH 2 5 (MODSEQ ${highest})`);
  // Example 16: nothing found, so no (MODSEQ n).
  const e16 = await c.command('t', `SEARCH OR NOT MODSEQ 1 LARGER 50000`);
  assert.ok(e16.untagged.includes('* SEARCH'), e16.untagged.join('\n'));
  // Example 19: SEARCH RETURN (ALL) MODSEQ n.
  const e19 = await c.command('a19', `SEARCH RETURN (ALL) MODSEQ ${h + 1}`);
  assert.ok(e19.untagged.includes(`* ESEARCH (TAG "a19") ALL 2,5 MODSEQ ${highest}`), e19.untagged.join('\n'));
  const uid = await c.command('u19', `UID SEARCH RETURN (COUNT) MODSEQ ${h + 1}`);
  assert.ok(uid.untagged.includes(`* ESEARCH (TAG "u19") UID COUNT 2 MODSEQ ${highest}`), uid.untagged.join('\n'));
});

test('Example 17: STATUS (UIDNEXT MESSAGES HIGHESTMODSEQ); LIST RETURN (STATUS (HIGHESTMODSEQ)) agrees', async () => {
  const c = await session();
  const box = await mailbox(c, 4);
  const st = await c.command('A042', `STATUS ${box} (UIDNEXT MESSAGES HIGHESTMODSEQ)`);
  const m = new RegExp(`^\\* STATUS "${box}" \\(UIDNEXT 5 MESSAGES 4 HIGHESTMODSEQ (\\d+)\\)$`).exec(st.untagged[0]!);
  assert.ok(m, st.untagged.join('\n'));
  const list = await c.command('L', `LIST "" ${box} RETURN (STATUS (HIGHESTMODSEQ MESSAGES))`);
  assert.ok(list.untagged.includes(`* STATUS "${box}" (HIGHESTMODSEQ ${m[1]} MESSAGES 4)`), list.untagged.join('\n'));
});

test('QRESYNC needs ENABLE QRESYNC: SELECT (QRESYNC ...) and UID FETCH (VANISHED) are BAD before (§3.2.3)', async () => {
  const c = await session();
  const box = await mailbox(c, 1);
  assert.match((await c.command('S', `SELECT ${box} (QRESYNC (1 1))`)).tagged, /^S BAD/);
  assert.match((await c.command('S2', `SELECT ${box}`)).tagged, /^S2 OK/);
  // A SELECT refused for its arguments is still a failed SELECT: the selected mailbox is closed, [CLOSED]
  // announces it and nothing stays selected (RFC 9051 §6.3.2, §3.2.5 "the mailbox remains unselected").
  const refused = await c.command('S3', `EXAMINE ${box} (QRESYNC (1 1))`);
  assert.match(refused.tagged, /^S3 BAD/);
  assert.deepEqual(refused.untagged.map((l) => l.replace(/\] .*/, ']')), ['* OK [CLOSED]']);
  assert.match((await c.command('F0', 'FETCH 1 FLAGS')).tagged, /^F0 BAD/);
  assert.match((await c.command('S4', `SELECT ${box}`)).tagged, /^S4 OK/);
  assert.match((await c.command('F', 'UID FETCH 1:* FLAGS (CHANGEDSINCE 1 VANISHED)')).tagged, /^F BAD/);
  // §3.2.6: VANISHED without CHANGEDSINCE, or with FETCH (not UID FETCH), is BAD too.
  assert.match((await c.command('E', 'ENABLE QRESYNC')).tagged, /^E OK/);
  assert.match((await c.command('F2', 'UID FETCH 1:* FLAGS (VANISHED)')).tagged, /^F2 BAD/);
  assert.match((await c.command('F3', 'FETCH 1:* FLAGS (CHANGEDSINCE 1 VANISHED)')).tagged, /^F3 BAD/);
});

/** A mailbox of `n` messages; then the ones not in `keep` expunged and `flag` flagged; returns the modseq before. */
async function churn(c: ImapTestClient, n: number, keep: (uid: number) => boolean, flag: number[]): Promise<{ box: string; uidValidity: number; before: number }> {
  const box = await mailbox(c, n);
  const st = await c.command('ST', `STATUS ${box} (UIDVALIDITY HIGHESTMODSEQ)`);
  const uidValidity = Number(/UIDVALIDITY (\d+)/.exec(st.untagged[0]!)![1]);
  const before = Number(/HIGHESTMODSEQ (\d+)/.exec(st.untagged[0]!)![1]);
  assert.match((await c.command('S', `SELECT ${box}`)).tagged, /^S OK/);
  const gone: number[] = [];
  for (let uid = 1; uid <= n; uid++) if (!keep(uid)) gone.push(uid);
  if (gone.length > 0) {
    assert.match((await c.command('D', `UID STORE ${gone.join(',')} +FLAGS.SILENT (\\Deleted)`)).tagged, /^D OK/);
    assert.match((await c.command('E', 'EXPUNGE')).tagged, /^E OK/);
  }
  if (flag.length > 0) assert.match((await c.command('F', `UID STORE ${flag.join(',')} +FLAGS.SILENT (\\Seen $Forwarded)`)).tagged, /^F OK/);
  assert.match((await c.command('U', 'UNSELECT')).tagged, /^U OK/);
  return { box, uidValidity, before };
}

test('§3.2.5 A02: a UIDVALIDITY mismatch ignores the remaining parameters', async () => {
  const c = await session();
  const { box, uidValidity } = await churn(c, 5, (u) => u !== 2, [3]);
  assert.match((await c.command('E', 'ENABLE QRESYNC')).tagged, /^E OK/);
  const r = await c.command('A02', `SELECT ${box} (QRESYNC (${uidValidity + 1} 1 1:5))`);
  assert.match(r.tagged, /^A02 OK \[READ-WRITE\]/);
  assert.ok(r.untagged.includes(`* OK [UIDVALIDITY ${uidValidity}] UIDs valid`), r.untagged.join('\n'));
  assert.ok(!r.untagged.some((l) => /VANISHED|FETCH/.test(l)), r.untagged.join('\n'));
  assert.ok(r.untagged.some((l) => /HIGHESTMODSEQ/.test(l)));
});

test('§3.2.5.1 A03: SELECT (QRESYNC (uidvalidity modseq known-uids)) sends [CLOSED], VANISHED (EARLIER), changed FETCHes', async () => {
  const c = await session();
  // Keep UIDs 1, 3, 5, 6, 8; expunge the rest; flag 3 and 8 (UID 9 is new to the client: not known).
  const { box, uidValidity, before } = await churn(c, 9, (u) => [1, 3, 5, 6, 8, 9].includes(u), [3, 8]);
  const other = await mailbox(c, 1);
  assert.match((await c.command('E', 'ENABLE QRESYNC')).tagged, /^E OK/);
  assert.match((await c.command('S0', `SELECT ${other}`)).tagged, /^S0 OK/);
  const r = await c.command('A03', `SELECT ${box} (QRESYNC (${uidValidity} ${before} 1:8))`);
  assert.match(r.tagged, /^A03 OK \[READ-WRITE\]/);
  assert.match(r.untagged[0]!, /^\* OK \[CLOSED\]/);
  const vanished = r.untagged.filter((l) => l.startsWith('* VANISHED'));
  assert.deepEqual(vanished, ['* VANISHED (EARLIER) 2,4,7']);
  const f = fetches(r.untagged);
  assert.equal(f.length, 2, f.join('\n'));
  assert.match(f[0]!, /^\* 2 FETCH \(UID 3 FLAGS \(\\Seen \$Forwarded\) MODSEQ \(\d+\)\)$/);
  assert.match(f[1]!, /^\* 5 FETCH \(UID 8 FLAGS \(\\Seen \$Forwarded\) MODSEQ \(\d+\)\)$/);
  // VANISHED comes after the SELECT data and before the FETCHes (RFC's order).
  const iV = r.untagged.indexOf(vanished[0]!);
  assert.ok(iV > r.untagged.findIndex((l) => /UIDNEXT/.test(l)) && iV < r.untagged.indexOf(f[0]!));
  // Without known-uids the server uses 1:UIDNEXT-1 (UID 9 unchanged since creation is not reported).
  const all = await c.command('A03b', `EXAMINE ${box} (QRESYNC (${uidValidity} ${before}))`);
  assert.deepEqual(all.untagged.filter((l) => l.startsWith('* VANISHED')), ['* VANISHED (EARLIER) 2,4,7']);
  assert.equal(fetches(all.untagged).length, 2);
  // Up to date: nothing to report.
  const h = highestIn(all.untagged);
  const none = await c.command('A03c', `EXAMINE ${box} (QRESYNC (${uidValidity} ${h} 1:9))`);
  assert.ok(!none.untagged.some((l) => /VANISHED|FETCH/.test(l)), none.untagged.join('\n'));
});

test('§3.2.5.2 A04/B04: with pruned tombstones every absent known UID is reported, minus what seq-match proves', async () => {
  const c = await session();
  // UIDs divisible by three stay (as in the RFC's example); 1..30.
  const { box, uidValidity, before } = await churn(c, 30, (u) => u % 3 === 0, [3, 27]);
  const mb = (await srv.store.listMailboxes((await srv.store.getUser(srv.user))!.id)).find((m) => m.name === box)!;
  // The server forgets every expunge (RFC 7162 §5.3 "expired" records).
  await (srv.store as SqliteStore).pruneTombstones(mb.id, mb.highestModSeq);
  assert.equal((await srv.store.changesSince(mb.id, before)).truncated, true);
  assert.match((await c.command('E', 'ENABLE QRESYNC')).tagged, /^E OK/);
  const a04 = await c.command('A04', `SELECT ${box} (QRESYNC (${uidValidity} ${before} 1:29))`);
  const expected = [];
  for (let u = 1; u <= 29; u++) if (u % 3 !== 0) expected.push(u);
  const v = a04.untagged.filter((l) => l.startsWith('* VANISHED'));
  assert.equal(v.length, 1);
  assert.deepEqual(expandSet(v[0]!.replace('* VANISHED (EARLIER) ', '')), expected);
  // Flag changes are still exact: modseqs live on the messages.
  const f = fetches(a04.untagged);
  assert.deepEqual(f.map((l) => /UID (\d+)/.exec(l)![1]), ['3', '27']);
  // B04: sequence-match data. Seq 5 = UID 15 and seq 9 = UID 27 match, so nothing up to 27 is reported;
  // the pair (10, 29) does not match (seq 10 is UID 30): the search stops there.
  const b04 = await c.command('B04', `SELECT ${box} (QRESYNC (${uidValidity} ${before} 1:29 (5,9,10 15,27,29)))`);
  const vb = b04.untagged.filter((l) => l.startsWith('* VANISHED'));
  assert.deepEqual(vb, ['* VANISHED (EARLIER) 28:29']);
  // And UID FETCH (CHANGEDSINCE before VANISHED) also reports all absent UIDs of its set (§3.2.6 note).
  const uf = await c.command('UF', `UID FETCH 20:30 (FLAGS) (CHANGEDSINCE ${before} VANISHED)`);
  assert.deepEqual(uf.untagged.filter((l) => l.startsWith('* VANISHED')), ['* VANISHED (EARLIER) 20,22:23,25:26,28:29']);
});

function expandSet(set: string): number[] {
  const out: number[] = [];
  for (const part of set.split(',')) {
    const [a, b] = part.split(':').map(Number);
    for (let n = a!; n <= (b ?? a!); n++) out.push(n);
  }
  return out;
}

test('§3.2.6 Example 1: UID FETCH 300:500 (FLAGS) (CHANGEDSINCE n VANISHED) in one command', async () => {
  const c = await session();
  const { box, before } = await churn(c, 12, (u) => ![2, 7, 11].includes(u), [4, 6, 8]);
  assert.match((await c.command('E', 'ENABLE QRESYNC')).tagged, /^E OK/);
  assert.match((await c.command('S', `SELECT ${box}`)).tagged, /^S OK/);
  const r = await c.command('s100', `UID FETCH 3:12 (FLAGS) (CHANGEDSINCE ${before} VANISHED)`);
  // Only 7 and 11 are in 3:12; VANISHED (EARLIER) comes first.
  assert.equal(r.untagged[0], '* VANISHED (EARLIER) 7,11');
  const f = fetches(r.untagged);
  assert.deepEqual(
    f.map((l) => l.replace(/MODSEQ \(\d+\)/, 'MODSEQ (n)')),
    [
      '* 3 FETCH (UID 4 FLAGS (\\Seen $Forwarded) MODSEQ (n))',
      '* 5 FETCH (UID 6 FLAGS (\\Seen $Forwarded) MODSEQ (n))',
      '* 6 FETCH (UID 8 FLAGS (\\Seen $Forwarded) MODSEQ (n))',
    ],
  );
});

test('§3.2.7, §3.2.9, §3.2.10: EXPUNGE / UID EXPUNGE / MOVE send VANISHED and HIGHESTMODSEQ; CLOSE sends nothing', async () => {
  const c = await session();
  const box = await mailbox(c, 11);
  const dest = await mailbox(c, 0);
  assert.match((await c.command('E', 'ENABLE QRESYNC')).tagged, /^E OK/);
  assert.match((await c.command('S', `SELECT ${box}`)).tagged, /^S OK/);
  // The RFC's example: messages 3, 4, 7 and 11 are \Deleted.
  assert.match((await c.command('D', 'STORE 3,4,7,11 +FLAGS.SILENT (\\Deleted)')).tagged, /^D OK/);
  const e = await c.command('B202', 'EXPUNGE');
  assert.deepEqual(e.untagged, ['* VANISHED 3:4,7,11']);
  const h = Number(/^B202 OK \[HIGHESTMODSEQ (\d+)\]/.exec(e.tagged)?.[1]);
  assert.equal(h, await statusHighest(c, box));
  // Continuing: UIDs 2 and 5 (now messages 2 and 3).
  assert.match((await c.command('D2', 'UID STORE 2,5 +FLAGS.SILENT (\\Deleted)')).tagged, /^D2 OK/);
  const ue = await c.command('U', 'UID EXPUNGE 1:5');
  assert.deepEqual(ue.untagged, ['* VANISHED 2,5']);
  assert.match(ue.tagged, /^U OK \[HIGHESTMODSEQ \d+\]/);
  const mv = await c.command('M', `UID MOVE 6 ${dest}`);
  assert.match(mv.untagged[0]!, /^\* OK \[COPYUID \d+ 6 1\]/);
  assert.equal(mv.untagged[1], '* VANISHED 6');
  // RFC 6851 §4.4: a MOVE that moved something reports the source's new HIGHESTMODSEQ.
  assert.equal(Number(/^M OK \[HIGHESTMODSEQ (\d+)\]/.exec(mv.tagged)?.[1]), await statusHighest(c, box), mv.tagged);
  // Another session's expunge arrives as VANISHED too.
  const other = await session();
  assert.match((await other.command('S', `SELECT ${box}`)).tagged, /^S OK/);
  assert.match((await other.command('D', 'UID STORE 8 +FLAGS.SILENT (\\Deleted)')).tagged, /^D OK/);
  assert.match((await other.command('X', 'EXPUNGE')).tagged, /^X OK/);
  const n = await c.command('N', 'NOOP');
  assert.ok(n.untagged.includes('* VANISHED 8'), n.untagged.join('\n'));
  assert.ok(!n.untagged.some((l) => /EXPUNGE/.test(l)));
  // §3.2.8: CLOSE expunges silently.
  assert.match((await c.command('D3', 'UID STORE 9 +FLAGS.SILENT (\\Deleted)')).tagged, /^D3 OK/);
  const cl = await c.command('A202', 'CLOSE');
  assert.deepEqual(cl.untagged, []);
  assert.equal(cl.tagged, 'A202 OK CLOSE completed');
  const st = await c.command('ST2', `STATUS ${box} (MESSAGES)`);
  // 11 - (3, 4, 7, 11) - (2, 5) - 6 moved - 8 by the other session - 9 at CLOSE: UIDs 1 and 10 remain.
  assert.ok(st.untagged[0]!.includes('MESSAGES 2'), st.untagged[0]);
});

test('§3.2 / §6 example: while an expunge is held back during STORE by number, HIGHESTMODSEQ stays below it', async () => {
  const c = await session();
  const box = await mailbox(c, 4);
  assert.match((await c.command('S', `SELECT ${box} (CONDSTORE)`)).tagged, /^S OK/);
  const other = await session();
  assert.match((await other.command('S', `SELECT ${box}`)).tagged, /^S OK/);
  assert.match((await other.command('D', 'STORE 3 +FLAGS.SILENT (\\Deleted)')).tagged, /^D OK/);
  const beforeExpunge = await statusHighest(other, box);
  assert.match((await other.command('E', 'EXPUNGE')).tagged, /^E OK/);
  const expungeModSeq = await statusHighest(other, box);
  const r = await c.command('A150', 'STORE 1:2 +FLAGS.SILENT (\\Seen)');
  assert.match(r.tagged, /^A150 OK/);
  assert.ok(!r.untagged.some((l) => /EXPUNGE|VANISHED/.test(l)), r.untagged.join('\n'));
  const f = fetches(r.untagged);
  assert.equal(f.length, 2);
  assert.ok(modSeqOf(f[0]!) > expungeModSeq);
  const h = highestIn(r.untagged);
  assert.ok(h < expungeModSeq && h >= beforeExpunge - 1, `${h} vs expunge at ${expungeModSeq}`);
  // The HIGHESTMODSEQ comes after the FETCHes (the client must use it even though it saw higher MODSEQs).
  assert.ok(r.untagged.findIndex((l) => /HIGHESTMODSEQ/.test(l)) > r.untagged.indexOf(r.untagged.find((l) => / FETCH /.test(l))!));
  const n = await c.command('A152', 'NOOP');
  assert.deepEqual(n.untagged.filter((l) => /EXPUNGE/.test(l)), ['* 3 EXPUNGE']);
});
