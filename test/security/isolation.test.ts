// Account isolation (issue 7, item 5): logged in as alice, every IMAP command that takes a mailbox name or
// a UID is tried with bob's mailbox names (plain, with "..", "/", "~bob", "INBOX/../bob", ...) and with
// UIDs that exist only in bob's INBOX. Nothing of bob's may be reached, and each answer must be the same
// as for a name or UID that exists nowhere (no existence oracle). POP3 likewise. Bob's account is
// compared before and after. Mailbox namespaces: RFC 9051 §5.1, §6.3.10 (NAMESPACE: personal only).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startPop3Server, type RunningPop3Server } from '../../src/pop3/pop3-server.js';
import { ImapTestClient, logoutQuietly } from '../helpers/imap-client.js';
import { startTestServer, TEST_PASSWORD, TEST_USER, type TestServer } from '../helpers/server.js';
import { LineClient } from '../pop3/line-client.js';

const BOB = 'bob';
const BOB_PASSWORD = 'bob secret password';
let srv: TestServer;
let pop3: RunningPop3Server;

async function login(user: string, password: string): Promise<ImapTestClient> {
  const c = await ImapTestClient.connect(srv.port);
  assert.match((await c.command('L', `LOGIN "${user}" "${password}"`)).tagged, /^L OK/);
  return c;
}

async function append(c: ImapTestClient, box: string, body: string): Promise<void> {
  const msg = `From: x@example.org\r\nSubject: ${body}\r\n\r\n${body}\r\n`;
  const r = await c.commandWithLiterals('A', [`APPEND "${box}" (\\Flagged) {${msg.length}+}\r\n`, msg]);
  assert.match(r.tagged, /^A OK/);
}

/** Everything that describes bob's account: mailboxes, subscriptions, messages with flags and text. */
async function bobSnapshot(): Promise<string[]> {
  const c = await login(BOB, BOB_PASSWORD);
  try {
    const out: string[] = [];
    out.push(...(await c.command('l', 'LIST "" "*"')).untagged.sort());
    out.push(...(await c.command('s', 'LSUB "" "*"')).untagged.sort());
    for (const box of ['INBOX', 'Secret', 'Secret/Sub']) {
      out.push(...(await c.command('x', `EXAMINE "${box}"`)).untagged.filter((l) => /EXISTS|UIDNEXT|UIDVALIDITY/.test(l)));
      out.push(...(await c.command('f', 'UID FETCH 1:* (FLAGS BODY.PEEK[])')).untagged);
    }
    return out;
  } finally {
    await logoutQuietly(c);
  }
}

before(async () => {
  srv = await startTestServer({ extraUsers: [{ user: BOB, password: BOB_PASSWORD }] });
  pop3 = await startPop3Server({ store: srv.store, host: '127.0.0.1', port: 0, tlsPort: null, tls: null });
  const b = await login(BOB, BOB_PASSWORD);
  for (const box of ['Secret', 'Secret/Sub']) assert.match((await b.command('C', `CREATE "${box}"`)).tagged, /^C OK/);
  assert.match((await b.command('S', 'SUBSCRIBE "Secret"')).tagged, /^S OK/);
  for (const text of ['bob-one', 'bob-two', 'bob-three']) await append(b, 'INBOX', text);
  await append(b, 'Secret', 'bob-secret');
  await append(b, 'Secret/Sub', 'bob-sub');
  await logoutQuietly(b);
  const a = await login(TEST_USER, TEST_PASSWORD);
  await append(a, 'INBOX', 'alice-one');
  assert.match((await a.command('C', 'CREATE "Mine"')).tagged, /^C OK/);
  await logoutQuietly(a);
});

after(async () => {
  await pop3?.close();
  await srv?.stop();
});

/** Bob's names in the spellings a client might try, each with a same-length twin that exists nowhere. */
function namePairs(): Array<[string, string]> {
  const pairs: Array<[string, string]> = [];
  for (const base of ['Secret', 'Secret/Sub']) {
    const twin = base.replace('Secret', 'Zecret');
    for (const form of ['%', 'bob/%', '../bob/%', '/bob/%', '~bob/%', 'INBOX/../bob/%', 'INBOX/../%', 'Other Users/bob/%', '#shared/bob/%', 'bob.%']) {
      pairs.push([form.replace('%', base), form.replace('%', twin)]);
    }
  }
  pairs.push(['INBOX/../bob', 'INBOX/../zzz'], ['../bob', '../zzz'], ['bob', 'zzz'], ['~bob', '~zzz'], ['/bob/INBOX', '/zzz/INBOX']);
  return pairs;
}

/** A command's untagged and tagged answers, with the name replaced so two runs can be compared. */
async function answer(c: ImapTestClient, command: string, name: string, placeholder = '<NAME>'): Promise<string[]> {
  const r = await c.command('T', command.replaceAll('@@', name));
  const norm = (s: string) => s.split(name).join(placeholder);
  return [...r.untagged.map(norm), norm(r.tagged)];
}

test('IMAP: no command with a mailbox name reaches bob, and answers do not depend on whether bob has it', async () => {
  const before = await bobSnapshot();
  const c = await login(TEST_USER, TEST_PASSWORD);
  try {
    const ns = await c.command('N', 'NAMESPACE');
    assert.deepEqual(ns.untagged, ['* NAMESPACE (("" "/")) NIL NIL'], 'only the personal namespace');
    const commands = [
      'SELECT "@@"',
      'EXAMINE "@@"',
      'STATUS "@@" (MESSAGES UIDNEXT UIDVALIDITY UNSEEN SIZE)',
      'DELETE "@@"',
      'RENAME "@@" "Stolen"',
      'SUBSCRIBE "@@"',
      'UNSUBSCRIBE "@@"',
      'LIST "" "@@"',
      'LIST "" "@@/*"',
      'LIST "" "@@*"',
      'LIST "@@" "*"',
      'LIST "@@/" "%"',
      'LIST (SUBSCRIBED) "" "@@*"',
      'LIST "" "@@" RETURN (STATUS (MESSAGES))',
      'LSUB "" "@@*"',
      'APPEND "@@" {5+}\r\nhello',
    ];
    let checked = 0;
    for (const [bobs, nowhere] of namePairs()) {
      for (const cmd of commands) {
        const a = await answer(c, cmd, bobs);
        const b = await answer(c, cmd, nowhere);
        assert.deepEqual(a, b, `${cmd} with "${bobs}" vs "${nowhere}"`);
        assert.ok(!a.some((l) => /bob-|\* \d+ EXISTS/.test(l)), `${cmd} "${bobs}" shows nothing of bob's: ${a.join(' | ')}`);
        checked++;
      }
    }
    assert.equal(checked, namePairs().length * commands.length);
    // Wildcards over the whole hierarchy list alice's mailboxes only.
    const all = await c.command('l', 'LIST "" "*"');
    assert.deepEqual(all.untagged.map((l) => l.replace(/^\* LIST \([^)]*\) "\/" /, '')).sort(), [
      '"Archive"', '"Drafts"', '"INBOX"', '"Junk"', '"Mine"', '"Sent"', '"Trash"',
    ]);
    assert.ok(!all.untagged.some((l) => /Secret|bob/i.test(l)), all.untagged.join(' | '));
    assert.ok(!(await c.command('l', 'LIST "" "%/%"')).untagged.some((l) => /Secret/.test(l)));

    // Selected: COPY/MOVE to bob's names, and UIDs that exist only in bob's INBOX (2 and 3).
    assert.match((await c.command('s', 'SELECT INBOX')).tagged, /^s OK/);
    for (const [bobs, nowhere] of namePairs()) {
      for (const cmd of ['COPY 1 "@@"', 'UID COPY 1 "@@"', 'UID MOVE 9 "@@"']) {
        assert.deepEqual(await answer(c, cmd, bobs), await answer(c, cmd, nowhere), `${cmd} "${bobs}"`);
      }
    }
    const uidCommands = [
      'UID FETCH @@ (FLAGS UID RFC822.SIZE BODY.PEEK[] ENVELOPE)',
      'UID STORE @@ +FLAGS (\\Deleted \\Seen)',
      'UID STORE @@ FLAGS.SILENT ()',
      'UID SEARCH UID @@',
      'UID SEARCH RETURN (ALL COUNT) UID @@',
      'UID COPY @@ Mine',
      'UID MOVE @@ Mine',
      'UID EXPUNGE @@',
    ];
    for (const cmd of uidCommands) {
      const a = await answer(c, cmd, '2:3', '<UIDS>');
      const b = await answer(c, cmd, '7:8', '<UIDS>');
      assert.deepEqual(a, b, `${cmd}: bob's UIDs vs UIDs that exist nowhere`);
      assert.ok(!a.slice(0, -1).some((l) => /FETCH|bob-/.test(l)), `${cmd}: ${a.join(' | ')}`);
    }
    const own = await c.command('f', 'UID FETCH 1:* (BODY.PEEK[])');
    assert.equal(own.untagged.length, 1);
    assert.match(own.untagged[0]!, /alice-one/);
    // CREATE of bob's names makes alice's own mailbox; bob's stays his.
    assert.match((await c.command('c', 'CREATE "Secret"')).tagged, /^c OK/);
    const st = await c.command('t', 'STATUS "Secret" (MESSAGES)');
    assert.deepEqual(st.untagged, ['* STATUS "Secret" (MESSAGES 0)']);
  } finally {
    await logoutQuietly(c);
  }
  assert.deepEqual(await bobSnapshot(), before, "bob's account is unchanged");
});

test("POP3: alice's maildrop is hers alone; bob's message numbers are no oracle", async () => {
  const c = await LineClient.connect({ port: pop3.port! });
  try {
    assert.match(await c.command(`USER ${TEST_USER}`), /^\+OK/);
    assert.match(await c.command(`PASS ${TEST_PASSWORD}`), /^\+OK/);
    assert.match(await c.command('STAT'), /^\+OK 1 /);
    for (const cmd of ['LIST', 'RETR', 'TOP', 'DELE', 'UIDL']) {
      const suffix = cmd === 'TOP' ? ' 0' : '';
      const a = (await c.command(`${cmd} 3${suffix}`)).replace(/\b3\b/g, 'N');
      const b = (await c.command(`${cmd} 9${suffix}`)).replace(/\b9\b/g, 'N');
      assert.equal(a, b, `${cmd} of a number bob has vs. none`);
      assert.match(a, /^-ERR/);
    }
    assert.match(await c.command('LIST'), /^\+OK 1 messages/);
    const lines = await c.multiline();
    assert.equal(lines.length, 1);
    c.send('RETR 1');
    assert.match(await c.message(), /alice-one/);
    assert.match(await c.command('QUIT'), /^\+OK/);
  } finally {
    c.close();
  }
  // Bob's name with alice's password, and the reverse, fail.
  const d = await LineClient.connect({ port: pop3.port! });
  assert.match(await d.command(`USER ${BOB}`), /^\+OK/);
  assert.match(await d.command(`PASS ${TEST_PASSWORD}`), /^-ERR \[AUTH\]/);
  assert.match(await d.command('QUIT'), /^\+OK/);
});
