// The mbox From_ separator line: "From <envelope-sender> <asctime date>" (the mbox family as described in
// RFC 4155 Appendix A and qmail's mbox(5)). The date is C asctime(3) format, "Thu Jan  1 00:00:00 2024";
// writers vary, so an optional weekday, optional seconds and a time zone (numeric or a name) before or after
// the year are accepted. A date with no zone is read as UTC; Petrel writes UTC.

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];

const ZONE = String.raw`(?:[A-Za-z]{1,5}|[+-]\d{4})`;
const DATE = new RegExp(
  String.raw`(?:(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun),?\s+)?(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)\s+(\d{1,2})\s+` +
    String.raw`(\d{1,2}):(\d{2})(?::(\d{2}))?\s+(?:(${ZONE})\s+)?(\d{4})(?:\s+(${ZONE}))?\s*$`,
  'i',
);

export interface FromLine {
  sender: string;
  /** ms since the epoch, or null when the line carries no readable date. */
  date: number | null;
}

/**
 * Parses a From_ line (without its line end; "From " included). Returns null when the text is not a
 * From_ line with a readable date: "From " followed by a sender and a date.
 */
export function parseFromLine(line: string): FromLine | null {
  if (!line.startsWith('From ')) return null;
  const rest = line.slice(5).replace(/[\r\n]+$/, '');
  const m = DATE.exec(rest);
  if (!m) return null;
  const sender = rest.slice(0, m.index).trim();
  if (sender === '' || (/\s/.test(sender) && !sender.startsWith('"'))) {
    // A sender with spaces is only plausible when quoted; "From the desk of Jan 3 10:00 2024" is prose.
    return null;
  }
  const month = MONTHS.findIndex((mo) => mo.toLowerCase() === m[1]!.toLowerCase());
  const day = Number(m[2]);
  const hour = Number(m[3]);
  const minute = Number(m[4]);
  const second = m[5] === undefined ? 0 : Number(m[5]);
  const year = Number(m[7]);
  if (day < 1 || day > 31 || hour > 23 || minute > 59 || second > 60) return null;
  const offset = zoneOffsetMinutes(m[8] ?? m[6]);
  const date = Date.UTC(year, month, day, hour, minute, Math.min(second, 59)) - offset * 60_000;
  return { sender, date: Number.isFinite(date) ? date : null };
}

function zoneOffsetMinutes(zone: string | undefined): number {
  if (!zone) return 0;
  const m = /^([+-])(\d{2})(\d{2})$/.exec(zone);
  if (!m) return 0; // UTC, GMT, or a name we cannot resolve: read as UTC
  const minutes = Number(m[2]) * 60 + Number(m[3]);
  return m[1] === '-' ? -minutes : minutes;
}

/** asctime(3) in UTC: "Thu Jan  1 00:00:00 2024". */
export function asctime(ms: number): string {
  const d = new Date(ms);
  const pad = (n: number) => String(n).padStart(2, '0');
  return (
    `${DAYS[d.getUTCDay()]} ${MONTHS[d.getUTCMonth()]} ${String(d.getUTCDate()).padStart(2, ' ')} ` +
    `${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())} ${d.getUTCFullYear()}`
  );
}

/** A From_ line (with LF) for a message; the sender must be free of white space (else MAILER-DAEMON). */
export function formatFromLine(sender: string | null, date: number): string {
  const s = sender && /^[^\s]{1,256}$/.test(sender) ? sender : 'MAILER-DAEMON';
  return `From ${s} ${asctime(date)}\n`;
}

/** The addr-spec of a Return-Path header value ("<a@b>" → "a@b"; "<>" → "MAILER-DAEMON"), or null. */
export function senderFromReturnPath(value: string): string | null {
  const m = /<([^<>\s]*)>/.exec(value) ?? /^\s*([^\s<>]+)\s*$/.exec(value);
  if (!m) return null;
  return m[1] === '' ? 'MAILER-DAEMON' : m[1]!;
}
