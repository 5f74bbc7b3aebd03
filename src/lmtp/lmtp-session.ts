// One LMTP connection (RFC 2033): LHLO instead of EHLO/HELO (§4.1), MAIL/RCPT/DATA/RSET/NOOP/QUIT/VRFY
// (RFC 5321 §4.1.1), one reply per accepted recipient after the final "." (RFC 2033 §4.2), PIPELINING
// (RFC 2920), ENHANCEDSTATUSCODES (RFC 2034, codes from RFC 3463), 8BITMIME (RFC 6152), SIZE (RFC 1870).
// The message is streamed, dot-unstuffed, into one store ingest writer per distinct target mailbox
// (store.beginIngest(), ARCHITECTURE.md decision 3), each with its own Return-Path and Delivered-To
// lines in front; each target is then appended on its own, so one failure gets its own 4xx/5xx. The
// store publishes the change, which is how IDLE sessions learn of the delivery.
import type { Socket } from 'node:net';
import { LIMITS } from '../protocol/limits.js';
import { StoreError, type IngestWriter, type MailboxRecord, type PreparedMessage, type Store, type UserRecord } from '../store/types.js';
import {
  LmtpReader,
  parseCommandLine,
  parseMailFrom,
  parseRcptTo,
  parseSizeParam,
  type LmtpEvent,
  type MailAddress,
} from './lmtp-parser.js';
import { resolveRecipient, type RecipientPolicy } from './recipients.js';

export interface LmtpLogger {
  debug(obj: unknown, msg?: string): void;
  info(obj: unknown, msg?: string): void;
  warn(obj: unknown, msg?: string): void;
  error(obj: unknown, msg?: string): void;
}

export interface LmtpContext {
  store: Store;
  log: LmtpLogger;
  hostname: string;
  maxMessageSize: number;
  maxRecipients: number;
  idleTimeoutMs: number;
  policy: RecipientPolicy;
  /** Octets one account's mailboxes may hold together; null = no limit. */
  quota: number | null;
}

interface Recipient {
  address: MailAddress;
  user: UserRecord;
  mailbox: MailboxRecord;
}

interface Target {
  user: UserRecord;
  mailbox: MailboxRecord;
  /** The first recipient address that led here: it goes into Delivered-To. */
  address: MailAddress;
  writer: IngestWriter | null;
  failed: unknown;
  reply: string | null;
}

const MAX_BUFFERED_INPUT = 1024 * 1024;

/** Octets held in all of an account's mailboxes (the sum of STATUS SIZE, RFC 8438). */
async function accountUsage(store: Store, userId: number): Promise<number> {
  let total = 0;
  for (const mb of await store.listMailboxes(userId)) total += (await store.mailboxStatus(mb.id)).size;
  return total;
}

export class LmtpConnection {
  private readonly reader = new LmtpReader(LIMITS.lmtpMaxLineLength);
  private greeted = false;
  private sender: { address: MailAddress | null } | null = null;
  private recipients: Recipient[] = [];
  private wake: (() => void) | null = null;
  private closed = false;
  private quitting = false;
  private readPaused = false;
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly socket: Socket,
    private readonly ctx: LmtpContext,
    private readonly onClose: () => void,
  ) {}

  start(): void {
    const s = this.socket;
    if (typeof s.setNoDelay === 'function') s.setNoDelay(true);
    s.on('data', (chunk: Buffer) => this.onData(chunk));
    s.on('error', () => this.close());
    s.on('close', () => this.close());
    s.on('end', () => this.close());
    void this.run();
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

  private async nextEvent(): Promise<LmtpEvent | null> {
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
    this.timer = setTimeout(() => {
      try {
        this.socket.write(`421 4.4.2 ${this.ctx.hostname} Timeout; closing connection\r\n`);
      } catch {
        /* ignore */
      }
      this.close();
    }, this.ctx.idleTimeoutMs);
    this.timer.unref();
  }

  private async run(): Promise<void> {
    try {
      await this.send(`220 ${this.ctx.hostname} Petrel LMTP ready`);
      this.resetTimer();
      while (!this.closed && !this.quitting) {
        const ev = await this.nextEvent();
        if (!ev) break;
        if (ev.kind === 'too-long') {
          await this.send('500 5.5.2 Line too long');
          continue;
        }
        if (ev.kind !== 'line') continue; // data events only occur inside DATA
        try {
          await this.command(ev.line);
        } catch (err) {
          this.ctx.log.error({ err }, 'LMTP command failed');
          await this.send('451 4.3.0 Internal error');
        }
        this.resetTimer();
      }
    } catch (err) {
      if (!this.closed) this.ctx.log.error({ err }, 'LMTP connection failure');
    } finally {
      this.close();
    }
  }

  private async command(line: Buffer): Promise<void> {
    const cmd = parseCommandLine(line);
    if (!cmd) return this.send('500 5.5.2 Syntax error');
    switch (cmd.verb) {
      case 'LHLO':
        return this.lhlo(cmd.arg);
      case 'HELO':
      case 'EHLO':
        // RFC 2033 §4.1: never a positive reply, so a misconfigured SMTP client notices.
        return this.send('500 5.5.1 This is an LMTP server; use LHLO');
      case 'MAIL':
        return this.mail(cmd.arg);
      case 'RCPT':
        return this.rcpt(cmd.arg);
      case 'DATA':
        return this.data(cmd.arg);
      case 'RSET':
        this.resetTransaction();
        return this.send('250 2.0.0 OK');
      case 'NOOP':
        return this.send('250 2.0.0 OK');
      case 'VRFY':
        // RFC 5321 §3.5.3: 252 when we will not say whether the user exists.
        return this.send('252 2.5.0 Cannot VRFY user, but will accept message and attempt delivery');
      case 'HELP':
        return this.send('214 2.0.0 Commands: LHLO MAIL RCPT DATA RSET NOOP QUIT VRFY');
      case 'QUIT':
        this.quitting = true;
        return this.send(`221 2.0.0 ${this.ctx.hostname} closing connection`);
      default:
        return this.send(`500 5.5.1 Command not recognized: ${cmd.verb.slice(0, 16)}`);
    }
  }

  private resetTransaction(): void {
    this.sender = null;
    this.recipients = [];
  }

  private lhlo(arg: string): Promise<void> {
    if (arg === '') return this.send('501 5.5.4 LHLO needs a domain or address literal');
    this.greeted = true;
    this.resetTransaction();
    return this.send(
      [
        `250-${this.ctx.hostname}`,
        '250-PIPELINING',
        '250-ENHANCEDSTATUSCODES',
        '250-8BITMIME',
        `250 SIZE ${this.ctx.maxMessageSize}`,
      ].join('\r\n'),
    );
  }

  private mail(arg: string): Promise<void> {
    if (!this.greeted) return this.send('503 5.5.1 Send LHLO first');
    if (this.sender) return this.send('503 5.5.1 Nested MAIL command');
    const r = parseMailFrom(arg);
    if (!r.ok) return this.send(`501 5.5.4 ${r.error}`);
    for (const [key, value] of r.params) {
      if (key === 'SIZE') {
        const size = parseSizeParam(value);
        if (size === null) return this.send('501 5.5.4 Invalid SIZE parameter');
        // RFC 1870 §6.3: a declared size above the fixed maximum is refused at once.
        if (size > this.ctx.maxMessageSize) return this.send('552 5.3.4 Message size exceeds fixed maximum message size');
      } else if (key === 'BODY') {
        const body = (value ?? '').toUpperCase();
        if (body !== '7BIT' && body !== '8BITMIME') return this.send('501 5.5.4 Unsupported BODY type');
      } else {
        return this.send(`555 5.5.4 Unsupported MAIL parameter ${key.slice(0, 20)}`);
      }
    }
    this.sender = { address: r.address };
    return this.send('250 2.1.0 Sender OK');
  }

  private async rcpt(arg: string): Promise<void> {
    if (!this.sender) return this.send('503 5.5.1 Send MAIL first');
    const r = parseRcptTo(arg);
    if (!r.ok) return this.send(`501 5.1.3 ${r.error}`);
    if (r.params.size > 0) return this.send('555 5.5.4 RCPT parameters are not supported');
    const address = r.address!;
    if (this.recipients.length >= this.ctx.maxRecipients) return this.send('452 4.5.3 Too many recipients');
    const res = await resolveRecipient(this.ctx.store, address, this.ctx.policy);
    switch (res.kind) {
      case 'unknown-user':
        return this.send(`550 5.1.1 <${address.text}> User unknown`);
      case 'foreign-domain':
        return this.send(`550 5.1.2 <${address.text}> Domain not served here`);
      case 'no-inbox':
        return this.send(`450 4.2.1 <${address.text}> Mailbox unavailable`);
      case 'ok':
        // Already full: refused before the data is sent (RFC 3463 X.2.2; 552 at RCPT, RFC 5321 §4.5.3.1.10).
        if (this.ctx.quota !== null && (await accountUsage(this.ctx.store, res.user.id)) >= this.ctx.quota) {
          return this.send(`552 5.2.2 <${address.text}> Mailbox full`);
        }
        this.recipients.push({ address, user: res.user, mailbox: res.mailbox });
        return this.send(`250 2.1.5 <${address.text}> Recipient OK`);
    }
  }

  private async data(arg: string): Promise<void> {
    if (arg !== '') return this.send('501 5.5.4 DATA takes no arguments');
    if (!this.sender) return this.send('503 5.5.1 Send MAIL first');
    // RFC 2033 §4.2: no successful RCPT, no DATA.
    if (this.recipients.length === 0) return this.send('503 5.5.1 No valid recipients');
    const sender = this.sender;
    const recipients = this.recipients;
    this.resetTransaction();

    // One ingest per distinct mailbox: a recipient named twice is delivered once (and answered twice).
    const targets = new Map<string, Target>();
    const targetOf: Target[] = [];
    for (const r of recipients) {
      const key = `${r.user.id}:${r.mailbox.id}`;
      let t = targets.get(key);
      if (!t) {
        t = { user: r.user, mailbox: r.mailbox, address: r.address, writer: null, failed: null, reply: null };
        targets.set(key, t);
      }
      targetOf.push(t);
    }
    const returnPath = sender.address ? `<${sender.address.text}>` : '<>';
    for (const t of targets.values()) {
      t.writer = this.ctx.store.beginIngest();
      const prefix = Buffer.from(`Return-Path: ${returnPath}\r\nDelivered-To: ${t.address.text}\r\n`, 'utf8');
      await this.writeTo([t], prefix);
    }

    await this.send('354 Start mail input; end with <CRLF>.<CRLF>');
    this.reader.startData();
    let size = 0;
    let tooBig = false;
    let complete = false;
    for (;;) {
      const ev = await this.nextEvent();
      if (!ev) break;
      if (ev.kind === 'data-end') {
        complete = true;
        break;
      }
      if (ev.kind !== 'data') continue;
      size += ev.chunk.length;
      if (tooBig) continue;
      if (size > this.ctx.maxMessageSize) {
        // Keep reading to the final "." (the client is still sending), but keep nothing.
        tooBig = true;
        await this.abortAll(targets.values());
        continue;
      }
      await this.writeTo([...targets.values()], ev.chunk);
    }
    if (!complete) {
      await this.abortAll(targets.values());
      return;
    }
    if (tooBig) {
      const reply = '552 5.3.4 Message size exceeds fixed maximum message size';
      return this.send(targetOf.map(() => reply).join('\r\n'));
    }
    for (const t of targets.values()) t.reply = await this.deliver(t);
    const replies = targetOf.map((t) => t.reply!);
    this.ctx.log.info(
      { from: returnPath, recipients: recipients.map((r) => r.address.text), size, replies },
      'LMTP delivery',
    );
    return this.send(replies.join('\r\n'));
  }

  private async writeTo(targets: Target[], chunk: Buffer): Promise<void> {
    await Promise.all(
      targets.map(async (t) => {
        if (t.failed || !t.writer) return;
        try {
          await t.writer.write(chunk);
        } catch (err) {
          t.failed = err;
          await t.writer.abort().catch(() => undefined);
        }
      }),
    );
  }

  private async abortAll(targets: Iterable<Target>): Promise<void> {
    for (const t of targets) {
      if (t.writer && !t.failed) {
        t.failed = new Error('aborted');
        await t.writer.abort().catch(() => undefined);
      }
    }
  }

  /** Finishes one target's ingest and appends it; returns the reply for its recipients. */
  private async deliver(t: Target): Promise<string> {
    const to = `<${t.address.text}>`;
    if (t.failed || !t.writer) {
      this.ctx.log.error({ err: t.failed, to }, 'LMTP ingest failed');
      return `451 4.3.0 ${to} Temporary failure storing the message`;
    }
    let prepared: PreparedMessage;
    try {
      prepared = await t.writer.finish();
    } catch (err) {
      this.ctx.log.error({ err, to }, 'LMTP ingest failed');
      return `451 4.3.0 ${to} Temporary failure storing the message`;
    }
    try {
      // Over quota with this message: refused for this recipient alone (RFC 2033 §4.2; RFC 3463 X.2.2
      // "mailbox full", permanent like Dovecot's default). The unreferenced blob is left to the GC.
      if (this.ctx.quota !== null && (await accountUsage(this.ctx.store, t.user.id)) + prepared.size > this.ctx.quota) {
        return `552 5.2.2 ${to} Mailbox full`;
      }
      try {
        await this.ctx.store.append(t.mailbox.id, [{ message: prepared, flags: [] }]);
      } catch (err) {
        // The folder was deleted between RCPT and the final ".": fall back to INBOX.
        if (!(err instanceof StoreError && err.code === 'TRYCREATE') || t.mailbox.name === 'INBOX') throw err;
        const inbox = await this.ctx.store.getMailbox(t.user.id, 'INBOX');
        if (!inbox) throw err;
        await this.ctx.store.append(inbox.id, [{ message: prepared, flags: [] }]);
      }
      return `250 2.0.0 ${to} Delivered`;
    } catch (err) {
      return this.storeFailure(err, to);
    }
  }

  /** Maps store errors to per-recipient replies (RFC 3463 codes). */
  private storeFailure(err: unknown, to: string): string {
    if (err instanceof StoreError) {
      switch (err.code) {
        case 'OVERQUOTA':
          return `552 5.2.2 ${to} Mailbox full`;
        case 'TOOBIG':
          return `552 5.3.4 ${to} Message too big for this mailbox`;
        case 'LIMIT':
          return `452 4.2.2 ${to} Mailbox limit reached`;
        case 'NONEXISTENT':
        case 'TRYCREATE':
          return `450 4.2.1 ${to} Mailbox unavailable`;
        default:
          break;
      }
    }
    this.ctx.log.error({ err, to }, 'LMTP append failed');
    return `451 4.3.0 ${to} Temporary failure storing the message`;
  }

  private send(text: string): Promise<void> {
    if (this.closed) return Promise.resolve();
    const s = this.socket;
    if (s.write(`${text}\r\n`)) return Promise.resolve();
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

  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
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
