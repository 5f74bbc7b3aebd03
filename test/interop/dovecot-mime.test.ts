// Differential test (issue 3 item 3, ARCHITECTURE.md test 6): the whole MIME corpus in test/fixtures/mime/
// is APPENDed to Petrel and to Dovecot (Debian's dovecot-imapd, own config on loopback), and every FETCH
// answer that depends on MIME processing must be byte-identical: ENVELOPE, BODY, BODYSTRUCTURE, RFC822.SIZE,
// BODY[HEADER], BODY[TEXT], BODY[HEADER.FIELDS (...)], BODY[HEADER.FIELDS.NOT (...)], and for every part
// BODY[n], BODY[n.MIME], BINARY.SIZE[n] and BINARY[n] (RFC 9051 §6.4.5 / §7.5.2, RFC 3501 §6.4.5 /
// §7.4.2, RFC 3516 §4). Both sessions stay IMAP4rev1 (Dovecot 2.3 has no IMAP4rev2).
//
// Where Dovecot contradicts an RFC, Petrel follows the RFC; those cases are listed in EXCEPTIONS below
// (and in test/fixtures/mime/README.md), each with the rule, and only those answers are exempt.
// Dovecot is installed with apt-get when missing (ensureDovecotInstalled), so this runs on a fresh machine.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { ensureDovecotInstalled, findDovecot, startDovecot, type DovecotServer } from '../helpers/dovecot.js';
import { ImapTestClient, logoutQuietly } from '../helpers/imap-client.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { indexMessage } from '../../src/mime/indexer.js';
import type { MimeIndexV1, MimePart } from '../../src/mime/types.js';

const FIXTURES = new URL('../../../test/fixtures/mime/', import.meta.url);
const files = readdirSync(FIXTURES)
  .filter((n) => n.endsWith('.eml'))
  .sort();

/**
 * Answers where Petrel deliberately differs from Dovecot 2.3, each with the RFC rule Petrel follows.
 * `applies` selects the exempt answers by fixture, fetch item (as sent, e.g. "BODY.PEEK[2]") and whether
 * the item's part is composite (multipart or message/*); `normalize`, when given, rewrites Dovecot's answer
 * so that everything else in it is still compared byte for byte.
 */
interface Exception {
  name: string;
  /** The RFC rule Petrel follows. */
  why: string;
  applies(file: string, item: string, composite: boolean): boolean;
  normalize?(dovecot: string, petrel: string): string;
  /** Do not even ask: the question breaks Dovecot's session. */
  notAsked?: boolean;
}

const EXCEPTIONS: Exception[] = [
  {
    name: 'bare-LF messages',
    why:
      'RFC 9051 §6.4.5 / §7.5.2: sizes and line counts are those of the text BODY[...] returns. Petrel stores ' +
      'and serves a message exactly as received (bare LF included); Dovecot converts LF to CRLF when it ' +
      'stores, so every size, line count and section differs by the CRs it adds',
    applies: (file) => file.endsWith('-lf.eml'),
  },
  {
    name: 'invalid Content-Type',
    why:
      'RFC 2045 §5.2: a syntactically invalid Content-Type ("garbage", "text/") defaults to ' +
      'text/plain; charset=us-ascii. Dovecot 2.3 sends the invalid value as the type ("garbage" "")',
    applies: (file, item) => file === 'bad-content-types.eml' && /^(BODY|BODYSTRUCTURE)$/.test(item),
  },
  {
    name: 'message/global parts',
    why:
      'RFC 9051 §6.4.5 and RFC 6532 §3.7: message/global encapsulates a message whose parts are numbered ' +
      "like message/rfc822's (1.1, 1.HEADER, 1.TEXT ...). Dovecot 2.3 treats message/global as an opaque leaf",
    applies: (file, item) => file === 'message-global.eml' && /^(BODY\.PEEK|BINARY\.PEEK|BINARY\.SIZE)\[1\./.test(item),
  },
  {
    name: 'header cut off by a delimiter',
    why:
      'RFC 2046 §5.1.1: the CRLF before a boundary delimiter belongs to the delimiter, and the delimiter ends ' +
      'the part. When the header of a message/rfc822 part has no blank line before the next delimiter, ' +
      'Dovecot 2.3 counts that CRLF in the part (size, lines, BODY[1]), gives BINARY.SIZE 0 while BINARY ' +
      'returns the octets (against RFC 3516 §4.3), and HEADER.FIELDS of the inner message even picks up ' +
      "fields of the next part's MIME header",
    applies: (file, item) =>
      (file === 'rfc822-base64.eml' || file === 'message-rfc822-headers-only.eml') &&
      /^(BODY|BODYSTRUCTURE|BODY\.PEEK\[1(\.HEADER\.FIELDS.*)?\]|BINARY\.PEEK\[1\]|BINARY\.SIZE\[1\])$/.test(item),
  },
  {
    name: 'BINARY of a composite part',
    why:
      'RFC 3516 §4.2 decodes the section\'s own Content-Transfer-Encoding, and a multipart or message part ' +
      'can only have an identity encoding (RFC 2045 §6.4, RFC 2046 §5.2.1), so Petrel sends its bytes as ' +
      'stored; Dovecot 2.3 also decodes every part inside it and rewrites their Content-Transfer-Encoding ' +
      'headers',
    applies: (_file, item, composite) => composite && /^BINARY/.test(item),
  },
  {
    name: 'BINARY decodes what BODYSTRUCTURE announces',
    why:
      'RFC 3516 §4.2 with RFC 9051 §7.5.2 body-fld-enc: BINARY decodes the encoding BODYSTRUCTURE ' +
      'announces. Both servers announce the first of two Content-Transfer-Encoding fields, and 7bit for a ' +
      'message without MIME-Version and Content-Type (RFC 2045 §4); Dovecot 2.3 decodes BINARY with the ' +
      'last field, or with the ignored one',
    applies: (file, item) =>
      (file === 'duplicate-headers.eml' || file === 'no-mime-version.eml') && /^BINARY(\.PEEK|\.SIZE)\[1\](<[\d.]+>)?$/.test(item),
  },
  {
    name: 'invalid base64 / quoted-printable',
    why:
      'RFC 2045 §6.8: characters outside the base64 alphabet are ignored; §6.7 note (2): a robust decoder ' +
      'keeps "=" and what follows when it is not a hex pair. Petrel decodes so; Dovecot 2.3 refuses BINARY ' +
      'with NO [PARSE] and ends the session (BYE, internal error) on BINARY.SIZE of such a part',
    applies: (file, item) => file === 'broken-encodings.eml' && /^BINARY/.test(item),
    notAsked: true,
  },
  {
    name: 'BINARY next to an unknown encoding',
    why:
      "RFC 3516 §4.2: BINARY fails with [UNKNOWN-CTE] when the server cannot decode the section's own " +
      'Content-Transfer-Encoding. Petrel answers the other parts; once a message has an x-uuencode part, ' +
      'Dovecot 2.3 ends the session (BYE, internal error) on BINARY of any other part',
    applies: (file, item) => file === 'unknown-cte.eml' && /^BINARY/.test(item) && !/\[2\]$/.test(item),
    notAsked: true,
  },
  {
    name: 'literal8 for decoded text',
    why:
      'RFC 3516 §4.3: decoded data without NUL "SHOULD" be sent as a string, not a literal8. Dovecot 2.3 ' +
      'marks every decoded section ~{n}; the bytes themselves are still compared',
    applies: (_file, item) => /^BINARY\.PEEK/.test(item),
    normalize: (dovecot, petrel) => (/^BINARY\[[\d.]*\](?:<\d+>)? \{/.test(petrel) ? dovecot.replace(/^(BINARY\[[\d.]*\](?:<\d+>)?) ~\{/, '$1 {') : dovecot),
  },
];

/** The exception that exempts an answer (null: it must be identical), and Dovecot's normalised answer. */
function exempt(file: string, item: string, composite: boolean, dovecot: string, petrel: string): { skip: Exception | null; dovecot: string } {
  let d = dovecot;
  for (const e of EXCEPTIONS) {
    if (!e.applies(file, item, composite)) continue;
    if (!e.normalize) return { skip: e, dovecot };
    d = e.normalize(d, petrel);
  }
  return { skip: null, dovecot: d };
}

/** Section paths of every part (and a few that do not exist), from Petrel's own index. */
function partPaths(ix: MimeIndexV1): string[] {
  const out: string[] = [];
  const walkChildren = (p: MimePart, prefix: string, depth: number): void => {
    if (depth > 12 || out.length > 200) return;
    const sep = prefix === '' ? '' : prefix + '.';
    if (p.k) {
      p.k.forEach((c, i) => walkPart(c, sep + String(i + 1), depth + 1));
      out.push(sep + String(p.k.length + 1)); // one past the last part: does not exist
    } else {
      walkPart(p, sep + '1', depth + 1);
    }
  };
  const walkPart = (p: MimePart, path: string, depth: number): void => {
    out.push(path);
    if (p.k) walkChildren(p, path, depth);
    else if (p.g) walkChildren(p.g, path, depth);
  };
  walkChildren(ix.r, '', 0);
  return out;
}

/** Whether a part path names a message/rfc822 (or global) part, for HEADER/TEXT sections. */
function messageParts(ix: MimeIndexV1): string[] {
  const out: string[] = [];
  const walk = (p: MimePart, path: string, depth: number): void => {
    if (depth > 12) return;
    if (p.g && path !== '') out.push(path);
    const kids = p.k ?? (p.g ? (p.g.k ?? null) : null);
    if (kids) kids.forEach((c, i) => walk(c, path === '' ? String(i + 1) : `${path}.${i + 1}`, depth + 1));
  };
  walk(ix.r, '', 0);
  return out;
}

// Upper case: Dovecot echoes the field names of HEADER.FIELDS upper-cased, Petrel as the client wrote them
// (both legal, RFC 9051 §7.5.2); with upper-case names the whole answer can be compared byte for byte.
const FIELDS = 'FROM TO CC SUBJECT DATE MESSAGE-ID CONTENT-TYPE X-MAILER';

/** Part paths (as in BODY[1.2]) that are multiparts or message/* parts. */
function compositePaths(ix: MimeIndexV1): Set<string> {
  const out = new Set<string>();
  const walkChildren = (p: MimePart, prefix: string, depth: number): void => {
    if (depth > 12) return;
    const sep = prefix === '' ? '' : prefix + '.';
    if (p.k) p.k.forEach((c, i) => walkPart(c, sep + String(i + 1), depth + 1));
    else walkPart(p, sep + '1', depth + 1);
  };
  const walkPart = (p: MimePart, path: string, depth: number): void => {
    if (p.k || p.g) out.add(path);
    if (p.k) walkChildren(p, path, depth);
    else if (p.g) walkChildren(p.g, path, depth);
  };
  walkChildren(ix.r, '', 0);
  return out;
}

function fetchItems(ix: MimeIndexV1): string[] {
  const items = [
    'ENVELOPE',
    'BODY',
    'BODYSTRUCTURE',
    'RFC822.SIZE',
    'BODY.PEEK[HEADER]',
    'BODY.PEEK[TEXT]',
    'BODY.PEEK[]<10.30>',
    'BODY.PEEK[TEXT]<5.1000000>',
    'BODY.PEEK[1]<3.20>',
    'BINARY.PEEK[1]<2.9>',
    `BODY.PEEK[HEADER.FIELDS (${FIELDS})]`,
    `BODY.PEEK[HEADER.FIELDS.NOT (${FIELDS} RECEIVED)]`,
  ];
  for (const p of partPaths(ix)) {
    items.push(`BODY.PEEK[${p}]`, `BODY.PEEK[${p}.MIME]`, `BINARY.SIZE[${p}]`, `BINARY.PEEK[${p}]`);
  }
  for (const p of messageParts(ix)) {
    items.push(`BODY.PEEK[${p}.HEADER]`, `BODY.PEEK[${p}.TEXT]`, `BODY.PEEK[${p}.HEADER.FIELDS (${FIELDS})]`);
  }
  return items;
}

/** The answer to one FETCH item: the FETCH response line(s) with "* n FETCH (" and UID stripped, or the
 *  tagged status when the server refused. */
function answer(untagged: string[], raws: Buffer[], tagged: string): string {
  const parts: string[] = [];
  untagged.forEach((text, i) => {
    const m = /^\* \d+ FETCH \(/.exec(text);
    if (!m) return;
    let body = raws[i]!.toString('latin1').slice(m[0].length);
    body = body.replace(/^UID \d+ /, '').replace(/ UID \d+\)$/, ')');
    // Dovecot answers a failed UID FETCH with "* n FETCH (UID u)" before its NO; only the NO counts.
    if (/^UID \d+\)$/.test(body)) return;
    parts.push(body);
  });
  const status = tagged.replace(/^\S+ /, '').split(' ')[0] ?? '';
  if (status !== 'OK') {
    // A refusal counts by its status and response code, not its human-readable text.
    const code = /^\S+ \S+ (\[[^\]]*\])/.exec(tagged);
    parts.push(`${status}${code ? ' ' + code[1] : ''}`);
  }
  return parts.join('\n');
}

async function login(port: number, user: string, password: string): Promise<ImapTestClient> {
  const c = await ImapTestClient.connect(port);
  const r = await c.command('L1', `LOGIN "${user}" "${password}"`);
  assert.match(r.tagged, /^L1 OK/, r.tagged);
  return c;
}

async function appendAll(c: ImapTestClient, messages: Buffer[]): Promise<void> {
  for (let i = 0; i < messages.length; i++) {
    const r = await c.commandWithLiterals(`A${i}`, ['APPEND INBOX (\\Seen) "01-Jan-2024 12:00:00 +0000" ', messages[i]!], 15_000);
    assert.match(r.tagged, /^A\d+ OK/, r.tagged);
  }
  const s = await c.command('S1', 'SELECT INBOX');
  assert.match(s.tagged, /^S1 OK/, s.tagged);
}

/** Sends every item of one message as its own UID FETCH and collects the answers. One at a time: Dovecot
 *  runs pipelined FETCH commands concurrently, so their untagged responses could interleave. */
async function fetchAnswers(c: ImapTestClient, uid: number, items: string[]): Promise<string[]> {
  const out: string[] = [];
  for (let i = 0; i < items.length; i++) {
    const r = await c.command(`F${i}`, `UID FETCH ${uid} (${items[i]!})`, 15_000);
    out.push(
      answer(
        r.untagged,
        r.responses.map((x) => x.raw),
        r.tagged,
      ),
    );
  }
  return out;
}

let dovecot: DovecotServer | null = null;
let petrel: TestServer | null = null;
let dc: ImapTestClient | null = null;
let pc: ImapTestClient | null = null;
const messages = files.map((f) => readFileSync(new URL(f, FIXTURES)));

before(async () => {
  let installed = await ensureDovecotInstalled();
  // Another test process may be installing it at the same moment (apt/dpkg lock): wait for it.
  for (let i = 0; !installed && i < 240; i++) {
    await new Promise((r) => setTimeout(r, 500));
    installed = findDovecot() !== null;
  }
  assert.ok(installed, 'Dovecot (dovecot-imapd) is needed for the differential test and could not be installed');
  dovecot = await startDovecot();
  assert.ok(dovecot, 'Dovecot did not start');
  petrel = await startTestServer();
  dc = await login(dovecot.port, dovecot.user, dovecot.password);
  pc = await login(petrel.port, petrel.user, petrel.password);
  await Promise.all([appendAll(dc, messages), appendAll(pc, messages)]);
});

after(async () => {
  if (dc) await logoutQuietly(dc);
  if (pc) await logoutQuietly(pc);
  await petrel?.stop();
  await dovecot?.stop();
});

test('the corpus has at least 60 messages', () => {
  assert.ok(files.length >= 60, `only ${files.length} fixtures`);
});

test('Petrel and Dovecot give byte-identical MIME answers for the whole corpus', async () => {
  const mismatches: string[] = [];
  const used = new Set<string>();
  let compared = 0;
  for (let i = 0; i < files.length; i++) {
    const file = files[i]!;
    const ix = indexMessage(messages[i]!);
    const composite = compositePaths(ix);
    const items = fetchItems(ix).filter((item) => !EXCEPTIONS.some((e) => e.notAsked && e.applies(file, item, false)));
    for (const e of EXCEPTIONS) if (e.notAsked && fetchItems(ix).some((item) => e.applies(file, item, false))) used.add(e.name);
    const [want, got] = await Promise.all([fetchAnswers(dc!, i + 1, items), fetchAnswers(pc!, i + 1, items)]);
    items.forEach((item, j) => {
      const path = /\[([\d.]*?)\.?(?:MIME|HEADER|TEXT)?\]/.exec(item)?.[1] ?? '';
      const ex = exempt(file, item, composite.has(path), want[j]!, got[j]!);
      if (ex.skip) {
        used.add(ex.skip.name);
        return;
      }
      compared++;
      if (ex.dovecot !== got[j]) {
        mismatches.push(`${file} ${item}\n  dovecot: ${JSON.stringify(want[j]).slice(0, 600)}\n  petrel:  ${JSON.stringify(got[j]).slice(0, 600)}`);
      }
    });
  }
  // For investigating: PETREL_MIME_DIFF=/path writes every difference there.
  if (process.env.PETREL_MIME_DIFF) writeFileSync(process.env.PETREL_MIME_DIFF, mismatches.join('\n'));
  assert.ok(compared > files.length * 10, `only ${compared} answers compared`);
  // Every exception is needed by the corpus (a stale one would hide nothing, but says something wrong).
  for (const e of EXCEPTIONS) if (!e.normalize) assert.ok(used.has(e.name), `exception "${e.name}" exempted nothing`);
  assert.equal(mismatches.length, 0, `${mismatches.length} differences:\n${mismatches.slice(0, 40).join('\n')}`);
});
