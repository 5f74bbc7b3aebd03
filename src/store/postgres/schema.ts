// PostgreSQL schema of the shared store (issue 8), with numbered migrations recorded in schema_version.
// The same data model as the embedded store (src/store/sqlite/schema.ts): per-message MODSEQ and a log of
// expunged UIDs (RFC 7162 §3.1, §3.2.5 VANISHED), OBJECTIDs (RFC 8474), SAVEDATE (RFC 8514), STATUS
// counters (RFC 9051 §6.3.11, RFC 8438 SIZE) and blob reference counts kept by triggers. The triggers are
// statement-level with transition tables, so a DELETE of a 100,000-message mailbox updates its counters
// once, not 100,000 times. Names sort and compare bytewise (COLLATE "C"), as in SQLite, whatever the
// database's locale. Message bytes live either in blob_chunks (the default: no shared file system needed)
// or in the file blob store (src/store/blob) on shared storage; blobs.upload_id says which.
import type pg from 'pg';

/** PostgreSQL expression for the current time in ms since the epoch (the database's clock: one for all nodes). */
export const PG_NOW_MS = `(extract(epoch from clock_timestamp()) * 1000)::bigint`;

/** Size of the rows message bytes are split into (and of the ranged reads of streamBlob). */
export const BLOB_CHUNK_BYTES = 256 * 1024;

const V1 = `
CREATE TABLE meta (
  key   text COLLATE "C" PRIMARY KEY,
  value text NOT NULL
);

-- RFC 9051 §2.3.1.1: every mailbox ever created gets a new UIDVALIDITY (a 32-bit value); starting from the
-- clock keeps values distinct from a store that was re-created. Gaps (rolled-back creations) are harmless.
CREATE SEQUENCE uid_validity_seq MINVALUE 1 MAXVALUE 4294967295 NO CYCLE;
SELECT setval('uid_validity_seq', extract(epoch from now())::bigint);
CREATE SEQUENCE object_id_seq;

-- Identity columns never hand out an id again, so a session or watcher holding an old id can never reach
-- a newer mailbox.
CREATE TABLE users (
  id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  name          text COLLATE "C" NOT NULL UNIQUE,
  password_hash text NOT NULL,
  created_at    bigint NOT NULL
);

CREATE TABLE mailboxes (
  id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  user_id        bigint NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  name           text COLLATE "C" NOT NULL,
  uid_validity   bigint NOT NULL UNIQUE,
  uid_next       bigint NOT NULL DEFAULT 1,
  highest_modseq bigint NOT NULL DEFAULT 1,
  -- messages with uid >= recent_uid are \\Recent for the next session that claims them
  recent_uid     bigint NOT NULL DEFAULT 1,
  special_use    text,
  object_id      text COLLATE "C" NOT NULL UNIQUE,
  created_at     bigint NOT NULL,
  -- maintained by the triggers below
  messages       bigint NOT NULL DEFAULT 0,
  unseen         bigint NOT NULL DEFAULT 0,
  deleted        bigint NOT NULL DEFAULT 0,
  total_size     bigint NOT NULL DEFAULT 0,
  -- tombstones with modseq <= this have been pruned: changesSince(below it) is truncated
  tombstones_pruned_to bigint NOT NULL DEFAULT 0,
  -- deferrable: RENAME moves a family of names in one statement ("a/b" -> "a" turns "a/b/b" into "a/b"),
  -- checked at the end of the statement rather than row by row
  CONSTRAINT mailboxes_user_name UNIQUE (user_id, name) DEFERRABLE INITIALLY IMMEDIATE
);

-- One row per distinct content; the MIME index is per content, so COPY copies neither bytes nor index.
-- upload_id: the message bytes are the blob_chunks of that upload; NULL: a file of the file blob store.
-- prepared_at: when ingest last produced this content (GC keeps it for a grace period after that).
CREATE TABLE blobs (
  id          text COLLATE "C" PRIMARY KEY,
  size        bigint NOT NULL,
  refcount    bigint NOT NULL DEFAULT 0,
  mime_index  text,
  upload_id   bigint,
  prepared_at bigint NOT NULL,
  unref_at    bigint,
  created_at  bigint NOT NULL
);
CREATE INDEX blobs_unreferenced ON blobs(id) WHERE refcount = 0;

-- Bytes being streamed in by ingest (the content address is known only at the end). An upload that is
-- still here long after it started was abandoned by a crashed node; GC removes it with its chunks.
CREATE TABLE blob_uploads (
  id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  started_at bigint NOT NULL
);

-- EXTERNAL: stored out of line uncompressed, so substring() reads only the TOAST slices of the range.
CREATE TABLE blob_chunks (
  upload_id bigint NOT NULL,
  seq       integer NOT NULL,
  data      bytea NOT NULL,
  PRIMARY KEY (upload_id, seq)
);
ALTER TABLE blob_chunks ALTER COLUMN data SET STORAGE EXTERNAL;

CREATE TABLE messages (
  mailbox_id    bigint NOT NULL REFERENCES mailboxes(id) ON DELETE CASCADE,
  uid           bigint NOT NULL,
  modseq        bigint NOT NULL,
  -- system flags and keywords separated by single spaces, no \\Recent
  flags         text NOT NULL,
  seen          boolean NOT NULL,
  deleted       boolean NOT NULL,
  internal_date bigint NOT NULL,
  size          bigint NOT NULL,
  blob_id       text COLLATE "C" NOT NULL,
  save_date     bigint NOT NULL,
  email_id      text NOT NULL,
  thread_id     text,
  PRIMARY KEY (mailbox_id, uid)
);
CREATE INDEX messages_modseq ON messages(mailbox_id, modseq);
CREATE INDEX messages_deleted ON messages(mailbox_id, uid) WHERE deleted;

CREATE TABLE expunged (
  mailbox_id bigint NOT NULL REFERENCES mailboxes(id) ON DELETE CASCADE,
  modseq     bigint NOT NULL,
  uid        bigint NOT NULL,
  PRIMARY KEY (mailbox_id, modseq, uid)
);

CREATE TABLE subscriptions (
  user_id bigint NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  name    text COLLATE "C" NOT NULL,
  PRIMARY KEY (user_id, name)
);

-- First-seen spelling of each keyword per user (keywords compare case-insensitively).
CREATE TABLE keywords (
  user_id bigint NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  lower   text COLLATE "C" NOT NULL,
  name    text NOT NULL,
  PRIMARY KEY (user_id, lower)
);

CREATE FUNCTION petrel_messages_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  UPDATE mailboxes m SET messages = m.messages + d.n, unseen = m.unseen + d.unseen,
    deleted = m.deleted + d.deleted, total_size = m.total_size + d.size
  FROM (SELECT mailbox_id, count(*) AS n, count(*) FILTER (WHERE NOT seen) AS unseen,
          count(*) FILTER (WHERE deleted) AS deleted, sum(size) AS size
        FROM new_rows GROUP BY mailbox_id) d
  WHERE m.id = d.mailbox_id;
  UPDATE blobs b SET refcount = b.refcount + d.n
  FROM (SELECT blob_id, count(*) AS n FROM new_rows GROUP BY blob_id) d
  WHERE b.id = d.blob_id;
  RETURN NULL;
END $$;

CREATE FUNCTION petrel_messages_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  UPDATE mailboxes m SET messages = m.messages - d.n, unseen = m.unseen - d.unseen,
    deleted = m.deleted - d.deleted, total_size = m.total_size - d.size
  FROM (SELECT mailbox_id, count(*) AS n, count(*) FILTER (WHERE NOT seen) AS unseen,
          count(*) FILTER (WHERE deleted) AS deleted, sum(size) AS size
        FROM old_rows GROUP BY mailbox_id) d
  WHERE m.id = d.mailbox_id;
  UPDATE blobs b SET refcount = b.refcount - d.n,
    unref_at = CASE WHEN b.refcount - d.n = 0 THEN ${PG_NOW_MS} ELSE b.unref_at END
  FROM (SELECT blob_id, count(*) AS n FROM old_rows GROUP BY blob_id) d
  WHERE b.id = d.blob_id;
  RETURN NULL;
END $$;

-- Flag updates never change mailbox_id, uid, size or blob_id (MOVE is insert + delete).
CREATE FUNCTION petrel_messages_updated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  UPDATE mailboxes m SET unseen = m.unseen + d.unseen, deleted = m.deleted + d.deleted
  FROM (SELECT n.mailbox_id,
          sum((NOT n.seen)::int - (NOT o.seen)::int) AS unseen,
          sum(n.deleted::int - o.deleted::int) AS deleted
        FROM new_rows n JOIN old_rows o ON o.mailbox_id = n.mailbox_id AND o.uid = n.uid
        WHERE n.seen <> o.seen OR n.deleted <> o.deleted
        GROUP BY n.mailbox_id) d
  WHERE m.id = d.mailbox_id;
  RETURN NULL;
END $$;

CREATE TRIGGER messages_inserted AFTER INSERT ON messages
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION petrel_messages_inserted();
CREATE TRIGGER messages_deleted AFTER DELETE ON messages
  REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION petrel_messages_deleted();
CREATE TRIGGER messages_updated AFTER UPDATE ON messages
  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION petrel_messages_updated();
`;

// Threading (RFC 8474 §5.2 THREADID, src/store/threading.ts) and the time of each expunge mod-sequence
// (tombstone retention, RFC 7162 §5.3), as in the embedded store's migration 2.
const V2 = `
CREATE TABLE thread_refs (
  user_id    bigint NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  message_id text COLLATE "C" NOT NULL,
  thread_id  text NOT NULL,
  PRIMARY KEY (user_id, message_id)
);

CREATE TABLE thread_subjects (
  user_id   bigint NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  base      text COLLATE "C" NOT NULL,
  thread_id text NOT NULL,
  last_at   bigint NOT NULL,
  PRIMARY KEY (user_id, base)
);

CREATE TABLE tombstone_times (
  mailbox_id bigint NOT NULL REFERENCES mailboxes(id) ON DELETE CASCADE,
  modseq     bigint NOT NULL,
  at         bigint NOT NULL,
  PRIMARY KEY (mailbox_id, modseq)
);

INSERT INTO tombstone_times (mailbox_id, modseq, at)
  SELECT DISTINCT mailbox_id, modseq, ${PG_NOW_MS} FROM expunged ON CONFLICT DO NOTHING;

CREATE FUNCTION petrel_expunged_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO tombstone_times (mailbox_id, modseq, at)
    SELECT DISTINCT mailbox_id, modseq, ${PG_NOW_MS} FROM new_rows ON CONFLICT DO NOTHING;
  RETURN NULL;
END $$;

CREATE FUNCTION petrel_expunged_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  DELETE FROM tombstone_times t USING (SELECT DISTINCT mailbox_id, modseq FROM old_rows) d
  WHERE t.mailbox_id = d.mailbox_id AND t.modseq = d.modseq
    AND NOT EXISTS (SELECT 1 FROM expunged e WHERE e.mailbox_id = d.mailbox_id AND e.modseq = d.modseq);
  RETURN NULL;
END $$;

CREATE TRIGGER expunged_inserted AFTER INSERT ON expunged
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION petrel_expunged_inserted();
CREATE TRIGGER expunged_deleted AFTER DELETE ON expunged
  REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION petrel_expunged_deleted();
`;

// Full-text search documents (pg-search.ts, SEARCH of RFC 9051 §6.4.4): one per content, so COPY and MOVE
// index nothing, and rows go with their blob (ON DELETE CASCADE). The text columns hold the decoded, folded
// text of src/mime/search-text.ts (the exact scan's text). state: 0 = not indexed yet (stored before this
// migration, written by a node running an older program, or prepared and not yet appended; the backfill
// and APPEND fill these), 1 = indexed, 2 = not indexable (too large, unreadable). Every blob row gets a
// state-0 row by trigger, whichever program inserts it, so a message is never missing from the index
// without being marked so: messages whose document is not in state 1 are always SEARCH candidates.
// The pg_trgm GIN index over the text columns is not part of this migration: the extension may be
// unavailable to the role, so it is created (or found missing and reported) at every open.
const V3 = `
CREATE TABLE search_docs (
  blob_id text COLLATE "C" PRIMARY KEY REFERENCES blobs(id) ON DELETE CASCADE,
  state   smallint NOT NULL DEFAULT 0,
  hdr     text COLLATE "C",
  fields  text COLLATE "C",
  subj    text COLLATE "C",
  frm     text COLLATE "C",
  rcpt    text COLLATE "C",
  cc      text COLLATE "C",
  bcc     text COLLATE "C",
  body    text COLLATE "C",
  mime    text COLLATE "C"
);
CREATE INDEX search_docs_pending ON search_docs(blob_id) WHERE state <> 1;
INSERT INTO search_docs (blob_id) SELECT id FROM blobs;

CREATE FUNCTION petrel_blobs_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO search_docs (blob_id) VALUES (NEW.id) ON CONFLICT DO NOTHING;
  RETURN NULL;
END $$;

CREATE TRIGGER blobs_inserted AFTER INSERT ON blobs FOR EACH ROW EXECUTE FUNCTION petrel_blobs_inserted();
`;

// FETCH's render cache (Store.getFetchCache, docs/benchmarks.md "FETCH render cache"): per content, the
// server's rendered ENVELOPE / BODY / BODYSTRUCTURE text, opaque here, filled on first FETCH; NULL on the
// blobs of an older database until then.
const V4 = `
ALTER TABLE blobs ADD COLUMN IF NOT EXISTS fetch_cache text;
`;

// The render cache as one column per item (Store.getFetchCache reads only the items a FETCH asks for).
const V5 = `
ALTER TABLE blobs DROP COLUMN IF EXISTS fetch_cache;
ALTER TABLE blobs ADD COLUMN IF NOT EXISTS fetch_envelope text,
  ADD COLUMN IF NOT EXISTS fetch_body text,
  ADD COLUMN IF NOT EXISTS fetch_bodystructure text;
`;

// V6: the zone of each internal date, minutes east of UTC (see the SQLite store's V7); 0 for mail stored before.
const V6 = `
ALTER TABLE messages ADD COLUMN IF NOT EXISTS internal_date_offset integer NOT NULL DEFAULT 0;
`;

/** Migrations in order; index i brings the schema from version i to i + 1. Never edit a shipped one. */

export const PG_MIGRATIONS: readonly string[] = [V1, V2, V3, V4, V5, V6];

/** Key of the advisory lock that serialises migrations between nodes starting at once. */
const MIGRATION_LOCK = 0x7065_7472; // 'petr'

/**
 * Creates or upgrades the schema. Each migration runs in its own transaction holding an advisory lock and
 * re-reads the version, so two nodes opening a new database at once do not both migrate (DDL is
 * transactional in PostgreSQL: a failed migration leaves the previous version intact).
 */
export async function migratePg(client: pg.ClientBase): Promise<number> {
  for (;;) {
    await client.query('BEGIN');
    try {
      await client.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK]);
      await client.query('CREATE TABLE IF NOT EXISTS schema_version (version integer NOT NULL)');
      const r = await client.query<{ version: number }>('SELECT version FROM schema_version');
      const version = r.rows[0]?.version ?? 0;
      if (version > PG_MIGRATIONS.length) {
        throw new Error(`Store schema version ${version} is newer than this program (${PG_MIGRATIONS.length})`);
      }
      if (version === PG_MIGRATIONS.length) {
        await client.query('COMMIT');
        return version;
      }
      await client.query(PG_MIGRATIONS[version]!);
      if (r.rows.length > 0) await client.query('UPDATE schema_version SET version = $1', [version + 1]);
      else await client.query('INSERT INTO schema_version (version) VALUES ($1)', [version + 1]);
      await client.query('COMMIT');
    } catch (err) {
      await client.query('ROLLBACK').catch(() => {});
      throw err;
    }
  }
}
