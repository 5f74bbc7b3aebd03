// Concurrent writers (issue 2, items 5 and 7): APPENDs from several sessions at once into one mailbox
// get distinct, strictly ascending UIDs (RFC 9051 §2.3.1.1) and every acknowledged message is stored once.
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

async function login(): Promise<ImapTestClient> {
  const c = await ImapTestClient.connect(srv.port);
  clients.push(c);
  assert.match((await c.command('L', `LOGIN ${srv.user} "${srv.password}"`)).tagged, /^L OK/);
  return c;
}

test('three sessions appending concurrently get distinct ascending UIDs and lose nothing', async () => {
  const sessions = [await login(), await login(), await login()];
  assert.match((await sessions[0]!.command('C', 'CREATE Busy')).tagged, /^C OK/);
  const perSession = 15;
  const results = await Promise.all(
    sessions.map(async (c, s) => {
      // Pipeline every APPEND in one write (LITERAL+), then read the answers in order.
      const chunks: Buffer[] = [];
      for (let i = 0; i < perSession; i++) {
        const m = Buffer.from(`Subject: s${s} m${i}\r\n\r\n${'z'.repeat(i * 100)}\r\n`);
        chunks.push(Buffer.from(`A${i} APPEND Busy {${m.length}+}\r\n`), m, Buffer.from('\r\n'));
      }
      c.sendRaw(Buffer.concat(chunks));
      const uids: number[] = [];
      for (let i = 0; i < perSession; i++) {
        const r = await c.readTagged(`A${i}`, 15_000);
        const m = /^A\d+ OK \[APPENDUID \d+ (\d+)\]/.exec(r.tagged);
        assert.ok(m, r.tagged);
        uids.push(Number(m[1]));
      }
      return uids;
    }),
  );
  for (const uids of results) {
    for (let i = 1; i < uids.length; i++) assert.ok(uids[i]! > uids[i - 1]!, `ascending within a session: ${uids.join(',')}`);
  }
  const all = results.flat();
  assert.equal(new Set(all).size, all.length, 'no UID given twice');
  const c = sessions[0]!;
  const st = await c.command('S', 'STATUS Busy (MESSAGES UIDNEXT)');
  assert.match(st.untagged.join(''), new RegExp(`MESSAGES ${3 * perSession}\\b`));
  assert.match(st.untagged.join(''), new RegExp(`UIDNEXT ${Math.max(...all) + 1}\\b`));
  assert.match((await c.command('SE', 'SELECT Busy')).tagged, /^SE OK/);
  const f = await c.command('F', 'UID FETCH 1:* (UID)');
  const listed = f.untagged.map((l) => Number(/UID (\d+)/.exec(l)![1]));
  assert.deepEqual(listed, [...all].sort((a, b) => a - b));
});
