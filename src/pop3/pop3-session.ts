// One POP3 connection: the AUTHORIZATION, TRANSACTION and UPDATE states (RFC 1939 §3-§6), USER/PASS
// (RFC 1939 §7), CAPA, RESP-CODES, PIPELINING (RFC 2449 §5, §6.4, §6.6, §8), STLS (RFC 2595 §4),
// AUTH (RFC 5034 §4) with PLAIN (RFC 4616), SCRAM-SHA-256 (RFC 7677) and, on TLS, SCRAM-SHA-256-PLUS
// (RFC 5802 §6; the exchange is src/auth/scram-login.ts, shared with IMAP), AUTH-RESP-CODE ([AUTH], [SYS/TEMP], [SYS/PERM]: RFC 3206),
// UIDL and TOP (RFC 1939 §7), autologout (RFC 1939 §3: at least 10 minutes).
// Commands are read one line at a time and answered in order, so pipelined commands just queue up.
import type { Socket } from 'node:net';
import { TLSSocket, type SecureContext } from 'node:tls';
import { scramLogin, scramMechanisms, type ScramMechanism } from '../auth/scram-login.js';
import { LIMITS } from '../protocol/limits.js';
import type { MessageRecord, Store, UserRecord } from '../store/types.js';
import { isPartial } from '../mime/partial.js';
import { Maildrop, lockMaildrop, unlockMaildrop } from './maildrop.js';
import {
  LineReader,
  MessageEncoder,
  decodeSaslPlain,
  parseLineCount,
  parseMessageNumber,
  parsePop3Command,
  type LineEvent,
  type Pop3Command,
} from './pop3-parser.js';

export interface Pop3Logger {
  debug(obj: unknown, msg?: string): void;
  info(obj: unknown, msg?: string): void;
  warn(obj: unknown, msg?: string): void;
  error(obj: unknown, msg?: string): void;
}

/** Failed-login accounting per address and per account (src/server/server-context.ts LoginThrottle has this shape). */
export interface LoginThrottleLike {
  /** 0, or -1 when the address or the account is locked out. */
  checkLogin(ip: string, user: string): number;
  /** Records a failure; returns the delay before answering. */
  failLogin(ip: string, user: string): number;
  succeedLogin(ip: string, user: string): void;
}

/** What all POP3 connections of one listener share. */
export interface Pop3Context {
  store: Store;
  log: Pop3Logger;
  secureContext: SecureContext | null;
  allowInsecureAuth: 'loopback' | 'always' | 'never';
  throttle: LoginThrottleLike;
  authenticate(name: string, password: string): Promise<UserRecord | null>;
  /** Give retrieved messages \Seen at QUIT (see docs/pop3.md). */
  markSeen: boolean;
  idleTimeoutMs: number;
  preAuthTimeoutMs: number;
  /** Serving a replica: brings in the full content of a partial message (docs/sync.md "Partial messages"). */
  fetchMissing?: Pop3FetchMissing;
}

/** The IMAP server's fetchMissing hook (src/server/fetch-missing.ts), same shape. */
export type Pop3FetchMissing = (req: { userName: string; mailboxId: number; mailboxName: string; uid: number; signal?: AbortSignal }) => Promise<void>;

type Pop3State =
  | { kind: 'authorization'; user: string | null }
  | { kind: 'transaction'; user: UserRecord; maildrop: Maildrop }
  | { kind: 'done' };

const CAPA_COMMON = ['TOP', 'UIDL', 'RESP-CODES', 'AUTH-RESP-CODE', 'PIPELINING', 'EXPIRE NEVER'];
/** Pause reading from a client that pipelines far ahead of our answers. */
const MAX_BUFFERED_INPUT = 256 * 1024;

export class Pop3Connection {
  private socket: Socket;
  private readonly reader = new LineReader(LIMITS.pop3MaxLineLength);
  private state: Pop3State = { kind: 'authorization', user: null };
  private secure: boolean;
  private readonly remoteAddress: string;
  private readonly loopback: boolean;
  private wake: (() => void) | null = null;
  private closed = false;
  private readPaused = false;
  private timer: NodeJS.Timeout | null = null;
  private lockedUserId: number | null = null;

  constructor(
    socket: Socket,
    private readonly ctx: Pop3Context,
    implicitTls: boolean,
    private readonly onClose: () => void,
  ) {
    this.socket = socket;
    this.secure = implicitTls;
    this.remoteAddress = socket.remoteAddress ?? '';
    this.loopback = isLoopback(this.remoteAddress);
  }

  start(): void {
    this.socket.setNoDelay(true);
    this.attach(this.socket);
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
    this.reader.push(chunk);
    if (this.reader.buffered() > MAX_BUFFERED_INPUT && !this.readPaused) {
      this.readPaused = true;
      this.socket.pause();
    }
    const w = this.wake;
    this.wake = null;
    w?.();
  }

  private async nextEvent(): Promise<LineEvent | null> {
    for (;;) {
      if (this.closed) return null;
      const ev = this.reader.next();
      if (ev) return ev;
      if (this.readPaused) {
        this.readPaused = false;
        this.socket.resume();
      }
      await new Promise<void>((resolve) => (this.wake = resolve));
    }
  }

  private resetTimer(): void {
    if (this.timer) clearTimeout(this.timer);
    if (this.closed) return;
    const ms = this.state.kind === 'transaction' ? this.ctx.idleTimeoutMs : this.ctx.preAuthTimeoutMs;
    this.timer = setTimeout(() => this.fatal('-ERR Autologout; idle for too long'), ms);
    this.timer.unref();
  }

  private async run(): Promise<void> {
    try {
      // No APOP timestamp in the greeting: APOP is not offered (RFC 1939 §7).
      await this.send('+OK Petrel POP3 server ready');
      this.resetTimer();
      while (!this.closed && this.state.kind !== 'done') {
        const ev = await this.nextEvent();
        if (!ev) break;
        if (ev.kind === 'too-long') {
          await this.send('-ERR Line too long');
          continue;
        }
        const parsed = parsePop3Command(ev.line);
        if (!parsed.ok) {
          await this.send(`-ERR ${parsed.error}`);
          continue;
        }
        try {
          await this.dispatch(parsed.command);
        } catch (err) {
          // Anything unexpected: a short -ERR, a log line, and the connection lives on.
          this.ctx.log.error({ err, command: parsed.command.name }, 'POP3 command failed');
          await this.send('-ERR [SYS/TEMP] Internal error');
        }
        this.resetTimer();
      }
    } catch (err) {
      if (!this.closed) this.ctx.log.error({ err }, 'POP3 connection failure');
    } finally {
      this.close();
    }
  }

  private async dispatch(cmd: Pop3Command): Promise<void> {
    const st = this.state;
    switch (cmd.name) {
      case 'CAPA':
        return this.capa();
      case 'QUIT':
        return this.quit();
      case 'NOOP':
        if (st.kind !== 'transaction') return this.wrongState();
        return this.send('+OK');
    }
    if (st.kind === 'authorization') {
      switch (cmd.name) {
        case 'USER':
          return this.user(cmd);
        case 'PASS':
          return this.pass(cmd);
        case 'AUTH':
          return this.auth(cmd);
        case 'STLS':
          return this.stls();
        case 'APOP':
          return this.send('-ERR APOP is not supported; use USER/PASS or AUTH PLAIN');
        case 'STAT':
        case 'LIST':
        case 'RETR':
        case 'DELE':
        case 'RSET':
        case 'TOP':
        case 'UIDL':
          return this.wrongState();
      }
    } else if (st.kind === 'transaction') {
      const md = st.maildrop;
      switch (cmd.name) {
        case 'STAT': {
          if (cmd.args.length > 0) return this.send('-ERR STAT takes no arguments');
          const { count, octets } = md.stat();
          return this.send(`+OK ${count} ${octets}`);
        }
        case 'LIST':
          return this.listing(cmd, md, (m) => String(m.size));
        case 'UIDL':
          return this.listing(cmd, md, (m) => m.uniqueId);
        case 'RETR':
          return this.retr(cmd, md);
        case 'TOP':
          return this.top(cmd, md);
        case 'DELE':
          return this.dele(cmd, md);
        case 'RSET': {
          if (cmd.args.length > 0) return this.send('-ERR RSET takes no arguments');
          md.reset();
          const { count, octets } = md.stat();
          return this.send(`+OK maildrop has ${count} messages (${octets} octets)`);
        }
        case 'USER':
        case 'PASS':
        case 'AUTH':
        case 'APOP':
        case 'STLS':
          return this.wrongState();
      }
    }
    return this.send(`-ERR Unknown command ${cmd.name.slice(0, 20)}`);
  }

  private wrongState(): Promise<void> {
    return this.send(
      this.state.kind === 'authorization' ? '-ERR Not logged in' : '-ERR Command not valid in this state',
    );
  }

  // ------------------------------------------------------------------ AUTHORIZATION state

  private authAllowed(): boolean {
    const mode = this.ctx.allowInsecureAuth;
    return this.secure || mode === 'always' || (mode === 'loopback' && this.loopback);
  }

  private tlsOffered(): boolean {
    return !this.secure && this.ctx.secureContext !== null;
  }

  /** RFC 2449 §5: one capability per line; what is listed depends on the state. */
  private capa(): Promise<void> {
    const lines = ['+OK Capability list follows', ...CAPA_COMMON];
    if (this.state.kind === 'authorization') {
      if (this.authAllowed()) lines.push('USER', `SASL ${this.saslMechanisms().join(' ')}`);
      if (this.tlsOffered()) lines.push('STLS');
    }
    lines.push('IMPLEMENTATION Petrel', '.');
    return this.send(lines.join('\r\n'));
  }

  private async user(cmd: Pop3Command): Promise<void> {
    if (!this.authAllowed()) return this.send(PLAINTEXT_REFUSED);
    if (cmd.args.length !== 1) return this.send('-ERR USER takes one argument: the user name');
    const name = cmd.args[0]!;
    if (name.length > 255) return this.send('-ERR User name too long');
    // The same answer for every name, so it does not reveal which users exist.
    this.state = { kind: 'authorization', user: name };
    return this.send('+OK Send PASS');
  }

  private async pass(cmd: Pop3Command): Promise<void> {
    const st = this.state;
    if (st.kind !== 'authorization' || st.user === null) return this.send('-ERR Send USER first');
    // RFC 1939 §7: the password is the rest of the line, spaces included.
    const name = st.user;
    this.state = { kind: 'authorization', user: null };
    if (!this.authAllowed()) return this.send(PLAINTEXT_REFUSED);
    return this.login(name, cmd.rest);
  }

  private tlsSocket(): TLSSocket | null {
    return this.socket instanceof TLSSocket ? this.socket : null;
  }

  /** The SASL mechanisms of CAPA's SASL line (RFC 2449 §6.3): SCRAM-SHA-256-PLUS only on TLS. */
  private saslMechanisms(): string[] {
    return ['PLAIN', ...scramMechanisms(this.tlsSocket())];
  }

  private async auth(cmd: Pop3Command): Promise<void> {
    if (cmd.args.length === 0) {
      // Not in RFC 5034, but older clients send a bare AUTH to list mechanisms (as RFC 1734 servers did).
      return this.send(this.authAllowed() ? ['+OK', ...this.saslMechanisms(), '.'].join('\r\n') : '+OK\r\n.');
    }
    if (cmd.args.length > 2) return this.send('-ERR AUTH takes a mechanism and an optional initial response');
    const mechanism = cmd.args[0]!.toUpperCase();
    if (!this.saslMechanisms().includes(mechanism)) return this.send(`-ERR Unsupported SASL mechanism ${mechanism.slice(0, 20)}`);
    if (!this.authAllowed()) return this.send(PLAINTEXT_REFUSED);
    let response = cmd.args[1];
    if (mechanism !== 'PLAIN') return this.scram(mechanism as ScramMechanism, response);
    if (response === undefined) {
      // RFC 5034 §4: an empty server challenge is "+ " followed by CRLF.
      let line: string | null;
      try {
        line = await this.saslLine('');
      } catch (err) {
        if (!(err instanceof SaslAbort)) throw err;
        return err.answer === null ? undefined : this.send(err.answer);
      }
      if (line === null) return;
      response = line;
    }
    // RFC 5034 §4: "*" cancels the exchange.
    if (response === '*') return this.send('-ERR Authentication cancelled');
    const plain = decodeSaslPlain(response);
    if (!plain.ok) {
      return this.send(plain.error === 'base64' ? '-ERR Invalid base64 in SASL response' : '-ERR Malformed PLAIN response');
    }
    if (plain.authzid !== '' && plain.authzid !== plain.authcid) {
      return this.send('-ERR [AUTH] Authorization identity not permitted');
    }
    return this.login(plain.authcid, plain.password);
  }

  /** Sends a challenge ("+ " and base64, RFC 5034 §4) and returns the client's raw line; null once closed. */
  private async saslLine(challenge: string): Promise<string | null> {
    await this.send(`+ ${challenge}`);
    const ev = await this.nextEvent();
    if (!ev) return null;
    if (ev.kind === 'too-long') throw new SaslAbort('-ERR Authentication response too long');
    return ev.line.toString('latin1');
  }

  /**
   * AUTH SCRAM-SHA-256(-PLUS): the exchange of src/auth/scram-login.ts, the same as IMAP's. The server
   * signature goes out as a last challenge that the client answers with an empty line (RFC 4422 §5).
   */
  private async scram(mechanism: ScramMechanism, initial: string | undefined): Promise<void> {
    const ip = this.remoteAddress;
    const decode = (line: string | null): string => {
      if (line === null) throw new SaslAbort(null);
      // RFC 5034 §4: "*" cancels; "=" is an empty initial response.
      if (line === '*') throw new SaslAbort('-ERR Authentication cancelled');
      if (!/^[A-Za-z0-9+/]*={0,2}$/.test(line) || line.length % 4 !== 0) throw new SaslAbort('-ERR Invalid base64 in SASL response');
      return Buffer.from(line, 'base64').toString('utf8');
    };
    let result;
    try {
      const first = decode(initial === undefined ? await this.saslLine('') : initial === '=' ? '' : initial);
      result = await scramLogin({
        mechanism,
        clientFirst: first,
        tls: this.tlsSocket(),
        ip,
        throttle: this.ctx.throttle,
        findUser: (name) => this.ctx.store.getUser(name),
        challenge: async (text) => decode(await this.saslLine(Buffer.from(text, 'utf8').toString('base64'))),
      });
    } catch (err) {
      if (!(err instanceof SaslAbort)) throw err;
      if (err.answer !== null) await this.send(err.answer);
      return;
    }
    switch (result.kind) {
      case 'malformed':
        return this.send(`-ERR SCRAM: ${result.reason}`);
      case 'locked':
        return this.send(LOCKED_OUT);
      case 'refused':
        this.ctx.log.info({ ip, user: result.user.slice(0, 64), protocol: 'pop3', mechanism, reason: result.reason }, 'login refused');
        return this.send(`-ERR [AUTH] SCRAM: ${result.reason}`);
      case 'failed':
        this.ctx.log.info({ ip, user: result.user.slice(0, 64), protocol: 'pop3', mechanism, reason: result.reason }, 'failed login');
        return this.send(INVALID_CREDENTIALS);
      case 'ok':
        this.ctx.throttle.succeedLogin(ip, result.user);
        return this.enterTransaction(result.record);
    }
  }

  private async login(name: string, password: string): Promise<void> {
    const ip = this.remoteAddress;
    const throttle = this.ctx.throttle;
    if (throttle.checkLogin(ip, name) < 0) return this.send(LOCKED_OUT);
    let record: UserRecord | null = null;
    if (name.length <= 255 && password.length <= 1024) record = await this.ctx.authenticate(name, password);
    if (!record) {
      const delay = throttle.failLogin(ip, name);
      await new Promise((r) => setTimeout(r, delay));
      this.ctx.log.info({ ip, user: name.slice(0, 64), protocol: 'pop3' }, 'failed login');
      return this.send(INVALID_CREDENTIALS);
    }
    throttle.succeedLogin(ip, name);
    return this.enterTransaction(record);
  }

  /** After a successful login: lock the maildrop, take its snapshot, enter TRANSACTION (RFC 1939 §4). */
  private async enterTransaction(record: UserRecord): Promise<void> {
    const ip = this.remoteAddress;
    if (this.closed) return;
    // RFC 1939 §4 / RFC 2449 §8.1.2: one session per maildrop.
    if (!lockMaildrop(this.ctx.store, record.id)) {
      return this.send('-ERR [IN-USE] Maildrop is locked by another POP3 session');
    }
    this.lockedUserId = record.id;
    let maildrop: Maildrop | null;
    try {
      maildrop = await Maildrop.open(this.ctx.store, record.id);
    } catch (err) {
      this.releaseLock();
      throw err;
    }
    if (!maildrop) {
      this.releaseLock();
      return this.send('-ERR [SYS/PERM] The account has no INBOX');
    }
    if (this.closed) return;
    this.state = { kind: 'transaction', user: record, maildrop };
    this.resetTimer();
    this.ctx.log.info({ ip, user: record.name, protocol: 'pop3' }, 'login');
    const { count, octets } = maildrop.stat();
    return this.send(`+OK Logged in; maildrop has ${count} messages (${octets} octets)`);
  }

  private async stls(): Promise<void> {
    if (this.secure) return this.send('-ERR TLS is already active');
    const ctx = this.ctx.secureContext;
    if (!ctx) return this.send('-ERR TLS is not configured');
    await this.send('+OK Begin TLS negotiation');
    if (this.closed) return;
    const raw = this.socket;
    raw.removeAllListeners('data');
    raw.removeAllListeners('end');
    raw.removeAllListeners('close');
    raw.removeAllListeners('error');
    // RFC 2595 §4: commands pipelined after STLS came in the clear and are dropped, and whatever was
    // learnt before (a USER name) is forgotten.
    this.reader.reset();
    this.state = { kind: 'authorization', user: null };
    const secure = new TLSSocket(raw, { isServer: true, secureContext: ctx });
    this.socket = secure;
    this.secure = true;
    this.attach(secure);
    this.readPaused = false;
    raw.resume();
  }

  // ------------------------------------------------------------------ TRANSACTION state

  /** LIST and UIDL: one message with an argument, all not-deleted ones without (RFC 1939 §5, §7). */
  private listing(cmd: Pop3Command, md: Maildrop, value: (m: { size: number; uniqueId: string }) => string): Promise<void> {
    if (cmd.args.length > 1) return this.send(`-ERR ${cmd.name} takes at most one argument`);
    if (cmd.args.length === 1) {
      const msg = parseMessageNumber(cmd.args[0]);
      if (msg === null) return this.send('-ERR Invalid message number');
      const m = md.get(msg);
      if (!m) return this.send(this.noMessage(md, msg));
      return this.send(`+OK ${msg} ${value(m)}`);
    }
    const lines: string[] = [];
    md.messages.forEach((m, i) => {
      if (!m.deleted) lines.push(`${i + 1} ${value(m)}`);
    });
    const head = cmd.name === 'LIST' ? `+OK ${lines.length} messages (${md.stat().octets} octets)` : '+OK Unique-ID listing follows';
    return this.send([head, ...lines, '.'].join('\r\n'));
  }

  private noMessage(md: Maildrop, msg: number): string {
    return md.isDeleted(msg) ? `-ERR Message ${msg} is marked deleted` : `-ERR No message ${msg}`;
  }

  private async retr(cmd: Pop3Command, md: Maildrop): Promise<void> {
    if (cmd.args.length !== 1) return this.send('-ERR RETR takes one argument: a message number');
    const msg = parseMessageNumber(cmd.args[0]);
    if (msg === null) return this.send('-ERR Invalid message number');
    const m = md.get(msg);
    if (!m) return this.send(this.noMessage(md, msg));
    const rec = await this.current(md, m.uid, true);
    if (typeof rec === 'string') return this.send(rec);
    await this.send(`+OK ${m.size} octets`);
    const complete = await this.streamMessage(rec.blobId, rec.size, new MessageEncoder());
    if (complete) m.retrieved = true;
  }

  private async top(cmd: Pop3Command, md: Maildrop): Promise<void> {
    if (cmd.args.length !== 2) return this.send('-ERR TOP takes two arguments: a message number and a line count');
    const msg = parseMessageNumber(cmd.args[0]);
    if (msg === null) return this.send('-ERR Invalid message number');
    const lines = parseLineCount(cmd.args[1]);
    if (lines === null) return this.send('-ERR Invalid line count');
    const m = md.get(msg);
    if (!m) return this.send(this.noMessage(md, msg));
    // TOP n 0 is the header, which a partial message holds as it is; body lines need the whole message.
    const rec = await this.current(md, m.uid, lines > 0);
    if (typeof rec === 'string') return this.send(rec);
    await this.send('+OK Top of message follows');
    await this.streamMessage(rec.blobId, rec.size, new MessageEncoder(lines));
  }

  /**
   * The message as stored now (its content may have been replaced since the maildrop snapshot), or the
   * -ERR line to answer. A partial message of a replica (docs/sync.md) is completed through fetchMissing
   * when `needBody`; without it, or when it fails: -ERR [SYS/TEMP] (RFC 3206 §4: a transient failure).
   */
  private async current(md: Maildrop, uid: number, needBody: boolean): Promise<MessageRecord | string> {
    let [rec] = await this.ctx.store.getMessages(md.mailboxId, [uid]);
    if (!rec) return '-ERR Message was removed by another session';
    if (!needBody || !isPartial(rec.mime)) return rec;
    const hook = this.ctx.fetchMissing;
    const st = this.state;
    if (!hook || st.kind !== 'transaction') {
      return '-ERR [SYS/TEMP] Message content is not downloaded to this replica and no source is configured to fetch it';
    }
    try {
      await hook({ userName: st.user.name, mailboxId: md.mailboxId, mailboxName: 'INBOX', uid });
      [rec] = await this.ctx.store.getMessages(md.mailboxId, [uid]);
      if (!rec) return '-ERR Message was removed by another session';
      if (isPartial(rec.mime)) throw new Error('the content is still incomplete');
      return rec;
    } catch (err) {
      this.ctx.log.warn({ err, uid }, 'POP3: fetching missing message content failed');
      const why = (err instanceof Error && err.message ? err.message : String(err)).replace(/[\r\n]+/g, ' ').slice(0, 200);
      return `-ERR [SYS/TEMP] Message content is not downloaded to this replica and fetching it failed: ${why}`;
    }
  }

  /** Streams a blob as a multi-line response with socket backpressure. False if it could not finish. */
  private async streamMessage(blobId: string, size: number, enc: MessageEncoder): Promise<boolean> {
    try {
      for await (const chunk of this.ctx.store.streamBlob(blobId, 0, size)) {
        if (this.closed) return false;
        const out = enc.push(chunk);
        if (out.length > 0) await this.writeBuffer(out);
        if (enc.done) break;
      }
    } catch (err) {
      // The positive answer is already out: the only honest thing left is to drop the connection.
      this.ctx.log.error({ err, blobId }, 'POP3 message read failed');
      this.fatal(null);
      return false;
    }
    await this.writeBuffer(enc.end());
    return !this.closed;
  }

  private dele(cmd: Pop3Command, md: Maildrop): Promise<void> {
    if (cmd.args.length !== 1) return this.send('-ERR DELE takes one argument: a message number');
    const msg = parseMessageNumber(cmd.args[0]);
    if (msg === null) return this.send('-ERR Invalid message number');
    const m = md.get(msg);
    if (!m) return this.send(this.noMessage(md, msg));
    m.deleted = true;
    return this.send(`+OK Message ${msg} deleted`);
  }

  /** QUIT: in TRANSACTION, enter UPDATE and apply the deletions (RFC 1939 §6). */
  private async quit(): Promise<void> {
    const st = this.state;
    this.state = { kind: 'done' };
    if (st.kind !== 'transaction') {
      await this.send('+OK Petrel POP3 server signing off');
      return;
    }
    try {
      const { expunged } = await st.maildrop.commit(this.ctx.store, this.ctx.markSeen);
      this.ctx.log.info({ user: st.user.name, expunged: expunged.length, protocol: 'pop3' }, 'POP3 update');
      await this.send(`+OK Petrel POP3 server signing off (${expunged.length} messages deleted)`);
    } catch (err) {
      this.ctx.log.error({ err, user: st.user.name }, 'POP3 update failed');
      await this.send('-ERR [SYS/TEMP] Some deleted messages were not removed');
    }
  }

  // ------------------------------------------------------------------ output and teardown

  /** Sends one response (lines joined by CRLF, without the final CRLF). */
  private send(text: string): Promise<void> {
    return this.writeBuffer(Buffer.from(`${text}\r\n`, 'utf8'));
  }

  private writeBuffer(buf: Buffer): Promise<void> {
    if (this.closed) return Promise.resolve();
    if (this.socket.write(buf)) return Promise.resolve();
    const s = this.socket;
    return new Promise((resolve) => {
      const done = (): void => {
        s.off('drain', done);
        s.off('close', done);
        resolve();
      };
      s.on('drain', done);
      s.on('close', done);
    });
  }

  /** Ends the session without entering UPDATE (RFC 1939 §6: no deletions unless QUIT). */
  private fatal(text: string | null): void {
    if (this.closed) return;
    try {
      if (text) this.socket.write(`${text}\r\n`);
    } catch {
      /* ignore */
    }
    this.close();
  }

  private releaseLock(): void {
    if (this.lockedUserId !== null) {
      unlockMaildrop(this.ctx.store, this.lockedUserId);
      this.lockedUserId = null;
    }
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.releaseLock();
    const w = this.wake;
    this.wake = null;
    w?.();
    if (!this.socket.destroyed) {
      this.socket.end();
      setTimeout(() => this.socket.destroy(), 2000).unref();
    }
    this.onClose();
  }
}

const LOCKED_OUT = '-ERR [SYS/TEMP] Too many failed logins; try again later';
const INVALID_CREDENTIALS = '-ERR [AUTH] Invalid credentials';

/** Ends a SASL exchange early with this answer (null: the connection is gone, say nothing). */
class SaslAbort extends Error {
  constructor(readonly answer: string | null) {
    super(answer ?? 'connection closed');
  }
}

const PLAINTEXT_REFUSED = '-ERR [AUTH] Plaintext authentication is disabled here; use STLS or the POP3S port first';

function isLoopback(addr: string): boolean {
  return addr === '::1' || addr.startsWith('127.') || addr.startsWith('::ffff:127.');
}
