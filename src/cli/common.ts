// Pieces shared by the `petrel` sub-commands: errors with exit codes, the common --data/--config
// options, user-name and password checks, and running an action against an open store.
import { mkdir, stat } from 'node:fs/promises';
import type { Command } from 'commander';
import { resolveConfig, type PetrelConfig, type SettingKey } from '../config/config.js';
import type { Store, UserRecord } from '../store/types.js';
import type { CliEnvironment } from './environment.js';

/** An error the CLI reports as one line; exitCode 1 for failures, 2 for usage errors. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: 1 | 2 = 1,
  ) {
    super(message);
    this.name = 'CliError';
  }
}

export interface CommonOptions {
  data?: string;
  config?: string;
  store?: string;
  blobDir?: string;
}

/** Adds the options every command takes. */
export function withCommonOptions(cmd: Command): Command {
  return cmd
    .option('--data <dir>', 'data directory (default ./data; env PETREL_DATA)')
    .option('--config <file>', 'config file, TOML or .json (env PETREL_CONFIG; default <data>/petrel.toml if present)')
    .option('--store <url>', 'keep mail in PostgreSQL: postgres://user:pw@host:port/db (env PETREL_STORE; default: the embedded store in --data)')
    .option('--blob-dir <dir>', 'with --store: shared directory for message bytes (env PETREL_BLOB_DIR; default: in the database)');
}

export async function loadConfig(
  env: CliEnvironment,
  opts: CommonOptions,
  flags: Partial<Record<SettingKey, string | undefined>> = {},
): Promise<PetrelConfig> {
  const config = await resolveConfig({
    flags: { ...flags, dataDir: opts.data, store: opts.store, blobDir: opts.blobDir },
    configFile: opts.config,
    env: env.env,
    cwd: env.cwd,
  });
  for (const warning of config.warnings) env.stderr.write(`petrel: warning: ${warning}\n`);
  if (config.blobDir !== null && config.store === null) {
    env.stderr.write('petrel: warning: blob_dir applies to a PostgreSQL store only (store is not set); ignoring it\n');
  }
  return config;
}

/** User names: a letter or digit, then up to 63 of letters, digits and . _ @ + - */
export const USER_NAME_PATTERN = /^[a-z0-9][a-z0-9._@+-]{0,63}$/i;

export function checkUserName(name: string): string {
  if (!USER_NAME_PATTERN.test(name)) {
    throw new CliError(
      `invalid user name "${name}": use 1-64 letters, digits and . _ @ + - (starting with a letter or digit)`,
      2,
    );
  }
  return name;
}

/** The password must travel in IMAP LOGIN (quoted string or literal) and SASL PLAIN (NUL-separated). */
export function checkPassword(password: string): string {
  if (password.length === 0) throw new CliError('the password is empty', 2);
  if (password.length > 1024) throw new CliError('the password is longer than 1024 characters', 2);
  if (/[\0\r\n]/.test(password)) throw new CliError('the password must not contain NUL, CR or LF', 2);
  return password;
}

export interface PasswordOptions {
  password?: string;
  passwordStdin?: boolean;
}

/** The password from --password or --password-stdin, or null when neither was given. */
export async function passwordFromOptions(env: CliEnvironment, opts: PasswordOptions): Promise<string | null> {
  if (opts.password !== undefined && opts.passwordStdin) {
    throw new CliError('give either --password or --password-stdin, not both', 2);
  }
  if (opts.password !== undefined) return checkPassword(opts.password);
  if (opts.passwordStdin) {
    const text = await env.readStdin();
    // One trailing line end is the end of the input line, not part of the password.
    return checkPassword(text.replace(/\r?\n$/, ''));
  }
  return null;
}

export async function ensureDataDir(dataDir: string): Promise<void> {
  try {
    await mkdir(dataDir, { recursive: true, mode: 0o700 });
  } catch (err) {
    throw new CliError(`cannot create data directory ${dataDir}: ${(err as Error).message}`);
  }
}

async function requireDataDir(dataDir: string): Promise<void> {
  try {
    if ((await stat(dataDir)).isDirectory()) return;
  } catch {
    // fall through
  }
  throw new CliError(`no data directory at ${dataDir} (give --data DIR, or run "petrel serve" or "petrel user add" first)`);
}

/**
 * Opens the configured store (`config.store`, else the embedded one in `config.dataDir`), runs `action` and closes the store. With `create` the data
 * directory is created when missing; otherwise a missing directory is an error (so a command run from
 * the wrong directory does not leave an empty ./data behind).
 */
export async function withStore<T>(
  env: CliEnvironment,
  config: PetrelConfig,
  create: boolean,
  action: (store: Store) => Promise<T>,
): Promise<T> {
  // A PostgreSQL store needs no data directory (its database is created by the administrator).
  if (config.store === null) {
    if (create) await ensureDataDir(config.dataDir);
    else await requireDataDir(config.dataDir);
  }
  const store = await env.openStore(config.dataDir, config);
  try {
    return await action(store);
  } finally {
    await store.close();
  }
}

export async function requireUser(store: Store, name: string): Promise<UserRecord> {
  const user = await store.getUser(name);
  if (!user) throw new CliError(`no user "${name}"`);
  return user;
}

/** Formats rows as left-aligned columns (numbers right-aligned). */
export function table(header: string[], rows: Array<Array<string | number>>): string {
  const all = [header, ...rows.map((r) => r.map(String))];
  const widths = header.map((_, i) => Math.max(...all.map((r) => (r[i] ?? '').length)));
  return all
    .map((r, rowIndex) =>
      r
        .map((cell, i) => {
          const numeric = rowIndex > 0 && typeof rows[rowIndex - 1]![i] === 'number';
          return numeric ? cell.padStart(widths[i]!) : cell.padEnd(widths[i]!);
        })
        .join('  ')
        .trimEnd(),
    )
    .join('\n') + '\n';
}

/** INBOX first, then by name (code-unit order). */
export function compareMailboxNames(a: string, b: string): number {
  if (a === 'INBOX' || b === 'INBOX') return a === b ? 0 : a === 'INBOX' ? -1 : 1;
  return a < b ? -1 : a > b ? 1 : 0;
}
