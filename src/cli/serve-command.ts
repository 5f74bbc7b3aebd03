// `petrel serve`: resolve the configuration, load or generate the TLS certificate, open the store,
// create the first account when there is none (printing its password once), start the listeners on the
// one store — IMAP (cleartext with STARTTLS, RFC 9051 §6.2.1; implicit TLS, RFC 8314 §3.3), POP3 (RFC 1939
// with STLS, RFC 2595 §4; POP3S, RFC 8314 §3.3) and LMTP delivery (RFC 2033, TCP on lmtp_host and/or a
// Unix-domain socket) — print how to connect, and shut everything down cleanly on SIGINT/SIGTERM.
import { Option, type Command } from 'commander';
import { generatePassword, hashPassword } from '../auth/password.js';
import { AUTH_POLICIES, ConfigError, LOG_FORMATS, LOG_LEVELS, type PetrelConfig } from '../config/config.js';
import { createLogger } from '../config/logger.js';
import { loadTls } from '../config/tls.js';
import { countingDeliveries, PetrelMetrics, startMetricsServer, type RunningMetricsServer } from '../metrics/petrel-metrics.js';
import type { RunningLmtpServer } from '../lmtp/lmtp-server.js';
import type { RunningPop3Server } from '../pop3/pop3-server.js';
import type { RunningServer } from '../server/server.js';
import type { Store } from '../store/types.js';
import { resolveAccount } from '../sync/account.js';
import { ContentFetcher } from '../sync/on-demand.js';
import type { AccountSettings } from '../sync/types.js';
import { connectText, firstStartBox, hostPort, type ConnectInfo } from './banner.js';
import { CliError, ensureDataDir, loadConfig, USER_NAME_PATTERN, withCommonOptions, type CommonOptions } from './common.js';
import type { CliEnvironment } from './environment.js';

interface ServeOptions extends CommonOptions {
  host?: string;
  imapPort?: string;
  imapsPort?: string;
  pop3Port?: string;
  pop3sPort?: string;
  lmtpPort?: string;
  lmtpHost?: string;
  lmtpSocket?: string;
  tlsCert?: string;
  tlsKey?: string;
  logLevel?: string;
  logFormat?: string;
  allowInsecureAuth?: string;
  metricsPort?: string;
  metricsHost?: string;
  syncAccount?: string;
}

/** Registers `serve`; `setExitCode` receives the command's result. */
export function addServeCommand(program: Command, env: CliEnvironment): void {
  withCommonOptions(
    program
      .command('serve')
      .description('run the IMAP, POP3 and LMTP server (creates an account on first start)')
      .option('--host <address>', 'address the IMAP and POP3 ports listen on (default 127.0.0.1; env PETREL_HOST)')
      .option('--imap-port <port>', 'IMAP port with STARTTLS, 0 disables (default 1143; env PETREL_IMAP_PORT)')
      .option('--imaps-port <port>', 'IMAP port with implicit TLS, 0 disables (default 1993; env PETREL_IMAPS_PORT)')
      .option('--pop3-port <port>', 'POP3 port with STLS, 0 disables (default 1110; env PETREL_POP3_PORT)')
      .option('--pop3s-port <port>', 'POP3 port with implicit TLS, 0 disables (default 1995; env PETREL_POP3S_PORT)')
      .option('--lmtp-port <port>', 'LMTP delivery port (default off; env PETREL_LMTP_PORT)')
      .option('--lmtp-host <address>', 'address the LMTP port listens on (default 127.0.0.1; env PETREL_LMTP_HOST)')
      .option('--lmtp-socket <path>', 'LMTP delivery on a Unix-domain socket (default off; env PETREL_LMTP_SOCKET)')
      .option('--tls-cert <file>', 'PEM certificate (default: self-signed in <data>/tls/; env PETREL_TLS_CERT)')
      .option('--tls-key <file>', 'PEM private key for --tls-cert (env PETREL_TLS_KEY)')
      .option('--metrics-port <port>', 'HTTP port for Prometheus metrics at /metrics (default off; env PETREL_METRICS_PORT)')
      .option('--metrics-host <address>', 'address the metrics port listens on (default 127.0.0.1; env PETREL_METRICS_HOST)')
      .option('--sync-account <file>', 'serving a replica of `petrel sync`: fetch partly downloaded messages from the server of this account file on demand')
      .addOption(
        new Option('--allow-insecure-auth <when>', 'password login without TLS (default loopback; env PETREL_ALLOW_INSECURE_AUTH)')
          .choices(AUTH_POLICIES),
      )
      .addOption(new Option('--log-level <level>', 'log level (default info; env PETREL_LOG_LEVEL)').choices(LOG_LEVELS))
      .addOption(
        new Option('--log-format <format>', 'log lines on stderr (default text; env PETREL_LOG_FORMAT)').choices(LOG_FORMATS),
      ),
  ).action(async (opts: ServeOptions) => {
    const config = await loadConfig(env, opts, {
      host: opts.host,
      imapPort: opts.imapPort,
      imapsPort: opts.imapsPort,
      pop3Port: opts.pop3Port,
      pop3sPort: opts.pop3sPort,
      lmtpPort: opts.lmtpPort,
      lmtpHost: opts.lmtpHost,
      lmtpSocket: opts.lmtpSocket,
      tlsCert: opts.tlsCert,
      tlsKey: opts.tlsKey,
      logLevel: opts.logLevel,
      logFormat: opts.logFormat,
      allowInsecureAuth: opts.allowInsecureAuth,
      metricsPort: opts.metricsPort,
      metricsHost: opts.metricsHost,
    });
    await serve(env, config, opts.syncAccount !== undefined ? { syncAccount: opts.syncAccount } : {});
  });
}

export async function serve(env: CliEnvironment, config: PetrelConfig, extra: { syncAccount?: string } = {}): Promise<void> {
  if (config.imapPort === null && config.imapsPort === null && config.pop3Port === null && config.pop3sPort === null) {
    throw new ConfigError('no listener enabled: imap_port, imaps_port, pop3_port and pop3s_port are all 0');
  }
  // Start listening for signals now, so a Ctrl-C during start-up is not lost.
  const stop = env.shutdownSignal();
  await ensureDataDir(config.dataDir);
  const log = createLogger(config, env.stderr);
  if (config.configFile) log.info({ file: config.configFile }, 'configuration file read');

  const tls = await loadTls({ dataDir: config.dataDir, tlsCert: config.tlsCert, tlsKey: config.tlsKey, host: config.host });
  if (tls.generated) log.info({ cert: tls.certPath, sha256: tls.fingerprint256 }, 'generated a self-signed TLS certificate');

  // A replica's partial messages (docs/sync.md) are completed from its server when an account is given.
  let account: AccountSettings | null = null;
  if (extra.syncAccount !== undefined) {
    try {
      account = (await resolveAccount({ file: extra.syncAccount, flags: {}, env: process.env, cwd: process.cwd() })).account;
    } catch (err) {
      throw new CliError(`--sync-account: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
  const store = await env.openStore(config.dataDir, config);
  const fetcher = account ? new ContentFetcher(config.dataDir, store, account) : null;
  const fetchMissing = fetcher ? (req: { mailboxId: number; uid: number; signal?: AbortSignal }) => fetcher.fetchMissing(req) : null;
  let server: RunningServer | null = null;
  let pop3: RunningPop3Server | null = null;
  let lmtp: RunningLmtpServer | null = null;
  let metricsServer: RunningMetricsServer | null = null;
  try {
    // One failed-login throttle for IMAP and POP3, so password guesses cannot be spread over both.
    const { LoginThrottle } = await import('../server/server-context.js');
    const metrics = config.metricsPort !== null ? new PetrelMetrics() : null;
    const throttle = new LoginThrottle({
      log,
      ...(metrics
        ? { onFailure: () => metrics.failedLogins.inc(), onLockout: (kind) => metrics.lockouts.inc({ kind }) }
        : {}),
    });
    const tlsMaterial = { cert: tls.cert, key: tls.key };
    try {
      if (config.imapPort !== null || config.imapsPort !== null) {
        server = await env.startServer({
          store,
          host: config.host,
          imapPort: config.imapPort,
          imapsPort: config.imapsPort,
          tls: tlsMaterial,
          allowInsecureAuth: config.allowInsecureAuth,
          maxMessageSize: config.maxMessageSize,
          maxConnectionsPerIp: config.maxConnectionsPerIp,
          logger: log,
          throttle,
          ...(metrics ? { metrics } : {}),
          ...(fetchMissing ? { fetchMissing } : {}),
        });
      }
      if (config.pop3Port !== null || config.pop3sPort !== null) {
        pop3 = await env.startPop3Server({
          store,
          host: config.host,
          port: config.pop3Port,
          tlsPort: config.pop3sPort,
          tls: tlsMaterial,
          allowInsecureAuth: config.allowInsecureAuth,
          maxConnectionsPerIp: config.maxConnectionsPerIp,
          logger: log,
          throttle,
          ...(fetchMissing ? { fetchMissing } : {}),
        });
      }
      if (config.lmtpPort !== null || config.lmtpSocket !== null) {
        if (config.lmtpPort !== null && !isLoopbackAddress(config.lmtpHost)) {
          log.warn(
            { lmtpHost: config.lmtpHost },
            'LMTP has no authentication: anyone who can reach this address can deliver mail to every account',
          );
        }
        lmtp = await env.startLmtpServer({
          store: metrics ? countingDeliveries(store, metrics) : store,
          host: config.lmtpHost,
          port: config.lmtpPort,
          ...(config.lmtpSocket !== null ? { socketPath: config.lmtpSocket } : {}),
          ...(config.lmtpSocketMode !== null ? { socketMode: config.lmtpSocketMode } : {}),
          maxMessageSize: config.maxMessageSize,
          quota: config.quota,
          logger: log,
        });
      }
      if (metrics && config.metricsPort !== null) {
        const p = pop3 as RunningPop3Server | null;
        const l = lmtp as RunningLmtpServer | null;
        if (p) metrics.watchConnections('pop3', () => p.connections());
        if (l) metrics.watchConnections('lmtp', () => l.connections());
        metricsServer = await startMetricsServer(metrics, config.metricsHost, config.metricsPort);
        log.info({ host: config.metricsHost, port: metricsServer.port }, 'metrics listening at /metrics');
      }
    } catch (err) {
      throw listenFailure(err, config);
    }
    // The first account is made only once every listener is up: a start that fails (a port in use, say) must not
    // leave behind an account whose generated password nobody ever saw.
    const created = await createFirstUser(env, store);
    if (created) log.info({ user: created.name }, 'first start: created an account');
    const info: ConnectInfo = {
      dataDir: config.dataDir,
      host: config.host,
      imapPort: server?.imapPort ?? null,
      imapsPort: server?.imapsPort ?? null,
      pop3Port: pop3?.port ?? null,
      pop3sPort: pop3?.tlsPort ?? null,
      lmtp: { host: config.lmtpHost, port: lmtp?.port ?? null, socket: lmtp?.socketPath ?? null },
      allowInsecureAuth: config.allowInsecureAuth,
      certificate: { path: tls.certPath, selfSigned: tls.selfSigned, fingerprint256: tls.fingerprint256 },
      users: (await store.listUsers()).map((u) => u.name).sort(),
    };
    if (created) env.stdout.write(firstStartBox(created.name, created.password, info));
    env.stdout.write(connectText(info));

    const signal = await stop;
    log.info({ signal }, 'shutting down');
  } finally {
    // All listeners at once: each stops accepting, then closes its open sessions; the store closes last.
    await Promise.all([lmtp?.close(), pop3?.close(), server?.close(), metricsServer?.close()]);
    await fetcher?.close();
    await store.close();
  }
  log.info('stopped');
}

function isLoopbackAddress(host: string): boolean {
  return host === 'localhost' || host === '::1' || host.startsWith('127.');
}

/** On first start (no accounts at all) creates one with a generated password. */
async function createFirstUser(env: CliEnvironment, store: Store): Promise<{ name: string; password: string } | null> {
  if ((await store.listUsers()).length > 0) return null;
  const name = firstUserName(env.loginName());
  const password = generatePassword();
  await env.provisionUser(store, name, await hashPassword(password));
  return { name, password };
}

/** The operating-system login name when it is a valid user name (and not root), else "petrel". */
export function firstUserName(login: string | null): string {
  if (login && USER_NAME_PATTERN.test(login) && login !== 'root') return login;
  return 'petrel';
}

function listenFailure(err: unknown, config: PetrelConfig): unknown {
  const e = err as NodeJS.ErrnoException & { port?: number; address?: string; hostname?: string };
  // A Unix-domain socket (the LMTP socket): the address is its path.
  if (e.port === undefined && typeof e.address === 'string' && e.address.startsWith('/')) {
    if (e.code === 'EADDRINUSE') return new CliError(`cannot listen on the socket ${e.address}: the path is in use`);
    if (e.code === 'EACCES') return new CliError(`cannot listen on the socket ${e.address}: permission denied`);
    if (e.code === 'ENOENT' || e.code === 'ENOTDIR') return new CliError(`cannot listen on the socket ${e.address}: no such directory`);
  }
  if (err instanceof Error && /^LMTP socket/.test(err.message)) return new CliError(`cannot listen: ${err.message}`);
  const where = e.port !== undefined ? hostPort(e.address ?? config.host, e.port) : config.host;
  if (e.code === 'EADDRINUSE') return new CliError(`cannot listen on ${where}: the address is already in use`);
  if (e.code === 'EACCES') return new CliError(`cannot listen on ${where}: permission denied (ports below 1024 need privileges)`);
  if (e.code === 'EADDRNOTAVAIL') return new CliError(`cannot listen on ${where}: no such local address`);
  if (e.code === 'ENOTFOUND') return new CliError(`cannot listen on ${e.hostname ?? config.host}: the host name does not resolve`);
  return err;
}
