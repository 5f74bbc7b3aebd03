// Runs one fuzz target for a time budget in a worker thread (fuzz/worker.ts) and turns what goes wrong
// into findings: an exception or broken invariant (reported by the worker with its input), an input
// slower than the per-input bound, retained-heap growth past a bound, a hang (the worker stops making
// progress: the main thread terminates it and takes the input from shared memory), and an input that
// exhausts the worker's heap limit. Each finding's input is written to fuzz/corpus/<target>/, where
// test/fuzz/corpus.test.ts replays it on every `npm test`.
import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, statSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { WorkerData, WorkerMessage } from './worker.js';

/** Repository root, from dist/fuzz/engine.js. */
export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const CORPUS_DIR = join(REPO_ROOT, 'fuzz', 'corpus');

export type FindingKind = 'exception' | 'invariant' | 'slow' | 'leak' | 'hang' | 'oom';

export interface Finding {
  kind: FindingKind;
  message: string;
  input: Buffer;
  /** Where the input was written, or null when writing is off. */
  file: string | null;
}

export interface FuzzOptions {
  target: string;
  seconds: number;
  /** PRNG seed (random by default; printed so a run can be repeated). */
  seed?: number;
  /** V8 block coverage feedback (default true). */
  coverage?: boolean;
  /** An input taking longer than this is a finding (default 1000 ms). */
  perInputMs?: number;
  /** No progress for this long is a hang (default 10 s). */
  hangMs?: number;
  /** Old-generation heap limit of the worker: exceeding it is an out-of-memory finding (default 512 MB). */
  heapLimitMb?: number;
  /** Retained heap may not grow more than this over a run (default 64 MB). */
  leakMb?: number;
  /** Largest generated input (default 64 KB). */
  maxInputBytes?: number;
  /** Stop after this many distinct findings (default 5). */
  maxFindings?: number;
  /** Where corpus folders live (default fuzz/corpus). */
  corpusDir?: string;
  /** Write finding inputs into the corpus folder (default true). */
  writeFindings?: boolean;
}

export interface FuzzResult {
  target: string;
  seed: number;
  seconds: number;
  execs: number;
  generated: number;
  mutated: number;
  poolSize: number;
  coverageBlocks: number;
  heapUsedMb: number;
  findings: Finding[];
}

/** The inputs in fuzz/corpus/<target>/ (files starting with "." are ignored). */
export function readCorpus(target: string, corpusDir = CORPUS_DIR): Array<{ name: string; data: Buffer }> {
  const dir = join(corpusDir, target);
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => !f.startsWith('.') && statSync(join(dir, f)).isFile())
    .sort()
    .map((name) => ({ name, data: readFileSync(join(dir, name)) }));
}

export function writeCorpusFile(target: string, kind: string, data: Buffer, corpusDir = CORPUS_DIR): string {
  const dir = join(corpusDir, target);
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `${kind}-${createHash('sha1').update(data).digest('hex').slice(0, 16)}`);
  writeFileSync(file, data);
  return file;
}

export async function fuzz(opts: FuzzOptions): Promise<FuzzResult> {
  const seed = opts.seed ?? Math.floor(Math.random() * 2 ** 31);
  const corpusDir = opts.corpusDir ?? CORPUS_DIR;
  const corpus = readCorpus(opts.target, corpusDir).map((c) => c.data);
  const maxInputBytes = opts.maxInputBytes ?? 64 * 1024;
  const hangMs = opts.hangMs ?? 10_000;
  const started = Date.now();
  const deadline = started + opts.seconds * 1000;
  const result: FuzzResult = {
    target: opts.target,
    seed,
    seconds: 0,
    execs: 0,
    generated: 0,
    mutated: 0,
    poolSize: 0,
    coverageBlocks: 0,
    heapUsedMb: 0,
    findings: [],
  };
  const maxFindings = opts.maxFindings ?? 5;
  const addFinding = (kind: FindingKind, message: string, input: Buffer): void => {
    const file = opts.writeFindings === false ? null : writeCorpusFile(opts.target, kind, input, corpusDir);
    result.findings.push({ kind, message, input, file });
  };

  // A worker that hangs or runs out of memory is replaced for the rest of the time.
  let round = 0;
  while (Date.now() < deadline - 50 && result.findings.length < maxFindings) {
    const largest = corpus.reduce((m, b) => Math.max(m, b.length), 0);
    const shared = new SharedArrayBuffer(8 + Math.max(maxInputBytes, largest));
    const data: WorkerData = {
      target: opts.target,
      seconds: Math.max(0.05, (deadline - Date.now()) / 1000),
      seed: seed + round++,
      coverage: opts.coverage ?? true,
      perInputMs: opts.perInputMs ?? 1000,
      leakMb: opts.leakMb ?? 64,
      maxInputBytes,
      maxFindings: maxFindings - result.findings.length,
      corpus: corpus.map((b) => new Uint8Array(b)),
      shared,
    };
    const counter = new Int32Array(shared, 0, 2);
    const lastInput = (): Buffer => Buffer.from(new Uint8Array(shared, 8, Atomics.load(counter, 1)));
    const outcome = await new Promise<'done' | 'died'>((resolve) => {
      const worker = new Worker(new URL('./worker.js', import.meta.url), {
        workerData: data,
        resourceLimits: { maxOldGenerationSizeMb: opts.heapLimitMb ?? 512 },
      });
      let last = -1;
      let lastChange = Date.now();
      let settled = false;
      const finish = (how: 'done' | 'died'): void => {
        if (settled) return;
        settled = true;
        clearInterval(watch);
        resolve(how);
      };
      const watch = setInterval(() => {
        const c = Atomics.load(counter, 0);
        if (c !== last) {
          last = c;
          lastChange = Date.now();
        } else if (Date.now() - lastChange > hangMs) {
          addFinding('hang', `no progress for ${hangMs} ms on one input`, lastInput());
          void worker.terminate();
          finish('died');
        }
      }, 100);
      worker.on('message', (m: WorkerMessage) => {
        if (m.type === 'finding') {
          addFinding(m.kind, m.message, Buffer.from(m.input));
        } else {
          result.execs += m.execs;
          result.generated += m.generated;
          result.mutated += m.mutated;
          result.poolSize = Math.max(result.poolSize, m.poolSize);
          result.coverageBlocks = Math.max(result.coverageBlocks, m.coverageBlocks);
          result.heapUsedMb = Math.max(result.heapUsedMb, m.heapUsedMb);
          finish('done');
        }
      });
      worker.on('error', (err: Error & { code?: string }) => {
        if (settled) return;
        const oom = err.code === 'ERR_WORKER_OUT_OF_MEMORY';
        addFinding(oom ? 'oom' : 'exception', oom ? `worker heap limit exceeded: ${err.message}` : String(err.stack ?? err), lastInput());
        finish('died');
      });
      worker.on('exit', () => finish('died'));
    });
    if (outcome === 'done') break;
  }
  result.seconds = (Date.now() - started) / 1000;
  return result;
}
