// The IMAP client library: connect (RFC 8314 implicit TLS, RFC 9051 §6.2.1 STARTTLS), authenticate
// (§6.2.2 AUTHENTICATE PLAIN with RFC 4959 SASL-IR, §6.2.3 LOGIN), negotiate extensions (RFC 5161 ENABLE:
// CONDSTORE / QRESYNC RFC 7162, UTF8=ACCEPT RFC 6855), then one method per command (modules in
// ./commands). Commands may be issued concurrently: they are pipelined (RFC 9051 §5.5) and complete in
// order. Credentials never travel in clear text unless `tls: 'none'` is given explicitly.
import net from 'node:net';
import tls from 'node:tls';
import type { Duplex } from 'node:stream';
import { ClientConnection, type MailboxState } from './connection.js';
import { ImapConnectionError } from './errors.js';
import { appendMessage } from './commands/append.js';
import { authenticate, capability, enable, logout, startTls, type AuthMethod } from './commands/auth.js';
import { copyMessages, expunge, moveMessages, uidExpunge } from './commands/copy-move.js';
import { downloadSection, fetchMessages, type DownloadResult, type FetchStream } from './commands/fetch.js';
import { idle } from './commands/idle.js';
import {
  createMailbox,
  deleteMailbox,
  listMailboxes,
  namespace,
  renameMailbox,
  status,
  subscribeMailbox,
} from './commands/mailboxes.js';
import { searchMessages, type SearchResult } from './commands/search.js';
import { closeMailbox, selectMailbox, unselectMailbox } from './commands/select.js';
import { storeFlags } from './commands/store.js';
import type {
  AppendContent,
  AppendOptions,
  AppendResult,
  CopyResult,
  ExpungeResult,
  FetchedMessage,
  FetchOptions,
  FetchQuery,
  IdleEnd,
  IdleOptions,
  ListEntry,
  ListOptions,
  Range,
  SearchCriteria,
  SelectOptions,
  SelectResult,
  StatusItem,
  StatusResult,
  StoreOptions,
  StoreResult,
} from './types.js';

export type TlsMode = 'implicit' | 'starttls' | 'none';

export interface ClientTimeouts {
  /** TCP + TLS connect (default 30 s). */
  connectMs?: number;
  /** Silence while a reply is due before the connection is declared dead (default 120 s). */
  responseMs?: number;
  /** IDLE is re-issued this often (default 5 min), which bounds how long a dead link goes unnoticed. */
  idleRestartMs?: number;
  /**
   * When set: a connection with nothing to do (no command, no IDLE) sends NOOP after this long, so a dead
   * link is found (the NOOP times out, the client closes and emits 'close') before the next real command.
   */
  keepaliveMs?: number;
}

export interface ImapClientOptions {
  host?: string;
  port?: number;
  tls: TlsMode;
  rejectUnauthorized?: boolean;
  ca?: tls.ConnectionOptions['ca'];
  /** TLS server name (SNI and certificate check); defaults to host unless host is an IP address. */
  servername?: string;
  /** Omit for PREAUTH servers. */
  auth?: { user: string; password: string; method?: AuthMethod };
  /** Aborting closes the connection (and fails connect() while it is in progress). */
  signal?: AbortSignal;
  timeouts?: ClientTimeouts;
  /** Extensions to ENABLE when offered (default CONDSTORE, QRESYNC, UTF8=ACCEPT). IMAP4rev2 is opt-in. */
  enable?: readonly string[];
  /** An already connected transport (tests, proxies, SSH tunnels); host/port are then unused. */
  stream?: Duplex;
  /** Tag prefix (default 'A'). */
  tagPrefix?: string;
  /** Largest literal buffered in memory when not streamed (default 256 MiB). */
  maxLiteralSize?: number;
}

export const DEFAULT_ENABLE: readonly string[] = ['CONDSTORE', 'QRESYNC', 'UTF8=ACCEPT'];

export class ImapClient extends ClientConnection {
  /** The greeting said PREAUTH, or authentication succeeded. */
  authenticated = false;
  /** How the session is protected. */
  secure = false;
  /** The greeting text. */
  greeting = '';
  private readonly idleRestartMs: number;
  /** tls: 'none' was chosen explicitly: credentials may go in clear text. */
  private readonly allowClearText: boolean;

  private constructor(stream: Duplex, opts: ImapClientOptions) {
    super(stream, {
      responseTimeoutMs: opts.timeouts?.responseMs ?? 120_000,
      tagPrefix: opts.tagPrefix ?? 'A',
      maxLiteralSize: opts.maxLiteralSize ?? 256 * 1024 * 1024,
    });
    this.idleRestartMs = opts.timeouts?.idleRestartMs ?? 5 * 60 * 1000;
    this.allowClearText = opts.tls === 'none';
    const keepaliveMs = opts.timeouts?.keepaliveMs;
    if (keepaliveMs !== undefined && keepaliveMs > 0) {
      let lastBusy = Date.now();
      const timer = setInterval(() => {
        if (this.closed) return;
        if (this.pendingCount > 0 || !this.authenticated) {
          lastBusy = Date.now();
          return;
        }
        if (Date.now() - lastBusy < keepaliveMs) return;
        lastBusy = Date.now();
        // A failure closes the connection; callers learn of it from 'close' and the next command.
        this.run('NOOP', []).catch(() => undefined);
      }, Math.max(10, Math.floor(keepaliveMs / 4)));
      timer.unref();
      this.once('close', () => clearInterval(timer));
    }
  }

  /** Connects, secures, authenticates and enables extensions. Rejects with ImapConnectionError / ImapNoError. */
  static async connect(opts: ImapClientOptions): Promise<ImapClient> {
    if (opts.tls !== 'implicit' && opts.tls !== 'starttls' && opts.tls !== 'none') {
      throw new ImapConnectionError('refused', `tls must be 'implicit', 'starttls' or 'none'`);
    }
    const signal = opts.signal;
    if (signal?.aborted) throw new ImapConnectionError('aborted', 'Aborted before connecting');
    const stream = await openTransport(opts);
    const client = new ImapClient(stream, opts);
    client.secure = opts.tls === 'implicit';
    const onAbort = () => client.fail(new ImapConnectionError('aborted', 'Aborted'));
    signal?.addEventListener('abort', onAbort, { once: true });
    client.once('close', () => signal?.removeEventListener('abort', onAbort));
    try {
      await client.setup(opts);
    } catch (err) {
      client.destroy();
      throw err;
    }
    return client;
  }

  private async setup(opts: ImapClientOptions): Promise<void> {
    const greeting = await this.waitGreeting();
    if (greeting.kind !== 'status') throw new ImapConnectionError('protocol', 'The server did not send a greeting');
    this.greeting = greeting.text;
    if (greeting.status === 'BYE') throw new ImapConnectionError('bye', `Server refused the connection: ${greeting.text}`);
    const preauth = greeting.status === 'PREAUTH';
    if (preauth && opts.tls === 'starttls') {
      // RFC 9051 §6.2.1 / RFC 8314: PREAUTH on a connection that was to be upgraded leaves no way to protect it.
      throw new ImapConnectionError('tls', 'PREAUTH greeting on a connection that must use STARTTLS');
    }
    if (this.capabilities.size === 0) await capability(this);
    if (opts.tls === 'starttls') {
      await startTls(this);
      await this.replaceTransport((old) => upgradeToTls(old, opts));
      this.secure = true;
      this.capabilities = new Set();
      await capability(this);
    }
    if (preauth) this.authenticated = true;
    else if (opts.auth) {
      if (!this.secure && opts.tls !== 'none') throw new ImapConnectionError('refused', 'Refusing to send credentials in clear text');
      await authenticate(this, opts.auth.user, opts.auth.password, opts.auth.method);
      this.authenticated = true;
    }
    if (this.authenticated) await enable(this, opts.enable ?? DEFAULT_ENABLE);
  }

  /** Re-reads the capability list. */
  capability(): Promise<Set<string>> {
    return capability(this);
  }

  /** Logs in on a connection opened without `auth`. */
  async login(user: string, password: string, method?: AuthMethod): Promise<void> {
    if (!this.secure && !this.allowClearText) throw new ImapConnectionError('refused', 'Refusing to send credentials in clear text');
    await authenticate(this, user, password, method);
    this.authenticated = true;
  }


  enable(extensions: readonly string[]): Promise<Set<string>> {
    return enable(this, extensions);
  }

  has(capability: string): boolean {
    return this.capabilities.has(capability.toUpperCase());
  }

  get condstore(): boolean {
    return this.capabilities.has('CONDSTORE') || this.enabled.has('QRESYNC');
  }

  get qresync(): boolean {
    return this.enabled.has('QRESYNC');
  }

  // ---- mailboxes ------------------------------------------------------------------------------------

  list(reference = '', pattern = '*', opts: ListOptions = {}): Promise<ListEntry[]> {
    return listMailboxes(this, reference, pattern, opts);
  }

  status(path: string, items?: readonly StatusItem[]): Promise<StatusResult> {
    return status(this, path, items);
  }

  create(path: string): Promise<void> {
    return createMailbox(this, path);
  }

  delete(path: string): Promise<void> {
    return deleteMailbox(this, path);
  }

  rename(from: string, to: string): Promise<void> {
    return renameMailbox(this, from, to);
  }

  subscribe(path: string): Promise<void> {
    return subscribeMailbox(this, path, true);
  }

  unsubscribe(path: string): Promise<void> {
    return subscribeMailbox(this, path, false);
  }

  namespace(): Promise<{ prefix: string; delimiter: string | null } | null> {
    return namespace(this);
  }

  select(path: string, opts: SelectOptions = {}): Promise<SelectResult> {
    return selectMailbox(this, path, opts);
  }

  examine(path: string, opts: Omit<SelectOptions, 'readOnly'> = {}): Promise<SelectResult> {
    return selectMailbox(this, path, { ...opts, readOnly: true });
  }

  close(): Promise<void> {
    return closeMailbox(this);
  }

  unselect(): Promise<void> {
    return unselectMailbox(this);
  }

  get selected(): MailboxState | null {
    return this.mailbox;
  }

  append(path: string, content: AppendContent, opts: AppendOptions = {}): Promise<AppendResult> {
    return appendMessage(this, path, content, opts);
  }

  // ---- messages -------------------------------------------------------------------------------------

  /** FETCH as an async iterable; `for await (const msg of client.fetch('1:*', { uid: true, flags: true }, { uid: true }))`. */
  fetch(range: Range, query: FetchQuery, opts: FetchOptions = {}): FetchStream {
    return fetchMessages(this, range, query, opts);
  }

  /** FETCH, collected into an array. */
  async fetchAll(range: Range, query: FetchQuery, opts: FetchOptions = {}): Promise<FetchedMessage[]> {
    const out: FetchedMessage[] = [];
    for await (const m of this.fetch(range, query, opts)) out.push(m);
    return out;
  }

  /** One message by UID (or sequence number with uid: false), or null when it does not exist. */
  async fetchOne(id: number, query: FetchQuery, opts: FetchOptions = { uid: true }): Promise<FetchedMessage | null> {
    let found: FetchedMessage | null = null;
    for await (const m of this.fetch(id, query, opts)) if (!found || (opts.uid && m.uid === id)) found = m;
    return found;
  }

  /** Streams one body section (default the whole message) of a message by UID. */
  download(uid: number, section = '', opts: { binary?: boolean; signal?: AbortSignal; uid?: boolean } = {}): Promise<DownloadResult | null> {
    return downloadSection(this, uid, section, opts);
  }

  store(range: Range, flags: readonly string[], opts: StoreOptions = {}): Promise<StoreResult> {
    return storeFlags(this, range, flags, opts);
  }

  copy(range: Range, dest: string, opts: { uid?: boolean } = {}): Promise<CopyResult> {
    return copyMessages(this, range, dest, opts);
  }

  move(range: Range, dest: string, opts: { uid?: boolean } = {}): Promise<CopyResult> {
    return moveMessages(this, range, dest, opts);
  }

  expunge(): Promise<ExpungeResult> {
    return expunge(this);
  }

  uidExpunge(uids: Range): Promise<ExpungeResult> {
    return uidExpunge(this, uids);
  }

  /** Matching UIDs (uid: true) or sequence numbers, ascending. */
  async search(criteria: SearchCriteria, opts: { uid?: boolean } = {}): Promise<number[]> {
    return (await searchMessages(this, criteria, opts)).numbers;
  }

  /** Like search(), with the MODSEQ of the matches (RFC 7162 §3.1.5). */
  searchWithModSeq(criteria: SearchCriteria, opts: { uid?: boolean } = {}): Promise<SearchResult> {
    return searchMessages(this, criteria, opts);
  }

  async noop(): Promise<void> {
    await this.run('NOOP', []);
  }

  /**
   * IDLE until `signal` aborts, another command is issued on this client ('preempted'), or the server ends
   * it. IDLE is restarted every `restartMs`; a dead connection rejects with ImapConnectionError.
   */
  idle(opts: IdleOptions = {}): Promise<IdleEnd> {
    return idle(this, { restartMs: this.idleRestartMs, ...opts });
  }

  /** LOGOUT and close; never throws for a connection that is already gone. */
  logout(): Promise<void> {
    return logout(this);
  }

}

function connectTimeout<T>(p: Promise<T>, ms: number, onTimeout: () => void): Promise<T> {
  let t: NodeJS.Timeout | null = null;
  return Promise.race([
    p,
    new Promise<T>((_, reject) => {
      t = setTimeout(() => {
        onTimeout();
        reject(new ImapConnectionError('timeout', `Connecting took longer than ${ms} ms`));
      }, ms);
    }),
  ]).finally(() => {
    if (t) clearTimeout(t);
  });
}

function tlsOptions(opts: ImapClientOptions): tls.ConnectionOptions {
  const o: tls.ConnectionOptions = { rejectUnauthorized: opts.rejectUnauthorized ?? true, minVersion: 'TLSv1.2' };
  if (opts.ca !== undefined) o.ca = opts.ca;
  const name = opts.servername ?? (opts.host && net.isIP(opts.host) === 0 ? opts.host : undefined);
  if (name !== undefined) o.servername = name;
  return o;
}

async function openTransport(opts: ImapClientOptions): Promise<Duplex> {
  const ms = opts.timeouts?.connectMs ?? 30_000;
  if (opts.stream) return opts.tls === 'implicit' ? upgradeToTls(opts.stream, opts) : opts.stream;
  const host = opts.host ?? '127.0.0.1';
  const port = opts.port ?? (opts.tls === 'implicit' ? 993 : 143);
  let sock: net.Socket | null = null;
  const p = new Promise<Duplex>((resolve, reject) => {
    const onError = (err: Error) =>
      reject(new ImapConnectionError(opts.tls === 'implicit' && sock?.connecting === false ? 'tls' : 'connect', `Cannot connect to ${host}:${port}: ${err.message}`, { cause: err }));
    if (opts.tls === 'implicit') {
      const s = tls.connect({ ...tlsOptions(opts), host, port }, () => {
        s.off('error', onError);
        resolve(s);
      });
      sock = s;
      s.once('error', onError);
    } else {
      const s = net.connect({ host, port }, () => {
        s.off('error', onError);
        resolve(s);
      });
      sock = s;
      s.once('error', onError);
    }
    opts.signal?.addEventListener('abort', () => {
      sock?.destroy();
      reject(new ImapConnectionError('aborted', 'Aborted while connecting'));
    }, { once: true });
  });
  const s = await connectTimeout(p, ms, () => sock?.destroy());
  if (s instanceof net.Socket) {
    s.setKeepAlive(true, 60_000);
    s.setNoDelay(true);
  }
  return s;
}

function upgradeToTls(socket: Duplex, opts: ImapClientOptions): Promise<Duplex> {
  const ms = opts.timeouts?.connectMs ?? 30_000;
  let t: tls.TLSSocket | null = null;
  const p = new Promise<Duplex>((resolve, reject) => {
    const s = tls.connect({ ...tlsOptions(opts), socket }, () => {
      s.off('error', onError);
      resolve(s);
    });
    t = s;
    const onError = (err: Error) => reject(new ImapConnectionError('tls', `TLS handshake failed: ${err.message}`, { cause: err }));
    s.once('error', onError);
  });
  return connectTimeout(p, ms, () => (t as tls.TLSSocket | null)?.destroy());
}
