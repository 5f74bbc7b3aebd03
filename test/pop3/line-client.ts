// A raw line-oriented test client for POP3 and LMTP end-to-end tests: reads CRLF lines, multi-line
// POP3 answers (up to the "." line) and LMTP replies (250-… continuation lines), over TCP, a Unix
// socket or TLS (STLS / implicit).
import net from 'node:net';
import tls from 'node:tls';

const TIMEOUT_MS = 10_000;

export class LineClient {
  private socket: net.Socket;
  private buf: Buffer = Buffer.alloc(0);
  private waiter: (() => void) | null = null;
  private ended = false;
  greeting = '';

  private constructor(socket: net.Socket) {
    this.socket = socket;
    this.attach(socket);
  }

  static async connect(where: { port: number; host?: string } | { path: string }, implicitTls = false): Promise<LineClient> {
    const socket = await new Promise<net.Socket>((resolve, reject) => {
      const s: net.Socket = implicitTls
        ? tls.connect({ ...(where as { port: number }), host: '127.0.0.1', rejectUnauthorized: false }, () => done())
        : 'path' in where
          ? net.connect(where.path, () => done())
          : net.connect({ port: where.port, host: where.host ?? '127.0.0.1' }, () => done());
      const done = (): void => {
        s.off('error', reject);
        resolve(s);
      };
      s.once('error', reject);
    });
    const c = new LineClient(socket);
    c.greeting = await c.line();
    return c;
  }

  private attach(s: net.Socket): void {
    s.on('data', (chunk: Buffer) => {
      this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
      this.wake();
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

  get closed(): boolean {
    return this.ended;
  }

  /** The next line, without its CRLF, as latin1 (byte-exact). Rejects on timeout or close. */
  async line(timeoutMs = TIMEOUT_MS): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const eol = this.buf.indexOf('\r\n');
      if (eol >= 0) {
        const line = this.buf.subarray(0, eol).toString('latin1');
        this.buf = this.buf.subarray(eol + 2);
        return line;
      }
      if (this.ended) throw new Error(`connection closed; pending: ${JSON.stringify(this.buf.toString('latin1'))}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timeout waiting for a line; pending: ${JSON.stringify(this.buf.toString('latin1'))}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiter = () => {
          clearTimeout(t);
          resolve();
        };
      });
    }
  }

  /** Resolves true when the server closes the connection (without sending a line), false on a line. */
  async waitClosed(timeoutMs = TIMEOUT_MS): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!this.ended) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error('timeout waiting for close');
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiter = () => {
          clearTimeout(t);
          resolve();
        };
      });
    }
  }

  send(text: string): void {
    this.socket.write(Buffer.from(`${text}\r\n`, 'latin1'));
  }

  sendRaw(data: string | Buffer): void {
    this.socket.write(typeof data === 'string' ? Buffer.from(data, 'latin1') : data);
  }

  /** Sends a command and returns the first reply line. */
  async command(text: string): Promise<string> {
    this.send(text);
    return this.line();
  }

  /** Lines of a POP3 multi-line body up to (without) the "." line, still byte-stuffed. */
  async multiline(): Promise<string[]> {
    const out: string[] = [];
    for (;;) {
      const l = await this.line();
      if (l === '.') return out;
      out.push(l);
    }
  }

  /** A POP3 multi-line body as the original bytes: unstuffed, CRLF line ends. */
  async message(): Promise<string> {
    const lines = await this.multiline();
    return lines.map((l) => (l.startsWith('.') ? l.slice(1) : l) + '\r\n').join('');
  }

  /** One SMTP/LMTP reply: its lines (continuations "250-…" up to the final "250 …"). */
  async reply(): Promise<string[]> {
    const out: string[] = [];
    for (;;) {
      const l = await this.line();
      out.push(l);
      if (!/^\d{3}-/.test(l)) return out;
    }
  }

  /** The TLS socket once TLS is on (channel binding in SCRAM tests), else null. */
  get tlsSocket(): tls.TLSSocket | null {
    return this.socket instanceof tls.TLSSocket ? this.socket : null;
  }

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

  close(): void {
    this.socket.destroy();
  }
}
