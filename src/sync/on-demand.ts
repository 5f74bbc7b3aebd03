// Fetching on demand what selective download left on the server (issue 5, item 4; docs/sync.md
// "Partial messages"). A replica message stored as headers + BODYSTRUCTURE (+ small text parts) is
// completed the first time something needs the rest: the library (ReplicaReader.getMessage) or a local
// mail client through `petrel serve --data REPLICA` (the server's fetchMissing hook). The remote message
// is found through the sync state's UID pair, checked against the pair's UIDVALIDITY (RFC 9051
// §2.3.1.1), downloaded with BODY.PEEK[] (so \Seen is not set, §6.4.5), and stored with
// Store.replaceContent: same UID, flags and mod-sequence, full bytes from then on (cached).
import type { ImapClient } from '../client/imap-client.js';
import { isPartial } from '../mime/partial.js';
import type { Store } from '../store/types.js';
import { connectRemote } from './remote.js';
import { openReplica, type Replica } from './replica.js';
import { SyncState } from './state.js';
import type { AccountSettings } from './types.js';

export interface FetchMissingRequest {
  mailboxId: number;
  uid: number;
  signal?: AbortSignal;
}

/**
 * Completes partial messages of one replica from its server. One connection, opened when first needed and
 * reused; requests are served one at a time.
 */
export class ContentFetcher {
  private client: ImapClient | null = null;
  private selected: string | null = null;
  private chain: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly replicaDir: string,
    private readonly store: Store,
    private readonly account: AccountSettings,
  ) {}

  /** Downloads the full message and stores it; rejects with a readable reason when it cannot. */
  fetchMissing(req: FetchMissingRequest): Promise<void> {
    const next = this.chain.then(() => this.fill(req));
    this.chain = next.catch(() => undefined);
    return next;
  }

  private async fill(req: FetchMissingRequest): Promise<void> {
    const [msg] = await this.store.getMessages(req.mailboxId, [req.uid]);
    if (!msg) throw new Error('the message no longer exists in the replica');
    if (!isPartial(msg.mime)) return; // completed meanwhile
    const mailbox = await this.store.getMailboxById(req.mailboxId);
    if (!mailbox) throw new Error('the mailbox no longer exists in the replica');
    const state = SyncState.open(this.replicaDir);
    let remoteName: string;
    let uidValidity: number;
    let remoteUid: number | undefined;
    try {
      const pair = state.pair(mailbox.objectId);
      if (!pair) throw new Error('the mailbox is not synchronised with a server');
      remoteName = pair.remoteName;
      uidValidity = pair.uidValidity;
      remoteUid = state.messages(mailbox.objectId).find((m) => m.localUid === req.uid)?.remoteUid;
    } finally {
      state.close();
    }
    if (remoteUid === undefined) throw new Error('the message is not paired with one on the server');
    const client = await this.connection(req.signal);
    try {
      if (this.selected !== remoteName) {
        const sel = await client.examine(remoteName);
        this.selected = remoteName;
        if (sel.uidValidity !== uidValidity) throw new Error('the server mailbox changed (UIDVALIDITY); run petrel sync first');
      }
      const m = await client.fetchOne(remoteUid, { uid: true, size: true, sections: [{ section: '', peek: true }] }, { uid: true });
      const data = m?.sections.find((s) => s.section === '')?.data;
      if (!m || !data) throw new Error('the message was expunged on the server');
      if (data.length !== msg.size) throw new Error(`the server sent ${data.length} bytes where ${msg.size} were announced`);
      const prepared = await this.store.prepare(data);
      await this.store.replaceContent(req.mailboxId, req.uid, prepared);
    } catch (err) {
      // A broken connection is replaced next time; a NO/BAD leaves it usable.
      if (client.closed) {
        this.client = null;
        this.selected = null;
      }
      throw err;
    }
  }

  private async connection(signal?: AbortSignal): Promise<ImapClient> {
    if (this.client && !this.client.closed) return this.client;
    this.selected = null;
    try {
      this.client = await connectRemote(this.account, new Set(), signal);
    } catch (err) {
      throw new Error(`the server is unreachable (${err instanceof Error ? err.message : String(err)})`);
    }
    return this.client;
  }

  async close(): Promise<void> {
    const c = this.client;
    this.client = null;
    if (c) await c.logout().catch(() => undefined);
  }
}

/**
 * The replica as a library (the disconnected model for applications): read messages whether or not
 * they were fully downloaded; what is missing comes from the server when it is reachable, then stays.
 */
export class ReplicaReader {
  private constructor(
    readonly replica: Replica,
    private readonly fetcher: ContentFetcher | null,
  ) {}

  /** Opens the replica; `account` (with password) enables fetching on demand. */
  static async open(replicaDir: string, userName: string, account?: AccountSettings): Promise<ReplicaReader> {
    const replica = await openReplica(replicaDir, { userName });
    return new ReplicaReader(replica, account ? new ContentFetcher(replicaDir, replica.store, account) : null);
  }

  get store(): Store {
    return this.replica.store;
  }

  /** The whole message, downloading it first if the replica holds only part of it. */
  async getMessage(mailboxName: string, uid: number, signal?: AbortSignal): Promise<Buffer> {
    const mb = await this.store.getMailbox(this.replica.user.id, mailboxName);
    if (!mb) throw new Error(`no mailbox ${mailboxName} in the replica`);
    let [msg] = await this.store.getMessages(mb.id, [uid]);
    if (!msg) throw new Error(`no message ${uid} in ${mailboxName}`);
    if (isPartial(msg.mime)) {
      if (!this.fetcher) throw new Error('the message was not downloaded and no account was given to fetch it');
      await this.fetcher.fetchMissing({ mailboxId: mb.id, uid, ...(signal ? { signal } : {}) });
      [msg] = await this.store.getMessages(mb.id, [uid]);
      if (!msg) throw new Error(`message ${uid} vanished`);
    }
    return this.store.readBlob(msg.blobId, 0, msg.size);
  }

  /** Whether the replica holds the whole message. */
  async isComplete(mailboxName: string, uid: number): Promise<boolean> {
    const mb = await this.store.getMailbox(this.replica.user.id, mailboxName);
    const [msg] = mb ? await this.store.getMessages(mb.id, [uid]) : [];
    return msg !== undefined && !isPartial(msg.mime);
  }

  async close(): Promise<void> {
    await this.fetcher?.close();
    await this.replica.close();
  }
}
