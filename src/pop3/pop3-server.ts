// The POP3 listeners: plain port 110-style with STLS (RFC 1939, RFC 2595 §4) and implicit TLS
// (RFC 8314 §3.3, "POP3S"), with per-address connection limits and the failed-login throttle shared
// by all connections. They serve the INBOX of the same store the IMAP server uses (issue 6, item 1).
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import tls from 'node:tls';
import { hashPassword, verifyPassword } from '../auth/password.js';
import { LIMITS } from '../protocol/limits.js';
import { LoginThrottle } from '../server/server-context.js';
import type { Store, UserRecord } from '../store/types.js';
import { Pop3Connection, type LoginThrottleLike, type Pop3Context, type Pop3FetchMissing, type Pop3Logger } from './pop3-session.js';

export interface Pop3ServerOptions {
  store: Store;
  host: string;
  /** Plain POP3 with STLS. null = disabled; 0 = OS-chosen port. */
  port: number | null;
  /** Implicit TLS (POP3S). null = disabled; 0 = OS-chosen port. */
  tlsPort: number | null;
  tls: { key: string | Buffer; cert: string | Buffer } | null;
  /** Where USER/PASS and AUTH PLAIN are allowed without TLS (default 'loopback', as for IMAP). */
  allowInsecureAuth?: 'loopback' | 'always' | 'never';
  logger?: Pop3Logger;
  /** Give messages sent whole by RETR the \Seen flag at QUIT (default true, as Dovecot does). */
  markSeen?: boolean;
  /** Autologout in the TRANSACTION state (default LIMITS.pop3IdleTimeoutMs; RFC 1939 §3 asks ≥ 10 min). */
  idleTimeoutMs?: number;
  /** Unauthenticated connections are closed after this long (default LIMITS.preAuthTimeoutMs). */
  preAuthTimeoutMs?: number;
  maxConnectionsPerIp?: number;
  /** Share failed-login accounting with another listener (e.g. IMAP's); default: a throttle of its own. */
  throttle?: LoginThrottleLike;
  /** Serving a replica: RETR (and TOP with body lines) of a partial message calls it first, as IMAP FETCH
   *  does (src/server/fetch-missing.ts); without it such a RETR answers -ERR [SYS/TEMP]. */
  fetchMissing?: Pop3FetchMissing;
}

export interface RunningPop3Server {
  port: number | null;
  tlsPort: number | null;
  /** Number of open connections. */
  connections(): number;
  close(): Promise<void>;
}

const silentLogger: Pop3Logger = { debug() {}, info() {}, warn() {}, error() {} };

export async function startPop3Server(opts: Pop3ServerOptions): Promise<RunningPop3Server> {
  const log = opts.logger ?? silentLogger;
  const store = opts.store;
  // TLS 1.2 or newer, as on the IMAP listeners (RFC 8996).
  const secureContext = opts.tls
    ? tls.createSecureContext({ key: opts.tls.key, cert: opts.tls.cert, minVersion: 'TLSv1.2' })
    : null;
  // A hash of a random password, so unknown users cost one verification too (no timing oracle).
  const dummyHash = await hashPassword(randomBytes(16).toString('hex'));
  const ctx: Pop3Context = {
    store,
    log,
    secureContext,
    allowInsecureAuth: opts.allowInsecureAuth ?? 'loopback',
    throttle: opts.throttle ?? new LoginThrottle(),
    markSeen: opts.markSeen ?? true,
    idleTimeoutMs: opts.idleTimeoutMs ?? LIMITS.pop3IdleTimeoutMs,
    preAuthTimeoutMs: opts.preAuthTimeoutMs ?? LIMITS.preAuthTimeoutMs,
    ...(opts.fetchMissing ? { fetchMissing: opts.fetchMissing } : {}),
    async authenticate(name: string, password: string): Promise<UserRecord | null> {
      const user = await store.getUser(name);
      if (!user) {
        await verifyPassword(password, dummyHash);
        return null;
      }
      return (await verifyPassword(password, user.passwordHash)) ? user : null;
    },
  };
  const maxPerIp = opts.maxConnectionsPerIp ?? LIMITS.maxConnectionsPerIp;
  const open = new Set<Pop3Connection>();
  const perIp = new Map<string, number>();

  const accept = (socket: net.Socket, implicitTls: boolean): void => {
    const ip = socket.remoteAddress ?? '';
    const count = perIp.get(ip) ?? 0;
    if (count >= maxPerIp) {
      socket.end('-ERR [SYS/TEMP] Too many connections from your address\r\n');
      setTimeout(() => socket.destroy(), 1000).unref();
      return;
    }
    perIp.set(ip, count + 1);
    socket.on('error', () => undefined);
    const openedAt = Date.now();
    log.info({ ip, port: socket.remotePort, protocol: 'pop3', tls: implicitTls }, 'connection opened');
    const conn: Pop3Connection = new Pop3Connection(socket, ctx, implicitTls, () => {
      if (!open.delete(conn)) return;
      log.info({ ip, protocol: 'pop3', seconds: (Date.now() - openedAt) / 1000 }, 'connection closed');
      const n = (perIp.get(ip) ?? 1) - 1;
      if (n <= 0) perIp.delete(ip);
      else perIp.set(ip, n);
    });
    open.add(conn);
    conn.start();
  };

  const servers: net.Server[] = [];
  let port: number | null = null;
  let tlsPort: number | null = null;
  try {
    if (opts.port !== null) {
      const srv = net.createServer((s) => accept(s, false));
      servers.push(srv);
      port = await listen(srv, opts.host, opts.port);
    }
    if (opts.tlsPort !== null) {
      if (!opts.tls) throw new Error('POP3S (implicit TLS) needs a certificate');
      const srv = tls.createServer({ key: opts.tls.key, cert: opts.tls.cert, minVersion: 'TLSv1.2' }, (s) => accept(s, true));
      srv.on('tlsClientError', () => undefined);
      servers.push(srv);
      tlsPort = await listen(srv, opts.host, opts.tlsPort);
    }
  } catch (err) {
    for (const s of servers) s.close();
    throw err;
  }
  log.info({ host: opts.host, pop3Port: port, pop3sPort: tlsPort }, 'POP3 listening');

  return {
    port,
    tlsPort,
    connections: () => open.size,
    async close() {
      const closing = servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve())));
      for (const c of [...open]) c.close();
      await Promise.all(closing);
    },
  };
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
