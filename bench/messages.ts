// Deterministic generator of realistic RFC 5322 messages for the benchmark: varied headers, plain text,
// multipart/alternative (RFC 2046 §5.1.4) and multipart/mixed with base64 attachments (RFC 2045 §6.8).
// The same seed yields the same bytes, so Petrel and Dovecot receive identical mail.

/** mulberry32: a tiny seeded PRNG. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const FIRST = ['Alice', 'Bob', 'Carol', 'Dave', 'Erin', 'Frank', 'Grace', 'Heidi', 'Ivan', 'Judy', 'Mallory', 'Niaj', 'Olivia', 'Peggy', 'Rupert', 'Sybil', 'Trent', 'Victor', 'Walter', 'Zoë'];
const LAST = ['Smith', 'Jones', 'Müller', 'García', 'Rossi', 'Dubois', 'Novak', 'Kowalski', 'Andersen', 'Tanaka', 'Okafor', 'Silva'];
const DOMAINS = ['example.com', 'example.org', 'example.net', 'mail.example.com', 'lists.example.org'];
const WORDS =
  'the of and to in is that for it as was with be by on not he this are or his from at which but have an they you were her she there been one all we their has would when if so what no out up into more can other only some them could time these two may first then do any like my now over such our man me even most made after also did many before must through back years where much your way well down should because each just those people how too little state good very make world still own see men work long get here between both life being under never day same another know while last might us great old year off come since against go came right used take three'.split(
    ' ',
  );
const SUBJECTS = ['Quarterly report', 'Re: lunch on Friday?', 'Meeting notes', 'Fwd: invoice', 'Build failed on main', 'Holiday plans', 'Re: Re: the proposal', 'Your order has shipped', 'Weekly digest', 'Question about the API', 'Photos from the trip', 'Schedule change'];

function pick<T>(r: () => number, list: readonly T[]): T {
  return list[Math.floor(r() * list.length)]!;
}

/** Plain text of about `bytes` octets, wrapped at ~72 columns, CRLF line ends. */
function paragraphText(r: () => number, bytes: number): string {
  const lines: string[] = [];
  let size = 0;
  while (size < bytes) {
    let line = '';
    while (line.length < 60 + r() * 12) line += (line === '' ? '' : ' ') + pick(r, WORDS);
    if (r() < 0.15) line = '';
    lines.push(line);
    size += line.length + 2;
  }
  return lines.join('\r\n') + '\r\n';
}

function base64Lines(r: () => number, rawBytes: number): string {
  const raw = Buffer.alloc(rawBytes);
  let i = 0;
  for (; i + 4 <= rawBytes; i += 4) raw.writeUInt32LE(Math.floor(r() * 4294967296), i);
  for (; i < rawBytes; i++) raw[i] = Math.floor(r() * 256);
  const b64 = raw.toString('base64');
  const lines: string[] = [];
  for (let i = 0; i < b64.length; i += 76) lines.push(b64.slice(i, i + 76));
  return lines.join('\r\n') + '\r\n';
}

function address(r: () => number): string {
  const first = pick(r, FIRST);
  const last = pick(r, LAST);
  const local = `${first}.${last}`.toLowerCase().normalize('NFD').replace(/[^a-z.]/g, '');
  const display = /[^\x20-\x7e]/.test(first + last)
    ? `=?UTF-8?B?${Buffer.from(`${first} ${last}`, 'utf8').toString('base64')}?=`
    : `${first} ${last}`;
  return `${display} <${local}@${pick(r, DOMAINS)}>`;
}

function rfc5322Date(ms: number): string {
  const d = new Date(ms);
  const day = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'][d.getUTCDay()]!;
  const mon = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'][d.getUTCMonth()]!;
  const p = (n: number) => String(n).padStart(2, '0');
  return `${day}, ${d.getUTCDate()} ${mon} ${d.getUTCFullYear()} ${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())} +0000`;
}

/** Size classes of the "varied" mix: mostly small text, some HTML, a few attachments. */
export function variedSize(r: () => number): number {
  const x = r();
  if (x < 0.7) return 1_000 + Math.floor(r() * 9_000); // 1–10 KB
  if (x < 0.95) return 10_000 + Math.floor(r() * 90_000); // 10–100 KB
  return 100_000 + Math.floor(r() * 900_000); // 100 KB–1 MB
}

/**
 * Message number `index` of the stream seeded by `seed`, about `targetSize` octets (headers included).
 * Small messages are text/plain, medium multipart/alternative, large multipart/mixed with an attachment.
 */
export function makeMessage(seed: number, index: number, targetSize: number): Buffer {
  const r = rng((seed * 1_000_003 + index * 7919) >>> 0);
  const date = Date.UTC(2024, 0, 1) + index * 600_000 + Math.floor(r() * 600_000);
  const boundary = `=_petrel_bench_${seed}_${index}`;
  const headers = [
    `Return-Path: <bounce-${index}@${pick(r, DOMAINS)}>`,
    `Received: from mx${index % 7}.example.net (mx${index % 7}.example.net [192.0.2.${index % 250}])\r\n\tby mail.example.com with ESMTPS id ${index.toString(36)}; ${rfc5322Date(date)}`,
    `Message-ID: <${seed}.${index}.${Math.floor(r() * 1e9)}@bench.example.com>`,
    `Date: ${rfc5322Date(date)}`,
    `From: ${address(r)}`,
    `To: ${address(r)}${r() < 0.3 ? `, ${address(r)}` : ''}`,
    ...(r() < 0.3 ? [`Cc: ${address(r)}`] : []),
    `Subject: ${pick(r, SUBJECTS)} #${index}`,
    ...(r() < 0.4 ? [`In-Reply-To: <${seed}.${Math.max(0, index - 1)}.parent@bench.example.com>`] : []),
    'MIME-Version: 1.0',
  ];
  const headerBytes = headers.join('\r\n').length + 200;
  const bodyBytes = Math.max(200, targetSize - headerBytes);
  let body: string;
  if (targetSize < 10_000) {
    headers.push('Content-Type: text/plain; charset=utf-8', 'Content-Transfer-Encoding: 8bit');
    body = paragraphText(r, bodyBytes);
  } else if (targetSize < 100_000) {
    headers.push(`Content-Type: multipart/alternative; boundary="${boundary}"`);
    const text = paragraphText(r, Math.floor(bodyBytes * 0.4));
    const html = `<html><body>\r\n${paragraphText(r, Math.floor(bodyBytes * 0.55))
      .split('\r\n')
      .map((l) => (l === '' ? '' : `<p>${l}</p>`))
      .join('\r\n')}</body></html>\r\n`;
    body =
      `This is a multi-part message in MIME format.\r\n\r\n--${boundary}\r\n` +
      `Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n${text}\r\n` +
      `--${boundary}\r\nContent-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n${html}\r\n` +
      `--${boundary}--\r\n`;
  } else {
    headers.push(`Content-Type: multipart/mixed; boundary="${boundary}"`);
    const text = paragraphText(r, 1_500 + Math.floor(r() * 3_000));
    const attRaw = Math.max(1000, Math.floor((bodyBytes - text.length - 400) * 0.74));
    body =
      `--${boundary}\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n${text}\r\n` +
      `--${boundary}\r\nContent-Type: application/pdf; name="report-${index}.pdf"\r\n` +
      `Content-Disposition: attachment; filename="report-${index}.pdf"\r\nContent-Transfer-Encoding: base64\r\n\r\n` +
      base64Lines(r, attRaw) +
      `\r\n--${boundary}--\r\n`;
  }
  return Buffer.from(`${headers.join('\r\n')}\r\n\r\n${body}`, 'utf8');
}

/** `count` messages of the varied size mix. */
export function variedMessages(seed: number, count: number): Buffer[] {
  const r = rng(seed);
  const out: Buffer[] = [];
  for (let i = 0; i < count; i++) out.push(makeMessage(seed, i, variedSize(r)));
  return out;
}

/** A short plain message (~1.5–4 KB) for filling big mailboxes quickly. */
export function smallMessage(seed: number, index: number): Buffer {
  return makeMessage(seed, index, 1_500 + ((index * 2654435761) % 2_500));
}

/** A very short plain message (~700–900 octets) for the 100,000-message mailbox. */
export function tinyMessage(seed: number, index: number): Buffer {
  return makeMessage(seed, index, 700 + (index % 200));
}
