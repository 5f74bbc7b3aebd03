// The poke half of ARCHITECTURE decision 2 ("one durable change log, plus a poke"): after a write
// transaction commits, the store publishes a ChangeEvent here; listeners then ask the store for
// changesSince(). The bus carries no data that is not also in the durable log, so a lost or
// coalesced poke costs latency, never correctness. This in-process bus can be replaced by a
// PostgreSQL LISTEN/NOTIFY bus implementing the same interface.
// Serves RFC 2177 (IDLE) and RFC 9051 §7 unilateral updates via the server.
import { EventEmitter } from 'node:events';
import type { ChangeEvent } from './types.js';

export type ChangeListener = (event: ChangeEvent) => void;

export interface ChangeBus {
  /** Delivers the event to the mailbox's and the user's listeners. Call only after the commit. */
  publish(event: ChangeEvent): void;
  watchMailbox(mailboxId: number, listener: ChangeListener): () => void;
  watchUser(userId: number, listener: ChangeListener): () => void;
  close(): void;
}

/** Single-process bus on an EventEmitter. A throwing listener never stops the others. */
export class LocalChangeBus implements ChangeBus {
  private readonly emitter = new EventEmitter();
  private closed = false;

  constructor(private readonly onListenerError: (err: unknown) => void = () => {}) {
    this.emitter.setMaxListeners(0);
  }

  publish(event: ChangeEvent): void {
    if (this.closed) return;
    this.emitter.emit(`m:${event.mailboxId}`, event);
    this.emitter.emit(`u:${event.userId}`, event);
  }

  watchMailbox(mailboxId: number, listener: ChangeListener): () => void {
    return this.watch(`m:${mailboxId}`, listener);
  }

  watchUser(userId: number, listener: ChangeListener): () => void {
    return this.watch(`u:${userId}`, listener);
  }

  close(): void {
    this.closed = true;
    this.emitter.removeAllListeners();
  }

  private watch(key: string, listener: ChangeListener): () => void {
    const wrapped = (event: ChangeEvent): void => {
      try {
        listener(event);
      } catch (err) {
        this.onListenerError(err);
      }
    };
    this.emitter.on(key, wrapped);
    let active = true;
    return () => {
      if (!active) return;
      active = false;
      this.emitter.off(key, wrapped);
    };
  }
}
