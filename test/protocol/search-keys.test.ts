// SEARCH criteria (RFC 9051 §6.4.4, RFC 3501 §6.4.4, RFC 4731, RFC 5182, RFC 7162, RFC 8474, RFC 8514, RFC 5032).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CommandFramer } from '../../src/protocol/command-framer.js';
import { parseSearch, SearchSyntaxError, usesModSeq, usesSearchRes } from '../../src/protocol/search-keys.js';
import type { ImapArg } from '../../src/protocol/types.js';

function args(s: string): ImapArg[] {
  const evs = new CommandFramer().push(Buffer.from(`t SEARCH ${s}\r\n`, 'utf8'));
  const ev = evs[0]!;
  assert.equal(ev.kind, 'command', JSON.stringify(ev));
  return ev.kind === 'command' ? ev.command.args : [];
}
const parse = (s: string) => parseSearch(args(s));

test('flags and their negations', () => {
  assert.deepEqual(parse('SEEN').key, { type: 'flag', flag: '\\Seen', set: true });
  assert.deepEqual(parse('unanswered').key, { type: 'flag', flag: '\\Answered', set: false });
  assert.deepEqual(parse('KEYWORD $Junk').key, { type: 'flag', flag: '$Junk', set: true });
  assert.deepEqual(parse('UNKEYWORD foo').key, { type: 'flag', flag: 'foo', set: false });
  assert.throws(() => parse('KEYWORD \\Seen'), SearchSyntaxError);
  assert.deepEqual(parse('NEW').key, {
    type: 'and',
    keys: [
      { type: 'flag', flag: '\\Recent', set: true },
      { type: 'flag', flag: '\\Seen', set: false },
    ],
  });
  assert.deepEqual(parse('OLD').key, { type: 'flag', flag: '\\Recent', set: false });
});

test('several keys are ANDed; parentheses group; OR and NOT nest', () => {
  assert.deepEqual(parse('DELETED FROM "Smith" SINCE 1-Feb-1994 NOT TO bob').key, {
    type: 'and',
    keys: [
      { type: 'flag', flag: '\\Deleted', set: true },
      { type: 'header', field: 'From', value: 'Smith' },
      { type: 'date', field: 'internal', op: 'since', date: { year: 1994, month: 2, day: 1 } },
      { type: 'not', key: { type: 'header', field: 'To', value: 'bob' } },
    ],
  });
  assert.deepEqual(parse('OR (SEEN FLAGGED) NOT OR DRAFT 1:5').key, {
    type: 'or',
    left: {
      type: 'and',
      keys: [
        { type: 'flag', flag: '\\Seen', set: true },
        { type: 'flag', flag: '\\Flagged', set: true },
      ],
    },
    right: {
      type: 'not',
      key: { type: 'or', left: { type: 'flag', flag: '\\Draft', set: true }, right: { type: 'seq', set: { ranges: [{ start: 1, end: 5 }] } } },
    },
  });
});

test('string, size, date, uid and sequence keys', () => {
  assert.deepEqual(parse('HEADER X-Mailer "Foo Bar"').key, { type: 'header', field: 'X-Mailer', value: 'Foo Bar' });
  assert.deepEqual(parse('HEADER List-Id ""').key, { type: 'header', field: 'List-Id', value: '' });
  assert.deepEqual(parse('BODY {5+}\r\nhello').key, { type: 'body', value: 'hello' });
  assert.deepEqual(parse('TEXT "Grüße"').key, { type: 'text', value: 'Grüße' });
  assert.deepEqual(parse('CC a BCC b SUBJECT c').key, {
    type: 'and',
    keys: [
      { type: 'header', field: 'Cc', value: 'a' },
      { type: 'header', field: 'Bcc', value: 'b' },
      { type: 'header', field: 'Subject', value: 'c' },
    ],
  });
  assert.deepEqual(parse('LARGER 100').key, { type: 'size', op: 'larger', size: 100 });
  assert.deepEqual(parse('SMALLER 0').key, { type: 'size', op: 'smaller', size: 0 });
  assert.deepEqual(parse('SENTBEFORE "5-Mar-2020"').key, { type: 'date', field: 'sent', op: 'before', date: { year: 2020, month: 3, day: 5 } });
  assert.deepEqual(parse('SENTON 5-Mar-2020').key.type, 'date');
  assert.deepEqual(parse('BEFORE 5-Mar-2020 ON 6-Mar-2020').key.type, 'and');
  assert.deepEqual(parse('UID 1:*').key, { type: 'uid', set: { ranges: [{ start: 1, end: '*' }] } });
  assert.deepEqual(parse('*').key, { type: 'seq', set: { ranges: [{ start: '*', end: '*' }] } });
  assert.deepEqual(parse('$').key, { type: 'seq', set: { searchRes: true } });
  assert.equal(usesSearchRes(parse('NOT UID $').key), true);
  assert.equal(usesSearchRes(parse('UID 1').key), false);
  assert.deepEqual(parse('ALL').key, { type: 'all' });
});

test('extension keys: MODSEQ, EMAILID/THREADID, SAVEDATE, OLDER/YOUNGER', () => {
  assert.deepEqual(parse('MODSEQ 620162338').key, { type: 'modseq', modSeq: 620162338 });
  assert.deepEqual(parse('MODSEQ "/flags/\\\\draft" all 620162338').key, {
    type: 'modseq',
    modSeq: 620162338,
    entry: { name: '/flags/\\draft', kind: 'all' },
  });
  assert.equal(usesModSeq(parse('OR SEEN MODSEQ 5').key), true);
  assert.equal(usesModSeq(parse('SEEN').key), false);
  assert.throws(() => parse('MODSEQ "/flags/x" bogus 5'), SearchSyntaxError);
  assert.deepEqual(parse('EMAILID M6d99ac3275bb4e').key, { type: 'emailid', id: 'M6d99ac3275bb4e' });
  assert.deepEqual(parse('THREADID T64b478a75b7ea9').key, { type: 'threadid', id: 'T64b478a75b7ea9' });
  assert.throws(() => parse('EMAILID a.b'), SearchSyntaxError);
  assert.deepEqual(parse('SAVEDSINCE 1-Jan-2020').key, { type: 'date', field: 'saved', op: 'since', date: { year: 2020, month: 1, day: 1 } });
  assert.deepEqual(parse('SAVEDATESUPPORTED').key, { type: 'savedatesupported' });
  assert.deepEqual(parse('OLDER 3600').key, { type: 'age', op: 'older', seconds: 3600 });
  assert.deepEqual(parse('YOUNGER 60').key, { type: 'age', op: 'younger', seconds: 60 });
  assert.throws(() => parse('YOUNGER 0'), SearchSyntaxError);
});

test('CHARSET and RETURN options', () => {
  const p = parse('RETURN (MIN COUNT) CHARSET utf-8 ALL');
  assert.deepEqual(p.returnOptions, ['MIN', 'COUNT']);
  assert.equal(p.charset, 'UTF-8');
  assert.deepEqual(parse('RETURN () ALL').returnOptions, ['ALL']);
  assert.deepEqual(parse('RETURN (SAVE ALL MAX) SEEN').returnOptions, ['SAVE', 'ALL', 'MAX']);
  assert.equal(parse('ALL').returnOptions, null);
  assert.equal(parse('CHARSET "US-ASCII" ALL').charset, 'US-ASCII');
  assert.throws(() => parse('RETURN (FOO) ALL'), SearchSyntaxError);
  assert.throws(() => parse('RETURN ALL'), SearchSyntaxError);
  assert.throws(() => parseSearch(args('RETURN (MIN) ALL'), { allowReturn: false }), SearchSyntaxError);
  try {
    parse('CHARSET KOI8-R ALL');
    assert.fail('should throw');
  } catch (err) {
    assert.ok(err instanceof SearchSyntaxError);
    assert.equal(err.badCharset, true);
  }
  try {
    parse('FOO');
    assert.fail('should throw');
  } catch (err) {
    assert.ok(err instanceof SearchSyntaxError);
    assert.equal(err.badCharset, false);
    assert.match(err.message, /Unknown search key FOO/);
  }
});

for (const bad of ['', 'CHARSET UTF-8', 'FROM', 'OR SEEN', 'NOT', 'LARGER x', 'LARGER', 'SINCE 32-Jan-2020', 'UID 0', '0', '()', 'HEADER "a:b" c', 'SEEN (', 'BEFORE (1)']) {
  test(`invalid criteria ${JSON.stringify(bad)}`, () => {
    let a: ImapArg[];
    try {
      a = args(bad);
    } catch {
      return; // rejected by the framer already
    }
    assert.throws(() => parseSearch(a), SearchSyntaxError);
  });
}

test('nesting depth is bounded', () => {
  const deep = 'NOT '.repeat(100) + 'ALL';
  assert.throws(() => parse(deep), /nested too deeply/);
  assert.equal(parse('NOT '.repeat(20) + 'ALL').key.type, 'not');
});
