// A small POP3 client for `petrel fetch`: RFC 1939 (USER/PASS, STAT-less LIST, UIDL, RETR with
// dot-unstuffing §3, DELE, QUIT → UPDATE state), RFC 2449 CAPA, RFC 2595 §4 STLS, RFC 5034 AUTH PLAIN,
// RFC 8314 implicit TLS. Replies are read line by line; multi-line replies end with "." (§3).
import net from 'node:net';
import tls from 'node:tls';
import type { Duplex } from 'node:stream';

export type Pop3Tls = 'none' | 'starttls' | 'implicit';

export interface Pop3ClientOptions {
  host: string;
  port: number;
  tls: Pop3Tls;
  rejectUnauthorized?: boolean;
  timeoutMs?: number;
}

export class Pop3Error extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'Pop3Error';
  }
}

const MAX_LINE = 64 * 1024;

export class Pop3Client {
  private buf: Buffer = Buffer.alloc(0);
  private waiters: Array<{ resolve: (line: Buffer) => void; reject: (err: Error) => void }> = [];
  private lines: Buffer[] = [];
  private failure: Error | null = null;
  capabilities = new Set<string>();
  greeting = '';

  private constructor(
    private socket: Duplex,
    private readonly opts: Pop3ClientOptions,
  ) {
    this.attach(socket);
  }

  private attach(socket: Duplex): void {
    this.socket = socket;
    socket.on('data', this.onData);
    socket.on('error', (err: Error) => this.fail(err));
    socket.on('close', () => this.fail(new Pop3Error('connection closed by the server')));
  }

  private detach(): void {
    this.socket.removeAllListeners('data');
    this.socket.removeAllListeners('error');
    this.socket.removeAllListeners('close');
  }

  private onData = (chunk: Buffer): void => {
    this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
    let start = 0;
    for (;;) {
      const nl = this.buf.indexOf(10, start);
      if (nl < 0) break;
      let end = nl;
      if (end > start && this.buf[end - 1] === 13) end--;
      this.push(this.buf.subarray(start, end));
      start = nl + 1;
    }
    this.buf = start === 0 ? this.buf : this.buf.subarray(start);
    if (this.buf.length > MAX_LINE) this.fail(new Pop3Error('server line too long'));
  };

  private push(line: Buffer): void {
    const w = this.waiters.shift();
    if (w) w.resolve(Buffer.from(line));
    else this.lines.push(Buffer.from(line));
  }

  private fail(err: Error): void {
    if (this.failure) return;
    this.failure = err;
    for (const w of this.waiters.splice(0)) w.reject(err);
  }

  private readLine(): Promise<Buffer> {
    const l = this.lines.shift();
    if (l) return Promise.resolve(l);
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => this.waiters.push({ resolve, reject }));
  }

  static async connect(opts: Pop3ClientOptions): Promise<Pop3Client> {
    const timeout = opts.timeoutMs ?? 60_000;
    const socket = await new Promise<Duplex>((resolve, reject) => {
      const s =
        opts.tls === 'implicit'
          ? tls.connect({ host: opts.host, port: opts.port, rejectUnauthorized: opts.rejectUnauthorized !== false, servername: net.isIP(opts.host) ? undefined : opts.host })
          : net.connect({ host: opts.host, port: opts.port });
      s.setTimeout(timeout, () => s.destroy(new Pop3Error('timed out')));
      s.once('error', reject);
      s.once(opts.tls === 'implicit' ? 'secureConnect' : 'connect', () => {
        s.off('error', reject);
        resolve(s);
      });
    });
    const c = new Pop3Client(socket, opts);
    try {
      const greet = await c.status();
      c.greeting = greet;
      await c.capa();
      if (opts.tls === 'starttls') {
        if (!c.capabilities.has('STLS')) throw new Pop3Error('the server does not offer STLS');
        await c.command('STLS');
        await c.startTls();
        await c.capa();
      }
    } catch (err) {
      c.destroy();
      throw err;
    }
    return c;
  }

  private async startTls(): Promise<void> {
    const plain = this.socket as net.Socket;
    this.detach();
    const secure = await new Promise<tls.TLSSocket>((resolve, reject) => {
      const s = tls.connect({
        socket: plain,
        rejectUnauthorized: this.opts.rejectUnauthorized !== false,
        servername: net.isIP(this.opts.host) ? undefined : this.opts.host,
      });
      s.once('error', reject);
      s.once('secureConnect', () => {
        s.off('error', reject);
        resolve(s);
      });
    });
    this.buf = Buffer.alloc(0);
    this.lines = [];
    this.attach(secure);
  }

  /** Reads one status line; resolves with its text after "+OK", rejects on "-ERR". */
  private async status(): Promise<string> {
    const line = (await this.readLine()).toString('latin1');
    if (line.startsWith('+OK')) return line.slice(3).trim();
    if (line.startsWith('-ERR')) throw new Pop3Error(`server: ${line.slice(4).trim() || 'error'}`);
    throw new Pop3Error(`unexpected reply: ${line.slice(0, 200)}`);
  }

  private send(line: string): void {
    if (this.failure) throw this.failure;
    this.socket.write(line + '\r\n');
  }

  async command(line: string): Promise<string> {
    this.send(line);
    return this.status();
  }

  /** A multi-line reply's lines (dot-unstuffed, RFC 1939 §3), without the final ".". */
  private async multiLine(): Promise<Buffer[]> {
    const out: Buffer[] = [];
    for (;;) {
      const l = await this.readLine();
      if (l.length === 1 && l[0] === 0x2e) return out;
      out.push(l.length > 0 && l[0] === 0x2e ? l.subarray(1) : l);
    }
  }

  private async capa(): Promise<void> {
    this.send('CAPA');
    try {
      await this.status();
    } catch (err) {
      if (err instanceof Pop3Error && err.message.startsWith('server:')) return; // no CAPA (RFC 2449 optional)
      throw err;
    }
    this.capabilities = new Set((await this.multiLine()).map((l) => l.toString('latin1').split(' ')[0]!.toUpperCase()));
  }

  async login(user: string, password: string): Promise<void> {
    if (/[\r\n]/.test(user) || /[\r\n]/.test(password)) throw new Pop3Error('user or password contains a line break');
    try {
      await this.command(`USER ${user}`);
      await this.command(`PASS ${password}`);
    } catch (err) {
      if (!(err instanceof Pop3Error) || !this.capabilities.has('SASL')) throw err;
      // RFC 5034: AUTH PLAIN with an initial response.
      const ir = Buffer.from(`\0${user}\0${password}`, 'utf8').toString('base64');
      await this.command(`AUTH PLAIN ${ir}`);
    }
  }

  /** LIST: message number → size. */
  async list(): Promise<Map<number, number>> {
    await this.command('LIST');
    const m = new Map<number, number>();
    for (const l of await this.multiLine()) {
      const [n, size] = l.toString('latin1').trim().split(/\s+/);
      if (n && size) m.set(Number(n), Number(size));
    }
    return m;
  }

  /** UIDL: message number → unique id (RFC 1939 §7). */
  async uidl(): Promise<Map<number, string>> {
    await this.command('UIDL');
    const m = new Map<number, string>();
    for (const l of await this.multiLine()) {
      const [n, id] = l.toString('latin1').trim().split(/\s+/);
      if (n && id) m.set(Number(n), id);
    }
    return m;
  }

  /** RETR: the message, each line ended with CRLF as on the wire. */
  async retr(msg: number): Promise<Buffer> {
    await this.command(`RETR ${msg}`);
    const lines = await this.multiLine();
    const parts: Buffer[] = [];
    const crlf = Buffer.from('\r\n');
    for (const l of lines) parts.push(l, crlf);
    return Buffer.concat(parts);
  }

  async dele(msg: number): Promise<void> {
    await this.command(`DELE ${msg}`);
  }

  /** QUIT: the UPDATE state removes the messages marked with DELE (RFC 1939 §6). */
  async quit(): Promise<void> {
    await this.command('QUIT');
    this.destroy();
  }

  destroy(): void {
    this.fail(new Pop3Error('closed'));
    this.socket.destroy();
  }
}
