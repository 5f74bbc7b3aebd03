// A minimal raw-socket IMAP client for the benchmark: tagged commands (RFC 9051 §2.2.1), pipelining,
// server literals `{n}` / `~{n}` in responses (RFC 9051 §4.3), synchronizing literals with continuation
// requests and non-synchronizing LITERAL+ (RFC 7888) in commands, and IDLE (RFC 2177). It is deliberately
// small and fast: response data is kept as text lines, literal bytes are counted and only kept on request,
// so measuring a server is not limited by the client.
import { connect } from 'node:net';
import type { Socket } from 'node:net';

export interface ImapResponse {
  /** The response line(s) with every literal replaced by `{n}`. */
  text: string;
  /** Literal contents, when the command asked to keep them. */
  literals: Buffer[];
  /** Total octets of literals in this response. */
  literalBytes: number;
}

export interface CommandResult {
  tag: string;
  status: 'OK' | 'NO' | 'BAD';
  /** Text of the tagged completion after the status. */
  text: string;
  /** Untagged responses received while this command was the oldest outstanding one. */
  untagged: ImapResponse[];
  /** Number of untagged responses (counted even when not kept). */
  untaggedCount: number;
  /** Octets of literal data received in those untagged responses. */
  literalBytes: number;
}

export interface CommandOptions {
  /** Keep untagged responses (default true). */
  keepUntagged?: boolean;
  /** Keep literal contents of untagged responses (default false: only counted). */
  keepLiterals?: boolean;
}

/** A command part: a string is sent as-is (atoms, quoted strings, spaces), a Buffer as a literal. */
export type CommandPart = string | Buffer;

interface Pending {
  tag: string;
  opts: Required<CommandOptions>;
  untagged: ImapResponse[];
  untaggedCount: number;
  literalBytes: number;
  resolve: (r: CommandResult) => void;
  reject: (e: Error) => void;
}

export class CommandFailed extends Error {
  constructor(readonly result: CommandResult) {
    super(`${result.tag} ${result.status} ${result.text}`);
  }
}

export class ImapDriver {
  readonly capabilities = new Set<string>();
  greeting = '';
  private tagCounter = 0;
  private pending: Pending[] = [];
  private continuationWaiters: Array<(line: string) => void> = [];
  private lineBuf: Buffer = Buffer.alloc(0);
  // Response being assembled (text so far, literals).
  private curText = '';
  private curLiterals: Buffer[] = [];
  private curLiteralBytes = 0;
  private literalRemaining = 0;
  private keepCurrentLiteral = false;
  private closed = false;
  private closeError: Error | null = null;
  private onGreeting: ((line: string) => void) | null = null;
  /** Untagged responses that arrive with no command outstanding (e.g. during IDLE). */
  unsolicited: ImapResponse[] = [];
  /** Called with every untagged response as it is parsed (e.g. the EXISTS of an IDLE push), before it is filed. */
  onUntaggedResponse: ((resp: ImapResponse) => void) | null = null;
  /** Octets received from the server on this connection (for "bytes on the wire"). */
  bytesIn = 0;
  /** Octets sent to the server by command() without synchronizing literals (all the bench's reads and STOREs). */
  bytesOut = 0;

  private constructor(private readonly socket: Socket) {
    socket.setNoDelay(true);
    socket.on('data', (d: Buffer) => {
      this.bytesIn += d.length;
      this.onData(d);
    });
    socket.on('error', (e) => this.fail(e));
    socket.on('close', () => this.fail(new Error('connection closed')));
  }

  static connect(host: string, port: number, timeoutMs = 30_000): Promise<ImapDriver> {
    return new Promise((resolve, reject) => {
      const socket = connect({ host, port });
      const driver = new ImapDriver(socket);
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new Error(`no greeting from ${host}:${port}`));
      }, timeoutMs);
      socket.once('error', (e) => {
        clearTimeout(timer);
        reject(e);
      });
      driver.onGreeting = (line) => {
        clearTimeout(timer);
        driver.greeting = line;
        driver.noteCapabilities(line);
        if (/^\* (OK|PREAUTH) /i.test(line)) resolve(driver);
        else reject(new Error(`refused: ${line}`));
      };
    });
  }

  private fail(e: Error): void {
    if (this.closed) return;
    this.closed = true;
    this.closeError = e;
    for (const p of this.pending.splice(0)) p.reject(e);
  }

  private noteCapabilities(text: string): void {
    const m = /\[CAPABILITY ([^\]]*)\]/i.exec(text) ?? /^\* CAPABILITY (.*)$/i.exec(text);
    if (!m) return;
    this.capabilities.clear();
    for (const c of m[1]!.split(' ')) if (c !== '') this.capabilities.add(c.toUpperCase());
  }

  has(cap: string): boolean {
    return this.capabilities.has(cap.toUpperCase());
  }

  private onData(data: Buffer): void {
    let d = data;
    while (d.length > 0) {
      if (this.literalRemaining > 0) {
        const take = Math.min(this.literalRemaining, d.length);
        if (this.keepCurrentLiteral) this.curLiterals.push(d.subarray(0, take));
        this.literalRemaining -= take;
        this.curLiteralBytes += take;
        d = d.subarray(take);
        if (this.literalRemaining === 0 && this.keepCurrentLiteral) {
          // Join the pieces of this literal into one buffer.
          const parts = this.curLiterals.splice(this.literalStartIndex);
          this.curLiterals.push(parts.length === 1 ? parts[0]! : Buffer.concat(parts));
        }
        continue;
      }
      const nl = d.indexOf(10);
      if (nl < 0) {
        this.lineBuf = this.lineBuf.length === 0 ? Buffer.from(d) : Buffer.concat([this.lineBuf, d]);
        return;
      }
      const piece = d.subarray(0, nl + 1);
      const full = this.lineBuf.length === 0 ? piece : Buffer.concat([this.lineBuf, piece]);
      this.lineBuf = Buffer.alloc(0);
      d = d.subarray(nl + 1);
      let line = full.toString('latin1');
      line = line.endsWith('\r\n') ? line.slice(0, -2) : line.slice(0, -1);
      this.onLine(line);
    }
  }

  private literalStartIndex = 0;

  private onLine(line: string): void {
    const m = /~?\{(\d+)\}$/.exec(line);
    if (m && (this.curText !== '' || line.startsWith('* '))) {
      // A line announcing a literal: the response continues after the literal's octets.
      this.curText += line;
      this.literalRemaining = Number(m[1]);
      const p = this.pending[0];
      this.keepCurrentLiteral = p ? p.opts.keepLiterals : false;
      this.literalStartIndex = this.curLiterals.length;
      if (this.literalRemaining === 0 && this.keepCurrentLiteral) this.curLiterals.push(Buffer.alloc(0));
      return;
    }
    if (this.curText !== '') {
      const text = this.curText + line;
      const resp: ImapResponse = { text, literals: this.curLiterals, literalBytes: this.curLiteralBytes };
      this.curText = '';
      this.curLiterals = [];
      this.curLiteralBytes = 0;
      this.onUntagged(resp);
      return;
    }
    if (this.onGreeting) {
      const g = this.onGreeting;
      this.onGreeting = null;
      g(line);
      return;
    }
    if (line.startsWith('* ')) {
      this.onUntagged({ text: line, literals: [], literalBytes: 0 });
      return;
    }
    if (line.startsWith('+')) {
      const w = this.continuationWaiters.shift();
      if (w) w(line);
      return;
    }
    const sp = line.indexOf(' ');
    const tag = sp < 0 ? line : line.slice(0, sp);
    const idx = this.pending.findIndex((p) => p.tag === tag);
    if (idx < 0) return; // not ours; ignore
    const p = this.pending.splice(idx, 1)[0]!;
    const rest = line.slice(sp + 1);
    const sp2 = rest.indexOf(' ');
    const status = (sp2 < 0 ? rest : rest.slice(0, sp2)).toUpperCase();
    const text = sp2 < 0 ? '' : rest.slice(sp2 + 1);
    this.noteCapabilities(text);
    p.resolve({
      tag,
      status: status === 'OK' || status === 'NO' ? status : 'BAD',
      text,
      untagged: p.untagged,
      untaggedCount: p.untaggedCount,
      literalBytes: p.literalBytes,
    });
  }

  private onUntagged(resp: ImapResponse): void {
    if (/^\* CAPABILITY /i.test(resp.text)) this.noteCapabilities(resp.text);
    this.onUntaggedResponse?.(resp);
    const p = this.pending[0];
    if (!p) {
      if (this.unsolicited.length < 10_000) this.unsolicited.push(resp);
      return;
    }
    p.untaggedCount++;
    p.literalBytes += resp.literalBytes;
    if (p.opts.keepUntagged) p.untagged.push(resp);
  }

  private nextTag(): string {
    this.tagCounter++;
    return `A${this.tagCounter}`;
  }

  /** Waits for the next continuation request; cancel() withdraws the wait (e.g. the command was refused). */
  private waitContinuation(): { promise: Promise<string>; cancel(): void } {
    let waiter: ((line: string) => void) | null = null;
    const promise = new Promise<string>((resolve) => {
      waiter = resolve;
      this.continuationWaiters.push(resolve);
    });
    return {
      promise,
      cancel: () => {
        const i = this.continuationWaiters.indexOf(waiter!);
        if (i >= 0) this.continuationWaiters.splice(i, 1);
      },
    };
  }

  /**
   * Sends one command. Buffers in `parts` become literals: non-synchronizing (`{n+}`) when the server
   * advertises LITERAL+, otherwise synchronizing, waiting for the continuation request. Commands without
   * synchronizing literals may be issued concurrently (pipelined); their promises resolve in tag order.
   */
  command(parts: CommandPart | CommandPart[], opts: CommandOptions = {}): Promise<CommandResult> {
    if (this.closed) return Promise.reject(this.closeError ?? new Error('closed'));
    const list = Array.isArray(parts) ? parts : [parts];
    const tag = this.nextTag();
    const literalPlus = this.has('LITERAL+');
    const promise = new Promise<CommandResult>((resolve, reject) => {
      this.pending.push({
        tag,
        opts: { keepUntagged: opts.keepUntagged ?? true, keepLiterals: opts.keepLiterals ?? false },
        untagged: [],
        untaggedCount: 0,
        literalBytes: 0,
        resolve,
        reject,
      });
    });
    const hasSyncLiteral = !literalPlus && list.some((p) => Buffer.isBuffer(p));
    if (!hasSyncLiteral) {
      const out: Buffer[] = [Buffer.from(`${tag} `, 'latin1')];
      for (const p of list) {
        if (Buffer.isBuffer(p)) {
          out.push(Buffer.from(`{${p.length}+}\r\n`, 'latin1'), p);
        } else out.push(Buffer.from(p, 'latin1'));
      }
      out.push(Buffer.from('\r\n', 'latin1'));
      const all = Buffer.concat(out);
      this.bytesOut += all.length;
      this.socket.write(all);
      return promise;
    }
    void (async () => {
      let text = `${tag} `;
      for (const p of list) {
        if (Buffer.isBuffer(p)) {
          this.socket.write(`${text}{${p.length}}\r\n`, 'latin1');
          text = '';
          const wait = this.waitContinuation();
          const cont = await Promise.race([wait.promise, promise.then(() => null, () => null)]);
          if (cont === null) {
            wait.cancel(); // refused with a tagged response (or the connection closed)
            return;
          }
          this.socket.write(p);
        } else text += p;
      }
      this.socket.write(`${text}\r\n`, 'latin1');
    })().catch(() => undefined);
    return promise;
  }

  /** Like command(), but rejects unless the status is OK. */
  async ok(parts: CommandPart | CommandPart[], opts?: CommandOptions): Promise<CommandResult> {
    const r = await this.command(parts, opts);
    if (r.status !== 'OK') throw new CommandFailed(r);
    return r;
  }

  async login(user: string, password: string): Promise<void> {
    await this.ok(`LOGIN ${quote(user)} ${quote(password)}`);
    if (this.capabilities.size === 0 || !this.has('IMAP4rev1')) await this.ok('CAPABILITY');
  }

  /** Starts IDLE and resolves once the server sent its continuation request. */
  async idle(): Promise<{ done(): Promise<CommandResult> }> {
    const tag = this.nextTag();
    const promise = new Promise<CommandResult>((resolve, reject) => {
      this.pending.push({
        tag,
        opts: { keepUntagged: true, keepLiterals: false },
        untagged: [],
        untaggedCount: 0,
        literalBytes: 0,
        resolve,
        reject,
      });
    });
    const cont = this.waitContinuation();
    this.socket.write(`${tag} IDLE\r\n`, 'latin1');
    const first = await Promise.race([cont.promise, promise]);
    if (typeof first !== 'string') {
      cont.cancel();
      throw new CommandFailed(first);
    }
    return {
      done: () => {
        this.socket.write('DONE\r\n', 'latin1');
        return promise;
      },
    };
  }

  /** LOGOUT and close; never throws. */
  async logout(): Promise<void> {
    try {
      await Promise.race([this.command('LOGOUT'), new Promise((r) => setTimeout(r, 2000))]);
    } catch {
      /* already closed */
    }
    this.socket.destroy();
  }

  destroy(): void {
    this.socket.destroy();
  }
}

/** An IMAP quoted string (RFC 9051 §4.3) for ASCII text without CR/LF. */
export function quote(s: string): string {
  return `"${s.replace(/[\\"]/g, (c) => `\\${c}`)}"`;
}
