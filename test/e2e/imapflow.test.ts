// End-to-end: a real IMAP client library (imapflow, which ENABLEs IMAP4rev2 when offered) drives the real
// server on an ephemeral loopback port (issue 2, items 4, 5, 9). Covers LIST with RFC 6154 special-use,
// CREATE with intermediate levels (RFC 9051 §6.3.4), APPEND with flags and date (§6.3.12) and APPENDUID
// (RFC 4315), FETCH, STORE, COPY/MOVE (RFC 6851), EXPUNGE, SEARCH, STATUS and RENAME incl. INBOX (§6.3.6).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { ImapFlow } from 'imapflow';
import { startTestServer, type TestServer } from '../helpers/server.js';

let srv: TestServer;
let client: ImapFlow;

function message(subject: string, body = 'Hello there.\r\n'): Buffer {
  return Buffer.from(
    [
      'From: Bob Example <bob@example.com>',
      'To: Alice Example <alice@example.com>',
      `Subject: ${subject}`,
      'Date: Mon, 7 Feb 1994 21:52:25 -0800',
      `Message-ID: <${subject.replace(/\W/g, '')}@example.com>`,
      'MIME-Version: 1.0',
      'Content-Type: text/plain; charset=utf-8',
      '',
      body,
    ].join('\r\n'),
  );
}

async function connect(): Promise<ImapFlow> {
  const c = new ImapFlow({
    host: '127.0.0.1',
    port: srv.port,
    secure: false,
    auth: { user: srv.user, pass: srv.password },
    logger: false,
    // The test server has no certificate: stay in plain text on loopback.
    doSTARTTLS: false,
  });
  await c.connect();
  return c;
}

before(async () => {
  srv = await startTestServer();
  client = await connect();
});

after(async () => {
  await client?.logout().catch(() => undefined);
  await srv?.stop();
});

test('LIST shows INBOX and the RFC 6154 special-use mailboxes with "/" as separator', async () => {
  const list = await client.list();
  const byPath = new Map(list.map((m) => [m.path, m]));
  for (const name of ['INBOX', 'Drafts', 'Sent', 'Trash', 'Junk', 'Archive']) assert.ok(byPath.has(name), `missing ${name}`);
  const expected: Record<string, string> = { Drafts: '\\Drafts', Sent: '\\Sent', Trash: '\\Trash', Junk: '\\Junk', Archive: '\\Archive' };
  for (const [name, use] of Object.entries(expected)) {
    const m = byPath.get(name)!;
    assert.equal(m.specialUse, use, name);
    assert.equal(m.specialUseSource, 'extension', `${name}: the attribute came from the server`);
    assert.ok(m.flags.has(use), `${name} flags: ${[...m.flags].join(' ')}`);
  }
  for (const m of list) assert.equal(m.delimiter, '/');
});

test('CREATE makes the intermediate levels of a nested name', async () => {
  const res = await client.mailboxCreate('Projects/2024/Q1');
  assert.equal(res.path, 'Projects/2024/Q1');
  assert.equal(res.created, true);
  const paths = (await client.list()).map((m) => m.path);
  for (const p of ['Projects', 'Projects/2024', 'Projects/2024/Q1']) assert.ok(paths.includes(p), `missing ${p} in ${paths.join(',')}`);
  const tree = await client.list();
  const projects = tree.find((m) => m.path === 'Projects')!;
  assert.ok(projects.flags.has('\\HasChildren'), [...projects.flags].join(' '));
});

test('APPEND with flags and an internal date, then FETCH envelope, flags, source, size and date', async () => {
  await client.mailboxCreate('Appended');
  const bytes = message('First append', 'Body line one\r\nBody line two\r\n');
  const date = new Date('2020-01-02T03:04:05Z');
  const res = await client.append('Appended', bytes, ['\\Seen', '$Important'], date);
  assert.ok(res, 'append answered');
  assert.equal(typeof res.uid, 'number');
  assert.ok(res.uid! >= 1);
  assert.equal(typeof res.uidValidity, 'bigint');

  const box = await client.mailboxOpen('Appended');
  assert.equal(box.exists, 1);
  const msg = await client.fetchOne(String(res.uid), { envelope: true, flags: true, source: true, internalDate: true, size: true, uid: true }, { uid: true });
  assert.ok(msg);
  assert.equal(msg.uid, res.uid);
  assert.equal(msg.envelope!.subject, 'First append');
  assert.equal(msg.envelope!.from![0]!.address, 'bob@example.com');
  assert.equal(msg.envelope!.from![0]!.name, 'Bob Example');
  assert.equal(msg.envelope!.to![0]!.address, 'alice@example.com');
  assert.equal(msg.envelope!.messageId, '<Firstappend@example.com>');
  assert.ok(msg.flags!.has('\\Seen'));
  assert.ok(msg.flags!.has('$Important'));
  assert.deepEqual(msg.source, bytes);
  assert.equal(msg.size, bytes.length);
  assert.equal(new Date(msg.internalDate!).getTime(), date.getTime());
});

test('STORE adds, removes and replaces flags and keywords', async () => {
  await client.mailboxCreate('Flags');
  const res = await client.append('Flags', message('Flag me'), []);
  assert.ok(res);
  await client.mailboxOpen('Flags');
  const uid = String(res.uid);
  const flagsOf = async (): Promise<string[]> => [...((await client.fetchOne(uid, { flags: true }, { uid: true })) || { flags: new Set<string>() }).flags!].sort();

  assert.deepEqual(await flagsOf(), []);
  assert.equal(await client.messageFlagsAdd(uid, ['\\Flagged', '$Label1'], { uid: true }), true);
  assert.deepEqual(await flagsOf(), ['$Label1', '\\Flagged']);
  await client.messageFlagsRemove(uid, ['\\Flagged'], { uid: true });
  assert.deepEqual(await flagsOf(), ['$Label1']);
  await client.messageFlagsSet(uid, ['\\Answered', '\\Seen'], { uid: true });
  assert.deepEqual(await flagsOf(), ['\\Answered', '\\Seen']);
});

test('COPY and MOVE report the new UIDs; MOVE removes the source; DELETE+EXPUNGE removes a message', async () => {
  await client.mailboxCreate('Src');
  await client.mailboxCreate('Dst');
  const a = await client.append('Src', message('Copy me'), ['\\Flagged']);
  const b = await client.append('Src', message('Move me'), []);
  const c = await client.append('Src', message('Delete me'), []);
  assert.ok(a && b && c);
  await client.mailboxOpen('Src');

  const copied = await client.messageCopy(String(a.uid), 'Dst', { uid: true });
  assert.ok(copied);
  assert.equal(copied.destination, 'Dst');
  assert.ok(copied.uidMap?.has(a.uid!), 'COPYUID maps the source uid');

  const moved = await client.messageMove(String(b.uid), 'Dst', { uid: true });
  assert.ok(moved);
  assert.ok(moved.uidMap?.has(b.uid!), 'COPYUID of MOVE maps the source uid');

  assert.equal(await client.messageDelete(String(c.uid), { uid: true }), true);

  const left = await client.fetchAll('1:*', { uid: true, envelope: true });
  assert.deepEqual(left.map((m) => m.envelope!.subject), ['Copy me']);

  const dst = await client.status('Dst', { messages: true });
  assert.ok(dst);
  assert.equal(dst.messages, 2);
  await client.mailboxOpen('Dst');
  const inDst = await client.fetchAll('1:*', { uid: true, envelope: true, flags: true });
  assert.deepEqual(inDst.map((m) => m.envelope!.subject).sort(), ['Copy me', 'Move me']);
  const copy = inDst.find((m) => m.envelope!.subject === 'Copy me')!;
  assert.ok(copy.flags!.has('\\Flagged'), 'COPY keeps flags');
  assert.equal(copy.uid, copied.uidMap!.get(a.uid!));
});

test('EXPUNGE removes only \\Deleted messages and sequence numbers close up', async () => {
  await client.mailboxCreate('Expunge');
  for (const s of ['one', 'two', 'three', 'four']) assert.ok(await client.append('Expunge', message(s)));
  await client.mailboxOpen('Expunge');
  await client.messageFlagsAdd('2,4', ['\\Deleted']);
  // CLOSE expunges silently (RFC 9051 §6.4.2); reopen and look.
  await client.mailboxClose();
  const box = await client.mailboxOpen('Expunge');
  assert.equal(box.exists, 2);
  const left = await client.fetchAll('1:*', { envelope: true });
  assert.deepEqual(left.map((m) => [m.seq, m.envelope!.subject]), [
    [1, 'one'],
    [2, 'three'],
  ]);
});

test('SEARCH by flags, keywords, size, internal date, UID, NOT and OR', async () => {
  await client.mailboxCreate('Search');
  const small = message('small', 'x\r\n');
  const big = message('big', 'y'.repeat(5000) + '\r\n');
  const r1 = await client.append('Search', small, ['\\Seen'], new Date('2021-03-01T12:00:00Z'));
  const r2 = await client.append('Search', big, ['\\Flagged', '$Work'], new Date('2022-06-15T12:00:00Z'));
  const r3 = await client.append('Search', message('mid', 'z'.repeat(1000) + '\r\n'), ['\\Seen', '\\Flagged'], new Date('2023-09-30T12:00:00Z'));
  assert.ok(r1 && r2 && r3);
  const [u1, u2, u3] = [r1.uid!, r2.uid!, r3.uid!];
  await client.mailboxOpen('Search');
  const uids = async (q: Parameters<ImapFlow['search']>[0]): Promise<number[]> => {
    const r = await client.search(q, { uid: true });
    assert.ok(Array.isArray(r), `search ${JSON.stringify(q)} failed`);
    return [...r].sort((a, b) => a - b);
  };
  assert.deepEqual(await uids({ seen: true }), [u1, u3]);
  assert.deepEqual(await uids({ seen: false }), [u2]);
  assert.deepEqual(await uids({ flagged: true }), [u2, u3]);
  assert.deepEqual(await uids({ keyword: '$Work' }), [u2]);
  assert.deepEqual(await uids({ larger: 4000 }), [u2]);
  assert.deepEqual(await uids({ smaller: small.length + 1 }), [u1]);
  assert.deepEqual(await uids({ since: new Date('2022-01-01T00:00:00Z') }), [u2, u3]);
  assert.deepEqual(await uids({ before: new Date('2022-01-01T00:00:00Z') }), [u1]);
  assert.deepEqual(await uids({ uid: `${u2}:${u3}` }), [u2, u3]);
  assert.deepEqual(await uids({ not: { flagged: true } }), [u1]);
  assert.deepEqual(await uids({ or: [{ keyword: '$Work' }, { smaller: small.length + 1 }] }), [u1, u2]);
  assert.deepEqual(await uids({ seen: true, flagged: true }), [u3]);
  // Sequence numbers (no uid option).
  const seqs = await client.search({ flagged: true });
  assert.deepEqual(seqs, [2, 3]);
});

test('STATUS reports messages, unseen, uidnext and uidvalidity', async () => {
  await client.mailboxCreate('Stat');
  const r1 = await client.append('Stat', message('s1'), ['\\Seen']);
  const r2 = await client.append('Stat', message('s2'), []);
  assert.ok(r1 && r2);
  const st = await client.status('Stat', { messages: true, unseen: true, uidNext: true, uidValidity: true });
  assert.ok(st);
  assert.equal(st.messages, 2);
  assert.equal(st.unseen, 1);
  assert.equal(st.uidNext, r2.uid! + 1);
  assert.equal(st.uidValidity, r2.uidValidity);
});

test('RENAME moves a mailbox with its children; RENAME INBOX moves its messages and leaves INBOX empty', async () => {
  await client.mailboxCreate('Parent/Child');
  assert.ok(await client.append('Parent/Child', message('kid')));
  const r = await client.mailboxRename('Parent', 'Renamed');
  assert.equal(r.newPath, 'Renamed');
  let paths = (await client.list()).map((m) => m.path);
  assert.ok(paths.includes('Renamed') && paths.includes('Renamed/Child'), paths.join(','));
  assert.ok(!paths.includes('Parent') && !paths.includes('Parent/Child'), paths.join(','));
  const kid = await client.status('Renamed/Child', { messages: true });
  assert.ok(kid);
  assert.equal(kid.messages, 1);

  assert.ok(await client.append('INBOX', message('inbox one')));
  assert.ok(await client.append('INBOX', message('inbox two')));
  const before = await client.status('INBOX', { messages: true });
  assert.ok(before);
  assert.ok(before.messages! >= 2);
  await client.mailboxRename('INBOX', 'Old Inbox');
  paths = (await client.list()).map((m) => m.path);
  assert.ok(paths.includes('INBOX'), 'INBOX remains');
  assert.ok(paths.includes('Old Inbox'));
  const inbox = await client.status('INBOX', { messages: true });
  const old = await client.status('Old Inbox', { messages: true });
  assert.ok(inbox && old);
  assert.equal(inbox.messages, 0);
  assert.equal(old.messages, before.messages);
  await client.mailboxOpen('Old Inbox');
  const subjects = (await client.fetchAll('1:*', { envelope: true })).map((m) => m.envelope!.subject);
  assert.ok(subjects.includes('inbox one') && subjects.includes('inbox two'), subjects.join(','));
});

test('DELETE removes a mailbox', async () => {
  await client.mailboxCreate('Doomed');
  await client.mailboxDelete('Doomed');
  const paths = (await client.list()).map((m) => m.path);
  assert.ok(!paths.includes('Doomed'));
  await assert.rejects(client.mailboxOpen('Doomed'));
});
