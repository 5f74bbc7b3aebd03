// `petrel fetch`: the offline-model client (RFC 1733 §3; issue 6 item 3). Downloads every message of a
// remote POP3 maildrop (RFC 1939) or IMAP mailbox (RFC 9051) into a Maildir, an mbox file or a Petrel
// store, and deletes each on the server only after the local copy is fsynced and journaled (--keep: never
// delete; later runs fetch only what is new). Settings come from flags, then an account file (TOML or
// .json: protocol, host, port, tls, user, password | passwordFile | passwordCommand, mailbox, insecure).
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { promisify } from 'node:util';
import type { Command } from 'commander';
import { parse as parseToml } from 'smol-toml';
import { formatBytes, formatDuration, Progress, type ProgressMode } from '../mailfile/progress.js';
import {
  MaildirDestination,
  MboxDestination,
  parseDestinationSpec,
  StoreDestination,
  type Destination,
} from '../offline/destinations.js';
import { runFetch, type FetchSummary } from '../offline/fetch-engine.js';
import { openSource, type AccountSettings } from '../offline/sources.js';
import type { Store } from '../store/types.js';
import { CliError } from './common.js';
import type { CliEnvironment } from './environment.js';

interface FetchFlags {
  protocol?: string;
  host?: string;
  port?: string;
  tls?: string;
  user?: string;
  passwordEnv?: string;
  to: string;
  mailbox?: string;
  keep?: boolean;
  account?: string;
  insecure?: boolean;
  localUser?: string;
  localMailbox?: string;
  progress: string;
}

interface AccountFile {
  protocol?: unknown;
  host?: unknown;
  port?: unknown;
  tls?: unknown;
  user?: unknown;
  password?: unknown;
  passwordFile?: unknown;
  passwordCommand?: unknown;
  mailbox?: unknown;
  insecure?: unknown;
}

export function addFetchCommand(program: Command, env: CliEnvironment): void {
  program
    .command('fetch')
    .description('download a remote POP3/IMAP mailbox into a Maildir, mbox or Petrel store, deleting on the server only after each copy is fsynced (offline model)')
    .requiredOption('--to <dest>', 'maildir:DIR, mbox:FILE or store:DIR')
    .option('--protocol <p>', 'pop3 or imap')
    .option('--host <host>', 'server host')
    .option('--port <n>', 'server port (default 110/995 for POP3, 143/993 for IMAP)')
    .option('--tls <mode>', 'none, starttls or implicit (default implicit)')
    .option('--user <name>', 'login name')
    .option('--password-env <VAR>', 'take the password from this environment variable')
    .option('--mailbox <name>', 'IMAP mailbox to empty (default INBOX)')
    .option('--keep', 'leave the mail on the server; later runs fetch only new messages')
    .option('--account <file>', 'account file (TOML, or .json): host, port, tls, user, password|passwordFile|passwordCommand')
    .option('--insecure', 'do not verify the server certificate')
    .option('--local-user <name>', 'store: the account to deliver to (default: the remote user name, or the only user)')
    .option('--local-mailbox <name>', 'store: the mailbox to deliver to (default INBOX)')
    .option('--progress <mode>', 'bar, lines, none or auto', 'auto')
    .action(async (flags: FetchFlags) => {
      await fetchAction(env, flags);
    });
}

function str(v: unknown, what: string): string | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== 'string' && typeof v !== 'number') throw new CliError(`account file: ${what} must be a string`, 2);
  return String(v);
}

async function readAccountFile(env: CliEnvironment, path: string): Promise<AccountFile> {
  const full = resolve(env.cwd, path);
  let text: string;
  try {
    text = await readFile(full, 'utf8');
  } catch (err) {
    throw new CliError(`cannot read account file ${full}: ${(err as Error).message}`, 2);
  }
  try {
    const parsed: unknown = full.endsWith('.json') ? JSON.parse(text) : parseToml(text);
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new Error('not a table');
    return parsed as AccountFile;
  } catch (err) {
    throw new CliError(`account file ${full}: ${(err as Error).message}`, 2);
  }
}

async function passwordFrom(env: CliEnvironment, flags: FetchFlags, file: AccountFile): Promise<string> {
  if (flags.passwordEnv !== undefined) {
    const v = env.env[flags.passwordEnv];
    if (v === undefined || v === '') throw new CliError(`environment variable ${flags.passwordEnv} is not set`, 2);
    return v;
  }
  const pw = str(file.password, 'password');
  if (pw !== undefined) return pw;
  const pf = str(file.passwordFile, 'passwordFile');
  if (pf !== undefined) {
    try {
      return (await readFile(resolve(env.cwd, pf), 'utf8')).replace(/\r?\n$/, '');
    } catch (err) {
      throw new CliError(`cannot read passwordFile: ${(err as Error).message}`, 2);
    }
  }
  const pc = str(file.passwordCommand, 'passwordCommand');
  if (pc !== undefined) {
    try {
      const { stdout } = await promisify(execFile)('/bin/sh', ['-c', pc], { cwd: env.cwd, env: env.env as NodeJS.ProcessEnv });
      return stdout.replace(/\r?\n$/, '');
    } catch (err) {
      throw new CliError(`passwordCommand failed: ${(err as Error).message.split('\n')[0]}`, 1);
    }
  }
  throw new CliError('no password: give --password-env VAR or an account file with password, passwordFile or passwordCommand', 2);
}

export async function resolveAccount(env: CliEnvironment, flags: FetchFlags): Promise<AccountSettings> {
  const file: AccountFile = flags.account !== undefined ? await readAccountFile(env, flags.account) : {};
  const protocol = flags.protocol ?? str(file.protocol, 'protocol');
  if (protocol !== 'pop3' && protocol !== 'imap') throw new CliError('--protocol must be pop3 or imap', 2);
  const tls = flags.tls ?? str(file.tls, 'tls') ?? 'implicit';
  if (tls !== 'none' && tls !== 'starttls' && tls !== 'implicit') throw new CliError('--tls must be none, starttls or implicit', 2);
  const host = flags.host ?? str(file.host, 'host');
  if (!host) throw new CliError('no server: give --host or an account file with host', 2);
  const defaultPort = protocol === 'pop3' ? (tls === 'implicit' ? 995 : 110) : tls === 'implicit' ? 993 : 143;
  const portText = flags.port ?? str(file.port, 'port');
  const port = portText === undefined ? defaultPort : Number(portText);
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new CliError(`invalid port "${portText}"`, 2);
  const user = flags.user ?? str(file.user, 'user');
  if (!user) throw new CliError('no user: give --user or an account file with user', 2);
  const mailbox = flags.mailbox ?? str(file.mailbox, 'mailbox') ?? 'INBOX';
  if (protocol === 'pop3' && mailbox !== 'INBOX') throw new CliError('--mailbox is for IMAP; POP3 has only the maildrop', 2);
  const insecure = flags.insecure === true || file.insecure === true;
  const password = await passwordFrom(env, flags, file);
  return { protocol, host, port, tls, user, password, mailbox, insecure };
}

function progressMode(env: CliEnvironment, value: string): ProgressMode {
  if (value === 'bar' || value === 'lines' || value === 'none') return value;
  if (value !== 'auto') throw new CliError('--progress must be bar, lines, none or auto', 2);
  return (env.stderr as { isTTY?: boolean }).isTTY === true ? 'bar' : 'lines';
}

async function fetchAction(env: CliEnvironment, flags: FetchFlags): Promise<void> {
  let spec: ReturnType<typeof parseDestinationSpec>;
  try {
    spec = parseDestinationSpec(flags.to);
  } catch (err) {
    throw new CliError((err as Error).message, 2);
  }
  const mode = progressMode(env, flags.progress);
  const account = await resolveAccount(env, flags);
  const path = resolve(env.cwd, spec.path);
  let store: Store | null = null;
  let dest: Destination;
  if (spec.kind === 'maildir') dest = new MaildirDestination(path);
  else if (spec.kind === 'mbox') dest = new MboxDestination(path);
  else {
    store = await env.openStore(path);
    let localUser = flags.localUser;
    if (localUser === undefined) {
      const users = await store.listUsers();
      localUser = users.some((u) => u.name === account.user) ? account.user : users.length === 1 ? users[0]!.name : undefined;
      if (localUser === undefined) {
        await store.close();
        throw new CliError(`store ${path}: give --local-user (no user "${account.user}" and not exactly one user)`, 2);
      }
    }
    dest = new StoreDestination(path, store, localUser, flags.localMailbox ?? 'INBOX');
  }
  const started = Date.now();
  let progress: Progress | null = null;
  let summary: FetchSummary;
  try {
    summary = await runFetch(() => openSource(account), dest, {
      keep: flags.keep === true,
      onProgress: (p) => {
        progress ??= new Progress({ sink: env.stderr, mode, unit: 'messages', total: p.total, label: 'fetch' });
        progress.update(p.done, p.fetched, p.bytes, p.done === p.total);
      },
    });
  } finally {
    (progress as Progress | null)?.end();
    await store?.close();
  }
  const parts = [
    `fetched ${summary.fetched} message${summary.fetched === 1 ? '' : 's'} (${formatBytes(summary.bytes)}) from ${account.protocol}://${account.user}@${account.host}:${account.port}` +
      ` into ${dest.label} in ${formatDuration(Date.now() - started)}`,
  ];
  if (summary.alreadyFetched > 0) parts.push(`${summary.alreadyFetched} already fetched earlier`);
  if (summary.recovered > 0) parts.push(`${summary.recovered} recovered after an interrupted run`);
  if (summary.vanished > 0) parts.push(`${summary.vanished} vanished on the server`);
  parts.push(flags.keep ? 'kept on the server' : `${summary.deleted} deleted on the server`);
  env.stderr.write(`petrel: ${parts.join('; ')}\n`);
}
