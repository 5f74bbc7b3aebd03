// End to end: the real `petrel` executable (bin/petrel.js) with the real store and server, in child
// processes. First start prints the generated password once and it logs in over cleartext IMAP from
// loopback and over implicit TLS (RFC 8314); `petrel user add` / `mailbox create` work on the same data
// directory while the server runs; SIGTERM stops it with status 0; a second start creates no account.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';
import { fileURLToPath } from 'node:url';
import { freePort } from '../../tools/lib/ports.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const BIN = join(ROOT, 'bin', 'petrel.js');


/** Runs `petrel ...args` to completion. */
function petrel(args: string[], input?: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { cwd: ROOT, env: cleanEnv() });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(input ?? '');
  });
}

function cleanEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('PETREL_')) env[k] = v;
  return env;
}

interface Serving {
  child: ChildProcess;
  stdout: string;
  stderr(): string;
  exited: Promise<number | null>;
}

/** Starts `petrel serve` and resolves once it printed its connection help. */
function serve(args: string[]): Promise<Serving> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, 'serve', ...args], { cwd: ROOT, env: cleanEnv() });
    let stdout = '';
    let stderr = '';
    const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`petrel serve did not start:\n${stdout}\n${stderr}`));
    }, 20_000);
    child.stderr.on('data', (d) => (stderr += d));
    child.stdout.on('data', (d) => {
      stdout += d;
      if (stdout.includes('Stop with Ctrl-C.')) {
        clearTimeout(timer);
        resolve({ child, stdout, stderr: () => stderr, exited });
      }
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`petrel serve exited with ${code}:\n${stdout}\n${stderr}`));
    });
  });
}

/** Logs in with a raw IMAP exchange; returns the tagged LOGIN response line. */
async function login(socket: net.Socket, user: string, password: string): Promise<string> {
  let buffer = '';
  const lines: string[] = [];
  let waiter: (() => void) | null = null;
  socket.setEncoding('utf8');
  socket.on('data', (d: string) => {
    buffer += d;
    let i: number;
    while ((i = buffer.indexOf('\r\n')) >= 0) {
      lines.push(buffer.slice(0, i));
      buffer = buffer.slice(i + 2);
    }
    waiter?.();
  });
  const nextLine = async (): Promise<string> => {
    while (lines.length === 0) await new Promise<void>((r) => (waiter = r));
    return lines.shift()!;
  };
  const greeting = await nextLine();
  assert.match(greeting, /^\* OK /);
  socket.write(`a1 LOGIN "${user}" "${password}"\r\n`);
  for (;;) {
    const line = await nextLine();
    if (line.startsWith('a1 ')) {
      socket.end('a2 LOGOUT\r\n');
      return line;
    }
  }
}

async function plainLogin(port: number, user: string, password: string): Promise<string> {
  const socket = net.connect(port, '127.0.0.1');
  await new Promise<void>((r, j) => socket.once('connect', r).once('error', j));
  return login(socket, user, password);
}

async function tlsLogin(port: number, user: string, password: string): Promise<string> {
  const socket = tls.connect({ port, host: '127.0.0.1', rejectUnauthorized: false });
  await new Promise<void>((r, j) => socket.once('secureConnect', r).once('error', j));
  return login(socket, user, password);
}

test('petrel serve: first start, logins over IMAP and IMAPS, admin commands alongside, clean stop, restart', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'petrel-serve-'));
  const data = join(dir, 'data');
  let running: Serving | null = null;
  try {
    const imapPort = await freePort();
    const imapsPort = await freePort();
    const args = ['--data', data, '--imap-port', String(imapPort), '--imaps-port', String(imapsPort), '--pop3-port', '0', '--pop3s-port', '0'];
    running = await serve(args);
    const out = running.stdout;
    const user = /\|\s+user:\s+(\S+)\s+\|/.exec(out)?.[1];
    const password = /\|\s+password:\s+(\S+)\s+\|/.exec(out)?.[1];
    assert.ok(user && password, out);
    assert.match(out, new RegExp(`IMAP\\s+127\\.0\\.0\\.1:${imapPort}\\s+STARTTLS`));
    assert.match(out, new RegExp(`IMAPS\\s+127\\.0\\.0\\.1:${imapsPort}\\s+implicit TLS`));
    assert.equal(out.split(password).length - 1, 2, 'the password appears in the box and the example only');
    const fingerprint = /SHA-256 ([0-9A-F:]+)/.exec(out)?.[1];
    assert.ok(fingerprint);

    assert.match(await plainLogin(imapPort, user, password), /^a1 OK/);
    assert.match(await tlsLogin(imapsPort, user, password), /^a1 OK/);
    assert.match(await plainLogin(imapPort, user, 'wrong-password'), /^a1 NO/);

    // Administration on the same data directory while the server runs.
    const added = await petrel(['user', 'add', 'bob', '--data', data, '--password-stdin'], 'bob-password\n');
    assert.equal(added.code, 0, added.stderr);
    assert.match(await plainLogin(imapPort, 'bob', 'bob-password'), /^a1 OK/);
    const created = await petrel(['mailbox', 'create', 'Lists/petrel', '--user', 'bob', '--data', data]);
    assert.equal(created.code, 0, created.stderr);
    const listed = await petrel(['mailbox', 'list', '--user', 'bob', '--data', data]);
    assert.match(listed.stdout, /\nLists\/petrel\s+yes\s+0\s+0\s+0\n/);
    assert.match(listed.stdout, /\nSent\s+\\Sent\s+yes/);
    const users = await petrel(['user', 'list', '--data', data]);
    assert.deepEqual(users.stdout.trim().split('\n').slice(1).map((l) => l.split(/\s+/)[0]).sort(), ['bob', user].sort());

    const passwd = await petrel(['user', 'passwd', 'bob', '--data', data]);
    assert.equal(passwd.code, 0, passwd.stderr);
    const bobNew = /Password: (\S+)\n/.exec(passwd.stdout)?.[1];
    assert.ok(bobNew, passwd.stdout);
    assert.match(await plainLogin(imapPort, 'bob', bobNew), /^a1 OK/);
    const deleted = await petrel(['user', 'del', 'bob', '--data', data]);
    assert.equal(deleted.code, 0, deleted.stderr);
    assert.match(await plainLogin(imapPort, 'bob', bobNew), /^a1 NO/);
    assert.equal((await petrel(['user', 'add', 'bob', '--data', data, '--password', 'again'])).code, 0);

    running.child.kill('SIGTERM');
    assert.equal(await running.exited, 0, running.stderr());
    assert.match(running.stderr(), /shutting down signal=SIGTERM/);
    running = null;

    // Second start: no new account, no password, the same certificate.
    running = await serve(args);
    assert.doesNotMatch(running.stdout, /password:/);
    assert.doesNotMatch(running.stdout, new RegExp(password));
    assert.ok(running.stdout.includes(`SHA-256 ${fingerprint}`));
    assert.match(running.stdout, /Accounts: (bob, \S+|\S+, bob)\n/);
    assert.match(await tlsLogin(imapsPort, user, password), /^a1 OK/);
    running.child.kill('SIGINT');
    assert.equal(await running.exited, 0, running.stderr());
    running = null;

    // A port already in use: one readable line, status 1.
    const blocker = net.createServer();
    await new Promise<void>((r) => blocker.listen(imapPort, '127.0.0.1', r));
    try {
      const busy = await petrel(['serve', ...args, '--log-level', 'silent']);
      assert.equal(busy.code, 1);
      assert.equal(busy.stderr, `petrel: cannot listen on 127.0.0.1:${imapPort}: the address is already in use\n`);
    } finally {
      blocker.close();
    }
  } finally {
    running?.child.kill('SIGKILL');
    await rm(dir, { recursive: true, force: true });
  }
});

test('petrel --help and a usage error through the real executable', async () => {
  const help = await petrel(['--help']);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /Usage: petrel \[options\] \[command\]/);
  const bad = await petrel(['serve', '--imap-port', 'many']);
  assert.equal(bad.code, 2);
  assert.equal(bad.stderr, 'petrel: --imap-port: "many" is not a port number (0-65535; 0 disables)\n');
});
