// `petrel fetch` over TLS: POP3 STLS (RFC 2595 §4) and POP3S / implicit TLS (RFC 8314 §3.3), IMAP
// STARTTLS (RFC 9051 §6.2.1), against servers that refuse passwords in clear text; a self-signed
// certificate is refused unless --insecure.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generate } from 'selfsigned';
import { main } from '../../src/cli/main.js';
import { startPop3Server, type RunningPop3Server } from '../../src/pop3/pop3-server.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { Capture, inboxCount, makeMessage, readMaildir, seedInbox, sortedHex } from './fetch-helpers.js';

let srv: TestServer;
let pop3: RunningPop3Server;
let work: string;

before(async () => {
  const pems = await generate([{ name: 'commonName', value: 'localhost' }], { keySize: 2048, algorithm: 'sha256' });
  const tls = { key: pems.private, cert: pems.cert };
  srv = await startTestServer({ tls, allowInsecureAuth: 'never' });
  pop3 = await startPop3Server({ store: srv.store, host: '127.0.0.1', port: 0, tlsPort: 0, tls, allowInsecureAuth: 'never' });
  work = await mkdtemp(join(tmpdir(), 'petrel-fetch-tls-'));
});

after(async () => {
  await pop3?.close();
  await srv?.stop();
  if (work) await rm(work, { recursive: true, force: true });
});

async function fetch(args: string[]): Promise<{ code: number; stderr: string }> {
  const stderr = new Capture();
  const code = await main(['fetch', ...args, '--progress', 'none'], { stderr, stdout: new Capture(), cwd: work, env: { PW: srv.password } });
  return { code, stderr: stderr.text };
}

const cases: Array<{ name: string; protocol: string; tls: string; port: () => number }> = [
  { name: 'POP3 STLS', protocol: 'pop3', tls: 'starttls', port: () => pop3.port! },
  { name: 'POP3 implicit TLS', protocol: 'pop3', tls: 'implicit', port: () => pop3.tlsPort! },
  { name: 'IMAP STARTTLS', protocol: 'imap', tls: 'starttls', port: () => srv.port },
];

for (const [i, c] of cases.entries()) {
  test(`${c.name}: refused for a self-signed certificate, works with --insecure`, async () => {
    const msgs = [makeMessage(10 * i), makeMessage(10 * i + 1)];
    await seedInbox(srv.store, srv.user, msgs);
    const dest = join(work, `d${i}`);
    const base = ['--protocol', c.protocol, '--host', '127.0.0.1', '--port', String(c.port()), '--tls', c.tls, '--user', srv.user, '--password-env', 'PW', '--to', `maildir:${dest}`];
    const refused = await fetch(base);
    assert.equal(refused.code, 1, refused.stderr);
    assert.match(refused.stderr, /certificate/i);
    assert.equal(await inboxCount(srv.store, srv.user), 2);
    const ok = await fetch([...base, '--insecure']);
    assert.equal(ok.code, 0, ok.stderr);
    assert.deepEqual(sortedHex(await readMaildir(dest)), sortedHex(msgs));
    assert.equal(await inboxCount(srv.store, srv.user), 0);
  });
}

test('plain POP3 to a server that wants TLS: the login is refused and nothing is fetched', async () => {
  await seedInbox(srv.store, srv.user, [makeMessage(99)]);
  const r = await fetch(['--protocol', 'pop3', '--host', '127.0.0.1', '--port', String(pop3.port), '--tls', 'none', '--user', srv.user, '--password-env', 'PW', '--to', `maildir:${join(work, 'plain')}`]);
  assert.equal(r.code, 1);
  assert.equal(await inboxCount(srv.store, srv.user), 1);
});
