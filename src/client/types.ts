// Typed results of the client API. Field meanings follow RFC 9051 §7 (server responses), §7.5.2 (FETCH
// data items), RFC 7162 (MODSEQ, HIGHESTMODSEQ, VANISHED), RFC 4315 (APPENDUID/COPYUID), RFC 5258/5819
// (LIST-EXTENDED, LIST-STATUS), RFC 6154 (SPECIAL-USE), RFC 8474 (OBJECTID).
import type { Writable } from 'node:stream';

/** A message range: one number, a list of numbers, or a set in IMAP syntax ('1:*', '4,7:9'). */
export type Range = number | readonly number[] | string;

export interface Address {
  name?: string;
  /** mailbox@host, or the group name for a group start. */
  address?: string;
  /** Present on RFC 5322 group markers: the group's members follow until `groupEnd`. */
  group?: string;
}

export interface Envelope {
  date?: string;
  subject?: string;
  from: Address[];
  sender: Address[];
  replyTo: Address[];
  to: Address[];
  cc: Address[];
  bcc: Address[];
  inReplyTo?: string;
  messageId?: string;
}

/** One node of BODYSTRUCTURE (RFC 9051 §7.5.2, §9 body). */
export interface BodyStructure {
  /** Section number to fetch this part with: '1', '2.3'; '' for the top-level multipart. */
  part: string;
  /** Lower-cased media type and subtype: 'text' / 'plain', 'multipart' / 'mixed'. */
  type: string;
  subtype: string;
  /** Parameters with lower-cased names (charset, boundary, name...). */
  parameters: Record<string, string>;
  id?: string;
  description?: string;
  /** Content-Transfer-Encoding, lower-cased. */
  encoding?: string;
  /** Octets of the (encoded) body. */
  size?: number;
  /** Lines of text/* and message/rfc822 bodies. */
  lines?: number;
  md5?: string;
  disposition?: { type: string; parameters: Record<string, string> };
  language?: string[];
  location?: string;
  /** message/rfc822: the enclosed message's envelope. */
  envelope?: Envelope;
  /** multipart children, or the single body of an enclosed message/rfc822. */
  children?: BodyStructure[];
}

/** One body section to fetch (RFC 9051 §6.4.5 BODY[section]<partial>, RFC 3516 BINARY[section]). */
export interface SectionRequest {
  /** '' (whole message), 'HEADER', 'TEXT', '1.2', '1.2.MIME', 'HEADER.FIELDS (From Subject)'. */
  section: string;
  /** Use BINARY[...] (decoded content transfer encoding; needs the BINARY capability). */
  binary?: boolean;
  /** Default true: BODY.PEEK, so \Seen is not set. */
  peek?: boolean;
  partial?: { origin: number; count: number };
}

export interface FetchQuery {
  uid?: boolean;
  flags?: boolean;
  /** MODSEQ (RFC 7162 §3.1.4.1); needs CONDSTORE. */
  modSeq?: boolean;
  internalDate?: boolean;
  size?: boolean;
  envelope?: boolean;
  bodyStructure?: boolean;
  /** EMAILID / THREADID (RFC 8474), when OBJECTID is offered. */
  emailId?: boolean;
  threadId?: boolean;
  /** Sections to fetch. */
  sections?: ReadonlyArray<SectionRequest | string>;
  /** BINARY.SIZE[section] for these sections (RFC 3516). */
  binarySize?: readonly string[];
}

export interface FetchOptions {
  /** Range holds UIDs (UID FETCH). */
  uid?: boolean;
  /** CHANGEDSINCE modseq (RFC 7162 §3.1.4.1). */
  changedSince?: number;
  /** VANISHED modifier with CHANGEDSINCE on UID FETCH (RFC 7162 §3.2.6): expunged UIDs are reported. */
  vanished?: boolean;
  /**
   * Streams a body section to a Writable instead of buffering it. Called when a section's literal starts;
   * return undefined to buffer. Writes respect the Writable's backpressure (reading from the server pauses).
   */
  streamSection?: (info: StreamSectionInfo) => Writable | undefined;
  signal?: AbortSignal;
}

export interface StreamSectionInfo {
  seq: number;
  /** Known when the server sent UID before the section (servers do for UID FETCH). */
  uid?: number;
  /** Normalised section, e.g. '', '1.2', 'HEADER'. */
  section: string;
  binary: boolean;
  /** Octets that will be written. */
  size: number;
}

export interface FetchedSection {
  section: string;
  binary: boolean;
  origin?: number;
  /** The bytes, or null for NIL; undefined when streamed to a Writable. */
  data?: Buffer | null;
  size: number;
  streamed: boolean;
}

export interface FetchedMessage {
  seq: number;
  uid?: number;
  flags?: string[];
  modSeq?: number;
  internalDate?: Date;
  /** The zone INTERNALDATE was written in, minutes east of UTC. */
  internalDateOffset?: number;
  /** INTERNALDATE as sent (keeps the zone). */
  internalDateRaw?: string;
  size?: number;
  envelope?: Envelope;
  bodyStructure?: BodyStructure;
  emailId?: string;
  threadId?: string;
  sections: FetchedSection[];
  binarySizes?: Record<string, number>;
}

export interface QresyncParams {
  uidValidity: number;
  modSeq: number;
  /** UIDs the client knows (narrows the VANISHED reply). */
  knownUids?: Range;
  /** Sequence numbers ↔ UIDs the client knows, to help the server when tombstones are gone. */
  seqMatch?: { seqs: Range; uids: Range };
}

export interface SelectOptions {
  /** EXAMINE instead of SELECT. */
  readOnly?: boolean;
  /** (CONDSTORE) parameter: ask for HIGHESTMODSEQ without ENABLE (RFC 7162 §3.1.8). */
  condstore?: boolean;
  /** (QRESYNC (...)) parameter (RFC 7162 §3.2.5); QRESYNC must be enabled. */
  qresync?: QresyncParams;
}

export interface ChangedMessage {
  uid: number;
  seq: number;
  flags?: string[];
  modSeq?: number;
}

export interface SelectResult {
  path: string;
  exists: number;
  recent?: number;
  uidValidity: number;
  uidNext: number;
  /** Absent when the server has no CONDSTORE or the mailbox does not keep mod-sequences (NOMODSEQ). */
  highestModSeq?: number;
  noModSeq: boolean;
  flags: string[];
  permanentFlags: string[];
  readOnly: boolean;
  /** First unseen sequence number (IMAP4rev1 [UNSEEN]). */
  unseen?: number;
  /** MAILBOXID (RFC 8474). */
  mailboxId?: string;
  /** With QRESYNC: UIDs expunged since the given modseq (VANISHED (EARLIER)). */
  vanished?: number[];
  /** With QRESYNC: messages changed since the given modseq. */
  changed?: ChangedMessage[];
}

export type StatusItem = 'MESSAGES' | 'UIDNEXT' | 'UIDVALIDITY' | 'UNSEEN' | 'RECENT' | 'HIGHESTMODSEQ' | 'SIZE' | 'DELETED' | 'MAILBOXID';

export interface StatusResult {
  path: string;
  messages?: number;
  uidNext?: number;
  uidValidity?: number;
  unseen?: number;
  recent?: number;
  highestModSeq?: number;
  size?: number;
  deleted?: number;
  mailboxId?: string;
}

export interface ListEntry {
  /** Decoded (Unicode) name. */
  path: string;
  /** Delimiter, or null for a flat namespace. */
  delimiter: string | null;
  /** Attributes as sent (\HasNoChildren, \Noselect, \Sent...). */
  flags: string[];
  /** RFC 6154 use: '\\Sent', '\\Drafts', '\\Trash', '\\Junk', '\\Archive', '\\All', '\\Flagged'. */
  specialUse?: string;
  subscribed: boolean;
  /** \Noselect or \NonExistent: not a mailbox that can be selected. */
  noSelect: boolean;
  status?: StatusResult;
}

export interface ListOptions {
  /** Only subscribed mailboxes (LSUB, or LIST (SUBSCRIBED)). */
  subscribedOnly?: boolean;
  /** STATUS items for each mailbox: LIST-STATUS when offered, else one STATUS per mailbox (pipelined). */
  status?: readonly StatusItem[];
}

export interface AppendOptions {
  flags?: readonly string[];
  internalDate?: Date;
  /** The zone to write internalDate in, minutes east of UTC (default: this machine's zone at that instant). */
  internalDateOffset?: number;
  signal?: AbortSignal;
}

/** A message body of known size for APPEND. */
export type AppendContent = Buffer | string | { size: number; stream: AsyncIterable<Buffer | Uint8Array | string> };

export interface AppendResult {
  /** From APPENDUID (RFC 4315 §3), when the server has UIDPLUS. */
  uidValidity?: number;
  uid?: number;
}

export interface CopyResult {
  /** From COPYUID (RFC 4315 §3): UIDVALIDITY of the destination. */
  uidValidity?: number;
  /** Source UID → destination UID. */
  uidMap?: Map<number, number>;
}

export interface StoreOptions {
  uid?: boolean;
  /** '+FLAGS' (add, default), '-FLAGS' (remove) or 'FLAGS' (replace). */
  mode?: 'add' | 'remove' | 'set';
  /** UNCHANGEDSINCE (RFC 7162 §3.1.3): messages changed after it are left alone and reported in `modified`. */
  unchangedSince?: number;
  /** .SILENT: no FETCH responses for the new flags. */
  silent?: boolean;
}

export interface StoreResult {
  /** Messages the server did not change because of UNCHANGEDSINCE (MODIFIED code), as UIDs or seqs. */
  modified: number[];
  /** FETCH responses with the new flags (and MODSEQ). */
  updated: ChangedMessage[] | Array<{ seq: number; uid?: number; flags?: string[]; modSeq?: number }>;
}

export interface ExpungeResult {
  /** EXPUNGE responses (sequence numbers, in the order sent). */
  expungedSeqs: number[];
  /** VANISHED responses (with QRESYNC). */
  vanishedUids: number[];
}

/** Search criteria (RFC 9051 §6.4.4). Several keys are ANDed. */
export interface SearchCriteria {
  all?: boolean;
  seen?: boolean;
  answered?: boolean;
  flagged?: boolean;
  deleted?: boolean;
  draft?: boolean;
  keyword?: string;
  unkeyword?: string;
  uid?: Range;
  seq?: Range;
  /** INTERNALDATE on or after / before / on this day. */
  since?: Date;
  before?: Date;
  on?: Date;
  sentSince?: Date;
  sentBefore?: Date;
  sentOn?: Date;
  larger?: number;
  smaller?: number;
  from?: string;
  to?: string;
  cc?: string;
  bcc?: string;
  subject?: string;
  body?: string;
  text?: string;
  header?: ReadonlyArray<readonly [string, string]>;
  /** MODSEQ n (RFC 7162 §3.1.5). */
  modSeq?: number;
  emailId?: string;
  threadId?: string;
  not?: SearchCriteria;
  /** OR of two criteria. */
  or?: readonly [SearchCriteria, SearchCriteria];
}

export interface IdleOptions {
  signal?: AbortSignal;
  /** Re-issue IDLE this often (RFC 2177 says at most 29 minutes; default 5 minutes): a dead link shows. */
  restartMs?: number;
  /** Without the IDLE capability, poll with NOOP this often (default 60 s). */
  pollMs?: number;
}

export type IdleEnd = 'aborted' | 'preempted' | 'server';
