// Runs the real `petrel` executable (bin/petrel.js) in a child process for end-to-end tests: `petrel
// serve` until it has printed its connection help, and one-shot commands. PETREL_* variables of the
// test runner's environment are not passed on.
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from '../../tools/lib/ports.js';
export { freePort };

export const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
export const BIN = join(ROOT, 'bin', 'petrel.js');

export function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('PETREL_')) env[k] = v;
  return { ...env, ...extra };
}

/** Runs `petrel ...args` to completion. */
export function petrel(args: string[], input?: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
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

export interface Serving {
  child: ChildProcess;
  stdout: string;
  stderr(): string;
  exited: Promise<number | null>;
  /** The first account's name and password when this was the first start. */
  user: string | null;
  password: string | null;
  /** SIGTERM, then the exit status. */
  stop(): Promise<number | null>;
}

/** Starts `petrel serve ...args` and resolves once it printed its connection help. */
export function serve(args: string[], env: Record<string, string> = {}): Promise<Serving> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, 'serve', ...args], { cwd: ROOT, env: cleanEnv(env) });
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
        resolve({
          child,
          stdout,
          stderr: () => stderr,
          exited,
          user: /\|\s+user:\s+(\S+)\s+\|/.exec(stdout)?.[1] ?? null,
          password: /\|\s+password:\s+(\S+)\s+\|/.exec(stdout)?.[1] ?? null,
          stop: async () => {
            child.kill('SIGTERM');
            return exited;
          },
        });
      }
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`petrel serve exited with ${code}:\n${stdout}\n${stderr}`));
    });
  });
}
