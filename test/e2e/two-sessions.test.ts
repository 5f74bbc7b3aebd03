// Two sessions on one mailbox (issue 2, item 6): changes made by session B reach session A as untagged
// EXISTS / FETCH FLAGS / EXPUNGE during IDLE (RFC 2177, RFC 9051 §6.3.13) and at NOOP (§6.1.2); while A
// runs a FETCH by sequence number no EXPUNGE may be sent (RFC 9051 §7.5.1, §5.5), but the following NOOP
// sends it. Raw clients, so the exact untagged responses are seen.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { ImapTestClient, logoutQuietly } from '../helpers/imap-client.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

let srv: TestServer;
const clients: ImapTestClient[] = [];

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

async function append(c: ImapTestClient, box: string, subject: string): Promise<number> {
  const msg = Buffer.from(`Subject: ${subject}\r\nFrom: b@example.com\r\n\r\nbody of ${subject}\r\n`);
  const r = await c.commandWithLiterals('AP', [`APPEND ${box} `, msg]);
  assert.match(r.tagged, /^AP OK/, r.tagged);
  const m = /APPENDUID \d+ (\d+)/.exec(r.tagged);
  assert.ok(m, r.tagged);
  return Number(m[1]);
}

test('IDLE sees the other session\'s APPEND, flag change and EXPUNGE', async () => {
  const a = await session();
  const b = await session();
  assert.match((await b.command('C', 'CREATE Watch1')).tagged, /^C OK/);
  await append(b, 'Watch1', 'first');
  assert.match((await a.command('S', 'SELECT Watch1')).tagged, /^S OK/);

  a.send('I IDLE');
  await a.waitFor(/^\+ /);

  await append(b, 'Watch1', 'second');
  await a.waitFor(/^\* 2 EXISTS$/);

  assert.match((await b.command('S', 'SELECT Watch1')).tagged, /^S OK/);
  assert.match((await b.command('F', 'STORE 2 +FLAGS.SILENT (\\Flagged $Seen-by-B)')).tagged, /^F OK/);
  const fetch = await a.waitFor(/^\* 2 FETCH /);
  assert.match(fetch.text, /FLAGS \([^)]*\\Flagged[^)]*\)/);
  assert.match(fetch.text, /\$Seen-by-B/);

  assert.match((await b.command('D', 'STORE 1 +FLAGS.SILENT (\\Deleted)')).tagged, /^D OK/);
  // The \Deleted flag change may be announced before the expunge.
  assert.match((await b.command('E', 'EXPUNGE')).tagged, /^E OK/);
  await a.waitFor(/^\* 1 EXPUNGE$/);

  a.send('DONE');
  const done = await a.readTagged('I');
  assert.match(done.tagged, /^I OK/);
  // The mailbox as A now sees it: one message, the flagged one.
  const f = await a.command('F', 'FETCH 1:* (FLAGS)');
  assert.equal(f.untagged.filter((l) => / FETCH /.test(l)).length, 1, f.untagged.join('\n'));
  assert.match(f.untagged.find((l) => / FETCH /.test(l))!, /^\* 1 FETCH .*\\Flagged/);
});

test('a session not in IDLE gets the updates at its next NOOP', async () => {
  const a = await session();
  const b = await session();
  assert.match((await b.command('C', 'CREATE Watch2')).tagged, /^C OK/);
  await append(b, 'Watch2', 'one');
  assert.match((await a.command('S', 'SELECT Watch2')).tagged, /^S OK/);

  await append(b, 'Watch2', 'two');
  assert.match((await b.command('S', 'SELECT Watch2')).tagged, /^S OK/);
  assert.match((await b.command('F', 'STORE 1 +FLAGS.SILENT (\\Answered)')).tagged, /^F OK/);

  const n = await a.command('N', 'NOOP');
  assert.match(n.tagged, /^N OK/);
  assert.ok(n.untagged.includes('* 2 EXISTS'), n.untagged.join('\n'));
  assert.ok(n.untagged.some((l) => /^\* 1 FETCH \(.*FLAGS \([^)]*\\Answered/.test(l)), n.untagged.join('\n'));

  // Nothing is announced twice.
  const n2 = await a.command('N2', 'NOOP');
  assert.deepEqual(n2.untagged, []);
});

test('an IMAP4rev2 session is told of another session\'s flag change without \\Recent or RECENT (RFC 9051 Appendix E)', async () => {
  const a = await session();
  const b = await session();
  assert.match((await b.command('C', 'CREATE WatchRev2')).tagged, /^C OK/);
  await append(b, 'WatchRev2', 'one');
  assert.match((await a.command('E', 'ENABLE IMAP4rev2')).tagged, /^E OK/);
  // A's SELECT claims \Recent for the message (the store keeps it); a rev2 client must never see it.
  assert.match((await a.command('S', 'SELECT WatchRev2')).tagged, /^S OK/);
  assert.match((await b.command('S', 'SELECT WatchRev2')).tagged, /^S OK/);
  assert.match((await b.command('F', 'STORE 1 +FLAGS.SILENT (\\Flagged)')).tagged, /^F OK/);
  await append(b, 'WatchRev2', 'two');
  const n = await a.command('N', 'NOOP');
  assert.ok(n.untagged.includes('* 2 EXISTS'), n.untagged.join('\n'));
  assert.ok(n.untagged.includes('* 1 FETCH (UID 1 FLAGS (\\Flagged))'), n.untagged.join('\n'));
  assert.ok(!n.untagged.some((l) => /Recent|RECENT/.test(l)), n.untagged.join('\n'));
});

test('EXAMINE reports \\Recent messages without taking the flag away; the next SELECT gets them (RFC 3501 §6.3.2, §2.3.2)', async () => {
  const a = await session();
  const b = await session();
  assert.match((await b.command('C', 'CREATE Fresh1')).tagged, /^C OK/);
  await append(b, 'Fresh1', 'one');
  await append(b, 'Fresh1', 'two');
  // A read-only session sees both as recent ...
  const ex = await a.command('X', 'EXAMINE Fresh1');
  assert.match(ex.tagged, /^X OK \[READ-ONLY\]/);
  assert.ok(ex.untagged.includes('* 2 RECENT'), ex.untagged.join('\n'));
  const fl = await a.command('F', 'FETCH 1:* FLAGS');
  assert.equal(fl.untagged.filter((l) => /\\Recent/.test(l)).length, 2, fl.untagged.join('\n'));
  const sr = await a.command('R', 'SEARCH RECENT');
  assert.ok(sr.untagged.includes('* SEARCH 1 2'), sr.untagged.join('\n'));
  // ... and did not claim them: a second EXAMINE and STATUS still count them, and SELECT takes them.
  assert.ok((await b.command('X2', 'EXAMINE Fresh1')).untagged.includes('* 2 RECENT'));
  assert.ok((await b.command('U', 'STATUS Fresh1 (RECENT)')).untagged.some((l) => /\(RECENT 2\)/.test(l)));
  assert.ok((await b.command('S', 'SELECT Fresh1')).untagged.includes('* 2 RECENT'));
  assert.ok((await a.command('X3', 'EXAMINE Fresh1')).untagged.includes('* 0 RECENT'));
});

test('a keyword new to the mailbox is announced with FLAGS and PERMANENTFLAGS before any FETCH or EXISTS shows it', async () => {
  const a = await session();
  const b = await session();
  assert.match((await b.command('C', 'CREATE WatchKw')).tagged, /^C OK/);
  await append(b, 'WatchKw', 'one');
  assert.match((await a.command('S', 'SELECT WatchKw')).tagged, /^S OK/);
  assert.match((await b.command('S', 'SELECT WatchKw')).tagged, /^S OK/);
  const before = (lines: string[], first: RegExp, then: RegExp): void => {
    const i = lines.findIndex((l) => first.test(l));
    const j = lines.findIndex((l) => then.test(l));
    assert.ok(i >= 0 && j > i, `${first} before ${then}:\n${lines.join('\n')}`);
  };
  // The session's own STORE of a new keyword (RFC 9051 §7.3.5: the client records FLAGS updates).
  const own = await a.command('K1', 'STORE 1 +FLAGS ($First)');
  before(own.untagged, /^\* FLAGS \(.*\$First\)$/, /^\* 1 FETCH /);
  assert.ok(own.untagged.some((l) => /^\* OK \[PERMANENTFLAGS \(.*\$First \\\*\)\]/.test(l)), own.untagged.join('\n'));
  // Known already (keywords compare case-insensitively): no new FLAGS.
  const again = await a.command('K2', 'STORE 1 +FLAGS ($first)');
  assert.ok(!again.untagged.some((l) => /^\* FLAGS/.test(l)), again.untagged.join('\n'));
  // Another session's flag change: FLAGS before the unsolicited FETCH.
  before((await b.command('N1', 'NOOP')).untagged, /^\* FLAGS \(.*\$First\)$/, /^\* 1 FETCH /);
  // A new message carrying a new keyword: FLAGS before EXISTS.
  const msg = Buffer.from('Subject: kw\r\n\r\nbody\r\n');
  assert.match((await b.commandWithLiterals('AP', ['APPEND WatchKw ($Second) ', msg])).tagged, /^AP OK/);
  before((await a.command('N2', 'NOOP')).untagged, /^\* FLAGS \(.*\$First \$Second\)$/, /^\* 2 EXISTS$/);
  // A keyword another session stored shows up in this session's FETCH only after FLAGS named it.
  assert.match((await b.command('K3', 'STORE 1 +FLAGS.SILENT ($Third)')).tagged, /^K3 OK/);
  before((await a.command('F', 'FETCH 1 (FLAGS)')).untagged, /^\* FLAGS \(.*\$Third\)$/, /^\* 1 FETCH .*\$Third/);
});

test('no EXPUNGE during FETCH by sequence number; it comes at the following NOOP', async () => {
  const a = await session();
  const b = await session();
  assert.match((await b.command('C', 'CREATE Watch3')).tagged, /^C OK/);
  for (const s of ['m1', 'm2', 'm3']) await append(b, 'Watch3', s);
  assert.match((await a.command('S', 'SELECT Watch3')).tagged, /^S OK/);

  assert.match((await b.command('S', 'SELECT Watch3')).tagged, /^S OK/);
  assert.match((await b.command('D', 'STORE 2 +FLAGS.SILENT (\\Deleted)')).tagged, /^D OK/);
  assert.match((await b.command('E', 'EXPUNGE')).tagged, /^E OK/);

  // RFC 9051 §7.5.1: an EXPUNGE response MUST NOT be sent while responding to FETCH (by sequence number).
  const f = await a.command('F', 'FETCH 1:3 (UID)');
  assert.ok(!f.untagged.some((l) => /EXPUNGE/.test(l)), f.untagged.join('\n'));
  // Message 2 is gone in the store; the server may answer its data from the session's view, or say NO
  // [EXPUNGEISSUED] (RFC 5530) — but sequence numbers still follow A's view: 1 and 3 are there.
  assert.match(f.tagged, /^F (OK|NO \[EXPUNGEISSUED\])/);
  assert.ok(f.untagged.some((l) => /^\* 1 FETCH /.test(l)), f.untagged.join('\n'));
  assert.ok(f.untagged.some((l) => /^\* 3 FETCH /.test(l)), f.untagged.join('\n'));

  // Also not during STORE or SEARCH by sequence number.
  const st = await a.command('ST', 'STORE 1 +FLAGS (\\Answered)');
  assert.ok(!st.untagged.some((l) => /EXPUNGE/.test(l)), st.untagged.join('\n'));
  assert.match(st.tagged, /^ST OK/);
  assert.ok(st.untagged.some((l) => /^\* 1 FETCH .*\\Answered/.test(l)), st.untagged.join('\n'));
  const s = await a.command('SR', 'SEARCH ALL');
  assert.ok(!s.untagged.some((l) => /EXPUNGE/.test(l)), s.untagged.join('\n'));
  assert.match(s.tagged, /^SR OK/);
  // Sequence numbers still follow A's view (m3 is still 3); whether the expunged 2 matches is the server's
  // choice (RFC 2180 §4.1).
  assert.ok(/^\* SEARCH 1 (2 )?3$/m.test(s.untagged.join('\n')), s.untagged.join('\n'));

  const n = await a.command('N', 'NOOP');
  assert.ok(n.untagged.includes('* 2 EXPUNGE'), n.untagged.join('\n'));
  assert.match(n.tagged, /^N OK/);
  const after = await a.command('F2', 'FETCH 1:* (UID)');
  assert.equal(after.untagged.filter((l) => / FETCH /.test(l)).length, 2);
});

test('a real client (imapflow) watching in IDLE sees another client create, append, flag, move and delete', async () => {
  const { ImapFlow } = await import('imapflow');
  const mk = (): InstanceType<typeof ImapFlow> =>
    new ImapFlow({ host: '127.0.0.1', port: srv.port, secure: false, auth: { user: srv.user, pass: srv.password }, logger: false });
  const watcher = mk();
  const actor = mk();
  await watcher.connect();
  await actor.connect();
  try {
    await actor.mailboxCreate('Watched');
    await actor.mailboxCreate('Watched/Elsewhere');
    const events: string[] = [];
    let notify: (() => void) | null = null;
    const push = (e: string): void => {
      events.push(e);
      notify?.();
    };
    watcher.on('exists', (d: { count: number }) => push(`exists ${d.count}`));
    watcher.on('flags', (d: { seq: number; flags: Set<string> }) => push(`flags ${d.seq} ${[...d.flags].sort().join(' ')}`));
    watcher.on('expunge', (d: { seq: number }) => push(`expunge ${d.seq}`));
    const waitEvent = async (re: RegExp): Promise<void> => {
      const deadline = Date.now() + 5000;
      while (!events.some((e) => re.test(e))) {
        const left = deadline - Date.now();
        if (left <= 0) throw new Error(`no event ${re} in ${JSON.stringify(events)}`);
        await new Promise<void>((resolve) => {
          const t = setTimeout(resolve, left);
          notify = () => {
            clearTimeout(t);
            resolve();
          };
        });
      }
    };
    await watcher.mailboxOpen('Watched');
    // IDLE until another command is issued on the watcher (imapflow ends it with DONE then).
    const idling = watcher.idle();
    const a = await actor.append('Watched', Buffer.from('Subject: w1\r\n\r\none\r\n'));
    await waitEvent(/^exists 1$/);
    await actor.append('Watched', Buffer.from('Subject: w2\r\n\r\ntwo\r\n'));
    await waitEvent(/^exists 2$/);
    await actor.mailboxOpen('Watched');
    await actor.messageFlagsAdd('1', ['\\Flagged']);
    await waitEvent(/^flags 1 .*\\Flagged/);
    await actor.messageMove('2', 'Watched/Elsewhere');
    await waitEvent(/^expunge 2$/);
    assert.ok(a);
    await actor.messageDelete(String(a.uid), { uid: true });
    await waitEvent(/^expunge 1$/);
    const left = await watcher.status('Watched', { messages: true });
    await idling;
    assert.ok(left);
    assert.equal(left.messages, 0);
  } finally {
    await actor.logout().catch(() => undefined);
    await watcher.logout().catch(() => undefined);
  }
});
