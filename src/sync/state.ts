// The replica's sync state (ARCHITECTURE.md decision 10): per mailbox pair the remote UIDVALIDITY,
// UIDNEXT and HIGHESTMODSEQ (RFC 7162 §3.1.2.1) last agreed on, the local mod-sequence up to which local
// changes were reconciled, and per message the local↔remote UID pair with the base flags both sides last
// agreed on (the common ancestor of the three-way merge). Intents are written before every step whose
// outcome a crash could hide (an APPEND, a MOVE, a local append of a download), so a rerun can pair
// what was done instead of doing it twice.
//
// It lives in its own SQLite file (sync.db) next to the store, owned by the sync engine: the store
// interface stays free of client concerns, and every write here is a small synchronous transaction with
// synchronous=FULL, so "acknowledged means durable" holds for sync steps too.
import Database from 'better-sqlite3';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

export interface MailboxPair {
  /** Local MailboxRecord.objectId: stable across local renames. */
  localId: string;
  localName: string;
  remoteName: string;
  /** RFC 8474 MAILBOXID of the remote mailbox, when the server has OBJECTID. */
  remoteId: string | null;
  uidValidity: number;
  /** Every remote message below this UID has been seen (downloaded, paired, or deliberately skipped). */
  uidNext: number;
  /** Remote HIGHESTMODSEQ at the start of the last completed sync of this mailbox (0: none). */
  highestModSeq: number;
  /** Local highest mod-sequence at the start of the last completed sync of this mailbox. */
  localModSeq: number;
  /** The remote mailbox may not be changed (EXAMINE-only or no write rights): state stays local. */
  readOnly: boolean;
}

export interface MessagePair {
  localUid: number;
  remoteUid: number;
  /** Flags both sides last agreed on, sorted, without \Recent. */
  base: string[];
  /** Content identity: the local blob id (SHA-256 of the bytes) — kept so a local MOVE can be recognised after the source is gone. */
  blobId: string;
  size: number;
  /** RFC 8474 EMAILID on the remote, when offered. */
  remoteEmailId: string | null;
}

export type IntentKind = 'upload' | 'download' | 'move' | 'copy';

export interface Intent {
  id: number;
  kind: IntentKind;
  /** Mailbox pair the new message lands in (destination for move/copy). */
  localId: string;
  /** upload/move/copy: the local message in the destination. download: the local UID watermark before appending. */
  localUid: number;
  /** download: the remote UID; move/copy: the source remote UID. */
  remoteUid: number;
  /** move/copy: the source mailbox pair. */
  sourceLocalId: string | null;
  blobId: string;
  size: number;
  /** upload/move/copy: the destination's remote UIDNEXT before the command. */
  remoteUidNext: number;
  flags: string[];
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) STRICT;
CREATE TABLE IF NOT EXISTS mailboxes (
  local_id       TEXT PRIMARY KEY,
  local_name     TEXT NOT NULL,
  remote_name    TEXT NOT NULL,
  remote_id      TEXT,
  uid_validity   INTEGER NOT NULL,
  uid_next       INTEGER NOT NULL,
  highest_modseq INTEGER NOT NULL,
  local_modseq   INTEGER NOT NULL,
  read_only      INTEGER NOT NULL DEFAULT 0
) STRICT;
CREATE TABLE IF NOT EXISTS messages (
  local_id        TEXT NOT NULL,
  local_uid       INTEGER NOT NULL,
  remote_uid      INTEGER NOT NULL,
  base            TEXT NOT NULL,
  blob_id         TEXT NOT NULL,
  size            INTEGER NOT NULL,
  remote_email_id TEXT,
  PRIMARY KEY (local_id, local_uid)
) STRICT;
CREATE UNIQUE INDEX IF NOT EXISTS messages_remote ON messages(local_id, remote_uid);
CREATE INDEX IF NOT EXISTS messages_blob ON messages(blob_id);
CREATE TABLE IF NOT EXISTS intents (
  id              INTEGER PRIMARY KEY AUTOINCREMENT,
  kind            TEXT NOT NULL,
  local_id        TEXT NOT NULL,
  local_uid       INTEGER NOT NULL,
  remote_uid      INTEGER NOT NULL,
  source_local_id TEXT,
  blob_id         TEXT NOT NULL,
  size            INTEGER NOT NULL,
  remote_uid_next INTEGER NOT NULL,
  flags           TEXT NOT NULL
) STRICT;
`;

interface PairRow {
  local_id: string;
  local_name: string;
  remote_name: string;
  remote_id: string | null;
  uid_validity: number;
  uid_next: number;
  highest_modseq: number;
  local_modseq: number;
  read_only: number;
}

interface MessageRow {
  local_uid: number;
  remote_uid: number;
  base: string;
  blob_id: string;
  size: number;
  remote_email_id: string | null;
}

interface IntentRow {
  id: number;
  kind: string;
  local_id: string;
  local_uid: number;
  remote_uid: number;
  source_local_id: string | null;
  blob_id: string;
  size: number;
  remote_uid_next: number;
  flags: string;
}

function splitFlags(s: string): string[] {
  return s === '' ? [] : s.split(' ');
}

function toPair(r: PairRow): MailboxPair {
  return {
    localId: r.local_id,
    localName: r.local_name,
    remoteName: r.remote_name,
    remoteId: r.remote_id,
    uidValidity: r.uid_validity,
    uidNext: r.uid_next,
    highestModSeq: r.highest_modseq,
    localModSeq: r.local_modseq,
    readOnly: r.read_only === 1,
  };
}

function toMessage(r: MessageRow): MessagePair {
  return {
    localUid: r.local_uid,
    remoteUid: r.remote_uid,
    base: splitFlags(r.base),
    blobId: r.blob_id,
    size: r.size,
    remoteEmailId: r.remote_email_id,
  };
}

function toIntent(r: IntentRow): Intent {
  return {
    id: r.id,
    kind: r.kind as IntentKind,
    localId: r.local_id,
    localUid: r.local_uid,
    remoteUid: r.remote_uid,
    sourceLocalId: r.source_local_id,
    blobId: r.blob_id,
    size: r.size,
    remoteUidNext: r.remote_uid_next,
    flags: splitFlags(r.flags),
  };
}

export class SyncState {
  private readonly db: Database.Database;

  private constructor(db: Database.Database) {
    this.db = db;
  }

  static open(replicaDir: string): SyncState {
    const db = new Database(join(replicaDir, 'sync.db'));
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = FULL');
    db.pragma('busy_timeout = 10000');
    db.exec(SCHEMA);
    return new SyncState(db);
  }

  close(): void {
    this.db.close();
  }

  /** Runs `fn` in one transaction. */
  tx<T>(fn: () => T): T {
    return this.db.transaction(fn)();
  }

  getMeta(key: string): string | null {
    const row = this.db.prepare('SELECT value FROM meta WHERE key = ?').get(key) as { value: string } | undefined;
    return row ? row.value : null;
  }

  setMeta(key: string, value: string): void {
    this.db.prepare('INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value').run(key, value);
  }

  // ---- mailbox pairs

  pairs(): MailboxPair[] {
    return (this.db.prepare('SELECT * FROM mailboxes ORDER BY local_name').all() as PairRow[]).map(toPair);
  }

  pair(localId: string): MailboxPair | null {
    const row = this.db.prepare('SELECT * FROM mailboxes WHERE local_id = ?').get(localId) as PairRow | undefined;
    return row ? toPair(row) : null;
  }

  putPair(p: MailboxPair): void {
    this.db
      .prepare(
        `INSERT INTO mailboxes (local_id, local_name, remote_name, remote_id, uid_validity, uid_next, highest_modseq, local_modseq, read_only)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT(local_id) DO UPDATE SET local_name = excluded.local_name, remote_name = excluded.remote_name,
           remote_id = excluded.remote_id, uid_validity = excluded.uid_validity, uid_next = excluded.uid_next,
           highest_modseq = excluded.highest_modseq, local_modseq = excluded.local_modseq, read_only = excluded.read_only`,
      )
      .run(p.localId, p.localName, p.remoteName, p.remoteId, p.uidValidity, p.uidNext, p.highestModSeq, p.localModSeq, p.readOnly ? 1 : 0);
  }

  /** Forgets a mailbox pair with its message pairs and intents. */
  dropPair(localId: string): void {
    this.tx(() => {
      this.db.prepare('DELETE FROM messages WHERE local_id = ?').run(localId);
      this.db.prepare('DELETE FROM intents WHERE local_id = ? OR source_local_id = ?').run(localId, localId);
      this.db.prepare('DELETE FROM mailboxes WHERE local_id = ?').run(localId);
    });
  }

  // ---- message pairs

  messages(localId: string): MessagePair[] {
    return (this.db.prepare('SELECT local_uid, remote_uid, base, blob_id, size, remote_email_id FROM messages WHERE local_id = ? ORDER BY local_uid').all(localId) as MessageRow[]).map(
      toMessage,
    );
  }

  putMessage(localId: string, m: MessagePair): void {
    this.db
      .prepare(
        `INSERT INTO messages (local_id, local_uid, remote_uid, base, blob_id, size, remote_email_id) VALUES (?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT(local_id, local_uid) DO UPDATE SET remote_uid = excluded.remote_uid, base = excluded.base,
           blob_id = excluded.blob_id, size = excluded.size, remote_email_id = excluded.remote_email_id`,
      )
      .run(localId, m.localUid, m.remoteUid, m.base.join(' '), m.blobId, m.size, m.remoteEmailId);
  }

  setBase(localId: string, localUid: number, base: readonly string[]): void {
    this.db.prepare('UPDATE messages SET base = ? WHERE local_id = ? AND local_uid = ?').run(base.join(' '), localId, localUid);
  }

  dropMessage(localId: string, localUid: number): void {
    this.db.prepare('DELETE FROM messages WHERE local_id = ? AND local_uid = ?').run(localId, localUid);
  }

  dropAllMessages(localId: string): void {
    this.db.prepare('DELETE FROM messages WHERE local_id = ?').run(localId);
  }

  // ---- intents

  addIntent(i: Omit<Intent, 'id'>): number {
    const info = this.db
      .prepare(
        `INSERT INTO intents (kind, local_id, local_uid, remote_uid, source_local_id, blob_id, size, remote_uid_next, flags)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      )
      .run(i.kind, i.localId, i.localUid, i.remoteUid, i.sourceLocalId, i.blobId, i.size, i.remoteUidNext, i.flags.join(' '));
    return Number(info.lastInsertRowid);
  }

  intents(localId?: string): Intent[] {
    const rows = (
      localId === undefined
        ? this.db.prepare('SELECT * FROM intents ORDER BY id').all()
        : this.db.prepare('SELECT * FROM intents WHERE local_id = ? ORDER BY id').all(localId)
    ) as IntentRow[];
    return rows.map(toIntent);
  }

  dropIntent(id: number): void {
    this.db.prepare('DELETE FROM intents WHERE id = ?').run(id);
  }
}

/** The account a replica was last synchronised with (host, port, TLS mode, user; never a password), or null. */
export function storedAccount(replicaDir: string): { host?: string; port?: number; tls?: string; user?: string } | null {
  const file = join(replicaDir, 'sync.db');
  if (!existsSync(file)) return null;
  const db = new Database(file, { readonly: true, fileMustExist: true });
  try {
    const row = db.prepare("SELECT value FROM meta WHERE key = 'account'").get() as { value: string } | undefined;
    if (!row) return null;
    const v = JSON.parse(row.value) as Record<string, unknown>;
    return {
      ...(typeof v.host === 'string' ? { host: v.host } : {}),
      ...(typeof v.port === 'number' ? { port: v.port } : {}),
      ...(typeof v.tls === 'string' ? { tls: v.tls } : {}),
      ...(typeof v.user === 'string' ? { user: v.user } : {}),
    };
  } catch {
    return null;
  } finally {
    db.close();
  }
}
