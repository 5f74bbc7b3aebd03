// Brute-force protection and TLS settings (issue 7, item 5): the login throttle per address and per
// account (growing delay, temporary lock-out, logged), the same work for unknown users and wrong
// passwords, and TLS 1.2 as the oldest version on every listener (RFC 8996; RFC 9325 §3.1.1).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import tls from 'node:tls';
import { generate } from 'selfsigned';
import { LIMITS } from '../../src/protocol/limits.js';
import { LoginThrottle, MAX_FAILED_LOGINS_PER_ACCOUNT, passwordAuthenticator } from '../../src/server/server-context.js';
import { startServer, MIN_TLS_VERSION, type RunningServer } from '../../src/server/server.js';
import { startPop3Server, type RunningPop3Server } from '../../src/pop3/pop3-server.js';
import type { UserRecord } from '../../src/store/types.js';
import { ImapTestClient, logoutQuietly } from '../helpers/imap-client.js';
import { startTestServer, TEST_PASSWORD, TEST_USER, type TestServer } from '../helpers/server.js';
import { LineClient } from '../pop3/line-client.js';

function recorder() {
  const lines: Array<{ obj: unknown; msg: string | undefined }> = [];
  const push = (obj: unknown, msg?: string) => void lines.push({ obj, msg });
  return { lines, log: { debug: push, info: push, warn: push, error: push } };
}

test('per account: failures from many addresses slow the account down, then lock it (any case), logged', () => {
  const { lines, log } = recorder();
  const kinds: string[] = [];
  let failures = 0;
  const t = new LoginThrottle({ log, onFailure: () => failures++, onLockout: (k) => kinds.push(k) });
  const now = 1_000_000;
  const delays: number[] = [];
  for (let i = 0; i < MAX_FAILED_LOGINS_PER_ACCOUNT - 1; i++) {
    // A fresh address each time: the per-address count never passes 1.
    delays.push(t.failLogin(`10.1.${i >> 8}.${i & 255}`, 'alice', now + i));
    assert.equal(t.checkLogin(`10.2.0.${i & 255}`, 'alice', now + i), 0, `not locked after ${i + 1} failures`);
  }
  assert.ok(delays[5]! > delays[0]!, `the delay grows per account: ${delays.join(',')}`);
  assert.ok(delays.every((d) => d <= LIMITS.failedLoginMaxDelayMs));
  assert.equal(kinds.length, 0);
  t.failLogin('10.9.9.9', 'ALICE', now + 100);
  assert.deepEqual(kinds, ['account']);
  assert.equal(failures, MAX_FAILED_LOGINS_PER_ACCOUNT);
  assert.equal(t.checkLogin('192.0.2.1', 'alice', now + 200), -1, 'locked from every address');
  assert.equal(t.checkLogin('192.0.2.1', 'Alice', now + 200), -1, 'in any case');
  assert.equal(t.checkLogin('192.0.2.1', 'bob', now + 200), 0, 'other accounts are not');
  assert.equal(t.checkLogin('192.0.2.1', 'alice', now + 100 + LIMITS.lockoutMs + 1), 0, 'the lock-out is temporary');
  const warned = lines.find((l) => l.msg === 'login lock-out (account)');
  assert.ok(warned, 'the lock-out is logged');
  assert.deepEqual(warned.obj, { user: 'alice', minutes: LIMITS.lockoutMs / 60_000 });
});

test('per address: guesses spread over many account names lock the address; success clears both counts', () => {
  const kinds: string[] = [];
  const t = new LoginThrottle({ onLockout: (k) => kinds.push(k) });
  const now = 2_000_000;
  for (let i = 0; i < LIMITS.maxFailedLogins; i++) t.failLogin('10.0.0.7', `user${i}`, now + i);
  assert.deepEqual(kinds, ['ip']);
  assert.equal(t.checkLogin('10.0.0.7', 'someone-else', now + 50), -1);
  assert.equal(t.checkLogin('10.0.0.8', 'user1', now + 50), 0);
  const u = new LoginThrottle();
  for (let i = 0; i < 5; i++) u.failLogin('10.0.0.9', 'carol', now + i);
  u.succeedLogin('10.0.0.9', 'carol');
  assert.equal(u.failLogin('10.0.0.10', 'carol', now + 10), LIMITS.failedLoginBaseDelayMs, 'account count starts again');
  assert.equal(u.failLogin('10.0.0.9', 'dave', now + 10), LIMITS.failedLoginBaseDelayMs, 'address count starts again');
});

test('unknown user and wrong password both run exactly one password verification', async () => {
  const calls: string[] = [];
  const user = { id: 1, name: 'alice', passwordHash: 'HASH-OF-ALICE' } as unknown as UserRecord;
  const store = { getUser: async (n: string) => (n === 'alice' ? user : null) };
  const verify = async (password: string, hash: string) => {
    calls.push(hash);
    return password === 'right' && hash === 'HASH-OF-ALICE';
  };
  const auth = passwordAuthenticator(store, 'DUMMY', verify);
  assert.equal(await auth('nobody', 'guess'), null);
  assert.deepEqual(calls, ['DUMMY']);
  assert.equal(await auth('alice', 'guess'), null);
  assert.deepEqual(calls, ['DUMMY', 'HASH-OF-ALICE']);
  assert.equal(await auth('alice', 'right'), user);
  assert.equal(calls.length, 3);
});

let srv: TestServer;
let pems: { private: string; cert: string };
let imap: RunningServer;
let pop3: RunningPop3Server;
const throttle = new LoginThrottle();

before(async () => {
  srv = await startTestServer();
  pems = await generate([{ name: 'commonName', value: 'localhost' }], { keySize: 2048, algorithm: 'sha256' });
  const material = { key: pems.private, cert: pems.cert };
  imap = await startServer({ store: srv.store, host: '127.0.0.1', imapPort: 0, imapsPort: 0, tls: material, throttle });
  pop3 = await startPop3Server({ store: srv.store, host: '127.0.0.1', port: 0, tlsPort: 0, tls: material, throttle });
});

after(async () => {
  await imap?.close();
  await pop3?.close();
  await srv?.stop();
});

test('a locked account is refused even with the right password, exactly like a locked unknown name (IMAP, POP3)', async () => {
  const now = Date.now();
  for (let i = 0; i < MAX_FAILED_LOGINS_PER_ACCOUNT; i++) {
    throttle.failLogin(`198.51.100.${i}`, TEST_USER, now);
    throttle.failLogin(`198.51.100.${i}`, 'no-such-user', now);
  }
  const c = await ImapTestClient.connect(imap.imapPort!);
  const right = await c.command('a', `LOGIN ${TEST_USER} "${TEST_PASSWORD}"`);
  const unknown = await c.command('a', `LOGIN no-such-user "${TEST_PASSWORD}"`);
  assert.match(right.tagged, /^a NO \[UNAVAILABLE\]/);
  assert.deepEqual(right, unknown);
  await logoutQuietly(c);
  const p = await LineClient.connect({ port: pop3.port! });
  assert.match(await p.command(`USER ${TEST_USER}`), /^\+OK/);
  assert.match(await p.command(`PASS ${TEST_PASSWORD}`), /^-ERR \[SYS\/TEMP\]/);
  assert.match(await p.command('QUIT'), /^\+OK/);
  throttle.succeedLogin('198.51.100.0', TEST_USER);
  const d = await ImapTestClient.connect(imap.imapPort!);
  assert.match((await d.command('b', `LOGIN ${TEST_USER} "${TEST_PASSWORD}"`)).tagged, /^b OK/);
  await logoutQuietly(d);
});

/** Connects with TLS limited to `version`; resolves the negotiated protocol or rejects. */
function tlsConnect(port: number, version: tls.SecureVersion): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = tls.connect({ port, host: '127.0.0.1', rejectUnauthorized: false, minVersion: version, maxVersion: version }, () => {
      const proto = s.getProtocol() ?? '';
      s.destroy();
      resolve(proto);
    });
    s.once('error', (err) => {
      s.destroy();
      reject(err);
    });
  });
}

test('TLS 1.2 is the oldest version on IMAPS, POP3S and STARTTLS; TLS 1.1 clients are refused', async () => {
  assert.equal(MIN_TLS_VERSION, 'TLSv1.2');
  for (const port of [imap.imapsPort!, pop3.tlsPort!]) {
    assert.equal(await tlsConnect(port, 'TLSv1.2'), 'TLSv1.2');
    assert.equal(await tlsConnect(port, 'TLSv1.3'), 'TLSv1.3');
    await assert.rejects(tlsConnect(port, 'TLSv1.1'), 'a TLS 1.1 client is refused');
  }
  const ok = await ImapTestClient.connect(imap.imapPort!);
  assert.match((await ok.command('s', 'STARTTLS')).tagged, /^s OK/);
  await ok.startTls({ maxVersion: 'TLSv1.2' });
  assert.match((await ok.command('n', 'NOOP')).tagged, /^n OK/);
  await logoutQuietly(ok);
  const old = await ImapTestClient.connect(imap.imapPort!);
  assert.match((await old.command('s', 'STARTTLS')).tagged, /^s OK/);
  await assert.rejects(old.startTls({ minVersion: 'TLSv1', maxVersion: 'TLSv1.1' }));
  old.close();
  // POP3 STLS (RFC 2595 §4), by hand: the line client has no TLS options.
  for (const [version, ok] of [['TLSv1.1', false], ['TLSv1.2', true]] as const) {
    const raw = net.connect({ port: pop3.port!, host: '127.0.0.1' });
    let got = '';
    await new Promise<void>((resolve) => {
      const onData = (d: Buffer) => {
        got += d.toString('latin1');
        if (got.includes('\r\n') && !got.includes('STLS')) raw.write('STLS\r\n'), (got += 'STLS');
        if (/STLS[\s\S]*\r\n/.test(got)) {
          raw.off('data', onData);
          resolve();
        }
      };
      raw.on('data', onData);
    });
    assert.match(got, /STLS\+OK/);
    const handshake = new Promise<string>((resolve, reject) => {
      const s = tls.connect({ socket: raw, rejectUnauthorized: false, minVersion: version, maxVersion: version }, () =>
        resolve(s.getProtocol() ?? ''),
      );
      s.once('error', reject);
    });
    if (ok) assert.equal(await handshake, 'TLSv1.2');
    else await assert.rejects(handshake, `POP3 STLS refuses ${version}`);
    raw.destroy();
  }
});
