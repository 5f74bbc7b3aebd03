// Shared pieces of the `petrel fetch` tests: test messages (CRLF, with dot-lines and From_ lines so the
// POP3 byte-stuffing and mbox quoting are exercised), seeding a Petrel store, reading a Maildir back.
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { readMboxEvents } from '../../src/mailfile/mbox-file.js';
import type { Store } from '../../src/store/types.js';

export function makeMessage(i: number, extraBytes = 0): Buffer {
  const body = [
    `From: sender${i}@example.org`,
    `To: alice@example.org`,
    `Subject: message ${i}`,
    `Message-ID: <m${i}@example.org>`,
    '',
    `Body of message ${i}.`,
    '.a line with a leading dot',
    '.',
    'From the start of a line',
    'x'.repeat(extraBytes + (i % 7) * 13),
    'end',
    '',
  ].join('\r\n');
  return Buffer.from(body);
}

export async function seedInbox(store: Store, user: string, messages: Buffer[]): Promise<void> {
  const u = await store.getUser(user);
  if (!u) throw new Error(`no user ${user}`);
  const mb = await store.getMailbox(u.id, 'INBOX');
  if (!mb) throw new Error('no INBOX');
  for (const m of messages) {
    const prepared = await store.prepare(m);
    await store.append(mb.id, [{ message: prepared, flags: [] }]);
  }
}

export async function inboxCount(store: Store, user: string): Promise<number> {
  const u = await store.getUser(user);
  const mb = await store.getMailbox(u!.id, 'INBOX');
  return (await store.listMessages(mb!.id)).length;
}

/** Every message file in new/ and cur/ of a Maildir, as buffers. */
export async function readMaildir(dir: string): Promise<Buffer[]> {
  const out: Buffer[] = [];
  for (const d of ['new', 'cur']) {
    let names: string[] = [];
    try {
      names = await readdir(join(dir, d));
    } catch {
      continue;
    }
    for (const n of names.sort()) out.push(await readFile(join(dir, d, n)));
  }
  return out;
}

/** Sorted hex strings, for multiset comparison. */
export function sortedHex(bufs: Buffer[]): string[] {
  return bufs.map((b) => b.toString('hex')).sort();
}

export class Capture {
  text = '';
  write(s: string): boolean {
    this.text += s;
    return true;
  }
}

/** mulberry32: a small seeded PRNG, so a failing kill schedule can be replayed. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface ChildRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  stderr: string;
  killed: boolean;
}

/**
 * Runs `node bin/petrel.js fetch ...args`. With `{ journal, atBytes }` the child gets SIGKILL as soon as the
 * journal file has grown by that many bytes (polled continuously, so the kill lands at an arbitrary point
 * of the download → write → fsync → journal → delete cycle); with `{ afterMs }` after a delay (early
 * points: connecting, logging in, listing).
 */
export async function runFetchChild(
  repoRoot: string,
  args: string[],
  env: Record<string, string>,
  kill: { journal: string; atBytes: number } | { afterMs: number } | null,
): Promise<ChildRun> {
  const { spawn } = await import('node:child_process');
  const { stat } = await import('node:fs/promises');
  const child = spawn(process.execPath, [join(repoRoot, 'bin/petrel.js'), 'fetch', ...args, '--progress', 'none'], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  let exited = false;
  let killed = false;
  const done = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('exit', (code, signal) => {
      exited = true;
      resolve({ code, signal });
    }),
  );
  if (kill && 'afterMs' in kill) {
    setTimeout(() => {
      if (!exited) killed = child.kill('SIGKILL');
    }, kill.afterMs);
  } else if (kill) {
    // The target counts from the journal's size at the start: an earlier (killed) run's records are there.
    const base = await stat(kill.journal).then((s) => s.size, () => 0);
    void (async () => {
      while (!exited) {
        const size = await stat(kill.journal).then((s) => s.size, () => 0);
        if (size >= base + kill.atBytes) {
          if (!exited) killed = child.kill('SIGKILL');
          return;
        }
        await new Promise((r) => setImmediate(r));
      }
    })();
  }
  const { code, signal } = await done;
  return { code, signal, stderr, killed: killed && signal === 'SIGKILL' };
}

/**
 * Kills `fetch` at `kills` seeded random points, then runs it to completion (retrying while a POP3
 * server still holds the killed session's maildrop lock). Returns how many runs were really killed.
 */
export async function killAndRerun(opts: {
  repoRoot: string;
  args: string[];
  env: Record<string, string>;
  journal: string;
  /** Bytes the journal reaches at the end of a full run (a rough estimate is enough). */
  journalBytes: number;
  /** Messages to fetch. */
  messages: number;
  kills: number;
  seed: number;
}): Promise<{ killed: number; final: ChildRun }> {
  const rand = seededRandom(opts.seed);
  let killed = 0;
  for (let i = 0; i < opts.kills; i++) {
    const r = rand();
    // Spread the journal-size kill points over what is left of the run: once some messages are journaled,
    // their average record size tells how many bytes the rest will take.
    const text = await readFile(opts.journal, 'utf8').catch(() => '');
    const doneCount = (text.match(/"t":"done"/g) ?? []).length;
    // Before any record: a deliberately low guess (half the estimate) so the first run is surely killed.
    const perMessage = doneCount > 0 ? text.length / doneCount : opts.journalBytes / opts.messages / 2;
    const left = Math.max(500, 0.9 * perMessage * (opts.messages - doneCount));
    const kill = r < 0.15 ? { afterMs: Math.floor(rand() * 400) } : { journal: opts.journal, atBytes: Math.floor(rand() * left) };
    const run = await runFetchChild(opts.repoRoot, opts.args, opts.env, kill);
    if (process.env.PETREL_FETCH_KILL_DEBUG) console.log(`# run ${i}: ${JSON.stringify(kill)} done=${doneCount} left=${Math.round(left)} killed=${run.killed} code=${run.code} ${run.stderr.trim()}`);
    if (run.killed) killed++;
    else if (run.code !== 0 && !/IN-USE|locked/i.test(run.stderr)) throw new Error(`fetch run ${i} failed: ${run.stderr}`);
  }
  for (let attempt = 0; ; attempt++) {
    const final = await runFetchChild(opts.repoRoot, opts.args, opts.env, null);
    if (final.code === 0 || attempt >= 20 || !/IN-USE|locked/i.test(final.stderr)) {
      console.log(`# fetch killed in ${killed} of ${opts.kills} runs (seed ${opts.seed})`);
      return { killed, final };
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Messages read back from an mbox file by the import parser (From_ line and Status removed, LF → CRLF). */
export async function readMbox(path: string): Promise<Buffer[]> {
  const out: Buffer[] = [];
  let cur: Buffer[] = [];
  for await (const events of readMboxEvents(path, { format: 'mboxrd' })) {
    for (const e of events) {
      if (e.type === 'begin') cur = [];
      else if (e.type === 'header') cur.push(Buffer.from(e.data));
      else if (e.type === 'body') cur.push(Buffer.from(e.data));
      else if (e.type === 'end') out.push(Buffer.concat(cur));
    }
  }
  return out;
}
