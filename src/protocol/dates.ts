// IMAP dates: RFC 9051 §9 date-time (`"17-Jul-1996 02:44:25 -0700"`, day as 2DIGIT or SP DIGIT) for
// APPEND and INTERNALDATE, and `date` (`1-Feb-1994`, optionally quoted) for SEARCH BEFORE/ON/SINCE
// (RFC 9051 §6.4.4: dates compare without time and time zone).

export class DateError extends Error {
  override readonly name = 'DateError';
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'] as const;
const MONTH_INDEX = new Map<string, number>(MONTHS.map((m, i) => [m.toLowerCase(), i]));

export interface DateTimeWithZone {
  /** Milliseconds since the epoch (UTC). */
  ms: number;
  /** Zone offset from UTC in minutes east (e.g. -420 for -0700). */
  offsetMinutes: number;
}

export interface CalendarDate {
  year: number;
  /** 1..12 */
  month: number;
  day: number;
}

/** Date.UTC without its "years 0-99 mean 1900-1999" rule. */
function utc(year: number, monthIndex: number, day: number, h = 0, m = 0, s = 0): number {
  const d = new Date(0);
  d.setUTCFullYear(year, monthIndex, day);
  d.setUTCHours(h, m, s, 0);
  return d.getTime();
}

function daysInMonth(year: number, month: number): number {
  return new Date(utc(year, month, 0)).getUTCDate();
}

function checkDate(year: number, month: number, day: number): void {
  if (year < 1 || year > 9999) throw new DateError('Year out of range');
  if (day < 1 || day > daysInMonth(year, month)) throw new DateError('Day out of range');
}

const DATE_TIME_RE = /^( \d|\d{2})-([A-Za-z]{3})-(\d{4}) (\d{2}):(\d{2}):(\d{2}) ([+-])(\d{2})(\d{2})$/;

/** date-time → epoch ms and zone. Throws DateError. */
export function parseDateTimeWithZone(text: string): DateTimeWithZone {
  const m = DATE_TIME_RE.exec(text);
  if (!m) throw new DateError('Invalid date-time');
  const day = Number(m[1]!.trim());
  const monthIndex = MONTH_INDEX.get(m[2]!.toLowerCase());
  if (monthIndex === undefined) throw new DateError('Invalid month');
  const year = Number(m[3]);
  checkDate(year, monthIndex + 1, day);
  const hour = Number(m[4]);
  const minute = Number(m[5]);
  const second = Number(m[6]);
  // RFC 9051 §9 time: 2DIGIT ":" 2DIGIT ":" 2DIGIT; allow a leap second like 23:59:60.
  if (hour > 23 || minute > 59 || second > 60) throw new DateError('Invalid time');
  const zh = Number(m[8]);
  const zm = Number(m[9]);
  if (zm > 59) throw new DateError('Invalid zone');
  const offsetMinutes = (m[7] === '-' ? -1 : 1) * (zh * 60 + zm);
  const t = utc(year, monthIndex, day, hour, minute, second);
  return { ms: t - offsetMinutes * 60_000, offsetMinutes };
}

/** date-time → epoch ms. Throws DateError. */
export function parseDateTime(text: string): number {
  return parseDateTimeWithZone(text).ms;
}

/** epoch ms → `17-Jul-1996 02:44:25 -0700` in the given zone (default UTC); day as 2DIGIT. */
export function formatDateTime(ms: number, offsetMinutes = 0): string {
  const d = new Date(ms + offsetMinutes * 60_000);
  if (Number.isNaN(d.getTime())) throw new DateError('Invalid time value');
  const sign = offsetMinutes < 0 ? '-' : '+';
  const abs = Math.abs(offsetMinutes);
  return (
    `${pad2(d.getUTCDate())}-${MONTHS[d.getUTCMonth()]}-${String(d.getUTCFullYear()).padStart(4, '0')} ` +
    `${pad2(d.getUTCHours())}:${pad2(d.getUTCMinutes())}:${pad2(d.getUTCSeconds())} ` +
    `${sign}${pad2(Math.floor(abs / 60))}${pad2(abs % 60)}`
  );
}

/** INTERNALDATE value as sent in FETCH (the quoted string content). */
export function formatInternalDate(ms: number, offsetMinutes = 0): string {
  return formatDateTime(ms, offsetMinutes);
}

function pad2(n: number): string {
  return n < 10 ? '0' + n : String(n);
}

const DATE_RE = /^(\d{1,2})-([A-Za-z]{3})-(\d{4})$/;

/** SEARCH `date` = date-text / DQUOTE date-text DQUOTE; date-text = date-day "-" date-month "-" date-year. */
export function parseDate(text: string): CalendarDate {
  const t = text.length >= 2 && text.startsWith('"') && text.endsWith('"') ? text.slice(1, -1) : text;
  const m = DATE_RE.exec(t);
  if (!m) throw new DateError('Invalid date');
  const monthIndex = MONTH_INDEX.get(m[2]!.toLowerCase());
  if (monthIndex === undefined) throw new DateError('Invalid month');
  const year = Number(m[3]);
  const day = Number(m[1]);
  checkDate(year, monthIndex + 1, day);
  return { year, month: monthIndex + 1, day };
}

/** `1-Feb-1994` */
export function formatDate(d: CalendarDate): string {
  return `${d.day}-${MONTHS[d.month - 1]}-${d.year}`;
}

/** Midnight UTC of a calendar date, in ms. */
export function dateToUtcMs(d: CalendarDate): number {
  return utc(d.year, d.month - 1, d.day);
}

/** A sortable day number (days since the epoch) for date-only comparisons. */
export function dayNumber(d: CalendarDate): number {
  return Math.floor(dateToUtcMs(d) / 86_400_000);
}

/** The calendar date of an instant as seen in a zone (offset minutes east of UTC). */
export function calendarDateOf(ms: number, offsetMinutes = 0): CalendarDate {
  const d = new Date(ms + offsetMinutes * 60_000);
  return { year: d.getUTCFullYear(), month: d.getUTCMonth() + 1, day: d.getUTCDate() };
}

/**
 * The host's local zone at an instant, minutes east of UTC: the zone given to mail that arrives without one
 * (LMTP delivery, APPEND without a date-time), as a server in that zone would show it.
 */
export function localZoneOffset(ms: number): number {
  const off = -new Date(ms).getTimezoneOffset();
  return Number.isFinite(off) ? off + 0 : 0; // + 0 turns -0 (UTC) into 0
}

/** A zone offset a date-time can carry: whole minutes, at most ±99:59 (RFC 9051 `zone` = ("+" / "-") 4DIGIT). */
export function isZoneOffset(minutes: number): boolean {
  return Number.isInteger(minutes) && Math.abs(minutes) <= 99 * 60 + 59;
}
