// The poke of ARCHITECTURE decision 2 across nodes: PostgreSQL LISTEN/NOTIFY as the change bus (issue 8,
// "cross-node notifications"). Every Petrel node that shares one database holds one listening connection;
// a write transaction sends `pg_notify(channel, payload)` before COMMIT, and PostgreSQL delivers the
// notification to every listener only if and when the transaction commits (NOTIFY is transactional), so a
// poke can never announce a change that was rolled back, nor be lost because the writing node died between
// COMMIT and a separate publish. The writer's own node delivers its events locally right after the commit
// (no round trip through the server) and ignores its echo, recognised by the node tag in the payload.
//
// Like the in-process bus, this carries no data that is not also in the durable change log: when the
// listening connection drops, notifications sent meanwhile are lost, so after reconnecting every watcher
// gets one "resync" poke (modSeq 0) and asks the store for changesSince() as usual. Serves RFC 2177 (IDLE)
// and RFC 9051 §7 unilateral updates on every node.
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import type { ChangeBus, ChangeListener } from './change-bus.js';
import type { ChangeEvent } from './types.js';

/** Default NOTIFY channel (one per database: NOTIFY does not cross databases). */
export const DEFAULT_CHANGE_CHANNEL = 'petrel_changes';

export interface PgChangeBusOptions {
  /** NOTIFY channel; default DEFAULT_CHANGE_CHANNEL. A plain SQL identifier. */
  channel?: string;
  /** Receives errors of throwing listeners and of the listening connection. */
  onError?: (err: unknown) => void;
  /** Longest wait between reconnection attempts, ms. Default 5000. */
  maxReconnectDelayMs?: number;
}

const CHANNEL = /^[a-z_][a-z0-9_]{0,62}$/;

export class PgChangeBus implements ChangeBus {
  /** Identifies this node's notifications in the payload. */
  readonly nodeTag = randomBytes(8).toString('hex');
  readonly channel: string;
  private readonly listeners = new Map<string, Set<ChangeListener>>();
  private readonly onError: (err: unknown) => void;
  private readonly maxDelay: number;
  private client: pg.Client | null = null;
  private closed = false;
  private reconnectTimer: NodeJS.Timeout | null = null;
  private reconnectDelay = 50;

  private constructor(
    private readonly config: pg.ClientConfig,
    options: PgChangeBusOptions,
  ) {
    this.channel = options.channel ?? DEFAULT_CHANGE_CHANNEL;
    if (!CHANNEL.test(this.channel)) throw new Error(`Invalid NOTIFY channel name ${JSON.stringify(this.channel)}`);
    this.onError = options.onError ?? (() => {});
    this.maxDelay = options.maxReconnectDelayMs ?? 5000;
  }

  /** Connects and LISTENs before resolving, so no commit after this is missed. */
  static async open(config: string | pg.ClientConfig, options: PgChangeBusOptions = {}): Promise<PgChangeBus> {
    const bus = new PgChangeBus(typeof config === 'string' ? { connectionString: config } : config, options);
    await bus.connect();
    return bus;
  }

  /** SQL and parameters that queue the events' notifications inside the caller's transaction. */
  notifyStatement(events: readonly ChangeEvent[]): { text: string; values: unknown[] } {
    return {
      text: 'SELECT pg_notify($1, p) FROM unnest($2::text[]) AS p',
      values: [this.channel, events.map((e) => this.payload(e))],
    };
  }

  /** Delivers to this node's listeners only (after a commit whose notifications went out in the transaction). */
  publishLocal(event: ChangeEvent): void {
    if (this.closed) return;
    this.dispatch(`m:${event.mailboxId}`, event);
    this.dispatch(`u:${event.userId}`, event);
  }

  /** ChangeBus.publish for writers outside a store transaction: local delivery plus a NOTIFY for the others. */
  publish(event: ChangeEvent): void {
    if (this.closed) return;
    this.publishLocal(event);
    const c = this.client;
    if (c) c.query('SELECT pg_notify($1, $2)', [this.channel, this.payload(event)]).catch((err: unknown) => this.onError(err));
  }

  watchMailbox(mailboxId: number, listener: ChangeListener): () => void {
    return this.watch(`m:${mailboxId}`, listener);
  }

  watchUser(userId: number, listener: ChangeListener): () => void {
    return this.watch(`u:${userId}`, listener);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.listeners.clear();
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    const c = this.client;
    this.client = null;
    if (c) c.end().catch(() => {});
  }

  /** True while the listening connection is up (for health checks and tests). */
  get connected(): boolean {
    return this.client !== null;
  }

  // ------------------------------------------------------------------ internals

  private payload(e: ChangeEvent): string {
    return `${this.nodeTag} ${e.mailboxId} ${e.userId} ${e.modSeq}`;
  }

  private async connect(): Promise<void> {
    const client = new pg.Client(this.config);
    client.on('error', (err) => {
      this.onError(err);
      this.lost(client);
    });
    client.on('end', () => this.lost(client));
    client.on('notification', (n) => this.received(n.channel, n.payload));
    await client.connect();
    try {
      await client.query(`LISTEN ${this.channel}`);
    } catch (err) {
      client.end().catch(() => {});
      throw err;
    }
    if (this.closed) {
      await client.end().catch(() => {});
      return;
    }
    this.client = client;
    this.reconnectDelay = 50;
  }

  private lost(client: pg.Client): void {
    if (this.client !== client) return;
    this.client = null;
    client.end().catch(() => {});
    this.scheduleReconnect();
  }

  private scheduleReconnect(): void {
    if (this.closed || this.reconnectTimer) return;
    const delay = this.reconnectDelay;
    this.reconnectDelay = Math.min(this.reconnectDelay * 2, this.maxDelay);
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = null;
      this.connect().then(
        () => this.resyncAll(),
        (err: unknown) => {
          this.onError(err);
          this.scheduleReconnect();
        },
      );
    }, delay);
    this.reconnectTimer.unref();
  }

  /** After a gap in listening: every watcher re-reads the change log once. */
  private resyncAll(): void {
    for (const key of [...this.listeners.keys()]) {
      const id = Number(key.slice(2));
      const event: ChangeEvent = key.startsWith('m:') ? { mailboxId: id, userId: 0, modSeq: 0 } : { mailboxId: 0, userId: id, modSeq: 0 };
      this.dispatch(key, event);
    }
  }

  private received(channel: string, payload: string | undefined): void {
    if (channel !== this.channel || payload === undefined || this.closed) return;
    const parts = payload.split(' ');
    if (parts.length !== 4 || parts[0] === this.nodeTag) return;
    const event: ChangeEvent = { mailboxId: Number(parts[1]), userId: Number(parts[2]), modSeq: Number(parts[3]) };
    if (!Number.isSafeInteger(event.mailboxId) || !Number.isSafeInteger(event.userId) || !Number.isSafeInteger(event.modSeq)) return;
    this.publishLocal(event);
  }

  private dispatch(key: string, event: ChangeEvent): void {
    const set = this.listeners.get(key);
    if (!set) return;
    for (const listener of [...set]) {
      try {
        listener(event);
      } catch (err) {
        this.onError(err);
      }
    }
  }

  private watch(key: string, listener: ChangeListener): () => void {
    let set = this.listeners.get(key);
    if (!set) {
      set = new Set();
      this.listeners.set(key, set);
    }
    // A wrapper, so the same function registered twice gets two deliveries (as with the EventEmitter bus).
    const wrapped: ChangeListener = (e) => listener(e);
    set.add(wrapped);
    let active = true;
    return () => {
      if (!active) return;
      active = false;
      const s = this.listeners.get(key);
      if (!s) return;
      s.delete(wrapped);
      if (s.size === 0) this.listeners.delete(key);
    };
  }
}
