// Session state (ARCHITECTURE.md decision 7: a discriminated union, so a state that cannot exist cannot
// be represented) and the context every command handler receives. RFC 9051 §3 (states).
import type { TLSSocket } from 'node:tls';
import type { ImapArg, ResponseCode, ResponseValue, Status } from '../protocol/types.js';
import type { Store, UserRecord } from '../store/types.js';
import type { ArgReader } from './args.js';
import type { TaggedResult } from './errors.js';
import type { SelectedView } from './selected-view.js';
import type { ServerContext } from './server-context.js';

export type SessionState =
  | { kind: 'not-authenticated' }
  | { kind: 'authenticated'; user: UserRecord }
  | { kind: 'selected'; user: UserRecord; view: SelectedView }
  | { kind: 'logout' };

export type StateKind = SessionState['kind'];

export interface Session {
  state: SessionState;
  /** Extensions turned on with ENABLE (upper-case names). */
  enabled: Set<string>;
  secure: boolean;
  /** The TLS socket once TLS is on (SCRAM-SHA-256-PLUS channel binding, src/auth/channel-binding.ts). */
  tlsSocket?: TLSSocket;
  remoteAddress: string;
  isLoopback: boolean;
  /** RFC 5182 SEARCHRES: uids saved by SEARCH RETURN (SAVE). */
  searchResult: number[];
  /** RFC 2971 ID parameters the client sent. */
  clientId: Record<string, string | null> | null;
}

export function sessionUtf8(s: Session): boolean {
  return s.enabled.has('IMAP4REV2') || s.enabled.has('UTF8=ACCEPT');
}

export function isRev2(s: Session): boolean {
  return s.enabled.has('IMAP4REV2');
}

/** What a command handler can do. Implemented by the connection. */
export interface CommandContext {
  readonly tag: string;
  readonly name: string;
  readonly session: Session;
  readonly store: Store;
  readonly server: ServerContext;
  /** Sends `* <values...>`. Resolves when the socket accepted it (backpressure). */
  untagged(values: ResponseValue[]): Promise<void>;
  /** Sends several `* <values...>` responses, in order, encoded and written together (FETCH's batches). */
  untaggedBatch(list: ResponseValue[][]): Promise<void>;
  /** Sends `* OK|NO|BAD [code] text`. */
  untaggedStatus(status: Status, code: ResponseCode | null, text: string): Promise<void>;
  /** Sends `+ text` and waits for the client's next line (AUTHENTICATE, IDLE). null if the connection closed. */
  continuation(text: string): Promise<void>;
  readLine(): Promise<Buffer | null>;
  /** Resolves the next time the selected mailbox changes (or after `ms`), or when a line arrives. */
  waitForChangeOrLine(ms: number): Promise<'change' | 'line' | 'timeout' | 'closed'>;
  /** Announces pending changes of the selected mailbox now (e.g. during IDLE). */
  flushUpdates(allowExpunge: boolean): Promise<void>;
  /** Upgrades the connection to TLS after the tagged OK was written. */
  startTls(): Promise<void>;
  /** Switches state, maintaining watchers for the selected mailbox. */
  setState(state: SessionState): void;
  log: ServerLoggerLike;
  /** Aborted when the connection closes (for long work done for the client, e.g. fetchMissing). */
  signal?: AbortSignal;
}

export interface ServerLoggerLike {
  debug(obj: unknown, msg?: string): void;
  info(obj: unknown, msg?: string): void;
  warn(obj: unknown, msg?: string): void;
  error(obj: unknown, msg?: string): void;
}

export interface CommandFlags {
  /** Uses sequence numbers: no EXPUNGE may be sent while it runs (RFC 9051 §7.5.1). */
  usesSeqs?: boolean;
  /** Changes sequence numbers (EXPUNGE, MOVE). */
  breaksSeqs?: boolean;
  /** Changes the selected mailbox (SELECT, CLOSE...). */
  breaksMailbox?: boolean;
}

/** One registry entry (ARCHITECTURE.md decision 6). */
export interface CommandSpec<A = unknown> {
  name: string;
  states: StateKind[];
  /** Capability that must be advertised for the command to exist. */
  capability?: string;
  flags?: CommandFlags;
  parse(r: ArgReader, session: Session): A;
  run(ctx: CommandContext, args: A): Promise<TaggedResult | string | void>;
}

export function defineCommand<A>(spec: CommandSpec<A>): CommandSpec<unknown> {
  return spec as CommandSpec<unknown>;
}

export type { ImapArg };
