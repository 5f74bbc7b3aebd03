// FETCH, STORE, SEARCH, COPY and MOVE over a socket against the real server and SQLite store:
// streamed multi-megabyte sections and BINARY, RFC 9051 §7.5.2's no-EXPUNGE-during-FETCH rule with
// a second session, MOVE within the selected mailbox, ESEARCH after ENABLE IMAP4rev2.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { ImapTestClient, logoutQuietly } from '../helpers/imap-client.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

let srv: TestServer;
const attachment = randomBytes(3 * 1024 * 1024 + 17);
const attachmentB64 = attachment.toString('base64').replace(/.{76}/g, '$&\r\n');
const big = Buffer.from(
  [
    'From: sender@example.com',
    'To: alice@example.com',
    'Subject: big one',
    'MIME-Version: 1.0',
    'Content-Type: multipart/mixed; boundary="zz"',
    '',
    '--zz',
    'Content-Type: text/plain',
    '',
    'See the attachment.',
    '--zz',
    'Content-Type: application/octet-stream',
    'Content-Transfer-Encoding: base64',
    '',
    attachmentB64,
    '--zz--',
    '',
  ].join('\r\n'),
);
const small = (n: number) => Buffer.from(`From: f${n}@example.com\r\nSubject: small ${n}\r\n\r\nbody ${n}\r\n`);

async function login(): Promise<ImapTestClient> {
  const c = await ImapTestClient.connect(srv.port);
  const r = await c.command('L', `LOGIN alice "${srv.password}"`);
  assert.match(r.tagged, /^L OK/);
  return c;
}

async function appendTo(box: string, data: Buffer[], flags: string[] = []): Promise<void> {
  const user = await srv.store.getUser('alice');
  const mbox = await srv.store.getMailbox(user!.id, box);
  for (const d of data) {
    const message = await srv.store.prepare(d);
    await srv.store.append(mbox!.id, [{ message, flags }]);
  }
}

before(async () => {
  srv = await startTestServer();
  await appendTo('INBOX', [small(1), big, small(3)]);
});

after(async () => {
  await srv.stop();
});

test('a 3 MB base64 part streams as BODY[2] and decodes exactly as BINARY[2]; BINARY.SIZE agrees', async () => {
  const c = await login();
  try {
    await c.command('S', 'EXAMINE INBOX');
    const r = await c.command('F1', 'FETCH 2 (BODY.PEEK[2] BINARY.SIZE[2])', 20000);
    assert.equal(r.responses.length, 1);
    const resp = r.responses[0]!;
    assert.equal(resp.literals[0]!.toString('latin1'), attachmentB64);
    assert.match(resp.text.slice(-40), new RegExp(`BINARY\\.SIZE\\[2\\] ${attachment.length}\\)$`));
    const b = await c.command('F2', 'FETCH 2 BINARY.PEEK[2]', 20000);
    assert.ok(b.responses[0]!.literals[0]!.equals(attachment));
    const p = await c.command('F3', 'FETCH 2 BINARY.PEEK[2]<1000.100>');
    assert.ok(p.responses[0]!.literals[0]!.equals(attachment.subarray(1000, 1100)));
    assert.match(p.responses[0]!.text, /^\* 2 FETCH \(BINARY\[2\]<1000> ~?\{100\}/);
    assert.match(p.tagged, /^F3 OK/);
  } finally {
    await logoutQuietly(c);
  }
});

test('no EXPUNGE while FETCH by sequence number runs: ghosts are skipped, NOOP then announces', async () => {
  await appendTo('Archive', [small(10), small(11), small(12)]);
  const a = await login();
  const b = await login();
  try {
    await a.command('S', 'SELECT Archive');
    await b.command('S', 'SELECT Archive');
    await a.command('D', 'STORE 2 +FLAGS.SILENT (\\Deleted)');
    const x = await a.command('X', 'EXPUNGE');
    assert.deepEqual(x.untagged.filter((l) => !/RECENT$/.test(l)), ['* 2 EXPUNGE']);
    const f = await b.command('F', 'FETCH 1:3 (UID RFC822.SIZE)');
    assert.equal(f.untagged.length, 2);
    assert.match(f.untagged[0]!, /^\* 1 FETCH \(UID 1 RFC822\.SIZE \d+\)$/);
    assert.match(f.untagged[1]!, /^\* 3 FETCH \(UID 3 RFC822\.SIZE \d+\)$/);
    assert.ok(!f.untagged.some((l) => /EXPUNGE/.test(l)));
    assert.equal(f.tagged, 'F NO [EXPUNGEISSUED] Some messages were expunged');
    const n = await b.command('N', 'NOOP');
    assert.deepEqual(n.untagged.filter((l) => !/RECENT$/.test(l)), ['* 2 EXPUNGE']);
    const s = await b.command('S2', 'SEARCH ALL');
    assert.deepEqual(s.untagged, ['* SEARCH 1 2']);
  } finally {
    await logoutQuietly(a);
    await logoutQuietly(b);
  }
});

test('MOVE into the selected mailbox itself: COPYUID, EXPUNGE, then EXISTS; the other session follows', async () => {
  await appendTo('Drafts', [small(20), small(21)], ['\\Draft']);
  const a = await login();
  const b = await login();
  try {
    await a.command('S', 'SELECT Drafts');
    await b.command('S', 'SELECT Drafts');
    const m = await a.command('M', 'UID MOVE 1 Drafts');
    assert.match(m.untagged[0]!, /^\* OK \[COPYUID \d+ 1 3\] /);
    assert.equal(m.untagged[1], '* 1 EXPUNGE');
    assert.ok(m.untagged.includes('* 2 EXISTS'));
    assert.match(m.tagged, /^M OK/);
    // Flags travel with the message; in this rev1 session both are \Recent (the moved copy is new).
    const f = await a.command('F', 'FETCH 1:* (UID FLAGS)');
    assert.deepEqual(f.untagged, ['* 1 FETCH (UID 2 FLAGS (\\Draft \\Recent))', '* 2 FETCH (UID 3 FLAGS (\\Draft \\Recent))']);
    const n = await b.command('N', 'NOOP');
    assert.ok(n.untagged.includes('* 1 EXPUNGE'));
    assert.ok(n.untagged.includes('* 2 EXISTS'));
  } finally {
    await logoutQuietly(a);
    await logoutQuietly(b);
  }
});

test('rev2 sessions get ESEARCH; SEARCH RETURN (SAVE) feeds UID STORE $', async () => {
  const c = await login();
  try {
    await c.command('E', 'ENABLE IMAP4rev2');
    await c.command('S', 'SELECT INBOX');
    const s = await c.command('Q', 'SEARCH SUBJECT small');
    assert.deepEqual(s.untagged, ['* ESEARCH (TAG "Q") ALL 1,3']);
    const save = await c.command('V', 'UID SEARCH RETURN (SAVE) SUBJECT "big one"');
    assert.deepEqual(save.untagged, []);
    const st = await c.command('T', 'UID STORE $ +FLAGS (\\Flagged)');
    assert.deepEqual(st.untagged, ['* 2 FETCH (FLAGS (\\Flagged) UID 2)']);
    const cnt = await c.command('C', 'UID SEARCH RETURN (COUNT MIN) FLAGGED');
    assert.deepEqual(cnt.untagged, ['* ESEARCH (TAG "C") UID MIN 2 COUNT 1']);
    const body = await c.command('B', 'SEARCH BODY attachment');
    assert.deepEqual(body.untagged, ['* ESEARCH (TAG "B") ALL 2']);
  } finally {
    await logoutQuietly(c);
  }
});

test('non-PEEK fetch sets \\Seen once and reports FLAGS; COPY to a missing mailbox is NO [TRYCREATE]', async () => {
  const c = await login();
  try {
    await c.command('S', 'SELECT INBOX');
    const f = await c.command('F', 'FETCH 1 BODY[TEXT]');
    assert.equal(f.responses[0]!.text, '* 1 FETCH (BODY[TEXT] {8}\r\nbody 1\r\n FLAGS (\\Seen))');
    const again = await c.command('G', 'FETCH 1 BODY[TEXT]');
    assert.equal(again.responses[0]!.text, '* 1 FETCH (BODY[TEXT] {8}\r\nbody 1\r\n)');
    const cp = await c.command('C', 'COPY 1 "No Such Box"');
    assert.match(cp.tagged, /^C NO \[TRYCREATE\]/);
  } finally {
    await logoutQuietly(c);
  }
});
