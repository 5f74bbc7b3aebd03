// The account file of `petrel sync` (src/sync/account.ts): TOML and JSON, each password source, conflicts,
// missing and invalid fields (the message names the field and the file), flags over the file, and the
// download rules (modes, sizes, since dates and day counts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AccountError, parseAccountText, parseSince, resolveAccount, type AccountFlags } from '../../src/sync/account.js';

const NOW = new Date('2026-03-15T13:45:00Z');
const PEM = '-----BEGIN CERTIFICATE-----\nMIIBfake\n-----END CERTIFICATE-----\n';

async function dir(): Promise<string> {
  return mkdtemp(join(tmpdir(), 'petrel-account-'));
}

async function resolveIn(cwd: string, file: string | undefined, flags: AccountFlags = {}, env: Record<string, string> = {}) {
  return resolveAccount({ file, flags, env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...env }, cwd, now: NOW });
}

async function rejects(p: Promise<unknown>, pattern: RegExp, usage: boolean): Promise<void> {
  await assert.rejects(p, (err: unknown) => {
    assert.ok(err instanceof AccountError, `an AccountError, got ${String(err)}`);
    assert.match(err.message, pattern);
    assert.equal(err.usage, usage, `usage flag for: ${err.message}`);
    return true;
  });
}

test('a TOML account file: every field, rules with modes, sizes and since', async () => {
  const d = await dir();
  await writeFile(join(d, 'ca.pem'), PEM);
  await writeFile(
    join(d, 'work.toml'),
    [
      'host = "imap.example.org"',
      'port = 10993',
      'tls = "implicit"',
      'user = "ann@example.org"',
      'password = "s3cret pass"',
      'ca = "ca.pem"',
      'rejectUnauthorized = true',
      'mailboxes = ["INBOX", "Lists/*"]',
      '',
      '[[rules]]',
      'pattern = "Lists/*"',
      'mode = "text"',
      'maxTextKb = 64',
      'since = "90d"',
      '',
      '[[rules]]',
      'pattern = "Archive/%"',
      'mode = "headers"',
      'maxMessageKb = 512',
      'since = 2025-01-31',
      '',
      '[[rules]]',
      'pattern = "Shared/News/*"',
      'readOnly = true',
    ].join('\n'),
  );
  const r = await resolveIn(d, 'work.toml');
  assert.equal(r.file, join(d, 'work.toml'));
  assert.deepEqual(r.account, {
    host: 'imap.example.org',
    port: 10993,
    tls: 'implicit',
    user: 'ann@example.org',
    password: 's3cret pass',
    rejectUnauthorized: true,
    ca: PEM,
  });
  assert.deepEqual(r.mailboxes, ['INBOX', 'Lists/*']);
  assert.equal(r.passwordSource, `"password" in ${join(d, 'work.toml')}`);
  assert.deepEqual(r.rules, [
    { pattern: 'Lists/*', policy: { mode: 'text', maxTextBytes: 64 * 1024, since: new Date('2025-12-15T00:00:00Z') } },
    { pattern: 'Archive/%', policy: { mode: 'headers', maxMessageBytes: 512 * 1024, since: new Date('2025-01-31T00:00:00Z') } },
    { pattern: 'Shared/News/*', policy: { mode: 'full' }, readOnly: true },
    { pattern: '*', policy: { mode: 'full' } },
  ]);
});

test('JSON by extension and by content; default ports follow tls', async () => {
  const d = await dir();
  const body = { host: 'mail.test', tls: 'starttls', user: 'bob', password: 'pw', rules: [{ pattern: '*', mode: 'headers' }] };
  await writeFile(join(d, 'acct.json'), JSON.stringify(body));
  await writeFile(join(d, 'acct'), '  \n' + JSON.stringify({ ...body, tls: 'none' }));
  const a = await resolveIn(d, 'acct.json');
  assert.equal(a.account.port, 143);
  assert.equal(a.account.tls, 'starttls');
  assert.deepEqual(a.rules, [{ pattern: '*', policy: { mode: 'headers' } }], 'a catch-all rule of the file is not doubled');
  const b = await resolveIn(d, 'acct');
  assert.equal(b.account.tls, 'none');
  assert.equal(b.account.port, 143);

  await writeFile(join(d, 'implicit.toml'), 'host = "h"\nuser = "u"\npassword = "p"\n');
  const c = await resolveIn(d, 'implicit.toml');
  assert.equal(c.account.tls, 'implicit', 'implicit TLS by default');
  assert.equal(c.account.port, 993);
  assert.equal(c.account.rejectUnauthorized, true);
  assert.equal(c.mailboxes, undefined, 'no mailboxes: all');

  await writeFile(join(d, 'broken.json'), '{"host": "h",');
  await rejects(resolveIn(d, 'broken.json'), /broken\.json: invalid JSON/, false);
});

test('passwordFile: the first line, relative to the account file; passwordCommand: first line of stdout', async () => {
  const d = await dir();
  const sub = join(d, 'conf');
  await mkdtempLike(sub);
  await writeFile(join(sub, 'pw.txt'), 'line one pw\r\nsecond line\n');
  await writeFile(join(sub, 'a.toml'), 'host = "h"\nuser = "u"\npasswordFile = "pw.txt"\n');
  const fromFile = await resolveIn(d, 'conf/a.toml');
  assert.equal(fromFile.account.password, 'line one pw');
  assert.match(fromFile.passwordSource, /"passwordFile" in .*a\.toml/);

  await writeFile(join(sub, 'b.toml'), 'host = "h"\nuser = "u"\npasswordCommand = "printf \'from-cmd\\\\nignored\\\\n\'; echo noise >&2"\n');
  assert.equal((await resolveIn(d, 'conf/b.toml')).account.password, 'from-cmd');

  await writeFile(join(sub, 'c.toml'), 'host = "h"\nuser = "u"\npasswordCommand = "echo vault is locked >&2; exit 3"\n');
  await rejects(resolveIn(d, 'conf/c.toml'), /password command \("passwordCommand" in .*c\.toml\) exited with status 3: vault is locked/, false);

  await writeFile(join(sub, 'd.toml'), 'host = "h"\nuser = "u"\npasswordFile = "missing.txt"\n');
  await rejects(resolveIn(d, 'conf/d.toml'), /cannot read the password file .*missing\.txt/, false);

  await writeFile(join(sub, 'empty.txt'), '\nsecond\n');
  await writeFile(join(sub, 'e.toml'), 'host = "h"\nuser = "u"\npasswordFile = "empty.txt"\n');
  await rejects(resolveIn(d, 'conf/e.toml'), /the password from "passwordFile" .* is empty/, false);
});

async function mkdtempLike(path: string): Promise<void> {
  const { mkdir } = await import('node:fs/promises');
  await mkdir(path, { recursive: true });
}

test('password flags: --password-env, --password-file, --password-command; a flag replaces the file\'s source', async () => {
  const d = await dir();
  await writeFile(join(d, 'pw'), 'file-pw\n');
  await writeFile(join(d, 'a.toml'), 'host = "h"\nuser = "u"\npassword = "from-file"\n');
  assert.equal((await resolveIn(d, 'a.toml', { passwordEnv: 'MAIL_PW' }, { MAIL_PW: 'from-env' })).account.password, 'from-env');
  assert.equal((await resolveIn(d, 'a.toml', { passwordFile: 'pw' })).account.password, 'file-pw');
  const cmd = await resolveIn(d, 'a.toml', { passwordCommand: 'echo "$TOKEN"' }, { TOKEN: 'cmd-pw' });
  assert.equal(cmd.account.password, 'cmd-pw', 'the command sees the environment');
  assert.equal(cmd.passwordSource, '--password-command');
  // Flags only, no file.
  const flagsOnly = await resolveIn(d, undefined, { host: 'h2', user: 'u2', passwordEnv: 'P' }, { P: 'x' });
  assert.equal(flagsOnly.file, null);
  assert.deepEqual(flagsOnly.account, { host: 'h2', port: 993, tls: 'implicit', user: 'u2', password: 'x', rejectUnauthorized: true });
  await rejects(resolveIn(d, undefined, { host: 'h', user: 'u', passwordEnv: 'UNSET_VAR' }), /environment variable UNSET_VAR is not set/, true);
});

test('warnings: a password in a file that group or others can read', async () => {
  const d = await dir();
  await writeFile(join(d, 'open.toml'), 'host = "h"\nuser = "u"\npassword = "p"\n');
  await chmod(join(d, 'open.toml'), 0o640);
  assert.deepEqual((await resolveIn(d, 'open.toml')).warnings, [`${join(d, 'open.toml')} holds a password and other users can read it (chmod 600 ${join(d, 'open.toml')})`]);
  assert.deepEqual((await resolveIn(d, 'open.toml', { passwordEnv: 'P' }, { P: 'x' })).warnings, [], 'the file\'s password is not used');
  await chmod(join(d, 'open.toml'), 0o600);
  assert.deepEqual((await resolveIn(d, 'open.toml')).warnings, []);

  await writeFile(join(d, 'pw'), 'secret\n');
  await chmod(join(d, 'pw'), 0o604);
  await writeFile(join(d, 'pf.toml'), 'host = "h"\nuser = "u"\npasswordFile = "pw"\n');
  assert.deepEqual((await resolveIn(d, 'pf.toml')).warnings, [`${join(d, 'pw')} holds a password and other users can read it (chmod 600 ${join(d, 'pw')})`]);
  assert.equal((await resolveIn(d, undefined, { host: 'h', user: 'u', passwordFile: 'pw' })).warnings.length, 1);
  await writeFile(join(d, 'cmd.toml'), 'host = "h"\nuser = "u"\npasswordCommand = "echo x"\n');
  await chmod(join(d, 'cmd.toml'), 0o644);
  assert.deepEqual((await resolveIn(d, 'cmd.toml')).warnings, [], 'a command holds no password');
});

test('two password sources are refused, in the file and among the flags', async () => {
  const d = await dir();
  await writeFile(join(d, 'two.toml'), 'host = "h"\nuser = "u"\npassword = "a"\npasswordCommand = "echo b"\n');
  await rejects(resolveIn(d, 'two.toml'), /two\.toml: give only one of password, passwordFile and passwordCommand \(found password and passwordCommand\)/, false);
  await rejects(
    resolveIn(d, undefined, { host: 'h', user: 'u', passwordEnv: 'X', passwordFile: 'f' }, { X: 'y' }),
    /give only one of --password-env, --password-file and --password-command \(found --password-env and --password-file\)/,
    true,
  );
});

test('missing fields name the field and the file; without a file they are usage errors', async () => {
  const d = await dir();
  await writeFile(join(d, 'nohost.toml'), 'user = "u"\npassword = "p"\n');
  await rejects(resolveIn(d, 'nohost.toml'), /nohost\.toml: no host \(set "host" in the file or give --host\)/, false);
  await writeFile(join(d, 'nouser.toml'), 'host = "h"\npassword = "p"\n');
  await rejects(resolveIn(d, 'nouser.toml'), /nouser\.toml: no user/, false);
  await writeFile(join(d, 'nopw.toml'), 'host = "h"\nuser = "u"\n');
  await rejects(resolveIn(d, 'nopw.toml'), /nopw\.toml: no password \(set one of password, passwordFile, passwordCommand/, false);
  await rejects(resolveIn(d, undefined, { user: 'u' }), /^no host: give --host or an account file/, true);
  await rejects(resolveIn(d, undefined, { host: 'h', user: 'u' }), /^no password: give --password-env/, true);
  await rejects(resolveIn(d, 'absent.toml'), /account file .*absent\.toml does not exist/, false);
});

test('invalid values name the field and the file', async () => {
  const d = await dir();
  const cases: Array<[string, RegExp]> = [
    ['host = "h"\nuser = "u"\npassword = "p"\ntls = "ssl"\n', /"tls" must be "implicit", "starttls" or "none" \(not "ssl"\)/],
    ['host = "h"\nuser = "u"\npassword = "p"\nport = 70000\n', /"port" must be a port number 1-65535 \(not 70000\)/],
    ['host = 7\nuser = "u"\npassword = "p"\n', /"host" must be a string/],
    ['host = "h"\nuser = "u"\npassword = "p"\nrejectUnauthorized = "no"\n', /"rejectUnauthorized" must be true or false/],
    ['host = "h"\nuser = "u"\npassword = "p"\nmailboxes = [1]\n', /"mailboxes" must be a list of mailbox patterns/],
    ['host = "h"\nuser = "u"\npassword = "p"\nusr = "x"\n', /unknown setting "usr" \(did you mean "user"\?\)/],
    ['host = "h"\nuser = "u"\npassword = "p"\n[[rules]]\nmode = "full"\n', /rules\[1\]: "pattern" is missing/],
    ['host = "h"\nuser = "u"\npassword = "p"\n[[rules]]\npattern = "*"\nmode = "bodies"\n', /rules\[1\]: "mode" must be "full", "headers" or "text" \(not "bodies"\)/],
    ['host = "h"\nuser = "u"\npassword = "p"\n[[rules]]\npattern = "*"\nmaxTextKb = -4\n', /rules\[1\]: "maxTextKb" must be a positive number of kilobytes/],
    ['host = "h"\nuser = "u"\npassword = "p"\n[[rules]]\npattern = "*"\nsince = "last year"\n', /rules\[1\]: "since" must be a date YYYY-MM-DD or a number of days/],
    ['host = "h"\nuser = "u"\npassword = "p"\n[[rules]]\npattern = "*"\nsince = "2025-02-30"\n', /"since" must be a date/],
    ['host = "h"\nuser = "u"\npassword = "p"\n[[rules]]\npattern = "*"\nmaxSize = 3\n', /rules\[1\]: unknown setting "maxSize"/],
    ['host = "h"\nuser = "u"\npassword = "p"\n[[rules]]\npattern = "*"\nreadOnly = "yes"\n', /rules\[1\]: "readOnly" must be true or false/],
    ['host = "h"\nuser = \n', /bad\.toml:2:\d+: invalid TOML/],
  ];
  for (const [text, pattern] of cases) {
    await writeFile(join(d, 'bad.toml'), text);
    await rejects(resolveIn(d, 'bad.toml'), new RegExp(`bad\\.toml.*${pattern.source}|${pattern.source}`), false);
    await assert.rejects(resolveIn(d, 'bad.toml'), (e: Error) => e.message.includes(join(d, 'bad.toml')), `names the file: ${text}`);
  }
});

test('flags override the file: host, port, tls, user, --insecure, --ca, mailboxes', async () => {
  const d = await dir();
  await writeFile(join(d, 'ca.pem'), PEM);
  await writeFile(join(d, 'not-pem.txt'), 'hello');
  await writeFile(join(d, 'a.toml'), 'host = "file-host"\nport = 1993\ntls = "implicit"\nuser = "file-user"\npassword = "p"\nmailboxes = ["INBOX"]\n');
  const r = await resolveIn(d, 'a.toml', {
    host: 'flag-host',
    port: '2143',
    tls: 'starttls',
    user: 'flag-user',
    insecure: true,
    ca: 'ca.pem',
    mailboxes: ['Sent', 'Lists/*'],
  });
  assert.deepEqual(r.account, { host: 'flag-host', port: 2143, tls: 'starttls', user: 'flag-user', password: 'p', rejectUnauthorized: false, ca: PEM });
  assert.deepEqual(r.mailboxes, ['Sent', 'Lists/*']);
  // --tls alone changes the default port only when the file has none.
  assert.equal((await resolveIn(d, 'a.toml', { tls: 'none' })).account.port, 1993);
  await rejects(resolveIn(d, 'a.toml', { tls: 'tls1.3' }), /--tls must be implicit, starttls or none/, true);
  await rejects(resolveIn(d, 'a.toml', { port: '99999' }), /--port must be a port number/, true);
  await rejects(resolveIn(d, 'a.toml', { port: '12ab' }), /--port must be a port number/, true);
  await rejects(resolveIn(d, 'a.toml', { ca: 'not-pem.txt' }), /not-pem\.txt \(--ca\) holds no PEM certificate/, false);
  await rejects(resolveIn(d, 'a.toml', { ca: 'nope.pem' }), /cannot read the CA file .*nope\.pem/, false);
});

test('download flags replace that field in every rule and in the catch-all', async () => {
  const d = await dir();
  await writeFile(
    join(d, 'a.toml'),
    'host = "h"\nuser = "u"\npassword = "p"\n[[rules]]\npattern = "Archive/*"\nmode = "headers"\n[[rules]]\npattern = "Lists/*"\nmode = "text"\nmaxTextKb = 8\n',
  );
  const r = await resolveIn(d, 'a.toml', { since: '30d', maxMessageKb: '1024' });
  const since = new Date('2026-02-13T00:00:00Z');
  assert.deepEqual(r.rules, [
    { pattern: 'Archive/*', policy: { mode: 'headers', since, maxMessageBytes: 1024 * 1024 } },
    { pattern: 'Lists/*', policy: { mode: 'text', maxTextBytes: 8 * 1024, since, maxMessageBytes: 1024 * 1024 } },
    { pattern: '*', policy: { mode: 'full', since, maxMessageBytes: 1024 * 1024 } },
  ]);
  await writeFile(join(d, 'ro.toml'), 'host = "h"\nuser = "u"\npassword = "p"\n[[rules]]\npattern = "News/*"\nreadOnly = true\n');
  assert.deepEqual((await resolveIn(d, 'ro.toml', { mode: 'headers' })).rules[0], { pattern: 'News/*', policy: { mode: 'headers' }, readOnly: true });
  const m = await resolveIn(d, 'a.toml', { mode: 'text', maxTextKb: '16' });
  assert.ok(m.rules.every((x) => x.policy.mode === 'text' && x.policy.maxTextBytes === 16 * 1024));
  await rejects(resolveIn(d, 'a.toml', { mode: 'everything' }), /--mode must be full, headers or text/, true);
  await rejects(resolveIn(d, 'a.toml', { since: 'yesterday' }), /--since must be a date YYYY-MM-DD or a number of days/, true);
  await rejects(resolveIn(d, 'a.toml', { maxTextKb: '0' }), /--max-text-kb must be a positive number/, true);
});

test('parseSince: dates and day counts become the start of a UTC day; parseAccountText stands alone', () => {
  assert.deepEqual(parseSince('2024-02-29', NOW), new Date('2024-02-29T00:00:00Z'));
  assert.deepEqual(parseSince('0d', NOW), new Date('2026-03-15T00:00:00Z'));
  assert.deepEqual(parseSince('15d', NOW), new Date('2026-02-28T00:00:00Z'));
  assert.throws(() => parseSince('2023-02-29', NOW), AccountError);
  assert.throws(() => parseSince('-3d', NOW), AccountError);
  const parsed = parseAccountText('host = "h"\npasswordFile = "secret/pw"\n', '/etc/petrel/a.conf');
  assert.equal(parsed.passwordFile, '/etc/petrel/secret/pw', 'relative to the file\'s directory');
  assert.throws(() => parseAccountText('[1, 2]', '/x/a.json'), /the top level must be a table/);
});

test('the example account file in docs/sync.md parses as documented', async () => {
  const doc = await readFile(new URL('../../../docs/sync.md', import.meta.url), 'utf8');
  const section = doc.slice(doc.indexOf('### The account file'));
  const toml = /```toml\n([\s\S]*?)```/.exec(section)?.[1];
  assert.ok(toml, 'a TOML example in the section');
  const parsed = parseAccountText(toml, '/home/ann/.config/petrel/work.toml', NOW);
  assert.equal(parsed.host, 'imap.example.org');
  assert.equal(parsed.tls, 'implicit');
  assert.equal(parsed.passwordCommand, 'pass show mail/work');
  assert.deepEqual(parsed.mailboxes, ['INBOX', 'Sent', 'Lists/*']);
  assert.deepEqual(parsed.rules, [
    { pattern: 'Lists/*', policy: { mode: 'text', maxTextBytes: 64 * 1024, since: new Date('2025-12-15T00:00:00Z') } },
    { pattern: 'Archive/*', policy: { mode: 'headers' } },
    { pattern: 'Shared/News/%', policy: { mode: 'full' }, readOnly: true },
  ]);
});
