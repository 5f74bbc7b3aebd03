// The README experience end to end (issue 2, items 1 and 2): `petrel serve` on an empty data directory
// creates an account, prints its generated password once and how to connect (with a python3 one-liner),
// generates a self-signed certificate, and serves IMAP with STARTTLS (RFC 9051 §6.2.1) and implicit TLS
// (RFC 8314 §3.3). A restart on the same directory keeps the account and prints no password.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { rm } from 'node:fs/promises';
import { ImapTestClient, logoutQuietly } from '../helpers/imap-client.js';
import { freePort, makeDataDir, startCliServer, type ChildServer } from '../helpers/server.js';

let dataDir: string | null = null;
let child: ChildServer | null = null;
const clients: ImapTestClient[] = [];

after(async () => {
  for (const c of clients) await logoutQuietly(c);
  await child?.stop();
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

async function waitForOutput(s: ChildServer, re: RegExp): Promise<RegExpExecArray> {
  for (let i = 0; i < 100; i++) {
    const m = re.exec(s.output());
    if (m) return m;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`no ${re} in output:\n${s.output()}`);
}

function runShell(command: string): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve, reject) => {
    const p = spawn('sh', ['-c', command], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    p.stdout.on('data', (d: Buffer) => (out += d.toString()));
    p.stderr.on('data', (d: Buffer) => (out += d.toString()));
    p.on('error', reject);
    p.on('close', (code) => resolve({ code, out }));
  });
}

test('first start creates an account, prints its password once, and serves IMAP and IMAPS', async () => {
  dataDir = await makeDataDir();
  const imapsPort = await freePort();
  child = await startCliServer(dataDir, { imapsPort });
  const user = (await waitForOutput(child, /user:\s+(\S+)/))[1]!;
  const password = (await waitForOutput(child, /password:\s+(\S+)/))[1]!;
  assert.ok(password.length >= 12, 'a generated password of some strength');

  // Plain IMAP on loopback, with STARTTLS offered (a self-signed certificate was generated).
  const c = await ImapTestClient.connect(child.port);
  clients.push(c);
  assert.match(c.greeting, /STARTTLS/);
  assert.match((await c.command('L', `LOGIN ${user} "${password}"`)).tagged, /^L OK/);
  const list = await c.command('LI', 'LIST "" "*"');
  assert.ok(list.untagged.some((l) => /\\Sent/.test(l)), 'the account has the special-use mailboxes');

  // Implicit TLS.
  const t = await ImapTestClient.connectTls(imapsPort);
  clients.push(t);
  assert.match(t.greeting, /^\* OK/);
  assert.doesNotMatch(t.greeting, /STARTTLS/, 'no STARTTLS inside TLS');
  assert.match((await t.command('L', `LOGIN ${user} "${password}"`)).tagged, /^L OK/);

  // The printed python3 one-liner works as printed.
  const oneLiner = (await waitForOutput(child, /^\s*(python3 -c ".*")\s*$/m))[1]!;
  const py = await runShell(oneLiner);
  assert.equal(py.code, 0, py.out);
  assert.match(py.out, /INBOX/);

  await child.stop();
  child = null;

  // Second start: same account, no new password printed.
  child = await startCliServer(dataDir);
  await waitForOutput(child, /IMAP/);
  assert.doesNotMatch(child.output(), /password:\s+\S/);
  const again = await ImapTestClient.connect(child.port);
  clients.push(again);
  assert.match((await again.command('L', `LOGIN ${user} "${password}"`)).tagged, /^L OK/);
});
