// The account file of `petrel sync` (issue 5 item 3): where the remote IMAP account is, how to log in,
// which mailboxes to sync and what to download of each. TOML, or JSON (by the .json/.toml extension, else
// by content). Every setting can also be given as a flag, and a flag overrides the file.
// The password travels in IMAP LOGIN / AUTHENTICATE PLAIN (RFC 9051 §6.2.3, RFC 4616 §2), so it may not
// contain NUL, CR or LF. `since` is a date only, as IMAP SEARCH SINCE compares dates (RFC 9051 §6.4.4).
import { spawn } from 'node:child_process';
import { readFile, stat } from 'node:fs/promises';
import { dirname, extname, resolve } from 'node:path';
import { parse as parseToml, TomlError } from 'smol-toml';
import { closestName } from '../config/config.js';
import type { AccountSettings, DownloadPolicy, MailboxRule } from './types.js';

/**
 * A problem with the account settings. `usage`: the flags are wrong or incomplete (exit status 2);
 * otherwise the account file or a password source is (exit status 1). The message names the field and
 * the file.
 */
export class AccountError extends Error {
  constructor(
    message: string,
    readonly usage = false,
  ) {
    super(message);
    this.name = 'AccountError';
  }
}

export type TlsMode = AccountSettings['tls'];
export type DownloadMode = DownloadPolicy['mode'];

/** The settings that can come from flags (all optional; each overrides the account file). */
export interface AccountFlags {
  host?: string;
  port?: string | number;
  tls?: string;
  user?: string;
  /** Name of an environment variable holding the password. */
  passwordEnv?: string;
  passwordFile?: string;
  passwordCommand?: string;
  /** PEM file of a CA (or the server's self-signed certificate) to trust. */
  ca?: string;
  /** Do not verify the server certificate. */
  insecure?: boolean;
  /** Mailbox patterns; replace the file's `mailboxes`. */
  mailboxes?: readonly string[];
  /** Download policy fields; each replaces that field in every rule (see resolveRules). */
  mode?: string;
  maxTextKb?: string | number;
  maxMessageKb?: string | number;
  since?: string;
}

/** The account file after validation; passwords not yet read. Paths are absolute. */
export interface AccountFile {
  path: string;
  host?: string;
  port?: number;
  tls?: TlsMode;
  user?: string;
  password?: string;
  passwordFile?: string;
  passwordCommand?: string;
  ca?: string;
  rejectUnauthorized?: boolean;
  mailboxes?: string[];
  rules?: MailboxRule[];
}

export interface ResolvedAccount {
  account: AccountSettings;
  /** The account file read, or null. */
  file: string | null;
  /** Mailbox patterns to sync; undefined: all. */
  mailboxes?: string[];
  /** Download rules, first match wins; the last one is a catch-all ('*'). */
  rules: MailboxRule[];
  /** Where the password came from, for messages ("passwordCommand in /home/ann/mail.toml"). */
  passwordSource: string;
  /** Things to tell the user that do not stop the sync (a password file other users can read). */
  warnings: string[];
}

export interface ResolveAccountOptions {
  /** Path of the account file (relative to cwd), or undefined for flags only. */
  file?: string;
  flags: AccountFlags;
  env: Record<string, string | undefined>;
  cwd: string;
  /** "Today", for `since = "90d"`. */
  now?: Date;
}

const FILE_KEYS = [
  'host',
  'port',
  'tls',
  'user',
  'password',
  'passwordFile',
  'passwordCommand',
  'ca',
  'rejectUnauthorized',
  'mailboxes',
  'rules',
] as const;
const RULE_KEYS = ['pattern', 'mode', 'maxTextKb', 'maxMessageKb', 'since', 'readOnly'] as const;
const TLS_MODES: readonly TlsMode[] = ['implicit', 'starttls', 'none'];
const MODES: readonly DownloadMode[] = ['full', 'headers', 'text'];
/** How long passwordCommand may run (a pinentry prompt included). */
const PASSWORD_COMMAND_TIMEOUT_MS = 120_000;

/** Resolves the account: the file (if any), then each flag over it, then the password is read. */
export async function resolveAccount(o: ResolveAccountOptions): Promise<ResolvedAccount> {
  const now = o.now ?? new Date();
  const f = o.flags;
  const file = o.file !== undefined ? await readAccountFile(resolve(o.cwd, o.file), now) : null;
  const where = file ? `in ${file.path}` : '';
  const missing = (what: string, flag: string): AccountError =>
    file
      ? new AccountError(`${file.path}: no ${what} (set "${what}" in the file or give ${flag})`)
      : new AccountError(`no ${what}: give ${flag} or an account file (--account FILE) with "${what}"`, true);

  const tls = f.tls !== undefined ? flagTls(f.tls) : (file?.tls ?? 'implicit');
  const host = f.host ?? file?.host;
  if (host === undefined || host === '') throw missing('host', '--host');
  const port = f.port !== undefined ? flagPort(f.port) : (file?.port ?? (tls === 'implicit' ? 993 : 143));
  const user = f.user ?? file?.user;
  if (user === undefined || user === '') throw missing('user', '--user');

  let rejectUnauthorized = file?.rejectUnauthorized ?? true;
  if (f.insecure === true) rejectUnauthorized = false;
  const caPath = f.ca !== undefined ? resolve(o.cwd, f.ca) : file?.ca;
  const ca = caPath !== undefined ? await readCa(caPath, f.ca !== undefined ? '--ca' : `"ca" ${where}`) : undefined;

  const { password, source } = await readPassword(o, file);

  const account: AccountSettings = { host, port, tls, user, password, rejectUnauthorized };
  if (ca !== undefined) account.ca = ca;
  const mailboxes = f.mailboxes !== undefined && f.mailboxes.length > 0 ? [...f.mailboxes] : file?.mailboxes;
  const result: ResolvedAccount = {
    account,
    file: file?.path ?? null,
    rules: resolveRules(file?.rules ?? [], f, now),
    passwordSource: source,
    warnings: await readableByOthers(file, f, o.cwd),
  };
  if (mailboxes !== undefined) result.mailboxes = mailboxes;
  return result;
}

/**
 * The download rules: the file's rules, then a catch-all `*` rule (full download). Each download flag
 * given (--mode, --max-text-kb, --max-message-kb, --since) replaces that field in every rule, so
 * `--since 30d` narrows every mailbox while the file's modes stay.
 */
export function resolveRules(fileRules: readonly MailboxRule[], f: AccountFlags, now: Date): MailboxRule[] {
  const over: Partial<DownloadPolicy> = {};
  if (f.mode !== undefined) {
    if (!(MODES as readonly string[]).includes(f.mode)) throw new AccountError(`--mode must be full, headers or text (not "${f.mode}")`, true);
    over.mode = f.mode as DownloadMode;
  }
  if (f.maxTextKb !== undefined) over.maxTextBytes = kilobytes(f.maxTextKb, '--max-text-kb', true);
  if (f.maxMessageKb !== undefined) over.maxMessageBytes = kilobytes(f.maxMessageKb, '--max-message-kb', true);
  if (f.since !== undefined) over.since = parseSince(f.since, now, '--since', true);
  const rules = [...fileRules];
  if (!rules.some((r) => r.pattern === '*')) rules.push({ pattern: '*', policy: { mode: 'full' } });
  return rules.map((r) => ({ ...r, policy: { ...r.policy, ...over } }));
}

/** Reads and validates an account file; passwords are not read yet. */
export async function readAccountFile(path: string, now: Date = new Date()): Promise<AccountFile> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new AccountError(code === 'ENOENT' ? `account file ${path} does not exist` : `cannot read account file ${path}: ${(err as Error).message}`);
  }
  return parseAccountText(text, path, now);
}

/** Parses account file text (`path` decides the format and anchors relative paths). */
export function parseAccountText(text: string, path: string, now: Date = new Date()): AccountFile {
  const ext = extname(path).toLowerCase();
  const json = ext === '.json' || (ext !== '.toml' && text.trimStart().startsWith('{'));
  let parsed: unknown;
  try {
    parsed = json ? JSON.parse(text) : parseToml(text);
  } catch (err) {
    if (err instanceof TomlError) {
      const first = (err.message.split('\n')[0] ?? 'invalid TOML').replace(/^Invalid TOML document: /, '');
      throw new AccountError(`${path}:${err.line}:${err.column}: invalid TOML: ${first}`);
    }
    throw new AccountError(`${path}: invalid ${json ? 'JSON' : 'TOML'}: ${(err as Error).message.split('\n')[0]}`);
  }
  if (!isTable(parsed)) throw new AccountError(`${path}: the top level must be a table of settings`);
  for (const key of Object.keys(parsed)) {
    if (!(FILE_KEYS as readonly string[]).includes(key)) throw new AccountError(`${path}: unknown setting "${key}"${suggest(key, FILE_KEYS)}`);
  }
  const base = dirname(path);
  const field = (key: string): string => `${path}: "${key}"`;
  const out: AccountFile = { path };
  const str = (key: (typeof FILE_KEYS)[number]): string | undefined => {
    const v = parsed[key];
    if (v === undefined) return undefined;
    if (typeof v !== 'string') throw new AccountError(`${field(key)} must be a string`);
    if (v === '') throw new AccountError(`${field(key)} is empty`);
    return v;
  };
  const host = str('host');
  if (host !== undefined) out.host = host;
  if (parsed.port !== undefined) {
    const p = parsed.port;
    const n = typeof p === 'number' ? p : typeof p === 'string' && /^\d+$/.test(p) ? Number(p) : NaN;
    if (!Number.isInteger(n) || n < 1 || n > 65535) throw new AccountError(`${field('port')} must be a port number 1-65535 (not ${JSON.stringify(p)})`);
    out.port = n;
  }
  const tls = str('tls');
  if (tls !== undefined) {
    if (!(TLS_MODES as readonly string[]).includes(tls)) throw new AccountError(`${field('tls')} must be "implicit", "starttls" or "none" (not "${tls}")`);
    out.tls = tls as TlsMode;
  }
  const user = str('user');
  if (user !== undefined) out.user = user;
  const sources = (['password', 'passwordFile', 'passwordCommand'] as const).filter((k) => parsed[k] !== undefined);
  if (sources.length > 1) throw new AccountError(`${path}: give only one of password, passwordFile and passwordCommand (found ${sources.join(' and ')})`);
  const password = str('password');
  if (password !== undefined) out.password = password;
  const passwordFile = str('passwordFile');
  if (passwordFile !== undefined) out.passwordFile = resolve(base, expandHome(passwordFile));
  const passwordCommand = str('passwordCommand');
  if (passwordCommand !== undefined) out.passwordCommand = passwordCommand;
  const ca = str('ca');
  if (ca !== undefined) out.ca = resolve(base, expandHome(ca));
  if (parsed.rejectUnauthorized !== undefined) {
    if (typeof parsed.rejectUnauthorized !== 'boolean') throw new AccountError(`${field('rejectUnauthorized')} must be true or false`);
    out.rejectUnauthorized = parsed.rejectUnauthorized;
  }
  if (parsed.mailboxes !== undefined) {
    const m = parsed.mailboxes;
    const list = typeof m === 'string' ? [m] : m;
    if (!Array.isArray(list) || list.length === 0 || !list.every((x) => typeof x === 'string' && x !== '')) {
      throw new AccountError(`${field('mailboxes')} must be a list of mailbox patterns, e.g. ["INBOX", "Archive/*"]`);
    }
    out.mailboxes = list as string[];
  }
  if (parsed.rules !== undefined) {
    if (!Array.isArray(parsed.rules)) throw new AccountError(`${field('rules')} must be a list of tables ([[rules]] in TOML)`);
    out.rules = parsed.rules.map((r: unknown, i: number) => parseRule(r, `${path}: rules[${i + 1}]`, now));
  }
  return out;
}

function parseRule(raw: unknown, where: string, now: Date): MailboxRule {
  if (!isTable(raw)) throw new AccountError(`${where} must be a table with pattern and mode`);
  for (const key of Object.keys(raw)) {
    if (!(RULE_KEYS as readonly string[]).includes(key)) throw new AccountError(`${where}: unknown setting "${key}"${suggest(key, RULE_KEYS)}`);
  }
  if (typeof raw.pattern !== 'string' || raw.pattern === '') throw new AccountError(`${where}: "pattern" is missing (a mailbox pattern such as "Archive/*")`);
  const mode = raw.mode ?? 'full';
  if (typeof mode !== 'string' || !(MODES as readonly string[]).includes(mode)) {
    throw new AccountError(`${where}: "mode" must be "full", "headers" or "text" (not ${JSON.stringify(mode)})`);
  }
  const policy: DownloadPolicy = { mode: mode as DownloadMode };
  if (raw.maxTextKb !== undefined) policy.maxTextBytes = kilobytes(raw.maxTextKb, `${where}: "maxTextKb"`, false);
  if (raw.maxMessageKb !== undefined) policy.maxMessageBytes = kilobytes(raw.maxMessageKb, `${where}: "maxMessageKb"`, false);
  if (raw.since !== undefined) policy.since = parseSince(raw.since, now, `${where}: "since"`, false);
  const rule: MailboxRule = { pattern: raw.pattern, policy };
  if (raw.readOnly !== undefined) {
    if (typeof raw.readOnly !== 'boolean') throw new AccountError(`${where}: "readOnly" must be true or false`);
    rule.readOnly = raw.readOnly;
  }
  return rule;
}

function kilobytes(v: unknown, what: string, usage: boolean): number {
  const n = typeof v === 'number' ? v : typeof v === 'string' && /^\d+(\.\d+)?$/.test(v.trim()) ? Number(v) : NaN;
  if (!Number.isFinite(n) || n <= 0) throw new AccountError(`${what} must be a positive number of kilobytes (not ${JSON.stringify(v)})`, usage);
  return Math.round(n * 1024);
}

/**
 * A `since` value: a date `YYYY-MM-DD` (also a TOML date), or a number of days back from `now` such as
 * `90d`. Either becomes the start of that day in UTC (IMAP SINCE compares dates, RFC 9051 §6.4.4).
 */
export function parseSince(v: unknown, now: Date, what = 'since', usage = false): Date {
  if (v instanceof Date && !Number.isNaN(v.getTime())) {
    return new Date(Date.UTC(v.getUTCFullYear(), v.getUTCMonth(), v.getUTCDate()));
  }
  if (typeof v === 'string') {
    const days = /^(\d{1,5})d$/.exec(v.trim());
    if (days) {
      const d = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate()));
      d.setUTCDate(d.getUTCDate() - Number(days[1]));
      return d;
    }
    const ymd = /^(\d{4})-(\d{2})-(\d{2})$/.exec(v.trim());
    if (ymd) {
      const [y, m, day] = [Number(ymd[1]), Number(ymd[2]), Number(ymd[3])];
      const d = new Date(Date.UTC(y, m - 1, day));
      if (d.getUTCFullYear() === y && d.getUTCMonth() === m - 1 && d.getUTCDate() === day) return d;
    }
  }
  throw new AccountError(`${what} must be a date YYYY-MM-DD or a number of days such as 90d (not ${JSON.stringify(v)})`, usage);
}

/** A password kept in a file that group or other users can read is worth a warning (like ssh's keys). */
async function readableByOthers(file: AccountFile | null, f: AccountFlags, cwd: string): Promise<string[]> {
  const paths: string[] = [];
  const usesFilePassword = f.passwordEnv === undefined && f.passwordFile === undefined && f.passwordCommand === undefined;
  if (file && usesFilePassword && file.password !== undefined) paths.push(file.path);
  if (file && usesFilePassword && file.passwordFile !== undefined) paths.push(file.passwordFile);
  if (f.passwordFile !== undefined) paths.push(resolve(cwd, expandHome(f.passwordFile)));
  const out: string[] = [];
  for (const p of paths) {
    try {
      if (((await stat(p)).mode & 0o077) !== 0) out.push(`${p} holds a password and other users can read it (chmod 600 ${p})`);
    } catch {
      // Read errors were reported when the password was read.
    }
  }
  return out;
}

function flagTls(v: string): TlsMode {
  if (!(TLS_MODES as readonly string[]).includes(v)) throw new AccountError(`--tls must be implicit, starttls or none (not "${v}")`, true);
  return v as TlsMode;
}

function flagPort(v: string | number): number {
  const n = typeof v === 'number' ? v : /^\d+$/.test(v) ? Number(v) : NaN;
  if (!Number.isInteger(n) || n < 1 || n > 65535) throw new AccountError(`--port must be a port number 1-65535 (not "${v}")`, true);
  return n;
}

async function readCa(path: string, what: string): Promise<string> {
  let pem: string;
  try {
    pem = await readFile(path, 'utf8');
  } catch (err) {
    throw new AccountError(`cannot read the CA file ${path} (${what}): ${(err as Error).message}`);
  }
  if (!pem.includes('-----BEGIN CERTIFICATE-----')) throw new AccountError(`the CA file ${path} (${what}) holds no PEM certificate`);
  return pem;
}

async function readPassword(o: ResolveAccountOptions, file: AccountFile | null): Promise<{ password: string; source: string }> {
  const f = o.flags;
  const given = (['passwordEnv', 'passwordFile', 'passwordCommand'] as const).filter((k) => f[k] !== undefined);
  if (given.length > 1) {
    const names = given.map((k) => `--${k.replace(/[A-Z]/g, (c) => '-' + c.toLowerCase())}`);
    throw new AccountError(`give only one of --password-env, --password-file and --password-command (found ${names.join(' and ')})`, true);
  }
  const inFile = file ? ` in ${file.path}` : '';
  let password: string;
  let source: string;
  if (f.passwordEnv !== undefined) {
    source = `environment variable ${f.passwordEnv}`;
    const v = o.env[f.passwordEnv];
    if (v === undefined || v === '') throw new AccountError(`--password-env: the environment variable ${f.passwordEnv} is not set`, true);
    password = v;
  } else if (f.passwordFile !== undefined) {
    const path = resolve(o.cwd, expandHome(f.passwordFile));
    source = `--password-file ${path}`;
    password = await firstLineOfFile(path, source);
  } else if (f.passwordCommand !== undefined) {
    source = '--password-command';
    password = await firstLineOfCommand(f.passwordCommand, o, source);
  } else if (file?.password !== undefined) {
    source = `"password"${inFile}`;
    password = file.password;
  } else if (file?.passwordFile !== undefined) {
    source = `"passwordFile"${inFile}`;
    password = await firstLineOfFile(file.passwordFile, source);
  } else if (file?.passwordCommand !== undefined) {
    source = `"passwordCommand"${inFile}`;
    password = await firstLineOfCommand(file.passwordCommand, o, source, dirname(file.path));
  } else if (file) {
    throw new AccountError(`${file.path}: no password (set one of password, passwordFile, passwordCommand, or give --password-env VAR)`);
  } else {
    throw new AccountError('no password: give --password-env VAR, --password-file FILE or --password-command CMD, or an account file', true);
  }
  if (password.length === 0) throw new AccountError(`the password from ${source} is empty`);
  if (/[\0\r\n]/.test(password)) throw new AccountError(`the password from ${source} contains NUL, CR or LF`);
  return { password, source };
}

async function firstLineOfFile(path: string, what: string): Promise<string> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new AccountError(`cannot read the password file (${what}): ${(err as Error).message}`);
  }
  return firstLine(text);
}

function firstLine(text: string): string {
  return (text.split('\n')[0] ?? '').replace(/\r$/, '');
}

/** Runs `command` through /bin/sh; the password is the first line of its stdout. */
function firstLineOfCommand(command: string, o: ResolveAccountOptions, what: string, cwd = o.cwd): Promise<string> {
  return new Promise((resolvePromise, reject) => {
    // stdin stays the terminal, so a command that prompts (gpg's pinentry, a keyring) can ask.
    const child = spawn('/bin/sh', ['-c', command], {
      cwd,
      env: o.env as NodeJS.ProcessEnv,
      stdio: ['inherit', 'pipe', 'pipe'],
      timeout: PASSWORD_COMMAND_TIMEOUT_MS,
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', (err) => reject(new AccountError(`the password command (${what}) could not run: ${err.message}`)));
    child.on('close', (code, signal) => {
      if (code === 0) {
        resolvePromise(firstLine(stdout));
        return;
      }
      const why = signal ? `was killed by ${signal}` : `exited with status ${code}`;
      const said = stderr.trim().split('\n')[0];
      reject(new AccountError(`the password command (${what}) ${why}${said ? `: ${said}` : ''}`));
    });
  });
}

function expandHome(p: string): string {
  const home = process.env.HOME;
  return home && (p === '~' || p.startsWith('~/')) ? home + p.slice(1) : p;
}

function isTable(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Date);
}

function suggest(word: string, known: readonly string[]): string {
  const best = closestName(word, known);
  return best ? ` (did you mean "${best}"?)` : '';
}
