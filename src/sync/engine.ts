// The sync engine: RFC 1733's disconnected model. One run reconciles a replica (a Petrel store plus
// sync.db, src/sync/state.ts) with an IMAP account:
//
//  1. mailboxes: creations, renames and deletions on either side (docs/sync.md "Mailboxes");
//  2. local moves and copies between mailboxes become UID MOVE / UID COPY on the server (RFC 6851, RFC 9051
//     §6.4.7), so no bytes are uploaded again; without MOVE: COPY + \Deleted + UID EXPUNGE (RFC 6851 §3.3);
//  3. per mailbox: remote changes by the best tier offered — QRESYNC (RFC 7162 §3.2.5 SELECT with
//     VANISHED (EARLIER)), CONDSTORE (§3.1.4 CHANGEDSINCE plus a UID SEARCH for expunges), or a full UID/FLAGS
//     scan — and local changes from the store's change log (changesSince), merged per flag against the
//     base (src/sync/merge.ts), written back with STORE UNCHANGEDSINCE (§3.1.3) where available;
//  4. expunges both ways (UID EXPUNGE, RFC 4315 §2.1), downloads of new remote mail per download policy,
//     uploads of new local mail exactly once (intent → APPEND → APPENDUID, RFC 4315 §3).
// A UIDVALIDITY change (RFC 9051 §2.3.1.1) never deletes local data: messages are paired again by EMAILID
// (RFC 8474) or content identity (size + digest of the header), the rest is downloaded or uploaded.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { DestinationLockedError, lockDestination } from '../offline/dest-lock.js';
import { topHeaderRange } from '../mime/sections.js';
import { buildPartialMessage, isPartial, partialHeaderSections } from '../mime/partial.js';
import type { ImapClient } from '../client/imap-client.js';
import { ImapCommandError } from '../client/errors.js';
import type { BodyStructure, FetchedMessage, ListEntry, SelectResult } from '../client/types.js';
import type { MimeIndex } from '../mime/types.js';
import type { MailboxRecord, MessageMeta, PreparedMessage, SpecialUse, Store } from '../store/types.js';
import { commonFlags, flagDiff, flagKey, mergeFlags, normalizeFlags, sameFlags } from './merge.js';
import { connectRemote, findByContent, matchesPattern, remoteFeatures, sha256, toLocalName, toRemoteName, type RemoteFeatures } from './remote.js';
import { BackgroundIndexer } from './index-worker.js';
import { ensureLocalMailbox, openReplica, type Replica } from './replica.js';
import type { MailboxPair, MessagePair, SyncState } from './state.js';
import type {
  DownloadPolicy,
  MailboxRule,
  MailboxSummary,
  SyncAction,
  SyncOptions,
  SyncProgress,
  SyncSummary,
  SyncTier,
} from './types.js';

/** Bytes of message data fetched per FETCH command when downloading whole messages. */
const DOWNLOAD_BATCH_BYTES = 8 * 1024 * 1024;
const DOWNLOAD_BATCH_MESSAGES = 250;
/** Messages written into the replica's blob store at once. */
const PREPARE_CONCURRENCY = 4;
const SPECIAL_USES = new Set(['\\Drafts', '\\Sent', '\\Trash', '\\Junk', '\\Archive', '\\All', '\\Flagged']);

/** Runs one sync of the replica with the account; see the header comment. */
export async function syncOnce(opts: SyncOptions): Promise<SyncSummary> {
  const started = Date.now();
  const disable = new Set((opts.disable ?? []).map((s) => s.toUpperCase()));
  // One sync per replica at a time (a lock left by a killed run is taken over).
  mkdirSync(opts.replicaDir, { recursive: true });
  let unlock: () => Promise<void>;
  try {
    unlock = await lockDestination(join(opts.replicaDir, 'sync.lock'));
  } catch (err) {
    if (err instanceof DestinationLockedError) throw new Error(`another petrel sync (pid ${err.pid}) is working on ${opts.replicaDir}`);
    throw err;
  }
  let replica: Replica;
  try {
    replica = await openReplica(opts.replicaDir, { userName: opts.account.user, password: opts.account.password });
  } catch (err) {
    await unlock();
    throw err;
  }
  let client: ImapClient | null = null;
  const ix: { current: BackgroundIndexer | null } = { current: null };
  try {
    const run = new SyncRun(replica, opts);
    // Downloads leave their full-text documents for later (append's deferIndex); a worker thread writes
    // them meanwhile on its own connection (src/sync/index-worker.ts), so the FTS5 work runs next to the
    // network and blob writes instead of after them.
    // The thread starts with the first download (a resync with nothing new does without it).
    if (opts.dryRun !== true && replica.store.indexPending) {
      run.startIndexer = () => {
        if (!ix.current) {
          ix.current = BackgroundIndexer.start(replica.dir);
          // The download's write transactions and the thread's hand the lock over (index-worker.ts).
          asGated(replica.store)?.setWriteGate(ix.current.gate);
        }
        return ix.current;
      };
    }
    run.progress('connect');
    client = await connectRemote(opts.account, disable, opts.signal);
    await run.run(client, remoteFeatures(client, disable));
    // The server is done with, so the connection goes first. Then what the thread has not indexed yet
    // (and, should it have failed, everything it left) is indexed here. A run that fails or is killed
    // before this point leaves the documents marked; the next run (or the store's upkeep) writes them,
    // and SEARCH scans such messages meanwhile.
    await client.logout().catch(() => undefined);
    client = null;
    const bg = ix.current;
    if (bg) {
      run.progress('index');
      ix.current = null;
      // Ctrl-C while indexing ends the thread at once; what it did not write stays marked for next time.
      const onAbort = () => void bg.stop();
      opts.signal?.addEventListener('abort', onAbort, { once: true });
      try {
        await bg.finish().catch((err: unknown) => {
          if (!opts.signal?.aborted) run.logLine(err instanceof Error ? err.message : String(err));
        });
      } finally {
        opts.signal?.removeEventListener('abort', onAbort);
      }
      if (opts.signal?.aborted) throw new Error('sync aborted');
    }
    // What the thread left (it failed) or an earlier run left (killed before its end).
    if (opts.dryRun !== true) await replica.store.indexPending?.(opts.signal ? { signal: opts.signal } : {});
    return run.summary(started);
  } finally {
    asGated(replica.store)?.setWriteGate(null);
    if (ix.current) await ix.current.stop();
    if (client) await client.logout().catch(() => undefined);
    await replica.close();
    await unlock();
  }
}

/** The SQLite store's write gate (SqliteStore.setWriteGate), when the replica's store has one. */
function asGated(store: Store): { setWriteGate(gate: { enter(): void; leave(): void } | null): void } | null {
  const s = store as Partial<{ setWriteGate(gate: { enter(): void; leave(): void } | null): void }>;
  return typeof s.setWriteGate === 'function' ? (s as { setWriteGate(gate: { enter(): void; leave(): void } | null): void }) : null;
}

/** A mailbox pair to synchronise in this run. */
interface Work {
  pair: MailboxPair;
  local: MailboxRecord | null;
  /** The pair is new (or its mailbox was just created): no message pairs yet. */
  fresh: boolean;
  readOnly: boolean;
  policy: DownloadPolicy;
  /** Local delta computed before anything is changed (phase A). */
  delta?: LocalDelta;
  summary: MailboxSummary;
}

interface LocalDelta {
  /** Local highest mod-sequence when the delta was taken: the next run starts from here. */
  startModSeq: number;
  pairs: Map<number, MessagePair>;
  /** Paired local UIDs whose message is gone locally. */
  expunged: Set<number>;
  /** Current flags of paired local messages that changed since the last sync (maybe only touched). */
  changed: Map<number, string[]>;
  /** Local messages with no remote counterpart, no pending intent. */
  fresh: MessageMeta[];
}

interface CrossMailboxOp {
  kind: 'move' | 'copy';
  source: Work;
  sourceRow: MessagePair;
  dest: Work;
  message: MessageMeta;
}

class SyncRun {
  private readonly store: Store;
  private readonly state: SyncState;
  private readonly userId: number;
  private readonly dry: boolean;
  /** Starts (once) the thread that writes the downloads' deferred search documents; null: none (dry run). */
  startIndexer: (() => BackgroundIndexer) | null = null;
  private client!: ImapClient;
  private features!: RemoteFeatures;
  private delimiter: string | null = '/';
  private readonly actions: SyncAction[] = [];
  private readonly conflicts: string[] = [];
  private readonly mailboxSummaries: MailboxSummary[] = [];
  private created = 0;
  private deleted = 0;
  private renamed = 0;
  private bytesDown = 0;
  private bytesUp = 0;
  private readonly prog: SyncProgress = {
    phase: 'connect',
    mailboxesDone: 0,
    mailboxesTotal: 0,
    messagesDone: 0,
    messagesTotal: 0,
    bytesDone: 0,
    bytesTotal: 0,
  };

  constructor(
    replica: Replica,
    private readonly opts: SyncOptions,
  ) {
    this.store = replica.store;
    this.state = replica.state;
    this.userId = replica.user.id;
    this.dry = opts.dryRun === true;
  }

  progress(phase: SyncProgress['phase'], mailbox?: string): void {
    this.prog.phase = phase;
    if (mailbox !== undefined) this.prog.mailbox = mailbox;
    this.opts.onProgress?.({ ...this.prog });
  }

  private log(line: string): void {
    this.opts.onLog?.(line);
  }

  logLine(line: string): void {
    this.log(line);
  }

  private act(side: SyncAction['side'], kind: SyncAction['kind'], mailbox: string, detail: string): void {
    this.actions.push({ side, kind, mailbox, detail });
    if (this.dry) this.log(`would ${kind} on ${side}: ${mailbox}${detail ? ` (${detail})` : ''}`);
  }

  private checkAbort(): void {
    if (this.opts.signal?.aborted) throw new Error('sync aborted');
  }

  summary(started: number): SyncSummary {
    const sum = (k: keyof MailboxSummary) => this.mailboxSummaries.reduce((a, m) => a + (m[k] as number), 0);
    this.prog.phase = 'done';
    this.opts.onProgress?.({ ...this.prog });
    return {
      dryRun: this.dry,
      mailboxes: this.mailboxSummaries,
      actions: this.actions,
      downloaded: sum('downloaded'),
      uploaded: sum('uploaded'),
      bytesDown: this.bytesDown,
      bytesUp: this.bytesUp,
      flagsToRemote: sum('flagsToRemote'),
      flagsToLocal: sum('flagsToLocal'),
      expungedRemote: sum('expungedRemote'),
      expungedLocal: sum('expungedLocal'),
      mailboxesCreated: this.created,
      mailboxesDeleted: this.deleted,
      mailboxesRenamed: this.renamed,
      conflicts: this.conflicts,
      elapsedMs: Date.now() - started,
    };
  }

  private inScope(localName: string): boolean {
    const pats = this.opts.mailboxes;
    if (!pats || pats.length === 0) return true;
    return pats.some((p) => matchesPattern(localName, p));
  }

  private rule(localName: string): MailboxRule | null {
    for (const r of this.opts.rules ?? []) if (matchesPattern(localName, r.pattern)) return r;
    return null;
  }

  async run(client: ImapClient, features: RemoteFeatures): Promise<void> {
    this.client = client;
    this.features = features;
    if (!this.dry) {
      const { password: _pw, ...rest } = this.opts.account;
      this.state.setMeta('account', JSON.stringify(rest));
    }
    this.progress('mailboxes');
    const work = await this.reconcileMailboxes();
    this.prog.mailboxesTotal = work.length;
    for (const w of work) if (w.local) w.delta = await this.localDelta(w);
    await this.crossMailboxOps(work);
    for (const w of work) {
      this.checkAbort();
      this.progress('mailbox', w.pair.localName);
      await this.syncMailbox(w);
      this.mailboxSummaries.push(w.summary);
      this.prog.mailboxesDone++;
      this.progress('mailbox', w.pair.localName);
    }
  }

  // ---- mailboxes -------------------------------------------------------------------------------------

  private async reconcileMailboxes(): Promise<Work[]> {
    const entries = await this.client.list('', '*', this.features.objectId ? { status: ['MAILBOXID'] } : {});
    const inbox = entries.find((e) => e.path.toUpperCase() === 'INBOX');
    this.delimiter = (inbox ?? entries[0])?.delimiter ?? '/';
    if (this.delimiter === null) this.delimiter = '/';
    // Remote mailboxes by replica name.
    const remote = new Map<string, ListEntry>();
    for (const e of entries) {
      if (e.noSelect) continue;
      const name = toLocalName(e.path, e.delimiter ?? this.delimiter);
      if (name === null) {
        this.log(`skipping remote mailbox ${JSON.stringify(e.path)}: its name cannot be kept in the replica`);
        continue;
      }
      remote.set(name, e);
    }
    if (!remote.has('INBOX')) remote.set('INBOX', { path: 'INBOX', delimiter: this.delimiter, flags: [], subscribed: true, noSelect: false });
    const remoteById = new Map<string, string>();
    for (const [name, e] of remote) if (e.status?.mailboxId) remoteById.set(e.status.mailboxId, name);

    const locals = await this.store.listMailboxes(this.userId);
    const localById = new Map(locals.map((m) => [m.objectId, m]));
    const localByName = new Map(locals.map((m) => [m.name, m]));
    const pairedLocal = new Set<string>();
    const pairedRemote = new Set<string>();
    const work: Work[] = [];

    for (const p of this.state.pairs()) {
      let local = localById.get(p.localId) ?? null;
      if (!this.inScope(p.localName) && !(local && this.inScope(local.name))) continue;
      // Where the remote mailbox is now: by MAILBOXID when offered, else by name, else by UIDVALIDITY.
      let remoteName: string | null = null;
      if (p.remoteId && remoteById.has(p.remoteId)) remoteName = remoteById.get(p.remoteId)!;
      else {
        const byName = toLocalName(p.remoteName, this.delimiter);
        if (byName !== null && remote.has(byName) && !pairedRemote.has(byName)) remoteName = byName;
        else remoteName = await this.findRenamedRemote(p, remote, pairedRemote);
      }
      if (remoteName !== null && pairedRemote.has(remoteName)) remoteName = null;

      if (local && remoteName !== null) {
        const lastName = p.localName;
        const localRenamed = local.name !== lastName;
        const remoteRenamed = remoteName !== lastName;
        if (localRenamed && remoteName !== local.name) {
          // Renamed here (or on both sides: the replica's name wins) → RENAME on the server.
          const to = toRemoteName(local.name, this.delimiter);
          if (to !== null && !remote.has(local.name)) {
            this.act('remote', 'rename-mailbox', local.name, `from ${remoteName}`);
            const fromPath = remote.get(remoteName)!.path;
            if (!this.dry) await this.client.rename(fromPath, to);
            this.renamed++;
            // RENAME takes the children along (RFC 9051 §6.3.6): so does the view of the server's list.
            for (const [name, e] of [...remote]) {
              if (name !== remoteName && !name.startsWith(`${remoteName}/`)) continue;
              remote.delete(name);
              remote.set(local.name + name.slice(remoteName.length), { ...e, path: to + e.path.slice(fromPath.length) });
            }
            remoteName = local.name;
          }
        } else if (remoteRenamed && !localRenamed && !localByName.has(remoteName)) {
          this.act('local', 'rename-mailbox', remoteName, `from ${local.name}`);
          if (!this.dry) {
            await this.ensureParents(remoteName);
            const from = local.name;
            await this.store.renameMailbox(this.userId, from, remoteName);
            local = (await this.store.getMailbox(this.userId, remoteName)) ?? local;
            // The store renamed the children too: later pairs must see their new names.
            for (const [id, m] of [...localById]) {
              if (m.name !== from && !m.name.startsWith(`${from}/`)) continue;
              const moved = { ...m, name: remoteName + m.name.slice(from.length) };
              localById.set(id, moved);
              localByName.delete(m.name);
              localByName.set(moved.name, moved);
            }
          }
          this.renamed++;
        }
        pairedLocal.add(p.localId);
        pairedRemote.add(remoteName);
        const pair: MailboxPair = { ...p, localName: local.name, remoteName: remote.get(remoteName)?.path ?? p.remoteName };
        if (remote.get(remoteName)?.status?.mailboxId) pair.remoteId = remote.get(remoteName)!.status!.mailboxId!;
        work.push(this.newWork(pair, local, false));
        continue;
      }

      if (local && remoteName === null) {
        // Gone on the server. Mail that only the replica has is kept: the mailbox is created again and
        // that mail uploaded; what was synchronised goes, as the server's deletion says.
        pairedLocal.add(p.localId);
        const delta = await this.localDelta(this.newWork(p, local, false));
        if (delta.fresh.length > 0 || local.name === 'INBOX') {
          this.conflicts.push(`${local.name}: deleted on the server while the replica had ${delta.fresh.length} new message(s); created again to keep them`);
          const to = toRemoteName(local.name, this.delimiter)!;
          this.act('remote', 'create-mailbox', local.name, 'keeps mail added in the replica');
          if (!this.dry) {
            await this.createRemote(to);
            const synced = [...delta.pairs.keys()].filter((uid) => !delta.expunged.has(uid));
            await this.expungeLocal(local, synced);
            this.state.dropPair(p.localId);
          }
          this.created++;
          pairedRemote.add(local.name);
          const pair = this.freshPair(local, to);
          work.push(this.newWork(pair, local, true));
        } else {
          this.act('local', 'delete-mailbox', local.name, 'deleted on the server');
          if (!this.dry) {
            await this.store.deleteMailbox(this.userId, local.name);
            this.state.dropPair(p.localId);
          }
          this.deleted++;
        }
        continue;
      }

      if (!local && remoteName !== null) {
        // Deleted in the replica. The server's mailbox goes too, unless mail arrived there since.
        pairedRemote.add(remoteName);
        const entry = remote.get(remoteName)!;
        const st = await this.client.status(entry.path, ['UIDNEXT', 'UIDVALIDITY', 'MESSAGES']);
        let unchanged = st.uidValidity === p.uidValidity && st.uidNext !== undefined;
        if (unchanged && st.uidNext! > p.uidNext) {
          // Messages above the last UIDNEXT may be our own uploads; anything else is new mail.
          const ours = new Set(this.state.messages(p.localId).map((r) => r.remoteUid));
          await this.client.examine(entry.path);
          const above = (await this.client.search({ uid: `${p.uidNext}:*` }, { uid: true })).filter((u) => u >= p.uidNext);
          unchanged = above.every((u) => ours.has(u));
        }
        if (unchanged && remoteName !== 'INBOX') {
          this.act('remote', 'delete-mailbox', remoteName, 'deleted in the replica');
          if (!this.dry) {
            await this.client.delete(entry.path);
            this.state.dropPair(p.localId);
          }
          this.deleted++;
        } else {
          this.conflicts.push(`${remoteName}: deleted in the replica but new mail arrived on the server; created again`);
          this.act('local', 'create-mailbox', remoteName, 'new mail on the server');
          if (!this.dry) {
            this.state.dropPair(p.localId);
            const created = await ensureLocalMailbox(this.store, this.userId, remoteName, specialUseOf(entry));
            pairedLocal.add(created.objectId);
            work.push(this.newWork(this.freshPair(created, entry.path), created, true));
          }
          this.created++;
        }
        continue;
      }
      // Gone on both sides.
      if (!this.dry) this.state.dropPair(p.localId);
    }

    // Remote mailboxes the replica has not paired yet.
    for (const [name, entry] of remote) {
      if (pairedRemote.has(name) || !this.inScope(name)) continue;
      let local = localByName.get(name) ?? null;
      if (local && pairedLocal.has(local.objectId)) local = null;
      if (!local) {
        this.act('local', 'create-mailbox', name, '');
        this.created++;
        if (this.dry) {
          const st = await this.client.status(entry.path, ['MESSAGES']);
          this.act('local', 'download', name, `${st.messages ?? 0} message(s)`);
          continue;
        }
        local = await ensureLocalMailbox(this.store, this.userId, name, specialUseOf(entry));
      }
      pairedLocal.add(local.objectId);
      pairedRemote.add(name);
      const pair = this.freshPair(local, entry.path);
      if (entry.status?.mailboxId) pair.remoteId = entry.status.mailboxId;
      work.push(this.newWork(pair, local, true));
    }

    // Local mailboxes the server does not have yet.
    for (const local of await this.store.listMailboxes(this.userId)) {
      if (pairedLocal.has(local.objectId) || !this.inScope(local.name)) continue;
      if (this.state.pair(local.objectId)) continue;
      const to = toRemoteName(local.name, this.delimiter);
      if (to === null) {
        this.log(`skipping ${JSON.stringify(local.name)}: the server's hierarchy delimiter cannot express it`);
        continue;
      }
      this.act('remote', 'create-mailbox', local.name, '');
      this.created++;
      if (!this.dry) await this.createRemote(to);
      pairedLocal.add(local.objectId);
      work.push(this.newWork(this.freshPair(local, to), local, true));
    }
    work.sort((a, b) => (a.pair.localName < b.pair.localName ? -1 : 1));
    return work;
  }

  private async createRemote(path: string): Promise<void> {
    try {
      await this.client.create(path);
    } catch (err) {
      if (!(err instanceof ImapCommandError && err.code === 'ALREADYEXISTS')) throw err;
    }
  }

  private async ensureParents(name: string): Promise<void> {
    const parts = name.split('/');
    for (let i = 1; i < parts.length; i++) {
      const parent = parts.slice(0, i).join('/');
      if (!(await this.store.getMailbox(this.userId, parent))) await this.store.createMailbox(this.userId, parent);
    }
  }

  /** Without MAILBOXID: a remote mailbox nobody has paired whose UIDVALIDITY is this pair's (a rename). */
  private async findRenamedRemote(p: MailboxPair, remote: Map<string, ListEntry>, pairedRemote: Set<string>): Promise<string | null> {
    if (p.uidValidity === 0) return null;
    const known = new Set(this.state.pairs().map((x) => toLocalName(x.remoteName, this.delimiter)));
    const hits: string[] = [];
    for (const [name, e] of remote) {
      if (pairedRemote.has(name) || known.has(name)) continue;
      const st = await this.client.status(e.path, ['UIDVALIDITY']);
      if (st.uidValidity === p.uidValidity) hits.push(name);
    }
    return hits.length === 1 ? hits[0]! : null;
  }

  private freshPair(local: MailboxRecord, remotePath: string): MailboxPair {
    return {
      localId: local.objectId,
      localName: local.name,
      remoteName: remotePath,
      remoteId: null,
      uidValidity: 0,
      uidNext: 1,
      highestModSeq: 0,
      localModSeq: 0,
      readOnly: false,
    };
  }

  private newWork(pair: MailboxPair, local: MailboxRecord | null, fresh: boolean): Work {
    const rule = this.rule(pair.localName);
    return {
      pair,
      local,
      fresh,
      readOnly: pair.readOnly || rule?.readOnly === true,
      policy: rule?.policy ?? { mode: 'full' },
      summary: {
        name: pair.localName,
        tier: 'full',
        downloaded: 0,
        uploaded: 0,
        flagsToRemote: 0,
        flagsToLocal: 0,
        expungedRemote: 0,
        expungedLocal: 0,
      },
    };
  }

  // ---- local changes ---------------------------------------------------------------------------------

  private async localDelta(w: Work): Promise<LocalDelta> {
    const local = w.local!;
    const rows = this.state.messages(w.pair.localId);
    const pairs = new Map(rows.map((r) => [r.localUid, r]));
    const pending = this.pendingUploads(w);
    const status = await this.store.mailboxStatus(local.id);
    const delta: LocalDelta = { startModSeq: status.highestModSeq, pairs, expunged: new Set(), changed: new Map(), fresh: [] };
    let changed: MessageMeta[] | null = null;
    if (w.pair.localModSeq > 0 && !w.fresh) {
      const cs = await this.store.changesSince(local.id, w.pair.localModSeq);
      if (!cs.truncated) {
        changed = cs.changed;
        for (const uid of cs.expunged) if (pairs.has(uid)) delta.expunged.add(uid);
      }
    }
    if (changed === null) {
      // No usable change log (first sync, or tombstones pruned): compare everything.
      changed = await this.store.listMessages(local.id);
      const present = new Set(changed.map((m) => m.uid));
      for (const uid of pairs.keys()) if (!present.has(uid)) delta.expunged.add(uid);
    }
    for (const m of changed) {
      if (pairs.has(m.uid)) delta.changed.set(m.uid, normalizeFlags(m.flags));
      else if (!pending.has(m.uid)) delta.fresh.push(m);
    }
    return delta;
  }

  // ---- local moves and copies between mailboxes ------------------------------------------------------

  private async crossMailboxOps(work: Work[]): Promise<void> {
    const expungedByBlob = new Map<string, Array<{ w: Work; row: MessagePair }>>();
    const liveByBlob = new Map<string, { w: Work; row: MessagePair }>();
    for (const w of work) {
      if (!w.delta || w.fresh || w.readOnly) continue;
      for (const row of w.delta.pairs.values()) {
        if (w.delta.expunged.has(row.localUid)) {
          const list = expungedByBlob.get(row.blobId) ?? [];
          list.push({ w, row });
          expungedByBlob.set(row.blobId, list);
        } else if (!liveByBlob.has(row.blobId)) liveByBlob.set(row.blobId, { w, row });
      }
    }
    if (expungedByBlob.size === 0 && liveByBlob.size === 0) return;
    const ops: CrossMailboxOp[] = [];
    for (const dest of work) {
      if (!dest.delta || dest.fresh || dest.readOnly) continue;
      const keep: MessageMeta[] = [];
      for (const m of dest.delta.fresh) {
        const moved = expungedByBlob.get(m.blobId)?.find((s) => s.w !== dest);
        if (moved) {
          expungedByBlob.get(m.blobId)!.splice(expungedByBlob.get(m.blobId)!.indexOf(moved), 1);
          moved.w.delta!.expunged.delete(moved.row.localUid);
          moved.w.delta!.pairs.delete(moved.row.localUid);
          ops.push({ kind: 'move', source: moved.w, sourceRow: moved.row, dest, message: m });
          continue;
        }
        const copied = liveByBlob.get(m.blobId);
        if (copied) {
          ops.push({ kind: 'copy', source: copied.w, sourceRow: copied.row, dest, message: m });
          continue;
        }
        keep.push(m);
      }
      dest.delta.fresh = keep;
    }
    // One command per (kind, source, destination).
    const groups = new Map<string, CrossMailboxOp[]>();
    for (const op of ops) {
      const k = `${op.kind}\u0000${op.source.pair.localId}\u0000${op.dest.pair.localId}`;
      groups.set(k, [...(groups.get(k) ?? []), op]);
    }
    for (const group of groups.values()) {
      const { kind, source, dest } = group[0]!;
      const uids = group.map((o) => o.sourceRow.remoteUid);
      this.act('remote', kind === 'move' ? 'expunge' : 'upload', dest.pair.localName, `${kind} ${uids.length} message(s) from ${source.pair.localName} on the server`);
      if (this.dry) continue;
      const st = await this.client.status(dest.pair.remoteName, ['UIDNEXT']);
      const intentIds = this.state.tx(() =>
        group.map((o) =>
          this.state.addIntent({
            kind,
            localId: dest.pair.localId,
            localUid: o.message.uid,
            remoteUid: o.sourceRow.remoteUid,
            sourceLocalId: source.pair.localId,
            blobId: o.message.blobId,
            size: o.message.size,
            remoteUidNext: st.uidNext ?? 1,
            flags: o.sourceRow.base,
          }),
        ),
      );
      await this.client.select(source.pair.remoteName);
      let uidMap: Map<number, number> | undefined;
      if (kind === 'move' && this.features.move) {
        uidMap = (await this.client.move(uids, dest.pair.remoteName, { uid: true })).uidMap;
      } else {
        uidMap = (await this.client.copy(uids, dest.pair.remoteName, { uid: true })).uidMap;
        if (kind === 'move') await this.expungeRemoteUids(uids);
      }
      if (!this.features.uidplus) uidMap = undefined;
      this.state.tx(() => {
        group.forEach((o, i) => {
          if (kind === 'move') this.state.dropMessage(source.pair.localId, o.sourceRow.localUid);
          const remoteUid = uidMap?.get(o.sourceRow.remoteUid);
          if (remoteUid === undefined) return; // settled by content at the destination's turn
          this.state.putMessage(dest.pair.localId, {
            localUid: o.message.uid,
            remoteUid,
            base: o.sourceRow.base,
            blobId: o.message.blobId,
            size: o.message.size,
            remoteEmailId: o.sourceRow.remoteEmailId,
          });
          this.state.dropIntent(intentIds[i]!);
          dest.delta!.pairs.set(o.message.uid, { ...o.sourceRow, localUid: o.message.uid, remoteUid });
          dest.delta!.changed.set(o.message.uid, normalizeFlags(o.message.flags));
        });
      });
      if (kind === 'move') source.summary.expungedRemote += group.length;
      dest.summary.uploaded += group.length;
    }
  }

  /** \Deleted + UID EXPUNGE on the selected mailbox; without UIDPLUS, EXPUNGE only when nothing else is \Deleted. */
  private async expungeRemoteUids(uids: number[]): Promise<boolean> {
    if (uids.length === 0) return true;
    await this.client.store(uids, ['\\Deleted'], { uid: true, mode: 'add', silent: true });
    if (this.features.uidplus) {
      await this.client.uidExpunge(uids);
      return true;
    }
    const deleted = await this.client.search({ deleted: true }, { uid: true });
    const ours = new Set(uids);
    if (deleted.every((u) => ours.has(u))) {
      await this.client.expunge();
      return true;
    }
    this.log('left messages marked \\Deleted on the server: other messages there are marked too and the server has no UID EXPUNGE');
    return false;
  }

  // ---- one mailbox -----------------------------------------------------------------------------------

  private async syncMailbox(w: Work): Promise<void> {
    const p = w.pair;
    const local = w.local;
    if (!local) return; // dry run of a mailbox that would be created
    const delta = w.delta ?? (await this.localDelta(w));
    w.delta = delta;

    // Downloads a crash interrupted between the local append and the pairing.
    if (!this.dry) await this.settleDownloads(w, delta);

    const wantQresync = this.features.qresync && !w.fresh && p.uidValidity > 0 && p.highestModSeq > 0;
    let sel: SelectResult;
    const selOpts = wantQresync
      ? { qresync: { uidValidity: p.uidValidity, modSeq: p.highestModSeq } }
      : this.features.condstore
        ? { condstore: true }
        : {};
    try {
      sel = w.readOnly || this.dry ? await this.client.examine(p.remoteName, selOpts) : await this.client.select(p.remoteName, selOpts);
    } catch (err) {
      if (err instanceof ImapCommandError && err.status === 'NO') {
        this.log(`cannot open ${p.remoteName} on the server: ${err.message}`);
        this.conflicts.push(`${p.localName}: not synchronised (${err.message})`);
        return;
      }
      throw err;
    }
    const readOnly = w.readOnly || (sel.readOnly && !this.dry);
    const modseqOk = this.features.condstore && sel.highestModSeq !== undefined && !sel.noModSeq;
    const repair = w.fresh || p.uidValidity === 0 || sel.uidValidity !== p.uidValidity;
    let tier: SyncTier = 'full';
    if (!repair && wantQresync && sel.changed !== undefined && modseqOk) tier = 'qresync';
    else if (!repair && modseqOk && p.highestModSeq > 0) tier = 'condstore';
    w.summary.tier = tier;
    if (repair && p.uidValidity !== 0 && sel.uidValidity !== p.uidValidity) {
      this.conflicts.push(`${p.localName}: UIDVALIDITY changed on the server (${p.uidValidity} → ${sel.uidValidity}); messages paired again by content`);
      this.log(`${p.localName}: UIDVALIDITY changed; pairing messages again by content`);
    }

    // Appends, moves and copies whose answers a crash hid.
    if (!this.dry && !repair) await this.settleUploads(w, delta);

    // ---- the remote side: what changed since the last sync
    const remoteFlags = new Map<number, string[]>();
    const remoteModSeq = new Map<number, number>();
    let vanished = new Set<number>();
    let present: Set<number> | null = null;
    const emailIds = new Map<number, string>();
    if (repair) {
      await this.repairPairs(w, delta, sel, remoteFlags, emailIds);
      present = new Set(remoteFlags.keys());
    } else if (tier === 'qresync') {
      vanished = new Set(sel.vanished ?? []);
      for (const c of sel.changed ?? []) {
        if (c.flags) remoteFlags.set(c.uid, normalizeFlags(c.flags));
        if (c.modSeq !== undefined) remoteModSeq.set(c.uid, c.modSeq);
      }
    } else {
      const query = tier === 'condstore' ? { uid: true, flags: true, modSeq: true } : { uid: true, flags: true };
      if (sel.exists > 0) {
        for await (const m of this.client.fetch('1:*', query, tier === 'condstore' ? { uid: true, changedSince: p.highestModSeq } : { uid: true })) {
          if (m.uid === undefined) continue;
          remoteFlags.set(m.uid, normalizeFlags(m.flags ?? []));
          if (m.modSeq !== undefined) remoteModSeq.set(m.uid, m.modSeq);
        }
      }
      present = tier === 'full' ? new Set(remoteFlags.keys()) : new Set(sel.exists > 0 ? await this.client.search({ all: true }, { uid: true }) : []);
      for (const row of delta.pairs.values()) if (!present.has(row.remoteUid)) vanished.add(row.remoteUid);
    }

    // ---- merge paired messages
    await this.mergePairs(w, delta, sel, readOnly, remoteFlags, remoteModSeq, vanished);

    // ---- new remote messages
    const pairedRemote = new Set([...delta.pairs.values()].map((r) => r.remoteUid));
    const candidates = new Set<number>(remoteFlags.keys());
    if (present) for (const u of present) candidates.add(u);
    const newRemote = [...candidates].filter((u) => (repair || u >= p.uidNext) && !pairedRemote.has(u) && !vanished.has(u)).sort((a, b) => a - b);
    await this.download(w, newRemote, remoteFlags, emailIds);

    // ---- new local messages
    if (readOnly) {
      for (const m of delta.fresh) this.act('local', 'keep', p.localName, `local message ${m.uid} stays in the replica: the server's mailbox is read-only`);
    } else await this.upload(w, delta, sel);

    if (!this.dry) {
      let maxUid = 0;
      for (const u of candidates) if (u > maxUid) maxUid = u;
      const next: MailboxPair = {
        ...p,
        uidValidity: sel.uidValidity,
        uidNext: Math.max(sel.uidNext || maxUid + 1, repair ? 1 : p.uidNext),
        highestModSeq: modseqOk ? sel.highestModSeq! : 0,
        localModSeq: delta.startModSeq,
        readOnly: w.readOnly || sel.readOnly,
      };
      const stored = this.state.pair(p.localId);
      if (!stored || JSON.stringify(stored) !== JSON.stringify(next)) this.state.putPair(next);
    }
  }

  private async settleDownloads(w: Work, delta: LocalDelta): Promise<void> {
    const intents = this.state.intents(w.pair.localId).filter((i) => i.kind === 'download');
    if (intents.length === 0) return;
    const all = await this.store.listMessages(w.local!.id);
    const paired = new Set(delta.pairs.keys());
    for (const i of intents) {
      const m = all.find((x) => x.uid >= i.localUid && x.blobId === i.blobId && !paired.has(x.uid));
      this.state.tx(() => {
        if (m) {
          const row: MessagePair = { localUid: m.uid, remoteUid: i.remoteUid, base: normalizeFlags(i.flags), blobId: m.blobId, size: m.size, remoteEmailId: null };
          this.state.putMessage(w.pair.localId, row);
          delta.pairs.set(m.uid, row);
          delta.changed.set(m.uid, normalizeFlags(m.flags));
          delta.fresh = delta.fresh.filter((f) => f.uid !== m.uid);
          paired.add(m.uid);
        }
        this.state.dropIntent(i.id);
      });
    }
  }

  private async settleUploads(w: Work, delta: LocalDelta): Promise<void> {
    const intents = this.state.intents(w.pair.localId).filter((i) => i.kind !== 'download');
    for (const i of intents) {
      const paired = new Set([...delta.pairs.values()].map((r) => r.remoteUid));
      const remoteUid = await findByContent(this.client, i.remoteUidNext, i.size, i.blobId, paired);
      const msg = (await this.store.getMessages(w.local!.id, [i.localUid]))[0];
      this.state.tx(() => {
        if (remoteUid !== null && msg) {
          const row: MessagePair = { localUid: i.localUid, remoteUid, base: normalizeFlags(i.flags), blobId: i.blobId, size: i.size, remoteEmailId: null };
          this.state.putMessage(w.pair.localId, row);
          delta.pairs.set(i.localUid, row);
          delta.changed.set(i.localUid, normalizeFlags(msg.flags));
        }
        this.state.dropIntent(i.id);
      });
      // Not found: the command never took effect; the message is still new here and is sent again below.
      if (remoteUid === null && msg && !delta.pairs.has(msg.uid) && !delta.fresh.some((f) => f.uid === msg.uid)) delta.fresh.push(msg);
    }
  }

  /**
   * Pairs the replica's messages with the server's when there is no valid pairing (a new pair, or a
   * UIDVALIDITY change): by EMAILID when both know it, else by size + SHA-256 of the header section.
   * Fills `remoteFlags` with every remote message's flags.
   */
  private async repairPairs(w: Work, delta: LocalDelta, sel: SelectResult, remoteFlags: Map<number, string[]>, emailIds: Map<number, string>): Promise<void> {
    const localMsgs = await this.store.listMessages(w.local!.id);
    const oldRows = delta.pairs;
    const oldByBlob = new Map([...oldRows.values()].map((r) => [r.blobId, r]));
    delta.pairs = new Map();
    delta.expunged = new Set();
    delta.changed = new Map();
    if (sel.exists === 0 || localMsgs.length === 0) {
      if (sel.exists > 0) {
        for await (const m of this.client.fetch('1:*', { uid: true, flags: true, ...(this.features.objectId ? { emailId: true } : {}) }, { uid: true })) {
          if (m.uid === undefined) continue;
          remoteFlags.set(m.uid, normalizeFlags(m.flags ?? []));
          if (m.emailId) emailIds.set(m.uid, m.emailId);
        }
      }
      const pending = this.pendingUploads(w);
      delta.fresh = localMsgs.filter((m) => !pending.has(m.uid));
      if (!this.dry) this.state.dropAllMessages(w.pair.localId);
      return;
    }
    const remoteByKey = new Map<string, number[]>();
    const remoteByEmailId = new Map<string, number>();
    const remoteSize = new Map<number, number>();
    for await (const m of this.client.fetch(
      '1:*',
      { uid: true, flags: true, size: true, sections: [{ section: 'HEADER', peek: true }], ...(this.features.objectId ? { emailId: true } : {}) },
      { uid: true },
    )) {
      if (m.uid === undefined) continue;
      remoteFlags.set(m.uid, normalizeFlags(m.flags ?? []));
      remoteSize.set(m.uid, m.size ?? -1);
      if (m.emailId) {
        emailIds.set(m.uid, m.emailId);
        remoteByEmailId.set(m.emailId, m.uid);
      }
      const header = m.sections.find((s) => s.section === 'HEADER')?.data ?? Buffer.alloc(0);
      const key = `${m.size ?? -1}:${sha256(header)}`;
      remoteByKey.set(key, [...(remoteByKey.get(key) ?? []), m.uid]);
    }
    const taken = new Set<number>();
    const pending = this.pendingUploads(w);
    const rows: MessagePair[] = [];
    const fresh: MessageMeta[] = [];
    const withMime = await this.store.getMessages(w.local!.id, localMsgs.map((m) => m.uid));
    for (const m of withMime) {
      const old = oldByBlob.get(m.blobId);
      let remoteUid: number | undefined;
      if (old?.remoteEmailId && remoteByEmailId.has(old.remoteEmailId)) {
        const u = remoteByEmailId.get(old.remoteEmailId)!;
        if (!taken.has(u) && remoteSize.get(u) === m.size) remoteUid = u;
      }
      if (remoteUid === undefined) {
        const h = topHeaderRange(m.mime);
        const header = await this.store.readBlob(m.blobId, h.start, h.end);
        const list = remoteByKey.get(`${m.size}:${sha256(header)}`) ?? [];
        remoteUid = list.find((u) => !taken.has(u));
      }
      if (remoteUid === undefined) {
        if (!pending.has(m.uid)) fresh.push(m);
        continue;
      }
      taken.add(remoteUid);
      const L = normalizeFlags(m.flags);
      const R = remoteFlags.get(remoteUid) ?? [];
      const row: MessagePair = {
        localUid: m.uid,
        remoteUid,
        base: old ? old.base : commonFlags(L, R),
        blobId: m.blobId,
        size: m.size,
        remoteEmailId: emailIds.get(remoteUid) ?? null,
      };
      rows.push(row);
      delta.pairs.set(m.uid, row);
      delta.changed.set(m.uid, L);
    }
    delta.fresh = fresh;
    if (!this.dry) {
      this.state.tx(() => {
        this.state.dropAllMessages(w.pair.localId);
        for (const i of this.state.intents(w.pair.localId)) if (i.kind !== 'download') this.state.dropIntent(i.id);
        for (const r of rows) this.state.putMessage(w.pair.localId, r);
      });
    }
    this.log(`${w.pair.localName}: paired ${rows.length} message(s) by content; ${fresh.length} only in the replica`);
  }

  /** Local UIDs an upload, move or copy intent is still pending for (settled later, not uploaded again). */
  private pendingUploads(w: Work): Set<number> {
    return new Set(this.state.intents(w.pair.localId).filter((i) => i.kind !== 'download').map((i) => i.localUid));
  }


  private async mergePairs(
    w: Work,
    delta: LocalDelta,
    sel: SelectResult,
    readOnly: boolean,
    remoteFlags: Map<number, string[]>,
    remoteModSeq: Map<number, number>,
    vanished: Set<number>,
  ): Promise<void> {
    const p = w.pair;
    const local = w.local!;
    const expungeHere: number[] = [];
    const expungeThere: MessagePair[] = [];
    const finals = new Map<number, { row: MessagePair; L: string[]; R: string[]; F: string[] }>();
    for (const row of [...delta.pairs.values()]) {
      const localGone = delta.expunged.has(row.localUid);
      const remoteGone = vanished.has(row.remoteUid);
      const L = delta.changed.get(row.localUid) ?? row.base;
      const R = remoteFlags.get(row.remoteUid) ?? row.base;
      if (localGone && remoteGone) {
        if (!this.dry) this.state.dropMessage(p.localId, row.localUid);
        delta.pairs.delete(row.localUid);
        continue;
      }
      if (remoteGone) {
        if (!sameFlags(L, row.base)) this.conflicts.push(`${p.localName}: message ${row.localUid} was expunged on the server and changed in the replica; the expunge wins`);
        expungeHere.push(row.localUid);
        continue;
      }
      if (localGone) {
        if (readOnly) {
          // Hidden in the replica only; the server's copy stays (and is not downloaded again).
          if (!this.dry) this.state.dropMessage(p.localId, row.localUid);
          delta.pairs.delete(row.localUid);
          continue;
        }
        if (!sameFlags(R, row.base)) this.conflicts.push(`${p.localName}: message ${row.remoteUid} was expunged in the replica and changed on the server; the expunge wins`);
        expungeThere.push(row);
        continue;
      }
      if (sameFlags(L, row.base) && sameFlags(R, row.base)) continue;
      finals.set(row.localUid, { row, L, R, F: mergeFlags(row.base, L, R) });
    }

    // Remote flag writes (never for read-only mailboxes: their state stays in the replica).
    if (!readOnly) {
      let pending = [...finals.values()].filter((f) => !sameFlags(f.F, f.R));
      for (let round = 0; pending.length > 0 && round < 5; round++) {
        for (const f of pending) this.act('remote', 'flags', p.localName, `uid ${f.row.remoteUid}: ${f.R.join(' ') || '()'} → ${f.F.join(' ') || '()'}`);
        if (this.dry) break;
        const modified = new Set<number>();
        if (this.features.condstore && sel.highestModSeq !== undefined && !sel.noModSeq) {
          const groups = groupBy(pending, (f) => f.F.map(flagKey).join(' '));
          for (const g of groups) {
            const since = Math.max(sel.highestModSeq, ...g.map((f) => remoteModSeq.get(f.row.remoteUid) ?? 0));
            const res = await this.client.store(g.map((f) => f.row.remoteUid), g[0]!.F, { uid: true, mode: 'set', unchangedSince: since, silent: true });
            for (const u of res.modified) modified.add(u);
          }
        } else {
          for (const g of groupBy(pending, (f) => flagDiff(f.F, f.R).map(flagKey).join(' '))) {
            const add = flagDiff(g[0]!.F, g[0]!.R);
            if (add.length > 0) await this.client.store(g.map((f) => f.row.remoteUid), add, { uid: true, mode: 'add', silent: true });
          }
          for (const g of groupBy(pending, (f) => flagDiff(f.R, f.F).map(flagKey).join(' '))) {
            const remove = flagDiff(g[0]!.R, g[0]!.F);
            if (remove.length > 0) await this.client.store(g.map((f) => f.row.remoteUid), remove, { uid: true, mode: 'remove', silent: true });
          }
        }
        w.summary.flagsToRemote += pending.filter((f) => !modified.has(f.row.remoteUid)).length;
        if (modified.size === 0) break;
        // Changed on the server since we looked (RFC 7162 §3.1.3 MODIFIED): merge again with what is there now.
        const again = pending.filter((f) => modified.has(f.row.remoteUid));
        const fresh = await this.client.fetchAll(again.map((f) => f.row.remoteUid), { uid: true, flags: true, modSeq: true }, { uid: true });
        const byUid = new Map(fresh.map((m) => [m.uid!, m]));
        pending = [];
        for (const f of again) {
          const m = byUid.get(f.row.remoteUid);
          if (!m) {
            finals.delete(f.row.localUid);
            expungeHere.push(f.row.localUid);
            continue;
          }
          f.R = normalizeFlags(m.flags ?? []);
          if (m.modSeq !== undefined) remoteModSeq.set(f.row.remoteUid, m.modSeq);
          f.F = mergeFlags(f.row.base, f.L, f.R);
          if (!sameFlags(f.F, f.R)) pending.push(f);
        }
      }
    }

    // Local flag writes: a read-only mailbox keeps the replica's own changes on top of the server's.
    const localWrites = [...finals.values()].filter((f) => !sameFlags(f.F, f.L));
    for (const f of localWrites) this.act('local', 'flags', p.localName, `uid ${f.row.localUid}: ${f.L.join(' ') || '()'} → ${f.F.join(' ') || '()'}`);
    if (!this.dry) {
      for (const g of groupBy(localWrites, (f) => f.F.map(flagKey).join(' '))) {
        await this.store.storeFlags(local.id, g.map((f) => f.row.localUid), 'set', g[0]!.F);
      }
      this.state.tx(() => {
        for (const f of finals.values()) {
          const base = readOnly ? f.R : f.F;
          this.state.setBase(p.localId, f.row.localUid, base);
          f.row.base = base;
        }
      });
    }
    w.summary.flagsToLocal += localWrites.length;

    // Expunges.
    if (expungeHere.length > 0) {
      this.act('local', 'expunge', p.localName, `${expungeHere.length} message(s) expunged on the server`);
      if (!this.dry) {
        await this.expungeLocal(local, expungeHere);
        this.state.tx(() => {
          for (const uid of expungeHere) this.state.dropMessage(p.localId, uid);
        });
      }
      for (const uid of expungeHere) delta.pairs.delete(uid);
      w.summary.expungedLocal += expungeHere.length;
    }
    if (expungeThere.length > 0) {
      this.act('remote', 'expunge', p.localName, `${expungeThere.length} message(s) expunged in the replica`);
      if (!this.dry) {
        await this.expungeRemoteUids(expungeThere.map((r) => r.remoteUid));
        this.state.tx(() => {
          for (const r of expungeThere) this.state.dropMessage(p.localId, r.localUid);
        });
      }
      for (const r of expungeThere) delta.pairs.delete(r.localUid);
      w.summary.expungedRemote += expungeThere.length;
    }
  }

  private async expungeLocal(local: MailboxRecord, uids: number[]): Promise<void> {
    if (uids.length === 0) return;
    await this.store.storeFlags(local.id, uids, 'add', ['\\Deleted']);
    await this.store.expunge(local.id, uids);
  }

  // ---- downloads -------------------------------------------------------------------------------------

  private async download(w: Work, uids: number[], remoteFlags: Map<number, string[]>, emailIds: Map<number, string>): Promise<void> {
    if (uids.length === 0) return;
    const p = w.pair;
    const policy = w.policy;
    // Sizes, dates and flags first: they decide what to fetch.
    const meta = new Map<number, FetchedMessage>();
    for await (const m of this.client.fetch(uids, { uid: true, flags: true, internalDate: true, size: true, ...(this.features.objectId ? { emailId: true } : {}) }, { uid: true })) {
      if (m.uid !== undefined) meta.set(m.uid, m);
    }
    const wanted: FetchedMessage[] = [];
    for (const uid of uids) {
      const m = meta.get(uid);
      if (!m) continue; // expunged meanwhile
      if (policy.since && m.internalDate && m.internalDate.getTime() < policy.since.getTime()) continue;
      wanted.push(m);
    }
    if (wanted.length === 0) return;
    const totalBytes = wanted.reduce((a, m) => a + (m.size ?? 0), 0);
    this.act('local', 'download', p.localName, `${wanted.length} message(s), ${totalBytes} bytes`);
    if (this.dry) return;
    this.prog.messagesTotal += wanted.length;
    this.prog.bytesTotal += totalBytes;
    this.progress('download', p.localName);

    const whole = wanted.filter((m) => this.wantsWhole(policy, m));
    const partial = wanted.filter((m) => !this.wantsWhole(policy, m));
    // The next batch is fetched while the previous one is being stored.
    let storing: Promise<void> | null = null;
    try {
      for (const batch of batches(whole)) {
        this.checkAbort();
        const got: Array<{ m: FetchedMessage; data: Buffer }> = [];
        for await (const f of this.client.fetch(batch.map((m) => m.uid!), { uid: true, sections: [{ section: '', peek: true }] }, { uid: true })) {
          const data = f.sections.find((s) => s.section === '')?.data;
          const m = f.uid !== undefined ? meta.get(f.uid) : undefined;
          if (!data || !m) continue;
          got.push({ m, data });
        }
        if (storing) await storing;
        storing = this.storeDownloads(w, got.map(({ m, data }) => ({ m, bytes: data.length })), () => this.prepareAll(got.map((g) => g.data)), remoteFlags, emailIds);
        storing.catch(() => undefined); // awaited below or at the next batch
      }
    } finally {
      if (storing) await storing;
    }
    for (const m of partial) {
      this.checkAbort();
      const one = await this.fetchPartial(m, policy);
      if (!one) continue;
      await this.storeDownloads(w, [{ m, bytes: one.transferred }], async () => [await this.store.preparePartial(one.bytes, one.mime, m.size ?? one.bytes.length)], remoteFlags, emailIds);
    }
  }

  private wantsWhole(policy: DownloadPolicy, m: FetchedMessage): boolean {
    if (policy.maxMessageBytes !== undefined && (m.size ?? 0) > policy.maxMessageBytes) return false;
    return policy.mode === 'full';
  }

  private async fetchPartial(m: FetchedMessage, policy: DownloadPolicy): Promise<{ bytes: Buffer; mime: MimeIndex; transferred: number } | null> {
    const head = await this.client.fetchOne(m.uid!, { uid: true, bodyStructure: true, sections: [{ section: 'HEADER', peek: true }] }, { uid: true });
    if (!head?.bodyStructure) return null;
    const header = head.sections.find((s) => s.section === 'HEADER')?.data ?? Buffer.alloc(0);
    // The parts' MIME headers (small) make the local BODYSTRUCTURE exact; text bodies as the policy says.
    const wanted = partialHeaderSections(head.bodyStructure);
    if (policy.mode === 'text' && !(policy.maxMessageBytes !== undefined && (m.size ?? 0) > policy.maxMessageBytes)) {
      const limit = policy.maxTextBytes ?? 64 * 1024;
      for (const b of textParts(head.bodyStructure)) if ((b.size ?? 0) <= limit) wanted.push(b.part || '1');
    }
    const parts = new Map<string, Buffer>();
    let transferred = header.length;
    if (wanted.length > 0) {
      const got = await this.client.fetchOne(m.uid!, { uid: true, sections: wanted.map((section) => ({ section, peek: true })) }, { uid: true });
      for (const sec of wanted) {
        const d = got?.sections.find((s) => s.section === sec)?.data;
        if (d) {
          parts.set(sec, d);
          transferred += d.length;
        }
      }
    }
    const built = buildPartialMessage({ header, structure: head.bodyStructure, size: m.size ?? 0, parts });
    return { bytes: built.bytes, mime: built.mime, transferred };
  }

  /** Whole messages into the replica's blob store: grouped (Store.prepareMany) where the store can. */
  private async prepareAll(datas: Buffer[]): Promise<PreparedMessage[]> {
    if (this.store.prepareMany) return this.store.prepareMany(datas);
    // Blob writes (each ends with an fsync) overlap a few at a time.
    const results = new Array<PreparedMessage>(datas.length);
    let nextIndex = 0;
    const worker = async () => {
      while (nextIndex < datas.length) {
        const i = nextIndex++;
        results[i] = await this.store.prepare(datas[i]!);
      }
    };
    await Promise.all(Array.from({ length: Math.min(PREPARE_CONCURRENCY, datas.length) }, worker));
    return results;
  }

  /** Intent → local append → pairing, per batch: a crash in between is settled by settleDownloads. */
  private async storeDownloads(
    w: Work,
    items: Array<{ m: FetchedMessage; bytes: number }>,
    prepareAll: () => Promise<PreparedMessage[]>,
    remoteFlags: Map<number, string[]>,
    emailIds: Map<number, string>,
  ): Promise<void> {
    if (items.length === 0) return;
    const local = w.local!;
    // Blobs are durable (fsynced, placed) before the intents and the append commit that refer to them.
    const results = await prepareAll();
    const prepared = items.map((it, i) => ({ it, msg: results[i]! }));
    const mbox = await this.store.getMailboxById(local.id);
    if (!mbox) throw new Error(`the replica's mailbox ${local.name} vanished during the sync`);
    const flagsOf = (m: FetchedMessage) => normalizeFlags(m.flags ?? remoteFlags.get(m.uid!) ?? []);
    const intentIds = this.state.tx(() =>
      prepared.map(({ it, msg }) =>
        this.state.addIntent({
          kind: 'download',
          localId: w.pair.localId,
          localUid: mbox.uidNext,
          remoteUid: it.m.uid!,
          sourceLocalId: null,
          blobId: msg.blobId,
          size: msg.size,
          remoteUidNext: 0,
          flags: flagsOf(it.m),
        }),
      ),
    );
    const res = await this.store.append(
      local.id,
      prepared.map(({ it, msg }) => ({
        message: msg,
        flags: flagsOf(it.m),
        ...(it.m.internalDate ? { internalDate: it.m.internalDate.getTime() } : {}),
        // The server's zone too, so the replica shows the same INTERNALDATE as the server.
        ...(it.m.internalDate && it.m.internalDateOffset !== undefined ? { internalDateOffset: it.m.internalDateOffset } : {}),
      })),
      { deferIndex: true },
    );
    this.state.tx(() => {
      prepared.forEach(({ it, msg }, i) => {
        const row: MessagePair = {
          localUid: res.uids[i]!,
          remoteUid: it.m.uid!,
          base: flagsOf(it.m),
          blobId: msg.blobId,
          size: msg.size,
          remoteEmailId: it.m.emailId ?? emailIds.get(it.m.uid!) ?? null,
        };
        this.state.putMessage(w.pair.localId, row);
        this.state.dropIntent(intentIds[i]!);
        w.delta!.pairs.set(row.localUid, row);
      });
    });
    this.startIndexer?.().kick();
    const bytes = items.reduce((a, x) => a + x.bytes, 0);
    this.bytesDown += bytes;
    w.summary.downloaded += items.length;
    this.prog.messagesDone += items.length;
    this.prog.bytesDone += bytes;
    this.progress('download', w.pair.localName);
  }

  // ---- uploads ---------------------------------------------------------------------------------------

  private async upload(w: Work, delta: LocalDelta, sel: SelectResult): Promise<void> {
    const fresh = delta.fresh.filter((m) => !delta.pairs.has(m.uid));
    if (fresh.length === 0) return;
    const p = w.pair;
    const bytes = fresh.reduce((a, m) => a + m.size, 0);
    this.act('remote', 'upload', p.localName, `${fresh.length} message(s), ${bytes} bytes`);
    if (this.dry) return;
    this.prog.messagesTotal += fresh.length;
    this.prog.bytesTotal += bytes;
    let uidNext = sel.uidNext || 1;
    for (const m of fresh) {
      this.checkAbort();
      const [full] = await this.store.getMessages(w.local!.id, [m.uid]);
      if (full && isPartial(full.mime)) {
        // A copy of a message the replica holds only partly: its synthetic bytes must never reach the server.
        this.conflicts.push(`${p.localName}: local message ${m.uid} is a partly downloaded copy; not uploaded until it is complete`);
        continue;
      }
      const data = await this.store.readBlob(m.blobId, 0, m.size);
      const flags = normalizeFlags(m.flags);
      const intentId = this.state.addIntent({
        kind: 'upload',
        localId: p.localId,
        localUid: m.uid,
        remoteUid: 0,
        sourceLocalId: null,
        blobId: m.blobId,
        size: m.size,
        remoteUidNext: uidNext,
        flags,
      });
      const res = await this.client.append(p.remoteName, data, { flags: flags.filter((f) => f.toLowerCase() !== '\\recent'), internalDate: new Date(m.internalDate), internalDateOffset: m.internalDateOffset });
      let remoteUid: number | null = res.uid !== undefined && this.features.uidplus && res.uidValidity === sel.uidValidity ? res.uid : null;
      if (remoteUid === null) {
        // No APPENDUID (no UIDPLUS): find what we just appended by its bytes.
        const paired = new Set([...delta.pairs.values()].map((r) => r.remoteUid));
        remoteUid = await findByContent(this.client, uidNext, m.size, m.blobId, paired);
      }
      const row: MessagePair = { localUid: m.uid, remoteUid: remoteUid ?? 0, base: flags, blobId: m.blobId, size: m.size, remoteEmailId: null };
      this.state.tx(() => {
        if (remoteUid !== null) this.state.putMessage(p.localId, row);
        this.state.dropIntent(intentId);
      });
      if (remoteUid !== null) {
        delta.pairs.set(m.uid, row);
        uidNext = Math.max(uidNext, remoteUid + 1);
      } else this.log(`${p.localName}: uploaded local message ${m.uid} but could not find it on the server to pair it`);
      this.bytesUp += m.size;
      w.summary.uploaded++;
      this.prog.messagesDone++;
      this.prog.bytesDone += m.size;
      this.progress('upload', p.localName);
    }
  }
}

function specialUseOf(e: ListEntry): SpecialUse | null {
  const use = e.specialUse ?? e.flags.find((f) => SPECIAL_USES.has(f));
  return use && SPECIAL_USES.has(use) ? (use as SpecialUse) : null;
}

function groupBy<T>(items: readonly T[], key: (t: T) => string): T[][] {
  const m = new Map<string, T[]>();
  for (const it of items) {
    const k = key(it);
    const list = m.get(k);
    if (list) list.push(it);
    else m.set(k, [it]);
  }
  return [...m.values()];
}

function* batches(msgs: readonly FetchedMessage[]): Generator<FetchedMessage[]> {
  let cur: FetchedMessage[] = [];
  let bytes = 0;
  for (const m of msgs) {
    if (cur.length > 0 && (bytes + (m.size ?? 0) > DOWNLOAD_BATCH_BYTES || cur.length >= DOWNLOAD_BATCH_MESSAGES)) {
      yield cur;
      cur = [];
      bytes = 0;
    }
    cur.push(m);
    bytes += m.size ?? 0;
  }
  if (cur.length > 0) yield cur;
}

/** text/* leaves not inside an attachment disposition (RFC 2183), with their section numbers. */
function textParts(b: BodyStructure): BodyStructure[] {
  const out: BodyStructure[] = [];
  const walk = (n: BodyStructure, inMessage: boolean) => {
    if (n.children && n.type === 'multipart') {
      for (const c of n.children) walk(c, inMessage);
      return;
    }
    if (n.type === 'message' && n.children) return; // an attached message: on demand
    if (n.type === 'text' && n.disposition?.type.toLowerCase() !== 'attachment' && !inMessage) out.push(n);
  };
  walk(b, false);
  return out;
}
