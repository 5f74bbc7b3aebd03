// POP3 on a replica with partial messages (docs/sync.md "Partial messages"): RETR (and TOP with body
// lines) of a partly downloaded message calls the fetchMissing hook first and then sends the whole
// message; TOP n 0 is answered from the header the replica holds; without a hook, or when it fails,
// -ERR [SYS/TEMP] (RFC 3206 §4) and the session goes on.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { hashPassword } from '../../src/auth/password.js';
import { startPop3Server, type Pop3ServerOptions, type RunningPop3Server } from '../../src/pop3/pop3-server.js';
import { provisionUser } from '../../src/store/provision.js';
import { openSqliteStore, type SqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import { makePartial, SAMPLE } from '../server/partial-helpers.js';
import { LineClient } from './line-client.js';

const cleanups: Array<() => Promise<void>> = [];
after(async () => {
  for (const c of cleanups.reverse()) await c();
});

async function replica(hook: Pop3ServerOptions['fetchMissing'] | 'replace'): Promise<{ store: SqliteStore; port: number; calls: number[] }> {
  const dir = await mkdtemp(join(tmpdir(), 'petrel-pop3-partial-'));
  const store = await openSqliteStore(dir);
  const user = await provisionUser(store, 'alice', await hashPassword('pw'));
  const inbox = (await store.getMailbox(user.id, 'INBOX'))!;
  const partial = makePartial(SAMPLE, ['1']);
  await store.append(inbox.id, [{ message: await store.preparePartial(partial.bytes, partial.mime, SAMPLE.length), flags: [] }]);
  const calls: number[] = [];
  const fetchMissing: Pop3ServerOptions['fetchMissing'] =
    hook === 'replace'
      ? async (req) => {
          calls.push(req.uid);
          assert.equal(req.mailboxName, 'INBOX');
          assert.equal(req.userName, 'alice');
          await store.replaceContent(req.mailboxId, req.uid, await store.prepare(SAMPLE));
        }
      : hook;
  const server: RunningPop3Server = await startPop3Server({
    store,
    host: '127.0.0.1',
    port: 0,
    tlsPort: null,
    tls: null,
    ...(fetchMissing ? { fetchMissing } : {}),
  });
  cleanups.push(async () => {
    await server.close();
    await store.close();
    await rm(dir, { recursive: true, force: true });
  });
  return { store, port: server.port!, calls };
}

async function session(port: number): Promise<LineClient> {
  const c = await LineClient.connect({ port });
  cleanups.push(async () => c.close());
  assert.match(await c.command('USER alice'), /^\+OK/);
  assert.match(await c.command('PASS pw'), /^\+OK/);
  return c;
}

test('RETR of a partial message fetches it through the hook, then sends it whole; TOP 0 needs nothing', async () => {
  const r = await replica('replace');
  const c = await session(r.port);
  assert.equal(await c.command('LIST 1'), `+OK 1 ${SAMPLE.length}`);
  assert.match(await c.command('TOP 1 0'), /^\+OK/);
  const header = SAMPLE.subarray(0, SAMPLE.indexOf('\r\n\r\n') + 4).toString('latin1');
  assert.equal(await c.message(), header);
  assert.deepEqual(r.calls, [], 'TOP 0 is answered from the header');
  assert.equal(await c.command('RETR 1'), `+OK ${SAMPLE.length} octets`);
  assert.equal(await c.message(), SAMPLE.toString('latin1'));
  assert.deepEqual(r.calls, [1]);
  assert.match(await c.command('RETR 1'), /^\+OK/);
  assert.equal(await c.message(), SAMPLE.toString('latin1'));
  assert.deepEqual(r.calls, [1], 'fetched once');
  assert.match(await c.command('QUIT'), /^\+OK/);
});

test('RETR of a partial message without a hook, or with a failing one, answers -ERR [SYS/TEMP]', async () => {
  const none = await replica(undefined);
  const a = await session(none.port);
  assert.match(await a.command('RETR 1'), /^-ERR \[SYS\/TEMP\] .*no source is configured/);
  assert.match(await a.command('TOP 1 3'), /^-ERR \[SYS\/TEMP\]/);
  assert.match(await a.command('NOOP'), /^\+OK/);

  const failing = await replica(async () => {
    throw new Error('network is down');
  });
  const b = await session(failing.port);
  assert.match(await b.command('RETR 1'), /^-ERR \[SYS\/TEMP\] .*network is down/);
  assert.match(await b.command('STAT'), /^\+OK 1 /);
});
