// Crash safety of `petrel import` as a real process: bin/petrel.js is killed with SIGKILL at several
// points of an mbox import and run again; in the end every message is in the mailbox exactly once, in
// the file's order (the resume record: src/mailfile/import-state.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { asctime } from '../../src/mailfile/from-line.js';
import { provisionUser } from '../../src/store/provision.js';
import { openSqliteStore } from '../../src/store/sqlite/sqlite-store.js';

const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const PETREL = join(REPO_ROOT, 'bin/petrel.js');

interface Run {
  code: number | null;
  signal: NodeJS.Signals | null;
  stderr: string;
  progressLines: number;
}

/** Runs petrel; with `killAfter`, sends SIGKILL once that many progress lines have appeared. */
function runPetrel(args: string[], killAfter?: number): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [PETREL, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    let lines = 0;
    let killed = false;
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (s: string) => {
      stderr += s;
      lines += (s.match(/petrel: import: /g) ?? []).length;
      if (killAfter !== undefined && !killed && lines >= killAfter) {
        killed = true;
        child.kill('SIGKILL');
      }
    });
    child.stdout.resume();
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, stderr, progressLines: lines }));
  });
}

test('kill -9 during an import, several times, then a rerun: exactly one copy of every message', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'petrel-kill-'));
  try {
    const data = join(dir, 'data');
    const store = await openSqliteStore(data);
    await provisionUser(store, 'ann', 'x');
    await store.close();

    const N = 400;
    let mbox = '';
    for (let i = 0; i < N; i++) {
      const date = Date.UTC(2021, 0, 1) + i * 60_000;
      mbox += `From a@example.org ${asctime(date)}\nSubject: m${i}\nMessage-ID: <k${i}@example.org>\n`;
      mbox += `Status: ${i % 2 ? 'RO' : 'O'}\n\nbody ${i}\n${'line of text\n'.repeat(i % 13)}\n`;
    }
    const file = join(dir, 'mail.mbox');
    await writeFile(file, mbox);
    const args = ['import', '--user', 'ann', '--mbox', file, '--data', data, '--batch-size', '7', '--progress', 'lines', '--progress-interval', '0'];

    let killedRuns = 0;
    for (const after of [5, 40, 90]) {
      const r = await runPetrel(args, after);
      if (r.signal === 'SIGKILL') killedRuns++;
      else assert.equal(r.code, 0, r.stderr);
    }
    assert.ok(killedRuns >= 2, `at least two runs were killed mid-import (${killedRuns})`);

    const last = await runPetrel(args);
    assert.equal(last.code, 0, last.stderr);
    assert.match(last.stderr, /Imported \d+ messages .* messages\/s.*400 in all, with earlier runs/);

    const s = await openSqliteStore(data);
    try {
      const user = (await s.getUser('ann'))!;
      const inbox = (await s.getMailbox(user.id, 'INBOX'))!;
      const msgs = await s.listMessages(inbox.id);
      const ids: string[] = [];
      for (const m of msgs) {
        const head = (await s.readBlob(m.blobId, 0, 200)).toString('latin1');
        ids.push(/Message-ID: <k(\d+)@/.exec(head)![1]!);
      }
      assert.equal(msgs.length, N, 'no loss, no duplicates');
      assert.deepEqual(ids, Array.from({ length: N }, (_, i) => String(i)), 'every message once, in file order');
      msgs.forEach((m, i) => {
        assert.equal(m.internalDate, Date.UTC(2021, 0, 1) + i * 60_000);
        assert.equal(m.flags.includes('\\Seen'), i % 2 === 1);
      });
    } finally {
      await s.close();
    }

    // Once done, a rerun is a no-op.
    const again = await runPetrel(args);
    assert.equal(again.code, 0);
    assert.match(again.stderr, /was already imported \(400 messages\)/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
