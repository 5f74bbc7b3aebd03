// Copies one store into another (issue 8, "`petrel migrate` to move an embedded store into PostgreSQL and
// back, resumable, verified by counts and digests"). Works through the Store interface only, so every
// direction works: SQLite → PostgreSQL, PostgreSQL → SQLite, and also like to like.
//
// What is copied: users with their password hashes; mailboxes with their names, special-use attributes
// (RFC 6154) and the subscription list (RFC 9051 §6.3.7, names, including ones of absent mailboxes);
// messages with their bytes, flags and keywords, INTERNALDATE (RFC 9051 §2.3.3) — and their numbering:
// through the import-only Store.restoreMessages every target mailbox gets its source's UIDVALIDITY, every
// message its UID and MODSEQ, and the mailbox at least the source's UIDNEXT and HIGHESTMODSEQ
// (RFC 9051 §2.3.1.1, RFC 7162 §3.1), so clients keep their caches and need not resynchronise (RFC 4549
// §4.1). Not kept: OBJECTIDs (RFC 8474), SAVEDATE and expunge tombstones — the target's change log knows
// nothing below the source's HIGHESTMODSEQ, so a QRESYNC from an older mod-sequence is answered as after
// pruned tombstones (RFC 7162 §3.2.5.1: the full VANISHED list), which clients handle.
//
// Resuming: each batch is one atomic restoreMessages call (all or none), in source UID order, so after a
// crash a target mailbox holds exactly a prefix of its source mailbox, with the source's UIDs. A rerun
// checks that prefix (UIDs and blob digests) and restores the rest: nothing twice, nothing lost. A progress
// record in the target (a JSON file in a directory target; a table in a PostgreSQL target) names the source
// and the users this migration created, so a rerun may continue them while a target that already held other
// data is refused.
//
// Verifying: at the end both stores are read again; per mailbox the message count, UIDVALIDITY, UIDNEXT
// and HIGHESTMODSEQ (the target's at least the source's) and a SHA-256 digest over (UID, MODSEQ, flags,
// INTERNALDATE, blob digest) of every message must match, and users' password hashes must be equal.
import { createHash } from 'node:crypto';
import { isPartial } from '../mime/partial.js';
import type { MimeIndex } from '../mime/types.js';
import type { MailboxRecord, MessageMeta, RestoreItem, RestoreState, Store } from './types.js';

export interface MigrateProgress {
  version: 1;
  /** Description of the source (redacted URL or directory). */
  source: string;
  /** Users this migration created or is creating in the target. */
  users: string[];
  /** JSON [user, mailbox] of mailboxes completely copied. */
  doneMailboxes: string[];
  completed: boolean;
}

/** Where the progress record lives in the target. */
export interface ProgressStorage {
  load(): Promise<MigrateProgress | null>;
  save(progress: MigrateProgress): Promise<void>;
}

export interface MigrateOptions {
  source: Store;
  target: Store;
  /** Written into the progress record; a rerun with another source is refused. */
  sourceName: string;
  progress: ProgressStorage;
  /** Messages per APPEND transaction. Default 50. */
  batchSize?: number;
  /** One line per event (mailbox started, batch copied, …). */
  log?: (line: string) => void;
  /** Called after every batch (tests use it to stop the process at a known point). */
  afterBatch?: (batchesSoFar: number) => Promise<void>;
}

export interface MailboxReport {
  user: string;
  mailbox: string;
  messages: number;
  /** SHA-256 over (UID, MODSEQ, flags, INTERNALDATE, blob digest) — equal in source and target. */
  digest: string;
  targetDigest: string;
  /** Whether the target has the source's UIDVALIDITY and UIDs. */
  uidsPreserved: boolean;
  uidValidity: number;
  targetUidValidity: number;
  /** Copied by this run (the rest were there from an earlier, interrupted run). */
  copiedNow: number;
}

export interface MigrateReport {
  users: number;
  mailboxes: number;
  messages: number;
  copiedNow: number;
  perMailbox: MailboxReport[];
  /** Empty when source and target agree. */
  mismatches: string[];
}

export class MigrateError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MigrateError';
  }
}

/** Copies `source` into `target` (see the file header), then verifies; returns what it found. */
export async function migrateStore(opts: MigrateOptions): Promise<MigrateReport> {
  const { source, target } = opts;
  const log = opts.log ?? (() => {});
  const batchSize = Math.max(1, opts.batchSize ?? 50);
  let progress = await opts.progress.load();
  if (progress && progress.source !== opts.sourceName) {
    throw new MigrateError(
      `the target holds an unfinished migration from ${progress.source}, not from ${opts.sourceName}`,
    );
  }
  const sourceUsers = (await source.listUsers()).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  progress ??= { version: 1, source: opts.sourceName, users: [], doneMailboxes: [], completed: false };
  const mine = new Set(progress.users);
  // Refuse before writing anything when the target already has one of the users and this migration did
  // not create it: merging into someone else's mailboxes would mix two histories.
  for (const u of sourceUsers) {
    if (!mine.has(u.name) && (await target.getUser(u.name))) {
      throw new MigrateError(`the target already has a user "${u.name}" that this migration did not create`);
    }
  }
  const done = new Set(progress.doneMailboxes);
  const copiedBy = new Map<string, number>();
  let batches = 0;
  let copiedNow = 0;

  for (const su of sourceUsers) {
    if (!mine.has(su.name)) {
      // Recorded before it is created, so a crash in between does not make the rerun refuse it.
      mine.add(su.name);
      progress.users.push(su.name);
      await opts.progress.save(progress);
    }
    let tu = await target.getUser(su.name);
    if (!tu) {
      tu = await target.createUser(su.name, su.passwordHash);
      log(`user ${su.name}: created`);
    } else if (tu.passwordHash !== su.passwordHash) {
      await target.setPassword(su.name, su.passwordHash);
    }
    const sourceBoxes = await source.listMailboxes(su.id);
    for (const sb of sourceBoxes) {
      const key = JSON.stringify([su.name, sb.name]);
      let tb = await target.getMailbox(tu.id, sb.name);
      if (!tb) tb = await target.createMailbox(tu.id, sb.name, { specialUse: sb.specialUse });
      else if (tb.specialUse !== sb.specialUse) await target.setSpecialUse(tb.id, sb.specialUse);
      if (done.has(key)) continue;
      const copied = await copyMailbox(source, target, su.name, sb, tb, batchSize, log, async () => {
        batches++;
        if (opts.afterBatch) await opts.afterBatch(batches);
      });
      copiedBy.set(key, copied);
      copiedNow += copied;
      done.add(key);
      progress.doneMailboxes.push(key);
      await opts.progress.save(progress);
    }
    const subscribed = new Set(await target.listSubscriptions(tu.id));
    for (const name of await source.listSubscriptions(su.id)) {
      if (!subscribed.has(name)) await target.setSubscribed(tu.id, name, true);
    }
  }

  const report = await verify(source, target, copiedNow, copiedBy);
  if (report.mismatches.length === 0) {
    progress.completed = true;
    await opts.progress.save(progress);
  }
  return report;
}

/** The numbering `sb` must keep in the target: at least what its messages use. */
function restoreState(sb: MailboxRecord, src: readonly MessageMeta[]): RestoreState {
  const last = src[src.length - 1];
  return {
    uidValidity: sb.uidValidity,
    uidNext: Math.max(sb.uidNext, last ? last.uid + 1 : 1),
    highestModSeq: src.reduce((h, m) => Math.max(h, m.modSeq), Math.max(sb.highestModSeq, 1)),
  };
}

async function copyMailbox(
  source: Store,
  target: Store,
  user: string,
  sb: MailboxRecord,
  tb: MailboxRecord,
  batchSize: number,
  log: (line: string) => void,
  afterBatch: () => Promise<void>,
): Promise<number> {
  const src = await source.listMessages(sb.id);
  const dst = await target.listMessages(tb.id);
  const state = restoreState((await source.getMailboxById(sb.id)) ?? sb, src);
  if (dst.length > src.length) {
    throw new MigrateError(`${user}/${sb.name}: the target has more messages (${dst.length}) than the source (${src.length})`);
  }
  if (dst.length > 0 && tb.uidValidity !== state.uidValidity) {
    throw new MigrateError(
      `${user}/${sb.name}: the target has UIDVALIDITY ${tb.uidValidity}, the source ${state.uidValidity}; cannot resume`,
    );
  }
  for (let i = 0; i < dst.length; i++) {
    if (dst[i]!.blobId !== src[i]!.blobId || dst[i]!.uid !== src[i]!.uid) {
      throw new MigrateError(
        `${user}/${sb.name}: message ${i + 1} of the target is not message ${i + 1} of the source; cannot resume`,
      );
    }
  }
  if (dst.length > 0 && dst.length < src.length) log(`${user}/${sb.name}: resuming after ${dst.length} messages`);
  // An empty mailbox still gets its UIDVALIDITY, UIDNEXT and HIGHESTMODSEQ (a no-op when it has them).
  if (dst.length === src.length) await target.restoreMessages(tb.id, state, []);
  let copied = 0;
  for (let start = dst.length; start < src.length; start += batchSize) {
    const batch = src.slice(start, start + batchSize);
    const items: RestoreItem[] = [];
    try {
      // A replica's partly downloaded messages (docs/sync.md) keep their synthetic bytes and their index.
      const partial = new Map<number, MimeIndex>();
      for (const r of await source.getMessages(sb.id, batch.map((m) => m.uid))) if (isPartial(r.mime)) partial.set(r.uid, r.mime);
      for (const m of batch) {
        const mime = partial.get(m.uid);
        if (mime) {
          const bytes = await source.readBlob(m.blobId, 0, m.size);
          const prepared = await target.preparePartial(bytes, mime, m.size);
          items.push({ message: prepared, flags: m.flags, internalDate: m.internalDate, internalDateOffset: m.internalDateOffset, uid: m.uid, modSeq: m.modSeq });
          continue;
        }
        const writer = target.beginIngest();
        try {
          for await (const chunk of source.streamBlob(m.blobId, 0, m.size)) await writer.write(chunk);
          const prepared = await writer.finish();
          if (prepared.blobId !== m.blobId) {
            throw new MigrateError(`${user}/${sb.name} uid ${m.uid}: the bytes read back do not match their digest`);
          }
          items.push({ message: prepared, flags: m.flags, internalDate: m.internalDate, internalDateOffset: m.internalDateOffset, uid: m.uid, modSeq: m.modSeq });
        } catch (err) {
          await writer.abort().catch(() => {});
          throw err;
        }
      }
      await target.restoreMessages(tb.id, state, items);
    } catch (err) {
      if (err instanceof MigrateError) throw err;
      throw new MigrateError(`${user}/${sb.name}: ${(err as Error).message}`);
    }
    copied += batch.length;
    log(`${user}/${sb.name}: ${start + batch.length}/${src.length} messages`);
    await afterBatch();
  }
  return copied;
}

/** SHA-256 over the messages in UID order: UID, MODSEQ, flags (lower case, sorted), INTERNALDATE, blob digest. */
export function mailboxDigest(messages: readonly MessageMeta[]): string {
  const h = createHash('sha256');
  for (const m of messages) {
    const flags = m.flags.map((f) => f.toLowerCase()).sort().join(' ');
    h.update(`${m.uid} ${m.modSeq} ${m.internalDate} ${m.internalDateOffset} ${m.blobId} ${flags}\n`);
  }
  return h.digest('hex');
}

async function verify(source: Store, target: Store, copiedNow: number, copiedBy: Map<string, number>): Promise<MigrateReport> {
  const mismatches: string[] = [];
  const perMailbox: MailboxReport[] = [];
  const users = await source.listUsers();
  let messages = 0;
  for (const su of users) {
    const tu = await target.getUser(su.name);
    if (!tu) {
      mismatches.push(`user ${su.name} is missing in the target`);
      continue;
    }
    if (tu.passwordHash !== su.passwordHash) mismatches.push(`user ${su.name}: password hash differs`);
    const tboxes = new Map((await target.listMailboxes(tu.id)).map((b) => [b.name, b]));
    for (const sb of await source.listMailboxes(su.id)) {
      const tb = tboxes.get(sb.name);
      if (!tb) {
        mismatches.push(`${su.name}/${sb.name} is missing in the target`);
        continue;
      }
      if (tb.specialUse !== sb.specialUse) mismatches.push(`${su.name}/${sb.name}: special-use differs`);
      const src = await source.listMessages(sb.id);
      const dst = await target.listMessages(tb.id);
      const digest = mailboxDigest(src);
      const targetDigest = mailboxDigest(dst);
      const where = `${su.name}/${sb.name}`;
      if (src.length !== dst.length) mismatches.push(`${where}: ${src.length} messages in the source, ${dst.length} in the target`);
      else if (digest !== targetDigest) mismatches.push(`${where}: digests differ`);
      if (tb.uidValidity !== sb.uidValidity) mismatches.push(`${where}: UIDVALIDITY ${sb.uidValidity} in the source, ${tb.uidValidity} in the target`);
      if (tb.uidNext < sb.uidNext) mismatches.push(`${where}: UIDNEXT ${sb.uidNext} in the source, ${tb.uidNext} in the target`);
      if (tb.highestModSeq < sb.highestModSeq) {
        mismatches.push(`${where}: HIGHESTMODSEQ ${sb.highestModSeq} in the source, ${tb.highestModSeq} in the target`);
      }
      messages += src.length;
      perMailbox.push({
        user: su.name,
        mailbox: sb.name,
        messages: src.length,
        digest,
        targetDigest,
        uidsPreserved: tb.uidValidity === sb.uidValidity && src.length === dst.length && src.every((m, i) => dst[i]!.uid === m.uid),
        uidValidity: sb.uidValidity,
        targetUidValidity: tb.uidValidity,
        copiedNow: copiedBy.get(JSON.stringify([su.name, sb.name])) ?? 0,
      });
    }
    const tsubs = new Set(await target.listSubscriptions(tu.id));
    for (const s of await source.listSubscriptions(su.id)) {
      if (!tsubs.has(s)) mismatches.push(`${su.name}: subscription "${s}" is missing in the target`);
    }
  }
  return { users: users.length, mailboxes: perMailbox.length, messages, copiedNow, perMailbox, mismatches };
}
