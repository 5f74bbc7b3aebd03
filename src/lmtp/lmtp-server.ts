// The LMTP listener (RFC 2033): on a TCP port and/or a Unix-domain socket, for local delivery from an
// MTA such as Postfix (docs/lmtp.md). LMTP has no authentication: bind it to loopback or a socket that
// only the MTA can reach. RFC 2033 §5: LMTP must not be used on the well-known SMTP port 25.
import { chmodSync, lstatSync, unlinkSync } from 'node:fs';
import net from 'node:net';
import { hostname as osHostname } from 'node:os';
import { LIMITS } from '../protocol/limits.js';
import type { Store } from '../store/types.js';
import { LmtpConnection, type LmtpContext, type LmtpLogger } from './lmtp-session.js';

export interface LmtpServerOptions {
  store: Store;
  host: string;
  /** TCP port; null = no TCP listener; 0 = OS-chosen port. */
  port: number | null;
  /** Unix-domain socket path (a stale socket file is replaced; a live one is an error). */
  socketPath?: string;
  /** File mode for the socket, e.g. 0o660 (default: as the umask leaves it). */
  socketMode?: number;
  logger?: LmtpLogger;
  /** Largest message accepted (advertised as SIZE, RFC 1870); default LIMITS.maxMessageSize. */
  maxMessageSize?: number;
  /** Name in the greeting and LHLO reply; default the machine's host name. */
  hostname?: string;
  /** Subaddress separator ("alice+lists" → folder "lists"); null turns it off. Default "+". */
  recipientDelimiter?: string | null;
  /** Accepted recipient domains (case-insensitive); default null = any domain. */
  domains?: string[] | null;
  idleTimeoutMs?: number;
  maxRecipients?: number;
  /** Octets one account's mailboxes may hold together before delivery to it answers 552 5.2.2; default
   *  null = no limit. */
  quota?: number | null;
}

export interface RunningLmtpServer {
  port: number | null;
  socketPath: string | null;
  connections(): number;
  close(): Promise<void>;
}

const silentLogger: LmtpLogger = { debug() {}, info() {}, warn() {}, error() {} };

export async function startLmtpServer(opts: LmtpServerOptions): Promise<RunningLmtpServer> {
  const log = opts.logger ?? silentLogger;
  const ctx: LmtpContext = {
    store: opts.store,
    log,
    hostname: opts.hostname ?? (osHostname() || 'localhost'),
    maxMessageSize: opts.maxMessageSize ?? LIMITS.maxMessageSize,
    maxRecipients: opts.maxRecipients ?? LIMITS.lmtpMaxRecipients,
    idleTimeoutMs: opts.idleTimeoutMs ?? LIMITS.lmtpIdleTimeoutMs,
    quota: opts.quota ?? null,
    policy: {
      delimiter: opts.recipientDelimiter === undefined ? '+' : opts.recipientDelimiter,
      domains: opts.domains ?? null,
    },
  };
  const open = new Set<LmtpConnection>();
  const accept = (socket: net.Socket): void => {
    socket.on('error', () => undefined);
    const conn: LmtpConnection = new LmtpConnection(socket, ctx, () => open.delete(conn));
    open.add(conn);
    conn.start();
  };

  const servers: net.Server[] = [];
  let port: number | null = null;
  let socketPath: string | null = null;
  try {
    if (opts.port !== null) {
      const srv = net.createServer(accept);
      servers.push(srv);
      port = await listen(srv, (cb) => srv.listen(opts.port!, opts.host, cb));
      const addr = srv.address();
      if (typeof addr === 'object' && addr) port = addr.port;
    }
    if (opts.socketPath) {
      const path = opts.socketPath;
      await removeStaleSocket(path);
      const srv = net.createServer(accept);
      servers.push(srv);
      await listen(srv, (cb) => srv.listen(path, cb));
      if (opts.socketMode !== undefined) chmodSync(path, opts.socketMode);
      socketPath = path;
    }
  } catch (err) {
    for (const s of servers) s.close();
    throw err;
  }
  log.info({ host: opts.host, lmtpPort: port, lmtpSocket: socketPath }, 'LMTP listening');

  return {
    port,
    socketPath,
    connections: () => open.size,
    async close() {
      const closing = servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve())));
      for (const c of [...open]) c.close();
      await Promise.all(closing);
    },
  };
}

function listen(srv: net.Server, start: (cb: () => void) => void): Promise<number | null> {
  return new Promise((resolve, reject) => {
    srv.once('error', reject);
    start(() => {
      srv.off('error', reject);
      const addr = srv.address();
      resolve(typeof addr === 'object' && addr ? addr.port : null);
    });
  });
}

/** A socket file left by a process that died is removed; one that still answers is left alone. */
async function removeStaleSocket(path: string): Promise<void> {
  let isSocket: boolean;
  try {
    isSocket = lstatSync(path).isSocket();
  } catch {
    return; // nothing there
  }
  if (!isSocket) throw new Error(`LMTP socket path ${path} exists and is not a socket`);
  const alive = await new Promise<boolean>((resolve) => {
    const c = net.connect(path);
    c.once('connect', () => {
      c.destroy();
      resolve(true);
    });
    c.once('error', () => resolve(false));
  });
  if (alive) throw new Error(`LMTP socket ${path} is in use by another process`);
  unlinkSync(path);
}
