// A tiny raw-socket IMAP client for exact-wire assertions in end-to-end tests.
// It splits the server's output into responses (RFC 9051 §2.2.2: a response is a line, plus the
// literals it announces with "{N}" / "~{N}" (§4.3, RFC 3516) and the line text that follows them),
// and lets tests send arbitrary bytes, so malformed input can be tested too. No parsing beyond that.
import net from 'node:net';
import tls from 'node:tls';

export interface ImapResponse {
  /** The whole response, literals inlined, decoded as UTF-8, without the final CRLF. */
  text: string;
  /** The whole response as bytes, literals inlined, without the final CRLF. */
  raw: Buffer;
  /** The literal payloads in order of appearance. */
  literals: Buffer[];
}

export interface CommandResult {
  /** Untagged ("* ...") and continuation ("+ ...") responses before the tagged one, as text. */
  untagged: string[];
  /** The tagged completion line. */
  tagged: string;
  /** Every response before the tagged one, with its literals. */
  responses: ImapResponse[];
}

const DEFAULT_TIMEOUT_MS = 5000;

export class ImapTestClient {
  private socket: net.Socket;
  private buf: Buffer = Buffer.alloc(0);
  private readonly queue: ImapResponse[] = [];
  private waiter: (() => void) | null = null;
  private ended = false;
  /** Every response received so far, for debugging failed assertions. */
  readonly log: string[] = [];
  greeting = '';

  private constructor(socket: net.Socket) {
    this.socket = socket;
    this.attach(socket);
  }

  /** Connects and reads the greeting. */
  static async connect(port: number, host = '127.0.0.1'): Promise<ImapTestClient> {
    const socket = await new Promise<net.Socket>((resolve, reject) => {
      const s = net.connect({ port, host }, () => {
        s.off('error', reject);
        resolve(s);
      });
      s.once('error', reject);
    });
    const c = new ImapTestClient(socket);
    c.greeting = (await c.next()).text;
    return c;
  }

  /** Connects with implicit TLS (RFC 8314) and reads the greeting; certificates are not verified. */
  static async connectTls(port: number, host = '127.0.0.1'): Promise<ImapTestClient> {
    const socket = await new Promise<tls.TLSSocket>((resolve, reject) => {
      const s = tls.connect({ port, host, rejectUnauthorized: false }, () => {
        s.off('error', reject);
        resolve(s);
      });
      s.once('error', reject);
    });
    const c = new ImapTestClient(socket);
    c.greeting = (await c.next()).text;
    return c;
  }

  private attach(s: net.Socket): void {
    s.on('data', (chunk: Buffer) => {
      this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
      this.parse();
    });
    const end = (): void => {
      this.ended = true;
      this.wake();
    };
    s.on('end', end);
    s.on('close', end);
    s.on('error', end);
  }

  private wake(): void {
    const w = this.waiter;
    this.waiter = null;
    w?.();
  }

  /** Cuts complete responses off the buffer. */
  private parse(): void {
    for (;;) {
      let pos = 0;
      const pieces: Buffer[] = [];
      const literals: Buffer[] = [];
      let complete = false;
      for (;;) {
        const eol = this.buf.indexOf('\r\n', pos);
        if (eol < 0) break;
        const line = this.buf.subarray(pos, eol);
        const m = /~?\{(\d+)\+?\}$/.exec(line.toString('latin1'));
        if (!m) {
          pieces.push(line);
          pos = eol + 2;
          complete = true;
          break;
        }
        const n = Number(m[1]);
        if (this.buf.length < eol + 2 + n) break;
        const lit = this.buf.subarray(eol + 2, eol + 2 + n);
        pieces.push(line, Buffer.from('\r\n'), lit);
        literals.push(Buffer.from(lit));
        pos = eol + 2 + n;
      }
      if (!complete) return;
      const raw = Buffer.concat(pieces);
      this.buf = this.buf.subarray(pos);
      const resp = { raw, text: raw.toString('utf8'), literals };
      this.log.push(resp.text.length > 300 ? resp.text.slice(0, 300) + '…' : resp.text);
      this.queue.push(resp);
      this.wake();
    }
  }

  /** Whether the server closed the connection. */
  get closed(): boolean {
    return this.ended;
  }

  /** The next response, waiting up to timeoutMs. */
  async next(timeoutMs = DEFAULT_TIMEOUT_MS): Promise<ImapResponse> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const r = this.queue.shift();
      if (r) return r;
      if (this.ended) throw new Error(`connection closed while waiting for a response; last: ${this.tail()}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out waiting for a response; last: ${this.tail()}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(() => {
          this.waiter = null;
          resolve();
        }, left);
        this.waiter = () => {
          clearTimeout(t);
          resolve();
        };
      });
    }
  }

  /** Responses already received and not yet consumed (without waiting). */
  drain(): ImapResponse[] {
    return this.queue.splice(0, this.queue.length);
  }

  private tail(): string {
    return JSON.stringify(this.log.slice(-5));
  }

  /** Sends a line; CRLF is appended. */
  send(line: string | Buffer): void {
    this.sendRaw(Buffer.concat([typeof line === 'string' ? Buffer.from(line, 'utf8') : line, Buffer.from('\r\n')]));
  }

  /** Sends bytes exactly as given. */
  sendRaw(data: string | Buffer): void {
    this.socket.write(typeof data === 'string' ? Buffer.from(data, 'utf8') : data);
  }

  /** Reads responses until one matches, returning it; the ones before are returned in `skipped`. */
  async waitFor(re: RegExp, timeoutMs = DEFAULT_TIMEOUT_MS): Promise<ImapResponse & { skipped: ImapResponse[] }> {
    const deadline = Date.now() + timeoutMs;
    const skipped: ImapResponse[] = [];
    for (;;) {
      const r = await this.next(Math.max(1, deadline - Date.now()));
      if (re.test(r.text)) return { ...r, skipped };
      skipped.push(r);
    }
  }

  /** Reads responses up to the tagged completion for `tag`. */
  async readTagged(tag: string, timeoutMs = DEFAULT_TIMEOUT_MS): Promise<CommandResult> {
    const deadline = Date.now() + timeoutMs;
    const responses: ImapResponse[] = [];
    for (;;) {
      const r = await this.next(Math.max(1, deadline - Date.now()));
      if (r.text.startsWith(tag + ' ')) {
        return { untagged: responses.map((x) => x.text), tagged: r.text, responses };
      }
      responses.push(r);
    }
  }

  /** Sends `tag text` and reads up to its tagged completion. */
  async command(tag: string, text: string, timeoutMs = DEFAULT_TIMEOUT_MS): Promise<CommandResult> {
    this.send(`${tag} ${text}`);
    return this.readTagged(tag, timeoutMs);
  }

  /**
   * Sends a command made of text pieces and synchronizing literals, waiting for each "+" continuation.
   * Example: commandWithLiterals('A1', ['APPEND INBOX ', Buffer.from('…')]) sends "{N}" itself.
   */
  async commandWithLiterals(tag: string, parts: Array<string | Buffer>, timeoutMs = DEFAULT_TIMEOUT_MS): Promise<CommandResult> {
    let line = `${tag} `;
    const early: ImapResponse[] = [];
    for (const p of parts) {
      if (typeof p === 'string') {
        line += p;
        continue;
      }
      this.sendRaw(`${line}{${p.length}}\r\n`);
      line = '';
      const r = await this.waitFor(/^\+|^\S+ (NO|BAD) /, timeoutMs);
      early.push(...r.skipped, r);
      if (!r.text.startsWith('+')) {
        early.pop();
        return { untagged: early.map((x) => x.text), tagged: r.text, responses: early };
      }
      this.sendRaw(p);
    }
    this.sendRaw(`${line}\r\n`);
    const res = await this.readTagged(tag, timeoutMs);
    return { untagged: [...early.map((x) => x.text), ...res.untagged], tagged: res.tagged, responses: [...early, ...res.responses] };
  }

  /** Starts TLS on the existing connection (after the server's OK to STARTTLS). */
  async startTls(options: tls.ConnectionOptions = {}): Promise<void> {
    const raw = this.socket;
    raw.removeAllListeners('data');
    raw.removeAllListeners('end');
    raw.removeAllListeners('close');
    raw.removeAllListeners('error');
    this.buf = Buffer.alloc(0);
    const secure = await new Promise<tls.TLSSocket>((resolve, reject) => {
      const s = tls.connect({ socket: raw, rejectUnauthorized: false, ...options }, () => {
        s.off('error', reject);
        resolve(s);
      });
      s.once('error', reject);
    });
    this.socket = secure;
    this.attach(secure);
  }

  /** True when the current transport is TLS. */
  get encrypted(): boolean {
    return this.socket instanceof tls.TLSSocket;
  }

  close(): void {
    this.socket.destroy();
  }
}

/** Sends LOGOUT (ignoring failures) and closes. */
export async function logoutQuietly(c: ImapTestClient): Promise<void> {
  try {
    if (!c.closed) await c.command('ZZ', 'LOGOUT', 2000);
  } catch {
    /* already gone */
  } finally {
    c.close();
  }
}
