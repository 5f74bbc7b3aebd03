// Tests for the `petrel` CLI in-process: usage errors and exit codes, user and mailbox commands,
// and `petrel serve`'s start-up (first account, printed connection help, options passed to the server,
// clean shutdown). The store here is an in-memory stand-in; test/cli/serve-e2e.test.ts uses the real one.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parse as parseToml } from 'smol-toml';
import { resolveConfig } from '../../src/config/config.js';
import { verifyPassword } from '../../src/auth/password.js';
import { firstUserName } from '../../src/cli/serve-command.js';
import { fakeServer, memoryEnvironment, run, tempDir } from './helpers.js';

test('--help and --version exit 0; no command or an unknown one is a usage error (2)', async () => {
  const help = await run(['--help']);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /Usage: petrel/);
  for (const cmd of ['serve', 'user', 'mailbox']) assert.match(help.stdout, new RegExp(`\\n  ${cmd}\\b`));

  for (const argv of [['serve', '--help'], ['user', 'add', '--help'], ['mailbox', 'create', '--help'], ['help', 'user']]) {
    const r = await run(argv);
    assert.equal(r.code, 0, argv.join(' '));
    assert.match(r.stdout, /--data <dir>|Usage: petrel user/, argv.join(' '));
  }

  const version = await run(['--version']);
  assert.equal(version.code, 0);
  assert.match(version.stdout, /^\d+\.\d+\.\d+\n$/);

  const none = await run([]);
  assert.equal(none.code, 2);
  assert.match(none.stderr, /Usage: petrel/);

  const unknown = await run(['frobnicate']);
  assert.equal(unknown.code, 2);
  assert.match(unknown.stderr, /^petrel: unknown command 'frobnicate'/);

  const badOption = await run(['user', 'list', '--bogus']);
  assert.equal(badOption.code, 2);
  assert.match(badOption.stderr, /unknown option '--bogus'/);

  const missing = await run(['mailbox', 'list']);
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /required option '--user <name>' not specified/);
});

test('user add / list / passwd / del', async () => {
  const dir = await tempDir();
  const { stores, overrides } = memoryEnvironment();
  try {
    const data = join(dir, 'data');
    const added = await run(['user', 'add', 'ann', '--data', data, '--password', 'hunter2'], overrides);
    assert.equal(added.code, 0, added.stderr);
    assert.match(added.stdout, /^Created user ann with mailboxes INBOX, Archive, Drafts, Junk, Sent, Trash\.\n$/);
    assert.doesNotMatch(added.stdout, /Password:/);
    assert.equal((await stat(data)).mode & 0o077, 0, 'data directory is private');
    const store = stores.get(data)!;
    assert.equal(await verifyPassword('hunter2', store.users.get('ann')!.passwordHash), true);
    assert.ok(store.closed >= 1, 'the store is closed after the command');

    // Generated password, printed once.
    const gen = await run(['user', 'add', 'bob', '--data', data], overrides);
    assert.equal(gen.code, 0, gen.stderr);
    const pw = /Password: (\S+)\n/.exec(gen.stdout)?.[1];
    assert.ok(pw);
    assert.equal(await verifyPassword(pw, store.users.get('bob')!.passwordHash), true);

    // Password from stdin: one trailing newline is not part of it.
    const viaStdin = await run(['user', 'add', 'cy@example.org', '--data', data, '--password-stdin'], {
      ...overrides,
      readStdin: async () => 's3cret with spaces\n',
    });
    assert.equal(viaStdin.code, 0, viaStdin.stderr);
    assert.equal(await verifyPassword('s3cret with spaces', store.users.get('cy@example.org')!.passwordHash), true);

    const dup = await run(['user', 'add', 'ann', '--data', data, '--password', 'x'], overrides);
    assert.equal(dup.code, 1);
    assert.equal(dup.stderr, 'petrel: user "ann" already exists\n');

    const caseClash = await run(['user', 'add', 'ANN', '--data', data, '--password', 'x'], overrides);
    assert.equal(caseClash.code, 1);
    assert.equal(caseClash.stderr, 'petrel: user "ann" already exists (names differing only in case are refused)\n');

    const list = await run(['user', 'list', '--data', data], overrides);
    assert.equal(list.code, 0);
    assert.deepEqual(
      list.stdout.trimEnd().split('\n').map((l) => l.split(/\s+/)[0]),
      ['USER', 'ann', 'bob', 'cy@example.org'],
    );

    const passwd = await run(['user', 'passwd', 'ann', '--data', data, '--password', 'new-one'], overrides);
    assert.equal(passwd.code, 0, passwd.stderr);
    assert.equal(await verifyPassword('new-one', store.users.get('ann')!.passwordHash), true);
    assert.equal(await verifyPassword('hunter2', store.users.get('ann')!.passwordHash), false);

    const passwdGen = await run(['user', 'passwd', 'ann', '--data', data], overrides);
    const newPw = /Password: (\S+)\n/.exec(passwdGen.stdout)?.[1];
    assert.ok(newPw);
    assert.equal(await verifyPassword(newPw, store.users.get('ann')!.passwordHash), true);

    const passwdNobody = await run(['user', 'passwd', 'nobody', '--data', data, '--password', 'x'], overrides);
    assert.equal(passwdNobody.code, 1);
    assert.equal(passwdNobody.stderr, 'petrel: no user "nobody"\n');

    const del = await run(['user', 'del', 'bob', '--data', data], overrides);
    assert.equal(del.code, 0, del.stderr);
    assert.equal(store.users.has('bob'), false);
    assert.equal((await run(['user', 'del', 'bob', '--data', data], overrides)).code, 1);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('user commands: invalid names and passwords are usage errors; missing data directory is an error', async () => {
  const dir = await tempDir();
  const { overrides } = memoryEnvironment();
  try {
    const data = join(dir, 'data');
    for (const name of ['-x', '.hidden', 'has space', 'a/b', 'x'.repeat(65), 'ünï']) {
      const r = await run(['user', 'add', '--data', data, '--password', 'p', '--', name], overrides);
      assert.equal(r.code, 2, name);
      assert.match(r.stderr, /^petrel: invalid user name/, name);
    }
    const both = await run(['user', 'add', 'ann', '--data', data, '--password', 'p', '--password-stdin'], overrides);
    assert.equal(both.code, 2);
    assert.match(both.stderr, /either --password or --password-stdin/);
    const empty = await run(['user', 'add', 'ann', '--data', data, '--password-stdin'], { ...overrides, readStdin: async () => '\n' });
    assert.equal(empty.code, 2);
    assert.match(empty.stderr, /the password is empty/);
    const crlf = await run(['user', 'add', 'ann', '--data', data, '--password-stdin'], { ...overrides, readStdin: async () => 'a\nb\n' });
    assert.equal(crlf.code, 2);
    assert.match(crlf.stderr, /must not contain NUL, CR or LF/);
    assert.equal(existsSync(data), false, 'nothing was created by failed commands');

    const list = await run(['user', 'list', '--data', data], overrides);
    assert.equal(list.code, 1);
    assert.match(list.stderr, /^petrel: no data directory at .*data/);
    assert.equal(existsSync(data), false, 'list does not create the data directory');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('the data directory comes from PETREL_DATA or a config file too', async () => {
  const dir = await tempDir();
  const { stores, overrides } = memoryEnvironment();
  try {
    const viaEnv = join(dir, 'env-data');
    const r = await run(['user', 'add', 'ann', '--password', 'p'], { ...overrides, env: { PETREL_DATA: viaEnv } });
    assert.equal(r.code, 0, r.stderr);
    assert.ok(stores.get(viaEnv)?.users.has('ann'));

    await writeFile(join(dir, 'petrel.toml'), 'data = "file-data"\n');
    const r2 = await run(['user', 'add', 'bob', '--password', 'p', '--config', join(dir, 'petrel.toml')], overrides);
    assert.equal(r2.code, 0, r2.stderr);
    assert.ok(stores.get(join(dir, 'file-data'))?.users.has('bob'));

    const bad = await run(['user', 'list', '--config', join(dir, 'missing.toml')], overrides);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /^petrel: config file .*missing\.toml does not exist\n$/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('mailbox list / create (with parents) / delete', async () => {
  const dir = await tempDir();
  const { stores, overrides } = memoryEnvironment();
  try {
    const data = join(dir, 'data');
    assert.equal((await run(['user', 'add', 'ann', '--data', data, '--password', 'p'], overrides)).code, 0);
    const store = stores.get(data)!;
    const ann = store.users.get('ann')!;

    const created = await run(['mailbox', 'create', 'Projects/2025/Q1', '--user', 'ann', '--data', data], overrides);
    assert.equal(created.code, 0, created.stderr);
    assert.equal(created.stdout, 'Created "Projects", "Projects/2025", "Projects/2025/Q1" for ann.\n');
    assert.ok(await store.getMailbox(ann.id, 'Projects/2025'));
    assert.ok((await store.listSubscriptions(ann.id)).includes('Projects/2025/Q1'));

    const sibling = await run(['mailbox', 'create', 'Projects/2026', '--user', 'ann', '--data', data], overrides);
    assert.equal(sibling.stdout, 'Created "Projects/2026" for ann.\n');

    const again = await run(['mailbox', 'create', 'Projects', '--user', 'ann', '--data', data], overrides);
    assert.equal(again.code, 1);
    assert.equal(again.stderr, 'petrel: mailbox "Projects" already exists\n');
    const inbox = await run(['mailbox', 'create', 'inbox', '--user', 'ann', '--data', data], overrides);
    assert.equal(inbox.stderr, 'petrel: mailbox "INBOX" already exists\n');

    for (const bad of ['/abs', 'a//b', 'a/../b', 'x*', 'a%', 'tab\there', 'trailing/']) {
      const r = await run(['mailbox', 'create', bad, '--user', 'ann', '--data', data], overrides);
      assert.equal(r.code, 2, bad);
      assert.match(r.stderr, /^petrel: invalid mailbox name/, bad);
    }

    const list = await run(['mailbox', 'list', '--user', 'ann', '--data', data], overrides);
    assert.equal(list.code, 0, list.stderr);
    const lines = list.stdout.trimEnd().split('\n');
    assert.match(lines[0]!, /^MAILBOX\s+SPECIAL-USE\s+SUBSCRIBED\s+MESSAGES\s+UNSEEN\s+BYTES$/);
    assert.deepEqual(
      lines.slice(1).map((l) => l.split(/\s+/)[0]),
      ['INBOX', 'Archive', 'Drafts', 'Junk', 'Projects', 'Projects/2025', 'Projects/2025/Q1', 'Projects/2026', 'Sent', 'Trash'],
    );
    assert.match(list.stdout, /\nSent\s+\\Sent\s+yes\s+\d+/);

    const del = await run(['mailbox', 'delete', 'Projects/2025/Q1', '--user', 'ann', '--data', data], overrides);
    assert.equal(del.code, 0, del.stderr);
    assert.equal(await store.getMailbox(ann.id, 'Projects/2025/Q1'), null);
    assert.equal((await store.listSubscriptions(ann.id)).includes('Projects/2025/Q1'), false);

    const delAgain = await run(['mailbox', 'delete', 'Projects/2025/Q1', '--user', 'ann', '--data', data], overrides);
    assert.equal(delAgain.code, 1);
    assert.equal(delAgain.stderr, 'petrel: ann has no mailbox "Projects/2025/Q1"\n');
    const delInbox = await run(['mailbox', 'delete', 'Inbox', '--user', 'ann', '--data', data], overrides);
    assert.equal(delInbox.code, 1);
    assert.equal(delInbox.stderr, 'petrel: INBOX cannot be deleted\n');

    const nobody = await run(['mailbox', 'list', '--user', 'zed', '--data', data], overrides);
    assert.equal(nobody.code, 1);
    assert.equal(nobody.stderr, 'petrel: no user "zed"\n');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('serve: first start creates an account, prints its password once, passes settings to the server', async () => {
  const dir = await tempDir();
  const { stores, overrides } = memoryEnvironment();
  try {
    const data = join(dir, 'data');
    const server = fakeServer();
    let stop!: (signal: string) => void;
    const shutdown = () => new Promise<string>((resolve) => (stop = resolve));
    const running = run(
      ['serve', '--data', data, '--imap-port', '0', '--imaps-port', '2993', '--allow-insecure-auth', 'never', '--log-level', 'warn'],
      {
        ...overrides,
        ...server.overrides(),
        shutdownSignal: shutdown,
        env: { PETREL_HOST: '127.0.0.1', PETREL_MAX_MESSAGE_SIZE: '10M' },
      },
    );
    // Wait until the server was started, then stop it.
    while (server.calls.length === 0) await new Promise((r) => setTimeout(r, 10));
    await new Promise((r) => setTimeout(r, 10));
    stop('SIGTERM');
    const r = await running;
    assert.equal(r.code, 0, r.stderr);

    const opts = server.calls[0]!;
    assert.equal(opts.host, '127.0.0.1');
    assert.equal(opts.imapPort, null, '--imap-port 0 disables the listener');
    assert.equal(opts.imapsPort, 2993);
    assert.equal(opts.allowInsecureAuth, 'never');
    assert.equal(opts.maxMessageSize, 10 * 1024 * 1024);
    assert.equal(opts.maxConnectionsPerIp, 50);
    assert.ok(opts.tls && String(opts.tls.cert).includes('BEGIN CERTIFICATE'));
    assert.ok(existsSync(join(data, 'tls', 'key.pem')));
    assert.equal(server.closed, 2, 'the IMAP and the POP3 listeners are closed');
    const store = stores.get(data)!;
    assert.equal(store.closed, 1);

    // The account, its password in the box, verifiable against the stored hash.
    const user = store.users.get('tester');
    assert.ok(user, 'named after the login name');
    const pw = /\|\s+password:\s+(\S+)\s+\|/.exec(r.stdout)?.[1];
    assert.ok(pw, r.stdout);
    assert.equal(await verifyPassword(pw, user.passwordHash), true);
    assert.match(r.stdout, /shown only this once/);
    assert.match(r.stdout, /IMAPS\s+127\.0\.0\.1:2993\s+implicit TLS/);
    assert.doesNotMatch(r.stdout, /\n {2}IMAP {3}/, 'no cleartext listener is announced');
    assert.match(r.stdout, /SHA-256 [0-9A-F]{2}(:[0-9A-F]{2}){31}/);
    assert.match(r.stdout, /imaplib\.IMAP4_SSL\('127\.0\.0\.1', 2993, ssl_context=ssl\._create_unverified_context\(\)\)/);
    assert.match(r.stdout, /Thunderbird\s+server 127\.0\.0\.1, port 2993, connection security SSL\/TLS/);
    assert.equal(r.stderr, '', 'log level warn: no info lines');

    // Second start: no new account, no password, the same certificate.
    const server2 = fakeServer();
    const r2 = await run(['serve', '--data', data, '--log-level', 'info'], {
      ...overrides,
      ...server2.overrides(),
      shutdownSignal: async () => 'SIGINT',
    });
    assert.equal(r2.code, 0, r2.stderr);
    assert.equal(store.users.size, 1);
    assert.doesNotMatch(r2.stdout, /password:/);
    assert.match(r2.stdout, /IMAP\s+127\.0\.0\.1:1143\s+STARTTLS; password login without TLS only from loopback/);
    assert.match(r2.stdout, /Accounts: tester/);
    assert.equal(String(server2.calls[0]!.tls!.cert), String(opts.tls!.cert));
    assert.match(r2.stderr, /INFO {2}shutting down signal=SIGINT/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('serve: POP3 and LMTP listeners share the store, TLS, login policy, limits, logger and login throttle', async () => {
  const dir = await tempDir();
  const { stores, overrides } = memoryEnvironment();
  try {
    const data = join(dir, 'data');
    const socket = join(dir, 'lmtp.sock');
    const server = fakeServer();
    const r = await run(
      ['serve', '--data', data, '--host', '0.0.0.0', '--pop3-port', '2110', '--pop3s-port', '0', '--lmtp-port', '2424',
        '--lmtp-socket', socket, '--allow-insecure-auth', 'always', '--log-level', 'info'],
      {
        ...overrides,
        ...server.overrides(),
        shutdownSignal: async () => 'SIGTERM',
        env: { PETREL_MAX_CONNECTIONS_PER_IP: '7', PETREL_MAX_MESSAGE_SIZE: '1M', PETREL_LMTP_SOCKET_MODE: '0660' },
      },
    );
    assert.equal(r.code, 0, r.stderr);
    const imap = server.calls[0]!;
    const pop3 = server.pop3Calls[0]!;
    const lmtp = server.lmtpCalls[0]!;
    assert.ok(imap && pop3 && lmtp);
    assert.equal(pop3.store, imap.store);
    assert.equal(lmtp.store, imap.store);
    assert.equal(imap.store, stores.get(data)!.asStore());
    assert.equal(pop3.host, '0.0.0.0');
    assert.equal(pop3.port, 2110);
    assert.equal(pop3.tlsPort, null, '--pop3s-port 0 disables POP3S');
    assert.equal(pop3.tls, imap.tls);
    assert.equal(pop3.allowInsecureAuth, 'always');
    assert.equal(pop3.maxConnectionsPerIp, 7);
    assert.equal(pop3.logger, imap.logger);
    assert.ok(imap.throttle, 'the IMAP server is given a throttle');
    assert.equal(pop3.throttle, imap.throttle, 'one failed-login throttle for IMAP and POP3');
    // LMTP has no authentication: it does not follow --host 0.0.0.0.
    assert.equal(lmtp.host, '127.0.0.1');
    assert.equal(lmtp.port, 2424);
    assert.equal(lmtp.socketPath, socket);
    assert.equal(lmtp.socketMode, 0o660);
    assert.equal(lmtp.maxMessageSize, 1024 * 1024);
    assert.equal(lmtp.logger, imap.logger);
    assert.equal(server.closed, 3, 'every listener is closed at shutdown');
    assert.equal(stores.get(data)!.closed, 1);

    assert.match(r.stdout, /Petrel is serving IMAP, POP3 and LMTP from /);
    assert.match(r.stdout, /\n {2}POP3 {3}127\.0\.0\.1:2110 {2}STLS; password login allowed without TLS\n/);
    assert.doesNotMatch(r.stdout, /POP3S/);
    assert.match(r.stdout, /\n {2}LMTP {3}127\.0\.0\.1:2424 {2}delivery, no authentication \(Postfix: lmtp:inet:127\.0\.0\.1:2424\)\n/);
    assert.ok(r.stdout.includes(`  LMTP   unix:${socket}  delivery (Postfix: lmtp:unix:${socket})\n`), r.stdout);
    assert.match(r.stdout, /\| {5}POP3: {6}127\.0\.0\.1:2110 \(STLS\) +\|/, 'the first-start box names POP3');
    assert.doesNotMatch(r.stderr, /LMTP has no authentication/, 'no warning: LMTP is on loopback');

    // Asked for explicitly, LMTP listens elsewhere, with a warning in the log.
    const server2 = fakeServer();
    const r2 = await run(['serve', '--data', data, '--lmtp-port', '2424', '--lmtp-host', '0.0.0.0', '--log-level', 'warn'], {
      ...overrides,
      ...server2.overrides(),
      shutdownSignal: async () => 'SIGTERM',
    });
    assert.equal(r2.code, 0, r2.stderr);
    assert.equal(server2.lmtpCalls[0]!.host, '0.0.0.0');
    assert.equal(server2.lmtpCalls[0]!.socketPath, undefined);
    assert.match(r2.stderr, /WARN .*LMTP has no authentication/);
    // Defaults: POP3 on 1110 and POP3S on 1995 with the IMAP host; LMTP off.
    assert.equal(server2.pop3Calls[0]!.port, 1110);
    assert.equal(server2.pop3Calls[0]!.tlsPort, 1995);
    assert.equal(server2.pop3Calls[0]!.host, '127.0.0.1');

    const server3 = fakeServer();
    const r3 = await run(['serve', '--data', data, '--imap-port', '0', '--imaps-port', '0', '--log-level', 'silent'], {
      ...overrides,
      ...server3.overrides(),
      shutdownSignal: async () => 'SIGTERM',
      env: { PETREL_POP3_PORT: '0', PETREL_POP3S_PORT: '3995' },
    });
    assert.equal(r3.code, 0, r3.stderr);
    assert.equal(server3.calls.length, 0, 'no IMAP listener when both IMAP ports are 0');
    assert.equal(server3.lmtpCalls.length, 0, 'LMTP is off by default');
    assert.equal(server3.pop3Calls[0]!.port, null);
    assert.equal(server3.pop3Calls[0]!.tlsPort, 3995);
    assert.match(r3.stdout, /Petrel is serving POP3 from /);
    assert.doesNotMatch(r3.stdout, /imaplib|IMAP/);
    assert.match(r3.stdout, /POP3S {2}127\.0\.0\.1:3995 {2}implicit TLS/);
    assert.match(r3.stdout, /port 3995, connection security SSL\/TLS/);
    assert.equal(server3.closed, 1);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('serve: a listener that cannot start stops the ones already started', async () => {
  const dir = await tempDir();
  const { stores, overrides } = memoryEnvironment();
  try {
    const data = join(dir, 'data');
    const server = fakeServer();
    const busy = await run(['serve', '--data', data, '--lmtp-port', '2424', '--log-level', 'silent'], {
      ...overrides,
      ...server.overrides(),
      startLmtpServer: async () => {
        throw Object.assign(new Error('listen EADDRINUSE'), { code: 'EADDRINUSE', address: '127.0.0.1', port: 2424 });
      },
    });
    assert.equal(busy.code, 1);
    assert.equal(busy.stderr, 'petrel: cannot listen on 127.0.0.1:2424: the address is already in use\n');
    assert.equal(server.calls.length, 1);
    assert.equal(server.pop3Calls.length, 1);
    assert.equal(server.closed, 2, 'IMAP and POP3 were closed again');
    assert.equal(stores.get(data)!.closed, 1);
    // The first account is made only after every listener is up, so no password is generated that nobody saw.
    assert.deepEqual(await stores.get(data)!.listUsers(), [], 'a failed first start creates no account');

    const noDir = await run(['serve', '--data', data, '--lmtp-socket', join(dir, 'missing', 's'), '--log-level', 'silent'], {
      ...overrides,
      ...fakeServer().overrides(),
      startLmtpServer: async (o) => {
        throw Object.assign(new Error('listen ENOENT'), { code: 'ENOENT', address: o.socketPath });
      },
    });
    assert.equal(noDir.code, 1);
    assert.equal(noDir.stderr, `petrel: cannot listen on the socket ${join(dir, 'missing', 's')}: no such directory\n`);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('serve: configuration errors exit 2 before anything starts; listen errors exit 1', async () => {
  const dir = await tempDir();
  const { stores, overrides } = memoryEnvironment();
  try {
    const data = join(dir, 'data');
    const server = fakeServer();
    const all = ['--imap-port', '0', '--imaps-port', '0', '--pop3-port', '0', '--pop3s-port', '0', '--lmtp-port', '2424'];
    const none = await run(['serve', '--data', data, ...all], { ...overrides, ...server.overrides() });
    assert.equal(none.code, 2);
    assert.equal(none.stderr, 'petrel: no listener enabled: imap_port, imaps_port, pop3_port and pop3s_port are all 0\n');

    const badPort = await run(['serve', '--data', data], {
      ...overrides,
      ...server.overrides(),
      env: { PETREL_IMAPS_PORT: '99999' },
    });
    assert.equal(badPort.code, 2);
    assert.match(badPort.stderr, /^petrel: PETREL_IMAPS_PORT: 99999 is not a port number/);

    await mkdir(data);
    await writeFile(join(data, 'petrel.toml'), 'imap_port = 1143\nwhat = 1\n');
    const badFile = await run(['serve', '--data', data], { ...overrides, ...server.overrides() });
    assert.equal(badFile.code, 2);
    assert.match(badFile.stderr, /petrel\.toml: unknown setting "what"/);
    assert.equal(server.calls.length + server.pop3Calls.length + server.lmtpCalls.length, 0);
    await rm(join(data, 'petrel.toml'));

    const inUse = await run(['serve', '--data', data, '--log-level', 'silent'], {
      ...overrides,
      startServer: async () => {
        throw Object.assign(new Error('listen EADDRINUSE'), { code: 'EADDRINUSE', address: '127.0.0.1', port: 1143 });
      },
    });
    assert.equal(inUse.code, 1);
    assert.equal(inUse.stderr, 'petrel: cannot listen on 127.0.0.1:1143: the address is already in use\n');
    assert.equal(stores.get(data)!.closed, 1, 'the store is closed after a failed start');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('first account name: the login name when valid, else "petrel"', () => {
  assert.equal(firstUserName('alice'), 'alice');
  assert.equal(firstUserName('j.doe'), 'j.doe');
  assert.equal(firstUserName('root'), 'petrel');
  assert.equal(firstUserName('DOMAIN\\user'), 'petrel');
  assert.equal(firstUserName(''), 'petrel');
  assert.equal(firstUserName(null), 'petrel');
});

test('config: prints the effective settings as TOML with their sources, and the output reads back the same', async () => {
  const dir = await tempDir();
  try {
    await writeFile(join(dir, 'p.toml'), 'imap_port = 2143\nlog_level = "debug"\n');
    const env = { PETREL_IMAPS_PORT: '0', PETREL_HOST: '::1', PETREL_LMTP_SOCKET: 'lmtp.sock', PETREL_LMTP_SOCKET_MODE: '660' };
    const r = await run(['config', '--config', join(dir, 'p.toml'), '--data', join(dir, 'd')], { env, cwd: dir });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`^# config file: ${join(dir, 'p.toml')}\n`));
    assert.match(r.stdout, /\nimap_port = 2143 +# config file\n/);
    assert.match(r.stdout, /\nimaps_port = 0 +# environment PETREL_IMAPS_PORT\n/);
    assert.match(r.stdout, /\nhost = "::1" +# environment PETREL_HOST\n/);
    assert.match(r.stdout, /\ndata = ".*d" +# flag --data\n/);
    assert.match(r.stdout, /\nimaps_port = 0 /);
    assert.match(r.stdout, /\n# tls_cert = \(not set\) +# default\n/);
    assert.match(r.stdout, /\nlmtp_port = 0 +# default\n/);
    assert.match(r.stdout, /\nlmtp_host = "127\.0\.0\.1" +# default\n/);
    assert.ok(r.stdout.includes(`\nlmtp_socket = "${join(dir, 'lmtp.sock')}"`), r.stdout);
    assert.match(r.stdout, /\nlmtp_socket_mode = "0660" +# environment PETREL_LMTP_SOCKET_MODE\n/);
    assert.match(r.stdout, /\npop3_port = 1110 +# default\n/);

    // Written back as a config file, it gives the same settings.
    await writeFile(join(dir, 'out.toml'), r.stdout);
    assert.equal(typeof parseToml(r.stdout), 'object');
    const original = await resolveConfig({ cwd: dir, env, configFile: join(dir, 'p.toml'), flags: { dataDir: join(dir, 'd') } });
    const reread = await resolveConfig({ cwd: dir, env: {}, configFile: join(dir, 'out.toml') });
    for (const key of Object.keys(original.sources) as Array<keyof typeof original.sources>) {
      assert.deepEqual(reread[key], original[key], key);
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
