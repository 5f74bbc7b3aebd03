// Tool, not a test: a randomized differential run against Dovecot. Generates N random MIME messages from
// building blocks (odd white space and folding, RFC 2231 / RFC 2047 parameters, broken address lists,
// nested multiparts and message/rfc822, missing close delimiters, all transfer encodings), APPENDs them to
// Dovecot and to Petrel and prints every ENVELOPE / BODYSTRUCTURE that differs.
//   node dist/test/mime/dovecot-fuzz-diff.js [seed] [count]      (messages are left in /tmp/petrel-mime-fuzz)
// Known, documented differences (test/fixtures/mime/README.md) show up too: invalid Content-Types and
// message/rfc822 parts whose header is cut off by a delimiter. Anything else is worth a fixture.
import { startDovecot } from '../helpers/dovecot.js';
import { startTestServer } from '../helpers/server.js';
import { ImapTestClient } from '../helpers/imap-client.js';
import { writeFileSync, mkdirSync } from 'node:fs';
let seed = Number(process.argv[2] ?? 1);
const N = Number(process.argv[3] ?? 200);
const rnd = () => { seed = (seed * 1103515245 + 12345) >>> 0; return seed / 2 ** 32; };
const pick = <T>(a: readonly T[]): T => a[Math.floor(rnd() * a.length)]!;
const ws = () => pick(['', ' ', '  ', '\t', ' \r\n ', '\r\n\t', ' (c) ']);
const types = ['text/plain', 'text/html', 'TEXT/PLAIN', 'application/octet-stream', 'image/png', 'message/rfc822', 'multipart/mixed', 'multipart/alternative', 'multipart/related', 'foo/bar', 'multipart/digest', 'message/delivery-status', 'text/plain; charset=us-ascii', 'message/partial', 'application/pdf'];
const params = [
  () => `charset=${pick(['utf-8', '"iso-8859-1"', 'US-ASCII', "''", '"a;b"', 'x y'])}`,
  () => `name=${pick(['a.txt', '"file name.pdf"', '"=?utf-8?q?f=C3=BC?="', '"q\\"uote"', 'x*y', '"tab\there"'])}`,
  () => `name*=${pick(["utf-8''%C3%BC.txt", "iso-8859-1'de'caf%E9", "''plain", 'bad%'])}`,
  () => `name*0="part0"; name*1="part1"`,
  () => `name*0*=utf-8''a%20b; name*1=c`,
  () => `format=flowed`, () => `delsp=yes`, () => `x=""`, () => `y`, () => `=z`, () => `A=B`,
];
const cte = ['7bit', '8bit', 'base64', 'quoted-printable', 'BASE64', 'Quoted-Printable', 'binary', 'x-token', ' 7bit ', '7bit (c)'];
const disp = ['inline', 'attachment', 'attachment; filename="a b.txt"', 'INLINE; filename=x', 'attachment; filename*=utf-8\'\'%C3%A4.txt', 'form-data; name="f"', ''];
const addrs = ['a@b.example', 'Name <n@x.example>', '"Q, N" <q@x.example>', 'g: a@b, c@d;', '=?utf-8?q?N=C3=A4me?= <e@x.example>', 'x@y (Comment)', '<r@x.example>', 'Ünï <u@x.example>', 'bad', '"a\\\\b" <c@d>', 'a@b,, c@d', '@x:y@z', 'A B <c@d', '"unterminated <x@y>'];
const subjects = ['Hello', '  padded  ', 'tab\there', 'fold\r\n ed', '=?utf-8?b?w6TDtsO8?=', 'Ümlaut raw', 'quote"d', 'back\\slash', '', '(comment)', 'a  b'];
function header(isMsg: boolean): string {
  let h = '';
  if (isMsg) {
    if (rnd() < 0.8) h += `From:${ws()}${pick(addrs)}\r\n`;
    if (rnd() < 0.7) h += `To: ${pick(addrs)}${rnd() < 0.5 ? ', ' + pick(addrs) : ''}\r\n`;
    if (rnd() < 0.3) h += `Cc: ${pick(addrs)}\r\n`;
    if (rnd() < 0.2) h += `Reply-To: ${pick(addrs)}\r\n`;
    if (rnd() < 0.2) h += `Sender: ${pick(addrs)}\r\n`;
    if (rnd() < 0.8) h += `Subject:${ws()}${pick(subjects)}\r\n`;
    if (rnd() < 0.7) h += `Date: ${pick(['Mon, 1 Jul 2024 10:00:00 +0000', '1 Jul 2024 10:00 GMT', 'garbage', 'Mon,  1 Jul 2024\r\n 10:00:00 -0700'])}\r\n`;
    if (rnd() < 0.5) h += `Message-ID:${ws()}<${Math.floor(rnd() * 1e6)}@x.example>${ws()}\r\n`;
    if (rnd() < 0.2) h += `In-Reply-To: <p@x> ${ws()}<q@y>\r\n`;
  }
  return h;
}
let bcount = 0;
function part(depth: number): string {
  let t = pick(types);
  if (depth > 3 && t.startsWith('multipart')) t = 'text/plain';
  if (depth > 3 && t === 'message/rfc822') t = 'text/plain';
  let h = '';
  const ps: string[] = [];
  const np = Math.floor(rnd() * 3);
  for (let i = 0; i < np; i++) ps.push(pick(params)());
  const b = `b${bcount++}${pick(['', '=_x', '.y-z', ' sp'])}`;
  if (t.toLowerCase().startsWith('multipart')) ps.push(`boundary=${rnd() < 0.7 ? '"' + b + '"' : b.replace(' sp', '')}`);
  if (rnd() < 0.95) h += `Content-Type:${ws()}${t}${ps.map((p) => ';' + ws() + p).join('')}\r\n`;
  if (rnd() < 0.4) h += `Content-Transfer-Encoding: ${pick(cte)}\r\n`;
  if (rnd() < 0.3) h += `Content-Disposition: ${pick(disp)}\r\n`;
  if (rnd() < 0.15) h += `Content-ID: <${Math.floor(rnd() * 1e4)}@cid>\r\n`;
  if (rnd() < 0.15) h += `Content-Description: ${pick(subjects)}\r\n`;
  if (rnd() < 0.1) h += `Content-Language: ${pick(['en', 'en, de', 'fr (French)', ''])}\r\n`;
  if (rnd() < 0.1) h += `Content-Location: ${pick(['http://x/y', '"q"', ''])}\r\n`;
  if (rnd() < 0.05) h += `Content-MD5: abc==\r\n`;
  let body: string;
  const realB = b.replace(' sp', '').replace(/"/g, '');
  const boundary = h.includes('"' + b + '"') ? b : realB;
  if (t.toLowerCase().startsWith('multipart') && h.includes('Content-Type')) {
    body = rnd() < 0.3 ? 'preamble\r\n' : '';
    const n = 1 + Math.floor(rnd() * 3);
    for (let i = 0; i < n; i++) body += `--${boundary}${pick(['', '', ' ', '\t'])}\r\n` + part(depth + 1) + '\r\n';
    if (rnd() < 0.85) body += `--${boundary}--\r\n`;
    if (rnd() < 0.2) body += 'epilogue\r\n';
  } else if (t === 'message/rfc822' && h.includes('Content-Type')) {
    body = header(true) + part(depth + 1);
    return h + '\r\n' + body;
  } else {
    body = pick(['hello\r\n', 'line1\r\nline2\r\n', '', 'no newline', 'SGVsbG8=\r\n', 'q=3Dp=\r\nx\r\n', 'caf\u00e9\r\n', '--not-a-boundary\r\n', '\r\n\r\n']);
  }
  return h + (rnd() < 0.97 ? '\r\n' : '') + body;
}
const msgs: Buffer[] = [];
for (let i = 0; i < N; i++) msgs.push(Buffer.from(header(true) + part(0), 'latin1'));
mkdirSync('/tmp/petrel-mime-fuzz', { recursive: true });
msgs.forEach((m, i) => writeFileSync(`/tmp/petrel-mime-fuzz/m${i + 1}.eml`, m));
const d = await startDovecot({ quiet: true });
if (!d) throw new Error('Dovecot is not installed');
const p = await startTestServer();
const dc = await ImapTestClient.connect(d.port); await dc.command('L', `LOGIN ${d.user} ${d.password}`);
const pc = await ImapTestClient.connect(p.port); await pc.command('L', `LOGIN "${p.user}" "${p.password}"`);
for (const c of [dc, pc]) { for (const m of msgs) { const r = await c.commandWithLiterals('A', ['APPEND INBOX ', m]); if (!/^A OK/.test(r.tagged)) console.log('append', r.tagged); } await c.command('S', 'SELECT INBOX'); }
let diffs = 0;
for (const item of ['ENVELOPE', 'BODYSTRUCTURE']) {
  for (let i = 1; i <= N; i++) {
    const [a = '', b = ''] = await Promise.all([dc, pc].map(async (c: ImapTestClient) => { const r = await c.command('F', `FETCH ${i} (${item})`); return r.responses.filter((x) => x.text.startsWith('* ')).map((x) => x.raw.toString('latin1')).join('\n'); }));
    if (a !== b) { diffs++; if (diffs <= 15) { let k = 0; while (a[k] === b[k]) k++; console.log(`m${i} ${item} at ${k}\n  D ${JSON.stringify(a.slice(Math.max(0, k - 80), k + 100))}\n  P ${JSON.stringify(b.slice(Math.max(0, k - 80), k + 100))}`); } }
  }
}
console.log('diffs', diffs, 'of', 2 * N);
dc.close(); pc.close(); await p.stop(); await d.stop();
