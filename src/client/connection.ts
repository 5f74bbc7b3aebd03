// The client's protocol engine: tags, the command queue, pipelining, literals, continuation requests and
// routing of untagged responses. RFC 9051 §2.2 (commands and responses; tags), §2.2.2 (untagged data may
// arrive at any time), §5.5 (multiple commands in progress), §7.5 (continuation requests), §4.3 and
// RFC 7888 (synchronizing and non-synchronizing literals), §7.1.5 (BYE), §7.2.2 / §7.1 (CAPABILITY data
// and the CAPABILITY response code), RFC 5161 (ENABLED), RFC 7162 §3.2.10 (VANISHED).
//
// One writer sends commands in order; a command with a synchronizing literal (or an exchange such as
// AUTHENTICATE or IDLE) holds the writer until it is done with the continuation. Every sent command waits in
// `inflight` for its tagged completion. Untagged responses are offered to in-flight commands, oldest first
// (servers answer pipelined commands in order), then update the mailbox state and are emitted as events.
// A watchdog turns silence while a reply is due into an ImapConnectionError('timeout').
import { EventEmitter } from 'node:events';
import type { Duplex } from 'node:stream';
import { ResponseParser, type LiteralContext, type ParsedResponseCode, type ServerResponse } from '../protocol/response-parser.js';
import type { ImapArg, LiteralSink, Status } from '../protocol/types.js';
import { encodeCommand, describeCommand, type CommandArg, type Segment } from './command-encoder.js';
import { ImapBadError, ImapConnectionError, ImapError, ImapNoError, type ResponseCodeInfo } from './errors.js';
import { num } from './values.js';

/** An untagged response as offered to command handlers. */
export type Untagged =
  | {
      kind: 'data';
      /** Upper-cased keyword: 'EXISTS', 'FETCH', 'LIST', 'CAPABILITY', ... */
      keyword: string;
      /** The leading number of `* 3 EXISTS` / `* 3 FETCH (...)`. */
      number?: number;
      /** Values after the keyword. */
      args: ImapArg[];
    }
  | { kind: 'status'; status: Status; code: ParsedResponseCode | null; text: string };

export interface TaggedResult {
  code: ParsedResponseCode | null;
  text: string;
}

export interface LiteralOpenInfo {
  size: number;
  literal8: boolean;
  context: LiteralContext;
}

export interface ConversationContext {
  /** Waits for the next continuation request ("+ text"); rejects if the command completes first. */
  continuation(): Promise<string>;
  write(data: Buffer): Promise<void>;
  /** Resolves when the command has its tagged response. */
  readonly completed: Promise<unknown>;
  /** While true, silence from the server is expected (IDLE) and the watchdog does not run. */
  setQuiet(quiet: boolean): void;
}

export interface RunOptions {
  /** Return true when the response was consumed by this command (no event is emitted for it). */
  onUntagged?: (r: Untagged) => boolean;
  /** Offered literals of FETCH responses while this command runs (streamed body downloads). */
  onLiteral?: (info: LiteralOpenInfo) => LiteralSink | undefined;
  /** Runs after the command line is written, before the next command is sent (AUTHENTICATE, IDLE). */
  conversation?: (ctx: ConversationContext) => Promise<void>;
  /** Send nothing else until this command has completed (STARTTLS, authentication, LOGOUT). */
  barrier?: boolean;
  /** Called synchronously with the tagged response, before any later response is handled (state that
   *  pipelined commands depend on, such as the selected mailbox, must be in place by then). */
  onTagged?: (status: Status, code: ParsedResponseCode | null, text: string) => void;
}

export interface MailboxState {
  path: string;
  readOnly: boolean;
  exists: number;
  uidValidity: number;
  uidNext: number;
  highestModSeq?: number;
  flags: string[];
  permanentFlags: string[];
}

export interface ImapClientEvents {
  /** `* n EXISTS` outside SELECT: new messages. */
  exists: [{ count: number; previous: number }];
  /** `* n EXPUNGE`: message with sequence number n is gone; later numbers shift down. */
  expunge: [{ seq: number }];
  /** `* VANISHED uids` (QRESYNC): messages gone, by UID. */
  vanished: [{ uids: number[]; earlier: boolean }];
  /** A FETCH response no command asked for: flags (and MODSEQ) changed elsewhere. */
  fetch: [{ seq: number; uid?: number; flags?: string[]; modSeq?: number }];
  capability: [ReadonlySet<string>];
  /** `[ALERT]` texts, which RFC 9051 §7.1 says must be shown to the user. */
  alert: [string];
  bye: [string];
  /** The connection is gone; null after an orderly LOGOUT. */
  close: [ImapConnectionError | null];
  /** Something odd that did not stop the connection (an unparseable response, ...). */
  warning: [string];
}

interface Pending {
  tag: string;
  name: string;
  /** For error messages: the command with literals and secrets elided. */
  description: string;
  segments: Segment[];
  opts: RunOptions;
  done: boolean;
  quiet: boolean;
  handlerError: Error | null;
  resolve(r: TaggedResult): void;
  reject(e: Error): void;
  completed: Promise<TaggedResult>;
}

/** Thrown into a writer when its command completed (NO/BAD) before a continuation came. */
class CommandEnded extends Error {}

export interface ConnectionSettings {
  /** Silence (ms) while a reply is due before the connection is declared dead. */
  responseTimeoutMs: number;
  tagPrefix: string;
  /** Literals larger than this are refused unless a command streams them. */
  maxLiteralSize: number;
}

export class ClientConnection extends EventEmitter<ImapClientEvents> {
  /** Capabilities, upper-cased (RFC 9051 §7.2.2). Replaced whenever the server sends a new list. */
  capabilities: Set<string> = new Set();
  /** Extensions the server confirmed with ENABLED (RFC 5161), upper-cased. */
  readonly enabled: Set<string> = new Set();
  /** The selected mailbox, kept current by EXISTS/EXPUNGE/VANISHED and response codes. */
  mailbox: MailboxState | null = null;
  /** Set once the transport is closed. */
  closedError: ImapConnectionError | null = null;
  closed = false;

  protected stream: Duplex;
  private parser: ResponseParser;
  private readonly settings: ConnectionSettings;
  private tagCounter = 0;
  private readonly queue: Pending[] = [];
  private readonly inflight: Pending[] = [];
  private writing = false;
  private contWaiter: { cmd: Pending; resolve(text: string): void; reject(e: Error): void } | null = null;
  private greetingWaiter: { resolve(r: ServerResponse): void; reject(e: Error): void } | null = null;
  private earlyResponses: ServerResponse[] = [];
  private watchdog: NodeJS.Timeout | null = null;
  private pauseCount = 0;
  private byeText: string | null = null;
  private loggingOut = false;
  /** Called when a command is queued: lets IDLE end itself so the command can go out. */
  idleBreaker: (() => void) | null = null;
  private readonly onDataBound = (chunk: Buffer) => this.onData(chunk);
  private readonly onCloseBound = () => this.onTransportClosed(null);
  private readonly onErrorBound = (err: Error) => this.onTransportClosed(err);

  constructor(stream: Duplex, settings: ConnectionSettings) {
    super();
    this.settings = settings;
    this.stream = stream;
    this.parser = this.newParser();
    this.attach(stream);
  }

  private newParser(): ResponseParser {
    return new ResponseParser({
      maxLiteralSize: this.settings.maxLiteralSize,
      openLiteralSink: (size, literal8, context) => this.openLiteral({ size, literal8, context }),
    });
  }

  private attach(stream: Duplex): void {
    stream.on('data', this.onDataBound);
    stream.on('close', this.onCloseBound);
    stream.on('end', this.onCloseBound);
    stream.on('error', this.onErrorBound);
  }

  private detach(stream: Duplex): void {
    stream.off('data', this.onDataBound);
    stream.off('close', this.onCloseBound);
    stream.off('end', this.onCloseBound);
    stream.off('error', this.onErrorBound);
  }

  /**
   * Swaps the transport (STARTTLS, RFC 9051 §6.2.1): anything buffered from the old one is discarded, so
   * plaintext sent after the server's OK cannot be injected into the protected session.
   */
  async replaceTransport(make: (old: Duplex) => Promise<Duplex>): Promise<void> {
    const old = this.stream;
    this.detach(old);
    old.on('error', () => undefined);
    this.parser = this.newParser();
    this.earlyResponses = [];
    this.discarding = false;
    let next: Duplex;
    try {
      next = await make(old);
    } catch (err) {
      old.destroy();
      this.onTransportClosed(err as Error, 'tls');
      throw this.closedError ?? err;
    }
    this.stream = next;
    this.attach(next);
    if (this.pauseCount > 0) next.pause();
  }

  // ---- greeting -------------------------------------------------------------------------------------

  /** Waits for the server greeting (RFC 9051 §7.1: OK, PREAUTH or BYE). */
  waitGreeting(): Promise<ServerResponse> {
    const early = this.earlyResponses.shift();
    if (early) return Promise.resolve(early);
    if (this.closed) return Promise.reject(this.closedError!);
    return new Promise((resolve, reject) => {
      this.greetingWaiter = { resolve, reject };
      this.updateWatchdog();
    });
  }

  // ---- running commands -----------------------------------------------------------------------------

  /** Queues a command; resolves with its tagged OK, rejects with ImapNoError / ImapBadError / ImapConnectionError. */
  run(name: string, args: readonly CommandArg[], opts: RunOptions = {}): Promise<TaggedResult> {
    if (this.closed) return Promise.reject(this.closedError!);
    const tag = `${this.settings.tagPrefix}${++this.tagCounter}`;
    let segments: Segment[];
    try {
      segments = encodeCommand(tag, name, args, {
        literalPlus: this.capabilities.has('LITERAL+'),
        literalMinus: this.capabilities.has('LITERAL-'),
        utf8: this.utf8,
      });
    } catch (err) {
      return Promise.reject(err);
    }
    let resolve!: (r: TaggedResult) => void;
    let reject!: (e: Error) => void;
    const completed = new Promise<TaggedResult>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    const cmd: Pending = { tag, name, description: describeCommand(name, args), segments, opts, done: false, quiet: false, handlerError: null, resolve, reject, completed };
    this.queue.push(cmd);
    if (this.idleBreaker) this.idleBreaker();
    void this.pump();
    return completed;
  }

  /** UTF-8 in quoted strings and mailbox names (RFC 6855 §3, RFC 9051 §5.1). */
  get utf8(): boolean {
    if (this.enabled.has('UTF8=ACCEPT') || this.enabled.has('IMAP4REV2')) return true;
    return this.capabilities.has('IMAP4REV2') && !this.capabilities.has('IMAP4REV1') && this.capabilities.size > 0;
  }

  /** Commands queued but not yet sent. */
  get queuedCount(): number {
    return this.queue.length;
  }

  /** Commands queued or waiting for their tagged response. */
  /** The current transport: a TLSSocket once TLS is on (SASL channel binding reads it, RFC 5929, RFC 9266). */
  get transport(): Duplex {
    return this.stream;
  }

  get pendingCount(): number {
    return this.queue.length + this.inflight.length;
  }

  private async pump(): Promise<void> {
    if (this.writing) return;
    this.writing = true;
    try {
      while (this.queue.length > 0 && !this.closed) {
        const cmd = this.queue.shift()!;
        this.inflight.push(cmd);
        this.updateWatchdog();
        try {
          await this.writeCommand(cmd);
        } catch (err) {
          if (!(err instanceof CommandEnded)) {
            const e =
              err instanceof ImapConnectionError
                ? err
                : new ImapConnectionError('closed', `Writing ${cmd.name} failed: ${(err as Error).message}`, { cause: err });
            this.fail(e);
            return;
          }
        }
        if (cmd.opts.barrier) await cmd.completed.catch(() => undefined);
      }
    } finally {
      this.writing = false;
    }
  }

  private async writeCommand(cmd: Pending): Promise<void> {
    for (const seg of cmd.segments) {
      if (cmd.done) throw new CommandEnded();
      if (seg.kind === 'bytes') await this.write(seg.data);
      else if (seg.kind === 'sync') await this.continuation(cmd);
      else await this.writeStream(seg.size, seg.source);
    }
    if (cmd.opts.conversation) {
      const ctx: ConversationContext = {
        continuation: () => this.continuation(cmd),
        write: (data) => this.write(data),
        completed: cmd.completed.catch(() => undefined),
        setQuiet: (q) => {
          cmd.quiet = q;
          this.updateWatchdog();
        },
      };
      try {
        await cmd.opts.conversation(ctx);
      } catch (err) {
        if (err instanceof CommandEnded || cmd.done) return;
        throw err;
      } finally {
        cmd.quiet = false;
        this.updateWatchdog();
      }
    }
  }

  private async writeStream(size: number, source: AsyncIterable<Buffer | Uint8Array | string>): Promise<void> {
    let sent = 0;
    for await (const chunk of source) {
      const b = typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk);
      if (sent + b.length > size) throw new ImapError(`Literal source gave more than the announced ${size} bytes`);
      sent += b.length;
      await this.write(b);
    }
    // The server counts octets: a short source would swallow the next command. Nothing can repair that.
    if (sent !== size) throw new ImapError(`Literal source gave ${sent} bytes, ${size} announced`);
  }

  private continuation(cmd: Pending): Promise<string> {
    if (cmd.done) return Promise.reject(new CommandEnded());
    return new Promise((resolve, reject) => {
      this.contWaiter = { cmd, resolve, reject };
    });
  }

  /** Writes with backpressure; progress counts as liveness (a slow upload is not a dead server). */
  private write(data: Buffer): Promise<void> {
    if (this.closed) return Promise.reject(this.closedError!);
    return new Promise((resolve, reject) => {
      const ok = this.stream.write(data, (err) => {
        if (err) reject(new ImapConnectionError('closed', `Write failed: ${err.message}`, { cause: err }));
      });
      this.watchdog?.refresh();
      if (ok) {
        resolve();
        return;
      }
      const s = this.stream;
      const cleanup = () => {
        s.off('drain', onDrain);
        this.off('close', onClose);
      };
      const onDrain = () => {
        cleanup();
        this.watchdog?.refresh();
        resolve();
      };
      const onClose = () => {
        cleanup();
        reject(this.closedError ?? new ImapConnectionError('closed', 'Connection closed'));
      };
      s.on('drain', onDrain);
      this.on('close', onClose);
    });
  }

  // ---- reading --------------------------------------------------------------------------------------

  /** Stop reading from the server (a consumer is behind); counted, so pauses nest. */
  pauseReading(): void {
    if (this.pauseCount++ === 0) {
      this.stream.pause();
      this.updateWatchdog();
    }
  }

  resumeReading(): void {
    if (this.pauseCount === 0) return;
    if (--this.pauseCount === 0) {
      this.stream.resume();
      this.updateWatchdog();
    }
  }

  /**
   * Drops everything received after the current response, until replaceTransport(): after the OK to
   * STARTTLS, further clear-text bytes may be an attacker's injection (RFC 9051 §6.2.1, §11.1).
   */
  discardInput(): void {
    this.discarding = true;
  }

  private discarding = false;

  private onData(chunk: Buffer): void {
    if (this.discarding) return;
    this.watchdog?.refresh();
    let events;
    try {
      events = this.parser.push(chunk);
    } catch (err) {
      this.fail(new ImapConnectionError('protocol', `Response parsing failed: ${(err as Error).message}`, { cause: err }));
      return;
    }
    for (const ev of events) {
      if (this.closed || this.discarding) return;
      if (ev.kind === 'error') {
        this.warn(`Unparseable response: ${ev.text}`);
        const oldest = this.inflight[0];
        if (oldest && !oldest.handlerError) oldest.handlerError = new ImapError(`Unparseable server response: ${ev.text}`);
        continue;
      }
      try {
        this.dispatch(ev.response);
      } catch (err) {
        this.fail(new ImapConnectionError('protocol', `Handling a response failed: ${(err as Error).message}`, { cause: err }));
        return;
      }
    }
  }

  private warn(text: string): void {
    this.emit('warning', text);
  }

  private dispatch(r: ServerResponse): void {
    if (!this.greetingSeen) {
      this.greetingSeen = true;
      if (r.kind === 'status' && r.code) this.applyCode(r.code);
      const w = this.greetingWaiter;
      this.greetingWaiter = null;
      this.updateWatchdog();
      if (w) w.resolve(r);
      else this.earlyResponses.push(r);
      return;
    }
    if (r.kind === 'continuation') {
      const w = this.contWaiter;
      if (!w) {
        this.fail(new ImapConnectionError('protocol', `Unexpected continuation request: ${r.text}`));
        return;
      }
      this.contWaiter = null;
      w.resolve(r.text);
      return;
    }
    if (r.kind === 'status' && r.tag !== null) {
      this.completeTagged(r.tag, r.status, r.code, r.text);
      return;
    }
    if (r.kind === 'status') {
      if (r.code) this.applyCode(r.code);
      if (r.code?.name === 'ALERT') this.emit('alert', r.text);
      if (r.status === 'BYE') {
        this.byeText = r.text;
        this.emit('bye', r.text);
        return;
      }
      this.offer({ kind: 'status', status: r.status, code: r.code, text: r.text });
      return;
    }
    // Untagged data: `* n KEYWORD ...` or `* KEYWORD ...`.
    const v = r.values;
    let u: Untagged;
    const first = num(v[0]);
    if (first !== undefined && v[1]?.type === 'atom') u = { kind: 'data', keyword: v[1].value.toUpperCase(), number: first, args: v.slice(2) };
    else if (v[0]?.type === 'atom') u = { kind: 'data', keyword: v[0].value.toUpperCase(), args: v.slice(1) };
    else {
      this.warn('Untagged response without a keyword');
      return;
    }
    if (u.keyword === 'CAPABILITY') this.setCapabilities(u.args);
    if (u.keyword === 'ENABLED') for (const a of u.args) if (a.type === 'atom') this.enabled.add(a.value.toUpperCase());
    const consumed = this.offer(u);
    if (!consumed) this.unsolicited(u);
  }

  /** The first response (the greeting, RFC 9051 §7.1) has arrived. */
  private greetingSeen = false;

  private offer(u: Untagged): boolean {
    for (const cmd of this.inflight) {
      const h = cmd.opts.onUntagged;
      if (!h || cmd.done) continue;
      try {
        if (h(u)) return true;
      } catch (err) {
        if (!cmd.handlerError) cmd.handlerError = err as Error;
        return true;
      }
    }
    return false;
  }

  /** Mailbox-state updates and events for data no command consumed (RFC 9051 §7.4, §7.5.1, §7.5.2). */
  private unsolicited(u: Untagged): void {
    if (u.kind !== 'data') return;
    const m = this.mailbox;
    switch (u.keyword) {
      case 'EXISTS': {
        const count = u.number ?? 0;
        const previous = m?.exists ?? 0;
        if (m) m.exists = count;
        this.emit('exists', { count, previous });
        break;
      }
      case 'EXPUNGE': {
        if (m && m.exists > 0) m.exists--;
        this.emit('expunge', { seq: u.number ?? 0 });
        break;
      }
      case 'VANISHED': {
        const { uids, earlier } = parseVanished(u.args);
        if (m && !earlier) m.exists = Math.max(0, m.exists - uids.length);
        this.emit('vanished', { uids, earlier });
        break;
      }
      case 'FETCH': {
        const items = u.args[0]?.type === 'list' ? u.args[0].items : [];
        const ev: { seq: number; uid?: number; flags?: string[]; modSeq?: number } = { seq: u.number ?? 0 };
        for (let i = 0; i + 1 < items.length; i += 2) {
          const k = items[i]!.type === 'atom' ? (items[i] as { value: string }).value.toUpperCase() : '';
          const val = items[i + 1]!;
          if (k === 'UID') {
            const n = num(val);
            if (n !== undefined) ev.uid = n;
          } else if (k === 'FLAGS' && val.type === 'list') {
            ev.flags = val.items.flatMap((f) => (f.type === 'atom' ? [f.value] : []));
          } else if (k === 'MODSEQ' && val.type === 'list') {
            const n = num(val.items[0]);
            if (n !== undefined) ev.modSeq = n;
          }
        }
        this.emit('fetch', ev);
        break;
      }
      case 'FLAGS':
        if (m) m.flags = u.args[0]?.type === 'list' ? u.args[0].items.flatMap((f) => (f.type === 'atom' ? [f.value] : [])) : m.flags;
        break;
      default:
        break;
    }
  }

  private applyCode(code: ParsedResponseCode): void {
    const m = this.mailbox;
    switch (code.name) {
      case 'CAPABILITY':
        this.setCapabilities(code.args);
        break;
      case 'HIGHESTMODSEQ': {
        const n = num(code.args[0]);
        if (m && n !== undefined) m.highestModSeq = n;
        break;
      }
      case 'UIDNEXT': {
        const n = num(code.args[0]);
        if (m && n !== undefined && n > m.uidNext) m.uidNext = n;
        break;
      }
      default:
        break;
    }
  }

  /** Capability list from `* CAPABILITY` data or a `[CAPABILITY ...]` code. */
  private setCapabilities(args: ImapArg[]): void {
    const caps = new Set<string>();
    for (const a of args) if (a.type === 'atom') caps.add(a.value.toUpperCase());
    this.capabilities = caps;
    this.emit('capability', caps);
  }

  private completeTagged(tag: string, status: Status, code: ParsedResponseCode | null, text: string): void {
    const idx = this.inflight.findIndex((c) => c.tag === tag);
    if (idx < 0) {
      this.warn(`Tagged response for unknown tag ${tag}`);
      return;
    }
    const cmd = this.inflight[idx]!;
    this.inflight.splice(idx, 1);
    cmd.done = true;
    if (code) this.applyCode(code);
    if (code?.name === 'ALERT') this.emit('alert', text);
    if (this.contWaiter?.cmd === cmd) {
      const w = this.contWaiter;
      this.contWaiter = null;
      w.reject(new CommandEnded());
    }
    this.updateWatchdog();
    if (cmd.opts.onTagged) {
      try {
        cmd.opts.onTagged(status, code, text);
      } catch (err) {
        cmd.handlerError ??= err as Error;
      }
    }
    const info: ResponseCodeInfo | undefined = code ? { name: code.name, args: code.args, raw: code.raw } : undefined;
    if (status === 'OK') {
      if (cmd.handlerError) cmd.reject(cmd.handlerError);
      else cmd.resolve({ code, text });
    } else if (status === 'NO') cmd.reject(new ImapNoError(cmd.name, info, text));
    else cmd.reject(new ImapBadError(cmd.name, info, text));
  }

  private openLiteral(info: LiteralOpenInfo): LiteralSink | undefined {
    for (const cmd of this.inflight) {
      if (cmd.done || !cmd.opts.onLiteral) continue;
      const sink = cmd.opts.onLiteral(info);
      if (sink) return sink;
    }
    return undefined;
  }

  // ---- liveness -------------------------------------------------------------------------------------

  private updateWatchdog(): void {
    const due = !this.closed && this.pauseCount === 0 && (this.inflight.some((c) => !c.quiet) || this.greetingWaiter !== null);
    if (due && !this.watchdog) {
      this.watchdog = setTimeout(() => this.onWatchdog(), this.settings.responseTimeoutMs);
    } else if (!due && this.watchdog) {
      clearTimeout(this.watchdog);
      this.watchdog = null;
    }
  }

  private onWatchdog(): void {
    this.watchdog = null;
    const what = this.inflight[0]?.description ?? 'greeting';
    this.fail(new ImapConnectionError('timeout', `No response from the server for ${this.settings.responseTimeoutMs} ms (waiting for ${what})`));
  }

  // ---- closing --------------------------------------------------------------------------------------

  /** Marks that the next close is expected (LOGOUT). */
  expectClose(): void {
    this.loggingOut = true;
  }

  /** Tears the connection down with `err`: every queued and in-flight command rejects with it. */
  fail(err: ImapConnectionError): void {
    if (this.closed) return;
    this.finish(err);
    this.stream.destroy();
  }

  /** Closes the transport without an error (after LOGOUT). */
  destroy(): void {
    if (!this.closed) this.finish(null);
    this.stream.destroy();
  }

  private onTransportClosed(err: Error | null, reason?: 'tls'): void {
    if (this.closed) return;
    let e: ImapConnectionError | null;
    if (this.loggingOut) e = null;
    else if (reason === 'tls') e = new ImapConnectionError('tls', `TLS failed: ${err?.message ?? 'closed'}`, { cause: err });
    else if (this.byeText !== null && !this.loggingOut) e = new ImapConnectionError('bye', `Server closed the connection: ${this.byeText}`);
    else e = new ImapConnectionError('closed', err ? `Connection failed: ${err.message}` : 'Connection closed by the server', err ? { cause: err } : undefined);
    this.finish(e);
    this.stream.destroy();
  }

  private finish(err: ImapConnectionError | null): void {
    this.closed = true;
    const e = err ?? new ImapConnectionError('closed', 'Connection closed');
    this.closedError = e;
    if (this.watchdog) clearTimeout(this.watchdog);
    this.watchdog = null;
    if (this.greetingWaiter) {
      this.greetingWaiter.reject(e);
      this.greetingWaiter = null;
    }
    if (this.contWaiter) {
      this.contWaiter.reject(e);
      this.contWaiter = null;
    }
    for (const cmd of [...this.inflight, ...this.queue]) {
      cmd.done = true;
      cmd.reject(e);
    }
    this.inflight.length = 0;
    this.queue.length = 0;
    this.idleBreaker?.();
    this.emit('close', err);
  }
}

/** `VANISHED [(EARLIER)] uid-set` (RFC 7162 §3.2.10). */
export function parseVanished(args: readonly ImapArg[]): { uids: number[]; earlier: boolean } {
  let i = 0;
  let earlier = false;
  const first = args[0];
  if (first?.type === 'list') {
    earlier = first.items.some((a) => a.type === 'atom' && a.value.toUpperCase() === 'EARLIER');
    i = 1;
  }
  const set = args[i];
  const text = set?.type === 'atom' ? set.value : '';
  return { uids: expandUidSet(text), earlier };
}

/** `1:3,7,9:8` → [1,2,3,7,8,9] in the order given (ranges ascending), as COPYUID pairing needs. */
export function expandUidSet(text: string, limit = 10_000_000): number[] {
  const out: number[] = [];
  if (text === '') return out;
  for (const item of text.split(',')) {
    const [a, b] = item.split(':');
    const lo = Number(a);
    const hi = b === undefined ? lo : Number(b);
    if (!Number.isSafeInteger(lo) || !Number.isSafeInteger(hi)) throw new ImapError(`Bad UID set "${text.slice(0, 40)}"`);
    const [s, e] = lo <= hi ? [lo, hi] : [hi, lo];
    if (out.length + (e - s + 1) > limit) throw new ImapError('UID set too large');
    for (let n = s; n <= e; n++) out.push(n);
  }
  return out;
}
