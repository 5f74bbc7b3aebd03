// The fuzzing loop of one target, run in a worker thread by fuzz/engine.ts so that a hang or an
// out-of-memory input can be caught from outside: before each execution the input is copied into a
// SharedArrayBuffer and a counter is bumped; the main thread watches the counter and the worker's exit.
//
// Inputs come from two sources, half and half: the target's fast-check arbitrary (grammar-aware and random
// generation) and mutations of a pool (seeds, the corpus folder, and — with coverage on — every input that
// reached a code block no earlier input reached). Coverage is V8's precise block coverage read through the
// inspector after every execution: real feedback, but far coarser and slower than libFuzzer's edge counters.
import { parentPort, workerData } from 'node:worker_threads';
import inspector from 'node:inspector';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import fc from 'fast-check';
import { findTarget } from './targets/index.js';
import { NUMBERS, rng } from './lib.js';

export interface WorkerData {
  target: string;
  seconds: number;
  seed: number;
  coverage: boolean;
  perInputMs: number;
  leakMb: number;
  maxInputBytes: number;
  maxFindings: number;
  corpus: Uint8Array[];
  shared: SharedArrayBuffer;
}

export type FindingKind = 'exception' | 'invariant' | 'slow' | 'leak';

export type WorkerMessage =
  | { type: 'finding'; kind: FindingKind; message: string; input: Uint8Array }
  | { type: 'done'; execs: number; poolSize: number; coverageBlocks: number; heapUsedMb: number; generated: number; mutated: number };

const wd = workerData as WorkerData;
const target = findTarget(wd.target);
if (!target) throw new Error(`unknown fuzz target ${wd.target}`);
const counter = new Int32Array(wd.shared, 0, 2);
const sharedBytes = new Uint8Array(wd.shared, 8);

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

// ---- coverage ----------------------------------------------------------------------------------

class Coverage {
  private readonly session = new inspector.Session();
  private readonly scriptIndex = new Map<string, number>();
  /** Known block keys per function key. */
  private readonly known = new Map<number, Set<number>>();
  private readonly covered = new Set<number>();

  constructor() {
    this.session.connect();
    this.post('Profiler.enable');
    this.post('Profiler.startPreciseCoverage', { callCount: true, detailed: true });
  }

  private post(method: string, params?: object): any {
    let result: unknown;
    let error: Error | null = null;
    // The same-thread inspector session answers synchronously.
    this.session.post(method, params ?? {}, (err, res) => {
      error = err;
      result = res;
    });
    if (error) throw error;
    return result;
  }

  get size(): number {
    return this.covered.size;
  }

  /** Blocks executed since the last call; returns how many had never been executed before. */
  take(): number {
    const res = this.post('Profiler.takePreciseCoverage') as {
      result: Array<{ url: string; functions: Array<{ ranges: Array<{ startOffset: number; endOffset: number; count: number }> }> }>;
    };
    let fresh = 0;
    for (const script of res.result) {
      if (!script.url.includes('/dist/src/')) continue;
      let si = this.scriptIndex.get(script.url);
      if (si === undefined) {
        si = this.scriptIndex.size + 1;
        this.scriptIndex.set(script.url, si);
      }
      for (const fn of script.functions) {
        const top = fn.ranges[0];
        if (!top || top.count === 0) continue;
        const fnKey = si * 1e12 + top.startOffset * 1e6 + top.endOffset;
        let blocks = this.known.get(fnKey);
        if (!blocks) this.known.set(fnKey, (blocks = new Set([fnKey])));
        const zeros: Array<[number, number]> = [];
        for (const r of fn.ranges) {
          const key = si * 1e12 + r.startOffset * 1e6 + r.endOffset;
          blocks.add(key);
          if (r.count === 0) zeros.push([r.startOffset, r.endOffset]);
        }
        // V8 drops nested ranges whose count equals their parent's: a known block that is not inside a
        // zero-count range this time was executed.
        for (const key of blocks) {
          if (this.covered.has(key)) continue;
          const start = Math.floor((key % 1e12) / 1e6);
          const end = key % 1e6;
          if (zeros.some(([zs, ze]) => start >= zs && end <= ze)) continue;
          this.covered.add(key);
          fresh++;
        }
      }
    }
    return fresh;
  }
}

// ---- mutation ----------------------------------------------------------------------------------

const INTERESTING = [0x00, 0x09, 0x0a, 0x0d, 0x20, 0x22, 0x28, 0x29, 0x2a, 0x2b, 0x2c, 0x2d, 0x2e, 0x3a, 0x3c, 0x3e, 0x5b, 0x5c, 0x5d,
  0x7b, 0x7d, 0x7e, 0x7f, 0x80, 0xc3, 0xff, 0x26];

function mutate(base: Buffer, pool: Buffer[], dict: readonly string[], r: () => number, max: number): Buffer {
  let b = Buffer.from(base);
  const pick = (n: number): number => Math.floor(r() * n);
  const rounds = 1 + pick(6);
  for (let k = 0; k < rounds; k++) {
    const pos = b.length === 0 ? 0 : pick(b.length + 1);
    switch (pick(10)) {
      case 0:
        if (b.length > 0) b[pick(b.length)]! ^= 1 << pick(8);
        break;
      case 1:
        if (b.length > 0) b[pick(b.length)] = INTERESTING[pick(INTERESTING.length)]!;
        break;
      case 2:
      case 3: {
        const word = Buffer.from(dict[pick(dict.length)]!, 'utf8');
        b = Buffer.concat([b.subarray(0, pos), word, b.subarray(pos)]);
        break;
      }
      case 4: {
        const num = Buffer.from(NUMBERS[pick(NUMBERS.length)]!);
        b = Buffer.concat([b.subarray(0, pos), num, b.subarray(pos)]);
        break;
      }
      case 5: {
        const len = 1 + pick(Math.max(1, Math.min(64, b.length - pos)));
        b = Buffer.concat([b.subarray(0, pos), b.subarray(Math.min(b.length, pos + len))]);
        break;
      }
      case 6: {
        // Repeat a slice: deep nesting, long lines, many ranges.
        const len = 1 + pick(Math.max(1, Math.min(16, b.length - pos)));
        const slice = b.subarray(pos, pos + len);
        const times = r() < 0.1 ? 100 + pick(3000) : 1 + pick(16);
        b = Buffer.concat([b.subarray(0, pos), Buffer.concat(Array(times).fill(slice)), b.subarray(pos)]);
        break;
      }
      case 7: {
        const other = pool[pick(pool.length)]!;
        const from = pick(other.length + 1);
        b = Buffer.concat([b.subarray(0, pos), other.subarray(from)]);
        break;
      }
      case 8: {
        const other = pool[pick(pool.length)]!;
        const from = pick(other.length + 1);
        const len = pick(Math.min(256, other.length - from) + 1);
        b = Buffer.concat([b.subarray(0, pos), other.subarray(from, from + len), b.subarray(pos)]);
        break;
      }
      case 9:
        b = b.subarray(0, pos);
        break;
    }
    if (b.length > max) b = b.subarray(0, max);
  }
  return b;
}

// ---- the loop ----------------------------------------------------------------------------------

function describe(err: unknown): { kind: FindingKind; message: string } {
  const e = err as Error;
  const kind = e?.name === 'FuzzInvariantError' ? 'invariant' : 'exception';
  const stack = typeof e?.stack === 'string' ? e.stack.split('\n').slice(0, 8).join('\n') : String(err);
  return { kind, message: stack };
}

function main(): void {
  const t = target!;
  const r = rng(wd.seed);
  const coverage = wd.coverage ? new Coverage() : null;
  const pool: Buffer[] = [...t.seeds.map((s) => Buffer.from(s, 'utf8')), ...wd.corpus.map((u) => Buffer.from(u))];
  if (pool.length === 0) pool.push(Buffer.alloc(0));
  let poolBytes = pool.reduce((n, b) => n + b.length, 0);
  const seen = new Set<string>();
  let findings = 0;
  let execs = 0;
  let generated = 0;
  let mutated = 0;
  let batch: Buffer[] = [];
  let batchSeed = wd.seed;
  const deadline = Date.now() + wd.seconds * 1000;
  gc();
  let baseline = -1;
  const warmupEnd = Date.now() + Math.min(2000, (wd.seconds * 1000) / 4);
  let nextLeakCheck = 0;

  const report = (kind: FindingKind, message: string, input: Buffer): void => {
    // One report per kind of failure: numbers in the message vary from input to input.
    const key = kind + ':' + message.split('\n').slice(0, 3).join('\n').replace(/\d+/g, '#');
    if (seen.has(key)) return;
    seen.add(key);
    findings++;
    parentPort!.postMessage({ type: 'finding', kind, message, input: new Uint8Array(input) } satisfies WorkerMessage);
  };

  const exec = (input: Buffer): void => {
    const n = Math.min(input.length, sharedBytes.length);
    sharedBytes.set(input.subarray(0, n), 0);
    Atomics.store(counter, 1, n);
    Atomics.add(counter, 0, 1);
    const t0 = performance.now();
    try {
      t.run(input);
    } catch (err) {
      const d = describe(err);
      report(d.kind, d.message, input);
    }
    let ms = performance.now() - t0;
    execs++;
    // The bound grows with the input (a 64 KB input gets twice the time): this looks for super-linear work.
    const bound = wd.perInputMs * (1 + input.length / 65536);
    // Wall-clock time on a loaded machine has spikes (descheduling, a GC): an input counts as slow only if
    // it is slow every time, so it is timed twice more and the fastest run is taken.
    for (let again = 0; again < 2 && ms > bound; again++) {
      const t1 = performance.now();
      try {
        t.run(input);
      } catch {
        // reported above
      }
      ms = Math.min(ms, performance.now() - t1);
    }
    if (ms > bound) report('slow', `one input took ${Math.round(ms)} ms (bound ${Math.round(bound)} ms) in each of 3 runs, ${input.length} octets`, input);
    if (coverage && coverage.take() > 0 && pool.length < 5000 && poolBytes < 32 * 1024 * 1024) {
      pool.push(input);
      poolBytes += input.length;
    }
  };

  // Replay what we start from first: seeds and corpus must pass.
  for (const input of [...pool]) exec(input);
  while (Date.now() < deadline && findings < wd.maxFindings) {
    let input: Buffer;
    if (r() < 0.5) {
      if (batch.length === 0) batch = fc.sample(t.arbitrary, { numRuns: 100, seed: batchSeed++ });
      input = batch.pop()!;
      if (input.length > wd.maxInputBytes) input = input.subarray(0, wd.maxInputBytes);
      generated++;
    } else {
      input = mutate(pool[Math.floor(r() * pool.length)]!, pool, t.dictionary, r, wd.maxInputBytes);
      mutated++;
    }
    exec(input);
    const now = Date.now();
    if (now >= warmupEnd && now >= nextLeakCheck) {
      // Retained memory must not grow with the number of executions (the pool is accounted for).
      gc();
      const used = process.memoryUsage().heapUsed - poolBytes;
      if (baseline < 0) baseline = used;
      else if (used - baseline > wd.leakMb * 1024 * 1024) {
        report('leak', `retained heap grew by ${Math.round((used - baseline) / 1048576)} MB over ${execs} executions (bound ${wd.leakMb} MB)`, input);
        baseline = used;
      }
      nextLeakCheck = now + 1000;
    }
  }
  gc();
  parentPort!.postMessage({
    type: 'done',
    execs,
    poolSize: pool.length,
    coverageBlocks: coverage?.size ?? 0,
    heapUsedMb: Math.round(process.memoryUsage().heapUsed / 1048576),
    generated,
    mutated,
  } satisfies WorkerMessage);
}

main();
