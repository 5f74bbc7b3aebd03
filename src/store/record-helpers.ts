// Record helpers both store backends share (SQLite and PostgreSQL): flag arithmetic for STORE, uid ranges,
// mailbox-name normalisation, the lazily parsed MIME index of a message record, and the user and mailbox
// rows of the shared schema (both backends use the same column names) mapped to records.
import type { MimeIndex } from '../mime/types.js';
import { isZoneOffset, localZoneOffset } from '../protocol/dates.js';
import { StoreError, type FlagOperation, type MailboxRecord, type MessageMeta, type MessageRecord, type SpecialUse, type UserRecord } from './types.js';

/** The highest UID RFC 9051 allows (nz-number, 32 bits). */
export const MAX_UID = 0xffffffff;

/**
 * The zone to store with an internal date: the one given when it is a valid `zone` (RFC 9051: ±HHMM), else the
 * server's local zone at that instant (mail that came without a date-time, as Dovecot shows it too).
 */
export function zoneOf(given: number | undefined, internalDate: number): number {
  if (given !== undefined) {
    if (!isZoneOffset(given)) throw new StoreError('CANNOT', 'Invalid internal date zone');
    return given;
  }
  return localZoneOffset(internalDate);
}

/** Adds `mime` as a lazily parsed property: FETCH FLAGS over many messages never parses an index. */
export function withLazyMime(meta: MessageMeta, json: string): MessageRecord {
  let parsed: MimeIndex | undefined;
  Object.defineProperty(meta, 'mime', {
    enumerable: true,
    configurable: true,
    get: () => (parsed ??= JSON.parse(json) as MimeIndex),
    set: (v: MimeIndex) => {
      parsed = v;
    },
  });
  return meta as MessageRecord;
}

export function parseFlags(s: string): string[] {
  return s === '' ? [] : s.split(' ');
}

/** The new flag list, or null when it equals the old one (as a set). Both lists are canonical. */
export function applyFlags(old: string[], op: FlagOperation, flags: string[]): string[] | null {
  if (op === 'add') {
    const missing = flags.filter((f) => !old.includes(f));
    return missing.length === 0 ? null : [...old, ...missing];
  }
  if (op === 'remove') {
    const kept = old.filter((f) => !flags.includes(f));
    return kept.length === old.length ? null : kept;
  }
  const same = old.length === flags.length && flags.every((f) => old.includes(f));
  return same ? null : [...flags];
}

/** Sorted, de-duplicated runs [lo, hi] of valid uids. */
export function toRanges(uids: readonly number[]): Array<[number, number]> {
  const sorted = Array.from(new Set(uids.filter((u) => Number.isInteger(u) && u > 0 && u <= MAX_UID))).sort(
    (a, b) => a - b,
  );
  const out: Array<[number, number]> = [];
  for (const u of sorted) {
    const last = out[out.length - 1];
    if (last && last[1] === u - 1) last[1] = u;
    else out.push([u, u]);
  }
  return out;
}

/** INBOX is case-insensitive, also as the first hierarchy level (RFC 9051 §5.1). */
export function normalizeName(name: string): string {
  if (name.length === 5 && name.toUpperCase() === 'INBOX') return 'INBOX';
  if (name.length > 6 && name.slice(0, 6).toUpperCase() === 'INBOX/') return 'INBOX' + name.slice(5);
  return name;
}

export function checkName(name: string): void {
  if (name.length === 0) throw new StoreError('CANNOT', 'Empty mailbox name');
  if (name.includes('\u0000')) throw new StoreError('CANNOT', 'Mailbox name contains NUL');
}

export interface MailboxRow {
  id: number;
  user_id: number;
  name: string;
  uid_validity: number;
  uid_next: number;
  highest_modseq: number;
  recent_uid: number;
  special_use: string | null;
  object_id: string;
  created_at: number;
  messages: number;
  unseen: number;
  deleted: number;
  total_size: number;
  tombstones_pruned_to: number;
}

export interface UserRow {
  id: number;
  name: string;
  password_hash: string;
  created_at: number;
}

export function toUser(r: UserRow): UserRecord {
  return { id: r.id, name: r.name, passwordHash: r.password_hash, createdAt: r.created_at };
}

export function toMailbox(r: MailboxRow): MailboxRecord {
  return {
    id: r.id,
    userId: r.user_id,
    name: r.name,
    uidValidity: r.uid_validity,
    uidNext: r.uid_next,
    highestModSeq: r.highest_modseq,
    specialUse: r.special_use as SpecialUse | null,
    objectId: r.object_id,
    createdAt: r.created_at,
  };
}
