// Tests for src/config/config.ts: precedence flags > environment > file > defaults, validation.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, resolveConfig, SETTINGS } from '../../src/config/config.js';

/** A directory that does not exist, so no <cwd>/data/petrel.toml is found. */
const NOWHERE = join(tmpdir(), 'petrel-config-nowhere-' + process.pid);

async function tempDir(): Promise<string> {
  return mkdtemp(join(tmpdir(), 'petrel-config-'));
}

test('defaults', async () => {
  const cwd = await tempDir();
  try {
    const c = await resolveConfig({ env: {}, cwd });
    assert.equal(c.dataDir, join(cwd, 'data'));
    assert.equal(c.host, '127.0.0.1');
    assert.equal(c.imapPort, 1143);
    assert.equal(c.imapsPort, 1993);
    assert.equal(c.pop3Port, 1110);
    assert.equal(c.pop3sPort, 1995);
    assert.equal(c.lmtpPort, null);
    assert.equal(c.lmtpHost, '127.0.0.1');
    assert.equal(c.lmtpSocket, null);
    assert.equal(c.lmtpSocketMode, null);
    assert.equal(c.tlsCert, null);
    assert.equal(c.tlsKey, null);
    assert.equal(c.logLevel, 'info');
    assert.equal(c.logFormat, 'text');
    assert.equal(c.allowInsecureAuth, 'loopback');
    assert.equal(c.maxMessageSize, 64 * 1024 * 1024);
    assert.equal(c.maxConnectionsPerIp, 50);
    assert.equal(c.configFile, null);
    assert.equal(c.sources.imapPort, 'default');
    assert.deepEqual(c.warnings, []);
  } finally {
    await rm(cwd, { recursive: true, force: true });
  }
});

test('precedence: flag > environment > file > default, per setting', async () => {
  const cwd = await tempDir();
  try {
    const file = join(cwd, 'petrel.toml');
    await writeFile(
      file,
      'host = "::1"\nimap_port = 3000\nimaps_port = 3001\nlog_level = "debug"\nallow_insecure_auth = "never"\n',
    );
    const c = await resolveConfig({
      cwd,
      configFile: 'petrel.toml',
      env: { PETREL_IMAP_PORT: '2000', PETREL_IMAPS_PORT: '2001', PETREL_HOST: '' },
      flags: { imapPort: '1000' },
    });
    assert.equal(c.configFile, file);
    assert.equal(c.imapPort, 1000);
    assert.equal(c.sources.imapPort, 'flag');
    assert.equal(c.imapsPort, 2001);
    assert.equal(c.sources.imapsPort, 'env');
    assert.equal(c.host, '::1', 'an empty environment variable counts as unset');
    assert.equal(c.sources.host, 'file');
    assert.equal(c.logLevel, 'debug');
    assert.equal(c.allowInsecureAuth, 'never');
    assert.equal(c.logFormat, 'text');
    assert.equal(c.sources.logFormat, 'default');
  } finally {
    await rm(cwd, { recursive: true, force: true });
  }
});

test('PETREL_CONFIG names the file; --config wins over it', async () => {
  const cwd = await tempDir();
  try {
    await writeFile(join(cwd, 'a.toml'), 'imap_port = 1111\n');
    await writeFile(join(cwd, 'b.json'), JSON.stringify({ imap_port: 2222, log_format: 'json' }));
    const fromEnv = await resolveConfig({ cwd, env: { PETREL_CONFIG: join(cwd, 'a.toml') } });
    assert.equal(fromEnv.imapPort, 1111);
    const fromFlag = await resolveConfig({ cwd, env: { PETREL_CONFIG: join(cwd, 'a.toml') }, configFile: 'b.json' });
    assert.equal(fromFlag.imapPort, 2222);
    assert.equal(fromFlag.logFormat, 'json');
    assert.equal(fromFlag.configFile, join(cwd, 'b.json'));
  } finally {
    await rm(cwd, { recursive: true, force: true });
  }
});

test('<data>/petrel.toml is read when no file is named, and may not move the data directory', async () => {
  const cwd = await tempDir();
  try {
    const data = join(cwd, 'store');
    await mkdir(data);
    await writeFile(join(data, 'petrel.toml'), 'imaps_port = 0\n');
    const c = await resolveConfig({ cwd, env: {}, flags: { dataDir: 'store' } });
    assert.equal(c.dataDir, data);
    assert.equal(c.configFile, join(data, 'petrel.toml'));
    assert.equal(c.imapsPort, null, 'port 0 disables');
    const viaEnv = await resolveConfig({ cwd, env: { PETREL_DATA: data } });
    assert.equal(viaEnv.imapsPort, null);

    await writeFile(join(data, 'petrel.toml'), 'data = "/elsewhere"\n');
    await assert.rejects(resolveConfig({ cwd, env: { PETREL_DATA: data } }), /cannot be set in the data directory/);

    // A named file wins and the data directory's own file is not read.
    await writeFile(join(cwd, 'named.toml'), `data = "store"\n`);
    const named = await resolveConfig({ cwd, env: {}, configFile: 'named.toml' });
    assert.equal(named.dataDir, data);
    assert.equal(named.sources.dataDir, 'file');
    assert.equal(named.configFile, join(cwd, 'named.toml'));
  } finally {
    await rm(cwd, { recursive: true, force: true });
  }
});

test('relative paths: from the file\'s directory in a file, from cwd in flags and env', async () => {
  const cwd = await tempDir();
  try {
    await mkdir(join(cwd, 'etc'));
    await writeFile(join(cwd, 'etc', 'p.toml'), 'data = "../var"\ntls_cert = "c.pem"\ntls_key = "/abs/k.pem"\n');
    const c = await resolveConfig({ cwd, env: {}, configFile: 'etc/p.toml' });
    assert.equal(c.dataDir, join(cwd, 'var'));
    assert.equal(c.tlsCert, join(cwd, 'etc', 'c.pem'));
    assert.equal(c.tlsKey, '/abs/k.pem');
    const f = await resolveConfig({ cwd, env: { PETREL_TLS_KEY: 'k.pem' }, configFile: 'etc/p.toml', flags: { tlsCert: 'x.pem' } });
    assert.equal(f.tlsCert, join(cwd, 'x.pem'));
    assert.equal(f.tlsKey, join(cwd, 'k.pem'));
  } finally {
    await rm(cwd, { recursive: true, force: true });
  }
});

test('validation errors are ConfigErrors with a readable message naming the source', async () => {
  const cwd = await tempDir();
  try {
    const cases: Array<[Parameters<typeof resolveConfig>[0], RegExp]> = [
      [{ flags: { imapPort: 'abc' } }, /--imap-port: "abc" is not a port number/],
      [{ flags: { imapPort: '70000' } }, /--imap-port: 70000 is not a port number/],
      [{ flags: { imapsPort: '-1' } }, /--imaps-port/],
      [{ env: { PETREL_IMAP_PORT: '1.5' } }, /PETREL_IMAP_PORT: "1.5" is not a port number/],
      [{ env: { PETREL_POP3_PORT: '99999' } }, /PETREL_POP3_PORT/],
      [{ flags: { host: 'not a host' } }, /--host: "not a host" is not a host name or IP address/],
      [{ flags: { logLevel: 'loud' } }, /--log-level: "loud" is not one of fatal, error, warn, info, debug, trace, silent/],
      [{ env: { PETREL_ALLOW_INSECURE_AUTH: 'yes' } }, /PETREL_ALLOW_INSECURE_AUTH: "yes" is not one of loopback, always, never/],
      [{ flags: { tlsCert: 'c.pem' } }, /tls_cert is set but tls_key is not/],
      [{ env: { PETREL_TLS_KEY: 'k.pem' } }, /tls_key is set but tls_cert is not/],
      [{ configFile: 'missing.toml' }, /config file .*missing\.toml does not exist/],
    ];
    for (const [input, message] of cases) {
      await assert.rejects(resolveConfig({ cwd, env: {}, ...input }), (err: unknown) => {
        assert.ok(err instanceof ConfigError, String(err));
        assert.match(err.message, message);
        assert.doesNotMatch(err.message, /\n/);
        return true;
      });
    }
  } finally {
    await rm(cwd, { recursive: true, force: true });
  }
});

test('config file errors: unknown keys (with a suggestion), bad values, bad syntax, nested tables', async () => {
  const cwd = await tempDir();
  try {
    const cases: Array<[string, string, RegExp]> = [
      ['a.toml', 'imap_prot = 1143\n', /a\.toml: unknown setting "imap_prot" \(did you mean imap_port\?\)/],
      ['b.toml', 'frobnicate = true\n', /unknown setting "frobnicate"$/],
      ['c.toml', 'imap_port = "x"\n', /imap_port in .*c\.toml: "x" is not a port number/],
      ['d.toml', 'imap_port = 65536\n', /65536 is not a port number/],
      ['e.toml', 'host = 5\n', /host in .*e\.toml: expected a string, got number 5/],
      ['f.toml', 'imap_port = = 1\n', /f\.toml:1:\d+: invalid TOML/],
      ['g.toml', '[imap]\nport = 1\n', /unknown setting "imap"/],
      ['h.json', '{"imap_port": 1,', /h\.json: invalid JSON/],
      ['i.json', '[1,2]', /top level must be a table/],
      ['j.toml', 'log_level = ["info"]\n', /expected a string, got a list/],
      ['k.toml', 'imap_port = 1.5\n', /1\.5 is not a port number/],
    ];
    for (const [name, text, message] of cases) {
      await writeFile(join(cwd, name), text);
      await assert.rejects(resolveConfig({ cwd, env: {}, configFile: name }), (err: unknown) => {
        assert.ok(err instanceof ConfigError, String(err));
        assert.match(err.message, message);
        return true;
      });
    }
  } finally {
    await rm(cwd, { recursive: true, force: true });
  }
});

test('ports from a file may also be digit strings; enum values are case-insensitive', async () => {
  const cwd = await tempDir();
  try {
    await writeFile(join(cwd, 'p.json'), JSON.stringify({ imap_port: '2143', lmtp_port: 2424, log_level: 'WARN' }));
    const c = await resolveConfig({ cwd, env: {}, configFile: 'p.json' });
    assert.equal(c.imapPort, 2143);
    assert.equal(c.lmtpPort, 2424);
    assert.equal(c.logLevel, 'warn');
  } finally {
    await rm(cwd, { recursive: true, force: true });
  }
});

test('unknown PETREL_* environment variables give a warning, not an error', async () => {
  const c = await resolveConfig({ cwd: NOWHERE, env: { PETREL_IMAP_PROT: '1', PETREL_CONFIG: '', HOME: '/x' } });
  assert.equal(c.warnings.length, 1);
  assert.match(c.warnings[0]!, /PETREL_IMAP_PROT \(did you mean PETREL_IMAP_PORT\?\)/);
});

test('hosts: IPv4, IPv6 (bracketed too), names', async () => {
  for (const [given, expected] of [
    ['0.0.0.0', '0.0.0.0'],
    ['::', '::'],
    ['[::1]', '::1'],
    ['mail.example.org', 'mail.example.org'],
    ['localhost', 'localhost'],
  ]) {
    const c = await resolveConfig({ cwd: NOWHERE, env: { PETREL_HOST: given } });
    assert.equal(c.host, expected);
  }
  await assert.rejects(resolveConfig({ cwd: NOWHERE, env: { PETREL_HOST: '-bad-.org' } }), ConfigError);
});

test('every setting has distinct names in each source, consistent with each other', () => {
  const files = new Set(SETTINGS.map((s) => s.file));
  const envs = new Set(SETTINGS.map((s) => s.env));
  assert.equal(files.size, SETTINGS.length);
  assert.equal(envs.size, SETTINGS.length);
  for (const s of SETTINGS) {
    if (s.key !== 'dataDir') assert.equal(s.env, `PETREL_${s.file.toUpperCase()}`);
    if (s.flag !== null && s.key !== 'dataDir') assert.equal(s.flag, `--${s.file.replace(/_/g, '-')}`);
  }
  // The POP3 and LMTP listeners are served by `petrel serve`, with flags.
  const flags = Object.fromEntries(SETTINGS.map((s) => [s.key, s.flag]));
  assert.equal(flags.pop3Port, '--pop3-port');
  assert.equal(flags.pop3sPort, '--pop3s-port');
  assert.equal(flags.lmtpPort, '--lmtp-port');
  assert.equal(flags.lmtpHost, '--lmtp-host');
  assert.equal(flags.lmtpSocket, '--lmtp-socket');
});

test('POP3 and LMTP settings: flags > environment > file; LMTP keeps its own host; socket path and mode', async () => {
  const dir = await tempDir();
  try {
    await writeFile(
      join(dir, 'p.toml'),
      'host = "0.0.0.0"\npop3_port = 110\npop3s_port = 0\nlmtp_port = 24\nlmtp_socket = "run/lmtp"\nlmtp_socket_mode = 0o660\n',
    );
    const f = await resolveConfig({ cwd: NOWHERE, env: {}, configFile: join(dir, 'p.toml') });
    assert.equal(f.host, '0.0.0.0');
    assert.equal(f.lmtpHost, '127.0.0.1', 'LMTP does not follow host: it has no authentication');
    assert.equal(f.pop3Port, 110);
    assert.equal(f.pop3sPort, null);
    assert.equal(f.lmtpPort, 24);
    assert.equal(f.lmtpSocket, join(dir, 'run', 'lmtp'), 'relative to the config file');
    assert.equal(f.lmtpSocketMode, 0o660);
    assert.equal(f.sources.lmtpSocket, 'file');

    const e = await resolveConfig({
      cwd: dir,
      env: { PETREL_POP3_PORT: '1110', PETREL_LMTP_HOST: '::1', PETREL_LMTP_SOCKET: 's.sock', PETREL_LMTP_SOCKET_MODE: '600' },
      configFile: 'p.toml',
      flags: { pop3sPort: '2995', lmtpPort: '0' },
    });
    assert.equal(e.pop3Port, 1110);
    assert.equal(e.sources.pop3Port, 'env');
    assert.equal(e.pop3sPort, 2995);
    assert.equal(e.sources.pop3sPort, 'flag');
    assert.equal(e.lmtpPort, null, '--lmtp-port 0 turns the file\'s port off');
    assert.equal(e.lmtpHost, '::1');
    assert.equal(e.lmtpSocket, join(dir, 's.sock'), 'relative to the current directory');
    assert.equal(e.lmtpSocketMode, 0o600);

    for (const mode of ['0o640', '0640', '640']) {
      assert.equal((await resolveConfig({ cwd: NOWHERE, env: { PETREL_LMTP_SOCKET_MODE: mode } })).lmtpSocketMode, 0o640, mode);
    }
    for (const bad of ['rw-rw----', '0888', '1777', '-1']) {
      await assert.rejects(
        resolveConfig({ cwd: NOWHERE, env: { PETREL_LMTP_SOCKET_MODE: bad } }),
        /PETREL_LMTP_SOCKET_MODE: .* file mode/,
        bad,
      );
    }
    await assert.rejects(resolveConfig({ cwd: NOWHERE, env: { PETREL_LMTP_HOST: 'not a host' } }), /PETREL_LMTP_HOST/);
    await assert.rejects(resolveConfig({ cwd: NOWHERE, env: { PETREL_LMTP_PORT: '65536' } }), /PETREL_LMTP_PORT/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('sizes and counts', async () => {
  for (const [given, bytes] of [
    ['1024', 1024],
    ['512K', 512 * 1024],
    ['64M', 64 * 1024 * 1024],
    ['64MiB', 64 * 1024 * 1024],
    ['64m', 64 * 1024 * 1024],
    ['10 MB', 10 * 1024 * 1024],
  ] as const) {
    const c = await resolveConfig({ cwd: NOWHERE, env: { PETREL_MAX_MESSAGE_SIZE: given } });
    assert.equal(c.maxMessageSize, bytes, given);
  }
  for (const bad of ['0', '5T', '-1', 'lots', '1G', '65M', '1.5M']) {
    await assert.rejects(resolveConfig({ cwd: NOWHERE, env: { PETREL_MAX_MESSAGE_SIZE: bad } }), ConfigError, bad);
  }
  const c = await resolveConfig({ cwd: NOWHERE, env: { PETREL_MAX_CONNECTIONS_PER_IP: '7' } });
  assert.equal(c.maxConnectionsPerIp, 7);
  for (const bad of ['0', '-3', 'x', '2.5']) {
    await assert.rejects(resolveConfig({ cwd: NOWHERE, env: { PETREL_MAX_CONNECTIONS_PER_IP: bad } }), /is not a whole number/, bad);
  }
  const dir = await tempDir();
  try {
    await writeFile(join(dir, 'p.toml'), 'max_message_size = 2048\nmax_connections_per_ip = 3\n');
    const f = await resolveConfig({ cwd: dir, env: {}, configFile: 'p.toml' });
    assert.equal(f.maxMessageSize, 2048);
    assert.equal(f.maxConnectionsPerIp, 3);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('quota: bytes or K/M/G/T, 0 = no limit (the default), not capped at the message size limit; junk is an error', async () => {
  assert.equal((await resolveConfig({ cwd: NOWHERE, env: {} })).quota, null);
  assert.equal((await resolveConfig({ cwd: NOWHERE, env: { PETREL_QUOTA: '2G' } })).quota, 2 * 1024 ** 3);
  assert.equal((await resolveConfig({ cwd: NOWHERE, env: { PETREL_QUOTA: '1t' } })).quota, 1024 ** 4);
  assert.equal((await resolveConfig({ cwd: NOWHERE, env: { PETREL_QUOTA: '5000' } })).quota, 5000);
  assert.equal((await resolveConfig({ cwd: NOWHERE, env: { PETREL_QUOTA: '0' } })).quota, null);
  await assert.rejects(resolveConfig({ cwd: NOWHERE, env: { PETREL_QUOTA: 'lots' } }), /PETREL_QUOTA: "lots" is not a size/);
  await assert.rejects(resolveConfig({ cwd: NOWHERE, env: { PETREL_QUOTA: '-1' } }), ConfigError);
});
