// interimap (Debian package `interimap`) keeps Petrel and Dovecot in step (issue 4, item 5). interimap
// refuses servers without QRESYNC (RFC 7162), LIST-EXTENDED, LIST-STATUS and UIDPLUS, and synchronises
// with SELECT (QRESYNC ...), UID FETCH (CHANGEDSINCE ... VANISHED), UID STORE, UID EXPUNGE and APPEND
// (RFC 7162 §6's algorithm). Petrel is its "local" server and Dovecot (test/helpers/dovecot.ts) its
// "remote" one. Changes are made on each side between runs; after every run both ends must hold the same
// messages with the same flags. interimap and Dovecot are installed with apt-get when missing.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureDovecotInstalled, startDovecot, type DovecotServer } from '../helpers/dovecot.js';
import { ImapTestClient, logoutQuietly } from '../helpers/imap-client.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

let petrel: TestServer;
let dovecot: DovecotServer | null = null;
let dir = '';
let available = false;
const clients: ImapTestClient[] = [];

function findInterimap(): boolean {
  return spawnSync('sh', ['-c', 'command -v interimap'], { encoding: 'utf8' }).status === 0;
}

/** Installs Debian's interimap with apt-get (like ensureDovecotInstalled); true when usable. */
function ensureInterimap(): boolean {
  if (findInterimap()) return true;
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  const prefix = isRoot ? [] : ['sudo', '-n'];
  if (!isRoot && spawnSync('sudo', ['-n', 'true'], { stdio: 'ignore' }).status !== 0) {
    console.error('[interimap] not installed and installing needs root: apt-get install -y interimap');
    return false;
  }
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const run = (args: string[]) => spawnSync(prefix[0] ?? args[0]!, [...prefix.slice(1), ...(prefix.length ? args : args.slice(1))], { env, stdio: 'ignore' }).status;
  if (run(['apt-get', 'install', '-y', '--no-install-recommends', 'interimap']) !== 0) {
    run(['apt-get', 'update']);
    run(['apt-get', 'install', '-y', '--no-install-recommends', 'interimap']);
  }
  return findInterimap();
}

before(async () => {
  const ok = (await ensureDovecotInstalled()) && ensureInterimap();
  assert.ok(ok, 'dovecot-imapd and interimap must be installable (apt-get) for this test');
  petrel = await startTestServer();
  dovecot = await startDovecot();
  assert.ok(dovecot, 'Dovecot did not start');
  dir = mkdtempSync(join(tmpdir(), 'petrel-interimap-'));
  writeFileSync(
    join(dir, 'config'),
    [
      `database = ${join(dir, 'sync.db')}`,
      // Only these mailboxes: Petrel's special-use folders and Dovecot's would otherwise be created on
      // the other side too (harmless, but slower).
      'list-mailbox = INBOX Work',
      '',
      '[local]',
      'type = imap',
      'host = 127.0.0.1',
      `port = ${petrel.port}`,
      'STARTTLS = NO',
      `username = ${petrel.user}`,
      `password = ${petrel.password}`,
      '',
      '[remote]',
      'type = imap',
      'host = 127.0.0.1',
      `port = ${dovecot.port}`,
      'STARTTLS = NO',
      `username = ${dovecot.user}`,
      `password = ${dovecot.password}`,
      '',
    ].join('\n'),
    { mode: 0o600 },
  );
  available = true;
});

after(async () => {
  for (const c of clients) await logoutQuietly(c);
  await dovecot?.stop();
  await petrel?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** Runs interimap once; resolves with its output, rejects when it fails. */
function interimap(...args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn('interimap', [`--config=${join(dir, 'config')}`, ...args], {
      env: { ...process.env, HOME: dir, XDG_CONFIG_HOME: dir, XDG_DATA_HOME: dir },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('close', (code) => {
      clearTimeout(timer);
      if (code === 0) resolve(out);
      else reject(new Error(`interimap exited with ${code}:\n${out}`));
    });
  });
}

async function login(port: number, user: string, password: string): Promise<ImapTestClient> {
  const c = await ImapTestClient.connect(port);
  clients.push(c);
  assert.match((await c.command('L', `LOGIN ${user} "${password}"`)).tagged, /^L OK/);
  return c;
}

async function append(c: ImapTestClient, box: string, id: string, flags = ''): Promise<void> {
  const msg = Buffer.from(`Message-ID: <${id}@interimap.test>\r\nSubject: ${id}\r\nFrom: a@example.com\r\n\r\nbody of ${id}\r\n`);
  const r = await c.commandWithLiterals('A', [`APPEND ${box} (${flags}) `, msg]);
  assert.match(r.tagged, /^A OK/, r.tagged);
}

/** Message-ID → sorted flags (no \Recent) of every message in `box`. */
async function state(c: ImapTestClient, box: string): Promise<Map<string, string>> {
  assert.match((await c.command('X', `EXAMINE ${box}`)).tagged, /^X OK/);
  const r = await c.command('F', 'FETCH 1:* (FLAGS BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])');
  await c.command('U', 'CLOSE');
  const out = new Map<string, string>();
  for (const resp of r.responses) {
    if (!/^\* \d+ FETCH /.test(resp.text)) continue;
    const id = /<([^>]+)@interimap\.test>/.exec(resp.text)?.[1];
    const flags = /FLAGS \(([^)]*)\)/.exec(resp.text)?.[1] ?? '';
    assert.ok(id, resp.text);
    assert.ok(!out.has(id), `duplicate ${id} in ${box}`);
    out.set(id, flags.split(' ').filter((f) => f !== '' && f !== '\\Recent').sort().join(' '));
  }
  return out;
}

async function assertConverged(p: ImapTestClient, d: ImapTestClient, box: string, expected: Record<string, string>): Promise<void> {
  const ps = await state(p, box);
  const ds = await state(d, box);
  assert.deepEqual(Object.fromEntries([...ps].sort()), Object.fromEntries([...ds].sort()), `${box}: Petrel and Dovecot differ`);
  assert.deepEqual(Object.fromEntries([...ps].sort()), expected, `${box} on Petrel`);
}

test('interimap synchronises Petrel and Dovecot both ways through changes on each side', { timeout: 180_000 }, async () => {
  assert.ok(available);
  const p = await login(petrel.port, petrel.user, petrel.password);
  const d = await login(dovecot!.port, dovecot!.user, dovecot!.password);
  assert.match((await p.command('C', 'CREATE Work')).tagged, /^C OK/);
  // Round 1: mail on both sides, including a mailbox only Petrel has (interimap creates it on Dovecot).
  await append(p, 'INBOX', 'p1', '\\Seen');
  await append(p, 'INBOX', 'p2');
  await append(p, 'Work', 'w1', '\\Flagged');
  await append(d, 'INBOX', 'd1', '\\Answered');
  await append(d, 'INBOX', 'd2');
  await interimap();
  await assertConverged(p, d, 'INBOX', { d1: '\\Answered', d2: '', p1: '\\Seen', p2: '' });
  await assertConverged(p, d, 'Work', { w1: '\\Flagged' });

  // Round 2: flags on Petrel, an expunge on Dovecot, new mail on both.
  assert.match((await p.command('S', 'SELECT INBOX')).tagged, /^S OK/);
  assert.match((await p.command('F1', 'STORE 1:* +FLAGS.SILENT ($Label1)')).tagged, /^F1 OK/);
  assert.match((await p.command('F2', 'UID STORE 1 -FLAGS.SILENT (\\Seen)')).tagged, /^F2 OK/);
  assert.match((await p.command('U', 'UNSELECT')).tagged, /^U OK/);
  assert.match((await d.command('S', 'SELECT INBOX')).tagged, /^S OK/);
  const dFetch = await d.command('F', 'FETCH 1:* (UID BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])');
  const d2 = dFetch.responses.find((r) => r.text.includes('<d2@'))!;
  const d2seq = /^\* (\d+) FETCH/.exec(d2.text)![1];
  assert.match((await d.command('D', `STORE ${d2seq} +FLAGS.SILENT (\\Deleted)`)).tagged, /^D OK/);
  assert.match((await d.command('E', 'EXPUNGE')).tagged, /^E OK/);
  assert.match((await d.command('U', 'CLOSE')).tagged, /^U OK/);
  await append(p, 'INBOX', 'p3', '\\Draft');
  await append(d, 'Work', 'w2');
  await interimap();
  await assertConverged(p, d, 'INBOX', { d1: '$Label1 \\Answered', p1: '$Label1', p2: '$Label1', p3: '\\Draft' });
  await assertConverged(p, d, 'Work', { w1: '\\Flagged', w2: '' });

  // Round 3: an expunge and a MOVE on Petrel (QRESYNC's VANISHED path), flags on Dovecot.
  assert.match((await p.command('S', 'SELECT INBOX')).tagged, /^S OK/);
  const pFetch = await p.command('F', 'UID FETCH 1:* (BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])');
  const uidOf = (id: string) => /UID (\d+)/.exec(pFetch.responses.find((r) => r.text.includes(`<${id}@`))!.text)![1];
  assert.match((await p.command('D', `UID STORE ${uidOf('p1')} +FLAGS.SILENT (\\Deleted)`)).tagged, /^D OK/);
  assert.match((await p.command('E', `UID EXPUNGE ${uidOf('p1')}`)).tagged, /^E OK/);
  assert.match((await p.command('M', `UID MOVE ${uidOf('p2')} Work`)).tagged, /^M OK/);
  assert.match((await p.command('U', 'UNSELECT')).tagged, /^U OK/);
  assert.match((await d.command('S', 'SELECT Work')).tagged, /^S OK/);
  assert.match((await d.command('F', 'STORE 1 +FLAGS.SILENT (\\Seen)')).tagged, /^F OK/);
  assert.match((await d.command('U', 'CLOSE')).tagged, /^U OK/);
  await interimap();
  await assertConverged(p, d, 'INBOX', { d1: '$Label1 \\Answered', p3: '\\Draft' });
  await assertConverged(p, d, 'Work', { p2: '$Label1', w1: '\\Flagged \\Seen', w2: '' });

  // Round 4: nothing changed: a run changes nothing, and a repair finds nothing to fix.
  await interimap();
  await interimap('--repair');
  await assertConverged(p, d, 'INBOX', { d1: '$Label1 \\Answered', p3: '\\Draft' });
  await assertConverged(p, d, 'Work', { p2: '$Label1', w1: '\\Flagged \\Seen', w2: '' });
});
