// The remote side of a sync: which extensions may be used (what the server offers minus what the caller
// switched off), name mapping between the server's hierarchy delimiter and the replica's '/', and finding
// a message the engine may already have put on the server before a crash (content identity: the same
// size and the same SHA-256 as the local blob, which is content-addressed).
import { createHash } from 'node:crypto';
import { ImapClient, DEFAULT_ENABLE } from '../client/imap-client.js';
import type { AccountSettings } from './types.js';

export interface RemoteFeatures {
  qresync: boolean;
  condstore: boolean;
  uidplus: boolean;
  move: boolean;
  objectId: boolean;
  idle: boolean;
}

export async function connectRemote(account: AccountSettings, disable: ReadonlySet<string>, signal?: AbortSignal): Promise<ImapClient> {
  const enable = DEFAULT_ENABLE.filter((e) => !disable.has(e) && !(e === 'QRESYNC' && disable.has('CONDSTORE')));
  return ImapClient.connect({
    host: account.host,
    ...(account.port !== undefined ? { port: account.port } : {}),
    tls: account.tls,
    ...(account.rejectUnauthorized !== undefined ? { rejectUnauthorized: account.rejectUnauthorized } : {}),
    ...(account.ca !== undefined ? { ca: account.ca } : {}),
    auth: { user: account.user, password: account.password },
    enable,
    ...(signal ? { signal } : {}),
    timeouts: { connectMs: 20_000, responseMs: 120_000 },
  });
}

export function remoteFeatures(client: ImapClient, disable: ReadonlySet<string>): RemoteFeatures {
  const has = (c: string) => client.has(c) && !disable.has(c);
  const condstore = has('CONDSTORE') || (client.enabled.has('QRESYNC') && !disable.has('CONDSTORE'));
  return {
    qresync: client.enabled.has('QRESYNC') && !disable.has('QRESYNC') && condstore,
    condstore,
    uidplus: has('UIDPLUS') || (client.has('IMAP4REV2') && !disable.has('UIDPLUS')),
    move: has('MOVE') || (client.has('IMAP4REV2') && !disable.has('MOVE')),
    objectId: has('OBJECTID'),
    idle: has('IDLE'),
  };
}

/** Remote path → replica name ('/' separated; INBOX exact). null when the name cannot be represented. */
export function toLocalName(remote: string, delimiter: string | null): string | null {
  if (remote.toUpperCase() === 'INBOX') return 'INBOX';
  let parts: string[];
  if (delimiter === null || delimiter === '/') parts = remote.split('/');
  else {
    if (remote.includes('/')) return null;
    parts = remote.split(delimiter);
  }
  if (parts.some((p) => p === '')) return null;
  if (parts[0]!.toUpperCase() === 'INBOX') parts[0] = 'INBOX';
  return parts.join('/');
}

/** Replica name → remote path with the server's delimiter. null when it cannot be represented. */
export function toRemoteName(local: string, delimiter: string | null): string | null {
  if (local === 'INBOX') return 'INBOX';
  const parts = local.split('/');
  if (delimiter === null) return parts.length === 1 ? local : null;
  if (delimiter !== '/' && parts.some((p) => p.includes(delimiter))) return null;
  return parts.join(delimiter);
}

/** IMAP LIST-style pattern match ('*' anything, '%' anything but a hierarchy level) on replica names. */
export function matchesPattern(name: string, pattern: string): boolean {
  let re = '^';
  for (const ch of pattern) {
    if (ch === '*') re += '.*';
    else if (ch === '%') re += '[^/]*';
    else re += ch.replace(/[.+?^${}()|[\]\\]/g, '\\$&');
  }
  const flags = pattern.toUpperCase().startsWith('INBOX') ? 'i' : '';
  return new RegExp(re + '$', flags).test(name);
}

export function sha256(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

/**
 * Looks in the selected mailbox for a message at or above `fromUid` whose bytes are exactly `blobId`
 * (SHA-256) and `size`, and that is not in `exclude`. Used to settle an APPEND/COPY/MOVE whose answer a
 * crash (or a server without UIDPLUS) hid from us.
 */
export async function findByContent(client: ImapClient, fromUid: number, size: number, blobId: string, exclude: ReadonlySet<number>): Promise<number | null> {
  const sizes = await client.fetchAll(`${Math.max(1, fromUid)}:*`, { uid: true, size: true }, { uid: true });
  const candidates = sizes.filter((m) => m.uid !== undefined && m.uid >= fromUid && m.size === size && !exclude.has(m.uid)).map((m) => m.uid!);
  for (const uid of candidates) {
    const m = await client.fetchOne(uid, { uid: true, sections: [{ section: '', peek: true }] }, { uid: true });
    const data = m?.sections[0]?.data;
    if (data && sha256(data) === blobId) return uid;
  }
  return null;
}
