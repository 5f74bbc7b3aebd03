// `npm run soak -- --clients N --kills K [--min-run-ms A] [--max-run-ms B] [--seed S] [--keep]`
// Crash-consistency soak against `petrel serve` (see tools/lib/soak.ts for what is checked).
// Exit status 1 when any check failed.
import { runSoak } from './lib/soak.js';
import { parseArgs } from './args.js';

const args = parseArgs(process.argv.slice(2), {
  clients: { type: 'number', default: 8 },
  kills: { type: 'number', default: 10 },
  'min-run-ms': { type: 'number', default: 500 },
  'max-run-ms': { type: 'number', default: 4000 },
  seed: { type: 'number' },
  keep: { type: 'boolean', default: false },
});

const started = Date.now();
const report = await runSoak({
  clients: Number(args.clients),
  kills: Number(args.kills),
  minRunMs: Number(args['min-run-ms']),
  maxRunMs: Number(args['max-run-ms']),
  ...(args.seed !== undefined ? { seed: Number(args.seed) } : {}),
  keepDataDir: Boolean(args.keep),
  log: (l) => console.log(l),
});
console.log(`seed ${report.seed}, ${report.kills} kills, ${((Date.now() - started) / 1000).toFixed(1)} s, data ${args.keep ? report.dataDir : '(removed)'}`);
console.log(JSON.stringify(report.stats));
if (report.violations.length === 0) console.log('no violations');
else {
  console.log(`${report.violations.length} VIOLATION(S):`);
  for (const v of report.violations.slice(0, 100)) console.log('  ' + v);
}
process.exit(report.violations.length === 0 ? 0 : 1);
