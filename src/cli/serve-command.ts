// `petrel serve`: resolve the configuration, load or generate the TLS certificate, open the store,
// create the first account when there is none (printing its password once), start the IMAP listeners
// (cleartext with STARTTLS, RFC 9051 §6.2.1; implicit TLS, RFC 8314 §3.3), print how to connect, and
// shut down cleanly on SIGINT/SIGTERM.
import { Option, type Command } from 'commander';
import { generatePassword, hashPassword } from '../auth/password.js';
import { AUTH_POLICIES, ConfigError, LOG_FORMATS, LOG_LEVELS, type PetrelConfig } from '../config/config.js';
import { createLogger } from '../config/logger.js';
import { loadTls } from '../config/tls.js';
import type { RunningServer } from '../server/server.js';
import type { Store } from '../store/types.js';
import { connectText, firstStartBox, hostPort, type ConnectInfo } from './banner.js';
import { CliError, ensureDataDir, loadConfig, USER_NAME_PATTERN, withCommonOptions, type CommonOptions } from './common.js';
import type { CliEnvironment } from './environment.js';

interface ServeOptions extends CommonOptions {
  host?: string;
  imapPort?: string;
  imapsPort?: string;
  tlsCert?: string;
  tlsKey?: string;
  logLevel?: string;
  logFormat?: string;
  allowInsecureAuth?: string;
}

/** Registers `serve`; `setExitCode` receives the command's result. */
export function addServeCommand(program: Command, env: CliEnvironment): void {
  withCommonOptions(
    program
      .command('serve')
      .description('run the IMAP server (creates an account on first start)')
      .option('--host <address>', 'address to listen on (default 127.0.0.1; env PETREL_HOST)')
      .option('--imap-port <port>', 'IMAP port with STARTTLS, 0 disables (default 1143; env PETREL_IMAP_PORT)')
      .option('--imaps-port <port>', 'IMAP port with implicit TLS, 0 disables (default 1993; env PETREL_IMAPS_PORT)')
      .option('--tls-cert <file>', 'PEM certificate (default: self-signed in <data>/tls/; env PETREL_TLS_CERT)')
      .option('--tls-key <file>', 'PEM private key for --tls-cert (env PETREL_TLS_KEY)')
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
      tlsCert: opts.tlsCert,
      tlsKey: opts.tlsKey,
      logLevel: opts.logLevel,
      logFormat: opts.logFormat,
      allowInsecureAuth: opts.allowInsecureAuth,
    });
    await serve(env, config);
  });
}

export async function serve(env: CliEnvironment, config: PetrelConfig): Promise<void> {
  if (config.imapPort === null && config.imapsPort === null) {
    throw new ConfigError('no listener enabled: imap_port and imaps_port are both 0');
  }
  // Start listening for signals now, so a Ctrl-C during start-up is not lost.
  const stop = env.shutdownSignal();
  await ensureDataDir(config.dataDir);
  const log = createLogger(config, env.stderr);
  if (config.configFile) log.info({ file: config.configFile }, 'configuration file read');

  const tls = await loadTls({ dataDir: config.dataDir, tlsCert: config.tlsCert, tlsKey: config.tlsKey, host: config.host });
  if (tls.generated) log.info({ cert: tls.certPath, sha256: tls.fingerprint256 }, 'generated a self-signed TLS certificate');

  const store = await env.openStore(config.dataDir);
  let server: RunningServer | null = null;
  try {
    const created = await createFirstUser(env, store);
    if (created) log.info({ user: created.name }, 'first start: created an account');
    try {
      server = await env.startServer({
        store,
        host: config.host,
        imapPort: config.imapPort,
        imapsPort: config.imapsPort,
        tls: { cert: tls.cert, key: tls.key },
        allowInsecureAuth: config.allowInsecureAuth,
        maxMessageSize: config.maxMessageSize,
        maxConnectionsPerIp: config.maxConnectionsPerIp,
        logger: log,
      });
    } catch (err) {
      throw listenFailure(err, config);
    }
    const info: ConnectInfo = {
      dataDir: config.dataDir,
      host: config.host,
      imapPort: server.imapPort,
      imapsPort: server.imapsPort,
      allowInsecureAuth: config.allowInsecureAuth,
      certificate: { path: tls.certPath, selfSigned: tls.selfSigned, fingerprint256: tls.fingerprint256 },
      users: (await store.listUsers()).map((u) => u.name).sort(),
    };
    if (created) env.stdout.write(firstStartBox(created.name, created.password, info));
    env.stdout.write(connectText(info));

    const signal = await stop;
    log.info({ signal }, 'shutting down');
  } finally {
    if (server) await server.close();
    await store.close();
  }
  log.info('stopped');
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
  const e = err as NodeJS.ErrnoException & { port?: number; address?: string };
  const where = e.port !== undefined ? hostPort(e.address ?? config.host, e.port) : config.host;
  if (e.code === 'EADDRINUSE') return new CliError(`cannot listen on ${where}: the address is already in use`);
  if (e.code === 'EACCES') return new CliError(`cannot listen on ${where}: permission denied (ports below 1024 need privileges)`);
  if (e.code === 'EADDRNOTAVAIL') return new CliError(`cannot listen on ${where}: no such local address`);
  if (e.code === 'ENOTFOUND') return new CliError(`cannot listen on ${config.host}: the host name does not resolve`);
  return err;
}
