// The fetch journal: an append-only file of JSON lines next to the destination, fsynced after every
// record, that makes `petrel fetch` crash-safe (RFC 1733 §3, the offline model: mail is deleted on the
// server only after the local copy is durable). Per message: an "intent" (server id, content hash,
// where it goes) before the write, a "done" after the write and its fsyncs; deletion on the server comes
// only after "done". A kill -9 can leave a torn last line (ignored) and at most one intent without its
// done, which the destination resolves on the next run (found → done; not found → fetched again).
import { open, readFile, type FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';
import { fsyncDir } from './fs-sync.js';

export interface IntentRecord {
  t: 'intent';
  /** Server identity: "<account>#<UIDVALIDITY>.<UID>" (IMAP) or "<account>#<UIDL>" (POP3). */
  id: string;
  /** Hex SHA-256 of the message bytes as fetched. */
  sha: string;
  size: number;
  /** mbox: the file size before the write (a rerun truncates back to it). */
  off?: number;
  /** store: the mailbox's UIDNEXT before the append. */
  uidNext?: number;
}

export interface DoneRecord {
  t: 'done';
  id: string;
  sha: string;
  /** Where the copy is: Maildir file name, mbox offset, or store UID. */
  where?: string | number;
}

export type JournalRecord = IntentRecord | DoneRecord;

export class FetchJournal {
  /** Server ids whose local copy is durable. */
  readonly done = new Map<string, DoneRecord>();
  /** The last intent without a done (at most one: messages are fetched one at a time). */
  pending: IntentRecord | null = null;

  private constructor(
    readonly path: string,
    private fh: FileHandle,
  ) {}

  static async open(path: string): Promise<FetchJournal> {
    let text = '';
    let existed = true;
    try {
      text = await readFile(path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      existed = false;
    }
    const fh = await open(path, 'a', 0o600);
    if (!existed) await fsyncDir(dirname(path));
    const j = new FetchJournal(path, fh);
    for (const line of text.split('\n')) {
      if (line.trim() === '') continue;
      let rec: JournalRecord;
      try {
        rec = JSON.parse(line) as JournalRecord;
      } catch {
        continue; // a line torn by a crash
      }
      if (rec.t === 'intent' && typeof rec.id === 'string') j.pending = rec;
      else if (rec.t === 'done' && typeof rec.id === 'string') {
        j.done.set(rec.id, rec);
        if (j.pending?.id === rec.id) j.pending = null;
      }
    }
    // A torn last line must not glue itself to the next record.
    if (text.length > 0 && !text.endsWith('\n')) await j.fh.write('\n');
    return j;
  }

  async append(rec: JournalRecord): Promise<void> {
    await this.fh.write(JSON.stringify(rec) + '\n');
    await this.fh.sync();
    if (rec.t === 'intent') this.pending = rec;
    else {
      this.done.set(rec.id, rec);
      if (this.pending?.id === rec.id) this.pending = null;
    }
  }

  async close(): Promise<void> {
    await this.fh.close();
  }
}
