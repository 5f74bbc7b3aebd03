// `petrel sync` in-process against a stand-in engine with the signatures of src/sync/engine.ts and
// src/sync/watch.ts: the options the engine receives (account, rules, mailboxes, dry run, disabled
// extensions), the dry-run plan, the summary and --json, exit statuses with one-line reasons for typed
// failures, SIGINT stopping a sync through its AbortSignal, and --watch printing a line per cycle.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command, CommanderError } from 'commander';
import { CliError } from '../../src/cli/common.js';
import type { CliEnvironment } from '../../src/cli/environment.js';
import { addSyncCommand, formatCycleLine, formatDryRun, formatSummary, type SyncEngine } from '../../src/cli/sync-command.js';
import { ImapConnectionError, ImapNoError } from '../../src/client/errors.js';
import { StoreError } from '../../src/store/types.js';
import type { SyncOptions, SyncSummary } from '../../src/sync/types.js';

function summary(over: Partial<SyncSummary> = {}): SyncSummary {
  return {
    dryRun: false,
    mailboxes: [
      { name: 'INBOX', tier: 'qresync', downloaded: 3, uploaded: 0, flagsToRemote: 1, flagsToLocal: 2, expungedRemote: 0, expungedLocal: 1 },
      { name: 'Sent', tier: 'qresync', downloaded: 0, uploaded: 2, flagsToRemote: 0, flagsToLocal: 0, expungedRemote: 0, expungedLocal: 0 },
      { name: 'Archive', tier: 'qresync', downloaded: 0, uploaded: 0, flagsToRemote: 0, flagsToLocal: 0, expungedRemote: 0, expungedLocal: 0 },
    ],
    actions: [],
    downloaded: 3,
    uploaded: 2,
    bytesDown: 3 * 1024 * 1024,
    bytesUp: 2048,
    flagsToRemote: 1,
    flagsToLocal: 2,
    expungedRemote: 0,
    expungedLocal: 1,
    mailboxesCreated: 1,
    mailboxesDeleted: 0,
    mailboxesRenamed: 0,
    conflicts: ['INBOX uid 7: expunged on the server, flagged in the replica: kept deleted'],
    elapsedMs: 1234,
    ...over,
  };
}

interface Harness {
  code: number;
  stdout: string;
  stderr: string;
  calls: SyncOptions[];
}

interface RunOpts {
  engine?: Partial<SyncEngine>;
  env?: Record<string, string>;
  cwd?: string;
  /** Resolves when the test wants a SIGINT delivered. */
  signal?: Promise<string>;
}

async function runSync(argv: string[], o: RunOpts = {}): Promise<Harness> {
  let stdout = '';
  let stderr = '';
  const calls: SyncOptions[] = [];
  const env: CliEnvironment = {
    stdout: { write: (s: string) => (stdout += s) },
    stderr: { write: (s: string) => (stderr += s) },
    readStdin: async () => '',
    env: o.env ?? {},
    cwd: o.cwd ?? tmpdir(),
    openStore: () => Promise.reject(new Error('no store here')),
    startServer: () => Promise.reject(new Error('no server here')),
    startPop3Server: () => Promise.reject(new Error('no server here')),
    startLmtpServer: () => Promise.reject(new Error('no server here')),
    provisionUser: () => Promise.reject(new Error('no store here')),
    shutdownSignal: () => o.signal ?? new Promise(() => {}),
    loginName: () => 'tester',
  };
  const engine: SyncEngine = {
    syncOnce: async (opts) => {
      calls.push(opts);
      return o.engine?.syncOnce ? o.engine.syncOnce(opts) : summary({ dryRun: opts.dryRun === true });
    },
    watch: async (opts) => {
      calls.push(opts);
      if (!o.engine?.watch) throw new Error('no watch in this test');
      return o.engine.watch(opts);
    },
  };
  const program = new Command('petrel').exitOverride().configureOutput({
    writeOut: (s) => void (stdout += s),
    writeErr: (s) => void (stderr += s),
  });
  addSyncCommand(program, env, async () => engine);
  let code = 0;
  try {
    await program.parseAsync(['sync', ...argv], { from: 'user' });
  } catch (err) {
    // What src/cli/main.ts does with these.
    if (err instanceof CommanderError) code = err.exitCode === 0 ? 0 : 2;
    else if (err instanceof CliError) {
      stderr += `petrel: ${err.message}\n`;
      code = err.exitCode;
    } else throw err;
  }
  return { code, stdout, stderr, calls };
}

const FLAGS = ['--host', 'imap.test', '--user', 'ann', '--password-env', 'PW'];
const ENV = { PW: 'pw1' };

test('the engine gets the resolved account, rules, mailboxes and options; the summary follows', async () => {
  const d = await mkdtemp(join(tmpdir(), 'petrel-cli-sync-'));
  await writeFile(join(d, 'acct.toml'), 'host = "file.test"\nport = 10993\nuser = "ann"\npassword = "pw"\nmailboxes = ["INBOX"]\n[[rules]]\npattern = "Lists/*"\nmode = "headers"\n', { mode: 0o600 });
  const r = await runSync(
    ['--replica', 'rep', '--account', 'acct.toml', '--mailbox', 'INBOX', 'Sent', '--mailbox', 'Lists/*', '--since', '2026-01-01', '--disable', 'qresync,MOVE', '--progress', 'none'],
    { cwd: d },
  );
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.calls.length, 1);
  const opts = r.calls[0]!;
  assert.equal(opts.replicaDir, join(d, 'rep'), 'relative to the working directory');
  assert.deepEqual(opts.account, { host: 'file.test', port: 10993, tls: 'implicit', user: 'ann', password: 'pw', rejectUnauthorized: true });
  assert.deepEqual(opts.mailboxes, ['INBOX', 'Sent', 'Lists/*']);
  const since = new Date('2026-01-01T00:00:00Z');
  assert.deepEqual(opts.rules, [
    { pattern: 'Lists/*', policy: { mode: 'headers', since } },
    { pattern: '*', policy: { mode: 'full', since } },
  ]);
  assert.equal(opts.dryRun, false);
  assert.deepEqual(opts.disable, ['QRESYNC', 'MOVE']);
  assert.ok(opts.signal instanceof AbortSignal && !opts.signal.aborted);
  assert.match(r.stdout, new RegExp(`^Synced ann@file\\.test:10993 with ${join(d, 'rep').replace(/[/.]/g, '\\$&')} in 1\\.2 s: 3 mailboxes \\(resync: qresync\\)\n`));
  assert.match(r.stdout, /\n  INBOX\s+qresync\s+3\s+0\s+1\s+2\s+0\s+1\n/);
  assert.match(r.stdout, /\n  Sent\s+qresync\s+0\s+2\s/);
  assert.doesNotMatch(r.stdout, /Archive/, 'unchanged mailboxes are counted, not listed');
  assert.match(r.stdout, /\(1 other mailbox unchanged\)/);
  assert.match(r.stdout, /Total: 3 downloaded \(3\.0 MB\); 2 uploaded \(2\.0 KB\); flags: 1 to the server, 2 to the replica; expunged: 0 on the server, 1 in the replica; mailboxes: 1 created\n/);
  assert.match(r.stdout, /Conflicts resolved \(docs\/sync\.md\):\n  - INBOX uid 7: expunged on the server/);
  assert.equal(r.stderr, '');
});

test('a password in a file other users can read: a warning, even with --quiet', async () => {
  const d = await mkdtemp(join(tmpdir(), 'petrel-cli-sync-'));
  await writeFile(join(d, 'acct.toml'), 'host = "h"\nuser = "ann"\npassword = "pw"\n', { mode: 0o644 });
  await chmod(join(d, 'acct.toml'), 0o644);
  const r = await runSync(['--replica', 'rep', '--account', 'acct.toml', '--quiet'], { cwd: d });
  assert.equal(r.code, 0);
  assert.equal(r.stderr, `petrel: warning: ${join(d, 'acct.toml')} holds a password and other users can read it (chmod 600 ${join(d, 'acct.toml')})\n`);
  assert.equal(r.calls.length, 1, 'the sync still runs');
});

/** An engine that reports connecting, logs one line and finishes. */
function connectingEngine(logLine: string): Partial<SyncEngine> {
  return {
    syncOnce: async (opts: SyncOptions) => {
      opts.onProgress?.({ phase: 'connect', mailboxesDone: 0, mailboxesTotal: 0, messagesDone: 0, messagesTotal: 0, bytesDone: 0, bytesTotal: 0 });
      opts.onLog?.(logLine);
      return summary();
    },
  };
}

test('progress events and log lines reach stderr as plain lines when it is not a terminal', async () => {
  const r = await runSync(['--replica', '/tmp/x', ...FLAGS], {
    env: ENV,
    engine: connectingEngine('created mailbox Projects on the server'),
  });
  assert.equal(r.code, 0);
  assert.match(r.stderr, /^petrel: sync: connecting, mailbox 0\/0, 0\/0 msgs, 0 B \(0%\)\npetrel: created mailbox Projects on the server\n$/);
  assert.doesNotMatch(r.stderr, /\x1b/);

  const noBar = await runSync(['--replica', '/tmp/x', ...FLAGS, '--progress', 'none'], {
    env: ENV,
    engine: connectingEngine('created mailbox Projects on the server'),
  });
  assert.equal(noBar.stderr, 'petrel: created mailbox Projects on the server\n', '--progress none: log lines, no progress');

  const quiet = await runSync(['--replica', '/tmp/x', ...FLAGS, '--quiet'], {
    env: ENV,
    engine: connectingEngine('created mailbox Projects'),
  });
  assert.equal(quiet.code, 0);
  assert.equal(quiet.stdout + quiet.stderr, '', '--quiet prints nothing on success');
});

test('--dry-run passes dryRun and prints the plan; --json prints the summary as JSON only', async () => {
  const plan = summary({
    dryRun: true,
    actions: [
      { side: 'local', kind: 'download', mailbox: 'INBOX', detail: '3 new messages (3.0 MB)' },
      { side: 'remote', kind: 'upload', mailbox: 'Sent', detail: '2 messages written offline' },
      { side: 'remote', kind: 'create-mailbox', mailbox: 'Projects', detail: 'created in the replica' },
      { side: 'local', kind: 'keep', mailbox: 'INBOX', detail: 'uid 7 kept' },
    ],
  });
  const r = await runSync(['--replica', '/tmp/x', ...FLAGS, '--dry-run'], { env: ENV, engine: { syncOnce: async () => plan } });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.calls[0]!.dryRun, true);
  assert.match(r.stdout, /^Dry run: nothing was changed\. 3 changes would be made:\n/);
  assert.match(r.stdout, /\n  replica\s+download\s+INBOX\s+3 new messages \(3\.0 MB\)\n/);
  assert.match(r.stdout, /\n  server\s+upload\s+Sent\s+2 messages written offline\n/);
  assert.match(r.stdout, /\n  server\s+create-mailbox\s+Projects\s+created in the replica\n/);
  assert.match(r.stdout, /\(1 kept as it is: see --json\)/);
  assert.match(r.stdout, /\nDry run of ann@imap\.test:993 with \/tmp\/x/);

  const j = await runSync(['--replica', '/tmp/x', ...FLAGS, '--dry-run', '--json'], { env: ENV, engine: { syncOnce: async () => plan } });
  assert.equal(j.code, 0);
  assert.deepEqual(JSON.parse(j.stdout), plan, 'stdout is exactly the JSON summary');

  assert.equal(formatDryRun([]), 'Dry run: nothing to change; the replica and the server agree.\n');
  // An engine that counts nothing in a dry run: the summary is its first line only.
  const zero = summary({
    dryRun: true, mailboxes: [], downloaded: 0, uploaded: 0, bytesDown: 0, bytesUp: 0, flagsToRemote: 0, flagsToLocal: 0,
    expungedLocal: 0, mailboxesCreated: 0, conflicts: [], elapsedMs: 200,
  });
  assert.equal(formatSummary(zero, 'ann@h:993', '/r'), 'Dry run of ann@h:993 with /r in 0.2 s: 0 mailboxes\n');
});

test('usage errors exit 2 before the engine runs', async () => {
  const cases: Array<[string[], RegExp]> = [
    [[...FLAGS], /required option '--replica <dir>'/],
    [['--replica', 'r', ...FLAGS, '--dry-run', '--watch'], /--dry-run and --watch do not go together/],
    [['--replica', 'r', ...FLAGS, '--tls', 'ssl'], /--tls must be implicit, starttls or none/],
    [['--replica', 'r', ...FLAGS, '--mode', 'all'], /--mode must be full, headers or text/],
    [['--replica', 'r', ...FLAGS, '--progress', 'fancy'], /--progress must be bar, lines, none or auto/],
    [['--replica', 'r', ...FLAGS, '--disable', 'IDLE'], /--disable: unknown extension "IDLE"/],
    [['--replica', 'r', ...FLAGS, '--password-file', 'pw.txt'], /give only one of --password-env, --password-file and --password-command/],
    [['--replica', 'r', '--user', 'ann', '--password-env', 'PW'], /no host: give --host/],
    [['--replica', 'r', ...FLAGS, '--bogus'], /unknown option '--bogus'/],
  ];
  for (const [argv, pattern] of cases) {
    const r = await runSync(argv, { env: ENV });
    assert.equal(r.code, 2, `${argv.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, pattern);
    assert.equal(r.calls.length, 0);
  }
});

test('failures exit 1 with one readable line naming the cause', async () => {
  const account = { env: ENV };
  const refused = new ImapConnectionError('connect', 'Cannot connect to imap.test:993: connect ECONNREFUSED 127.0.0.1:993');
  const login = new ImapNoError('LOGIN', { name: 'AUTHENTICATIONFAILED', args: [], raw: 'AUTHENTICATIONFAILED' }, 'Invalid credentials');
  const cert = new ImapConnectionError('tls', 'TLS handshake failed: self-signed certificate');
  const wrapped = new Error('sync of INBOX failed', { cause: new ImapConnectionError('timeout', 'No response from the server for 120000 ms (waiting for UID FETCH)') });
  const store = new StoreError('INUSE', 'the replica is locked by another petrel sync');
  const cases: Array<[unknown, RegExp]> = [
    [refused, /^petrel: cannot connect to imap\.test:993: connect ECONNREFUSED 127\.0\.0\.1:993\n$/],
    [login, /^petrel: login refused for ann@imap\.test:993: Invalid credentials \(password from environment variable PW\)\n$/],
    [cert, /^petrel: TLS with imap\.test:993 failed: self-signed certificate \(give --ca FILE to trust its certificate, or --insecure\)\n$/],
    [wrapped, /^petrel: imap\.test:993 stopped answering: No response from the server for 120000 ms/],
    [store, /^petrel: replica \/tmp\/x: the replica is locked by another petrel sync \(INUSE\)\n$/],
    [new Error('first line\nsecond line'), /^petrel: first line\n$/],
  ];
  for (const [error, pattern] of cases) {
    const r = await runSync(['--replica', '/tmp/x', ...FLAGS], { ...account, engine: { syncOnce: async () => Promise.reject(error) } });
    assert.equal(r.code, 1, String(error));
    assert.match(r.stderr, pattern);
    assert.equal(r.stderr.split('\n').length, 2, 'one line');
  }
  // A bad account file is a failure (1), reported with the file's name.
  const d = await mkdtemp(join(tmpdir(), 'petrel-cli-sync-'));
  await writeFile(join(d, 'a.toml'), 'host = "h"\nuser = "u"\npassword = "p"\ntls = "yes"\n');
  const bad = await runSync(['--replica', 'r', '--account', 'a.toml'], { cwd: d });
  assert.equal(bad.code, 1);
  assert.equal(bad.stderr, `petrel: ${join(d, 'a.toml')}: "tls" must be "implicit", "starttls" or "none" (not "yes")\n`);
  assert.equal(bad.calls.length, 0);
});

test('SIGINT aborts the running sync through its signal; exit 1 with a reason', async () => {
  let deliver!: (name: string) => void;
  const signal = new Promise<string>((resolve) => (deliver = resolve));
  const r = await runSync(['--replica', '/tmp/x', ...FLAGS], {
    env: ENV,
    signal,
    engine: {
      syncOnce: (opts) =>
        new Promise((_, reject) => {
          opts.signal!.addEventListener('abort', () => reject(new ImapConnectionError('aborted', 'Aborted')));
          deliver('SIGINT');
        }),
    },
  });
  assert.equal(r.code, 1);
  assert.ok(r.calls[0]!.signal!.aborted);
  assert.match(r.stderr, /petrel: SIGINT: stopping/);
  assert.match(r.stderr, /petrel: sync interrupted by SIGINT; what was done is kept, run it again to finish\n$/);
});

test('--watch runs watch() until the signal, one line per cycle; a failed cycle goes to stderr', async () => {
  let deliver!: (name: string) => void;
  const signal = new Promise<string>((resolve) => (deliver = resolve));
  const r = await runSync(['--replica', '/tmp/x', ...FLAGS, '--watch'], {
    env: ENV,
    signal,
    engine: {
      watch: async (opts) => {
        opts.onCycle?.(summary());
        opts.onCycle?.(new ImapConnectionError('closed', 'Connection closed by the server'));
        opts.onCycle?.(summary({ downloaded: 0, uploaded: 0, flagsToLocal: 0, flagsToRemote: 0, expungedLocal: 0, expungedRemote: 0, mailboxesCreated: 0, conflicts: [], elapsedMs: 80 }));
        await new Promise<void>((resolve) => {
          opts.signal.addEventListener('abort', () => resolve());
          deliver('SIGTERM');
        });
      },
    },
  });
  assert.equal(r.code, 0, r.stderr);
  assert.ok(r.calls[0]!.signal!.aborted);
  const lines = r.stdout.trim().split('\n');
  assert.equal(lines.length, 2);
  assert.match(lines[0]!, /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ synced: 3 down, 2 up, 3 flag changes, 1 expunged, 1 mailbox change, 1 conflict \(1\.2 s\)$/);
  assert.match(lines[1]!, /Z synced: 0 down, 0 up, 0 flag changes, 0 expunged \(0\.1 s\)$/);
  assert.match(r.stderr, /^petrel: watching ann@imap\.test:993 → \/tmp\/x \(Ctrl-C to stop\)\n/);
  assert.match(r.stderr, /Z sync failed, will retry: connection to imap\.test:993 failed: Connection closed by the server\n/);
  assert.match(r.stderr, /petrel: stopped \(SIGTERM\)\n$/);

  const j = await runSync(['--replica', '/tmp/x', ...FLAGS, '--watch', '--json'], {
    env: ENV,
    engine: {
      watch: async (opts) => {
        opts.onCycle?.(summary());
        opts.onCycle?.(new Error('boom'));
      },
    },
  });
  assert.equal(j.code, 0);
  const objects = j.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
  assert.deepEqual(objects[0], summary());
  assert.deepEqual(objects[1], { error: 'boom' });

  // watch() failing for good (not stopped by a signal) is a failure.
  const fatal = await runSync(['--replica', '/tmp/x', ...FLAGS, '--watch'], {
    env: ENV,
    engine: { watch: async () => Promise.reject(new ImapNoError('AUTHENTICATE', undefined, 'no such user')) },
  });
  assert.equal(fatal.code, 1);
  assert.match(fatal.stderr, /petrel: login refused for ann@imap\.test:993: no such user/);
});

test('--watch stops with exit 1 on a refused login, but keeps going while the server is unreachable', async () => {
  let cycles = 0;
  const r = await runSync(['--replica', '/tmp/x', ...FLAGS, '--watch'], {
    env: ENV,
    engine: {
      watch: async (opts) => {
        // Offline first: retried. Then the password is refused: the CLI aborts the watch.
        for (const err of [
          new ImapConnectionError('connect', 'Cannot connect to imap.test:993: connect ENETUNREACH'),
          new ImapNoError('LOGIN', { name: 'AUTHENTICATIONFAILED', args: [], raw: 'AUTHENTICATIONFAILED' }, 'Invalid credentials'),
        ]) {
          if (opts.signal.aborted) break;
          cycles++;
          opts.onCycle?.(err);
        }
        assert.ok(opts.signal.aborted, 'the CLI aborted the watch');
      },
    },
  });
  assert.equal(cycles, 2);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /sync failed, will retry: cannot connect to imap\.test:993: connect ENETUNREACH\n/);
  assert.match(r.stderr, /petrel: login refused for ann@imap\.test:993: Invalid credentials \(password from environment variable PW\)\n$/);
});

test('formatters: summary with nothing changed, cycle line for an error', () => {
  const quiet = summary({
    mailboxes: [{ name: 'INBOX', tier: 'full', downloaded: 0, uploaded: 0, flagsToRemote: 0, flagsToLocal: 0, expungedRemote: 0, expungedLocal: 0 }],
    downloaded: 0, uploaded: 0, bytesDown: 0, bytesUp: 0, flagsToRemote: 0, flagsToLocal: 0, expungedLocal: 0, mailboxesCreated: 0, conflicts: [], elapsedMs: 15_400,
  });
  assert.equal(
    formatSummary(quiet, 'ann@h:993', '/r'),
    'Synced ann@h:993 with /r in 15 s: 1 mailbox (resync: full)\n  no message changed\n' +
      'Total: 0 downloaded (0 B); 0 uploaded (0 B); flags: 0 to the server, 0 to the replica; expunged: 0 on the server, 0 in the replica\n',
  );
  assert.equal(formatCycleLine(new Error('x'), new Date('2026-01-02T03:04:05.678Z')), '2026-01-02 03:04:05Z sync failed, will retry: x');
});
