// kill -9 durability (issue 2, item 7): the real `petrel serve` runs as a child process; messages are
// APPENDed and the process is SIGKILLed right after the tagged OK. After a restart on the same data
// directory every APPEND that was answered OK is there with identical bytes (FETCH BODY[], RFC 9051
// §6.4.5), UIDVALIDITY is unchanged and UIDs keep ascending (§2.3.1.1: never reused).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { ImapTestClient } from '../helpers/imap-client.js';
import { makeDataDir, provisionAccounts, startCliServer, TEST_PASSWORD, TEST_USER, type ChildServer } from '../helpers/server.js';
import { openSqliteStore } from '../../src/store/sqlite/sqlite-store.js';

let dataDir: string | null = null;
let child: ChildServer | null = null;

after(async () => {
  await child?.kill9();
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

/** Deterministic message bytes of varying size (one of them large enough to span many writes). */
function message(n: number): Buffer {
  const size = n % 3 === 2 ? 300_000 : 200 + n * 37;
  let body = '';
  let i = 0;
  while (body.length < size) body += `line ${n}.${i++} ${'x'.repeat(n % 50)}\r\n`;
  return Buffer.from(`From: k@example.com\r\nSubject: durable ${n}\r\nMessage-ID: <d${n}@example.com>\r\n\r\n${body}`);
}

async function login(port: number): Promise<ImapTestClient> {
  const c = await ImapTestClient.connect(port);
  const r = await c.command('L', `LOGIN ${TEST_USER} "${TEST_PASSWORD}"`);
  assert.match(r.tagged, /^L OK/);
  return c;
}

test('every APPEND answered OK survives SIGKILL of the server, byte for byte, with ascending UIDs', async () => {
  dataDir = await makeDataDir();
  {
    const store = await openSqliteStore(dataDir);
    await provisionAccounts(store);
    await store.close();
  }

  const acknowledged = new Map<number, Buffer>();
  let uidValidity: string | null = null;
  let lastUid = 0;
  let n = 0;
  const rounds = 4;
  const perRound = 2;

  for (let round = 0; round <= rounds; round++) {
    child = await startCliServer(dataDir);
    const c = await login(child.port);

    // Everything acknowledged before the previous kill is here, unchanged.
    const sel = await c.command('S', 'SELECT INBOX');
    assert.match(sel.tagged, /^S OK/, `${sel.tagged}\n${child.output()}`);
    const uv = /UIDVALIDITY (\d+)/.exec(sel.untagged.join('\n'))?.[1];
    assert.ok(uv);
    if (uidValidity === null) uidValidity = uv;
    assert.equal(uv, uidValidity, 'UIDVALIDITY unchanged across restarts');
    const exists = Number(/\* (\d+) EXISTS/.exec(sel.untagged.join('\n'))?.[1]);
    assert.equal(exists, acknowledged.size);
    if (acknowledged.size > 0) {
      const f = await c.command('F', 'UID FETCH 1:* (UID BODY.PEEK[])', 15000);
      assert.match(f.tagged, /^F OK/);
      const got = new Map<number, Buffer>();
      for (const r of f.responses) {
        const uid = /UID (\d+)/.exec(r.text)?.[1];
        if (uid && r.literals.length === 1) got.set(Number(uid), r.literals[0]!);
      }
      assert.deepEqual([...got.keys()].sort((a, b) => a - b), [...acknowledged.keys()]);
      for (const [uid, bytes] of acknowledged) assert.ok(got.get(uid)!.equals(bytes), `uid ${uid} differs after restart`);
    }
    if (round === rounds) {
      c.close();
      await child.stop();
      break;
    }

    for (let k = 0; k < perRound; k++) {
      const msg = message(n++);
      // LITERAL+ (RFC 7888): the whole command in one write.
      c.sendRaw(Buffer.concat([Buffer.from(`A${n} APPEND INBOX (\\Seen) {${msg.length}+}\r\n`), msg, Buffer.from('\r\n')]));
      const r = await c.readTagged(`A${n}`, 15000);
      if (k === perRound - 1) await child.kill9(); // right after the tagged OK of the round's last APPEND
      assert.match(r.tagged, /^A\d+ OK \[APPENDUID \d+ \d+\]/, r.tagged);
      const [, v, u] = /APPENDUID (\d+) (\d+)/.exec(r.tagged)!;
      assert.equal(v, uidValidity);
      const uid = Number(u);
      assert.ok(uid > lastUid, `uid ${uid} after ${lastUid}: UIDs ascend and are never reused`);
      lastUid = uid;
      acknowledged.set(uid, msg);
    }
    c.close();
    child = null;
  }
  assert.equal(acknowledged.size, rounds * perRound);
});
