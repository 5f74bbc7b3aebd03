// IMAP dates (RFC 9051 §9 date-time and date).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  calendarDateOf,
  DateError,
  dayNumber,
  formatDate,
  formatDateTime,
  parseDate,
  parseDateTime,
  parseDateTimeWithZone,
} from '../../src/protocol/dates.js';

test('date-time: RFC example with zone', () => {
  const r = parseDateTimeWithZone('17-Jul-1996 02:44:25 -0700');
  assert.equal(r.ms, Date.UTC(1996, 6, 17, 9, 44, 25));
  assert.equal(r.offsetMinutes, -420);
  assert.equal(formatDateTime(r.ms, r.offsetMinutes), '17-Jul-1996 02:44:25 -0700');
  assert.equal(formatDateTime(r.ms), '17-Jul-1996 09:44:25 +0000');
});

test('date-time: single-digit day with leading space, month case-insensitive, half-hour zones', () => {
  assert.equal(parseDateTime(' 1-feb-2024 00:00:00 +0000'), Date.UTC(2024, 1, 1));
  assert.equal(parseDateTime('01-FEB-2024 05:30:00 +0530'), Date.UTC(2024, 1, 1));
  assert.equal(formatDateTime(Date.UTC(2024, 1, 1), 330), '01-Feb-2024 05:30:00 +0530');
  assert.equal(formatDateTime(Date.UTC(50, 0, 1) + 0, 0).slice(7, 11), '1950');
});

for (const bad of ['1-Feb-2024 00:00:00 +0000', '31-Feb-2024 00:00:00 +0000', '01-Foo-2024 00:00:00 +0000', '01-Feb-2024 24:00:00 +0000', '01-Feb-2024 00:00:00 0000', '01-Feb-2024 00:00 +0000', '01-Feb-2024 00:00:00 +0099', '', '01-Feb-2024  00:00:00 +0000']) {
  test(`date-time: rejects ${JSON.stringify(bad)}`, () => {
    assert.throws(() => parseDateTime(bad), DateError);
  });
}

test('date-time: years below 100 are not shifted into the 1900s', () => {
  const ms = parseDateTime('01-Jan-0050 00:00:00 +0000');
  assert.equal(new Date(ms).getUTCFullYear(), 50);
  assert.equal(formatDateTime(ms), '01-Jan-0050 00:00:00 +0000');
});

test('date: SEARCH dates, quoted or not', () => {
  assert.deepEqual(parseDate('1-Feb-1994'), { year: 1994, month: 2, day: 1 });
  assert.deepEqual(parseDate('"01-feb-1994"'), { year: 1994, month: 2, day: 1 });
  assert.equal(formatDate({ year: 1994, month: 2, day: 1 }), '1-Feb-1994');
  assert.throws(() => parseDate('29-Feb-2023'), DateError);
  assert.deepEqual(parseDate('29-Feb-2024'), { year: 2024, month: 2, day: 29 });
  assert.throws(() => parseDate('1-Feb-94'), DateError);
  assert.throws(() => parseDate('1 Feb 1994'), DateError);
});

test('date: calendar date of an instant in a zone, and day numbers', () => {
  const ms = Date.UTC(2024, 0, 1, 23, 30);
  assert.deepEqual(calendarDateOf(ms, 0), { year: 2024, month: 1, day: 1 });
  assert.deepEqual(calendarDateOf(ms, 60), { year: 2024, month: 1, day: 2 });
  assert.equal(dayNumber({ year: 1970, month: 1, day: 2 }), 1);
});

test('property: format → parse round trip for any second and zone', () => {
  fc.assert(
    fc.property(
      fc.integer({ min: Date.UTC(1900, 0, 1) / 1000, max: Date.UTC(2200, 0, 1) / 1000 }),
      fc.integer({ min: -12 * 60, max: 14 * 60 }),
      (sec, zone) => {
        const text = formatDateTime(sec * 1000, zone);
        const back = parseDateTimeWithZone(text);
        assert.equal(back.ms, sec * 1000);
        assert.equal(back.offsetMinutes, zone);
      },
    ),
  );
});
