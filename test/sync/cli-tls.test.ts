// `petrel sync` over STARTTLS (RFC 9051 §6.2.1) with the real engine, in-process: a server with a
// self-signed certificate is refused with a hint (--ca or --insecure), trusted with --ca FILE or `ca` in
// the account file (relative to the file), and a server that refuses clear-text logins gives a readable
// reason with --tls none.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main } from '../../src/cli/main.js';
import { loadTls } from '../../src/config/tls.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

let srv: TestServer;
let work: string;
let certPath: string;

before(async () => {
  work = await mkdtemp(join(tmpdir(), 'petrel-sync-tls-'));
  // Petrel's own self-signed certificate: names localhost, 127.0.0.1 and ::1.
  const material = await loadTls({ dataDir: join(work, 'server'), tlsCert: null, tlsKey: null });
  certPath = material.certPath;
  srv = await startTestServer({ tls: { key: material.key, cert: material.cert }, allowInsecureAuth: 'never' });
});

after(async () => {
  await srv?.stop();
  if (work) await rm(work, { recursive: true, force: true });
});

async function sync(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const code = await main(['sync', ...args, '--progress', 'none'], {
    stdout: { write: (s: string) => (stdout += s) },
    stderr: { write: (s: string) => (stderr += s) },
    cwd: work,
    env: { PW: srv.password },
    shutdownSignal: () => new Promise(() => {}),
  });
  return { code, stdout, stderr };
}

const base = () => ['--host', '127.0.0.1', '--port', String(srv.port), '--user', srv.user, '--password-env', 'PW'];

test('a self-signed certificate is refused with a hint; --ca trusts it', async () => {
  const refused = await sync(['--replica', 'r1', ...base(), '--tls', 'starttls']);
  assert.equal(refused.code, 1, refused.stderr);
  assert.match(refused.stderr, new RegExp(`^petrel: TLS with 127\\.0\\.0\\.1:${srv.port} failed: self-signed certificate \\(give --ca FILE to trust its certificate, or --insecure\\)\\n$`));
  assert.equal(refused.stdout, '');

  const trusted = await sync(['--replica', 'r1', ...base(), '--tls', 'starttls', '--ca', certPath]);
  assert.equal(trusted.code, 0, trusted.stderr);
  assert.match(trusted.stdout, /^Synced alice@127\.0\.0\.1:\d+ with .*r1 in /);
});

test('`ca` in the account file, relative to the file; --insecure skips the check', async () => {
  await writeFile(join(work, 'server', 'tls', 'account.toml'), `host = "127.0.0.1"\nport = ${srv.port}\ntls = "starttls"\nuser = "${srv.user}"\npassword = "${srv.password}"\nca = "cert.pem"\n`);
  const viaFile = await sync(['--replica', 'r2', '--account', join('server', 'tls', 'account.toml')]);
  assert.equal(viaFile.code, 0, viaFile.stderr);

  const insecure = await sync(['--replica', 'r3', ...base(), '--tls', 'starttls', '--insecure']);
  assert.equal(insecure.code, 0, insecure.stderr);
});

test('--tls none against a server that refuses clear-text logins: one readable line, status 1', async () => {
  const r = await sync(['--replica', 'r4', ...base(), '--tls', 'none']);
  assert.equal(r.code, 1);
  assert.equal(r.stderr, `petrel: 127.0.0.1:${srv.port} takes no password over an unencrypted connection (it disabled LOGIN and offers no AUTH=PLAIN): use --tls starttls or implicit\n`);
  assert.equal(r.stderr.split('\n').length, 2);
});
