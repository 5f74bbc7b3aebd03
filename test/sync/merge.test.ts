// Three-way flag merge (docs/sync.md "Conflicts"): tables from the rules, and properties over random
// flag sets — each flag is decided on its own, nothing either side set is lost, the merge is symmetric,
// and with one side unchanged the other side's state is taken as it is.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { commonFlags, flagDiff, mergeFlags, normalizeFlags, sameFlags } from '../../src/sync/merge.js';

test('merge tables', () => {
  const cases: Array<[string[], string[], string[], string[]]> = [
    // base, local, remote, expected
    [['\\Seen'], ['\\Seen', '\\Flagged'], [], ['\\Flagged']],
    [[], ['$Work'], ['$Later'], ['$Later', '$Work']],
    [['\\Seen', '$A'], ['\\Seen'], ['\\Seen', '$A', '$B'], ['$B', '\\Seen']],
    [['\\Seen'], ['\\seen'], ['\\SEEN'], ['\\Seen']],
    [[], ['\\Recent', '\\Seen'], [], ['\\Seen']],
    [['\\Deleted'], [], ['\\Deleted', '\\Answered'], ['\\Answered']],
  ];
  for (const [b, l, r, want] of cases) assert.ok(sameFlags(mergeFlags(b, l, r), want), `${b}|${l}|${r} → ${mergeFlags(b, l, r)} (want ${want})`);
});

const FLAGS = ['\\Seen', '\\Answered', '\\Flagged', '\\Deleted', '\\Draft', '$Work', '$Later', 'Junk'];
const set = fc.subarray(FLAGS);

test('per-flag rule, symmetry and idempotence', () => {
  fc.assert(
    fc.property(set, set, set, (b, l, r) => {
      const m = mergeFlags(b, l, r);
      const has = (xs: string[], f: string) => xs.some((x) => x.toLowerCase() === f.toLowerCase());
      for (const f of FLAGS) {
        const inB = has(b, f);
        const want = inB ? has(l, f) && has(r, f) : has(l, f) || has(r, f);
        assert.equal(has(m, f), want, f);
      }
      assert.ok(sameFlags(m, mergeFlags(b, r, l)), 'symmetric');
      assert.ok(sameFlags(mergeFlags(m, m, m), m), 'idempotent');
      if (sameFlags(l, b)) assert.ok(sameFlags(m, r), 'unchanged local takes remote');
      if (sameFlags(r, b)) assert.ok(sameFlags(m, l), 'unchanged remote takes local');
    }),
  );
});

test('a base of common flags loses nothing either side set', () => {
  fc.assert(
    fc.property(set, set, (l, r) => {
      const m = mergeFlags(commonFlags(l, r), l, r);
      assert.equal(flagDiff(l, m).length + flagDiff(r, m).length, 0);
      assert.deepEqual(normalizeFlags(m).length, normalizeFlags([...l, ...r]).length);
    }),
  );
});
