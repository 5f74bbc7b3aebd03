// Shared pieces of the `petrel fetch` tests: test messages (CRLF, with dot-lines and From_ lines so the
// POP3 byte-stuffing and mbox quoting are exercised), seeding a Petrel store, reading a Maildir back.
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Store } from '../../src/store/types.js';

export function makeMessage(i: number, extraBytes = 0): Buffer {
  const body = [
    `From: sender${i}@example.org`,
    `To: alice@example.org`,
    `Subject: message ${i}`,
    `Message-ID: <m${i}@example.org>`,
    '',
    `Body of message ${i}.`,
    '.a line with a leading dot',
    '.',
    'From the start of a line',
    'x'.repeat(extraBytes + (i % 7) * 13),
    'end',
    '',
  ].join('\r\n');
  return Buffer.from(body);
}

export async function seedInbox(store: Store, user: string, messages: Buffer[]): Promise<void> {
  const u = await store.getUser(user);
  if (!u) throw new Error(`no user ${user}`);
  const mb = await store.getMailbox(u.id, 'INBOX');
  if (!mb) throw new Error('no INBOX');
  for (const m of messages) {
    const prepared = await store.prepare(m);
    await store.append(mb.id, [{ message: prepared, flags: [] }]);
  }
}

export async function inboxCount(store: Store, user: string): Promise<number> {
  const u = await store.getUser(user);
  const mb = await store.getMailbox(u!.id, 'INBOX');
  return (await store.listMessages(mb!.id)).length;
}

/** Every message file in new/ and cur/ of a Maildir, as buffers. */
export async function readMaildir(dir: string): Promise<Buffer[]> {
  const out: Buffer[] = [];
  for (const d of ['new', 'cur']) {
    let names: string[] = [];
    try {
      names = await readdir(join(dir, d));
    } catch {
      continue;
    }
    for (const n of names.sort()) out.push(await readFile(join(dir, d, n)));
  }
  return out;
}

/** Sorted hex strings, for multiset comparison. */
export function sortedHex(bufs: Buffer[]): string[] {
  return bufs.map((b) => b.toString('hex')).sort();
}

export class Capture {
  text = '';
  write(s: string): boolean {
    this.text += s;
    return true;
  }
}
