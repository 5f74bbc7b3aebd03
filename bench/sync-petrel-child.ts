// Petrel's side of the sync benchmark (issue 5, item 11), run as its own process (forked by
// bench/sync-bench.ts) so that its wall time includes starting up like `mbsync` does and its peak RSS is its
// own: one call of the sync engine's `syncOnce()` (RFC 1733's disconnected model; ARCHITECTURE decision 10)
// into a replica directory; the parent counts what landed in the replica after this process has exited. The
// engine is loaded with a dynamic import so the bench builds and reports "unavailable" while
// src/sync/engine.ts does not exist.
import type { AccountSettings, SyncOptions, SyncSummary } from '../src/sync/types.js';

export interface PetrelSyncRequest {
  replicaDir: string;
  account: AccountSettings;
}

/** The summary without its per-action list (10,000 entries on an initial sync). */
export type SummaryTotals = Omit<SyncSummary, 'actions' | 'mailboxes'> & {
  actions: number;
  mailboxes: number;
  /** Mailboxes per resync tier (qresync, condstore, full). */
  tiers: Record<string, number>;
};

export type PetrelSyncReply =
  | {
      type: 'done';
      /** syncOnce() alone, in-process. */
      syncMs: number;
      /** From the start of syncOnce() to its 'index' phase: every message stored and paired, the server
       *  logged out; what follows is waiting for the search-indexing thread. Absent when nothing was indexed. */
      mailMs?: number;
      /** getrusage(2) ru_maxrss of this process after the sync, KiB. */
      maxRssKiB: number;
      /** User + system CPU time of this process (all threads) up to the end of the sync, ms. */
      cpuMs: number;
      summary: SummaryTotals;
    }
  | { type: 'unavailable'; reason: string }
  | { type: 'error'; message: string };

type SyncOnce = (opts: SyncOptions) => Promise<SyncSummary>;

async function loadEngine(): Promise<SyncOnce | string> {
  // A computed specifier: tsc does not resolve it, so this file compiles before the engine lands.
  const url = new URL('../src/sync/engine.js', import.meta.url).href;
  let mod: { syncOnce?: unknown };
  try {
    mod = (await import(url)) as { syncOnce?: unknown };
  } catch (e) {
    return `src/sync/engine.ts could not be loaded (${(e as Error).message.split('\n')[0]})`;
  }
  if (typeof mod.syncOnce !== 'function') return 'src/sync/engine.ts does not export syncOnce()';
  return mod.syncOnce as SyncOnce;
}

async function handle(req: PetrelSyncRequest): Promise<PetrelSyncReply> {
  const syncOnce = await loadEngine();
  if (typeof syncOnce === 'string') return { type: 'unavailable', reason: syncOnce };
  const t0 = performance.now();
  let mailMs: number | undefined;
  const summary = await syncOnce({
    replicaDir: req.replicaDir,
    account: req.account,
    onProgress: (p) => {
      if (p.phase === 'index' && mailMs === undefined) mailMs = performance.now() - t0;
    },
  });
  const syncMs = performance.now() - t0;
  const usage = process.resourceUsage();
  const maxRssKiB = usage.maxRSS;
  const cpuMs = (usage.userCPUTime + usage.systemCPUTime) / 1000;
  const { actions, mailboxes, ...rest } = summary;
  const tiers: Record<string, number> = {};
  for (const m of mailboxes) tiers[m.tier] = (tiers[m.tier] ?? 0) + 1;
  return { type: 'done', syncMs, ...(mailMs !== undefined ? { mailMs } : {}), maxRssKiB, cpuMs, summary: { ...rest, actions: actions.length, mailboxes: mailboxes.length, tiers } };
}

process.once('message', (raw: unknown) => {
  void handle(raw as PetrelSyncRequest)
    .catch((e: unknown): PetrelSyncReply => {
      const code = e instanceof Error && typeof (e as { code?: unknown }).code === 'string' ? ` [${(e as unknown as { code: string }).code}]` : '';
      return { type: 'error', message: e instanceof Error ? code.trim() + (code ? ' ' : '') + (e.stack ?? e.message) : String(e) };
    })
    .then((reply) => {
      process.send?.(reply, () => process.disconnect());
    });
});
