// End to end through the real executable: `petrel serve` with IMAP, POP3, POP3S and LMTP (TCP and a Unix
// socket) on one store (issue 6). An IMAP session in IDLE (RFC 2177) sees an LMTP delivery (RFC 2033 §4.2:
// one reply per recipient; an unknown one gets 550 5.1.1 while the others are delivered) as EXISTS at once;
// POP3 (RFC 1939) logs in with USER/PASS and over implicit TLS (RFC 8314 §3.3), retrieves it and deletes it
// at QUIT, and the IDLE session sees the EXPUNGE; SIGTERM closes every listener (the socket file goes away).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, statSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ImapTestClient } from '../helpers/imap-client.js';
import { LineClient } from '../pop3/line-client.js';
import { freePort, petrel, serve, type Serving } from './serve-process.js';

/** Connecting to a closed port is refused. */
function refused(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    s.once('connect', () => {
      s.destroy();
      resolve(false);
    });
    s.once('error', () => resolve(true));
  });
}

async function lmtpDeliver(c: LineClient, from: string, rcpts: string[], body: string): Promise<{ rcpt: string[]; data: string[] }> {
  const lhlo = await c.command('LHLO mta.example.net');
  assert.match(lhlo, /^250-/);
  while (!/^250 /.test(await c.line()));
  assert.match(await c.command(`MAIL FROM:<${from}>`), /^250 /);
  const rcpt: string[] = [];
  for (const r of rcpts) rcpt.push(await c.command(`RCPT TO:<${r}>`));
  assert.match(await c.command('DATA'), /^354 /);
  c.sendRaw(body.replace(/\r?\n/g, '\r\n').replace(/^\./gm, '..') + '.\r\n');
  const data: string[] = [];
  for (const r of rcpt) if (r.startsWith('250')) data.push(await c.line());
  assert.match(await c.command('QUIT'), /^221 /);
  return { rcpt, data };
}

test('petrel serve: LMTP delivers (IDLE sees it), POP3 and POP3S log in, retrieve and delete; clean stop', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'petrel-serve-mail-'));
  const data = join(dir, 'data');
  const socket = join(dir, 'lmtp.sock');
  let running: Serving | null = null;
  let idle: ImapTestClient | null = null;
  try {
    const [imapPort, pop3Port, pop3sPort, lmtpPort] = [await freePort(), await freePort(), await freePort(), await freePort()];
    running = await serve(
      ['--data', data, '--imap-port', String(imapPort), '--imaps-port', '0', '--pop3-port', String(pop3Port),
        '--pop3s-port', String(pop3sPort), '--lmtp-port', String(lmtpPort), '--lmtp-socket', socket],
      { PETREL_LMTP_SOCKET_MODE: '0600' },
    );
    const { user, password } = running;
    assert.ok(user && password, running.stdout);
    assert.match(running.stdout, new RegExp(`POP3\\s+127\\.0\\.0\\.1:${pop3Port}\\s+STLS`));
    assert.match(running.stdout, new RegExp(`POP3S\\s+127\\.0\\.0\\.1:${pop3sPort}\\s+implicit TLS`));
    assert.match(running.stdout, new RegExp(`LMTP\\s+127\\.0\\.0\\.1:${lmtpPort}\\s+delivery`));
    assert.ok(running.stdout.includes(`LMTP   unix:${socket}`), running.stdout);
    assert.match(running.stderr(), /POP3 listening/);
    assert.match(running.stderr(), /LMTP listening/);
    const added = await petrel(['user', 'add', 'bob', '--data', data, '--password', 'bob-password']);
    assert.equal(added.code, 0, added.stderr);

    // An IMAP session idles on INBOX.
    idle = await ImapTestClient.connect(imapPort);
    assert.match((await idle.command('a1', `LOGIN "${user}" "${password}"`)).tagged, /^a1 OK/);
    const selected = await idle.command('a2', 'SELECT INBOX');
    assert.ok(selected.untagged.includes('* 0 EXISTS'), selected.untagged.join('\n'));
    idle.send('a3 IDLE');
    await idle.waitFor(/^\+ /);

    // LMTP over TCP: three recipients, one unknown.
    const message = `From: sender@example.net\r\nTo: ${user}@example.org\r\nSubject: via LMTP\r\nMessage-ID: <lmtp-1@example.net>\r\n\r\nHello over LMTP.\r\n.leading dot\r\n`;
    const lmtp = await LineClient.connect({ port: lmtpPort });
    assert.match(lmtp.greeting, /^220 .*LMTP/);
    const r = await lmtpDeliver(lmtp, 'sender@example.net', [`${user}@example.org`, 'nobody-here@example.org', 'bob@example.org'], message);
    assert.match(r.rcpt[0]!, /^250 2\.1\.5 /);
    assert.match(r.rcpt[1]!, /^550 5\.1\.1 /);
    assert.match(r.rcpt[2]!, /^250 2\.1\.5 /);
    assert.equal(r.data.length, 2, 'one reply per accepted recipient');
    for (const line of r.data) assert.match(line, /^250 2\.0\.0 /);
    // IDLE sees the delivery.
    await idle.waitFor(/^\* 1 EXISTS$/);

    // LMTP over the Unix socket, with the mode asked for.
    assert.equal(statSync(socket).mode & 0o777, 0o600);
    const viaSocket = await LineClient.connect({ path: socket });
    const r2 = await lmtpDeliver(viaSocket, '', [`${user}@example.org`], 'Subject: via the socket\r\n\r\nsecond\r\n');
    assert.deepEqual(r2.data.map((l) => l.slice(0, 9)), ['250 2.0.0']);
    await idle.waitFor(/^\* 2 EXISTS$/);

    // POP3 (cleartext from loopback): both messages, the first with the LMTP trace headers.
    const pop = await LineClient.connect({ port: pop3Port });
    assert.match(pop.greeting, /^\+OK/);
    assert.match(await pop.command(`USER ${user}`), /^\+OK/);
    assert.match(await pop.command(`PASS ${password}`), /^\+OK/);
    assert.match(await pop.command('STAT'), /^\+OK 2 \d+$/);
    assert.match(await pop.command('RETR 1'), /^\+OK/);
    const first = await pop.message();
    assert.ok(first.startsWith('Return-Path: <sender@example.net>\r\nDelivered-To: '), first);
    assert.ok(first.endsWith(message), first);
    assert.match(await pop.command('DELE 1'), /^\+OK/);
    // A second POP3 session on the same maildrop is refused while this one holds it — also over POP3S.
    const other = await LineClient.connect({ port: pop3sPort }, true);
    assert.match(await other.command(`USER ${user}`), /^\+OK/);
    assert.match(await other.command(`PASS ${password}`), /^-ERR \[IN-USE\]/);
    other.close();
    assert.match(await pop.command('QUIT'), /^\+OK/);
    // The IMAP session sees the POP3 deletion.
    await idle.waitFor(/^\* 1 EXPUNGE$/);
    idle.send('DONE');
    assert.match((await idle.readTagged('a3')).tagged, /^a3 OK/);
    assert.match((await idle.command('a4', 'LOGOUT')).tagged, /^a4 OK/);
    idle.close();
    idle = null;

    // POP3S: bob got the first delivery too; a wrong password is refused.
    const bob = await LineClient.connect({ port: pop3sPort }, true);
    assert.match(await bob.command('USER bob'), /^\+OK/);
    assert.match(await bob.command('PASS wrong'), /^-ERR \[AUTH\]/);
    assert.match(await bob.command('USER bob'), /^\+OK/);
    assert.match(await bob.command('PASS bob-password'), /^\+OK/);
    assert.match(await bob.command('LIST'), /^\+OK/);
    assert.equal((await bob.multiline()).length, 1);
    assert.match(await bob.command('TOP 1 0'), /^\+OK/);
    assert.ok((await bob.message()).includes('Delivered-To: bob@example.org\r\n'));
    assert.match(await bob.command('QUIT'), /^\+OK/);

    assert.equal(await running.stop(), 0, running.stderr());
    assert.match(running.stderr(), /shutting down signal=SIGTERM/);
    running = null;
    for (const port of [imapPort, pop3Port, pop3sPort, lmtpPort]) assert.ok(await refused(port), `port ${port} is closed`);
    assert.equal(existsSync(socket), false, 'the LMTP socket file is removed');
  } finally {
    idle?.close();
    running?.child.kill('SIGKILL');
    await rm(dir, { recursive: true, force: true });
  }
});

test('petrel serve: LMTP stays on loopback when IMAP and POP3 listen on all addresses', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'petrel-serve-lmtp-host-'));
  let running: Serving | null = null;
  try {
    const [imapPort, pop3Port, lmtpPort] = [await freePort(), await freePort(), await freePort()];
    running = await serve(['--data', join(dir, 'data'), '--host', '0.0.0.0', '--imap-port', String(imapPort), '--imaps-port', '0',
      '--pop3-port', String(pop3Port), '--pop3s-port', '0', '--lmtp-port', String(lmtpPort)]);
    assert.match(running.stdout, new RegExp(`LMTP\\s+127\\.0\\.0\\.1:${lmtpPort}\\s+delivery`));
    assert.match(running.stderr(), new RegExp(`LMTP listening host=127\\.0\\.0\\.1 lmtpPort=${lmtpPort}`));
    assert.match(running.stderr(), new RegExp(`POP3 listening host=0\\.0\\.0\\.0 pop3Port=${pop3Port}`));
    assert.doesNotMatch(running.stderr(), /LMTP has no authentication/);
    assert.equal(await running.stop(), 0, running.stderr());
    running = null;
  } finally {
    running?.child.kill('SIGKILL');
    await rm(dir, { recursive: true, force: true });
  }
});
