// Replays every input kept in fuzz/corpus/<target>/ (inputs that once made a fuzz target fail, plus
// hand-picked hard cases) and each target's seeds. Each must now pass the target's checks: no exception
// other than the documented ones, no broken invariant (see fuzz/targets/*.ts for what each checks).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, existsSync } from 'node:fs';
import { readCorpus, CORPUS_DIR } from '../../fuzz/engine.js';
import { TARGETS } from '../../fuzz/targets/index.js';

test('every corpus folder belongs to a fuzz target', () => {
  if (!existsSync(CORPUS_DIR)) return;
  const names = new Set(TARGETS.map((t) => t.name));
  for (const dir of readdirSync(CORPUS_DIR)) assert.ok(names.has(dir), `fuzz/corpus/${dir} has no target`);
});

for (const target of TARGETS) {
  test(`fuzz corpus and seeds replay: ${target.name}`, () => {
    const inputs = [
      ...target.seeds.map((s, i) => ({ name: `seed ${i}`, data: Buffer.from(s, 'utf8') })),
      ...readCorpus(target.name),
    ];
    assert.ok(inputs.length > 0);
    for (const { name, data } of inputs) {
      try {
        target.run(data);
      } catch (err) {
        assert.fail(`${target.name} fails on ${name}: ${(err as Error).stack ?? String(err)}`);
      }
    }
  });
}
