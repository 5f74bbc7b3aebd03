// Helpers for sync engine tests: the end state of an IMAP account and of a replica, in one comparable
// shape (mailbox → sorted list of "sha256 of the bytes | flags"), so convergence is one deepEqual.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ImapClient } from '../../src/client/imap-client.js';
import { openSqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import type { Store } from '../../src/store/types.js';
import type { AccountSettings } from '../../src/sync/types.js';

export type Snapshot = Record<string, string[]>;

function flagsKey(flags: readonly string[]): string {
  return flags
    .filter((f) => f.toLowerCase() !== '\\recent')
    .map((f) => f.toLowerCase())
    .sort()
    .join(' ');
}

/** The account of a test server's user, on loopback without TLS. */
export function accountFor(server: { port: number; user: string; password: string }): AccountSettings {
  return { host: '127.0.0.1', port: server.port, tls: 'none', user: server.user, password: server.password };
}

export async function connect(account: AccountSettings, enable?: string[]): Promise<ImapClient> {
  return ImapClient.connect({
    host: account.host,
    ...(account.port !== undefined ? { port: account.port } : {}),
    tls: account.tls,
    auth: { user: account.user, password: account.password },
    ...(enable ? { enable } : {}),
  });
}

/** Every selectable mailbox of the account (names with '/' as separator). */
export async function remoteSnapshot(account: AccountSettings): Promise<Snapshot> {
  const c = await connect(account);
  try {
    const out: Snapshot = {};
    const list = await c.list('', '*');
    for (const e of list) {
      if (e.noSelect) continue;
      const name = e.delimiter && e.delimiter !== '/' ? e.path.split(e.delimiter).join('/') : e.path;
      const sel = await c.examine(e.path);
      const rows: string[] = [];
      if (sel.exists > 0) {
        for await (const m of c.fetch('1:*', { uid: true, flags: true, sections: [{ section: '', peek: true }] }, { uid: true })) {
          const data = m.sections[0]?.data ?? Buffer.alloc(0);
          rows.push(`${createHash('sha256').update(data).digest('hex').slice(0, 16)}|${flagsKey(m.flags ?? [])}`);
        }
      }
      out[name] = rows.sort();
    }
    return out;
  } finally {
    await c.logout();
  }
}

/** The replica's mailboxes as the same shape (blob ids are SHA-256 of the bytes). */
export async function localSnapshot(replicaDir: string, user: string): Promise<Snapshot> {
  const store = await openSqliteStore(replicaDir);
  try {
    return await storeSnapshot(store, user);
  } finally {
    await store.close();
  }
}

export async function storeSnapshot(store: Store, user: string): Promise<Snapshot> {
  const u = await store.getUser(user);
  assert.ok(u, `user ${user} in the store`);
  const out: Snapshot = {};
  for (const mb of await store.listMailboxes(u.id)) {
    const rows = (await store.listMessages(mb.id)).map((m) => `${m.blobId.slice(0, 16)}|${flagsKey(m.flags)}`);
    out[mb.name] = rows.sort();
  }
  return out;
}

export async function tempReplica(): Promise<string> {
  return mkdtemp(join(tmpdir(), 'petrel-replica-'));
}

/** A small RFC 5322 message with a unique Message-ID. */
export function message(subject: string, body = `Body of ${subject}\r\n`, extraHeaders = ''): Buffer {
  const id = createHash('sha256').update(subject + body).digest('hex').slice(0, 12);
  return Buffer.from(
    `From: Ann <ann@example.org>\r\nTo: Bob <bob@example.org>\r\nSubject: ${subject}\r\nDate: Tue, 24 Nov 2026 10:00:00 +0000\r\n` +
      `Message-ID: <${id}@example.org>\r\n${extraHeaders}MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n${body}`,
  );
}

/** Mailbox names → number of messages, for readable assertions. */
export function counts(s: Snapshot): Record<string, number> {
  return Object.fromEntries(Object.entries(s).map(([k, v]) => [k, v.length]));
}

/** Snapshots equal regardless of key order. */
export function sameSnapshot(a: Snapshot, b: Snapshot): boolean {
  const norm = (s: Snapshot) => JSON.stringify(Object.keys(s).sort().map((k) => [k, s[k]]));
  return norm(a) === norm(b);
}
