// Hostile input, part 2: deep and huge structures. RFC 9051 §9 (sequence-set, section-part, nested lists),
// §6.4.5 (FETCH BODY[section], BODYSTRUCTURE), §7.5.2; RFC 2046 §5.2.1 (message/rfc822 nesting); RFC 5322
// §2.2 (header fields). The server answers each with a bounded response and bounded memory, and goes on
// serving another client.
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { LIMITS } from '../../src/protocol/limits.js';
import { assertServes, heapAfterGc, MB, readTaggedCounting, startHostileServer, type HostileServer } from './helpers.js';
import type { ImapTestClient } from '../helpers/imap-client.js';

let hs: HostileServer;
let c: ImapTestClient;

before(async () => {
  hs = await startHostileServer();
  c = await hs.login();
  for (let i = 0; i < 5; i++) {
    const m = Buffer.from(`Subject: m${i}\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\r\none\r\n--b\r\n\r\ntwo\r\n--b--\r\n`);
    assert.match((await c.commandWithLiterals(`P${i}`, ['APPEND INBOX ', m])).tagged, /OK/);
  }
  assert.match((await c.command('S', 'SELECT INBOX')).tagged, /^S OK/);
});
after(async () => {
  await hs.stop();
});

/** Deepest parenthesis nesting in a response. */
function depth(text: string): number {
  let d = 0;
  let max = 0;
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (quoted) {
      if (ch === '\\') i++;
      else if (ch === '"') quoted = false;
    } else if (ch === '"') quoted = true;
    else if (ch === '(') max = Math.max(max, ++d);
    else if (ch === ')') d--;
  }
  return max;
}

test('10,000 nested parentheses: BAD, nothing built', async () => {
  const heap0 = heapAfterGc();
  const r = await c.command('N1', `FETCH 1 ${'('.repeat(10_000)}FLAGS${')'.repeat(10_000)}`);
  assert.match(r.tagged, /^N1 BAD .*nested/i);
  const r2 = await c.command('N2', `SEARCH ${'('.repeat(10_000)}`);
  assert.match(r2.tagged, /^N2 BAD/);
  // Within the framer's nesting limit but deeper than SEARCH allows: its own error.
  const r3 = await c.command('N3', `SEARCH ${'NOT '.repeat(5000)}ALL`);
  assert.match(r3.tagged, /^N3 BAD/);
  assert.ok(heapAfterGc() - heap0 < 16 * MB);
  await assertServes(hs);
});

test('sequence sets 1:4294967295,* and tens of thousands of ranges', async () => {
  const u = await c.command('Q1', 'UID FETCH 1:4294967295,* (FLAGS)');
  assert.match(u.tagged, /^Q1 OK/);
  assert.equal(u.untagged.filter((l) => /FETCH/.test(l)).length, 5);
  const s = await c.command('Q2', 'FETCH 1:4294967295,* (FLAGS)');
  assert.match(s.tagged, /^Q2 (OK|BAD|NO)/);
  const st = await c.command('Q3', 'UID STORE 4294967295:1 +FLAGS.SILENT (x)');
  assert.match(st.tagged, /^Q3 OK/);
  // As many ranges as fit in a command line (10,000), in UID FETCH, UID SEARCH and UID STORE.
  const many = Array.from({ length: 10_000 }, (_, i) => `${2 * i + 1}`).join(',');
  assert.ok(many.length < LIMITS.maxLineLength);
  for (const [tag, cmd] of [['Q4', `UID FETCH ${many} (UID)`], ['Q5', `UID SEARCH UID ${many}`], ['Q6', `UID STORE ${many} -FLAGS.SILENT (x)`]]) {
    const r = await readTaggedAfter(tag!, cmd!);
    assert.match(r.tagged, new RegExp(`^${tag} OK`));
  }
  // 100,000 ranges do not fit in a line: refused as too long.
  const tooMany = Array.from({ length: 100_000 }, (_, i) => `${i + 1}`).join(',');
  assert.match((await c.command('Q7', `UID FETCH ${tooMany} (UID)`)).tagged, /^Q7 BAD \[TOOBIG\]/);
  await assertServes(hs);
});

async function readTaggedAfter(tag: string, cmd: string): Promise<{ tagged: string; count: number }> {
  c.send(`${tag} ${cmd}`);
  return readTaggedCounting(c, tag);
}

test('BODY[1.2.3...] with 1,000 levels and BINARY with 1,000 levels', async () => {
  const path = Array.from({ length: 1000 }, (_, i) => (i % 9) + 1).join('.');
  const r = await c.command('B1', `FETCH 1 (BODY.PEEK[${path}])`);
  assert.match(r.tagged, /^B1 (OK|NO|BAD)/);
  const r2 = await c.command('B2', `FETCH 1 (BODY.PEEK[${path}.MIME] BINARY.PEEK[${path}] BINARY.SIZE[${path}])`);
  assert.match(r2.tagged, /^B2 (OK|NO|BAD)/);
  const r3 = await c.command('B3', `FETCH 1 (BODY.PEEK[1.${'1.'.repeat(999)}HEADER.FIELDS (${'X '.repeat(2000)}Subject)])`);
  assert.match(r3.tagged, /^B3 (OK|NO|BAD)/);
  await assertServes(hs);
});

test('message/rfc822 nested 1,000 deep and multipart nested 1,000 deep: APPEND, then bounded BODYSTRUCTURE', async () => {
  const heap0 = heapAfterGc();
  let msg = 'Subject: bottom\r\n\r\nthe end\r\n';
  for (let i = 0; i < 1000; i++) msg = `Subject: level ${i}\r\nContent-Type: message/rfc822\r\n\r\n${msg}`;
  let multi = 'Content-Type: text/plain\r\n\r\nleaf\r\n';
  for (let i = 0; i < 1000; i++) multi = `Content-Type: multipart/mixed; boundary=b${i}\r\n\r\n--b${i}\r\n${multi}\r\n--b${i}--\r\n`;
  for (const [tag, body] of [['R1', msg], ['R2', `Subject: multi\r\n${multi}`]] as const) {
    const a = await c.commandWithLiterals(tag, ['APPEND INBOX ', Buffer.from(body)]);
    assert.match(a.tagged, new RegExp(`^${tag} OK`));
    const uid = /APPENDUID \d+ (\d+)/.exec(a.tagged)![1];
    const f = await c.command(`${tag}F`, `UID FETCH ${uid} (BODYSTRUCTURE BODY ENVELOPE BODY.PEEK[${'1.'.repeat(200)}TEXT])`);
    assert.match(f.tagged, new RegExp(`^${tag}F OK`));
    const text = f.untagged.join('\n');
    // The indexer stops descending at LIMITS.maxMimeDepth; the response nesting follows.
    const d = depth(text);
    assert.ok(d > 10 && d < LIMITS.maxMimeDepth * 4, `response nesting ${d}`);
    assert.ok(text.length < 1 * MB);
  }
  assert.ok(heapAfterGc() - heap0 < 32 * MB);
  await assertServes(hs);
});

test('a 10 MB header (one folded field; 210,000 fields): APPEND, then ENVELOPE, BODYSTRUCTURE, HEADER.FIELDS', async () => {
  const folded = 'Subject: big' + '\r\n x'.repeat(3_500_000) + '\r\n';
  // 110,000 unindexed fields, then 100,000 To: fields (merged into one address list up to the header cap).
  const manyFields =
    Array.from({ length: 110_000 }, (_, i) => `X-F${i}: ${'v'.repeat(90)}\r\n`).join('') +
    Array.from({ length: 100_000 }, (_, i) => `To: u${i}@x.example\r\n`).join('');
  for (const [tag, header] of [['H1', folded], ['H2', 'Subject: many\r\n' + manyFields]] as const) {
    const heap0 = heapAfterGc();
    const msg = Buffer.from(`From: a@b.example\r\n${header}\r\nbody\r\n`);
    assert.ok(msg.length > 10 * MB - 1000);
    c.sendRaw(Buffer.concat([Buffer.from(`${tag} APPEND INBOX {${msg.length}+}\r\n`), msg, Buffer.from('\r\n')]));
    const a = await c.readTagged(tag, 60_000);
    assert.match(a.tagged, new RegExp(`^${tag} OK`));
    const uid = /APPENDUID \d+ (\d+)/.exec(a.tagged)![1];
    const f = await c.command(`${tag}F`, `UID FETCH ${uid} (ENVELOPE BODYSTRUCTURE BODY.PEEK[HEADER.FIELDS (From)] RFC822.SIZE)`, 60_000);
    assert.match(f.tagged, new RegExp(`^${tag}F OK`));
    const text = f.untagged.join('\n');
    assert.match(text, /From: a@b\.example/);
    // ENVELOPE carries at most the indexer's header cap, not the whole 10 MB.
    assert.ok(text.length < LIMITS.maxHeaderBytes * 2 + 64 * 1024, `response of ${text.length} chars`);
    const s = await c.command(`${tag}S`, `UID SEARCH HEADER X-F109999 v SUBJECT many`, 60_000);
    assert.match(s.tagged, new RegExp(`^${tag}S OK`));
    assert.ok(heapAfterGc() - heap0 < 64 * MB, 'retained memory after a 10 MB header');
  }
  await assertServes(hs);
});
