// POP3 AUTH (RFC 5034 §4) with SCRAM-SHA-256 (RFC 7677) and SCRAM-SHA-256-PLUS (RFC 5802 §6; tls-exporter
// RFC 9266 on TLS 1.3, tls-unique RFC 5929 on TLS 1.2): CAPA's SASL line (RFC 2449 §6.3), initial response
// on the AUTH line and after "+ ", the final "+ v=..." challenge answered by an empty line, cancel "*",
// identical failures for a wrong password, an unknown user, a wrong binding; the downgrade flag "y" refused
// on TLS; the same failed-login accounting and lock-out as USER/PASS; the maildrop lock ([IN-USE]).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { generate } from 'selfsigned';
import { hashPassword } from '../../src/auth/password.js';
import { channelBindingData, channelBindingType } from '../../src/auth/channel-binding.js';
import { ScramClient, type ChannelBinding } from '../../src/client/commands/auth.js';
import { startPop3Server, type RunningPop3Server } from '../../src/pop3/pop3-server.js';
import { LoginThrottle } from '../../src/server/server-context.js';
import { provisionUser } from '../../src/store/provision.js';
import { MAX_FAILED_LOGINS_PER_ACCOUNT } from '../../src/server/server-context.js';
import { startTestServer, TEST_PASSWORD, TEST_USER, type TestServer } from '../helpers/server.js';
import { LineClient } from './line-client.js';

let srv: TestServer;
let pop3: RunningPop3Server;
const clients: LineClient[] = [];
/** The real throttle, with every failure recorded, so SCRAM failures can be seen counted like PASS ones. */
const inner = new LoginThrottle();
const failures: string[] = [];
const throttle = {
  checkLogin: (ip: string, user: string) => inner.checkLogin(ip, user),
  failLogin: (ip: string, user: string) => {
    failures.push(user);
    inner.failLogin(ip, user);
    return 0; // no delay: the test is about the accounting, not the sleeping
  },
  succeedLogin: (ip: string, user: string) => inner.succeedLogin(ip, user),
};

before(async () => {
  srv = await startTestServer();
  await provisionUser(srv.store, 'old', await hashPassword('old password', undefined, { scram: false }));
  const pems = await generate([{ name: 'commonName', value: 'localhost' }], { keySize: 2048, algorithm: 'sha256' });
  pop3 = await startPop3Server({ store: srv.store, host: '127.0.0.1', port: 0, tlsPort: 0, tls: { key: pems.private, cert: pems.cert }, throttle });
});

after(async () => {
  for (const c of clients) c.close();
  await pop3?.close();
  await srv?.stop();
});

async function connect(implicitTls = false): Promise<LineClient> {
  const c = await LineClient.connect({ port: implicitTls ? pop3.tlsPort! : pop3.port! }, implicitTls);
  clients.push(c);
  assert.match(c.greeting, /^\+OK /);
  return c;
}

const b64 = (s: string): string => Buffer.from(s, 'utf8').toString('base64');
const unb64 = (s: string): string => Buffer.from(s, 'base64').toString('utf8');

/**
 * One AUTH exchange by hand: the initial response on the AUTH line (RFC 5034 §4) or after an empty "+ ".
 * Returns the final answer line and whether the server's signature verified.
 */
async function scramAuth(c: LineClient, mechanism: string, client: ScramClient, initialOnLine = true): Promise<{ answer: string; verified: boolean }> {
  let r: string;
  if (initialOnLine) {
    r = await c.command(`AUTH ${mechanism} ${b64(client.first())}`);
  } else {
    assert.equal(await c.command(`AUTH ${mechanism}`), '+ ', 'an empty challenge first');
    r = await c.command(b64(client.first()));
  }
  if (!r.startsWith('+ ')) return { answer: r, verified: false };
  r = await c.command(b64(client.final(unb64(r.slice(2)))));
  if (!r.startsWith('+ ')) return { answer: r, verified: false };
  client.verify(unb64(r.slice(2)));
  return { answer: await c.command(''), verified: true };
}

function bindingOf(c: LineClient): ChannelBinding {
  const sock = c.tlsSocket!;
  const type = channelBindingType(sock)!;
  return { type, data: channelBindingData(sock, type, 'client')! };
}

function reset(): void {
  inner.succeedLogin('127.0.0.1', TEST_USER);
  inner.succeedLogin('127.0.0.1', 'nobody');
  inner.succeedLogin('127.0.0.1', 'old');
  failures.length = 0;
}

test('CAPA and bare AUTH list SCRAM-SHA-256, and -PLUS only on TLS (POP3S and after STLS)', async () => {
  const c = await connect();
  assert.match(await c.command('CAPA'), /^\+OK/);
  const caps = await c.multiline();
  assert.ok(caps.includes('SASL PLAIN SCRAM-SHA-256'), caps.join(' | '));
  assert.match(await c.command('AUTH'), /^\+OK/);
  assert.deepEqual(await c.multiline(), ['PLAIN', 'SCRAM-SHA-256']);
  assert.match(await c.command(`AUTH SCRAM-SHA-256-PLUS ${b64('p=tls-exporter,,n=alice,r=abcdefgh')}`), /^-ERR Unsupported SASL mechanism/);
  assert.match(await c.command('STLS'), /^\+OK/);
  await c.startTls();
  assert.match(await c.command('CAPA'), /^\+OK/);
  assert.ok((await c.multiline()).includes('SASL PLAIN SCRAM-SHA-256 SCRAM-SHA-256-PLUS'));
  const s = await connect(true);
  assert.match(await s.command('AUTH'), /^\+OK/);
  assert.deepEqual(await s.multiline(), ['PLAIN', 'SCRAM-SHA-256', 'SCRAM-SHA-256-PLUS']);
});

test('AUTH SCRAM-SHA-256 in clear text on loopback: initial response on the line or after "+ "; the server proves itself', async () => {
  reset();
  for (const initialOnLine of [true, false]) {
    const c = await connect();
    const r = await scramAuth(c, 'SCRAM-SHA-256', new ScramClient(TEST_USER, TEST_PASSWORD, { binding: null }), initialOnLine);
    assert.match(r.answer, /^\+OK Logged in/);
    assert.ok(r.verified);
    assert.match(await c.command('STAT'), /^\+OK \d+ \d+$/);
    assert.match(await c.command('QUIT'), /^\+OK/);
  }
});

test('wrong password, unknown user and a hash without SCRAM credential fail alike and count as failed logins', async () => {
  reset();
  const c = await connect();
  const wrong = await scramAuth(c, 'SCRAM-SHA-256', new ScramClient(TEST_USER, 'not the password', { binding: null }));
  const unknown = await scramAuth(c, 'SCRAM-SHA-256', new ScramClient('nobody', 'not the password', { binding: null }));
  const old = await scramAuth(c, 'SCRAM-SHA-256', new ScramClient('old', 'old password', { binding: null }));
  assert.equal(wrong.answer, '-ERR [AUTH] Invalid credentials');
  assert.equal(unknown.answer, wrong.answer);
  assert.equal(old.answer, wrong.answer);
  assert.deepEqual(failures, [TEST_USER, 'nobody', 'old'], 'each failure went through the shared throttle');
  // Cancel and bad base64 end the exchange with -ERR, and the session goes on.
  assert.equal(await c.command('AUTH SCRAM-SHA-256'), '+ ');
  assert.equal(await c.command('*'), '-ERR Authentication cancelled');
  assert.equal(await c.command('AUTH SCRAM-SHA-256 !!!!'), '-ERR Invalid base64 in SASL response');
  assert.match(await c.command(`AUTH SCRAM-SHA-256 ${b64('x,,n=a,r=b')}`), /^-ERR SCRAM: malformed/);
  // "old" still logs in with USER/PASS.
  assert.match(await c.command('USER old'), /^\+OK/);
  assert.match(await c.command('PASS old password'), /^\+OK Logged in/);
  assert.match(await c.command('QUIT'), /^\+OK/);
});

test('a locked account is refused over SCRAM as over USER/PASS, even with the right password', async () => {
  reset();
  const now = Date.now();
  for (let i = 0; i < MAX_FAILED_LOGINS_PER_ACCOUNT; i++) inner.failLogin(`198.51.100.${i}`, TEST_USER, now);
  const c = await connect();
  const r = await scramAuth(c, 'SCRAM-SHA-256', new ScramClient(TEST_USER, TEST_PASSWORD, { binding: null }));
  assert.equal(r.answer, '-ERR [SYS/TEMP] Too many failed logins; try again later');
  assert.match(await c.command(`USER ${TEST_USER}`), /^\+OK/);
  assert.equal(await c.command(`PASS ${TEST_PASSWORD}`), r.answer);
  reset();
  const ok = await scramAuth(c, 'SCRAM-SHA-256', new ScramClient(TEST_USER, TEST_PASSWORD, { binding: null }));
  assert.match(ok.answer, /^\+OK Logged in/);
  // One session per maildrop (RFC 1939 §4), whatever the mechanism.
  const d = await connect();
  const second = await scramAuth(d, 'SCRAM-SHA-256', new ScramClient(TEST_USER, TEST_PASSWORD, { binding: null }));
  assert.match(second.answer, /^-ERR \[IN-USE\]/);
  assert.match(await c.command('QUIT'), /^\+OK/);
  assert.match(await d.command('QUIT'), /^\+OK/);
});

test('SCRAM-SHA-256-PLUS over POP3S (TLS 1.3) and STLS with TLS 1.2: right binding, wrong binding, downgrade "y"', async () => {
  for (const version of ['TLSv1.3', 'TLSv1.2'] as const) {
    reset();
    let c: LineClient;
    if (version === 'TLSv1.3') {
      c = await connect(true);
    } else {
      c = await connect();
      assert.match(await c.command('STLS'), /^\+OK/);
      await c.startTls({ minVersion: version, maxVersion: version });
    }
    assert.equal(c.tlsSocket!.getProtocol(), version);
    const binding = bindingOf(c);
    assert.equal(binding.type, version === 'TLSv1.3' ? 'tls-exporter' : 'tls-unique');
    const wrong = await scramAuth(c, 'SCRAM-SHA-256-PLUS', new ScramClient(TEST_USER, TEST_PASSWORD, { binding: { type: binding.type, data: randomBytes(binding.data.length) } }));
    assert.equal(wrong.answer, '-ERR [AUTH] Invalid credentials', `${version}: wrong binding`);
    const wrongPw = await scramAuth(c, 'SCRAM-SHA-256-PLUS', new ScramClient(TEST_USER, 'nope', { binding }));
    assert.equal(wrongPw.answer, wrong.answer);
    assert.deepEqual(failures, [TEST_USER, TEST_USER]);
    const downgrade = await scramAuth(c, 'SCRAM-SHA-256', new ScramClient(TEST_USER, TEST_PASSWORD, { binding: null, clientCanBind: true }));
    assert.match(downgrade.answer, /^-ERR \[AUTH\] SCRAM: the server supports channel binding/);
    const noP = await scramAuth(c, 'SCRAM-SHA-256-PLUS', new ScramClient(TEST_USER, TEST_PASSWORD, { binding: null }));
    assert.match(noP.answer, /^-ERR SCRAM: SCRAM-SHA-256-PLUS requires/);
    reset();
    const ok = await scramAuth(c, 'SCRAM-SHA-256-PLUS', new ScramClient(TEST_USER, TEST_PASSWORD, { binding }));
    assert.match(ok.answer, /^\+OK Logged in/, `${version}: right binding`);
    assert.ok(ok.verified);
    assert.match(await c.command('QUIT'), /^\+OK/);
  }
});

test('without TLS and with allow_insecure_auth=never, SCRAM is refused like PLAIN until STLS', async () => {
  reset();
  const strict = await startPop3Server({ store: srv.store, host: '127.0.0.1', port: 0, tlsPort: null, tls: null, allowInsecureAuth: 'never', throttle });
  try {
    const c = await LineClient.connect({ port: strict.port! });
    clients.push(c);
    assert.match(await c.command(`AUTH SCRAM-SHA-256 ${b64(new ScramClient(TEST_USER, TEST_PASSWORD, { binding: null }).first())}`), /^-ERR \[AUTH\] Plaintext authentication is disabled/);
    assert.match(await c.command('QUIT'), /^\+OK/);
  } finally {
    await strict.close();
  }
});
