// SCRAM-SHA-256(-PLUS) (RFC 5802, RFC 7677) with an independent client: Python's imaplib and poplib driven
// by test/auth/scram_session.py, which computes SCRAM with hashlib/hmac and binds to TLS 1.2 with
// "tls-unique" (RFC 5929) as Python's ssl module reports it. Checks the server against a second
// implementation of the binding and the proof: right binding logs in (and the server's signature verifies),
// wrong binding and wrong password fail, the "y" flag on TLS is refused (RFC 5802 §6), clear text works with "n".
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { generate } from 'selfsigned';
import { startPop3Server, type RunningPop3Server } from '../../src/pop3/pop3-server.js';
import { startServer, type RunningServer } from '../../src/server/server.js';
import { runProgram } from '../helpers/run-program.js';
import { REPO_ROOT, startTestServer, TEST_PASSWORD, TEST_USER, type TestServer } from '../helpers/server.js';

let srv: TestServer;
let imap: RunningServer;
let pop3: RunningPop3Server;
let out: Record<string, unknown>;

before(async () => {
  srv = await startTestServer();
  const pems = await generate([{ name: 'commonName', value: 'localhost' }], { keySize: 2048, algorithm: 'sha256' });
  const material = { key: pems.private, cert: pems.cert };
  imap = await startServer({ store: srv.store, host: '127.0.0.1', imapPort: 0, imapsPort: 0, tls: material });
  pop3 = await startPop3Server({ store: srv.store, host: '127.0.0.1', port: null, tlsPort: 0, tls: material });
  const script = join(REPO_ROOT, 'test/auth/scram_session.py');
  const r = await runProgram('python3', [script, String(imap.imapPort), String(imap.imapsPort), String(pop3.tlsPort), TEST_USER, TEST_PASSWORD]);
  assert.equal(r.code, 0, `python failed:\n${r.stderr}\n${r.stdout}`);
  out = JSON.parse(r.stdout) as Record<string, unknown>;
});

after(async () => {
  await imap?.close();
  await pop3?.close();
  await srv?.stop();
});

type Result = [string, string, boolean | null];

test('Python imaplib: SCRAM-SHA-256-PLUS with tls-unique on TLS 1.2', () => {
  assert.equal(out.tls12_version, 'TLSv1.2');
  assert.ok((out.tls12_caps as string[]).includes('AUTH=SCRAM-SHA-256-PLUS'));
  const ok = out.imap_plus_ok as Result;
  assert.equal(ok[0], 'OK', JSON.stringify(ok));
  assert.equal(ok[2], true, "the server's signature verified in Python");
  assert.equal(out.imap_select, 'OK');
  const wrongPw = out.imap_wrong_password as Result;
  assert.equal(wrongPw[0], 'NO');
  assert.match(wrongPw[1], /AUTHENTICATIONFAILED/);
  const wrongCb = out.imap_wrong_binding as Result;
  assert.equal(wrongCb[0], 'NO');
  assert.equal(wrongCb[1], wrongPw[1], 'a wrong binding answers like a wrong password');
  assert.equal(wrongCb[2], null, 'no server signature for a wrong binding');
});

test('Python imaplib: the "y" flag on TLS 1.3 is refused as a downgrade; "n" in clear text works', () => {
  assert.equal(out.tls13_version, 'TLSv1.3');
  const y = out.imap_downgrade as Result;
  assert.equal(y[0], 'NO');
  assert.match(y[1], /supports channel binding/);
  assert.ok(!(out.clear_caps as string[]).includes('AUTH=SCRAM-SHA-256-PLUS'));
  assert.ok((out.clear_caps as string[]).includes('AUTH=SCRAM-SHA-256'));
  const clear = out.imap_clear as Result;
  assert.equal(clear[0], 'OK', JSON.stringify(clear));
  assert.equal(clear[2], true);
});

test('Python poplib: AUTH SCRAM-SHA-256-PLUS over POP3S with TLS 1.2', () => {
  const caps = out.pop3_caps as Record<string, string[]>;
  assert.deepEqual(caps.SASL, ['PLAIN', 'SCRAM-SHA-256', 'SCRAM-SHA-256-PLUS']);
  const ok = out.pop3_plus_ok as [string, boolean | null];
  assert.match(ok[0], /^\+OK Logged in/);
  assert.equal(ok[1], true);
  assert.ok(Array.isArray(out.pop3_stat));
  const wrong = out.pop3_wrong_binding as [string, boolean | null];
  assert.match(wrong[0], /-ERR \[AUTH\] Invalid credentials/);
});
