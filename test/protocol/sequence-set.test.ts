// Sequence sets (RFC 9051 §9 sequence-set, §6.4.8 UID ranges, RFC 5182 "$"): parse, resolve, format.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  expandRanges,
  formatNumSet,
  formatRanges,
  maxExplicit,
  numSetContains,
  NumSetError,
  parseNumSet,
  resolveNumSet,
} from '../../src/protocol/sequence-set.js';

test('parse: numbers, ranges, star, dollar', () => {
  assert.deepEqual(parseNumSet('1'), { ranges: [{ start: 1, end: 1 }] });
  assert.deepEqual(parseNumSet('2:4,7,9:*,*'), {
    ranges: [
      { start: 2, end: 4 },
      { start: 7, end: 7 },
      { start: 9, end: '*' },
      { start: '*', end: '*' },
    ],
  });
  assert.deepEqual(parseNumSet('$'), { searchRes: true });
  assert.deepEqual(parseNumSet('4294967295'), { ranges: [{ start: 4294967295, end: 4294967295 }] });
});

for (const bad of ['', '0', '1:0', '0:*', '01', '1,', ',1', '1::2', '1:2:3', 'a', '1 2', '-1', '4294967296', '$,1', '1,$', '**', '1.5']) {
  test(`parse: rejects ${JSON.stringify(bad)}`, () => {
    assert.throws(() => parseNumSet(bad), NumSetError);
  });
}

test('parse: range count limit', () => {
  const set = Array.from({ length: 10 }, (_, i) => String(i * 2 + 1)).join(',');
  assert.equal((parseNumSet(set, 10) as { ranges: unknown[] }).ranges.length, 10);
  assert.throws(() => parseNumSet(set + ',99', 10), /Too many ranges/);
});

test('resolve: sorted, merged, clamped; a:b equals b:a; * is max', () => {
  assert.deepEqual(resolveNumSet(parseNumSet('5:3,1,2,9:*'), 10), [
    [1, 5],
    [9, 10],
  ]);
  assert.deepEqual(resolveNumSet(parseNumSet('*:4'), 6), [[4, 6]]);
  assert.deepEqual(resolveNumSet(parseNumSet('20:30'), 10), []);
  // RFC 9051 §6.4.8: "n:*" with n above the largest UID still contains the largest UID.
  assert.deepEqual(resolveNumSet(parseNumSet('100:*'), 50), [[50, 50]]);
  assert.deepEqual(resolveNumSet(parseNumSet('*'), 0), []);
  assert.deepEqual(resolveNumSet(parseNumSet('1:*'), 0), []);
  assert.throws(() => resolveNumSet(parseNumSet('$'), 5), NumSetError);
});

test('contains and maxExplicit', () => {
  const set = parseNumSet('3:1,7,10:*');
  assert.equal(numSetContains(set, 2, 20), true);
  assert.equal(numSetContains(set, 5, 20), false);
  assert.equal(numSetContains(set, 15, 20), true);
  assert.equal(numSetContains(set, 25, 20), false);
  assert.equal(maxExplicit(set), 10);
  assert.equal(maxExplicit(parseNumSet('*')), 0);
});

test('format: compresses runs', () => {
  assert.equal(formatNumSet([1, 2, 3, 5, 7, 8, 9]), '1:3,5,7:9');
  assert.equal(formatNumSet([9, 1, 3, 2, 2]), '1:3,9');
  assert.equal(formatNumSet([]), '');
  assert.equal(formatRanges([[1, 1], [3, 6]]), '1,3:6');
});

test('property: format → parse → resolve gives back the same numbers', () => {
  fc.assert(
    fc.property(fc.array(fc.integer({ min: 1, max: 300 }), { minLength: 1, maxLength: 60 }), (nums) => {
      const text = formatNumSet(nums);
      const back = expandRanges(resolveNumSet(parseNumSet(text), 300));
      assert.deepEqual(back, Array.from(new Set(nums)).sort((a, b) => a - b));
      assert.equal(formatRanges(resolveNumSet(parseNumSet(text), 300)), text);
    }),
  );
});

test('property: resolve agrees with contains', () => {
  const rangeArb = fc.tuple(fc.oneof(fc.integer({ min: 1, max: 40 }), fc.constant('*')), fc.oneof(fc.integer({ min: 1, max: 40 }), fc.constant('*')));
  fc.assert(
    fc.property(fc.array(rangeArb, { minLength: 1, maxLength: 6 }), fc.integer({ min: 0, max: 35 }), (ranges, max) => {
      const text = ranges.map(([a, b]) => (a === b ? String(a) : `${a}:${b}`)).join(',');
      const set = parseNumSet(text);
      const resolved = new Set(expandRanges(resolveNumSet(set, max)));
      for (let n = 1; n <= max; n++) assert.equal(resolved.has(n), numSetContains(set, n, max), `${text} n=${n} max=${max}`);
      for (const n of resolved) assert.ok(n >= 1 && n <= max);
    }),
  );
});
