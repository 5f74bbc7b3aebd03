// Petrel's settings: one table of settings, each with one name per source —
//   flag --imap-port · environment PETREL_IMAP_PORT · config file key imap_port —
// resolved in the order flags > environment > config file > defaults (issue 2, item 2).
// The config file is TOML (TOML v1.0.0, via smol-toml) or JSON, chosen by extension; it is the file
// named by --config or PETREL_CONFIG, else <data>/petrel.toml when that exists.
// Port 0 disables a listener (it becomes null here).
import { readFile, stat } from 'node:fs/promises';
import { isIP } from 'node:net';
import { dirname, extname, resolve } from 'node:path';
import { parse as parseToml, TomlError } from 'smol-toml';
import { LIMITS } from '../protocol/limits.js';

export type AuthPolicy = 'loopback' | 'always' | 'never';
export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
export type LogFormat = 'text' | 'json';

export const AUTH_POLICIES: readonly AuthPolicy[] = ['loopback', 'always', 'never'];
export const LOG_LEVELS: readonly LogLevel[] = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];
export const LOG_FORMATS: readonly LogFormat[] = ['text', 'json'];

export interface PetrelConfig {
  /** Absolute path of the data directory (store, blobs, generated certificate). */
  dataDir: string;
  /** Address the listeners bind to. */
  host: string;
  /** Cleartext IMAP port (STARTTLS offered); null = disabled. */
  imapPort: number | null;
  /** Implicit-TLS IMAP port (RFC 8314 §3.3); null = disabled. */
  imapsPort: number | null;
  /** POP3 port with STLS (RFC 1939, RFC 2595); null = disabled. */
  pop3Port: number | null;
  /** POP3 over implicit TLS (RFC 8314 §3.3); null = disabled. */
  pop3sPort: number | null;
  /** LMTP delivery port (RFC 2033); null = disabled (the default). */
  lmtpPort: number | null;
  /** Address the LMTP TCP listener binds to. Separate from `host`: LMTP has no authentication, so it stays
   *  on loopback even when IMAP and POP3 listen on all addresses, unless set explicitly. */
  lmtpHost: string;
  /** Absolute path of the LMTP Unix-domain socket; null = none (the default). */
  lmtpSocket: string | null;
  /** File mode given to the LMTP socket (e.g. 0o660); null = as the umask leaves it. */
  lmtpSocketMode: number | null;
  /** Absolute path of a PEM certificate (chain), or null for the generated self-signed one. */
  tlsCert: string | null;
  /** Absolute path of the PEM private key belonging to tlsCert. */
  tlsKey: string | null;
  logLevel: LogLevel;
  logFormat: LogFormat;
  /** Where LOGIN/AUTHENTICATE are allowed without TLS (RFC 9051 §6.2.3 LOGINDISABLED otherwise). */
  allowInsecureAuth: AuthPolicy;
  /** Largest message APPEND accepts, in octets (advertised as APPENDLIMIT, RFC 7889). */
  maxMessageSize: number;
  /** Concurrent connections allowed from one IP address. */
  maxConnectionsPerIp: number;
  /** Octets an account's mailboxes may hold together before LMTP delivery to it is refused (RFC 3463
   *  X.2.2 "mailbox full"); null = no limit (the default). */
  quota: number | null;
  /** Port of the Prometheus /metrics HTTP endpoint; null = off (the default). */
  metricsPort: number | null;
  /** Address the metrics endpoint listens on. */
  metricsHost: string;
  /** Where mail is stored: null = the embedded store in dataDir (SQLite + message files); a
   *  `postgres://…` / `postgresql://…` URL = PostgreSQL (issue 8; docs/postgres.md). */
  store: string | null;
  /** With a PostgreSQL store: absolute path of a shared directory for message bytes; null = bytes in the
   *  database (the default). Ignored by the embedded store. */
  blobDir: string | null;
  /** Absolute path of the config file that was read, or null. */
  configFile: string | null;
  /** Where each setting's value came from. */
  sources: Record<SettingKey, SettingSource>;
  /** Non-fatal remarks (e.g. an unknown PETREL_* variable), for the caller to print. */
  warnings: string[];
}

export type SettingKey =
  | 'dataDir'
  | 'host'
  | 'imapPort'
  | 'imapsPort'
  | 'pop3Port'
  | 'pop3sPort'
  | 'lmtpPort'
  | 'lmtpHost'
  | 'lmtpSocket'
  | 'lmtpSocketMode'
  | 'tlsCert'
  | 'tlsKey'
  | 'logLevel'
  | 'logFormat'
  | 'allowInsecureAuth'
  | 'maxMessageSize'
  | 'maxConnectionsPerIp'
  | 'quota'
  | 'metricsPort'
  | 'metricsHost'
  | 'store'
  | 'blobDir';

export type SettingSource = 'flag' | 'env' | 'file' | 'default';

type Kind = 'path' | 'store' | 'host' | 'port' | 'size' | 'quota' | 'count' | 'mode' | { oneOf: readonly string[] };

export interface SettingSpec {
  key: SettingKey;
  /** Key in the config file. */
  file: string;
  /** Environment variable. */
  env: string;
  /** Command-line flag, or null when the setting has none (yet). */
  flag: string | null;
  kind: Kind;
  default: string | number | null;
  description: string;
}

/** Every setting. The README's configuration table is written from this list. */
export const SETTINGS: readonly SettingSpec[] = [
  { key: 'dataDir', file: 'data', env: 'PETREL_DATA', flag: '--data', kind: 'path', default: './data',
    description: 'data directory (store, message files, generated certificate)' },
  { key: 'host', file: 'host', env: 'PETREL_HOST', flag: '--host', kind: 'host', default: '127.0.0.1',
    description: 'address to listen on' },
  { key: 'imapPort', file: 'imap_port', env: 'PETREL_IMAP_PORT', flag: '--imap-port', kind: 'port', default: 1143,
    description: 'IMAP port with STARTTLS (0 disables)' },
  { key: 'imapsPort', file: 'imaps_port', env: 'PETREL_IMAPS_PORT', flag: '--imaps-port', kind: 'port', default: 1993,
    description: 'IMAP port with implicit TLS (0 disables)' },
  { key: 'pop3Port', file: 'pop3_port', env: 'PETREL_POP3_PORT', flag: '--pop3-port', kind: 'port', default: 1110,
    description: 'POP3 port with STLS (0 disables)' },
  { key: 'pop3sPort', file: 'pop3s_port', env: 'PETREL_POP3S_PORT', flag: '--pop3s-port', kind: 'port', default: 1995,
    description: 'POP3 port with implicit TLS (0 disables)' },
  { key: 'lmtpPort', file: 'lmtp_port', env: 'PETREL_LMTP_PORT', flag: '--lmtp-port', kind: 'port', default: 0,
    description: 'LMTP delivery port (0 = disabled, the default)' },
  { key: 'lmtpHost', file: 'lmtp_host', env: 'PETREL_LMTP_HOST', flag: '--lmtp-host', kind: 'host', default: '127.0.0.1',
    description: 'address the LMTP port listens on (LMTP has no authentication: keep it private)' },
  { key: 'lmtpSocket', file: 'lmtp_socket', env: 'PETREL_LMTP_SOCKET', flag: '--lmtp-socket', kind: 'path', default: null,
    description: 'LMTP Unix-domain socket path (default: none)' },
  { key: 'lmtpSocketMode', file: 'lmtp_socket_mode', env: 'PETREL_LMTP_SOCKET_MODE', flag: null, kind: 'mode',
    default: null, description: 'file mode of the LMTP socket, octal, e.g. "0660" (default: from the umask)' },
  { key: 'tlsCert', file: 'tls_cert', env: 'PETREL_TLS_CERT', flag: '--tls-cert', kind: 'path', default: null,
    description: 'PEM certificate file (default: self-signed, generated in <data>/tls/)' },
  { key: 'tlsKey', file: 'tls_key', env: 'PETREL_TLS_KEY', flag: '--tls-key', kind: 'path', default: null,
    description: 'PEM private key file for tls_cert' },
  { key: 'logLevel', file: 'log_level', env: 'PETREL_LOG_LEVEL', flag: '--log-level', kind: { oneOf: LOG_LEVELS },
    default: 'info', description: 'log level' },
  { key: 'logFormat', file: 'log_format', env: 'PETREL_LOG_FORMAT', flag: '--log-format', kind: { oneOf: LOG_FORMATS },
    default: 'text', description: 'log lines on stderr: human-readable text or JSON (pino)' },
  { key: 'allowInsecureAuth', file: 'allow_insecure_auth', env: 'PETREL_ALLOW_INSECURE_AUTH',
    flag: '--allow-insecure-auth', kind: { oneOf: AUTH_POLICIES }, default: 'loopback',
    description: 'password login without TLS: from loopback only, always, or never' },
  { key: 'maxMessageSize', file: 'max_message_size', env: 'PETREL_MAX_MESSAGE_SIZE', flag: null, kind: 'size',
    default: LIMITS.maxMessageSize, description: 'largest message APPEND accepts, in bytes (suffixes K, M, G; at most 64M)' },
  { key: 'maxConnectionsPerIp', file: 'max_connections_per_ip', env: 'PETREL_MAX_CONNECTIONS_PER_IP', flag: null,
    kind: 'count', default: LIMITS.maxConnectionsPerIp, description: 'concurrent connections from one IP address' },
  { key: 'quota', file: 'quota', env: 'PETREL_QUOTA', flag: null, kind: 'quota', default: 0,
    description: 'octets one account may hold in all its mailboxes; LMTP delivery beyond it answers 552 5.2.2 (K, M, G, T suffixes; 0 = no limit, the default)' },
  { key: 'metricsPort', file: 'metrics_port', env: 'PETREL_METRICS_PORT', flag: '--metrics-port', kind: 'port', default: 0,
    description: 'HTTP port serving Prometheus metrics at /metrics (0 = off, the default)' },
  { key: 'metricsHost', file: 'metrics_host', env: 'PETREL_METRICS_HOST', flag: '--metrics-host', kind: 'host',
    default: '127.0.0.1', description: 'address the metrics port listens on' },
  { key: 'store', file: 'store', env: 'PETREL_STORE', flag: '--store', kind: 'store', default: null,
    description: 'a postgres://user:password@host:port/db URL to keep mail in PostgreSQL (default: the embedded store in the data directory)' },
  { key: 'blobDir', file: 'blob_dir', env: 'PETREL_BLOB_DIR', flag: '--blob-dir', kind: 'path', default: null,
    description: 'with a PostgreSQL store: shared directory for message bytes (default: bytes in the database)' },
];

/** Environment variables that are not settings but are understood. */
const OTHER_ENV = new Set(['PETREL_CONFIG']);

/** A configuration mistake: the message is one readable line. The CLI exits with status 2. */
export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

export interface ConfigInput {
  /** Flag values by setting key, as given on the command line (strings) or by a caller (numbers). */
  flags?: Partial<Record<SettingKey, string | number | undefined>>;
  /** --config FILE. */
  configFile?: string | undefined;
  env?: Record<string, string | undefined>;
  /** Base for relative paths in flags and environment; default process.cwd(). */
  cwd?: string;
}

type Raw = { value: unknown; source: SettingSource; base: string; origin: string };

/** Resolves the effective configuration. Throws ConfigError with a readable message. */
export async function resolveConfig(input: ConfigInput = {}): Promise<PetrelConfig> {
  const env = input.env ?? process.env;
  const cwd = input.cwd ?? process.cwd();
  const flags = input.flags ?? {};
  const warnings: string[] = [];

  for (const name of Object.keys(env)) {
    if (!name.startsWith('PETREL_') || OTHER_ENV.has(name) || env[name] === undefined) continue;
    if (!SETTINGS.some((s) => s.env === name)) {
      warnings.push(`ignoring unknown environment variable ${name}${suggest(name, SETTINGS.map((s) => s.env))}`);
    }
  }

  // 1. An explicitly named config file.
  let configPath: string | null = null;
  let explicit = false;
  const envConfig = nonEmpty(env.PETREL_CONFIG);
  if (input.configFile !== undefined && input.configFile !== '') {
    configPath = resolve(cwd, input.configFile);
    explicit = true;
  } else if (envConfig !== undefined) {
    configPath = resolve(cwd, envConfig);
    explicit = true;
  }
  let fileValues: Record<string, unknown> = {};
  if (configPath) fileValues = await loadConfigFile(configPath);

  const pick = (spec: SettingSpec, file: Record<string, unknown>, filePath: string | null): Raw => {
    const flag = flags[spec.key];
    if (flag !== undefined) return { value: flag, source: 'flag', base: cwd, origin: spec.flag ?? spec.key };
    const fromEnv = nonEmpty(env[spec.env]);
    if (fromEnv !== undefined) return { value: fromEnv, source: 'env', base: cwd, origin: spec.env };
    if (filePath && Object.hasOwn(file, spec.file)) {
      return { value: file[spec.file], source: 'file', base: dirname(filePath), origin: `${spec.file} in ${filePath}` };
    }
    return { value: spec.default, source: 'default', base: cwd, origin: `default of ${spec.file}` };
  };

  // 2. The data directory, then its petrel.toml when no file was named.
  const dataSpec = spec('dataDir');
  const dataRaw = pick(dataSpec, fileValues, configPath);
  const dataDir = convert(dataSpec, dataRaw) as string;
  if (!explicit) {
    const candidate = resolve(dataDir, 'petrel.toml');
    if (await isFile(candidate)) {
      configPath = candidate;
      fileValues = await loadConfigFile(candidate);
      if (Object.hasOwn(fileValues, 'data')) {
        throw new ConfigError(`${candidate}: "data" cannot be set in the data directory's own config file`);
      }
    }
  }

  // 3. Everything else.
  const values: Partial<Record<SettingKey, unknown>> = { dataDir };
  const sources = { dataDir: dataRaw.source } as Record<SettingKey, SettingSource>;
  for (const s of SETTINGS) {
    if (s.key === 'dataDir') continue;
    const raw = pick(s, fileValues, configPath);
    values[s.key] = convert(s, raw);
    sources[s.key] = raw.source;
  }

  const config = { ...values, configFile: configPath, sources, warnings } as PetrelConfig;
  if ((config.tlsCert === null) !== (config.tlsKey === null)) {
    throw new ConfigError(
      config.tlsCert === null
        ? 'tls_key is set but tls_cert is not: give both or neither'
        : 'tls_cert is set but tls_key is not: give both or neither',
    );
  }
  return config;
}

/** Reads and validates a config file (TOML, or JSON for *.json). Keys are checked, values are not yet. */
export async function loadConfigFile(path: string): Promise<Record<string, unknown>> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new ConfigError(
      code === 'ENOENT' ? `config file ${path} does not exist` : `cannot read config file ${path}: ${(err as Error).message}`,
    );
  }
  let parsed: unknown;
  if (extname(path).toLowerCase() === '.json') {
    try {
      parsed = JSON.parse(text);
    } catch (err) {
      throw new ConfigError(`${path}: invalid JSON: ${(err as Error).message}`);
    }
  } else {
    try {
      parsed = parseToml(text);
    } catch (err) {
      if (err instanceof TomlError) {
        const first = err.message.split('\n')[0] ?? 'invalid TOML';
        throw new ConfigError(`${path}:${err.line}:${err.column}: ${first.replace(/^Invalid TOML document: /, 'invalid TOML: ')}`);
      }
      throw new ConfigError(`${path}: invalid TOML: ${(err as Error).message}`);
    }
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new ConfigError(`${path}: the top level must be a table of settings`);
  }
  const known = SETTINGS.map((s) => s.file);
  for (const key of Object.keys(parsed)) {
    if (!known.includes(key)) {
      throw new ConfigError(`${path}: unknown setting "${key}"${suggest(key, known)}`);
    }
  }
  return parsed as Record<string, unknown>;
}

function spec(key: SettingKey): SettingSpec {
  const s = SETTINGS.find((x) => x.key === key);
  if (!s) throw new Error(`no setting ${key}`);
  return s;
}

function convert(s: SettingSpec, raw: Raw): unknown {
  const { value } = raw;
  if (value === null) return null;
  const where = raw.origin;
  const kind = s.kind;
  if (kind === 'port') return parsePort(value, where);
  if (kind === 'size') return parseSize(value, where);
  if (kind === 'quota') return parseQuota(value, where);
  if (kind === 'count') return parseCount(value, where);
  if (kind === 'mode') return parseMode(value, where);
  if (typeof value !== 'string') throw new ConfigError(`${where}: expected a string, got ${describe(value)}`);
  if (kind === 'path') {
    if (value.trim() === '') throw new ConfigError(`${where}: empty path`);
    if (value.includes('\0')) throw new ConfigError(`${where}: path contains a NUL character`);
    return resolve(raw.base, value);
  }
  if (kind === 'store') return parseStoreUrl(value, where);
  if (kind === 'host') return parseHost(value, where);
  const v = value.toLowerCase();
  if (!kind.oneOf.includes(v)) {
    throw new ConfigError(`${where}: "${value}" is not one of ${kind.oneOf.join(', ')}`);
  }
  return v;
}

/** A port number 1–65535, or 0 meaning "disabled" (→ null). */
export function parsePort(value: unknown, where: string): number | null {
  let n: number;
  if (typeof value === 'number') n = value;
  else if (typeof value === 'string' && /^\s*\d{1,5}\s*$/.test(value)) n = Number(value);
  else throw new ConfigError(`${where}: "${String(value)}" is not a port number (0-65535; 0 disables)`);
  if (!Number.isInteger(n) || n < 0 || n > 65535) {
    throw new ConfigError(`${where}: ${String(value)} is not a port number (0-65535; 0 disables)`);
  }
  return n === 0 ? null : n;
}

const SIZE_UNITS: Record<string, number> = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 };
/** max_message_size may only lower the protocol layer's own cap (src/protocol/limits.ts). */
const MAX_SIZE: number = LIMITS.maxMessageSize;

/** A size in bytes: an integer, or a string like "512K", "64M", "1G" (binary multiples). */
export function parseSize(value: unknown, where: string): number {
  let n: number;
  if (typeof value === 'number') n = value;
  else if (typeof value === 'string' && /^\s*\d{1,13}\s*([kmg]i?)?b?\s*$/i.test(value)) {
    const m = /^\s*(\d+)\s*([kmg]?)/i.exec(value)!;
    n = Number(m[1]) * SIZE_UNITS[m[2]!.toLowerCase()]!;
  } else throw new ConfigError(`${where}: "${String(value)}" is not a size (bytes, or a number with K, M or G)`);
  if (!Number.isInteger(n) || n < 1 || n > MAX_SIZE) {
    throw new ConfigError(`${where}: ${String(value)} is out of range (1 byte to ${MAX_SIZE / 1024 ** 2}M)`);
  }
  return n;
}

const QUOTA_UNITS: Record<string, number> = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4 };

/** A storage quota: bytes, or a number with K, M, G or T (binary multiples); 0 = none (null). */
export function parseQuota(value: unknown, where: string): number | null {
  let n: number;
  if (typeof value === 'number') n = value;
  else if (typeof value === 'string' && /^\s*\d{1,15}\s*([kmgt]i?)?b?\s*$/i.test(value)) {
    const m = /^\s*(\d+)\s*([kmgt]?)/i.exec(value)!;
    n = Number(m[1]) * QUOTA_UNITS[m[2]!.toLowerCase()]!;
  } else throw new ConfigError(`${where}: "${String(value)}" is not a size (bytes, or a number with K, M, G or T; 0 = no limit)`);
  if (!Number.isSafeInteger(n) || n < 0) throw new ConfigError(`${where}: ${String(value)} is out of range`);
  return n === 0 ? null : n;
}

/** A positive integer count. */
export function parseCount(value: unknown, where: string): number {
  const n = typeof value === 'string' && /^\s*\d{1,9}\s*$/.test(value) ? Number(value) : value;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 1 || n > 1_000_000) {
    throw new ConfigError(`${where}: "${String(value)}" is not a whole number from 1 to 1000000`);
  }
  return n;
}

/** A file mode: an octal string ("0660", "660", "0o660") or a number (TOML's 0o660), at most 0o777. */
export function parseMode(value: unknown, where: string): number {
  let n: number;
  if (typeof value === 'number') n = value;
  else if (typeof value === 'string' && /^\s*(0o?)?[0-7]{1,4}\s*$/i.test(value)) {
    n = Number.parseInt(value.trim().replace(/^0o/i, ''), 8);
  } else throw new ConfigError(`${where}: "${String(value)}" is not a file mode (octal, e.g. "0660")`);
  if (!Number.isInteger(n) || n < 0 || n > 0o777) {
    throw new ConfigError(`${where}: ${String(value)} is not a file mode from 0 to 0777`);
  }
  return n;
}

/** `store`: a PostgreSQL connection URL (the embedded store needs no setting: it lives in the data directory). */
export function parseStoreUrl(value: string, where: string): string {
  const v = value.trim();
  if (!/^postgres(ql)?:\/\//i.test(v)) {
    throw new ConfigError(`${where}: "${value}" is not a postgres://… URL (the embedded store is chosen with --data DIR)`);
  }
  try {
    new URL(v);
  } catch {
    throw new ConfigError(`${where}: not a valid URL`);
  }
  return v;
}

function parseHost(value: string, where: string): string {
  let host = value.trim();
  if (host.startsWith('[') && host.endsWith(']')) host = host.slice(1, -1);
  if (isIP(host) !== 0) return host;
  // A DNS name (RFC 1123 §2.1 labels).
  if (host.length <= 253 && /^(?!-)[A-Za-z0-9-]{1,63}(?<!-)(\.(?!-)[A-Za-z0-9-]{1,63}(?<!-))*\.?$/.test(host)) return host;
  throw new ConfigError(`${where}: "${value}" is not a host name or IP address`);
}

function describe(value: unknown): string {
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object' && value !== null) return 'a table';
  return `${typeof value} ${JSON.stringify(value)}`;
}

function nonEmpty(v: string | undefined): string | undefined {
  return v === undefined || v === '' ? undefined : v;
}

async function isFile(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isFile();
  } catch {
    return false;
  }
}

/** The known name closest to `word` within edit distance 2 (case-insensitive), or null. */
export function closestName(word: string, known: readonly string[]): string | null {
  let best: string | null = null;
  let bestDistance = 3;
  for (const k of known) {
    const d = editDistance(word.toLowerCase(), k.toLowerCase());
    if (d < bestDistance) {
      best = k;
      bestDistance = d;
    }
  }
  return best;
}

/** ' (did you mean X?)' for the closest known name within edit distance 2, else ''. */
function suggest(word: string, known: readonly string[]): string {
  const best = closestName(word, known);
  return best ? ` (did you mean ${best}?)` : '';
}

function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const current = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = current;
    }
  }
  return row[b.length]!;
}
