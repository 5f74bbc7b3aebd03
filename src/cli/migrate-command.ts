// `petrel migrate --from DIR|postgres://… --to DIR|postgres://…`: copies every user, mailbox, subscription
// and message from one store into another (issue 8; the copy itself is src/store/migrate.ts), resumable,
// keeping every mailbox's UIDVALIDITY and every message's UID and MODSEQ (clients need not resync), and
// verified at the end by counts and per-mailbox SHA-256 digests, which it prints. Exit status 0 when
// source and target agree, 1 otherwise.
import { readFile, rename, stat, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { Option, type Command } from 'commander';
import type { QueryResultRow } from 'pg';
import { describeStore, isPostgresUrl, openStore, type StoreLocation } from '../store/open-store.js';
import { MigrateError, migrateStore, type MigrateProgress, type ProgressStorage } from '../store/migrate.js';
import type { Store } from '../store/types.js';
import { CliError, ensureDataDir, table } from './common.js';
import type { CliEnvironment } from './environment.js';

interface MigrateOptions {
  from: string;
  to: string;
  fromBlobDir?: string;
  toBlobDir?: string;
  batch?: string;
  quiet?: boolean;
  pauseAfter?: string;
}

/** The embedded store's metadata file (src/store/sqlite/sqlite-store.ts METADATA_FILE). */
const SQLITE_FILE = 'metadata.sqlite';
const PROGRESS_FILE = 'migrate-progress.json';
const PROGRESS_TABLE = 'petrel_migrate_progress';

export function addMigrateCommand(program: Command, env: CliEnvironment): void {
  program
    .command('migrate')
    .description('copy all users, mailboxes and messages from one store into another (resumable, verified)')
    .requiredOption('--from <store>', 'source: a data directory or a postgres://… URL')
    .requiredOption('--to <store>', 'target: a data directory (created when missing) or a postgres://… URL')
    .option('--from-blob-dir <dir>', 'the source PostgreSQL store keeps message bytes in this directory')
    .option('--to-blob-dir <dir>', 'the target PostgreSQL store keeps message bytes in this directory (default: in the database)')
    .option('--batch <n>', 'messages per transaction (default 50)')
    .option('-q, --quiet', 'no progress lines')
    .addOption(new Option('--pause-after <batches>', 'test hook: stop making progress after this many batches').hideHelp())
    .action(async (opts: MigrateOptions) => {
      const code = await runMigrate(env, opts);
      if (code !== 0) throw new CliError('source and target differ (see above)');
    });
}

function location(env: CliEnvironment, spec: string, blobDir: string | undefined): StoreLocation {
  if (isPostgresUrl(spec)) {
    return { dataDir: env.cwd, store: spec, blobDir: blobDir === undefined ? null : resolve(env.cwd, blobDir) };
  }
  if (blobDir !== undefined) throw new CliError('--from-blob-dir/--to-blob-dir apply to PostgreSQL stores only', 2);
  return { dataDir: resolve(env.cwd, spec), store: null };
}

async function runMigrate(env: CliEnvironment, opts: MigrateOptions): Promise<number> {
  const from = location(env, opts.from, opts.fromBlobDir);
  const to = location(env, opts.to, opts.toBlobDir);
  const batchSize = opts.batch === undefined ? 50 : Number(opts.batch);
  if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > 10_000) {
    throw new CliError(`--batch: "${opts.batch}" is not a whole number from 1 to 10000`, 2);
  }
  if (from.store === null && to.store === null && from.dataDir === to.dataDir) {
    throw new CliError('--from and --to are the same directory', 2);
  }
  if (from.store !== null && from.store === to.store) throw new CliError('--from and --to are the same database', 2);
  if (from.store === null && !(await isFile(join(from.dataDir, SQLITE_FILE)))) {
    throw new CliError(`no store in ${from.dataDir} (no ${SQLITE_FILE})`);
  }
  if (to.store === null) await ensureDataDir(to.dataDir);
  const pauseAfter = opts.pauseAfter === undefined ? null : Number(opts.pauseAfter);

  const source = await openStore(from);
  let target: Store | null = null;
  try {
    target = await openStore(to);
    const say = (line: string) => void (opts.quiet ? undefined : env.stdout.write(line + '\n'));
    say(`petrel migrate: ${describeStore(from)} -> ${describeStore(to)}`);
    const report = await migrateStore({
      source,
      target,
      sourceName: describeStore(from),
      progress: to.store === null ? fileProgress(join(to.dataDir, PROGRESS_FILE)) : await pgProgress(to.store),
      batchSize,
      log: say,
      afterBatch: async (n) => {
        if (pauseAfter !== null && n >= pauseAfter) {
          env.stderr.write(`petrel migrate: paused after ${n} batches\n`);
          await new Promise(() => {}); // never resolves: the test kills the process here
        }
      },
    });
    env.stdout.write(
      table(
        ['user', 'mailbox', 'messages', 'copied', 'uidvalidity', 'uids', 'sha256'],
        report.perMailbox.map((m) => [
          m.user,
          m.mailbox,
          m.messages,
          m.copiedNow,
          m.uidValidity === m.targetUidValidity ? m.uidValidity : `${m.uidValidity} != ${m.targetUidValidity}`,
          m.uidsPreserved ? 'same' : 'renumbered',
          m.digest === m.targetDigest ? m.digest : `${m.digest} != ${m.targetDigest}`,
        ]),
      ),
    );
    env.stdout.write(
      `users: ${report.users}, mailboxes: ${report.mailboxes}, messages: ${report.messages} ` +
        `(${report.copiedNow} copied by this run)\n`,
    );
    for (const m of report.mismatches) env.stderr.write(`petrel migrate: MISMATCH ${m}\n`);
    if (report.mismatches.length > 0) return 1;
    env.stdout.write('verified: counts, UIDVALIDITY, UIDs, mod-sequences and digests of source and target agree\n');
    return 0;
  } catch (err) {
    if (err instanceof MigrateError) throw new CliError(err.message);
    throw err;
  } finally {
    await target?.close();
    await source.close();
  }
}

async function isFile(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isFile();
  } catch {
    return false;
  }
}

/** The progress record as a JSON file in the target directory, replaced atomically (write + rename). */
function fileProgress(path: string): ProgressStorage {
  return {
    async load() {
      try {
        return JSON.parse(await readFile(path, 'utf8')) as MigrateProgress;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
        throw new CliError(`cannot read ${path}: ${(err as Error).message}`);
      }
    },
    async save(progress) {
      const tmp = `${path}.tmp`;
      await writeFile(tmp, JSON.stringify(progress, null, 1) + '\n', { mode: 0o600 });
      await rename(tmp, path);
    },
  };
}

/** The progress record as the one row of a table in the target database. */
async function pgProgress(url: string): Promise<ProgressStorage> {
  const { default: pg } = await import('pg');
  const query = async <R extends QueryResultRow>(sql: string, params: unknown[] = []): Promise<R[]> => {
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      return (await client.query<R>(sql, params)).rows;
    } finally {
      await client.end();
    }
  };
  await query(`CREATE TABLE IF NOT EXISTS ${PROGRESS_TABLE} (id integer PRIMARY KEY CHECK (id = 1), doc jsonb NOT NULL)`);
  return {
    async load() {
      const rows = await query<{ doc: MigrateProgress }>(`SELECT doc FROM ${PROGRESS_TABLE} WHERE id = 1`);
      return rows[0]?.doc ?? null;
    },
    async save(progress) {
      await query(
        `INSERT INTO ${PROGRESS_TABLE} (id, doc) VALUES (1, $1) ON CONFLICT (id) DO UPDATE SET doc = EXCLUDED.doc`,
        [JSON.stringify(progress)],
      );
    },
  };
}
