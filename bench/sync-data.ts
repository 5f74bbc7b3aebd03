// The sync benchmark's data set (issue 5, item 11): an account of N mailboxes holding M messages of mixed
// sizes (many 2–20 KB texts, about 1.7 % with a 100 KB–2 MB base64 attachment; ~250 MB for 10,000 messages),
// generated deterministically from a seed by bench/messages.ts (RFC 5322 headers, RFC 2046 multiparts,
// RFC 2045 base64) and written straight into Dovecot's Maildir++ directory (the Maildir format of
// https://cr.yp.to/proto/maildir.html, flags in the ":2," info field), which Dovecot indexes at its first
// SELECT. Much faster than APPEND and independent of either client under test.
import { chownSync, mkdirSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { makeMessage, rng } from './messages.js';

export interface SyncDataSize {
  messages: number;
  mailboxes: number;
}

export const SYNC_FULL: SyncDataSize = { messages: 10_000, mailboxes: 50 };
export const SYNC_QUICK: SyncDataSize = { messages: 1_000, mailboxes: 10 };

export interface PlannedMailbox {
  /** IMAP name with '/' as the hierarchy delimiter ("Lists/list-07"). */
  name: string;
  /** Indexes of its messages in the data set. */
  messages: number[];
}

export interface PlannedMessage {
  index: number;
  size: number;
  /** Maildir info flags, sorted (F flagged, R replied, S seen). */
  maildirFlags: string;
  /** INTERNALDATE (the maildir file's mtime), ms since the epoch. */
  date: number;
}

export interface SyncDataPlan {
  seed: number;
  mailboxes: PlannedMailbox[];
  messages: PlannedMessage[];
  totalBytes: number;
}

/** Probability that a message carries an attachment (100 KB–2 MB). */
const ATTACHMENT_SHARE = 0.017;

/** Mailbox names: common special-use folders first, then parents and their children (all selectable). */
export function mailboxNames(count: number): string[] {
  const fixed = ['INBOX', 'Archive', 'Sent', 'Drafts', 'Trash', 'Junk', 'Lists', 'Projects'];
  const names = fixed.slice(0, Math.max(1, Math.min(count, fixed.length)));
  for (let k = 1; names.length < count; k++) {
    names.push(k % 2 === 1 ? `Lists/list-${String(k).padStart(2, '0')}` : `Projects/project-${String(k).padStart(2, '0')}`);
  }
  return names;
}

/**
 * The plan (which message goes where, its size, flags and date) without the bytes. Mailbox k receives a share
 * proportional to 1/(k+1) (INBOX largest, a long tail of small folders), every mailbox at least one message.
 */
export function planSyncData(size: SyncDataSize, seed = 5011): SyncDataPlan {
  const r = rng(seed);
  const names = mailboxNames(size.mailboxes);
  const weights = names.map((_, k) => 1 / (k + 1));
  const sum = weights.reduce((a, b) => a + b, 0);
  const quota = weights.map((w) => Math.max(1, Math.floor((size.messages * w) / sum)));
  // Give the rounding remainder (or take the excess) from INBOX.
  quota[0] = Math.max(1, quota[0]! + size.messages - quota.reduce((a, b) => a + b, 0));
  const mailboxes: PlannedMailbox[] = names.map((name) => ({ name, messages: [] }));
  const messages: PlannedMessage[] = [];
  let index = 0;
  const base = Date.UTC(2023, 0, 1);
  for (const [k, box] of mailboxes.entries()) {
    for (let j = 0; j < quota[k]! && index < size.messages; j++, index++) {
      const size =
        r() < ATTACHMENT_SHARE
          ? 100_000 + Math.floor(r() * 1_900_000)
          : // 2–20 KB, log-uniform: more small texts than large ones.
            Math.floor(2_000 * Math.pow(10, r()));
      let flags = '';
      if (index % 17 === 0) flags += 'F';
      if (index % 11 === 0) flags += 'R';
      if (index % 3 !== 0) flags += 'S';
      messages.push({ index, size, maildirFlags: flags, date: base + index * 1_800_000 });
      box.messages.push(index);
    }
  }
  return { seed, mailboxes, messages, totalBytes: 0 };
}

/** The bytes of planned message `m` (deterministic). */
export function planMessageBytes(plan: SyncDataPlan, m: PlannedMessage): Buffer {
  return makeMessage(plan.seed, m.index, m.size);
}

/** Maildir++ folder directory of an IMAP name under the account's root ('/' becomes '.'; INBOX is the root). */
export function maildirFolder(root: string, name: string): string {
  return name === 'INBOX' ? root : join(root, `.${name.replace(/\//g, '.')}`);
}

/**
 * Writes the data set into the Maildir++ tree at `root` (Dovecot's mail directory of the user), owned by
 * uid/gid when running as root. Returns the octets written; fills `plan.totalBytes`.
 */
export function writeMaildirData(plan: SyncDataPlan, root: string, owner?: { uid: number; gid: number }): number {
  const own = (p: string) => {
    if (owner && process.getuid?.() === 0) chownSync(p, owner.uid, owner.gid);
  };
  let total = 0;
  for (const box of plan.mailboxes) {
    const folder = maildirFolder(root, box.name);
    for (const p of [folder, join(folder, 'cur'), join(folder, 'new'), join(folder, 'tmp')]) {
      mkdirSync(p, { recursive: true });
      own(p);
    }
    if (box.name !== 'INBOX') {
      writeFileSync(join(folder, 'maildirfolder'), '');
      own(join(folder, 'maildirfolder'));
    }
    for (const i of box.messages) {
      const m = plan.messages[i]!;
      const data = planMessageBytes(plan, m);
      total += data.length;
      // time.unique.host,S=<size>:2,<flags>; the S= field spares Dovecot a stat per message.
      const p = join(folder, 'cur', `${Math.floor(m.date / 1000)}.M${m.index}P1.syncbench,S=${data.length}:2,${m.maildirFlags}`);
      writeFileSync(p, data);
      const when = new Date(m.date);
      utimesSync(p, when, when);
      own(p);
    }
  }
  plan.totalBytes = total;
  return total;
}
