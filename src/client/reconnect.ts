// Reconnecting with exponential backoff. Only transport-level failures (ImapConnectionError: refused TCP,
// timeouts, BYE, resets) are retried; a NO to LOGIN (RFC 9051 §6.2.3, AUTHENTICATIONFAILED of RFC 5530) and
// client refusals are not, since trying again cannot help. After a reconnect the caller must reselect:
// sequence numbers and the selected state do not survive (RFC 9051 §3), UIDs do while UIDVALIDITY holds.
import { ImapConnectionError } from './errors.js';
import { ImapClient, type ImapClientOptions } from './imap-client.js';

export interface ReconnectPolicy {
  /** Attempts after the first failure (default 8; Infinity to keep trying). */
  retries?: number;
  /** First delay (default 500 ms), doubled each time up to maxDelayMs (default 60 s). */
  baseDelayMs?: number;
  maxDelayMs?: number;
  /** Random spread of each delay, 0..1 (default 0.25), so many clients do not retry in step. */
  jitter?: number;
  signal?: AbortSignal;
  /** Told about each retry (for logs and progress lines). */
  onRetry?: (info: { attempt: number; delayMs: number; error: unknown }) => void;
  /** Replaces ImapClient.connect (tests). */
  connect?: (opts: ImapClientOptions) => Promise<ImapClient>;
  /** Source of randomness in [0, 1) (tests). */
  random?: () => number;
}

/** Delay before retry number `attempt` (1-based). */
export function backoffDelay(attempt: number, policy: ReconnectPolicy = {}): number {
  const base = policy.baseDelayMs ?? 500;
  const max = policy.maxDelayMs ?? 60_000;
  const jitter = Math.min(1, Math.max(0, policy.jitter ?? 0.25));
  const raw = Math.min(max, base * 2 ** Math.min(30, attempt - 1));
  const r = (policy.random ?? Math.random)();
  return Math.max(0, Math.round(raw * (1 - jitter + 2 * jitter * r)));
}

/** Errors worth a new connection. */
export function isRetryable(err: unknown): boolean {
  return err instanceof ImapConnectionError && err.reason !== 'refused' && err.reason !== 'aborted';
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(new ImapConnectionError('aborted', 'Aborted'));
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(t);
      reject(new ImapConnectionError('aborted', 'Aborted'));
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/**
 * Runs `fn` with a connected client; when the connection fails (during connect or inside fn), waits,
 * reconnects and runs `fn` again from the start. `fn` must therefore be safe to repeat. The client is
 * logged out afterwards.
 */
export async function withReconnect<T>(opts: ImapClientOptions, fn: (client: ImapClient) => Promise<T>, policy: ReconnectPolicy = {}): Promise<T> {
  const rc = new ResilientClient(opts, policy);
  try {
    return await rc.run(fn);
  } finally {
    await rc.close();
  }
}

/** Keeps one live connection, replacing it (with backoff) when it breaks. */
export class ResilientClient {
  private current: ImapClient | null = null;
  private connecting: Promise<ImapClient> | null = null;
  private closed = false;
  /** Successful connections made so far. */
  connections = 0;

  constructor(
    private readonly opts: ImapClientOptions,
    private readonly policy: ReconnectPolicy = {},
  ) {}

  /** A connected client: the current one while it lives, else a new one (retrying with backoff). */
  client(): Promise<ImapClient> {
    if (this.closed) return Promise.reject(new ImapConnectionError('aborted', 'ResilientClient is closed'));
    if (this.current && !this.current.closed) return Promise.resolve(this.current);
    this.connecting ??= this.connectWithRetry().finally(() => (this.connecting = null));
    return this.connecting;
  }

  private async connectWithRetry(): Promise<ImapClient> {
    const connect = this.policy.connect ?? ((o: ImapClientOptions) => ImapClient.connect(o));
    const retries = this.policy.retries ?? 8;
    for (let attempt = 0; ; attempt++) {
      try {
        const opts = this.policy.signal && !this.opts.signal ? { ...this.opts, signal: this.policy.signal } : this.opts;
        const c = await connect(opts);
        if (this.closed) {
          c.destroy();
          throw new ImapConnectionError('aborted', 'ResilientClient is closed');
        }
        this.current = c;
        this.connections++;
        return c;
      } catch (err) {
        if (!isRetryable(err) || attempt >= retries || this.closed) throw err;
        const delayMs = backoffDelay(attempt + 1, this.policy);
        this.policy.onRetry?.({ attempt: attempt + 1, delayMs, error: err });
        await sleep(delayMs, this.policy.signal);
      }
    }
  }

  /** Runs `fn`, starting over on a fresh connection when the connection fails. */
  async run<T>(fn: (client: ImapClient) => Promise<T>): Promise<T> {
    const retries = this.policy.retries ?? 8;
    for (let attempt = 0; ; attempt++) {
      const c = await this.client();
      try {
        return await fn(c);
      } catch (err) {
        if (!isRetryable(err) || attempt >= retries || this.closed) throw err;
        c.destroy();
        if (this.current === c) this.current = null;
        const delayMs = backoffDelay(attempt + 1, this.policy);
        this.policy.onRetry?.({ attempt: attempt + 1, delayMs, error: err });
        await sleep(delayMs, this.policy.signal);
      }
    }
  }

  /** Logs out the current connection; no reconnects afterwards. */
  async close(): Promise<void> {
    this.closed = true;
    const c = this.current;
    this.current = null;
    if (c) await c.logout().catch(() => undefined);
  }
}
