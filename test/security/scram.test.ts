// SCRAM-SHA-256 (RFC 7677, RFC 5802): the server computations against RFC 7677 §3's example exchange, and
// AUTHENTICATE SCRAM-SHA-256 end to end with a hand-written client (RFC 5802 §3 formulas).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, createHmac, pbkdf2Sync, randomBytes } from 'node:crypto';
import { hashPassword } from '../../src/auth/password.js';
import { parseClientFirst, parseScramField, scramCredential, startScram } from '../../src/auth/scram.js';
import { provisionUser } from '../../src/store/provision.js';
import { ImapTestClient, logoutQuietly } from '../helpers/imap-client.js';
import { startTestServer, TEST_PASSWORD, TEST_USER, type TestServer } from '../helpers/server.js';

test('RFC 7677 §3 example: server-first, proof check and server signature', () => {
  const cred = scramCredential('pencil', Buffer.from('W22ZaJ0SNY7soEsUEjb6gQ==', 'base64'), 4096);
  const first = parseClientFirst('n,,n=user,r=rOprNGfwEbeRWgbNEkqO');
  assert.equal(first.user, 'user');
  const ex = startScram(first, cred, '%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0');
  assert.equal(ex.serverFirst, 'r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096');
  const final = 'c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=';
  assert.equal(ex.finish(final), 'v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=');
  assert.equal(ex.finish(final.replace('p=dHzb', 'p=dHzc')), null, 'a wrong proof fails');
  assert.throws(() => ex.finish(final.replace('r=rOpr', 'r=xOpr')), /nonce/);
  assert.throws(() => ex.finish(final.replace('c=biws', 'c=eSws')), /channel binding/);
  assert.throws(() => parseClientFirst('p=tls-unique,,n=user,r=abc'), /channel binding/);
  assert.throws(() => parseClientFirst('n,a=admin,n=user,r=abc'), /authorization/);
  assert.throws(() => parseClientFirst('n,,n=user,r=abc,m=ext'), /mandatory/);
  assert.equal(parseClientFirst('n,,n=a=2Cb=3Dc,r=abc').user, 'a,b=c');
});

const hmac = (key: Buffer, text: string) => createHmac('sha256', key).update(text).digest();
const b64 = (s: string) => Buffer.from(s).toString('base64');
const unb64 = (s: string) => Buffer.from(s, 'base64').toString('utf8');

/** A client following RFC 5802 §3; returns the tagged answer and whether the server's signature checked out. */
async function scramLogin(c: ImapTestClient, tag: string, user: string, password: string): Promise<{ tagged: string; serverOk: boolean }> {
  const cnonce = randomBytes(12).toString('base64');
  const bare = `n=${user},r=${cnonce}`;
  c.send(`${tag} AUTHENTICATE SCRAM-SHA-256 ${b64(`n,,${bare}`)}`);
  const challenge = await c.next();
  if (!challenge.text.startsWith('+ ')) return { tagged: challenge.text, serverOk: false };
  const serverFirst = unb64(challenge.text.slice(2));
  const m = /^r=([^,]+),s=([^,]+),i=(\d+)$/.exec(serverFirst);
  assert.ok(m, serverFirst);
  assert.ok(m[1]!.startsWith(cnonce) && m[1]!.length > cnonce.length, 'the server extends our nonce');
  const salted = pbkdf2Sync(password, Buffer.from(m[2]!, 'base64'), Number(m[3]), 32, 'sha256');
  const clientKey = hmac(salted, 'Client Key');
  const storedKey = createHash('sha256').update(clientKey).digest();
  const withoutProof = `c=${b64('n,,')},r=${m[1]}`;
  const authMessage = `${bare},${serverFirst},${withoutProof}`;
  const sig = hmac(storedKey, authMessage);
  const proof = Buffer.from(clientKey.map((b, i) => b ^ sig[i]!));
  c.send(b64(`${withoutProof},p=${proof.toString('base64')}`));
  const next = await c.next();
  if (!next.text.startsWith('+ ')) return { tagged: next.text, serverOk: false };
  const expected = `v=${hmac(hmac(salted, 'Server Key'), authMessage).toString('base64')}`;
  const serverOk = unb64(next.text.slice(2)) === expected;
  c.send('');
  return { tagged: (await c.readTagged(tag)).tagged, serverOk };
}

let srv: TestServer;
before(async () => {
  srv = await startTestServer();
  await provisionUser(srv.store, 'old', await hashPassword('old password', undefined, { scram: false }));
});
after(async () => srv?.stop());

test('AUTHENTICATE SCRAM-SHA-256: advertised, logs in with the right password, fails alike otherwise', async () => {
  const user = await srv.store.getUser(TEST_USER);
  assert.ok(parseScramField(user!.passwordHash), 'hashPassword stored a SCRAM credential');
  const c = await ImapTestClient.connect(srv.port);
  assert.match(c.greeting, /AUTH=SCRAM-SHA-256/);
  const wrong = await scramLogin(c, 'a', TEST_USER, 'not the password');
  assert.match(wrong.tagged, /^a NO \[AUTHENTICATIONFAILED\]/);
  const unknown = await scramLogin(c, 'a', 'nobody', 'not the password');
  assert.equal(unknown.tagged, wrong.tagged, 'unknown user answers as a wrong password');
  const noCredential = await scramLogin(c, 'a', 'old', 'old password');
  assert.equal(noCredential.tagged, wrong.tagged, 'a hash without SCRAM credential cannot use SCRAM');
  const ok = await scramLogin(c, 'b', TEST_USER, TEST_PASSWORD);
  assert.match(ok.tagged, /^b OK/);
  assert.ok(ok.serverOk, "the server's signature verifies");
  assert.match((await c.command('s', 'SELECT INBOX')).tagged, /^s OK/);
  await logoutQuietly(c);
  const d = await ImapTestClient.connect(srv.port);
  assert.match((await d.command('x', 'AUTHENTICATE SCRAM-SHA-256 ' + b64('p=tls-server-end-point,,n=alice,r=abc'))).tagged, /^x BAD/);
  await logoutQuietly(d);
});
