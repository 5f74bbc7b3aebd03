// `petrel sync` end to end through the real executable (bin/petrel.js): a Petrel test server is the remote,
// the sync fills a temporary replica (plain progress lines, the summary, --dry-run, --json), and then
// `petrel serve --data REPLICA` serves the same messages to an IMAP client; --watch picks up a server
// change by itself and stops cleanly on SIGINT. Also the exit statuses and
// one-line reasons a user sees: usage errors (2), a bad account file, an unreachable server, a refused
// login (1).
import { spawn } from 'node:child_process';
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ImapClient } from '../../src/client/imap-client.js';
import type { SyncSummary } from '../../src/sync/types.js';
import { BIN, cleanEnv, freePort, petrel, ROOT, serve } from '../cli/serve-process.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

let server: TestServer;
let dir: string;

function message(subject: string): Buffer {
  return Buffer.from(
    `From: Ann <ann@example.org>\r\nTo: Bob <bob@example.org>\r\nSubject: ${subject}\r\nDate: Tue, 24 Nov 2026 10:00:00 +0000\r\n` +
      `Message-ID: <${subject.replace(/\W/g, '')}@example.org>\r\n\r\nBody of ${subject}\r\n`,
  );
}

before(async () => {
  server = await startTestServer();
  dir = await mkdtemp(join(tmpdir(), 'petrel-cli-process-'));
  await writeFile(join(dir, 'pw'), `${server.password}\n`, { mode: 0o600 });
  await writeFile(join(dir, 'wrong-pw'), 'not the password\n', { mode: 0o600 });
  await writeFile(
    join(dir, 'account.toml'),
    `host = "127.0.0.1"\nport = ${server.port}\ntls = "none"\nuser = "${server.user}"\npasswordFile = "pw"\n`,
  );
  const c = await ImapClient.connect({ host: '127.0.0.1', port: server.port, tls: 'none', auth: { user: server.user, password: server.password } });
  for (let i = 1; i <= 4; i++) await c.append('INBOX', message(`inbox ${i}`), { flags: i === 1 ? ['\\Seen'] : [] });
  await c.create('Lists/dev');
  await c.append('Lists/dev', message('dev list'), { flags: ['$Important'] });
  await c.logout();
});

after(async () => {
  await server.stop();
  await rm(dir, { recursive: true, force: true });
});

test('usage errors exit 2 and bad settings exit 1, each with one line naming the cause', async () => {
  const noReplica = await petrel(['sync', '--account', join(dir, 'account.toml')]);
  assert.equal(noReplica.code, 2);
  assert.match(noReplica.stderr, /^petrel: required option '--replica <dir>' not specified\n/);

  const both = await petrel(['sync', '--replica', join(dir, 'r0'), '--account', join(dir, 'account.toml'), '--dry-run', '--watch']);
  assert.equal(both.code, 2);
  assert.equal(both.stderr, 'petrel: --dry-run and --watch do not go together (a dry run changes nothing, so there is nothing to follow)\n');

  const twoPasswords = await petrel(['sync', '--replica', join(dir, 'r0'), '--host', 'h', '--user', 'u', '--password-file', 'a', '--password-command', 'b']);
  assert.equal(twoPasswords.code, 2);
  assert.match(twoPasswords.stderr, /^petrel: give only one of --password-env, --password-file and --password-command/);

  await writeFile(join(dir, 'bad.json'), JSON.stringify({ host: '127.0.0.1', user: 'alice', password: 'x', passwordCommand: 'echo y' }));
  const bad = await petrel(['sync', '--replica', join(dir, 'r0'), '--account', join(dir, 'bad.json')]);
  assert.equal(bad.code, 1);
  assert.equal(bad.stderr, `petrel: ${join(dir, 'bad.json')}: give only one of password, passwordFile and passwordCommand (found password and passwordCommand)\n`);

  const failingCommand = await petrel(['sync', '--replica', join(dir, 'r0'), '--host', 'h', '--user', 'u', '--password-command', 'echo locked >&2; exit 4']);
  assert.equal(failingCommand.code, 1);
  assert.equal(failingCommand.stderr, 'petrel: the password command (--password-command) exited with status 4: locked\n');
});

test('an unreachable server and a refused login exit 1 with a readable reason', async () => {
  const closed = await freePort();
  const unreachable = await petrel(['sync', '--replica', join(dir, 'r1'), '--account', join(dir, 'account.toml'), '--port', String(closed)]);
  assert.equal(unreachable.code, 1);
  assert.match(unreachable.stderr, new RegExp(`\\npetrel: cannot connect to 127\\.0\\.0\\.1:${closed}: .*ECONNREFUSED.*\\n$`));
  assert.match(unreachable.stderr, /^petrel: sync: connecting, /, 'stderr is not a terminal: a plain progress line first');
  assert.equal(unreachable.stdout, '');

  const refused = await petrel(['sync', '--replica', join(dir, 'r1'), '--account', join(dir, 'account.toml'), '--password-file', join(dir, 'wrong-pw'), '--progress', 'none']);
  assert.equal(refused.code, 1);
  assert.match(refused.stderr, new RegExp(`^petrel: login refused for alice@127\\.0\\.0\\.1:${server.port}: .*\\(password from --password-file ${join(dir, 'wrong-pw').replace(/[/.-]/g, '\\$&')}\\)\\n$`));
});

test('sync into a replica, then `petrel serve --data REPLICA` serves the same messages', async () => {
  const replica = join(dir, 'replica');
  const first = await petrel(['sync', '--replica', replica, '--account', join(dir, 'account.toml')]);
  assert.equal(first.code, 0, first.stderr);
  assert.match(first.stdout, new RegExp(`^Synced alice@127\\.0\\.0\\.1:${server.port} with ${replica.replace(/[/.-]/g, '\\$&')} in [\\d.]+ s: `));
  assert.match(first.stdout, /\n  INBOX\s+(full|condstore|qresync)\s+4\s+0\s/);
  assert.match(first.stdout, /\n  Lists\/dev\s+(full|condstore|qresync)\s+1\s+0\s/);
  assert.match(first.stdout, /\n  \(\d+ other mailboxes unchanged\)\n/);
  assert.match(first.stdout, /Total: 5 downloaded \(/);
  // stderr is not a terminal here: plain progress lines, no escape sequences.
  assert.match(first.stderr, /^petrel: sync: connecting, /m);
  assert.doesNotMatch(first.stderr, /\x1b|\r/);

  const dry = await petrel(['sync', '--replica', replica, '--account', join(dir, 'account.toml'), '--dry-run', '--quiet']);
  assert.equal(dry.code, 0, dry.stderr);
  assert.equal(dry.stdout + dry.stderr, '', '--quiet: nothing on success');

  // A change on the server shows up in the dry-run plan, and is not applied.
  const c = await ImapClient.connect({ host: '127.0.0.1', port: server.port, tls: 'none', auth: { user: server.user, password: server.password } });
  await c.append('INBOX', message('inbox 5'));
  await c.logout();
  const plan = await petrel(['sync', '--replica', replica, '--account', join(dir, 'account.toml'), '--dry-run', '--progress', 'none']);
  assert.equal(plan.code, 0, plan.stderr);
  assert.match(plan.stdout, /^Dry run: nothing was changed\. \d+ changes? would be made:\n/);
  assert.match(plan.stdout, /\n  replica\s+download\s+INBOX\s/);
  assert.match(plan.stdout, /\nDry run of alice@127\.0\.0\.1:\d+ with /);

  const json = await petrel(['sync', '--replica', replica, '--account', join(dir, 'account.toml'), '--json', '--progress', 'none']);
  assert.equal(json.code, 0, json.stderr);
  const summary = JSON.parse(json.stdout) as SyncSummary;
  assert.equal(summary.dryRun, false);
  assert.equal(summary.downloaded, 1, 'only the new message; the dry run applied nothing');
  assert.equal(summary.uploaded, 0);

  // Without --account the replica remembers its server and user; only the password is asked for.
  const remembered = await petrel(['sync', '--replica', replica, '--password-file', join(dir, 'pw'), '--json', '--progress', 'none']);
  assert.equal(remembered.code, 0, remembered.stderr);
  assert.equal((JSON.parse(remembered.stdout) as SyncSummary).downloaded, 0);

  const imapPort = await freePort();
  const serving = await serve(['--data', replica, '--imap-port', String(imapPort), '--imaps-port', '0', '--pop3-port', '0', '--pop3s-port', '0']);
  try {
    assert.equal(serving.user, null, 'the replica already has its account: no new one is made');
    const local = await ImapClient.connect({ host: '127.0.0.1', port: imapPort, tls: 'none', auth: { user: server.user, password: server.password } });
    try {
      const inbox = await local.examine('INBOX');
      assert.equal(inbox.exists, 5);
      const subjects: string[] = [];
      const seen: boolean[] = [];
      for await (const m of local.fetch('1:*', { uid: true, flags: true, envelope: true }, { uid: true })) {
        subjects.push(m.envelope?.subject ?? '');
        seen.push((m.flags ?? []).includes('\\Seen'));
      }
      assert.deepEqual(subjects.sort(), ['inbox 1', 'inbox 2', 'inbox 3', 'inbox 4', 'inbox 5']);
      assert.equal(seen.filter(Boolean).length, 1, 'flags came along');
      const dev = await local.examine('Lists/dev');
      assert.equal(dev.exists, 1);
      const [m] = await local.fetchAll('1', { flags: true, sections: [{ section: '', peek: true }] });
      assert.ok(m?.flags?.includes('$Important'));
      assert.deepEqual(m?.sections[0]?.data, message('dev list'));
    } finally {
      await local.logout();
    }
  } finally {
    assert.equal(await serving.stop(), 0);
  }
});

test('--watch: a line per cycle, a server change arrives without a rerun, SIGINT stops it with status 0', async () => {
  const replica = join(dir, 'watched');
  const child = spawn(process.execPath, [BIN, 'sync', '--replica', replica, '--account', join(dir, 'account.toml'), '--watch'], { cwd: ROOT, env: cleanEnv() });
  let stdout = '';
  let stderr = '';
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const waiters: Array<() => void> = [];
  child.stdout.on('data', (d) => {
    stdout += d;
    for (const w of waiters.splice(0)) w();
  });
  child.stderr.on('data', (d) => (stderr += d));
  // A safety net against a hang, not a timed assertion: the child is killed and the wait fails.
  const failsafe = setTimeout(() => child.kill('SIGKILL'), 90_000);
  const until = (pattern: RegExp) =>
    new Promise<void>((resolve, reject) => {
      const from = stdout.length;
      const check = () => (pattern.test(stdout.slice(from)) ? resolve() : waiters.push(check));
      void exited.then((code) => reject(new Error(`petrel sync --watch exited (${code}) before ${pattern}:\n${stdout}\n${stderr}`)));
      check();
    });
  try {
    await until(/synced: [1-9]\d* down/); // the first cycle downloads the account
    const c = await ImapClient.connect({ host: '127.0.0.1', port: server.port, tls: 'none', auth: { user: server.user, password: server.password } });
    const next = until(/synced: 1 down/);
    await c.append('INBOX', message('while watching'));
    await c.logout();
    await next;
    child.kill('SIGINT');
    assert.equal(await exited, 0, stderr);
    assert.match(stderr, /^petrel: watching alice@127\.0\.0\.1:\d+ → .*watched \(Ctrl-C to stop\)\n/);
    assert.match(stderr, /petrel: stopped \(SIGINT\)\n$/);
    assert.doesNotMatch(stderr, /sync: connecting/, 'no progress lines per cycle when stderr is not a terminal');
    for (const line of stdout.trim().split('\n')) assert.match(line, /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ synced: \d+ down, \d+ up, /);
  } finally {
    clearTimeout(failsafe);
    child.kill('SIGKILL');
  }
});
