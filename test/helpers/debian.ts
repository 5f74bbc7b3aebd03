// Debian packages that interop tests need (fetchmail, getmail6, swaks, dovecot-pop3d, ...): tests call
// ensureDebianPackages() and then run, so a test never silently disappears on a machine that lacks the
// program. Missing packages are installed with apt-get (as root, or with passwordless sudo); `apt-get update`
// runs at most once per process, and apt waits for the dpkg lock, so test files running in parallel can
// install at the same time. .ci/run installs the same packages up front.
import { spawn, spawnSync } from 'node:child_process';

/** Which of `packages` are not installed (dpkg's status is not "install ok installed"). */
export function missingDebianPackages(packages: readonly string[]): string[] {
  return packages.filter((p) => {
    const r = spawnSync('dpkg-query', ['-W', '-f=${Status}', p], { encoding: 'utf8' });
    return r.status !== 0 || !/ ok installed$/.test(r.stdout.trim());
  });
}

let updated: Promise<void> | null = null;
/** apt-get runs one at a time within this process. */
let queue: Promise<unknown> = Promise.resolve();

/**
 * Installs the packages that are missing. Throws an Error saying what to do when they cannot be installed
 * (no apt-get, not root and no passwordless sudo, or apt-get failed), so the calling test fails visibly.
 */
export async function ensureDebianPackages(packages: readonly string[], opts: { quiet?: boolean } = {}): Promise<void> {
  if (missingDebianPackages(packages).length === 0) return;
  const run = queue.then(() => install(packages, opts.quiet ?? false));
  queue = run.catch(() => undefined);
  return run;
}

async function install(packages: readonly string[], quiet: boolean): Promise<void> {
  const missing = missingDebianPackages(packages);
  if (missing.length === 0) return;
  const manual = `apt-get install -y ${missing.join(' ')}`;
  if (spawnSync('sh', ['-c', 'command -v apt-get'], { stdio: 'ignore' }).status !== 0) {
    throw new Error(`needs the Debian packages ${missing.join(', ')}, and apt-get is not available: install them by hand`);
  }
  const prefix: string[] = [];
  if (!(typeof process.getuid === 'function' && process.getuid() === 0)) {
    if (spawnSync('sudo', ['-n', 'true'], { stdio: 'ignore' }).status !== 0) {
      throw new Error(`needs the Debian packages ${missing.join(', ')}; installing them needs root: run \`sudo ${manual}\``);
    }
    prefix.push('sudo', '-n');
  }
  const say = (msg: string) => {
    if (!quiet) process.stderr.write(`[debian] ${msg}\n`);
  };
  const apt = (args: string[]) => aptGet(prefix, args, say);
  updated ??= apt(['update', '-qq']).then(
    (r) => {
      if (r.code !== 0) say(`apt-get update failed (${r.code}); trying the install anyway: ${r.err}`);
    },
  );
  await updated;
  const r = await apt(['install', '-y', '-qq', '--no-install-recommends', ...missing]);
  const still = missingDebianPackages(missing);
  if (r.code !== 0 || still.length > 0) {
    throw new Error(`could not install ${still.join(', ') || missing.join(', ')} (apt-get exited with ${r.code}): ${r.err}`);
  }
}

function aptGet(prefix: string[], args: string[], say: (msg: string) => void): Promise<{ code: number; err: string }> {
  // Wait for the dpkg lock instead of failing when another test (or process) is installing too.
  const cmd = [...prefix, 'apt-get', '-o', 'DPkg::Lock::Timeout=600', ...args];
  say(`running: ${cmd.join(' ')}`);
  return new Promise((resolve) => {
    const child = spawn(cmd[0]!, cmd.slice(1), {
      env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let err = '';
    child.stderr.on('data', (d: Buffer) => {
      err = (err + d.toString('utf8')).slice(-4000);
    });
    child.on('error', (e) => resolve({ code: 127, err: e.message }));
    child.on('close', (code) => resolve({ code: code ?? 1, err: err.trim() }));
  });
}
