// mbsync (Debian's `isync` package) as the reference client of the sync benchmark (issue 5, item 11): a
// private .mbsyncrc in a temp directory (IMAP account on the counting proxy, plain TCP, LOGIN; a Maildir near
// side; one channel over every mailbox, creating them locally, state files inside each maildir), one timed
// run of `mbsync -a` with its peak RSS, and a count of what landed in the local maildirs.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { ensureDebianPackages } from '../test/helpers/debian.js';

export interface MbsyncSetup {
  /** The .mbsyncrc written. */
  configFile: string;
  /** Root of the local Maildir tree (INBOX is `<root>/INBOX`). */
  mailRoot: string;
}

export interface ProcessRun {
  /** Wall time from spawn to exit. */
  ms: number;
  exitCode: number;
  /** Peak resident set size (VmHWM), KiB; sampled every 10 ms, so a lower bound for very short runs. */
  peakRssKiB: number;
  /** User + system CPU time, ms (from /proc/PID/stat, sampled every 10 ms: up to ~10 ms short). */
  cpuMs: number;
  stdout: string;
  stderr: string;
}

/** Installs isync when missing (apt-get through test/helpers/debian.ts). Returns mbsync's version line. */
export async function ensureMbsync(): Promise<string> {
  await ensureDebianPackages(['isync']);
  const r = await runProcess('mbsync', ['--version'], {});
  if (r.exitCode !== 0) throw new Error(`mbsync --version failed: ${r.stderr.trim()}`);
  return r.stdout.trim();
}

/** Quotes a value for .mbsyncrc (double quotes; backslash and quote escaped). */
function rcString(s: string): string {
  return `"${s.replace(/[\\"]/g, (c) => `\\${c}`)}"`;
}

export function writeMbsyncConfig(dir: string, server: { host: string; port: number; user: string; password: string }): MbsyncSetup {
  const mailRoot = join(dir, 'mail');
  const configFile = join(dir, 'mbsyncrc');
  mkdirSync(mailRoot, { recursive: true });
  // isync 1.4 syntax (Far/Near). INBOX lives under Path so that `Patterns *` matches it too (mbsync(1),
  // "Patterns"). No TLS and LOGIN: the proxy sits on loopback and counts plain IMAP octets.
  writeFileSync(
    configFile,
    `# Written by bench/sync-mbsync.ts
IMAPAccount bench
Host ${server.host}
Port ${server.port}
User ${rcString(server.user)}
Pass ${rcString(server.password)}
SSLType None
AuthMechs LOGIN

IMAPStore bench-remote
Account bench

MaildirStore bench-local
Path ${rcString(mailRoot + '/')}
Inbox ${rcString(join(mailRoot, 'INBOX'))}
SubFolders Verbatim

Channel bench
Far :bench-remote:
Near :bench-local:
Patterns *
Create Both
SyncState *
`,
    { mode: 0o600 },
  );
  return { configFile, mailRoot };
}

/** Runs `mbsync -c CONFIG -a` once. */
export function runMbsync(setup: MbsyncSetup): Promise<ProcessRun> {
  return runProcess('mbsync', ['-c', setup.configFile, '-a'], {});
}

/** Messages per mailbox in the local Maildir tree (files in cur/ and new/), keyed by '/'-separated name. */
export function countMaildirTree(mailRoot: string): Map<string, number> {
  const out = new Map<string, number>();
  const walk = (dir: string) => {
    if (existsSync(join(dir, 'cur'))) {
      const name = relative(mailRoot, dir).split('\\').join('/');
      let n = 0;
      for (const sub of ['cur', 'new']) {
        if (existsSync(join(dir, sub))) n += readdirSync(join(dir, sub)).length;
      }
      out.set(name, n);
    }
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      if (e.isDirectory() && !['cur', 'new', 'tmp'].includes(e.name)) walk(join(dir, e.name));
    }
  };
  if (existsSync(mailRoot)) walk(mailRoot);
  return out;
}

/** VmHWM (peak RSS) of a live process, KiB; 0 when gone. */
export function peakRss(pid: number): number {
  try {
    const m = /^VmHWM:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

/** User + system CPU time of a live process, ms (proc(5) stat fields 14 and 15, in clock ticks of 1/100 s). */
export function cpuTime(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the ")" that closes the command name: state is field 3, utime 14, stime 15.
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) * 10;
  } catch {
    return 0;
  }
}

/** Spawns a program, samples its peak RSS while it runs, collects its output. */
export function runProcess(cmd: string, args: string[], opts: { env?: NodeJS.ProcessEnv; cwd?: string }): Promise<ProcessRun> {
  return new Promise((resolve) => {
    const t0 = performance.now();
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], env: opts.env ?? process.env, cwd: opts.cwd });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => {
      stdout = (stdout + d.toString('utf8')).slice(-20_000);
    });
    child.stderr.on('data', (d: Buffer) => {
      stderr = (stderr + d.toString('utf8')).slice(-20_000);
    });
    let peak = 0;
    let cpu = 0;
    const sample = () => {
      if (child.pid === undefined) return;
      peak = Math.max(peak, peakRss(child.pid));
      cpu = Math.max(cpu, cpuTime(child.pid));
    };
    const timer = setInterval(sample, 10);
    child.on('error', (e) => {
      clearInterval(timer);
      resolve({ ms: performance.now() - t0, exitCode: 127, peakRssKiB: peak, cpuMs: cpu, stdout, stderr: stderr + e.message });
    });
    child.on('exit', (code, signal) => {
      const ms = performance.now() - t0;
      clearInterval(timer);
      resolve({ ms, exitCode: code ?? (signal ? 128 : 1), peakRssKiB: peak, cpuMs: cpu, stdout, stderr });
    });
  });
}
