// Where `petrel fetch` puts mail: a Maildir (https://cr.yp.to/proto/maildir.html: tmp/ → fsync → rename
// into new/ → fsync new/), an mbox file (RFC 4155, mboxrd quoting, appended and fsynced), or a Petrel store
// (the one ingest path, ARCHITECTURE.md decision 3). Each destination can tell, after a crash, whether the
// message of a pending journal intent made it in (see journal.ts):
//   maildir: the file name carries a hash of the server id (".F<hash>."), and a file only appears in new/
//            once complete, so "found" means "complete";
//   mbox:    the intent records the file size before the write; the file is truncated back to it;
//   store:   the intent records the mailbox's UIDNEXT and the content hash; a message at or above that
//            UID with that blob (blobs are content-addressed, SHA-256) is the one written.
import { createHash } from 'node:crypto';
import { hostname } from 'node:os';
import { mkdir, open, readdir, rename, stat, truncate, unlink } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { MboxEntryEncoder } from '../mailfile/mbox-writer.js';
import type { Store } from '../store/types.js';
import { fsyncDir } from './fs-sync.js';
import type { IntentRecord } from './journal.js';

export interface IncomingMessage {
  /** Server identity (journal key). */
  id: string;
  data: Buffer;
  /** Hex SHA-256 of data. */
  sha: string;
  /** ms since the epoch (IMAP INTERNALDATE), when known. */
  internalDate?: number;
}

export interface Destination {
  readonly kind: 'maildir' | 'mbox' | 'store';
  /** Human-readable description for messages and the summary. */
  readonly label: string;
  /** The journal file for this destination. */
  readonly journalPath: string;
  /** Creates what is missing (directories, the file). */
  init(): Promise<void>;
  /** Fields the intent must carry (mbox offset, store UIDNEXT). */
  intentFields(): Promise<Pick<IntentRecord, 'off' | 'uidNext'>>;
  /** After a crash: whether the pending intent's message is completely in; cleans partial leftovers. */
  recover(pending: IntentRecord): Promise<{ found: boolean; where?: string | number }>;
  /** Writes one message durably (data and directory entry fsynced). Returns where it went. */
  write(msg: IncomingMessage): Promise<string | number>;
  close(): Promise<void>;
}

export function sha256(data: Buffer | string): string {
  return createHash('sha256').update(data).digest('hex');
}

/** The part of a Maildir file name that identifies the server message. */
export function maildirIdTag(id: string): string {
  return `.F${sha256(id).slice(0, 24)}.`;
}

function maildirHost(): string {
  return (hostname() || 'localhost').replace(/\//g, '\\057').replace(/:/g, '\\072').replace(/,/g, '\\054');
}

export class MaildirDestination implements Destination {
  readonly kind = 'maildir' as const;
  readonly label: string;
  readonly journalPath: string;
  private seq = 0;
  private readonly host = maildirHost();

  constructor(readonly dir: string) {
    this.dir = resolve(dir);
    this.label = `maildir:${this.dir}`;
    this.journalPath = join(this.dir, 'petrel-fetch.journal');
  }

  async init(): Promise<void> {
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
    for (const d of ['cur', 'new', 'tmp']) await mkdir(join(this.dir, d), { recursive: true, mode: 0o700 });
    await fsyncDir(this.dir);
    await fsyncDir(dirname(this.dir));
  }

  async intentFields(): Promise<Pick<IntentRecord, 'off' | 'uidNext'>> {
    return {};
  }

  async recover(pending: IntentRecord): Promise<{ found: boolean; where?: string | number }> {
    const tag = maildirIdTag(pending.id);
    // Partial files of ours in tmp/ are dropped; a file in new/ or cur/ is complete (renamed after fsync).
    for (const name of await readdir(join(this.dir, 'tmp'))) {
      if (name.includes(tag)) await unlink(join(this.dir, 'tmp', name)).catch(() => undefined);
    }
    for (const d of ['new', 'cur']) {
      for (const name of await readdir(join(this.dir, d))) {
        if (name.includes(tag)) {
          await fsyncDir(join(this.dir, d));
          return { found: true, where: `${d}/${name}` };
        }
      }
    }
    return { found: false };
  }

  async write(msg: IncomingMessage): Promise<string> {
    const seconds = Math.floor(Date.now() / 1000);
    const unique = `${seconds}.P${process.pid}Q${this.seq++}${maildirIdTag(msg.id)}${this.host},S=${msg.data.length}`;
    const tmp = join(this.dir, 'tmp', unique);
    const fh = await open(tmp, 'w', 0o600);
    try {
      await fh.writeFile(msg.data);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, join(this.dir, 'new', unique));
    await fsyncDir(join(this.dir, 'new'));
    return `new/${unique}`;
  }

  async close(): Promise<void> {}
}

export class MboxDestination implements Destination {
  readonly kind = 'mbox' as const;
  readonly label: string;
  readonly journalPath: string;

  constructor(readonly file: string) {
    this.file = resolve(file);
    this.label = `mbox:${this.file}`;
    this.journalPath = join(dirname(this.file), `.${basename(this.file)}.petrel-fetch.journal`);
  }

  async init(): Promise<void> {
    await mkdir(dirname(this.file), { recursive: true, mode: 0o700 });
    const fh = await open(this.file, 'a', 0o600);
    await fh.sync();
    await fh.close();
    await fsyncDir(dirname(this.file));
  }

  private async size(): Promise<number> {
    return (await stat(this.file)).size;
  }

  async intentFields(): Promise<Pick<IntentRecord, 'off' | 'uidNext'>> {
    return { off: await this.size() };
  }

  async recover(pending: IntentRecord): Promise<{ found: boolean }> {
    // Whatever was appended after the intent (all, part or none of the entry) is cut off; the message is
    // fetched again. Only this run's own bytes are cut: the offset was taken under the same journal.
    if (pending.off !== undefined && (await this.size()) > pending.off) {
      await truncate(this.file, pending.off);
      const fh = await open(this.file, 'r+');
      try {
        await fh.sync();
      } finally {
        await fh.close();
      }
    }
    return { found: false };
  }

  async write(msg: IncomingMessage): Promise<number> {
    const enc = new MboxEntryEncoder({ format: 'mboxrd', lineEndings: 'lf', flags: [], internalDate: msg.internalDate ?? Date.now() });
    const entry = Buffer.concat([enc.push(msg.data), enc.finish()]);
    const fh = await open(this.file, 'a');
    try {
      const off = (await fh.stat()).size;
      await fh.write(entry);
      await fh.sync();
      return off;
    } finally {
      await fh.close();
    }
  }

  async close(): Promise<void> {}
}

export class StoreDestination implements Destination {
  readonly kind = 'store' as const;
  readonly label: string;
  readonly journalPath: string;
  private mailboxId = 0;

  constructor(
    readonly dir: string,
    private readonly store: Store,
    private readonly user: string,
    private readonly mailbox: string,
  ) {
    this.dir = resolve(dir);
    this.label = `store:${this.dir} (${user}/${mailbox})`;
    this.journalPath = join(this.dir, 'petrel-fetch.journal');
  }

  async init(): Promise<void> {
    const user = await this.store.getUser(this.user);
    if (!user) throw new Error(`no user "${this.user}" in the store at ${this.dir}`);
    let mb = await this.store.getMailbox(user.id, this.mailbox);
    if (!mb) mb = await this.store.createMailbox(user.id, this.mailbox);
    this.mailboxId = mb.id;
  }

  async intentFields(): Promise<Pick<IntentRecord, 'off' | 'uidNext'>> {
    return { uidNext: (await this.store.mailboxStatus(this.mailboxId)).uidNext };
  }

  async recover(pending: IntentRecord): Promise<{ found: boolean; where?: number }> {
    const from = pending.uidNext ?? 1;
    const hit = (await this.store.listMessages(this.mailboxId)).find(
      (m) => m.uid >= from && m.blobId === pending.sha && m.size === pending.size,
    );
    return hit ? { found: true, where: hit.uid } : { found: false };
  }

  async write(msg: IncomingMessage): Promise<number> {
    // prepare() fsyncs the blob; append() commits the metadata (SQLite WAL, synchronous commit).
    const prepared = await this.store.prepare(msg.data);
    const item = msg.internalDate !== undefined ? { message: prepared, flags: [], internalDate: msg.internalDate } : { message: prepared, flags: [] };
    const res = await this.store.append(this.mailboxId, [item]);
    return res.uids[0] ?? 0;
  }

  async close(): Promise<void> {}
}

/** Parses "maildir:DIR", "mbox:FILE" or "store:DIR". */
export function parseDestinationSpec(spec: string): { kind: 'maildir' | 'mbox' | 'store'; path: string } {
  const m = /^(maildir|mbox|store):(.+)$/.exec(spec);
  if (!m) throw new Error(`--to must be maildir:DIR, mbox:FILE or store:DIR (got "${spec}")`);
  return { kind: m[1] as 'maildir' | 'mbox' | 'store', path: m[2]! };
}
