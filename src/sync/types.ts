// The sync engine's public types (RFC 1733's disconnected model; ARCHITECTURE.md decision 10).
// A replica is a directory holding a Petrel store (what `petrel serve --data DIR` reads) plus the sync
// state (sync.db) that remembers, per mailbox, what both sides last agreed on.

/** Where the remote account is and how to log in. */
export interface AccountSettings {
  host: string;
  /** Default 993 for implicit TLS, 143 otherwise. */
  port?: number;
  tls: 'implicit' | 'starttls' | 'none';
  user: string;
  password: string;
  /** Check the server's certificate (default true). */
  rejectUnauthorized?: boolean;
  /** PEM of a CA (or the self-signed certificate) to trust. */
  ca?: string;
}

/**
 * What to download for new messages of a mailbox (issue 5, "Selective download").
 * - full: the whole message.
 * - headers: the header and BODYSTRUCTURE only; the rest on demand.
 * - text: the header plus every text/* part no larger than `maxTextBytes` (RFC 1733's "fetch only the
 *   text segment"); the rest on demand.
 * `maxMessageBytes`: messages larger than this are stored as with 'headers'.
 * `since`: messages whose INTERNALDATE is before this are not downloaded at all (they stay on the server
 * and are not in the replica) until the window is widened.
 */
export interface DownloadPolicy {
  mode: 'full' | 'headers' | 'text';
  maxTextBytes?: number;
  maxMessageBytes?: number;
  since?: Date;
}

export interface MailboxRule {
  /** IMAP LIST-style pattern on the local name ('/' separated): '*' any, '%' one level. */
  pattern: string;
  policy: DownloadPolicy;
  /** Treat the server's mailbox as read-only even if it could be written: open it with EXAMINE, keep \Seen and
   *  keywords in the replica only (RFC 1733's shared data such as netnews, with no per-user state on the server). */
  readOnly?: boolean;
}

export type SyncTier = 'qresync' | 'condstore' | 'full';

export interface SyncOptions {
  /** The replica directory (created when missing). */
  replicaDir: string;
  account: AccountSettings;
  /** Local mailbox name patterns to sync (default: all). */
  mailboxes?: readonly string[];
  /** First matching rule decides; default full download. */
  rules?: readonly MailboxRule[];
  /** Compute and report what would change; change nothing on either side. */
  dryRun?: boolean;
  /** Extensions the engine must not use even when offered (tests: 'QRESYNC', 'CONDSTORE', 'UIDPLUS', 'MOVE', 'OBJECTID'). */
  disable?: readonly string[];
  signal?: AbortSignal;
  /** Progress events, for a bar or plain lines. */
  onProgress?: (event: SyncProgress) => void;
  /** One human-readable line per notable action ("uploaded 3 messages to Sent"). */
  onLog?: (line: string) => void;
}

export interface SyncProgress {
  /** 'index': writing the full-text search documents of the downloaded messages, after the last mailbox. */
  phase: 'connect' | 'mailboxes' | 'mailbox' | 'download' | 'upload' | 'flags' | 'index' | 'done';
  mailbox?: string;
  /** Mailboxes done / total. */
  mailboxesDone: number;
  mailboxesTotal: number;
  /** Messages transferred so far and expected in all (either direction). */
  messagesDone: number;
  messagesTotal: number;
  bytesDone: number;
  bytesTotal: number;
}

/** One planned or applied change, for --dry-run and the summary. */
export interface SyncAction {
  side: 'local' | 'remote';
  kind: 'create-mailbox' | 'delete-mailbox' | 'rename-mailbox' | 'download' | 'upload' | 'flags' | 'expunge' | 'keep';
  mailbox: string;
  detail: string;
}

export interface MailboxSummary {
  name: string;
  tier: SyncTier;
  downloaded: number;
  uploaded: number;
  flagsToRemote: number;
  flagsToLocal: number;
  expungedRemote: number;
  expungedLocal: number;
}

export interface SyncSummary {
  dryRun: boolean;
  mailboxes: MailboxSummary[];
  actions: SyncAction[];
  downloaded: number;
  uploaded: number;
  bytesDown: number;
  bytesUp: number;
  flagsToRemote: number;
  flagsToLocal: number;
  expungedRemote: number;
  expungedLocal: number;
  mailboxesCreated: number;
  mailboxesDeleted: number;
  mailboxesRenamed: number;
  /** Things that needed a policy decision (see docs/sync.md), e.g. "expunge won over a flag change". */
  conflicts: string[];
  elapsedMs: number;
}
