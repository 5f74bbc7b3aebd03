// Which account and mailbox an LMTP recipient address delivers to (RFC 2033 §4.2: the per-recipient
// answer; RFC 3463 X.1.1 "bad destination mailbox address" for unknown users, X.1.2 for foreign domains).
// "Subaddressing" (user+detail@domain, as in RFC 5233 for Sieve): the detail names a mailbox; when that
// mailbox does not exist the message goes to INBOX, so a typo never bounces mail.
import type { MailboxRecord, Store, UserRecord } from '../store/types.js';
import type { MailAddress } from './lmtp-parser.js';

export interface RecipientPolicy {
  /** Separator between user and folder in the local part; null turns subaddressing off. */
  delimiter: string | null;
  /** Domains accepted (case-insensitive); null accepts any domain (the MTA has already decided). */
  domains: string[] | null;
}

export type Resolution =
  | { kind: 'ok'; user: UserRecord; mailbox: MailboxRecord }
  | { kind: 'unknown-user' }
  | { kind: 'foreign-domain' }
  | { kind: 'no-inbox' };

/**
 * Resolves an address. Account names are tried as the whole address ("alice@example.org") first, then as
 * the local part ("alice"), so both naming schemes work. If neither exists and the local part holds the
 * delimiter, the part before it is tried the same way and the part after it names the mailbox.
 */
export async function resolveRecipient(store: Store, address: MailAddress, policy: RecipientPolicy): Promise<Resolution> {
  if (policy.domains && address.domain !== null) {
    const domain = address.domain.toLowerCase();
    if (!policy.domains.some((d) => d.toLowerCase() === domain)) return { kind: 'foreign-domain' };
  }
  const direct = await findUser(store, address.localPart, address.domain);
  if (direct) return inbox(store, direct);
  const d = policy.delimiter;
  if (d) {
    const at = address.localPart.indexOf(d);
    if (at > 0) {
      const base = address.localPart.slice(0, at);
      const detail = address.localPart.slice(at + d.length);
      const user = await findUser(store, base, address.domain);
      if (user) {
        if (detail !== '' && detail.toUpperCase() !== 'INBOX') {
          const box = await store.getMailbox(user.id, detail);
          if (box) return { kind: 'ok', user, mailbox: box };
        }
        return inbox(store, user);
      }
    }
  }
  return { kind: 'unknown-user' };
}

async function findUser(store: Store, local: string, domain: string | null): Promise<UserRecord | null> {
  if (domain !== null) {
    const full = await store.getUser(`${local}@${domain}`);
    if (full) return full;
  }
  return store.getUser(local);
}

async function inbox(store: Store, user: UserRecord): Promise<Resolution> {
  const box = await store.getMailbox(user.id, 'INBOX');
  return box ? { kind: 'ok', user, mailbox: box } : { kind: 'no-inbox' };
}
