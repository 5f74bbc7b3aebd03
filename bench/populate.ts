// Fills a mailbox through the Store interface (src/store/types.ts), not through IMAP: how the benchmark
// creates its 100,000-message mailbox quickly. Used in the Petrel server process (bench/petrel-child.ts,
// embedded store) and in the benchmark process itself for a PostgreSQL store, which every node shares.
// Each batch is one append() (RFC 3502 MULTIAPPEND semantics: all or nothing), UIDs ascending in index order.
import type { AppendItem, Store } from '../src/store/types.js';
import { smallMessage, tinyMessage } from './messages.js';

export async function populate(store: Store, userName: string, mailbox: string, count: number, seed: number, kind: 'tiny' | 'small'): Promise<void> {
  const user = await store.getUser(userName);
  if (!user) throw new Error(`no user ${userName}`);
  const box = (await store.getMailbox(user.id, mailbox)) ?? (await store.createMailbox(user.id, mailbox));
  const batch = 1000;
  for (let start = 0; start < count; start += batch) {
    const items: AppendItem[] = [];
    const end = Math.min(count, start + batch);
    // Blob writes (each fsynced) overlap in groups; append order stays the index order.
    const group = 64;
    for (let g = start; g < end; g += group) {
      const idx = Array.from({ length: Math.min(group, end - g) }, (_, k) => g + k);
      const prepared = await Promise.all(
        idx.map((i) => store.prepare(kind === 'tiny' ? tinyMessage(seed, i) : smallMessage(seed, i))),
      );
      for (const [k, message] of prepared.entries()) {
        items.push({ message, flags: (g + k) % 3 === 0 ? [] : ['\\Seen'] });
      }
    }
    await store.append(box.id, items);
  }
}
