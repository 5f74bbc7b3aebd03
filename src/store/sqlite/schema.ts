// SQLite schema of the embedded store, with numbered migrations (a schema_version row says how many
// have been applied). Carries from the start what quick resync needs: a per-message MODSEQ and a log of
// expunged UIDs (RFC 7162 §3.1, §3.2.5 VANISHED), OBJECTIDs (RFC 8474), SAVEDATE (RFC 8514).
// Counters kept by triggers make STATUS (RFC 9051 §6.3.11, RFC 8438 SIZE) O(1) and keep blob
// reference counts exact whatever statement adds or removes a message.
import type BetterSqlite3 from 'better-sqlite3';

/** SQLite expression for the current time in ms since the epoch. */
const NOW_MS = `CAST((julianday('now') - 2440587.5) * 86400000.0 AS INTEGER)`;

const V1 = `
CREATE TABLE meta (
  key   TEXT PRIMARY KEY,
  value ANY NOT NULL
) STRICT;

-- AUTOINCREMENT: ids of deleted users and mailboxes are never handed out again, so a session or a
-- watcher holding an old id can never reach a newer mailbox.
CREATE TABLE users (
  id            INTEGER PRIMARY KEY AUTOINCREMENT,
  name          TEXT NOT NULL UNIQUE,
  password_hash TEXT NOT NULL,
  created_at    INTEGER NOT NULL
) STRICT;

CREATE TABLE mailboxes (
  id             INTEGER PRIMARY KEY AUTOINCREMENT,
  user_id        INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  name           TEXT NOT NULL,
  uid_validity   INTEGER NOT NULL UNIQUE,
  uid_next       INTEGER NOT NULL DEFAULT 1,
  highest_modseq INTEGER NOT NULL DEFAULT 1,
  -- messages with uid >= recent_uid are \\Recent for the next session that claims them
  recent_uid     INTEGER NOT NULL DEFAULT 1,
  special_use    TEXT,
  object_id      TEXT NOT NULL UNIQUE,
  created_at     INTEGER NOT NULL,
  -- maintained by the triggers below
  messages       INTEGER NOT NULL DEFAULT 0,
  unseen         INTEGER NOT NULL DEFAULT 0,
  deleted        INTEGER NOT NULL DEFAULT 0,
  total_size     INTEGER NOT NULL DEFAULT 0,
  -- tombstones with modseq <= this have been pruned: changesSince(below it) is truncated
  tombstones_pruned_to INTEGER NOT NULL DEFAULT 0,
  UNIQUE (user_id, name)
) STRICT;

-- One row per distinct content; the MIME index is per content, so COPY copies neither bytes nor index.
CREATE TABLE blobs (
  id         TEXT PRIMARY KEY,
  size       INTEGER NOT NULL,
  refcount   INTEGER NOT NULL DEFAULT 0,
  mime_index TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  -- when refcount last dropped to 0 (GC compares it with the file's mtime)
  unref_at   INTEGER
) STRICT, WITHOUT ROWID;
CREATE INDEX blobs_unreferenced ON blobs(refcount) WHERE refcount = 0;

-- No foreign key on blob_id: the triggers keep refcounts, and a foreign key would need an index on
-- blob_id for GC's deletes.
CREATE TABLE messages (
  mailbox_id    INTEGER NOT NULL REFERENCES mailboxes(id) ON DELETE CASCADE,
  uid           INTEGER NOT NULL,
  modseq        INTEGER NOT NULL,
  -- system flags and keywords separated by single spaces, no \\Recent
  flags         TEXT NOT NULL,
  seen          INTEGER NOT NULL,
  deleted       INTEGER NOT NULL,
  internal_date INTEGER NOT NULL,
  size          INTEGER NOT NULL,
  blob_id       TEXT NOT NULL,
  save_date     INTEGER NOT NULL,
  email_id      TEXT NOT NULL,
  thread_id     TEXT,
  PRIMARY KEY (mailbox_id, uid)
) STRICT, WITHOUT ROWID;
CREATE INDEX messages_modseq ON messages(mailbox_id, modseq);
CREATE INDEX messages_deleted ON messages(mailbox_id, uid) WHERE deleted = 1;

CREATE TABLE expunged (
  mailbox_id INTEGER NOT NULL REFERENCES mailboxes(id) ON DELETE CASCADE,
  modseq     INTEGER NOT NULL,
  uid        INTEGER NOT NULL,
  PRIMARY KEY (mailbox_id, modseq, uid)
) STRICT, WITHOUT ROWID;

CREATE TABLE subscriptions (
  user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  name    TEXT NOT NULL,
  PRIMARY KEY (user_id, name)
) STRICT, WITHOUT ROWID;

-- First-seen spelling of each keyword per user (keywords compare case-insensitively).
CREATE TABLE keywords (
  user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  lower   TEXT NOT NULL,
  name    TEXT NOT NULL,
  PRIMARY KEY (user_id, lower)
) STRICT, WITHOUT ROWID;

CREATE TRIGGER messages_after_insert AFTER INSERT ON messages BEGIN
  UPDATE mailboxes SET messages = messages + 1, unseen = unseen + 1 - NEW.seen,
    deleted = deleted + NEW.deleted, total_size = total_size + NEW.size
  WHERE id = NEW.mailbox_id;
  UPDATE blobs SET refcount = refcount + 1 WHERE id = NEW.blob_id;
END;

CREATE TRIGGER messages_after_delete AFTER DELETE ON messages BEGIN
  UPDATE mailboxes SET messages = messages - 1, unseen = unseen - 1 + OLD.seen,
    deleted = deleted - OLD.deleted, total_size = total_size - OLD.size
  WHERE id = OLD.mailbox_id;
  UPDATE blobs SET refcount = refcount - 1,
    unref_at = CASE WHEN refcount = 1 THEN ${NOW_MS} ELSE unref_at END
  WHERE id = OLD.blob_id;
END;

CREATE TRIGGER messages_after_update_flags AFTER UPDATE OF seen, deleted ON messages
WHEN OLD.seen <> NEW.seen OR OLD.deleted <> NEW.deleted BEGIN
  UPDATE mailboxes SET unseen = unseen + OLD.seen - NEW.seen, deleted = deleted - OLD.deleted + NEW.deleted
  WHERE id = NEW.mailbox_id;
END;
`;

// Threading (RFC 8474 §5.2 THREADID, src/store/threading.ts) and the time of each expunge mod-sequence
// (tombstone retention, RFC 7162 §5.3; see src/store/sqlite/thread-index.ts).
const V2 = `
CREATE TABLE thread_refs (
  user_id    INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  message_id TEXT NOT NULL,
  thread_id  TEXT NOT NULL,
  PRIMARY KEY (user_id, message_id)
) STRICT, WITHOUT ROWID;

CREATE TABLE thread_subjects (
  user_id   INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  base      TEXT NOT NULL,
  thread_id TEXT NOT NULL,
  last_at   INTEGER NOT NULL,
  PRIMARY KEY (user_id, base)
) STRICT, WITHOUT ROWID;

CREATE TABLE tombstone_times (
  mailbox_id INTEGER NOT NULL REFERENCES mailboxes(id) ON DELETE CASCADE,
  modseq     INTEGER NOT NULL,
  at         INTEGER NOT NULL,
  PRIMARY KEY (mailbox_id, modseq)
) STRICT, WITHOUT ROWID;

INSERT OR IGNORE INTO tombstone_times (mailbox_id, modseq, at)
  SELECT DISTINCT mailbox_id, modseq, ${NOW_MS} FROM expunged;

CREATE TRIGGER expunged_after_insert AFTER INSERT ON expunged BEGIN
  INSERT OR IGNORE INTO tombstone_times (mailbox_id, modseq, at) VALUES (NEW.mailbox_id, NEW.modseq, ${NOW_MS});
END;

CREATE TRIGGER expunged_after_delete AFTER DELETE ON expunged
WHEN NOT EXISTS (SELECT 1 FROM expunged WHERE mailbox_id = OLD.mailbox_id AND modseq = OLD.modseq) BEGIN
  DELETE FROM tombstone_times WHERE mailbox_id = OLD.mailbox_id AND modseq = OLD.modseq;
END;
`;

// Full-text index for SEARCH (src/store/sqlite/search-index.ts): one document per blob (so COPY and MOVE
// index nothing), FTS5 with the trigram tokenizer (substring matching), contentless; `complete` = 0 marks
// a blob whose text is not indexed (too large, or stored before v3): always a candidate. Rows go when the
// blob row goes.
const V3 = `
CREATE TABLE search_docs (
  docid    INTEGER PRIMARY KEY,
  blob_id  TEXT NOT NULL UNIQUE,
  complete INTEGER NOT NULL
) STRICT;

CREATE VIRTUAL TABLE search_fts USING fts5(
  hdr, fields, subj, frm, rcpt, cc, bcc, body, mime,
  tokenize = 'trigram case_sensitive 1', content = '', contentless_delete = 1
);

-- Every blob has a row (APPEND adds one with the blob); blobs stored before this index: not indexed.
INSERT INTO search_docs (blob_id, complete) SELECT id, 0 FROM blobs;
CREATE INDEX search_docs_incomplete ON search_docs(blob_id) WHERE complete = 0;

CREATE TRIGGER blobs_after_delete_search AFTER DELETE ON blobs BEGIN
  DELETE FROM search_fts WHERE rowid = (SELECT docid FROM search_docs WHERE blob_id = OLD.id);
  DELETE FROM search_docs WHERE blob_id = OLD.id;
END;
`;

// Deferred full-text documents (Store.append with deferIndex, the sync's bulk download): such a blob's
// search_docs row says complete = 0 (always a SEARCH candidate, so results stay exact) and a row here
// says its document is still to be written; SqliteStore.indexPending() writes it and drops the row. A
// crash in between leaves the row for the next indexPending() (the sync's end, the store's upkeep).
const V4 = `
CREATE TABLE IF NOT EXISTS search_pending (
  blob_id TEXT PRIMARY KEY
) STRICT, WITHOUT ROWID;

CREATE TRIGGER IF NOT EXISTS blobs_after_delete_pending AFTER DELETE ON blobs BEGIN
  DELETE FROM search_pending WHERE blob_id = OLD.id;
END;
`;

// FETCH's render cache (Store.getFetchCache, docs/benchmarks.md "FETCH render cache"): the server's rendered
// ENVELOPE / BODY / BODYSTRUCTURE text, opaque here, filled on first FETCH. Kept per message, next to its
// row in the same key order, so a FETCH over a range reads both in one ordered scan (keyed by blob it took
// one random lookup into the wide blobs table per message: 3-4x slower at 100,000). A row goes with its
// message, and when the message's content is replaced (partial messages, Store.replaceContent).
const V5 = `
CREATE TABLE IF NOT EXISTS fetch_cache (
  mailbox_id INTEGER NOT NULL,
  uid        INTEGER NOT NULL,
  text       TEXT NOT NULL,
  PRIMARY KEY (mailbox_id, uid)
) STRICT, WITHOUT ROWID;

CREATE TRIGGER IF NOT EXISTS messages_after_delete_fetch_cache AFTER DELETE ON messages BEGIN
  DELETE FROM fetch_cache WHERE mailbox_id = OLD.mailbox_id AND uid = OLD.uid;
END;

CREATE TRIGGER IF NOT EXISTS messages_after_update_blob_fetch_cache AFTER UPDATE OF blob_id ON messages BEGIN
  DELETE FROM fetch_cache WHERE mailbox_id = OLD.mailbox_id AND uid = OLD.uid;
END;
`;

// The render cache as one table per item (Store.getFetchCache reads only the items a FETCH asks for; with
// the three in one row, FETCH BODYSTRUCTURE read every ENVELOPE too: 2-3x slower at 100,000). Replaces V5's
// table; same keys and same life as before.
const V6 = `
DROP TRIGGER IF EXISTS messages_after_delete_fetch_cache;
DROP TRIGGER IF EXISTS messages_after_update_blob_fetch_cache;
DROP TABLE IF EXISTS fetch_cache;

CREATE TABLE IF NOT EXISTS fetch_envelope (
  mailbox_id INTEGER NOT NULL,
  uid        INTEGER NOT NULL,
  text       TEXT NOT NULL,
  PRIMARY KEY (mailbox_id, uid)
) STRICT, WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS fetch_body (
  mailbox_id INTEGER NOT NULL,
  uid        INTEGER NOT NULL,
  text       TEXT NOT NULL,
  PRIMARY KEY (mailbox_id, uid)
) STRICT, WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS fetch_bodystructure (
  mailbox_id INTEGER NOT NULL,
  uid        INTEGER NOT NULL,
  text       TEXT NOT NULL,
  PRIMARY KEY (mailbox_id, uid)
) STRICT, WITHOUT ROWID;

CREATE TRIGGER IF NOT EXISTS messages_after_delete_fetch_render AFTER DELETE ON messages BEGIN
  DELETE FROM fetch_envelope WHERE mailbox_id = OLD.mailbox_id AND uid = OLD.uid;
  DELETE FROM fetch_body WHERE mailbox_id = OLD.mailbox_id AND uid = OLD.uid;
  DELETE FROM fetch_bodystructure WHERE mailbox_id = OLD.mailbox_id AND uid = OLD.uid;
END;

CREATE TRIGGER IF NOT EXISTS messages_after_update_blob_fetch_render AFTER UPDATE OF blob_id ON messages BEGIN
  DELETE FROM fetch_envelope WHERE mailbox_id = OLD.mailbox_id AND uid = OLD.uid;
  DELETE FROM fetch_body WHERE mailbox_id = OLD.mailbox_id AND uid = OLD.uid;
  DELETE FROM fetch_bodystructure WHERE mailbox_id = OLD.mailbox_id AND uid = OLD.uid;
END;
`;

// V7: the zone each internal date was given in (minutes east of UTC), so FETCH INTERNALDATE gives back the
// zone APPEND used and SEARCH BEFORE/ON/SINCE count days in it. Mail stored before keeps 0 (UTC), which is
// how it was shown until now.
// SQLite has no ADD COLUMN IF NOT EXISTS: the column is looked for first, so a store whose version was set back
// by hand (as the search upgrade test does) migrates again, as the IF NOT EXISTS of V4-V6 allow.
const V7 = (db: BetterSqlite3.Database): void => {
  const cols = db.prepare('PRAGMA table_info(messages)').all() as Array<{ name: string }>;
  if (!cols.some((c) => c.name === 'internal_date_offset')) {
    db.exec('ALTER TABLE messages ADD COLUMN internal_date_offset INTEGER NOT NULL DEFAULT 0');
  }
};

/** A migration: SQL to run, or a step that needs to look at the schema first. */
type Migration = string | ((db: BetterSqlite3.Database) => void);

/** Migrations in order; index i brings the schema from version i to i + 1. Never edit a shipped one. */
export const MIGRATIONS: readonly Migration[] = [V1, V2, V3, V4, V5, V6, V7];

/** Creates or upgrades the schema. Each migration runs in its own IMMEDIATE transaction that re-reads
 *  the version, so two processes opening a new store at once do not both migrate. */
export function migrate(db: BetterSqlite3.Database): void {
  db.exec('CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL) STRICT');
  const step = db.transaction((): boolean => {
    const row = db.prepare('SELECT version FROM schema_version').get() as { version: number } | undefined;
    const version = row?.version ?? 0;
    if (version > MIGRATIONS.length) {
      throw new Error(`Store schema version ${version} is newer than this program (${MIGRATIONS.length})`);
    }
    if (version === MIGRATIONS.length) return false;
    const migration = MIGRATIONS[version]!;
    if (typeof migration === 'string') db.exec(migration);
    else migration(db);
    if (row) db.prepare('UPDATE schema_version SET version = ?').run(version + 1);
    else db.prepare('INSERT INTO schema_version (version) VALUES (?)').run(version + 1);
    return true;
  });
  while (step.immediate()) {
    // one migration per transaction
  }
}
