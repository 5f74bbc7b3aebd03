// One client connection: reads bytes into the command framer, runs commands one at a time, writes
// responses with socket backpressure, announces mailbox changes, and enforces timeouts.
// RFC 9051 §2.2 (client/server exchange), §5.4 (autologout), §5.5 (command ordering), §7.1.5 (BYE),
// RFC 7888 (literals), RFC 2177 (IDLE), RFC 9051 §6.2.1 (STARTTLS: no buffered plaintext survives).
import type { Socket } from 'node:net';
import { TLSSocket, type SecureContext } from 'node:tls';
import { CommandFramer, type FramerEvent } from '../protocol/command-framer.js';
import { encodeResponse, encodeResponses, statusLine, continuation as continuationLine } from '../protocol/encoder.js';
import { LIMITS } from '../protocol/limits.js';
import { Atom, StreamData, SYSTEM_FLAGS } from '../protocol/types.js';
import type { LiteralInfo, LiteralSink, ParsedCommand, ResponseCode, ResponseValue, Status } from '../protocol/types.js';
import type { IngestWriter, PreparedMessage } from '../store/types.js';
import { StoreError } from '../store/types.js';
import { ArgReader } from './args.js';
import { errorToResult, type TaggedResult } from './errors.js';
import type { ServerContext } from './server-context.js';
import { isRev2, sessionUtf8, type CommandContext, type CommandSpec, type Session, type SessionState } from './session.js';
import { capabilityList } from './capabilities.js';
import type { SelectedView } from './selected-view.js';

/** Streams an APPEND literal into the store's ingest writer as it arrives (ARCHITECTURE.md decision 5). */
export class IngestSink implements LiteralSink {
  private chain: Promise<void> = Promise.resolve();
  private failed: Error | null = null;
  private queued = 0;
  private result: Promise<PreparedMessage> | null = null;

  constructor(
    private readonly writer: IngestWriter,
    private readonly onPressure: (high: boolean) => void,
  ) {}

  write(chunk: Buffer): void {
    if (this.failed) return;
    this.queued += chunk.length;
    if (this.queued > LIMITS.maxOutputBuffer) this.onPressure(true);
    this.chain = this.chain.then(async () => {
      if (this.failed) return;
      try {
        await this.writer.write(chunk);
      } catch (err) {
        this.failed = err as Error;
      } finally {
        this.queued -= chunk.length;
        if (this.queued <= LIMITS.maxOutputBuffer / 2) this.onPressure(false);
      }
    });
  }

  end(): void {
    this.result = this.chain.then(() => {
      if (this.failed) throw this.failed;
      return this.writer.finish();
    });
    this.result.catch(() => undefined);
  }

  abort(_reason: string): void {
    this.failed = this.failed ?? new Error('aborted');
    this.chain = this.chain.then(() => this.writer.abort()).catch(() => undefined);
  }

  /** The prepared message; rejects if writing failed. */
  prepared(): Promise<PreparedMessage> {
    if (!this.result) return Promise.reject(new Error('literal not complete'));
    return this.result;
  }

  /** Drops the blob if the command does not use it. */
  async discard(): Promise<void> {
    try {
      await this.prepared();
    } catch {
      /* already gone */
    }
  }
}

export interface ConnectionOptions {
  socket: Socket;
  server: ServerContext;
  registry: Map<string, CommandSpec>;
  secureContext: SecureContext | null;
  implicitTls: boolean;
  onClose: () => void;
}

const OUTPUT_BATCH_BYTES = 64 * 1024;

export class Connection {
  private socket: Socket;
  private framer: CommandFramer;
  private readonly events: FramerEvent[] = [];
  private wake: (() => void) | null = null;
  private closed = false;
  /** Aborted by close(): commands pass it to long work done on the client's behalf. */
  private readonly abort = new AbortController();
  private readPaused = false;
  private ingestPressure = false;
  private idleTimer: NodeJS.Timeout | null = null;
  private readonly connectedAt = Date.now();
  private inIdle = false;
  private mailboxDirty = false;
  private unwatch: (() => void) | null = null;
  private afterResponse: (() => Promise<void>) | null = null;
  private out: Buffer[] = [];
  private outBytes = 0;
  private flushScheduled = false;
  readonly session: Session;

  constructor(private readonly opts: ConnectionOptions) {
    this.socket = opts.socket;
    const remote = opts.socket.remoteAddress ?? '';
    this.session = {
      state: { kind: 'not-authenticated' },
      enabled: new Set(),
      secure: opts.implicitTls,
      ...(opts.socket instanceof TLSSocket ? { tlsSocket: opts.socket } : {}),
      remoteAddress: remote,
      isLoopback: isLoopback(remote),
      searchResult: [],
      clientId: null,
    };
    this.framer = this.makeFramer();
  }

  private makeFramer(): CommandFramer {
    return new CommandFramer({
      maxLiteralSize: this.opts.server.settings.maxMessageSize,
      openLiteralSink: (info) => this.openSink(info),
    });
  }

  private openSink(info: LiteralInfo): LiteralSink | undefined {
    if (info.name !== 'APPEND') return undefined;
    if (this.session.state.kind === 'not-authenticated' || this.session.state.kind === 'logout') return undefined;
    return new IngestSink(this.opts.server.store.beginIngest(), (high) => {
      this.ingestPressure = high;
      this.updateReadPause();
    });
  }

  start(): void {
    const s = this.socket;
    s.setNoDelay(true);
    this.attach(s);
    void this.run();
  }

  private attach(s: Socket): void {
    s.on('data', (chunk: Buffer) => this.onData(chunk));
    s.on('error', () => this.close());
    s.on('close', () => this.close());
    s.on('end', () => this.close());
  }

  private onData(chunk: Buffer): void {
    this.resetTimer();
    let evs: FramerEvent[];
    try {
      evs = this.framer.push(chunk);
    } catch (err) {
      this.opts.server.log.error({ err }, 'framer failure');
      void this.fatal('Internal error in command parser');
      return;
    }
    this.enqueue(evs);
  }

  private enqueue(evs: FramerEvent[]): void {
    this.updateReadPause();
    if (evs.length === 0) return;
    this.events.push(...evs);
    this.updateReadPause();
    const w = this.wake;
    this.wake = null;
    w?.();
  }

  private updateReadPause(): void {
    // Stop reading while commands queue up, an APPEND's disk writes lag behind, or the framer holds
    // unread bytes (after IDLE/AUTHENTICATE) — so a flooding client cannot grow our memory.
    const shouldPause =
      this.events.length > 64 || this.ingestPressure || this.framer.bufferedBytes > LIMITS.maxLineLength * 2;
    if (shouldPause && !this.readPaused) {
      this.readPaused = true;
      this.socket.pause();
    } else if (!shouldPause && this.readPaused) {
      this.readPaused = false;
      this.socket.resume();
    }
  }

  private nextEvent(): Promise<FramerEvent | null> {
    if (this.events.length > 0) {
      const ev = this.events.shift()!;
      this.updateReadPause();
      return Promise.resolve(ev);
    }
    if (this.closed) return Promise.resolve(null);
    return new Promise((resolve) => {
      this.wake = () => resolve(this.closed ? null : this.events.shift() ?? null);
    });
  }

  private resetTimer(): void {
    if (this.idleTimer) clearTimeout(this.idleTimer);
    if (this.closed) return;
    const st = this.session.state.kind;
    // The pre-auth limit counts from the connection's start, so trickling bytes (slowloris) cannot extend it.
    const ms =
      st === 'not-authenticated'
        ? Math.max(0, this.connectedAt + this.opts.server.settings.preAuthTimeoutMs - Date.now())
        : this.inIdle
          ? LIMITS.idleCommandTimeoutMs
          : this.opts.server.settings.idleTimeoutMs;
    this.idleTimer = setTimeout(() => void this.fatal('Autologout; idle for too long'), ms);
    this.idleTimer.unref();
  }

  private async run(): Promise<void> {
    try {
      const caps = capabilityList(this.session, this.opts.server.settings).join(' ');
      await this.write([statusLine('*', 'OK', { name: 'CAPABILITY', args: caps }, 'Petrel ready.')]);
      this.resetTimer();
      for (;;) {
        const ev = await this.nextEvent();
        if (!ev || this.closed) break;
        await this.handleEvent(ev);
        if (this.session.state.kind === 'logout') break;
      }
    } catch (err) {
      if (!this.closed) this.opts.server.log.error({ err }, 'connection failure');
    } finally {
      this.close();
    }
  }

  private async handleEvent(ev: FramerEvent): Promise<void> {
    switch (ev.kind) {
      case 'continue':
        await this.write([continuationLine('Ready for literal data')]);
        return;
      case 'error': {
        const tag = ev.tag ?? '*';
        const status: Status = ev.tag ? (ev.status ?? (ev.code === 'TOOBIG' ? 'NO' : 'BAD')) : 'BAD';
        const code: ResponseCode | null = ev.code ? { name: ev.code } : null;
        await this.write([statusLine(tag, status, code, ev.text)]);
        return;
      }
      case 'line':
        await this.write([statusLine('*', 'BAD', null, 'Unexpected line')]);
        return;
      case 'command':
        await this.execute(ev.command);
        return;
    }
  }

  private async execute(cmd: ParsedCommand): Promise<void> {
    const spec = this.opts.registry.get(cmd.name);
    let result: TaggedResult;
    const st = this.session.state.kind;
    let allowExpunge = true;
    try {
      if (!spec) {
        result = { status: 'BAD', code: null, text: `Unknown command ${cmd.name.slice(0, 40)}` };
      } else if (!spec.states.includes(st as never)) {
        result = { status: 'BAD', code: null, text: stateText(st, cmd.name) };
      } else {
        allowExpunge = !spec.flags?.usesSeqs;
        const reader = new ArgReader(cmd.args, sessionUtf8(this.session));
        const args = spec.parse(reader, this.session);
        await this.refreshFlags();
        const out = await spec.run(this.context(cmd), args);
        result =
          out === undefined
            ? { status: 'OK', code: null, text: `${cmd.name} completed` }
            : typeof out === 'string'
              ? { status: 'OK', code: null, text: out }
              : out;
      }
    } catch (err) {
      result = errorToResult(err, (e) => this.opts.server.log.error({ err: e, command: cmd.name }, 'command failed'));
    } finally {
      for (const a of cmd.args) if (a.type === 'stream') await (a.sink as IngestSink).discard?.();
    }
    if (this.closed) return;
    const stateNow = this.session.state.kind;
    if (stateNow === 'selected' && result.status !== 'BAD') {
      try {
        await this.flushUpdates(allowExpunge);
      } catch (err) {
        this.opts.server.log.error({ err }, 'update flush failed');
      }
    }
    if (stateNow === 'logout') {
      await this.write([statusLine('*', 'BYE', null, 'Logging out')]);
    }
    await this.write([statusLine(cmd.tag, result.status, result.code, result.text)]);
    // The framer holds after IDLE / AUTHENTICATE until told which mode comes next; a rejected or timed-out
    // one must not leave it holding or in raw-line mode (protocol/command-framer.ts, "Flow control").
    this.framer.setRawLineMode(false);
    this.enqueue(this.framer.resume(cmd));
    const after = this.afterResponse;
    this.afterResponse = null;
    if (after) await after();
    this.resetTimer();
  }

  private context(cmd: ParsedCommand): CommandContext {
    const conn = this;
    return {
      tag: cmd.tag,
      name: cmd.name,
      session: this.session,
      store: this.opts.server.store,
      server: this.opts.server,
      log: this.opts.server.log,
      untagged: (values) => this.write(encodeResponse([new Atom('*'), ...values], this.encodeOptions())),
      untaggedBatch: (list) => this.write(encodeResponses(list.map((values) => [new Atom('*'), ...values]), this.encodeOptions())),
      untaggedStatus: (status, code, text) => this.write([statusLine('*', status, code, text)]),
      continuation: (text) => this.write([continuationLine(text)]),
      readLine: () => this.readLine(),
      waitForChangeOrLine: (ms) => this.waitForChangeOrLine(ms),
      flushUpdates: (allowExpunge) => this.flushUpdates(allowExpunge),
      startTls: () => {
        conn.afterResponse = () => conn.upgradeTls();
        return Promise.resolve();
      },
      setState: (state) => this.setState(state),
      signal: this.abort.signal,
    };
  }

  private encodeOptions(): { utf8: boolean } {
    return { utf8: isRev2(this.session) || this.session.enabled.has('UTF8=ACCEPT') };
  }

  setState(state: SessionState): void {
    const prev = this.session.state;
    if (prev.kind === 'selected' && (state.kind !== 'selected' || state.view !== prev.view)) {
      this.unwatch?.();
      this.unwatch = null;
    }
    this.session.state = state;
    if (state.kind === 'selected' && (prev.kind !== 'selected' || prev.view !== state.view)) {
      this.mailboxDirty = false;
      this.unwatch = this.opts.server.store.watchMailbox(state.view.mailboxId, () => {
        this.mailboxDirty = true;
        const w = this.wake;
        if (this.inIdle && w) {
          this.wake = null;
          w();
        }
      });
    }
  }

  /** Reads one raw line (AUTHENTICATE responses, IDLE's DONE). */
  private async readLine(): Promise<Buffer | null> {
    this.framer.setRawLineMode(true);
    this.enqueue(this.framer.drain());
    try {
      for (;;) {
        const ev = await this.nextEvent();
        if (!ev) return null;
        if (ev.kind === 'line') return ev.line;
        if (ev.kind === 'error' && ev.tag === null) continue;
        // Anything else cannot happen in raw mode; treat as an empty line.
        return Buffer.alloc(0);
      }
    } finally {
      this.framer.setRawLineMode(false);
      this.enqueue(this.framer.drain());
    }
  }

  private async waitForChangeOrLine(ms: number): Promise<'change' | 'line' | 'timeout' | 'closed'> {
    this.inIdle = true;
    this.framer.setRawLineMode(true);
    this.enqueue(this.framer.drain());
    this.resetTimer();
    try {
      if (this.closed) return 'closed';
      if (this.events.length > 0) return 'line';
      if (this.mailboxDirty) return 'change';
      return await new Promise((resolve) => {
        const timer = setTimeout(() => {
          this.wake = null;
          resolve('timeout');
        }, ms);
        this.wake = () => {
          clearTimeout(timer);
          if (this.closed) resolve('closed');
          else if (this.events.length > 0) resolve('line');
          else resolve('change');
        };
      });
    } finally {
      this.inIdle = false;
    }
  }

  /** Ends raw-line mode after IDLE's DONE and lets pipelined commands through. */
  endRawMode(): void {
    this.framer.setRawLineMode(false);
    this.enqueue(this.framer.drain());
  }

  /** Brings the selected view's flags up to date before a command reads them (see absorbFlagChanges). */
  private async refreshFlags(): Promise<void> {
    const st = this.session.state;
    if (st.kind !== 'selected') return;
    try {
      st.view.absorbFlagChanges(await this.opts.server.store.changesSince(st.view.mailboxId, st.view.highestModSeq));
    } catch (err) {
      if (!(err instanceof StoreError && err.code === 'NONEXISTENT')) throw err;
    }
    // A keyword another session introduced is in FLAGS before this command's FETCHes can show it.
    const kw = st.view.takeKeywordChange();
    if (kw) await this.write(keywordResponses(st.view, kw));
  }

  async flushUpdates(allowExpunge: boolean): Promise<void> {
    const st = this.session.state;
    if (st.kind !== 'selected') return;
    const view = st.view;
    const store = this.opts.server.store;
    this.mailboxDirty = false;
    let changes;
    try {
      changes = await store.changesSince(view.mailboxId, view.highestModSeq);
    } catch (err) {
      if (err instanceof StoreError && err.code === 'NONEXISTENT') {
        // Another session deleted the selected mailbox: like Dovecot, end the session.
        await this.fatal('Selected mailbox was deleted, have to disconnect.');
        return;
      }
      throw err;
    }
    if (this.session.state !== st) return;
    view.absorb(changes);
    if (!view.hasPending(allowExpunge)) return;
    const recentFrom = view.hasPendingNew() && !view.readOnly ? await store.claimRecent(view.mailboxId) : null;
    const up = view.takeUpdates(allowExpunge, recentFrom);
    const rev2 = isRev2(this.session);
    const condstore = this.session.enabled.has('CONDSTORE') || this.session.enabled.has('QRESYNC');
    const out: Array<Buffer | StreamData> = [];
    // New keywords (on new messages or changed flags) are announced before EXISTS and FETCH show them.
    const kw = view.takeKeywordChange();
    if (kw) out.push(...keywordResponses(view, kw));
    if (this.session.enabled.has('QRESYNC') && up.vanished.length > 0) {
      out.push(...encodeResponse([new Atom('*'), new Atom('VANISHED'), new Atom(formatUidList(up.vanished))]));
    } else {
      for (const seq of up.expunged) out.push(...encodeResponse([new Atom('*'), seq, new Atom('EXPUNGE')]));
    }
    if (up.exists !== null) out.push(...encodeResponse([new Atom('*'), up.exists, new Atom('EXISTS')]));
    if (up.recent !== null && !rev2) out.push(...encodeResponse([new Atom('*'), up.recent, new Atom('RECENT')]));
    for (const fc of up.flagChanges) {
      // \Recent exists in IMAP4rev1 only (RFC 9051 Appendix E removed it), as in every other FETCH we send.
      const items: ResponseValue[] = [new Atom('UID'), fc.uid, new Atom('FLAGS'), flagAtoms(fc.flags, !rev2 && view.recent.has(fc.uid))];
      if (condstore) items.push(new Atom('MODSEQ'), [fc.modSeq]);
      out.push(...encodeResponse([new Atom('*'), fc.seq, new Atom('FETCH'), items]));
    }
    await this.write(out);
  }

  /** Writes chunks in order, waiting for the socket to drain (slow readers cannot grow our memory). */
  async write(chunks: Array<Buffer | StreamData>): Promise<void> {
    for (const c of chunks) {
      if (this.closed) return;
      if (c instanceof StreamData) {
        for await (const part of c.open()) {
          if (this.closed) return;
          await this.writeBuffer(part);
        }
      } else {
        await this.writeBuffer(c);
      }
    }
  }

  /**
   * Queues bytes for the socket. Small responses are gathered and sent in one write when the event loop
   * turns (a FETCH of 10,000 FLAGS was one syscall per line before) or when 64 KiB are pending; a full
   * socket makes the caller wait for 'drain', so a client that stops reading cannot grow our memory.
   */
  private writeBuffer(buf: Buffer): Promise<void> {
    if (this.closed) return Promise.resolve();
    this.out.push(buf);
    this.outBytes += buf.length;
    if (this.outBytes >= OUTPUT_BATCH_BYTES) return this.flushOutput();
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(() => {
        this.flushScheduled = false;
        void this.flushOutput();
      });
    }
    return Promise.resolve();
  }

  /** Hands everything queued to the socket; resolves when the socket can take more. */
  private flushOutput(): Promise<void> {
    if (this.out.length === 0 || this.socket.destroyed) return Promise.resolve();
    const data = this.out.length === 1 ? this.out[0]! : Buffer.concat(this.out, this.outBytes);
    this.out = [];
    this.outBytes = 0;
    if (this.socket.write(data)) return Promise.resolve();
    return new Promise((resolve) => {
      const done = (): void => {
        this.socket.off('drain', done);
        this.socket.off('close', done);
        resolve();
      };
      this.socket.on('drain', done);
      this.socket.on('close', done);
    });
  }

  private async upgradeTls(): Promise<void> {
    const ctx = this.opts.secureContext;
    if (!ctx) return;
    // The tagged OK must leave in the clear, before the handshake.
    await this.flushOutput();
    const raw = this.socket;
    raw.removeAllListeners('data');
    raw.removeAllListeners('end');
    raw.removeAllListeners('close');
    raw.removeAllListeners('error');
    // Bytes the client pipelined after STARTTLS were sent in the clear: drop them (RFC 9051 §6.2.1).
    this.framer = this.makeFramer();
    this.events.length = 0;
    const secure = new TLSSocket(raw, { isServer: true, secureContext: ctx });
    this.socket = secure;
    this.session.secure = true;
    this.session.tlsSocket = secure;
    this.attach(secure);
    if (this.readPaused) {
      this.readPaused = false;
    }
    raw.resume();
  }

  private async fatal(text: string): Promise<void> {
    if (this.closed) return;
    void this.flushOutput();
    try {
      this.socket.write(statusLine('*', 'BYE', null, text));
    } catch {
      /* ignore */
    }
    this.socket.end();
    setTimeout(() => this.socket.destroy(), 1000).unref();
    this.close();
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.abort.abort();
    if (this.idleTimer) clearTimeout(this.idleTimer);
    // Abort a half-received APPEND literal: its ingest writer holds an open temp file that GC never removes.
    this.framer.close();
    this.unwatch?.();
    this.unwatch = null;
    const w = this.wake;
    this.wake = null;
    w?.();
    if (!this.socket.destroyed) {
      void this.flushOutput();
      this.socket.end();
      setTimeout(() => this.socket.destroy(), 2000).unref();
    }
    this.opts.onClose();
  }
}

function stateText(st: string, name: string): string {
  switch (st) {
    case 'not-authenticated':
      return `${name} is not allowed before authentication`;
    case 'authenticated':
      return `${name} needs a selected mailbox`;
    default:
      return `${name} is not allowed in this state`;
  }
}

/**
 * `* FLAGS (...)` and, read-write, `* OK [PERMANENTFLAGS (... \*)]` for a keyword list that grew while the
 * mailbox is selected (RFC 9051 §7.3.5: "The update from the FLAGS response MUST be recorded by the client").
 */
export function keywordResponses(view: SelectedView, keywords: readonly string[]): Array<Buffer | StreamData> {
  const flagList = [...SYSTEM_FLAGS, ...keywords].map((f) => new Atom(f));
  const out: Array<Buffer | StreamData> = [...encodeResponse([new Atom('*'), new Atom('FLAGS'), flagList])];
  if (!view.readOnly) {
    out.push(statusLine('*', 'OK', { name: 'PERMANENTFLAGS', args: [[...flagList, new Atom('\\*')]] }, 'Flags permitted'));
  }
  return out;
}

/** Announces keywords the session's own command is about to show (STORE of a new keyword). */
export async function announceKeywords(ctx: CommandContext, view: SelectedView): Promise<void> {
  const kw = view.takeKeywordChange();
  if (!kw) return;
  const flagList = [...SYSTEM_FLAGS, ...kw].map((f) => new Atom(f));
  await ctx.untagged([new Atom('FLAGS'), flagList]);
  if (!view.readOnly) await ctx.untaggedStatus('OK', { name: 'PERMANENTFLAGS', args: [[...flagList, new Atom('\\*')]] }, 'Flags permitted');
}

export function flagAtoms(flags: readonly string[], recent: boolean): Atom[] {
  const out = flags.map((f) => new Atom(f));
  if (recent) out.push(new Atom('\\Recent'));
  return out;
}

export function formatUidList(uids: number[]): string {
  const parts: string[] = [];
  let i = 0;
  while (i < uids.length) {
    let j = i;
    while (j + 1 < uids.length && uids[j + 1] === uids[j]! + 1) j++;
    parts.push(i === j ? String(uids[i]) : `${uids[i]}:${uids[j]}`);
    i = j + 1;
  }
  return parts.join(',');
}

function isLoopback(addr: string): boolean {
  return addr === '::1' || addr.startsWith('127.') || addr.startsWith('::ffff:127.');
}
