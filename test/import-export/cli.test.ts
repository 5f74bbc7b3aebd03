// `petrel import` / `petrel export` as commands (in-process, real store): registration in --help, usage
// errors with exit status 2, failures with 1, the summary line on stderr.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { run, tempDir } from '../cli/helpers.js';

test('import and export: help, usage errors, a small import and export with summaries', async () => {
  const help = await run(['--help']);
  assert.match(help.stdout, /\n {2}import\b/);
  assert.match(help.stdout, /\n {2}export\b/);
  const importHelp = await run(['import', '--help']);
  assert.equal(importHelp.code, 0);
  assert.match(importHelp.stdout, /--mbox-format <fmt>/);

  const dir = await tempDir();
  try {
    const data = join(dir, 'data');
    assert.equal((await run(['user', 'add', 'ann', '--data', data, '--password', 'pw'])).code, 0);

    const neither = await run(['import', '--user', 'ann', '--data', data]);
    assert.equal(neither.code, 2);
    assert.match(neither.stderr, /exactly one of --mbox and --maildir/);
    const badFormat = await run(['import', '--user', 'ann', '--mbox', 'x', '--mbox-format', 'mboxcl', '--data', data]);
    assert.equal(badFormat.code, 2);
    assert.match(badFormat.stderr, /--mbox-format must be one of mboxo, mboxrd, auto/);
    const missing = await run(['import', '--user', 'ann', '--mbox', join(dir, 'nope.mbox'), '--data', data]);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /cannot read .*nope\.mbox/);
    const notMbox = join(dir, 'plain.txt');
    await writeFile(notMbox, 'Subject: hi\n\nnot an mbox\n');
    const bad = await run(['import', '--user', 'ann', '--mbox', notMbox, '--data', data]);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /not an mbox file/);

    const mbox = join(dir, 'in.mbox');
    await writeFile(mbox, 'From a Mon Jan  1 00:00:00 2024\nSubject: 1\nStatus: RO\n\none\n\nFrom b Tue Jan  2 00:00:00 2024\nSubject: 2\n\ntwo\n');
    const imp = await run(['import', '--user', 'ann', '--mbox', mbox, '--mailbox', 'Old/2024', '--data', data, '--progress', 'none']);
    assert.equal(imp.code, 0, imp.stderr);
    assert.match(imp.stderr, /^Imported 2 messages \(\d+ B\) into 1 mailbox of ann in [\d.]+ s: \d+ messages\/s/);
    const list = await run(['mailbox', 'list', '--user', 'ann', '--data', data]);
    assert.match(list.stdout, /\nOld\/2024 +yes +2 +1 /);

    const out = join(dir, 'out.mbox');
    const exp = await run(['export', '--user', 'ann', '--mbox', out, '--mailbox', 'old/2024', '--data', data, '--progress', 'none']);
    assert.equal(exp.code, 1, 'mailbox names other than INBOX are case-sensitive');
    assert.match(exp.stderr, /no mailbox "old\/2024"/);
    const exp2 = await run(['export', '--user', 'ann', '--mbox', out, '--mailbox', 'Old/2024', '--data', data, '--progress', 'none']);
    assert.equal(exp2.code, 0, exp2.stderr);
    assert.match(exp2.stderr, /^Exported 2 messages/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('--progress bar: import and export draw a bar on stderr and clear it before the summary; lines mode prints lines', async () => {
  const dir = await tempDir();
  try {
    const data = join(dir, 'data');
    assert.equal((await run(['user', 'add', 'bo', '--data', data, '--password', 'pw'])).code, 0);
    const mbox = join(dir, 'in.mbox');
    await writeFile(mbox, Array.from({ length: 3 }, (_, i) => `From a Mon Jan  1 00:00:0${i} 2024\nSubject: ${i}\n\nbody ${i}\n`).join('\n'));
    const imp = await run(['import', '--user', 'bo', '--mbox', mbox, '--data', data, '--progress', 'bar']);
    assert.equal(imp.code, 0, imp.stderr);
    // The bar is drawn in place ("\r" ... "\x1b[K"), then "\r\x1b[K" erases it and the summary follows.
    assert.match(imp.stderr, /^\rimport [^\r\n]*\[[#-]{24}\] +\d+% \d+ messages, [^\r\n]* msg\/s[^\r\n]*\x1b\[K(\r[^\r\n]*\x1b\[K)*\r\x1b\[KImported 3 messages/);
    const out = join(dir, 'out.mbox');
    const exp = await run(['export', '--user', 'bo', '--mbox', out, '--mailbox', 'INBOX', '--data', data, '--progress', 'bar']);
    assert.equal(exp.code, 0, exp.stderr);
    assert.match(exp.stderr, /^\rexport \[[#-]{24}\] +\d+% \d+ messages, [^\r\n]* msg\/s[^\r\n]*\x1b\[K(\r[^\r\n]*\x1b\[K)*\r\x1b\[KExported 3 messages/);
    const lines = await run(['import', '--user', 'bo', '--mbox', mbox, '--mailbox', 'Again', '--state', join(dir, 'again.json'), '--data', data, '--progress', 'lines', '--progress-interval', '0']);
    assert.equal(lines.code, 0, lines.stderr);
    assert.ok(!lines.stderr.includes('\r'), 'no carriage returns in lines mode');
    assert.match(lines.stderr, /^petrel: [^\n]*: \d+ messages, [^\n]* msg\/s \(\d+%\)/m);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
