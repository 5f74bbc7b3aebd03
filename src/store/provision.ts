// A new account: the user, INBOX and the RFC 6154 §2 special-use mailboxes (\Drafts, \Sent, \Trash,
// \Junk, \Archive), all subscribed (RFC 9051 §6.3.7) so clients that list subscriptions see them.
import type { MailboxRecord, SpecialUse, Store, UserRecord } from './types.js';

/** The mailboxes every new account gets, in creation order. */
export const DEFAULT_MAILBOXES: ReadonlyArray<{ name: string; specialUse: SpecialUse | null }> = [
  { name: 'INBOX', specialUse: null },
  { name: 'Drafts', specialUse: '\\Drafts' },
  { name: 'Sent', specialUse: '\\Sent' },
  { name: 'Trash', specialUse: '\\Trash' },
  { name: 'Junk', specialUse: '\\Junk' },
  { name: 'Archive', specialUse: '\\Archive' },
];

/** Creates the user with the default mailboxes. ALREADYEXISTS when the user exists. */
export async function provisionUser(store: Store, name: string, passwordHash: string): Promise<UserRecord> {
  const user = await store.createUser(name, passwordHash);
  await ensureDefaultMailboxes(store, user.id);
  return user;
}

/** Creates whichever default mailboxes are missing and subscribes them; returns the ones created. */
export async function ensureDefaultMailboxes(store: Store, userId: number): Promise<MailboxRecord[]> {
  const created: MailboxRecord[] = [];
  for (const { name, specialUse } of DEFAULT_MAILBOXES) {
    if (!(await store.getMailbox(userId, name))) {
      created.push(await store.createMailbox(userId, name, { specialUse }));
    }
    await store.setSubscribed(userId, name, true);
  }
  return created;
}
