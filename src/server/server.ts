// The IMAP listeners: plain (with STARTTLS) and implicit TLS (RFC 8314), per-address connection limits,
// and the shared context of all sessions. TLS is 1.2 or newer on every listener (RFC 8996 deprecates
// 1.0 and 1.1; RFC 9325 §3.1.1). Connection events are logged one line each; commands are counted and
// timed for /metrics when a PetrelMetrics is given.
import net from 'node:net';
import tls from 'node:tls';
import { hashPassword } from '../auth/password.js';
import { randomBytes } from 'node:crypto';
import { LIMITS } from '../protocol/limits.js';
import type { Store, UserRecord } from '../store/types.js';
import type { PetrelMetrics } from '../metrics/petrel-metrics.js';
import { Connection } from './connection.js';
import { errorToResult } from './errors.js';
import { buildRegistry } from './registry.js';
import { LoginThrottle, passwordAuthenticator, type ServerContext, type ServerSettings } from './server-context.js';
import type { CommandSpec, ServerLoggerLike } from './session.js';
import type { FetchMissingHook } from './fetch-missing.js';
import { renderCacheText } from './commands/fetch-batch.js';
export type { FetchMissingHook, FetchMissingRequest } from './fetch-missing.js';

export type ServerLogger = ServerLoggerLike;

export interface ServerOptions {
  store: Store;
  host: string;
  /** null = listener disabled; 0 = OS-chosen port. */
  imapPort: number | null;
  imapsPort: number | null;
  tls: { key: string | Buffer; cert: string | Buffer } | null;
  allowInsecureAuth?: 'loopback' | 'always' | 'never';
  logger?: ServerLogger;
  maxMessageSize?: number;
  maxConnectionsPerIp?: number;
  idleTimeoutMs?: number;
  /** Failed-login accounting shared with other listeners (e.g. POP3, so guesses cannot be split between
   *  protocols); default: a throttle of its own. */
  throttle?: LoginThrottle;
  /** Unauthenticated connections are closed after this long (default LIMITS.preAuthTimeoutMs). */
  preAuthTimeoutMs?: number;
  /** Counts connections, commands and failed logins (petrel serve --metrics-port). */
  metrics?: PetrelMetrics;
  /**
   * Serving a replica (docs/sync.md "Partial messages"): called when a FETCH needs bytes a partly
   * downloaded message does not hold; it downloads the message and calls Store.replaceContent. Without
   * it (or when it fails) such a FETCH ends NO [UNAVAILABLE].
   */
  fetchMissing?: FetchMissingHook;
}

/** The oldest TLS version any listener accepts (RFC 8996; RFC 9325 §3.1.1). */
export const MIN_TLS_VERSION = 'TLSv1.2' as const;

export interface RunningServer {
  imapPort: number | null;
  imapsPort: number | null;
  /** Number of open connections. */
  connections(): number;
  close(): Promise<void>;
}

const silentLogger: ServerLogger = { debug() {}, info() {}, warn() {}, error() {} };

export async function startServer(opts: ServerOptions): Promise<RunningServer> {
  const log = opts.logger ?? silentLogger;
  const secureContext = opts.tls
    ? tls.createSecureContext({ key: opts.tls.key, cert: opts.tls.cert, minVersion: MIN_TLS_VERSION })
    : null;
  const metrics = opts.metrics ?? null;
  const settings: ServerSettings = {
    allowInsecureAuth: opts.allowInsecureAuth ?? 'loopback',
    tlsAvailable: secureContext !== null,
    maxMessageSize: opts.maxMessageSize ?? LIMITS.maxMessageSize,
    maxConnectionsPerIp: opts.maxConnectionsPerIp ?? LIMITS.maxConnectionsPerIp,
    idleTimeoutMs: opts.idleTimeoutMs ?? LIMITS.idleTimeoutMs,
    preAuthTimeoutMs: opts.preAuthTimeoutMs ?? LIMITS.preAuthTimeoutMs,
  };
  const store = opts.store;
  // New messages get their FETCH render cache at append (commands/fetch-batch.ts).
  store.setFetchCacheRenderer?.(renderCacheText);
  // A hash of a random password, so unknown users cost one verification too.
  const dummyHash = await hashPassword(randomBytes(16).toString('hex'));
  const ctx: ServerContext = {
    store,
    settings,
    throttle:
      opts.throttle ??
      new LoginThrottle({
        log,
        ...(metrics
          ? { onFailure: () => metrics.failedLogins.inc(), onLockout: (kind) => metrics.lockouts.inc({ kind }) }
          : {}),
      }),
    log,
    // Unknown users cost one verification too, so timing does not reveal which names exist.
    authenticate: passwordAuthenticator(store, dummyHash),
    ...(opts.fetchMissing ? { fetchMissing: opts.fetchMissing } : {}),
  };
  const registry = metrics ? timedRegistry(buildRegistry(), metrics) : buildRegistry();
  metrics?.watchConnections('imap', () => open.size);
  const open = new Set<Connection>();
  const perIp = new Map<string, number>();

  const accept = (socket: net.Socket, implicitTls: boolean): void => {
    const ip = socket.remoteAddress ?? '';
    const count = perIp.get(ip) ?? 0;
    if (count >= settings.maxConnectionsPerIp) {
      socket.end('* BYE [UNAVAILABLE] Too many connections from your address\r\n');
      setTimeout(() => socket.destroy(), 1000).unref();
      return;
    }
    perIp.set(ip, count + 1);
    metrics?.connectionsTotal.inc({ protocol: 'imap' });
    const openedAt = Date.now();
    log.info({ ip, port: socket.remotePort, protocol: 'imap', tls: implicitTls }, 'connection opened');
    let closed = false;
    const conn = new Connection({
      socket,
      server: ctx,
      registry,
      secureContext,
      implicitTls,
      onClose: () => {
        if (closed) return;
        closed = true;
        open.delete(conn);
        log.info({ ip, protocol: 'imap', seconds: (Date.now() - openedAt) / 1000 }, 'connection closed');
        const n = (perIp.get(ip) ?? 1) - 1;
        if (n <= 0) perIp.delete(ip);
        else perIp.set(ip, n);
      },
    });
    open.add(conn);
    conn.start();
  };

  const servers: net.Server[] = [];
  let imapPort: number | null = null;
  let imapsPort: number | null = null;
  if (opts.imapPort !== null) {
    const srv = net.createServer((s) => accept(s, false));
    imapPort = await listen(srv, opts.host, opts.imapPort);
    servers.push(srv);
  }
  if (opts.imapsPort !== null) {
    if (!secureContext) throw new Error('implicit TLS needs a certificate');
    // tls.Server ignores a `secureContext` option (the handshake then fails for lack of a certificate):
    // the key and certificate must be given directly.
    const srv = tls.createServer(
      { key: opts.tls!.key, cert: opts.tls!.cert, minVersion: MIN_TLS_VERSION },
      (s) => accept(s, true),
    );
    srv.on('tlsClientError', () => undefined);
    imapsPort = await listen(srv, opts.host, opts.imapsPort);
    servers.push(srv);
  }
  log.info({ host: opts.host, imapPort, imapsPort }, 'IMAP listening');

  return {
    imapPort,
    imapsPort,
    connections: () => open.size,
    async close() {
      // net.Server.close() calls back only once every connection has ended, so the open sessions are
      // closed right after it stops accepting, not after the callback (which would wait forever).
      const closing = servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve())));
      for (const c of [...open]) c.close();
      await Promise.all(closing);
    },
  };
}

/** Wraps every command so its status and duration are recorded (parse errors count as BAD). */
function timedRegistry(registry: Map<string, CommandSpec>, metrics: PetrelMetrics): Map<string, CommandSpec> {
  const out = new Map<string, CommandSpec>();
  for (const [name, spec] of registry) {
    out.set(name, {
      ...spec,
      parse(r, session) {
        try {
          return spec.parse(r, session);
        } catch (err) {
          metrics.recordCommand('imap', name, 'BAD', 0);
          throw err;
        }
      },
      async run(ctx, args) {
        const start = process.hrtime.bigint();
        let status = 'OK';
        try {
          const res = await spec.run(ctx, args);
          if (res !== undefined && typeof res !== 'string') status = res.status;
          return res;
        } catch (err) {
          status = errorToResult(err, () => undefined).status;
          throw err;
        } finally {
          metrics.recordCommand('imap', name, status, Number(process.hrtime.bigint() - start) / 1e9);
        }
      },
    });
  }
  return out;
}

function listen(srv: net.Server, host: string, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    srv.once('error', reject);
    srv.listen(port, host, () => {
      srv.off('error', reject);
      const addr = srv.address();
      resolve(typeof addr === 'object' && addr ? addr.port : port);
    });
  });
}
