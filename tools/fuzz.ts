// `npm run fuzz -- [--target NAME] [--seconds N] [--seed S] [--no-coverage] [--list]`
// Runs every fuzz target (or one) for N seconds each and prints what it found; finding inputs are written to
// fuzz/corpus/<target>/ and replayed by test/fuzz/corpus.test.ts. Exit status 1 when anything was found.
import { fuzz } from '../fuzz/engine.js';
import { TARGETS } from '../fuzz/targets/index.js';
import { parseArgs } from './args.js';

const args = parseArgs(process.argv.slice(2), {
  target: { type: 'string' },
  seconds: { type: 'number', default: 60 },
  seed: { type: 'number' },
  coverage: { type: 'boolean', default: true },
  'per-input-ms': { type: 'number', default: 1000 },
  'hang-ms': { type: 'number', default: 10000 },
  'heap-limit-mb': { type: 'number', default: 512 },
  list: { type: 'boolean', default: false },
});

if (args.list) {
  for (const t of TARGETS) console.log(`${t.name}\n  ${t.description}\n`);
  process.exit(0);
}

const names = args.target ? String(args.target).split(',') : TARGETS.map((t) => t.name);
for (const n of names) {
  if (!TARGETS.some((t) => t.name === n)) {
    console.error(`unknown target ${n}; known: ${TARGETS.map((t) => t.name).join(', ')}`);
    process.exit(2);
  }
}

let failed = false;
for (const name of names) {
  const r = await fuzz({
    target: name,
    seconds: Number(args.seconds),
    ...(args.seed !== undefined ? { seed: Number(args.seed) } : {}),
    coverage: Boolean(args.coverage),
    perInputMs: Number(args['per-input-ms']),
    hangMs: Number(args['hang-ms']),
    heapLimitMb: Number(args['heap-limit-mb']),
  });
  const rate = Math.round(r.execs / Math.max(0.001, r.seconds));
  console.log(
    `${name.padEnd(16)} ${r.execs} execs in ${r.seconds.toFixed(1)} s (${rate}/s; ${r.generated} generated, ${r.mutated} mutated), ` +
      `pool ${r.poolSize}, coverage ${r.coverageBlocks} blocks, heap ${r.heapUsedMb} MB, seed ${r.seed}: ` +
      (r.findings.length === 0 ? 'no findings' : `${r.findings.length} FINDING(S)`),
  );
  for (const f of r.findings) {
    failed = true;
    console.log(`  [${f.kind}] ${f.file ?? '(not written)'} (${f.input.length} octets)\n    ${f.message.split('\n').join('\n    ')}`);
  }
}
process.exit(failed ? 1 : 0);
