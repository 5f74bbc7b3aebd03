// Maildir pieces (src/mailfile): ":2," info letters ↔ flags and keywords, name order, Maildir++ level
// encoding (modified UTF-7, RFC 3501 §5.1.3), folder discovery in both layouts, and the line-end converters.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { flagsFromMaildirInfo, maildirInfo } from '../../src/mailfile/flags.js';
import { compareKeys, decodeLevel, encodeLevel, listMaildirFolders, listMaildirMessages, readDovecotKeywords } from '../../src/mailfile/maildir.js';
import { folderPathFor, maildirHost, maildirKey } from '../../src/mailfile/maildir-writer.js';
import { CrlfConverter, LfConverter } from '../../src/mailfile/line-splitter.js';

test('info letters ↔ flags; keywords through the letter map; output sorted', () => {
  const kw = new Map([['a', '$Label1'], ['b', 'work']]);
  const parsed = flagsFromMaildirInfo('DFPRSTab', (l) => kw.get(l));
  assert.deepEqual(parsed.flags, ['\\Draft', '\\Flagged', '$Forwarded', '\\Answered', '\\Seen', '\\Deleted', '$Label1', 'work']);
  assert.deepEqual(flagsFromMaildirInfo('Sz', () => undefined).unknown, ['z']);
  const letters = new Map([['$label1', 'a'], ['work', 'b']]);
  const out = maildirInfo(['\\Seen', 'work', '\\Flagged', '$Forwarded', '\\Recent', 'other', '\\Deleted'], (k) => letters.get(k.toLowerCase()) ?? null);
  assert.equal(out.info, 'FPSTb');
  assert.deepEqual(out.lost, ['other']);
});

test('keys: digit runs compare as numbers; a total order', () => {
  assert.ok(compareKeys('1700000000.V1U9.h', '1700000000.V1U10.h') < 0);
  assert.ok(compareKeys('999999999.M1.h', '1000000000.M1.h') < 0);
  assert.ok(compareKeys('a', 'a') === 0);
  fc.assert(
    fc.property(fc.array(fc.stringMatching(/^[0-9a-c.]{0,8}$/), { minLength: 3, maxLength: 3 }), ([a, b, c]) => {
      assert.equal(Math.sign(compareKeys(a!, b!)) + Math.sign(compareKeys(b!, a!)), 0);
      if (compareKeys(a!, b!) <= 0 && compareKeys(b!, c!) <= 0) assert.ok(compareKeys(a!, c!) <= 0);
      if (compareKeys(a!, b!) === 0) assert.equal(a, b);
    }),
  );
});

test('Maildir++ levels: modified UTF-7, "." encoded; raw UTF-8 names accepted on read', () => {
  assert.equal(encodeLevel('Café'), 'Caf&AOk-');
  assert.equal(decodeLevel('Caf&AOk-'), 'Café');
  assert.equal(decodeLevel(encodeLevel('v1.2')), 'v1.2');
  assert.equal(decodeLevel(encodeLevel('é.x.')), 'é.x.');
  assert.ok(!encodeLevel('v1.2').includes('.'));
  assert.equal(decodeLevel('Café'), 'Café');
  assert.equal(decodeLevel('a&b'), 'a&b', 'invalid modified UTF-7 is taken literally');
  assert.equal(folderPathFor('/r', 'maildir++', 'INBOX'), '/r');
  assert.equal(folderPathFor('/r', 'maildir++', 'A/Café'), '/r/.A.Caf&AOk-');
  assert.equal(folderPathFor('/r', 'fs', 'A/B'), '/r/A/B');
  assert.throws(() => folderPathFor('/r', 'fs', 'cur'), /fs layout/);
  assert.equal(maildirHost('a/b:c,d'), 'a\\057b\\072c\\054d');
  assert.equal(maildirKey(1_700_000_000_999, 5, 42, 'h'), '1700000000.V5U42.h');
});

test('folder discovery: Maildir++ and fs layouts, auto; files in cur/ and new/, tmp/ ignored', async () => {
  const root = await mkdtemp(join(tmpdir(), 'petrel-md-'));
  try {
    for (const d of ['cur', 'new', 'tmp', '.A/cur', '.A.B/new', '.Caf&AOk-/cur', '.notafolder', 'X/cur', 'X/Y/cur']) {
      await mkdir(join(root, d), { recursive: true });
    }
    await writeFile(join(root, 'cur', '2.M1.h:2,S'), 'x');
    await writeFile(join(root, 'new', '10.M1.h'), 'x');
    await writeFile(join(root, 'tmp', '1.M1.h'), 'x');
    await writeFile(join(root, 'cur', '.hidden'), 'x');
    await writeFile(join(root, 'dovecot-keywords'), '0 $Label1\n3 work\nbad line\n');
    const plus = await listMaildirFolders(root, 'auto');
    assert.equal(plus.layout, 'maildir++');
    assert.deepEqual(plus.folders.map((f) => f.name), ['', 'A', 'A/B', 'Café']);
    const fs = await listMaildirFolders(root, 'fs');
    assert.deepEqual(fs.folders.map((f) => f.name), ['', 'X', 'X/Y']);
    const msgs = await listMaildirMessages(root);
    assert.deepEqual(msgs.map((m) => [m.key, m.subdir, m.info]), [['2.M1.h', 'cur', 'S'], ['10.M1.h', 'new', '']]);
    assert.deepEqual([...(await readDovecotKeywords(root))], [['a', '$Label1'], ['d', 'work']]);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});

test('line-end converters give the same bytes for any chunking', () => {
  fc.assert(
    fc.property(fc.array(fc.constantFrom('a', '\r', '\n', '\r\n', 'xy'), { maxLength: 40 }), fc.integer({ min: 1, max: 5 }), (parts, size) => {
      const input = Buffer.from(parts.join(''));
      const crlf = new CrlfConverter();
      const lf = new LfConverter();
      const a: Buffer[] = [];
      const b: Buffer[] = [];
      for (let i = 0; i < input.length; i += size) {
        const chunk = input.subarray(i, i + size);
        a.push(crlf.push(chunk));
        b.push(lf.push(chunk));
      }
      b.push(lf.finish());
      const text = input.toString('latin1');
      assert.equal(Buffer.concat(a).toString('latin1'), text.replace(/\r?\n/g, '\r\n'));
      assert.equal(Buffer.concat(b).toString('latin1'), text.replace(/\r\n/g, '\n'));
    }),
    { numRuns: 300 },
  );
});
