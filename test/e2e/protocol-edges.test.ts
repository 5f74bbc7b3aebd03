// Exact-wire end-to-end tests of the server's protocol edges (issue 2, items 3, 4, 5, 8) with a raw
// socket client: greeting and CAPABILITY (RFC 9051 §7.1.1, §7.2.2), LOGINDISABLED (§6.2.3), LOGIN and
// AUTHENTICATE PLAIN with SASL-IR (RFC 4616, RFC 4959), response codes (RFC 5530), ENABLE (RFC 5161),
// ID (RFC 2971), NAMESPACE (RFC 2342), LIST-EXTENDED (RFC 5258), LIST-STATUS (RFC 5819), SPECIAL-USE
// (RFC 6154), LSUB (RFC 3501 §6.3.9), CREATE/DELETE/RENAME (RFC 9051 §6.3.4-6), UIDVALIDITY (§2.3.1.1),
// APPEND with LITERAL+ (RFC 7888) and MULTIAPPEND (RFC 3502), UIDPLUS (RFC 4315), MOVE (RFC 6851),
// modified UTF-7 (RFC 3501 §5.1.3) vs UTF-8 names (RFC 9051 §5.1), hostile names, BAD for malformed
// input (§7.1.3), STARTTLS (§6.2.1), partial FETCH and implicit \Seen (§6.4.5).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { generate } from 'selfsigned';
import { ImapTestClient, logoutQuietly, type ImapResponse } from '../helpers/imap-client.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

let srv: TestServer;
const clients: ImapTestClient[] = [];
const servers: TestServer[] = [];

const BOB = { user: 'bob', password: 'bobs secret' };

before(async () => {
  srv = await startTestServer({ extraUsers: [BOB] });
  servers.push(srv);
});

after(async () => {
  for (const c of clients) await logoutQuietly(c);
  for (const s of servers) await s.stop();
});

async function connect(port = srv.port): Promise<ImapTestClient> {
  const c = await ImapTestClient.connect(port);
  clients.push(c);
  return c;
}

async function login(port = srv.port, user = srv.user, password = srv.password): Promise<ImapTestClient> {
  const c = await connect(port);
  const r = await c.command('L', `LOGIN ${user} "${password}"`);
  assert.match(r.tagged, /^L OK/, r.tagged);
  return c;
}

function ok(r: { tagged: string }, tag: string): void {
  assert.match(r.tagged, new RegExp(`^${tag} OK`), r.tagged);
}

function msg(subject: string, body = 'Hello.\r\n'): Buffer {
  return Buffer.from(`From: a@example.com\r\nTo: b@example.com\r\nSubject: ${subject}\r\n\r\n${body}`);
}

function capsOf(line: string): string[] {
  const m = /\[CAPABILITY ([^\]]*)\]/.exec(line) ?? /^\* CAPABILITY (.*)$/.exec(line);
  assert.ok(m, `no capability list in ${line}`);
  return m[1]!.split(' ');
}

/** Parses `* LIST (attrs) "/" name` (name quoted, atom or literal). */
function parseList(r: ImapResponse): { attrs: string[]; delimiter: string; name: string; extra: string } | null {
  const m = /^\* (?:LIST|LSUB) \(([^)]*)\) (NIL|"(?:[^"\\]|\\.)*") ([\s\S]*)$/.exec(r.text);
  if (!m) return null;
  const rest = m[3]!;
  let name: string;
  let extra = '';
  if (rest.startsWith('{')) {
    name = r.literals[0]!.toString('utf8');
    const idx = rest.indexOf('\r\n') + 2 + r.literals[0]!.length;
    extra = rest.slice(idx).trim();
  } else if (rest.startsWith('"')) {
    const q = /^"((?:[^"\\]|\\.)*)"(.*)$/s.exec(rest)!;
    name = q[1]!.replace(/\\(.)/g, '$1');
    extra = q[2]!.trim();
  } else {
    const sp = rest.indexOf(' ');
    name = sp < 0 ? rest : rest.slice(0, sp);
    extra = sp < 0 ? '' : rest.slice(sp + 1);
  }
  return { attrs: m[1]!.split(' ').filter(Boolean), delimiter: m[2]!, name, extra };
}

async function listNames(c: ImapTestClient, pattern = '"*"'): Promise<string[]> {
  const r = await c.command('LN', `LIST "" ${pattern}`);
  ok(r, 'LN');
  return r.responses.map(parseList).filter((x) => x !== null).map((x) => x.name);
}

async function appendTo(c: ImapTestClient, box: string, m: Buffer, flags = ''): Promise<number> {
  const r = await c.commandWithLiterals('AP', [`APPEND ${box} ${flags ? `(${flags}) ` : ''}`, m]);
  ok(r, 'AP');
  return Number(/\[APPENDUID \d+ (\d+)\]/.exec(r.tagged)![1]);
}

function uidSet(set: string): number[] {
  const out: number[] = [];
  for (const part of set.split(',')) {
    const [a, b] = part.split(':').map(Number) as [number, number | undefined];
    if (b === undefined) out.push(a);
    else for (let i = Math.min(a, b); i <= Math.max(a, b); i++) out.push(i);
  }
  return out;
}

// --- greeting, capabilities, authentication

test('the greeting is OK with a CAPABILITY code naming both protocol versions; no LOGINDISABLED on loopback', async () => {
  const c = await connect();
  assert.match(c.greeting, /^\* OK \[CAPABILITY /);
  const caps = capsOf(c.greeting);
  for (const cap of ['IMAP4rev1', 'IMAP4rev2', 'AUTH=PLAIN', 'SASL-IR', 'LITERAL+', 'ID', 'ENABLE', 'IDLE']) {
    assert.ok(caps.includes(cap), `${cap} in ${caps.join(' ')}`);
  }
  assert.ok(!caps.includes('LOGINDISABLED'));
  assert.ok(!caps.includes('STARTTLS'), 'STARTTLS is not offered without a certificate');
  const r = await c.command('C', 'CAPABILITY');
  ok(r, 'C');
  assert.deepEqual(capsOf(r.untagged[0]!), caps);
});

test('LOGIN with a wrong password: NO [AUTHENTICATIONFAILED], and the connection stays usable', async () => {
  const c = await connect();
  const r = await c.command('L1', `LOGIN ${srv.user} "wrong password"`);
  assert.match(r.tagged, /^L1 NO \[AUTHENTICATIONFAILED\]/);
  const u = await c.command('L2', 'LOGIN nosuchuser "whatever"');
  assert.match(u.tagged, /^L2 NO \[AUTHENTICATIONFAILED\]/, 'unknown users get the same answer');
  const s = await c.command('S', 'SELECT INBOX');
  assert.match(s.tagged, /^S BAD/, 'SELECT before authentication is BAD');
  const good = await c.command('L3', `LOGIN ${srv.user} "${srv.password}"`);
  assert.match(good.tagged, /^L3 OK \[CAPABILITY [^\]]*\]/);
  assert.ok(capsOf(good.tagged).includes('UIDPLUS'), 'post-login capabilities are sent');
});

test('AUTHENTICATE PLAIN with an initial response (SASL-IR) and with a continuation', async () => {
  const creds = Buffer.from(`\0${srv.user}\0${srv.password}`).toString('base64');
  const c1 = await connect();
  ok(await c1.command('A', `AUTHENTICATE PLAIN ${creds}`), 'A');

  const c2 = await connect();
  c2.send('A AUTHENTICATE PLAIN');
  const cont = await c2.next();
  assert.match(cont.text, /^\+/);
  c2.send(creds);
  ok(await c2.readTagged('A'), 'A');
  ok(await c2.command('N', 'NOOP'), 'N');

  const c3 = await connect();
  const bad = Buffer.from(`\0${srv.user}\0nope`).toString('base64');
  assert.match((await c3.command('A', `AUTHENTICATE PLAIN ${bad}`)).tagged, /^A NO \[AUTHENTICATIONFAILED\]/);
  c3.send('B AUTHENTICATE PLAIN');
  await c3.waitFor(/^\+/);
  c3.send('*');
  assert.match((await c3.readTagged('B')).tagged, /^B BAD/, 'a "*" cancels the exchange (RFC 9051 §6.2.2)');
  ok(await c3.command('N', 'NOOP'), 'N');
});

test('with allowInsecureAuth "never", LOGINDISABLED is advertised and LOGIN is refused in clear text', async () => {
  const strict = await startTestServer({ allowInsecureAuth: 'never' });
  servers.push(strict);
  const c = await connect(strict.port);
  const caps = capsOf(c.greeting);
  assert.ok(caps.includes('LOGINDISABLED'), caps.join(' '));
  assert.ok(!caps.includes('AUTH=PLAIN'), caps.join(' '));
  assert.match((await c.command('L', `LOGIN ${strict.user} "${strict.password}"`)).tagged, /^L NO \[PRIVACYREQUIRED\]/);
  const creds = Buffer.from(`\0${strict.user}\0${strict.password}`).toString('base64');
  assert.match((await c.command('A', `AUTHENTICATE PLAIN ${creds}`)).tagged, /^A NO/);
  assert.match((await c.command('T', 'STARTTLS')).tagged, /^T NO/, 'no certificate: STARTTLS refused');
});

test('STARTTLS with a certificate upgrades the connection; LOGIN works after it', async () => {
  const pems = await generate([{ name: 'commonName', value: 'localhost' }], { keySize: 2048, algorithm: 'sha256' });
  const tlsSrv = await startTestServer({ allowInsecureAuth: 'never', tls: { key: pems.private, cert: pems.cert } });
  servers.push(tlsSrv);
  const c = await connect(tlsSrv.port);
  const caps = capsOf(c.greeting);
  assert.ok(caps.includes('STARTTLS') && caps.includes('LOGINDISABLED'), caps.join(' '));
  const r = await c.command('T', 'STARTTLS');
  ok(r, 'T');
  await c.startTls();
  assert.ok(c.encrypted);
  const after = await c.command('C', 'CAPABILITY');
  const caps2 = capsOf(after.untagged[0]!);
  assert.ok(!caps2.includes('STARTTLS') && !caps2.includes('LOGINDISABLED') && caps2.includes('AUTH=PLAIN'), caps2.join(' '));
  ok(await c.command('L', `LOGIN ${tlsSrv.user} "${tlsSrv.password}"`), 'L');
  ok(await c.command('S', 'SELECT INBOX'), 'S');
});

// --- any-state and authenticated-state commands

test('ENABLE IMAP4rev2, ID and NAMESPACE', async () => {
  const c = await connect();
  assert.match((await c.command('E0', 'ENABLE IMAP4rev2')).tagged, /^E0 BAD/, 'ENABLE needs authentication');
  const id0 = await c.command('I', 'ID ("name" "e2e-test" "version" "1")');
  ok(id0, 'I');
  assert.match(id0.untagged[0]!, /^\* ID \(.*"name" "Petrel"/);
  ok(await c.command('L', `LOGIN ${srv.user} "${srv.password}"`), 'L');
  const e = await c.command('E', 'ENABLE IMAP4rev2');
  ok(e, 'E');
  assert.deepEqual(e.untagged, ['* ENABLED IMAP4rev2']);
  const again = await c.command('E2', 'ENABLE IMAP4rev2');
  ok(again, 'E2');
  assert.ok(!again.untagged.some((l) => /IMAP4rev2/.test(l)), 'ENABLED lists only newly enabled ones (RFC 5161 §3.1)');
  const idNil = await c.command('I2', 'ID NIL');
  ok(idNil, 'I2');
  const ns = await c.command('N', 'NAMESPACE');
  ok(ns, 'N');
  assert.deepEqual(ns.untagged, ['* NAMESPACE (("" "/")) NIL NIL']);
});

test('LIST "" "" returns the hierarchy delimiter', async () => {
  const c = await login();
  const r = await c.command('L', 'LIST "" ""');
  ok(r, 'L');
  assert.deepEqual(r.untagged, ['* LIST (\\Noselect) "/" ""']);
});

test('LIST-EXTENDED: SUBSCRIBED selection, RETURN (CHILDREN SPECIAL-USE STATUS (MESSAGES UNSEEN)); LSUB', async () => {
  const c = await login();
  ok(await c.command('C', 'CREATE Lx/Child'), 'C');
  ok(await c.command('S1', 'SUBSCRIBE Lx/Child'), 'S1');
  await appendTo(c, 'Lx/Child', msg('unseen one'));
  await appendTo(c, 'Lx/Child', msg('seen one'), '\\Seen');

  const sub = await c.command('L1', 'LIST (SUBSCRIBED) "" "Lx/*"');
  ok(sub, 'L1');
  const subs = sub.responses.map(parseList).filter((x) => x !== null);
  assert.deepEqual(subs.map((x) => x.name), ['Lx/Child']);
  assert.ok(subs[0]!.attrs.includes('\\Subscribed'), sub.untagged.join('\n'));

  const r = await c.command('L2', 'LIST "" "*" RETURN (CHILDREN SPECIAL-USE STATUS (MESSAGES UNSEEN))');
  ok(r, 'L2');
  const lists = r.responses.map(parseList).filter((x) => x !== null);
  const byName = new Map(lists.map((x) => [x.name, x]));
  assert.ok(byName.get('Lx')!.attrs.includes('\\HasChildren'), r.untagged.join('\n'));
  assert.ok(byName.get('Lx/Child')!.attrs.includes('\\HasNoChildren'), r.untagged.join('\n'));
  assert.ok(byName.get('Sent')!.attrs.includes('\\Sent'));
  assert.ok(byName.get('Trash')!.attrs.includes('\\Trash'));
  assert.ok(byName.get('Drafts')!.attrs.includes('\\Drafts'));
  assert.ok(byName.get('Junk')!.attrs.includes('\\Junk'));
  assert.ok(byName.get('Archive')!.attrs.includes('\\Archive'));
  // RFC 5819: a STATUS response follows each selectable mailbox's LIST.
  const statusLine = r.untagged.find((l) => /^\* STATUS "?Lx\/Child"? /.test(l));
  assert.ok(statusLine, r.untagged.join('\n'));
  assert.match(statusLine, /\(MESSAGES 2 UNSEEN 1\)|\(UNSEEN 1 MESSAGES 2\)/);
  const inboxIdx = r.untagged.findIndex((l) => /^\* LIST .* "?INBOX"?$/.test(l));
  assert.match(r.untagged[inboxIdx + 1]!, /^\* STATUS "?INBOX"? /);

  const onlySpecial = await c.command('L3', 'LIST (SPECIAL-USE) "" "*"');
  ok(onlySpecial, 'L3');
  const specials = onlySpecial.responses.map(parseList).filter((x) => x !== null).map((x) => x.name).sort();
  assert.deepEqual(specials, ['Archive', 'Drafts', 'Junk', 'Sent', 'Trash']);

  const ls = await c.command('L4', 'LSUB "" "Lx/*"');
  ok(ls, 'L4');
  assert.equal(ls.untagged.length, 1, ls.untagged.join('\n'));
  assert.match(ls.untagged[0]!, /^\* LSUB \([^)]*\) "\/" "?Lx\/Child"?$/);
  ok(await c.command('U', 'UNSUBSCRIBE Lx/Child'), 'U');
  assert.deepEqual((await c.command('L5', 'LSUB "" "Lx/*"')).untagged, []);
});

test('CREATE makes intermediate levels; DELETE and RENAME; UIDVALIDITY differs after delete + re-create', async () => {
  const c = await login();
  ok(await c.command('C', 'CREATE Deep/er/est'), 'C');
  const names = await listNames(c, '"Deep*"');
  assert.deepEqual(names.sort(), ['Deep', 'Deep/er', 'Deep/er/est']);
  assert.match((await c.command('C2', 'CREATE Deep')).tagged, /^C2 NO \[ALREADYEXISTS\]/);

  ok(await c.command('R', 'RENAME Deep Shallow'), 'R');
  assert.deepEqual((await listNames(c, '"Deep*"')), []);
  assert.deepEqual((await listNames(c, '"Shallow*"')).sort(), ['Shallow', 'Shallow/er', 'Shallow/er/est']);
  assert.match((await c.command('R2', 'RENAME NoSuch Other')).tagged, /^R2 NO \[NONEXISTENT\]/);
  assert.match((await c.command('R3', 'RENAME Shallow Sent')).tagged, /^R3 NO \[ALREADYEXISTS\]/);

  ok(await c.command('D', 'DELETE Shallow/er/est'), 'D');
  assert.deepEqual((await listNames(c, '"Shallow*"')).sort(), ['Shallow', 'Shallow/er']);
  assert.match((await c.command('D2', 'DELETE Shallow/er/est')).tagged, /^D2 NO \[NONEXISTENT\]/);
  assert.match((await c.command('D3', 'DELETE INBOX')).tagged, /^D3 NO/);

  ok(await c.command('C3', 'CREATE Again'), 'C3');
  const s1 = await c.command('S1', 'STATUS Again (UIDVALIDITY UIDNEXT)');
  const v1 = /UIDVALIDITY (\d+)/.exec(s1.untagged.join(''))![1];
  await appendTo(c, 'Again', msg('x'));
  ok(await c.command('D4', 'DELETE Again'), 'D4');
  ok(await c.command('C4', 'CREATE Again'), 'C4');
  const s2 = await c.command('S2', 'STATUS Again (UIDVALIDITY MESSAGES)');
  const v2 = /UIDVALIDITY (\d+)/.exec(s2.untagged.join(''))![1];
  assert.notEqual(v2, v1, 'a re-created name gets a new UIDVALIDITY (RFC 9051 §2.3.1.1)');
  assert.match(s2.untagged.join(''), /MESSAGES 0/);
});

// --- APPEND, COPY, MOVE, EXPUNGE

test('APPEND with LITERAL+ and with a synchronizing literal; MULTIAPPEND answers APPENDUID with a uid set', async () => {
  const c = await login();
  ok(await c.command('C', 'CREATE Ap'), 'C');
  const m1 = msg('plus');
  c.sendRaw(Buffer.concat([Buffer.from(`A1 APPEND Ap (\\Flagged) {${m1.length}+}\r\n`), m1, Buffer.from('\r\n')]));
  const r1 = await c.readTagged('A1');
  assert.deepEqual(r1.untagged, [], 'no continuation for a non-synchronizing literal');
  assert.match(r1.tagged, /^A1 OK \[APPENDUID \d+ 1\]/);

  const m2 = msg('sync');
  const r2 = await c.commandWithLiterals('A2', ['APPEND Ap "01-Jan-2020 10:00:00 +0000" ', m2]);
  assert.ok(r2.untagged.some((l) => l.startsWith('+')), 'a continuation was sent');
  assert.match(r2.tagged, /^A2 OK \[APPENDUID \d+ 2\]/);

  const parts = [msg('multi 1'), msg('multi 2'), msg('multi 3')];
  let cmd = Buffer.from('A3 APPEND Ap');
  for (const p of parts) cmd = Buffer.concat([cmd, Buffer.from(` (\\Seen) {${p.length}+}\r\n`), p]);
  c.sendRaw(Buffer.concat([cmd, Buffer.from('\r\n')]));
  const r3 = await c.readTagged('A3');
  const m = /^A3 OK \[APPENDUID (\d+) ([\d:,]+)\]/.exec(r3.tagged);
  assert.ok(m, r3.tagged);
  assert.deepEqual(uidSet(m[2]!), [3, 4, 5]);

  const st = await c.command('S', 'STATUS Ap (MESSAGES UNSEEN)');
  assert.match(st.untagged.join(''), /MESSAGES 5/);
  assert.match(st.untagged.join(''), /UNSEEN 2/);

  ok(await c.command('SE', 'SELECT Ap'), 'SE');
  const f = await c.command('F', 'FETCH 2 (INTERNALDATE BODY.PEEK[])');
  assert.match(f.untagged[0]!, /INTERNALDATE "01-Jan-2020 10:00:00 \+0000"/);
  assert.ok(f.responses[0]!.literals[0]!.equals(m2));
});

test('APPEND keeps the date-time zone: FETCH INTERNALDATE gives it back, SEARCH BEFORE/ON/SINCE count days in it', async () => {
  // RFC 9051 §6.4.4: the internal date is compared "disregarding time and timezone", i.e. by the calendar day it
  // was given for. All three instants below are 24-Mar-2007 in UTC, but not in the zones they were appended with.
  const c = await login();
  ok(await c.command('C', 'CREATE Zones'), 'C');
  const dates = ['"25-Mar-2007 00:30:00 +0200"', '"24-Mar-2007 23:30:00 +0000"', '"24-Mar-2007 13:00:00 -1000"'];
  for (const [i, d] of dates.entries()) {
    const r = await c.commandWithLiterals(`A${i}`, [`APPEND Zones ${d} `, msg(`zone ${i}`)]);
    assert.match(r.tagged, new RegExp(`^A${i} OK`), r.tagged);
  }
  ok(await c.command('S', 'SELECT Zones'), 'S');
  const f = await c.command('F', 'FETCH 1:3 (INTERNALDATE)');
  assert.deepEqual(
    f.untagged.map((l) => /INTERNALDATE ("[^"]*")/.exec(l)?.[1]),
    dates,
  );
  const search = async (criteria: string): Promise<string> => {
    const r = await c.command('Q', `SEARCH ${criteria}`);
    ok(r, 'Q');
    return r.untagged.find((l) => l.startsWith('* SEARCH'))!;
  };
  assert.equal(await search('ON 25-Mar-2007'), '* SEARCH 1');
  assert.equal(await search('ON 24-Mar-2007'), '* SEARCH 2 3');
  assert.equal(await search('BEFORE 25-Mar-2007'), '* SEARCH 2 3');
  assert.equal(await search('SINCE 25-Mar-2007'), '* SEARCH 1');
  assert.equal(await search('SINCE 24-Mar-2007'), '* SEARCH 1 2 3');
  // COPY keeps the zone with the date.
  ok(await c.command('CP', 'COPY 1 INBOX'), 'CP');
  ok(await c.command('S2', 'EXAMINE INBOX'), 'S2');
  const last = await c.command('F2', 'FETCH * (INTERNALDATE)');
  assert.match(last.untagged[0]!, /INTERNALDATE "25-Mar-2007 00:30:00 \+0200"/);
});

test('APPEND to a missing mailbox: NO [TRYCREATE]; nothing is created', async () => {
  const c = await login();
  const r = await c.commandWithLiterals('A', ['APPEND Missing/Box ', msg('lost')]);
  assert.match(r.tagged, /^A NO \[TRYCREATE\]/);
  assert.deepEqual(await listNames(c, '"Missing*"'), []);
  // A synchronizing literal may also be refused before the data is sent; either way the session goes on.
  ok(await c.command('N', 'NOOP'), 'N');
});

test('COPY answers COPYUID; MOVE sends untagged COPYUID and EXPUNGE; UID EXPUNGE removes only the given UIDs', async () => {
  const c = await login();
  ok(await c.command('C1', 'CREATE CmSrc'), 'C1');
  ok(await c.command('C2', 'CREATE CmDst'), 'C2');
  for (const s of ['a', 'b', 'c', 'd']) await appendTo(c, 'CmSrc', msg(s));
  const sel = await c.command('S', 'SELECT CmSrc');
  ok(sel, 'S');
  const dstStatus = await c.command('ST', 'STATUS CmDst (UIDVALIDITY)');
  const dstV = /UIDVALIDITY (\d+)/.exec(dstStatus.untagged.join(''))![1];

  const cp = await c.command('CP', 'COPY 1:2 CmDst');
  assert.match(cp.tagged, new RegExp(`^CP OK \\[COPYUID ${dstV} (1:2|1,2) (1:2|1,2)\\]`));
  assert.match((await c.command('CP2', 'COPY 1 NoSuchBox')).tagged, /^CP2 NO \[TRYCREATE\]/);

  const mv = await c.command('MV', 'UID MOVE 3 CmDst');
  ok(mv, 'MV');
  const cu = mv.untagged.findIndex((l) => new RegExp(`^\\* OK \\[COPYUID ${dstV} 3 3\\]`).test(l));
  const ex = mv.untagged.indexOf('* 3 EXPUNGE');
  assert.ok(cu >= 0, mv.untagged.join('\n'));
  assert.ok(ex > cu, 'COPYUID comes before the EXPUNGE (RFC 6851 §4.3)');

  // Now messages a(uid 1), b(uid 2), d(uid 4). Mark all deleted, UID EXPUNGE only uid 2.
  ok(await c.command('ST2', 'STORE 1:* +FLAGS.SILENT (\\Deleted)'), 'ST2');
  const ue = await c.command('UE', 'UID EXPUNGE 2');
  ok(ue, 'UE');
  // (A "* n RECENT" may follow, as the mailbox size changed — RFC 3501 §7.3.2.)
  assert.deepEqual(ue.untagged.filter((l) => / EXPUNGE$/.test(l)), ['* 2 EXPUNGE']);
  const left = await c.command('F', 'UID FETCH 1:* (UID FLAGS)');
  assert.deepEqual(
    left.untagged.map((l) => /UID (\d+)/.exec(l)![1]),
    ['1', '4'],
  );
  const dst = await c.command('S2', 'STATUS CmDst (MESSAGES)');
  assert.match(dst.untagged.join(''), /MESSAGES 3/);
});

// --- FETCH details

test('FETCH BODY[]<0.10> partial, RFC822.SIZE, and \\Seen set by BODY[] but not by BODY.PEEK[]', async () => {
  const c = await login();
  ok(await c.command('C', 'CREATE Fx'), 'C');
  const m = msg('partial', 'The quick brown fox jumps over the lazy dog.\r\n');
  await appendTo(c, 'Fx', m);
  ok(await c.command('S', 'SELECT Fx'), 'S');

  const p = await c.command('F1', 'FETCH 1 (BODY.PEEK[]<0.10>)');
  ok(p, 'F1');
  assert.match(p.untagged[0]!, /^\* 1 FETCH \(BODY\[\]<0> \{10\}/);
  assert.ok(p.responses[0]!.literals[0]!.equals(m.subarray(0, 10)));
  const p2 = await c.command('F2', `FETCH 1 (BODY.PEEK[]<${m.length - 5}.100>)`);
  assert.ok(p2.responses[0]!.literals[0]!.equals(m.subarray(m.length - 5)), 'a range past the end is clipped');

  const size = await c.command('F3', 'FETCH 1 (RFC822.SIZE FLAGS)');
  assert.match(size.untagged[0]!, new RegExp(`RFC822\\.SIZE ${m.length}\\b`));
  assert.doesNotMatch(size.untagged[0]!, /\\Seen/, 'BODY.PEEK[] does not set \\Seen');

  const full = await c.command('F4', 'FETCH 1 (BODY[])');
  ok(full, 'F4');
  const lit = full.responses.flatMap((r) => r.literals);
  assert.ok(lit[0]!.equals(m));
  assert.ok(full.untagged.some((l) => /FLAGS \([^)]*\\Seen/.test(l)), 'the implicit \\Seen is announced');
  const flags = await c.command('F5', 'FETCH 1 (FLAGS)');
  assert.match(flags.untagged[0]!, /\\Seen/);

  // EXAMINE is read-only: BODY[] does not set \Seen there (RFC 9051 §6.3.3).
  ok(await c.command('ST', 'STORE 1 -FLAGS.SILENT (\\Seen)'), 'ST');
  ok(await c.command('E', 'EXAMINE Fx'), 'E');
  ok(await c.command('F6', 'FETCH 1 (BODY[])'), 'F6');
  assert.doesNotMatch((await c.command('F7', 'FETCH 1 (FLAGS)')).untagged[0]!, /\\Seen/);
});

// --- mailbox names

test('non-ASCII names: modified UTF-7 round-trips in IMAP4rev1, UTF-8 after ENABLE IMAP4rev2', async () => {
  const c = await login();
  ok(await c.command('C', 'CREATE &ZeVnLIqe-'), 'C');
  const r = await c.command('L', 'LIST "" "&ZeVnLIqe-"');
  ok(r, 'L');
  assert.equal(parseList(r.responses[0]!)!.name, '&ZeVnLIqe-');
  // Raw 8-bit is not a valid name in an IMAP4rev1 session.
  assert.match((await c.command('C2', 'CREATE "日本"')).tagged, /^C2 (NO|BAD)/);

  const u = await login();
  ok(await u.command('E', 'ENABLE IMAP4rev2'), 'E');
  const r2 = await u.command('L', 'LIST "" "*"');
  const names = r2.responses.map(parseList).filter((x) => x !== null).map((x) => x.name);
  assert.ok(names.includes('日本語'), names.join(','));
  ok(await u.command('C', 'CREATE "Ünïcødé/子"'), 'C');
  ok(await u.command('S', 'SELECT "日本語"'), 'S');
  // The rev1 session sees the UTF-8 name in modified UTF-7.
  const r3 = await c.command('L2', 'LIST "" "*"');
  const rev1Names = r3.responses.map(parseList).filter((x) => x !== null).map((x) => x.name);
  assert.ok(rev1Names.includes('&ANw-n&AO8-c&APg-d&AOk-/&W1A-'), rev1Names.join(','));
  ok(await c.command('S', 'SELECT "&ANw-n&AO8-c&APg-d&AOk-/&W1A-"'), 'S');
});

test('hostile mailbox names are refused with NO and create nothing', async () => {
  const c = await login();
  const before = (await listNames(c)).sort();
  const hostile = ['..', '"../bob"', '"/abc"', '"a//b"', '"*"', '"%"', '"a/../b"', '"a/./b"', `"${'x'.repeat(1000)}"`, '"tab\\there"'];
  for (const [i, name] of hostile.entries()) {
    const r = await c.command(`H${i}`, `CREATE ${name}`);
    assert.match(r.tagged, new RegExp(`^H${i} (NO|BAD)`), `CREATE ${name.slice(0, 40)}: ${r.tagged}`);
  }
  // Names that are valid IMAP syntax must get NO (a refusal), not BAD (RFC 9051 §6.3.4).
  for (const name of ['..', '"/abc"', '"a//b"', '"*"', `"${'y'.repeat(1000)}"`]) {
    assert.match((await c.command('HN', `CREATE ${name}`)).tagged, /^HN NO/, name.slice(0, 20));
  }
  // NUL inside a literal (not even CHAR8, RFC 9051 §9) and a CR/LF-free control character.
  c.sendRaw(Buffer.concat([Buffer.from('Z1 CREATE {5+}\r\n'), Buffer.from('a\0bcd'), Buffer.from('\r\n')]));
  assert.match((await c.readTagged('Z1')).tagged, /^Z1 (NO|BAD)/);
  c.sendRaw(Buffer.concat([Buffer.from('Z2 CREATE {3+}\r\n'), Buffer.from('a\x01b'), Buffer.from('\r\n')]));
  assert.match((await c.readTagged('Z2')).tagged, /^Z2 (NO|BAD)/);
  // RENAME to a hostile name is refused too.
  ok(await c.command('C', 'CREATE Okay'), 'C');
  assert.match((await c.command('R', 'RENAME Okay "../Okay"')).tagged, /^R NO/);
  assert.match((await c.command('R2', 'RENAME Okay "/Okay"')).tagged, /^R2 NO/);
  ok(await c.command('D', 'DELETE Okay'), 'D');

  const after = (await listNames(c)).sort();
  assert.deepEqual(after, before);
  ok(await c.command('N', 'NOOP'), 'N');
});

test('another user\'s mail is unreachable by any name', async () => {
  const b = await login(srv.port, BOB.user, BOB.password);
  await appendTo(b, 'INBOX', msg('bobs secret message'));
  const c = await login();
  for (const name of ['"../bob/INBOX"', '"bob/INBOX"', '"/bob/INBOX"', '"~bob/INBOX"', '"#user/bob/INBOX"', '"../../bob"']) {
    const r = await c.command('S', `SELECT ${name}`);
    assert.match(r.tagged, /^S (NO|BAD)/, `SELECT ${name}: ${r.tagged}`);
  }
  const s = await c.command('SR', 'STATUS "../bob/INBOX" (MESSAGES)');
  assert.match(s.tagged, /^SR (NO|BAD)/);
  const all = await c.command('L', 'LIST "" "*"');
  assert.ok(!all.untagged.some((l) => /bob/i.test(l)), all.untagged.join('\n'));
  const ref = await c.command('L2', 'LIST "../" "*"');
  assert.ok(!ref.untagged.some((l) => /bob/i.test(l)), ref.untagged.join('\n'));
});

// --- malformed input

test('malformed and unknown commands get a tagged BAD and the connection keeps working', async () => {
  const c = await login();
  ok(await c.command('S', 'SELECT INBOX'), 'S');
  const cases = [
    'SELECT',
    'FETCH 1 (FLAGS',
    'FETCH abc FLAGS',
    'STORE 1 +FLAGS',
    'LIST "unterminated',
    'UID NONSENSE 1',
    'SEARCH (',
    'XYZZY',
    'APPEND',
  ];
  for (const [i, line] of cases.entries()) {
    const tag = `B${i}`;
    const r = await c.command(tag, line);
    assert.match(r.tagged, new RegExp(`^${tag} BAD .+`), `${line}: ${r.tagged}`);
  }
  ok(await c.command('N', 'NOOP'), 'N');
  // Unknown command also before authentication.
  const u = await connect();
  assert.match((await u.command('U', 'FROBNICATE')).tagged, /^U BAD/);
  ok(await u.command('N', 'NOOP'), 'N');
});

test('a too-long command line gets BAD and the connection stays usable', async () => {
  const c = await login();
  c.send(`LONG NOOP ${'x'.repeat(100_000)}`);
  // Tagged when the server still knows the tag; an untagged BAD is allowed for an unparseable line.
  const r = await c.next(10_000);
  assert.match(r.text, /^(LONG|\*) BAD/, 'RFC 9051 §7.1.3: "* BAD Command line too long"');
  ok(await c.command('N', 'NOOP'), 'N');
  ok(await c.command('S', 'SELECT INBOX'), 'S');
});

test('SELECT and EXAMINE send the required untagged data and READ-WRITE / READ-ONLY; CLOSED on reselect', async () => {
  const c = await login();
  ok(await c.command('C', 'CREATE SelBox'), 'C');
  await appendTo(c, 'SelBox', msg('one'), '$Custom');
  const s = await c.command('S', 'SELECT SelBox');
  assert.match(s.tagged, /^S OK \[READ-WRITE\]/);
  assert.ok(s.untagged.some((l) => /^\* FLAGS \(.*\\Seen.*\$Custom.*\)$|^\* FLAGS \(.*\$Custom.*\\Seen.*\)$/.test(l)), s.untagged.join('\n'));
  assert.ok(s.untagged.some((l) => /^\* OK \[PERMANENTFLAGS \([^)]*\\Deleted[^)]* \\\*\)\]/.test(l)), s.untagged.join('\n'));
  assert.ok(s.untagged.includes('* 1 EXISTS'));
  assert.ok(s.untagged.some((l) => /^\* 1 RECENT$/.test(l)), 'rev1: RECENT is sent (RFC 3501 §6.3.1)');
  assert.ok(s.untagged.some((l) => /^\* OK \[UIDVALIDITY \d+\]/.test(l)));
  assert.ok(s.untagged.some((l) => /^\* OK \[UIDNEXT 2\]/.test(l)));
  const e = await c.command('E', 'EXAMINE SelBox');
  assert.match(e.tagged, /^E OK \[READ-ONLY\]/);
  assert.match(e.untagged[0]!, /^\* OK \[CLOSED\]/, 'RFC 9051 §6.3.2: CLOSED comes first when a mailbox was selected');
  assert.match((await c.command('ST', 'STORE 1 +FLAGS (\\Seen)')).tagged, /^ST NO/, 'read-only mailbox');
  assert.match((await c.command('S2', 'SELECT NoSuchSel')).tagged, /^S2 NO \[NONEXISTENT\]/);
  assert.match((await c.command('F', 'FETCH 1 FLAGS')).tagged, /^F BAD/, 'a failed SELECT leaves no mailbox selected');
});

test('RENAME INBOX leaves INBOX (and its inferiors) in place; DELETE of a parent keeps its children', async () => {
  const c = await login();
  ok(await c.command('C', 'CREATE INBOX/Sub'), 'C');
  await appendTo(c, 'INBOX', msg('to be moved'));
  ok(await c.command('R', 'RENAME INBOX MovedInbox'), 'R');
  const names = await listNames(c);
  assert.ok(names.includes('INBOX') && names.includes('MovedInbox') && names.includes('INBOX/Sub'), names.join(','));
  assert.ok(!names.includes('MovedInbox/Sub'), 'RFC 9051 §6.3.6: inferiors of INBOX are unaffected');
  assert.match((await c.command('S', 'STATUS INBOX (MESSAGES)')).untagged.join(''), /MESSAGES 0/);
  assert.match((await c.command('S2', 'STATUS MovedInbox (MESSAGES)')).untagged.join(''), /MESSAGES [1-9]/);

  ok(await c.command('C2', 'CREATE Par/Kid'), 'C2');
  ok(await c.command('D', 'DELETE Par'), 'D');
  const r = await c.command('L', 'LIST "" "Par*"');
  const kids = r.responses.map(parseList).filter((x) => x !== null);
  assert.ok(kids.some((x) => x.name === 'Par/Kid'), r.untagged.join('\n'));
  const par = kids.find((x) => x.name === 'Par');
  // RFC 9051 §6.3.5: the parent may remain as a \Noselect (or \NonExistent) name; it is not selectable.
  if (par) assert.ok(par.attrs.some((a) => /\\Noselect|\\NonExistent/i.test(a)), r.untagged.join('\n'));
  assert.match((await c.command('S3', 'SELECT Par')).tagged, /^S3 NO/);
  // RFC 3501 §6.3.4 / RFC 9051 §6.3.5: deleting the \Noselect parent while it has inferiors is an error,
  // answered with RFC 9051 §7.1's HASCHILDREN; once the child is gone, so is the parent's name.
  assert.match((await c.command('D2', 'DELETE Par')).tagged, /^D2 NO \[HASCHILDREN\]/);
  ok(await c.command('D3', 'DELETE Par/Kid'), 'D3');
  assert.match((await c.command('D4', 'DELETE Par')).tagged, /^D4 NO \[NONEXISTENT\]/);
});

test('message bytes are kept exactly: 8-bit data, bare LF, and a large message fetched whole and by range', async () => {
  const c = await login();
  ok(await c.command('C', 'CREATE Bytes'), 'C');
  const eight = Buffer.concat([
    Buffer.from('Subject: =?utf-8?q?8bit?=\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n'),
    Buffer.from('Grüße aus Köln — 日本語\r\n', 'utf8'),
    Buffer.from([0xe9, 0x0d, 0x0a, 0xff, 0x0d, 0x0a]),
    Buffer.from('bare\nline feed\r\n'),
  ]);
  await appendTo(c, 'Bytes', eight);
  let big = Buffer.alloc(0);
  {
    const lines: string[] = ['Subject: big', ''];
    for (let i = 0; i < 60_000; i++) lines.push(`${String(i).padStart(6, '0')} ${'abcdefghij'.repeat(4)}`);
    big = Buffer.from(lines.join('\r\n') + '\r\n');
  }
  await appendTo(c, 'Bytes', big);
  ok(await c.command('S', 'SELECT Bytes'), 'S');
  const f1 = await c.command('F1', 'FETCH 1 (RFC822.SIZE BODY.PEEK[])');
  assert.ok(f1.responses[0]!.literals[0]!.equals(eight), 'the 8-bit message is returned byte for byte');
  assert.match(f1.untagged[0]!, new RegExp(`RFC822\\.SIZE ${eight.length}\\b`));
  const f2 = await c.command('F2', 'FETCH 2 (RFC822.SIZE BODY.PEEK[])', 20_000);
  assert.ok(f2.responses[0]!.literals[0]!.equals(big), `the ${big.length}-byte message is returned byte for byte`);
  const off = 1_234_567;
  const f3 = await c.command('F3', `FETCH 2 (BODY.PEEK[]<${off}.1000>)`);
  assert.match(f3.untagged[0]!, new RegExp(`BODY\\[\\]<${off}> \\{1000\\}`));
  assert.ok(f3.responses[0]!.literals[0]!.equals(big.subarray(off, off + 1000)));
  const f4 = await c.command('F4', 'FETCH 2 (BODY.PEEK[TEXT]<0.20>)');
  assert.ok(f4.responses[0]!.literals[0]!.equals(big.subarray('Subject: big\r\n\r\n'.length, 'Subject: big\r\n\r\n'.length + 20)));
});

test('pipelined commands are answered in order; IDLE works without a selected mailbox; LOGOUT sends BYE', async () => {
  const c = await login();
  c.sendRaw('P1 NOOP\r\nP2 CAPABILITY\r\nP3 LIST "" INBOX\r\nP4 NOOP\r\n');
  const tags: string[] = [];
  for (let i = 0; i < 4; i++) {
    const r = await c.waitFor(/^P\d /);
    tags.push(r.text.slice(0, 2));
    assert.match(r.text, /^P\d OK/);
  }
  assert.deepEqual(tags, ['P1', 'P2', 'P3', 'P4']);
  c.send('I IDLE');
  await c.waitFor(/^\+/);
  c.send('DONE');
  ok(await c.readTagged('I'), 'I');
  const bye = await c.command('Z', 'LOGOUT');
  assert.ok(bye.untagged.some((l) => /^\* BYE/.test(l)), 'BYE before the tagged OK (RFC 9051 §6.1.3)');
  assert.match(bye.tagged, /^Z OK/);
  await new Promise<void>((resolve) => {
    const check = (): void => (c.closed ? resolve() : void setTimeout(check, 20));
    check();
  });
  assert.ok(c.closed, 'the server closes the connection after LOGOUT');
});
