// Hostile input, part 1: lines and literals. RFC 9051 §2.2.1 (commands, synchronizing literals), §4.3
// (literals), §7.1.5 (BYE), §5.4 (autologout); RFC 7888 §4 (oversized non-synchronizing literals are read and
// discarded, answered BAD [TOOBIG]); RFC 4469 / RFC 7889 (TOOBIG, APPENDLIMIT). Each case ends with a clear
// tagged answer or a closed connection, with bounded retained memory, while another client is served.
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { LIMITS } from '../../src/protocol/limits.js';
import { assertServes, heapAfterGc, MB, readTaggedCounting, startHostileServer, waitClosed, type HostileServer } from './helpers.js';

let hs: HostileServer;

before(async () => {
  hs = await startHostileServer({ preAuthTimeoutMs: 800, idleTimeoutMs: 1500 });
});
after(async () => {
  await hs.stop();
});

test('a command line over the line limit gets BAD [TOOBIG]; the next command works', async () => {
  const c = await hs.login();
  const heap0 = heapAfterGc();
  const long = 'A1 SELECT ' + 'x'.repeat(LIMITS.maxLineLength * 4);
  const r = await c.command('A1', long.slice(3));
  assert.match(r.tagged, /^A1 BAD \[TOOBIG\]/);
  // 50 MB of one line without a line end, in pieces: the framer keeps only the tag and skips the rest.
  const piece = Buffer.alloc(MB, 0x61);
  c.sendRaw('A2 NOOP ');
  for (let i = 0; i < 50; i++) c.sendRaw(piece);
  c.sendRaw('\r\n');
  assert.match((await c.readTagged('A2', 30_000)).tagged, /^A2 BAD \[TOOBIG\]/);
  assert.match((await c.command('A3', 'NOOP')).tagged, /^A3 OK/);
  await assertServes(hs);
  assert.ok(heapAfterGc() - heap0 < 32 * MB, 'retained heap stays small');
});

test('oversized literals: synchronizing refused before the data, non-synchronizing read and discarded', async () => {
  const c = await hs.login();
  // A string argument literal above the inline cap (not APPEND): NO [TOOBIG] and no continuation.
  c.send(`B1 SELECT {${LIMITS.maxInlineLiteral + 1}}`);
  assert.match((await c.next()).text, /^B1 (NO|BAD) \[TOOBIG\]/);
  // An APPEND literal above APPENDLIMIT, synchronizing.
  c.send('B2 APPEND INBOX {4294967295}');
  assert.match((await c.next()).text, /^B2 NO \[TOOBIG\]/);
  // A literal size beyond 32 bits.
  c.send('B3 APPEND INBOX {99999999999999999999}');
  assert.match((await c.next()).text, /^B3 (NO|BAD)/);
  // Non-synchronizing, above the inline cap: the octets are on the wire; they are skipped, not parsed.
  const junk = Buffer.alloc(LIMITS.maxInlineLiteral * 3, 0x29); // ')))...' would break a parser that read it
  c.sendRaw(Buffer.concat([Buffer.from(`B4 LOGIN {${junk.length}+}\r\n`), junk, Buffer.from(' x\r\n')]));
  assert.match((await c.readTagged('B4')).tagged, /^B4 BAD \[TOOBIG\]/);
  assert.match((await c.command('B5', 'NOOP')).tagged, /^B5 OK/);
  await assertServes(hs);
});

test('a literal announced and never sent: the pre-auth timeout closes the connection', async () => {
  const c = await hs.connect();
  c.send('C1 LOGIN {10}');
  assert.match((await c.next()).text, /^\+ /);
  await assertServes(hs, 'while a literal is outstanding');
  const seen = await waitClosed(c, 10_000);
  assert.ok(seen.some((l) => /^\* BYE/.test(l)), `BYE before closing: ${JSON.stringify(seen)}`);
  await assertServes(hs, 'after');
});

test('an APPEND literal announced and never finished: autologout closes it and the partial upload is dropped', async () => {
  const c = await hs.login();
  c.send('D1 APPEND INBOX {100000}');
  assert.match((await c.next()).text, /^\+ /);
  c.sendRaw(Buffer.alloc(50_000, 0x61));
  await assertServes(hs, 'during a stalled APPEND');
  await waitClosed(c, 15_000);
  // The temp file of the abandoned upload goes away with the connection, not only at the next GC.
  const tmp = join(hs.dataDir, 'tmp');
  let left: string[] = [];
  for (let i = 0; i < 50; i++) {
    left = await readdir(tmp);
    if (left.length === 0) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.deepEqual(left, [], 'temp files of the aborted APPEND');
  await assertServes(hs, 'after');
});

test('slowloris: a half line held open before login is closed by the pre-auth timeout', async () => {
  const c = await hs.connect();
  c.sendRaw('E1 LOGIN alice');
  await assertServes(hs, 'while the half line is held');
  const seen = await waitClosed(c, 10_000);
  assert.ok(seen.some((l) => /^\* BYE/.test(l)), JSON.stringify(seen));
});

test('slowloris trickling one byte at a time cannot extend the pre-auth timeout', async () => {
  const c = await hs.connect();
  const timer = setInterval(() => {
    if (!c.closed) c.sendRaw('x');
  }, 100);
  try {
    const seen = await waitClosed(c, 10_000);
    // Bytes arrive every 100 ms, so an inactivity timer would never fire: the close comes from the 800 ms
    // limit counted from the connection's start.
    assert.ok(seen.some((l) => /^\* BYE/.test(l)), JSON.stringify(seen));
  } finally {
    clearInterval(timer);
  }
  await assertServes(hs);
});

test('NUL octets: in a command line, in a quoted string and in a plain literal are rejected; literal8 carries them', async () => {
  const c = await hs.login();
  c.sendRaw(Buffer.from('F1 NOOP\0\r\n'));
  assert.match((await c.readTagged('F1')).tagged, /^F1 BAD/);
  c.sendRaw(Buffer.from('F2 SELECT "IN\0BOX"\r\n'));
  assert.match((await c.readTagged('F2')).tagged, /^F2 BAD/);
  c.sendRaw(Buffer.from('F3 SELECT {3+}\r\na\0b\r\n'));
  assert.match((await c.readTagged('F3')).tagged, /^F3 BAD/);
  // A message with NUL octets in a plain literal (RFC 9051 §4.3: only literal8 may carry NUL).
  const withNul = Buffer.from('Subject: nul\r\n\r\na\0b\r\n', 'latin1');
  c.sendRaw(Buffer.concat([Buffer.from(`F4 APPEND INBOX {${withNul.length}+}\r\n`), withNul, Buffer.from('\r\n')]));
  assert.match((await c.readTagged('F4')).tagged, /^F4 (OK|NO|BAD)/);
  assert.match((await c.command('F5', 'NOOP')).tagged, /^F5 OK/);
  await assertServes(hs);
});

test('pipelined garbage after a valid command: each piece gets its own answer and the session goes on', async () => {
  const c = await hs.login();
  const garbage = Buffer.concat([
    Buffer.from('G1 NOOP\r\n'),
    Buffer.from([0xff, 0xfe, 0x00, 0x20, 0x0d, 0x0a]),
    Buffer.from('((((\r\n}}}}\r\n* * *\r\n+ hi\r\nG2\r\nG3 \r\nG4 FETCH\r\nG5 UID\r\n"G6" NOOP\r\n'),
    Buffer.from('G7 FETCH 1 (BODY[\r\nG8 LOGIN {5}\r\nalice x\r\n'),
    Buffer.from('G9 NOOP\r\n'),
  ]);
  c.sendRaw(garbage);
  const r1 = await c.readTagged('G1');
  assert.match(r1.tagged, /^G1 OK/);
  const rest = await c.readTagged('G9');
  assert.match(rest.tagged, /^G9 OK/);
  // G8's literal was sent without waiting for the continuation; the server still reads it as the literal.
  assert.ok(rest.untagged.length >= 6, JSON.stringify(rest.untagged));
  for (const l of rest.untagged) assert.match(l, /^(\S+ (BAD|NO|OK)|\+ )/, l);
  await assertServes(hs);
});

test('a flood of 50,000 empty lines: one BAD each, read in order, memory bounded', async () => {
  const c = await hs.login();
  const heap0 = heapAfterGc();
  c.sendRaw(Buffer.concat([Buffer.alloc(50_000, 0x0a), Buffer.from('H1 NOOP\r\n')]));
  const r = await readTaggedCounting(c, 'H1', 60_000);
  assert.match(r.tagged, /^H1 OK/);
  assert.equal(r.count, 50_000);
  await assertServes(hs);
  assert.ok(heapAfterGc() - heap0 < 32 * MB);
});
