// The end-to-end IMAP suites a second time, on PostgreSQL (issue 8, item 4: "the end-to-end IMAP tests run
// against SQLite and PostgreSQL"). Each file below runs as it is, in a child process, with
// PETREL_TEST_BACKEND=postgres: test/helpers/server.ts then gives every server a PostgresStore in a fresh
// database on the one PostgreSQL server of this file (PETREL_TEST_PG_URL). Together they cover SELECT/EXAMINE,
// FETCH (sections, partial, BINARY), STORE, SEARCH, COPY, MOVE, EXPUNGE, APPEND/MULTIAPPEND, IDLE with two
// sessions, CONDSTORE/QRESYNC (RFC 7162, pruned tombstones included) and OBJECTID (RFC 8474), driven by our
// raw client, imapflow and Python's imaplib. The same files run on SQLite as ordinary test files.
//
// Without PostgreSQL (not installed and not installable, or PETREL_TEST_PG_URL unreachable) these runs are
// reported as skipped, with one line saying why; the SQLite runs are not affected.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { ensurePostgres, type PostgresServer } from '../helpers/postgres.js';

const DIST_TEST = fileURLToPath(new URL('../', import.meta.url));

/** The suites, relative to dist/test/ (each is also run on SQLite by `npm test`). */
export const POSTGRES_E2E_SUITES = [
  'e2e/two-sessions.test.js',
  'e2e/condstore-rfc7162.test.js',
  'e2e/condstore-objectid.test.js',
  'qresync/resync.test.js',
  'server/fetch-e2e.test.js',
  'e2e/imapflow.test.js',
  'e2e/protocol-edges.test.js',
  'e2e/python-imaplib.test.js',
  'e2e/concurrency.test.js',
  'e2e/rfc1733-partial-fetch.test.js',
  'e2e/list-extended.test.js',
  'e2e/nul-bytes.test.js',
  'e2e/limits.test.js',
  'security/isolation.test.js',
];

const SUITE_TIMEOUT_MS = 300_000;

let pg: PostgresServer | null = null;
let unavailable: string | null = null;
try {
  pg = await ensurePostgres();
} catch (err) {
  // One line: the first line of the helper's message (it says what failed and how to fix it).
  unavailable = (err instanceof Error ? err.message : String(err)).split('\n')[0]!;
}

interface ChildRun {
  code: number | null;
  output: string;
}

function runSuite(file: string, url: string): Promise<ChildRun> {
  const env: NodeJS.ProcessEnv = { ...process.env, PETREL_TEST_BACKEND: 'postgres', PETREL_TEST_PG_URL: url };
  // Set by `node --test` for its children; the grandchild must run as a plain test file.
  delete env.NODE_TEST_CONTEXT;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--test-reporter=tap', join(DIST_TEST, file)], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    // A hung suite must not hang `npm test`.
    const timer = setTimeout(() => {
      output += `\n[postgres-backend] ${file} still running after ${SUITE_TIMEOUT_MS / 1000} s: killed\n`;
      child.kill('SIGKILL');
    }, SUITE_TIMEOUT_MS);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}

/** The TAP summary counts of a child's output. */
function counts(output: string): { tests: number; pass: number; fail: number } {
  const n = (k: string) => Number(new RegExp(`^# ${k} (\\d+)$`, 'm').exec(output)?.[1] ?? NaN);
  return { tests: n('tests'), pass: n('pass'), fail: n('fail') };
}

// Two files at a time: they mostly wait on sockets and on PostgreSQL, not on the CPU.
describe('end-to-end suites on PostgreSQL', { concurrency: 2 }, () => {
  if (pg === null) {
    test(`${POSTGRES_E2E_SUITES.length} e2e suites on PostgreSQL`, { skip: `PostgreSQL is not available: ${unavailable}` }, () => {});
    return;
  }
  const server = pg;
  before(() => {
    console.error(`[postgres-backend] running ${POSTGRES_E2E_SUITES.length} e2e suites on PostgreSQL (${new URL(server.url).host})`);
  });
  after(async () => {
    await server.stop();
  });
  for (const file of POSTGRES_E2E_SUITES) {
    test(`${file} on PostgreSQL`, async () => {
      const r = await runSuite(file, server.url);
      const c = counts(r.output);
      const failed = [...r.output.matchAll(/^\s*not ok \d+ - (.*)$/gm)].map((m) => m[1]).join('; ');
      assert.equal(r.code, 0, `${file} failed on PostgreSQL: ${failed}\n${r.output.slice(-6000)}`);
      // Every test of the file ran (none skipped there) and passed.
      assert.ok(c.tests > 0 && c.pass === c.tests && c.fail === 0, `${file}: ${JSON.stringify(c)}\n${r.output.slice(-3000)}`);
    });
  }
});
