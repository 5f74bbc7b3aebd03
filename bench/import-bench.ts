// `npm run bench -- --only import`: the rate of `petrel import` (issue 6, item 4: "A 100,000-message import
// runs at a measured rate") for an mbox file (mboxrd, RFC 4155 From_ lines, LF line ends as mail files on
// Unix have them) and a Maildir (flags in the `:2,` suffix), and of `petrel export` of the imported
// mailbox back to an mbox file. Each run is the real CLI in a child process on a fresh data directory;
// the messages are the benchmark's deterministic ~1.5-4 KB plain messages (bench/messages.ts).
//
//   node dist/bench/run.js --only import [--count N] [--formats mbox,maildir] [--json FILE]
import { spawn } from 'node:child_process';
import { closeSync, mkdirSync, mkdtempSync, openSync, rmSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { cpus, loadavg, release, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { openStore } from '../src/store/open-store.js';
import { smallMessage } from './messages.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const PETREL = join(ROOT, 'bin', 'petrel.js');
const SEED = 61;

export function wantsImportBench(argv: readonly string[]): boolean {
  const i = argv.indexOf('--only');
  return i >= 0 && (argv[i + 1] ?? '').split(',').includes('import');
}

interface Row {
  what: string;
  messages: number;
  bytes: number;
  seconds: number;
}

/** Runs the CLI; resolves with its stderr when it exits 0. */
function petrel(args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [PETREL, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolve(err) : reject(new Error(`petrel ${args[0]} exited ${code}: ${err.slice(-2000)}`))));
  });
}

/** The benchmark messages with LF line ends (as an MUA's mbox or Maildir holds them). */
function message(i: number): Buffer {
  return Buffer.from(smallMessage(SEED, i).toString('latin1').replace(/\r\n/g, '\n'), 'latin1');
}

function writeMbox(file: string, count: number): number {
  const fd = openSync(file, 'w');
  let bytes = 0;
  const batch: Buffer[] = [];
  const flush = () => {
    const b = Buffer.concat(batch);
    writeSync(fd, b);
    bytes += b.length;
    batch.length = 0;
  };
  const start = Date.UTC(2020, 0, 1);
  for (let i = 0; i < count; i++) {
    const d = new Date(start + i * 60_000).toUTCString().replace(/^(\w+), (\d+) (\w+) (\d+) ([\d:]+) GMT$/, '$1 $3 $2 $5 $4');
    // mboxrd (RFC 4155 §2 note): a body line matching ^>*From gets one more '>'.
    const text = message(i).toString('latin1').replace(/^(>*From )/gm, '>$1');
    batch.push(Buffer.from(`From bench@example.org ${d}\n${text}${text.endsWith('\n') ? '' : '\n'}\n`, 'latin1'));
    if (batch.length === 1000) flush();
  }
  flush();
  closeSync(fd);
  return bytes;
}

function writeMaildir(dir: string, count: number): number {
  for (const sub of ['cur', 'new', 'tmp']) mkdirSync(join(dir, sub), { recursive: true });
  let bytes = 0;
  const flags = ['', 'S', 'RS', 'FS', 'S', 'S'];
  for (let i = 0; i < count; i++) {
    const m = message(i);
    writeFileSync(join(dir, 'cur', `${1_600_000_000 + i}.M${i}P1.bench:2,${flags[i % flags.length]}`), m);
    bytes += m.length;
  }
  return bytes;
}

async function inboxCount(data: string): Promise<number> {
  const store = await openStore({ dataDir: data, store: null });
  try {
    const user = await store.getUser('bench');
    const inbox = user && (await store.getMailbox(user.id, 'INBOX'));
    if (!inbox) return 0;
    return (await store.listMessages(inbox.id)).length;
  } finally {
    await store.close();
  }
}

function fmt(n: number, digits = 0): string {
  return n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
}

/** `npm run bench -- --only import [...]`. */
export async function runImportBenchCli(argv: readonly string[]): Promise<void> {
  let count = 100_000;
  let formats = ['mbox', 'maildir'];
  let json: string | null = null;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--only') i++;
    else if (a === '--count') count = Number(argv[++i]);
    else if (a === '--quick') count = 5_000;
    else if (a === '--formats') formats = (argv[++i] ?? '').split(',');
    else if (a === '--json') json = argv[++i] ?? null;
    else throw new Error(`unknown option ${a} (--count N, --quick, --formats mbox,maildir, --json FILE)`);
  }
  if (!Number.isInteger(count) || count < 1) throw new Error('--count needs a positive integer');
  console.log(`petrel import/export benchmark: ${fmt(count)} messages per run`);
  console.log(`machine: ${cpus().length} × ${cpus()[0]?.model ?? '?'}, ${(totalmem() / 2 ** 30).toFixed(1)} GiB, Linux ${release()}, Node ${process.version}; load ${loadavg().map((x) => x.toFixed(2)).join(' ')}`);
  const rows: Row[] = [];
  const work = mkdtempSync(join(tmpdir(), 'petrel-import-bench-'));
  try {
    for (const format of formats) {
      if (format !== 'mbox' && format !== 'maildir') throw new Error(`unknown format ${format}`);
      const src = join(work, format === 'mbox' ? 'in.mbox' : 'Maildir');
      const t0 = Date.now();
      const bytes = format === 'mbox' ? writeMbox(src, count) : writeMaildir(src, count);
      console.log(`[import] wrote the ${format} source (${fmt(bytes / 2 ** 20, 1)} MiB) in ${fmt((Date.now() - t0) / 1000, 1)} s`);
      const data = join(work, `data-${format}`);
      await petrel(['user', 'add', 'bench', '--password', 'bench', '--data', data]);
      const started = process.hrtime.bigint();
      await petrel(['import', '--user', 'bench', format === 'mbox' ? '--mbox' : '--maildir', src, '--data', data, '--progress', 'none', '--state', join(work, `${format}.state.json`)]);
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      const got = await inboxCount(data);
      if (got !== count) throw new Error(`${format} import: ${got} messages in INBOX, expected ${count}`);
      rows.push({ what: `petrel import --${format}`, messages: count, bytes, seconds });
      console.log(`[import] ${format}: ${fmt(count)} messages in ${fmt(seconds, 1)} s = ${fmt(count / seconds)} msg/s`);
      if (format === 'mbox') {
        const out = join(work, 'out.mbox');
        const e0 = process.hrtime.bigint();
        await petrel(['export', '--user', 'bench', '--mailbox', 'INBOX', '--mbox', out, '--data', data, '--progress', 'none']);
        const es = Number(process.hrtime.bigint() - e0) / 1e9;
        rows.push({ what: 'petrel export --mbox (the imported INBOX)', messages: count, bytes: statSync(out).size, seconds: es });
        console.log(`[import] export: ${fmt(count)} messages in ${fmt(es, 1)} s = ${fmt(count / es)} msg/s`);
      }
      rmSync(data, { recursive: true, force: true });
      rmSync(src, { recursive: true, force: true });
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  console.log('');
  console.log('| run | messages | MiB | seconds | msg/s | MiB/s |');
  console.log('|---|---:|---:|---:|---:|---:|');
  for (const r of rows) {
    console.log(`| ${r.what} | ${fmt(r.messages)} | ${fmt(r.bytes / 2 ** 20, 1)} | ${fmt(r.seconds, 1)} | ${fmt(r.messages / r.seconds)} | ${fmt(r.bytes / 2 ** 20 / r.seconds, 1)} |`);
  }
  if (json) writeFileSync(json, JSON.stringify({ count, rows }, null, 2));
}
