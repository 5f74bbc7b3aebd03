// CI smoke run of the fuzzers: every target runs for about a second in a worker thread (generation +
// mutation + coverage feedback, with the hang, out-of-memory and slow-input watchdogs of fuzz/engine.ts).
// Findings are written to fuzz/corpus/<target>/ like a full `npm run fuzz` run, so a failure here leaves
// the input behind for test/fuzz/corpus.test.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fuzz } from '../../fuzz/engine.js';
import { TARGETS } from '../../fuzz/targets/index.js';

for (const target of TARGETS) {
  test(`fuzz smoke: ${target.name}`, async () => {
    // The slow-input bound is 3 s here, not `npm run fuzz`'s 1 s: on a loaded CI machine (load average 13 on
    // 2 cores) the command framer's 20,000-empty-line corpus input took 1.6 to 2.4 s and failed the smoke
    // run by itself. Super-linear work is still caught by the full runs.
    const r = await fuzz({ target: target.name, seconds: 1, hangMs: 20_000, perInputMs: 3000 });
    assert.ok(r.execs > 0, 'the target ran');
    const report = r.findings.map((f) => `[${f.kind}] seed ${r.seed} → ${f.file}\n${f.message}`).join('\n\n');
    assert.equal(r.findings.length, 0, report);
  });
}
