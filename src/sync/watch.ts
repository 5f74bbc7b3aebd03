// `petrel sync --watch`: RFC 1733's switching between the online and disconnected models. While the server
// is reachable the replica is kept current — IDLE (RFC 2177) on the mailboxes that matter wakes a sync as
// soon as the server reports a change, local changes are noticed by polling the replica's mod-sequences and
// pushed at once, and a periodic full cycle catches everything else. When the network goes, syncs fail
// and the replica keeps working on its own (a local client on `petrel serve --data REPLICA`); attempts
// continue with growing delays, and the first one that connects reconciles both sides.
import { ImapConnectionError } from '../client/errors.js';
import type { ImapClient } from '../client/imap-client.js';
import { openStore } from '../store/open-store.js';
import type { Store } from '../store/types.js';
import { syncOnce } from './engine.js';
import { connectRemote, matchesPattern } from './remote.js';
import { SyncState, type MailboxPair } from './state.js';
import type { SyncOptions, SyncSummary } from './types.js';

export interface WatchOptions extends SyncOptions {
  signal: AbortSignal;
  /** After every cycle: its summary, or the error that ended it (the network is down, ...). */
  onCycle?: (result: SyncSummary | Error) => void;
  /** Mailboxes (remote names) watched with IDLE, one connection each (default INBOX; at most 4). */
  idleMailboxes?: readonly string[];
  /** A full cycle at least this often even when nothing was noticed (default 5 minutes). */
  fullCycleMs?: number;
  /** How often the replica is checked for local changes (default 1 s). */
  localPollMs?: number;
  /** Delays between attempts while the server is unreachable (default 1 s doubling to 60 s). */
  retryBaseMs?: number;
  retryMaxMs?: number;
}

export async function watch(opts: WatchOptions): Promise<void> {
  const signal = opts.signal;
  const fullCycleMs = opts.fullCycleMs ?? 5 * 60_000;
  const localPollMs = opts.localPollMs ?? 1000;
  const retryBase = opts.retryBaseMs ?? 1000;
  const retryMax = opts.retryMaxMs ?? 60_000;
  let failures = 0;
  while (!signal.aborted) {
    let ok = false;
    try {
      const summary = await syncOnce({ ...opts, signal });
      opts.onCycle?.(summary);
      ok = true;
      failures = 0;
    } catch (err) {
      if (signal.aborted) break;
      opts.onCycle?.(err instanceof Error ? err : new Error(String(err)));
      failures++;
    }
    if (signal.aborted) break;
    if (!ok) {
      // Disconnected: the replica is the user's mailbox until the server answers again.
      await sleep(Math.min(retryMax, retryBase * 2 ** Math.min(16, failures - 1)), signal);
      continue;
    }
    await waitForChange(opts, fullCycleMs, localPollMs);
  }
}

/** Resolves when the server reports a change in a watched mailbox, the replica changes, the full-cycle
 *  timer fires, a watching connection fails, or the signal aborts. */
async function waitForChange(opts: WatchOptions, fullCycleMs: number, localPollMs: number): Promise<void> {
  const outer = opts.signal;
  const ctl = new AbortController();
  const stop = () => ctl.abort();
  outer.addEventListener('abort', stop, { once: true });
  const timers: NodeJS.Timeout[] = [];
  const clients: ImapClient[] = [];
  let store: Store | null = null;
  try {
    timers.push(setTimeout(stop, fullCycleMs));
    // Local changes: the replica compared with what the last sync recorded (so a change made while that
    // sync was running is not missed; the sync's own writes cost at most one extra, empty cycle).
    const state = SyncState.open(opts.replicaDir);
    const known = state.pairs();
    state.close();
    store = await openStore({ dataDir: opts.replicaDir, store: null });
    const poll = async () => {
      if (ctl.signal.aborted || !store) return;
      try {
        if (await localChanged(store, opts, known)) stop();
      } catch {
        stop();
      }
    };
    await poll();
    timers.push(setInterval(() => void poll(), localPollMs));
    // Remote changes: IDLE.
    const names = (opts.idleMailboxes ?? ['INBOX']).slice(0, 4);
    const watchers = names.map(async (name) => {
      const client = await connectRemote(opts.account, new Set((opts.disable ?? []).map((s) => s.toUpperCase())), ctl.signal);
      clients.push(client);
      const wake = () => stop();
      client.on('exists', wake);
      client.on('expunge', wake);
      client.on('vanished', wake);
      client.on('fetch', wake);
      client.on('close', wake);
      const sel = await client.select(name, { condstore: true });
      // Mail that arrived between the end of the sync and this SELECT sends no EXISTS: compare with
      // what the sync recorded (its own writes may cause one extra, empty cycle).
      const pair = known.find((p) => p.remoteName === name);
      if (pair && (sel.uidValidity !== pair.uidValidity || sel.uidNext > pair.uidNext || (sel.highestModSeq ?? 0) > pair.highestModSeq)) {
        stop();
        return;
      }
      await client.idle({ signal: ctl.signal, restartMs: 60_000, pollMs: 10_000 });
    });
    await Promise.race([
      new Promise<void>((resolve) => ctl.signal.addEventListener('abort', () => resolve(), { once: true })),
      // A watcher that fails (cannot connect, connection dropped) ends the wait: the next cycle finds out.
      ...watchers.map((w) =>
        w.then(
          () => stop(),
          (err) => {
            if (!(err instanceof ImapConnectionError) || err.reason !== 'aborted') stop();
          },
        ),
      ),
    ]);
    await Promise.allSettled(watchers);
  } finally {
    outer.removeEventListener('abort', stop);
    ctl.abort();
    for (const t of timers) clearTimeout(t);
    await Promise.allSettled(clients.map((c) => c.logout()));
    await store?.close();
  }
}

async function localChanged(store: Store, opts: WatchOptions, known: readonly MailboxPair[]): Promise<boolean> {
  const user = await store.getUser(opts.account.user);
  if (!user) return false;
  const byId = new Map(known.map((p) => [p.localId, p]));
  const pats = opts.mailboxes ?? [];
  const seen = new Set<string>();
  for (const mb of await store.listMailboxes(user.id)) {
    if (pats.length > 0 && !pats.some((p) => matchesPattern(mb.name, p))) continue;
    const pair = byId.get(mb.objectId);
    if (!pair || pair.localName !== mb.name) return true;
    seen.add(mb.objectId);
    if ((await store.mailboxStatus(mb.id)).highestModSeq > pair.localModSeq) return true;
  }
  return known.some((p) => !seen.has(p.localId) && (pats.length === 0 || pats.some((x) => matchesPattern(p.localName, x))));
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}
