// Operations (issue 7, item 6): the Prometheus exposition, `petrel serve --metrics-port` end to end
// (connections by protocol, commands by name and status, latency histogram, LMTP deliveries, failed
// logins), and the logs: one line per connection event and per failed login, never a password or
// message content.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { MetricsRegistry } from '../../src/metrics/registry.js';
import { resolveConfig } from '../../src/config/config.js';
import { openSqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import { ImapTestClient } from '../helpers/imap-client.js';
import { freePort, makeDataDir, provisionAccounts, REPO_ROOT, TEST_PASSWORD, TEST_USER } from '../helpers/server.js';
import { LineClient } from '../pop3/line-client.js';

test('exposition format: HELP/TYPE lines, sorted escaped labels, cumulative histogram buckets', () => {
  const r = new MetricsRegistry();
  const c = r.counter('x_total', 'A counter.');
  c.inc({ b: '2', a: 'q"u\\o\nte' });
  c.inc({ b: '2', a: 'q"u\\o\nte' }, 2);
  const g = r.gauge('y', 'A gauge.');
  g.collect(() => [{ labels: { protocol: 'imap' }, value: 7 }]);
  const h = r.histogram('z_seconds', 'A histogram.', [1, 0.1]);
  h.observe({ cmd: 'NOOP' }, 0.05);
  h.observe({ cmd: 'NOOP' }, 0.5);
  h.observe({ cmd: 'NOOP' }, 5);
  assert.equal(
    r.render(),
    [
      '# HELP x_total A counter.',
      '# TYPE x_total counter',
      'x_total{a="q\\"u\\\\o\\nte",b="2"} 3',
      '# HELP y A gauge.',
      '# TYPE y gauge',
      'y{protocol="imap"} 7',
      '# HELP z_seconds A histogram.',
      '# TYPE z_seconds histogram',
      'z_seconds_bucket{cmd="NOOP",le="0.1"} 1',
      'z_seconds_bucket{cmd="NOOP",le="1"} 2',
      'z_seconds_bucket{cmd="NOOP",le="+Inf"} 3',
      'z_seconds_sum{cmd="NOOP"} 5.55',
      'z_seconds_count{cmd="NOOP"} 3',
      '',
    ].join('\n'),
  );
  assert.throws(() => r.counter('y', 'again'), /duplicate/);
});

test('metrics are off by default; --metrics-port / PETREL_METRICS_PORT / metrics_host configure them', async () => {
  const dflt = await resolveConfig({ env: {} });
  assert.equal(dflt.metricsPort, null);
  assert.equal(dflt.metricsHost, '127.0.0.1');
  const flag = await resolveConfig({ env: { PETREL_METRICS_PORT: '9000' }, flags: { metricsPort: '9100', metricsHost: '::1' } });
  assert.equal(flag.metricsPort, 9100);
  assert.equal(flag.metricsHost, '::1');
  const env = await resolveConfig({ env: { PETREL_METRICS_PORT: '9000' } });
  assert.equal(env.metricsPort, 9000);
  await assert.rejects(resolveConfig({ env: { PETREL_METRICS_PORT: 'x' } }), /not a port/);
});

/** Value of one series in an exposition text, or undefined. */
function sample(text: string, series: string): number | undefined {
  for (const line of text.split('\n')) {
    if (line.startsWith(series + ' ')) return Number(line.slice(series.length + 1));
  }
  return undefined;
}

async function scrape(port: number): Promise<{ status: number; type: string | null; body: string }> {
  const res = await fetch(`http://127.0.0.1:${port}/metrics`);
  return { status: res.status, type: res.headers.get('content-type'), body: await res.text() };
}

test('petrel serve --metrics-port: connections, commands, latency, deliveries, failed logins; logs hold no secrets', async (t) => {
  const dataDir = await makeDataDir();
  const store = await openSqliteStore(dataDir);
  await provisionAccounts(store);
  await store.close();
  const [imapPort, pop3Port, lmtpPort, metricsPort] = [await freePort(), await freePort(), await freePort(), await freePort()];
  const child = spawn(
    process.execPath,
    [
      join(REPO_ROOT, 'bin/petrel.js'), 'serve', '--data', dataDir, '--host', '127.0.0.1',
      '--imap-port', String(imapPort), '--imaps-port', '0', '--pop3-port', String(pop3Port), '--pop3s-port', '0',
      '--lmtp-port', String(lmtpPort), '--metrics-port', String(metricsPort),
      '--log-format', 'json', '--log-level', 'info',
    ],
    { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, PETREL_LOG_LEVEL: 'info' } },
  );
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString('utf8')));
  child.stdout!.resume();
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  t.after(async () => {
    child.kill('SIGTERM');
    await exited;
    await rm(dataDir, { recursive: true, force: true });
  });
  for (let i = 0; !stderr.includes('metrics listening'); i++) {
    assert.ok(i < 150 && child.exitCode === null, `server did not start: ${stderr}`);
    await new Promise((r) => setTimeout(r, 100));
  }

  const wrongPassword = 'Sekr1t-wrong-passw0rd';
  const secretBody = 'The-launch-code-is-0000-in-the-body';
  const imap = await ImapTestClient.connect(imapPort);
  assert.match((await imap.command('a', `LOGIN ${TEST_USER} "${wrongPassword}"`)).tagged, /^a NO \[AUTHENTICATIONFAILED\]/);
  const pw = Buffer.from(`\0${TEST_USER}\0${wrongPassword}x`).toString('base64');
  assert.match((await imap.command('b', `AUTHENTICATE PLAIN ${pw}`)).tagged, /^b NO/);
  assert.match((await imap.command('c', `LOGIN ${TEST_USER} "${TEST_PASSWORD}"`)).tagged, /^c OK/);
  assert.match((await imap.command('e', 'SELECT Nowhere')).tagged, /^e NO/);
  assert.match((await imap.command('d', 'SELECT INBOX')).tagged, /^d OK/);
  assert.match((await imap.command('f', 'FETCH x FLAGS')).tagged, /^f BAD/);
  const lit = `Subject: hello\r\n\r\n${secretBody}\r\n`;
  assert.match((await imap.commandWithLiterals('g', [`APPEND INBOX {${lit.length}+}\r\n`, lit])).tagged, /^g OK/);

  const lmtp = await LineClient.connect({ port: lmtpPort });
  lmtp.send('LHLO client.test');
  await lmtp.reply();
  assert.match(await lmtp.command('MAIL FROM:<x@example.org>'), /^250/);
  assert.match(await lmtp.command(`RCPT TO:<${TEST_USER}>`), /^250/);
  assert.match(await lmtp.command('DATA'), /^354/);
  assert.match(await lmtp.command(`Subject: by lmtp\r\n\r\n${secretBody}\r\n.`), /^250/);

  const pop = await LineClient.connect({ port: pop3Port });
  assert.match(await pop.command(`USER ${TEST_USER}`), /^\+OK/);
  assert.match(await pop.command(`PASS ${wrongPassword}`), /^-ERR/);

  let m = await scrape(metricsPort);
  assert.equal(m.status, 200);
  assert.match(m.type ?? '', /^text\/plain; version=0\.0\.4/);
  assert.equal(sample(m.body, 'petrel_connections{protocol="imap"}'), 1);
  assert.equal(sample(m.body, 'petrel_connections{protocol="lmtp"}'), 1);
  assert.equal(sample(m.body, 'petrel_connections_total{protocol="imap"}'), 1);
  assert.equal(sample(m.body, 'petrel_failed_logins_total'), 3, 'IMAP and POP3 failures');
  assert.equal(sample(m.body, 'petrel_connections{protocol="pop3"}'), 1);
  assert.equal(sample(m.body, 'petrel_deliveries_total{result="ok"}'), 1);
  assert.equal(sample(m.body, 'petrel_commands_total{command="LOGIN",protocol="imap",status="NO"}'), 1);
  assert.equal(sample(m.body, 'petrel_commands_total{command="LOGIN",protocol="imap",status="OK"}'), 1);
  assert.equal(sample(m.body, 'petrel_commands_total{command="AUTHENTICATE",protocol="imap",status="NO"}'), 1);
  assert.equal(sample(m.body, 'petrel_commands_total{command="SELECT",protocol="imap",status="OK"}'), 1);
  assert.equal(sample(m.body, 'petrel_commands_total{command="SELECT",protocol="imap",status="NO"}'), 1);
  assert.equal(sample(m.body, 'petrel_commands_total{command="FETCH",protocol="imap",status="BAD"}'), 1);
  assert.equal(sample(m.body, 'petrel_commands_total{command="APPEND",protocol="imap",status="OK"}'), 1);
  assert.equal(sample(m.body, 'petrel_command_duration_seconds_count{command="SELECT",protocol="imap"}'), 2);
  assert.equal(sample(m.body, 'petrel_command_duration_seconds_bucket{command="SELECT",le="+Inf",protocol="imap"}'), 2);
  // The failed LOGIN waited for the throttle's delay (≥ 0.25 s), so its latency shows it.
  assert.ok(sample(m.body, 'petrel_command_duration_seconds_sum{command="LOGIN",protocol="imap"}')! >= 0.2);

  imap.send('z LOGOUT');
  await imap.waitFor(/^z OK/);
  assert.match(await lmtp.command('QUIT'), /^221/);
  assert.match(await pop.command('QUIT'), /^\+OK/);
  for (let i = 0; ; i++) {
    m = await scrape(metricsPort);
    if (sample(m.body, 'petrel_connections{protocol="imap"}') === 0) break;
    assert.ok(i < 100, 'the IMAP connection gauge goes back to 0');
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.equal((await fetch(`http://127.0.0.1:${metricsPort}/other`)).status, 404);
  assert.equal((await fetch(`http://127.0.0.1:${metricsPort}/metrics`, { method: 'POST' })).status, 405);

  // Logs: JSON lines; one per connection event and per failed login; no password, no message content.
  for (let i = 0; (stderr.match(/connection closed/g) ?? []).length < 2; i++) {
    assert.ok(i < 100, 'a connection-closed line');
    await new Promise((r) => setTimeout(r, 50));
  }
  const records = stderr.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
  const byMsg = (msg: string) => records.filter((r) => r.msg === msg);
  assert.equal(byMsg('failed login').length, 3);
  for (const r of byMsg('failed login')) {
    assert.equal(r.user, TEST_USER);
    assert.equal(r.ip, '127.0.0.1');
  }
  assert.equal(byMsg('connection opened').filter((r) => r.protocol === 'imap').length, 1);
  const closed = byMsg('connection closed').filter((r) => r.protocol === 'imap');
  assert.equal(closed.length, 1);
  assert.equal(closed[0]!.ip, '127.0.0.1');
  assert.equal(byMsg('connection opened').filter((r) => r.protocol === 'pop3').length, 1);
  assert.equal(byMsg('connection closed').filter((r) => r.protocol === 'pop3').length, 1);
  assert.equal(byMsg('login').length, 1);
  assert.ok(!stderr.includes(wrongPassword), 'no password in the logs');
  assert.ok(!stderr.includes(TEST_PASSWORD), 'no password in the logs');
  assert.ok(!stderr.includes(pw), 'no SASL response in the logs');
  assert.ok(!stderr.includes(secretBody), 'no message content in the logs');
  assert.ok(!stderr.includes('launch-code'), 'no message content in the logs');
});
