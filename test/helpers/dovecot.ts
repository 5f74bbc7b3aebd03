// A reusable Dovecot harness: Debian's dovecot-imapd started in the foreground (`dovecot -F -c CONFIG`) on
// 127.0.0.1 with a free port and its own configuration, base_dir, mail store and passwd-file in a temp
// directory. Used by the benchmark (issue 2 item 10) and by interop / differential tests that compare Petrel
// with Dovecot on the same mail (ARCHITECTURE.md, tests 4 and 6). It speaks plain IMAP (RFC 9051 §2.1) on
// loopback only: ssl = no, cleartext authentication allowed.
//
// The harness writes a configuration for the installed major version: Dovecot 2.3 (Debian 12) uses
// `mail_location` / `disable_plaintext_auth`, Dovecot 2.4 (Debian 13) `mail_driver` / `mail_path` /
// `auth_allow_cleartext` and named passdb/userdb blocks.
import { spawn, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, mkdirSync, writeFileSync, readFileSync, rmSync, chmodSync, chownSync, existsSync, readdirSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../../tools/lib/ports.js';
export { freePort };

export type DovecotMailFormat = 'maildir' | 'sdbox';

export interface DovecotOptions {
  /** Mail storage format (default maildir). */
  mailFormat?: DovecotMailFormat;
  /** Login name of the test user (default "tester"). */
  user?: string;
  /** Password of the test user (default "secret-password"). */
  password?: string;
  /** More accounts in the same passwd-file. */
  extraUsers?: Array<{ user: string; password: string }>;
  /** How many concurrent IMAP connections Dovecot must accept (raises process/client limits). Default 200. */
  maxConnections?: number;
  /** Top-level settings written after the generated ones, e.g. `{ auth_failure_delay: '0' }`. */
  settings?: Record<string, string | number>;
  /** Settings inside `protocol imap { }`, e.g. `{ imap_capability: '+XFOO' }` or a full capability list to
   *  switch extensions off (interop tests), `imap_idle_notify_interval`, ... */
  imapSettings?: Record<string, string | number>;
  /** Configuration appended verbatim after the generated one. */
  extraConfig?: string;
  /** Keep the temp directory after stop() (for debugging). */
  keepDir?: boolean;
  /** Milliseconds to wait for the greeting (default 15000). */
  startTimeoutMs?: number;
  /** Print nothing when Dovecot is missing. */
  quiet?: boolean;
  /** Also serve POP3 (needs Debian's dovecot-pop3d) on a free loopback port, given as `pop3Port`. */
  pop3?: boolean;
}

export interface DovecotServer {
  host: string;
  port: number;
  /** The POP3 port when started with `pop3: true`, else null. */
  pop3Port: number | null;
  user: string;
  password: string;
  /** Dovecot's version string, e.g. "2.3.19.1". */
  version: string;
  /** PID of the master process (its children are the login, auth, imap... processes). */
  pid: number;
  /** The temp directory holding config, run, mail and log. */
  dir: string;
  configFile: string;
  logFile: string;
  mailFormat: DovecotMailFormat;
  /** The mail root of a user (maildir: contains cur/new/tmp of INBOX and .Folder subdirectories). */
  mailDir(user?: string): string;
  /** Numeric uid/gid mail is stored with (files written into mailDir() directly must be owned by them). */
  mailUid: number;
  mailGid: number;
  /** Last `maxBytes` of the Dovecot log. */
  readLog(maxBytes?: number): string;
  stop(): Promise<void>;
}

const DOVECOT_CANDIDATES = ['/usr/sbin/dovecot', '/usr/local/sbin/dovecot', '/usr/bin/dovecot'];

/** Path of the dovecot binary, or null if it is not installed. */
export function findDovecot(): string | null {
  for (const p of DOVECOT_CANDIDATES) if (existsSync(p)) return p;
  const r = spawnSync('sh', ['-c', 'command -v dovecot'], { encoding: 'utf8' });
  const found = r.status === 0 ? r.stdout.trim() : '';
  return found !== '' ? found : null;
}

let installPromise: Promise<boolean> | null = null;

/**
 * Installs Debian's dovecot-imapd with apt-get when `dovecot` is missing (the project installs what it needs
 * itself). Runs `apt-get update` at most once per process. Resolves true when dovecot is usable afterwards.
 * Needs root (or passwordless sudo); otherwise resolves false with a message.
 */
export function ensureDovecotInstalled(opts: { quiet?: boolean } = {}): Promise<boolean> {
  if (findDovecot() !== null) return Promise.resolve(true);
  installPromise ??= installDovecot(opts.quiet ?? false);
  return installPromise;
}

async function installDovecot(quiet: boolean): Promise<boolean> {
  const say = (msg: string) => {
    if (!quiet) console.error(`[dovecot] ${msg}`);
  };
  const hasAptGet = spawnSync('sh', ['-c', 'command -v apt-get'], { encoding: 'utf8' }).status === 0;
  if (!hasAptGet) {
    say('dovecot is not installed and apt-get is not available; install dovecot-imapd by hand.');
    return false;
  }
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  const prefix: string[] = [];
  if (!isRoot) {
    const sudoOk = spawnSync('sudo', ['-n', 'true'], { stdio: 'ignore' }).status === 0;
    if (!sudoOk) {
      say('dovecot is not installed and installing it needs root: run `sudo apt-get install -y dovecot-imapd`.');
      return false;
    }
    prefix.push('sudo', '-n');
  }
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const run = (args: string[]) =>
    new Promise<number>((resolve) => {
      const cmd = [...prefix, ...args];
      say(`running: ${cmd.join(' ')}`);
      const child = spawn(cmd[0]!, cmd.slice(1), { env, stdio: ['ignore', 'ignore', 'pipe'] });
      let err = '';
      child.stderr.on('data', (d: Buffer) => {
        err += d.toString('utf8');
        if (err.length > 20_000) err = err.slice(-10_000);
      });
      child.on('error', (e) => {
        say(`${cmd[0]}: ${e.message}`);
        resolve(127);
      });
      child.on('close', (code) => {
        if (code !== 0) say(`${cmd.join(' ')} exited with ${code}: ${err.trim().slice(-2000)}`);
        resolve(code ?? 1);
      });
    });
  if ((await run(['apt-get', 'update'])) !== 0) say('apt-get update failed; trying the install anyway.');
  const code = await run(['apt-get', 'install', '-y', '--no-install-recommends', 'dovecot-imapd']);
  if (code !== 0 || findDovecot() === null) {
    say('could not install dovecot-imapd.');
    return false;
  }
  // The package's postinst may have started a system-wide dovecot on ports 143/993; it does not disturb
  // ours (own base_dir, own port), so it is left alone.
  return true;
}

/** The installed Dovecot version (e.g. "2.3.19.1"), or null. */
export function dovecotVersion(binary = findDovecot()): string | null {
  if (binary === null) return null;
  const r = spawnSync(binary, ['--version'], { encoding: 'utf8' });
  if (r.status !== 0) return null;
  const m = /^(\d+\.\d+(?:\.\d+)*)/.exec(r.stdout.trim());
  return m ? m[1]! : null;
}


interface Account {
  name: string;
  uid: number;
  gid: number;
}

/** Looks a system account up in /etc/passwd (no getpwnam in Node). */
function lookupAccount(name: string): Account | null {
  try {
    for (const line of readFileSync('/etc/passwd', 'utf8').split('\n')) {
      const f = line.split(':');
      if (f[0] === name && f.length >= 4) return { name, uid: Number(f[2]), gid: Number(f[3]) };
    }
  } catch {
    /* no /etc/passwd */
  }
  return null;
}

function accountByUid(uid: number): Account | null {
  try {
    for (const line of readFileSync('/etc/passwd', 'utf8').split('\n')) {
      const f = line.split(':');
      if (f.length >= 4 && Number(f[2]) === uid) return { name: f[0]!, uid, gid: Number(f[3]) };
    }
  } catch {
    /* no /etc/passwd */
  }
  return null;
}

interface Identities {
  /** default_internal_user (auth, stats, anvil...). */
  internal: Account;
  /** default_login_user (imap-login). */
  login: Account;
  /** Owner of the mail files; Dovecot refuses mail access as uid 0. */
  mail: Account;
}

/**
 * Which system users Dovecot's processes run as. As root: the package's `dovecot` / `dovenull` users for
 * internal and login processes and `nobody` for mail (Dovecot never serves mail as root). As an ordinary user:
 * that user for everything (Dovecot then cannot change uid, so every service must run as us).
 */
function chooseIdentities(): Identities {
  const uid = typeof process.getuid === 'function' ? process.getuid() : 0;
  if (uid !== 0) {
    const gid = typeof process.getgid === 'function' ? process.getgid() : uid;
    const me = accountByUid(uid) ?? { name: String(uid), uid, gid };
    return { internal: me, login: me, mail: me };
  }
  const root: Account = { name: 'root', uid: 0, gid: 0 };
  const internal = lookupAccount('dovecot') ?? root;
  const login = lookupAccount('dovenull') ?? internal;
  const mail = lookupAccount('nobody') ?? lookupAccount('dovenull') ?? lookupAccount('dovecot');
  if (mail === null) throw new Error('no unprivileged system user (nobody/dovenull/dovecot) to own the mail');
  return { internal, login, mail };
}

function majorMinor(version: string): [number, number] {
  const [a, b] = version.split('.');
  return [Number(a ?? 0), Number(b ?? 0)];
}

interface ConfigInput {
  version: string;
  dir: string;
  port: number;
  ids: Identities;
  mailFormat: DovecotMailFormat;
  passwdFile: string;
  logFile: string;
  maxConnections: number;
  settings: Record<string, string | number>;
  imapSettings: Record<string, string | number>;
  pop3Port: number | null;
}

function settingLines(settings: Record<string, string | number>, indent: string): string {
  return Object.entries(settings)
    .map(([k, v]) => {
      if (!/^[a-z0-9_]+$/i.test(k) || /[\r\n]/.test(String(v))) throw new Error(`bad Dovecot setting ${k}`);
      return `${indent}${k} = ${v}\n`;
    })
    .join('');
}

function buildConfig(c: ConfigInput): string {
  const [major, minor] = majorMinor(c.version);
  const is24 = major > 2 || (major === 2 && minor >= 4);
  const procLimit = Math.max(100, c.maxConnections + 50);
  const clientLimit = Math.max(1000, c.maxConnections * 2 + 100);
  const common = (userVar: string) => `
base_dir = ${c.dir}/run
state_dir = ${c.dir}/state
log_path = ${c.logFile}
info_log_path = ${c.logFile}
debug_log_path = ${c.logFile}
protocols = imap${c.pop3Port !== null ? ' pop3' : ''}
listen = 127.0.0.1
ssl = no
auth_mechanisms = plain login
default_internal_user = ${c.ids.internal.name}
default_internal_group = ${groupName(c.ids.internal.gid)}
default_login_user = ${c.ids.login.name}
first_valid_uid = 0
first_valid_gid = 0
default_process_limit = ${procLimit}
default_client_limit = ${clientLimit}
default_vsz_limit = 0
login_greeting = Dovecot ready.
mail_home = ${c.dir}/home/${userVar}
mail_uid = ${c.ids.mail.uid}
mail_gid = ${c.ids.mail.gid}

service imap-login {
  chroot =
  process_limit = ${procLimit}
  inet_listener imap {
${is24 ? '' : '    address = 127.0.0.1\n'}    port = ${c.port}
  }
  inet_listener imaps {
    port = 0
  }
}
service imap {
  process_limit = ${procLimit}
}
${
  c.pop3Port !== null
    ? `service pop3-login {
  chroot =
  inet_listener pop3 {
${is24 ? '' : '    address = 127.0.0.1\n'}    port = ${c.pop3Port}
  }
  inet_listener pop3s {
    port = 0
  }
}
`
    : ''
}service anvil {
  # chroot needs root; the harness must also work for an ordinary user.
  chroot =
  client_limit = ${clientLimit + procLimit}
}
service stats {
  client_limit = ${clientLimit + procLimit}
  unix_listener stats-writer {
    mode = 0666
  }
}
service auth {
  client_limit = ${clientLimit + procLimit}
}
protocol imap {
  mail_max_userip_connections = ${c.maxConnections + 10}
${settingLines(c.imapSettings, '  ')}}
${settingLines(c.settings, '')}`;
  if (is24) {
    return `# Generated by test/helpers/dovecot.ts for Dovecot ${c.version}
dovecot_config_version = 2.4.0
dovecot_storage_version = 2.4.0
${common('%{user}')}
auth_allow_cleartext = yes
mail_driver = ${c.mailFormat}
mail_path = ${c.dir}/mail/%{user}
passdb passwd-file {
  passwd_file_path = ${c.passwdFile}
}
userdb passwd-file {
  passwd_file_path = ${c.passwdFile}
}
`;
  }
  return `# Generated by test/helpers/dovecot.ts for Dovecot ${c.version}
${common('%u')}
disable_plaintext_auth = no
mail_location = ${c.mailFormat}:${c.dir}/mail/%u
passdb {
  driver = passwd-file
  args = ${c.passwdFile}
}
userdb {
  driver = passwd-file
  args = ${c.passwdFile}
}
`;
}

function groupName(gid: number): string {
  try {
    for (const line of readFileSync('/etc/group', 'utf8').split('\n')) {
      const f = line.split(':');
      if (f.length >= 3 && Number(f[2]) === gid) return f[0]!;
    }
  } catch {
    /* no /etc/group */
  }
  return String(gid);
}

/** Resolves with the greeting line once the server answers, rejects on timeout. */
function waitForGreeting(port: number, timeoutMs: number, exited: () => string | null): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  return new Promise((resolve, reject) => {
    const attempt = () => {
      const why = exited();
      if (why !== null) {
        reject(new Error(why));
        return;
      }
      if (Date.now() > deadline) {
        reject(new Error(`no IMAP greeting on 127.0.0.1:${port} within ${timeoutMs} ms`));
        return;
      }
      const sock = connect({ host: '127.0.0.1', port });
      let buf = '';
      const retry = () => {
        sock.destroy();
        setTimeout(attempt, 50);
      };
      sock.setTimeout(2000, retry);
      sock.on('error', retry);
      sock.on('data', (d: Buffer) => {
        buf += d.toString('latin1');
        const nl = buf.indexOf('\r\n');
        if (nl >= 0) {
          sock.removeListener('error', retry);
          sock.on('error', () => {});
          sock.end('z LOGOUT\r\n');
          setTimeout(() => sock.destroy(), 200).unref();
          resolve(buf.slice(0, nl));
        }
      });
    };
    attempt();
  });
}

/** Live Dovecot masters and the temp directory each one owns (null when it is to be kept). */
const running = new Map<ChildProcess, string | null>();
let exitHookInstalled = false;
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // A test or bench that crashes or is interrupted must not leave Dovecot masters behind (dovecot -F keeps
  // running when its parent dies).
  const killAll = () => {
    for (const [child, dir] of running) {
      try {
        child.kill('SIGKILL');
        if (dir !== null) rmSync(dir, { recursive: true, force: true });
      } catch {
        /* already gone */
      }
    }
  };
  process.on('exit', killAll);
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(sig, () => {
      killAll();
      // Keep the default behaviour (terminate) unless the host process handles the signal itself.
      if (process.listenerCount(sig) === 0) process.kill(process.pid, sig);
    });
  }
}

/**
 * Starts a private Dovecot IMAP server. Returns null (after printing why) when Dovecot is not installed; call
 * ensureDovecotInstalled() first to install it. Throws when it is installed but does not come up (the error
 * carries the tail of its log).
 */
export async function startDovecot(opts: DovecotOptions = {}): Promise<DovecotServer | null> {
  const binary = findDovecot();
  if (binary === null) {
    if (opts.quiet !== true) {
      console.error('[dovecot] dovecot is not installed (Debian: apt-get install dovecot-imapd); skipping Dovecot.');
    }
    return null;
  }
  const version = dovecotVersion(binary) ?? '2.3.0';
  const user = opts.user ?? 'tester';
  const password = opts.password ?? 'secret-password';
  const mailFormat = opts.mailFormat ?? 'maildir';
  const ids = chooseIdentities();

  const dir = mkdtempSync(join(tmpdir(), 'petrel-dovecot-'));
  // Unprivileged Dovecot processes (mail user, login user) must be able to walk into the directory.
  chmodSync(dir, 0o755);
  for (const sub of ['run', 'state', 'mail', 'home']) mkdirSync(join(dir, sub), { mode: 0o755 });
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  if (isRoot) {
    chownSync(join(dir, 'mail'), ids.mail.uid, ids.mail.gid);
    chownSync(join(dir, 'home'), ids.mail.uid, ids.mail.gid);
  }
  const passwdFile = join(dir, 'passwd');
  const users = [{ user, password }, ...(opts.extraUsers ?? [])];
  for (const u of users) {
    if (/[:\n\r]/.test(u.user) || /[\n\r]/.test(u.password)) throw new Error(`unusable test account ${u.user}`);
  }
  // passwd-file: user:password:uid:gid:gecos:home:shell:extra (the {PLAIN} prefix names the scheme).
  writeFileSync(
    passwdFile,
    users
      .map((u) => `${u.user}:{PLAIN}${u.password}:${ids.mail.uid}:${ids.mail.gid}::${join(dir, 'home', u.user)}::\n`)
      .join(''),
    { mode: 0o644 },
  );
  const logFile = join(dir, 'dovecot.log');
  writeFileSync(logFile, '', { mode: 0o666 });
  const port = await freePort();
  const pop3Port = opts.pop3 === true ? await freePort() : null;
  const configFile = join(dir, 'dovecot.conf');
  writeFileSync(
    configFile,
    buildConfig({
      version,
      dir,
      port,
      ids,
      mailFormat,
      passwdFile,
      logFile,
      maxConnections: opts.maxConnections ?? 200,
      settings: opts.settings ?? {},
      imapSettings: opts.imapSettings ?? {},
      pop3Port,
    }) + (opts.extraConfig ?? ''),
  );

  const readLog = (maxBytes = 4000): string => {
    try {
      const text = readFileSync(logFile, 'utf8');
      return text.length > maxBytes ? text.slice(-maxBytes) : text;
    } catch {
      return '';
    }
  };

  installExitHook();
  const child = spawn(binary, ['-F', '-c', configFile], { stdio: ['ignore', 'pipe', 'pipe'], detached: false });
  running.set(child, opts.keepDir === true ? null : dir);
  let output = '';
  const collect = (d: Buffer) => {
    output += d.toString('utf8');
    if (output.length > 20_000) output = output.slice(-10_000);
  };
  child.stdout?.on('data', collect);
  child.stderr?.on('data', collect);
  let exitInfo: string | null = null;
  const exitPromise = new Promise<void>((resolve) => {
    child.on('exit', (code, signal) => {
      running.delete(child);
      exitInfo = `dovecot exited (code ${code}, signal ${signal})`;
      resolve();
    });
    child.on('error', (e) => {
      running.delete(child);
      exitInfo = `dovecot failed to start: ${e.message}`;
      resolve();
    });
  });

  const cleanup = () => {
    if (opts.keepDir !== true) rmSync(dir, { recursive: true, force: true });
  };

  try {
    await waitForGreeting(port, opts.startTimeoutMs ?? 15_000, () => exitInfo);
  } catch (e) {
    if (exitInfo === null) {
      child.kill('SIGKILL');
      await exitPromise;
    }
    const detail = `${(e as Error).message}\n--- output ---\n${output.trim()}\n--- log ---\n${readLog()}`;
    cleanup();
    throw new Error(`Dovecot ${version} did not start: ${detail}`);
  }

  let stopped: Promise<void> | null = null;
  const stop = (): Promise<void> => {
    stopped ??= (async () => {
      if (exitInfo === null) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => {
          if (exitInfo === null) child.kill('SIGKILL');
        }, 5000);
        await exitPromise;
        clearTimeout(timer);
      }
      // Children (imap, imap-login...) exit when the master does; give them a moment before removing files.
      await waitForChildrenGone(child.pid ?? -1, 3000);
      cleanup();
    })();
    return stopped;
  };

  return {
    host: '127.0.0.1',
    port,
    pop3Port,
    user,
    password,
    version,
    pid: child.pid ?? -1,
    dir,
    configFile,
    logFile,
    mailFormat,
    mailDir: (u = user) => join(dir, 'mail', u),
    mailUid: ids.mail.uid,
    mailGid: ids.mail.gid,
    readLog,
    stop,
  };
}

/** PIDs of the live descendants of `pid` (from /proc; empty where /proc is missing). */
export function descendantPids(pid: number): number[] {
  const parentOf = new Map<number, number>();
  let entries: string[] = [];
  try {
    entries = readdirSync('/proc');
  } catch {
    return [];
  }
  for (const name of entries) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      // Field 4 (ppid) follows the ")" closing the command name, which may itself contain spaces.
      const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      parentOf.set(Number(name), Number(rest[1]));
    } catch {
      /* process vanished */
    }
  }
  const out: number[] = [];
  const frontier = [pid];
  while (frontier.length > 0) {
    const p = frontier.pop()!;
    for (const [child, parent] of parentOf) {
      if (parent === p) {
        out.push(child);
        frontier.push(child);
      }
    }
  }
  return out;
}

async function waitForChildrenGone(pid: number, timeoutMs: number): Promise<void> {
  if (pid < 0) return;
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline && descendantPids(pid).length > 0) {
    await new Promise((r) => setTimeout(r, 50));
  }
}
