// The remote side of `petrel fetch` (RFC 1733 §3, offline model): a POP3 maildrop (RFC 1939; identity =
// UIDL, §7) or an IMAP mailbox (RFC 9051; identity = UIDVALIDITY + UID, §2.3.1.1). Deletion follows each
// protocol's rules: POP3 DELE takes effect only at QUIT (§6 UPDATE state); IMAP sets \Deleted and
// removes the message with UID EXPUNGE when UIDPLUS is offered (RFC 4315 §2.1), else with one EXPUNGE at
// the end (which also removes anything else already marked \Deleted — the meaning of that flag).
import { ImapClient } from '../client/index.js';
import { Pop3Client, type Pop3Tls } from './pop3-client.js';

export interface RemoteMessage {
  /** Journal key: account + server identity. */
  id: string;
  size: number;
  /** ms since the epoch, when the server says (IMAP INTERNALDATE). */
  internalDate?: number;
}

export interface RemoteSource {
  readonly label: string;
  /** The messages now on the server, in server order. */
  list(): Promise<RemoteMessage[]>;
  /** The whole message, or null when it is gone. */
  download(m: RemoteMessage): Promise<Buffer | null>;
  /** Marks for deletion (and removes it at once where the protocol allows). */
  remove(m: RemoteMessage): Promise<void>;
  /** Makes the deletions take effect and logs out. */
  finish(): Promise<void>;
  /** Drops the connection without committing anything further. */
  abort(): void;
}

export interface AccountSettings {
  protocol: 'pop3' | 'imap';
  host: string;
  port: number;
  tls: Pop3Tls;
  user: string;
  password: string;
  mailbox: string;
  insecure: boolean;
}

function accountKey(a: AccountSettings): string {
  const mb = a.protocol === 'imap' ? `/${a.mailbox}` : '';
  return `${a.protocol}://${encodeURIComponent(a.user)}@${a.host}:${a.port}${mb}`;
}

export async function openSource(a: AccountSettings): Promise<RemoteSource> {
  return a.protocol === 'pop3' ? Pop3Source.open(a) : ImapSource.open(a);
}

class Pop3Source implements RemoteSource {
  private readonly numbers = new Map<string, number>();
  private constructor(
    private readonly client: Pop3Client,
    readonly label: string,
  ) {}

  static async open(a: AccountSettings): Promise<Pop3Source> {
    const client = await Pop3Client.connect({ host: a.host, port: a.port, tls: a.tls, rejectUnauthorized: !a.insecure });
    try {
      await client.login(a.user, a.password);
    } catch (err) {
      client.destroy();
      throw err;
    }
    return new Pop3Source(client, accountKey(a));
  }

  async list(): Promise<RemoteMessage[]> {
    const sizes = await this.client.list();
    const uidl = await this.client.uidl();
    const out: RemoteMessage[] = [];
    for (const [n, size] of sizes) {
      const uid = uidl.get(n);
      if (uid === undefined) throw new Error(`the POP3 server gave no UIDL for message ${n}`);
      const id = `${this.label}#${uid}`;
      this.numbers.set(id, n);
      out.push({ id, size });
    }
    return out;
  }

  async download(m: RemoteMessage): Promise<Buffer | null> {
    const n = this.numbers.get(m.id);
    return n === undefined ? null : this.client.retr(n);
  }

  async remove(m: RemoteMessage): Promise<void> {
    const n = this.numbers.get(m.id);
    if (n !== undefined) await this.client.dele(n);
  }

  async finish(): Promise<void> {
    await this.client.quit();
  }

  abort(): void {
    this.client.destroy();
  }
}

class ImapSource implements RemoteSource {
  private readonly uids = new Map<string, number>();
  private pendingExpunge = false;

  private constructor(
    private readonly client: ImapClient,
    readonly label: string,
    private readonly mailbox: string,
    private uidValidity = 0,
    private exists = 0,
  ) {}

  static async open(a: AccountSettings): Promise<ImapSource> {
    const client = await ImapClient.connect({
      host: a.host,
      port: a.port,
      tls: a.tls,
      rejectUnauthorized: !a.insecure,
      auth: { user: a.user, password: a.password },
      enable: [],
    });
    try {
      const sel = await client.select(a.mailbox);
      return new ImapSource(client, accountKey(a), a.mailbox, sel.uidValidity, sel.exists);
    } catch (err) {
      client.destroy();
      throw err;
    }
  }

  async list(): Promise<RemoteMessage[]> {
    if (this.exists === 0) return [];
    const out: RemoteMessage[] = [];
    for (const m of await this.client.fetchAll('1:*', { uid: true, size: true, internalDate: true })) {
      if (m.uid === undefined) continue;
      const id = `${this.label}#${this.uidValidity}.${m.uid}`;
      this.uids.set(id, m.uid);
      const r: RemoteMessage = { id, size: m.size ?? 0 };
      if (m.internalDate) r.internalDate = m.internalDate.getTime();
      out.push(r);
    }
    out.sort((x, y) => this.uids.get(x.id)! - this.uids.get(y.id)!);
    return out;
  }

  async download(m: RemoteMessage): Promise<Buffer | null> {
    const uid = this.uids.get(m.id);
    if (uid === undefined) return null;
    const res = await this.client.download(uid);
    if (!res) return null;
    const chunks: Buffer[] = [];
    for await (const c of res.content) chunks.push(c as Buffer);
    return Buffer.concat(chunks);
  }

  async remove(m: RemoteMessage): Promise<void> {
    const uid = this.uids.get(m.id);
    if (uid === undefined) return;
    await this.client.store(uid, ['\\Deleted'], { uid: true, mode: 'add', silent: true });
    if (this.client.has('UIDPLUS')) await this.client.uidExpunge(uid);
    else this.pendingExpunge = true;
  }

  async finish(): Promise<void> {
    if (this.pendingExpunge) await this.client.expunge();
    void this.mailbox;
    await this.client.logout();
  }

  abort(): void {
    this.client.destroy();
  }
}
