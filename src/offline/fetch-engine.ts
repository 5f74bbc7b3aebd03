// The offline-model fetch loop (RFC 1733 §3: download the pending messages, then delete them from the
// server). Per message: download → journal the intent (server id + content hash) → write to the
// destination → fsync file and directory → journal "done" → only then delete on the server. With `keep`
// nothing is deleted and a later run fetches only ids not yet journaled. A crash anywhere leaves at most
// one intent without "done"; the next run asks the destination whether that message made it in.
import { lockDestination } from './dest-lock.js';
import { FetchJournal } from './journal.js';
import { sha256, type Destination } from './destinations.js';
import type { RemoteMessage, RemoteSource } from './sources.js';

export interface FetchProgress {
  /** Messages handled so far (fetched + skipped), of `total`. */
  done: number;
  total: number;
  fetched: number;
  bytes: number;
}

export interface FetchOptions {
  keep: boolean;
  onProgress?: (p: FetchProgress) => void;
  /** Stops between messages. */
  signal?: AbortSignal;
}

export interface FetchSummary {
  /** Messages on the server when the run started. */
  onServer: number;
  /** Newly written to the destination. */
  fetched: number;
  bytes: number;
  /** Already in the journal (fetched by an earlier run). */
  alreadyFetched: number;
  /** Deleted on the server (0 with keep). */
  deleted: number;
  /** Found in the destination after a crash and journaled without fetching again. */
  recovered: number;
  /** Gone from the server between listing and download. */
  vanished: number;
}

/** Opens the journal and settles a pending intent left by a crash. */
export async function openJournal(dest: Destination): Promise<{ journal: FetchJournal; recovered: number }> {
  await dest.init();
  const journal = await FetchJournal.open(dest.journalPath);
  try {
    return await settlePending(dest, journal);
  } catch (err) {
    await journal.close();
    throw err;
  }
}

async function settlePending(dest: Destination, journal: FetchJournal): Promise<{ journal: FetchJournal; recovered: number }> {
  let recovered = 0;
  const pending = journal.pending;
  if (pending && !journal.done.has(pending.id)) {
    const r = await dest.recover(pending);
    if (r.found) {
      const rec = { t: 'done' as const, id: pending.id, sha: pending.sha, ...(r.where !== undefined ? { where: r.where } : {}) };
      await journal.append(rec);
      recovered = 1;
    }
  }
  return { journal, recovered };
}

/**
 * Locks the destination, settles a crashed run's pending intent, connects (`connect`), and fetches.
 * Connecting after the lock means a second run on the same destination fails before touching the server.
 */
export async function runFetch(connect: () => Promise<RemoteSource>, dest: Destination, opts: FetchOptions): Promise<FetchSummary> {
  await dest.init();
  const release = await lockDestination(`${dest.journalPath}.lock`);
  try {
    return await fetchLocked(connect, dest, opts);
  } finally {
    await release();
  }
}

async function fetchLocked(connect: () => Promise<RemoteSource>, dest: Destination, opts: FetchOptions): Promise<FetchSummary> {
  const { journal, recovered } = await openJournal(dest);
  const summary: FetchSummary = { onServer: 0, fetched: 0, bytes: 0, alreadyFetched: 0, deleted: 0, recovered, vanished: 0 };
  let source: RemoteSource;
  try {
    source = await connect();
  } catch (err) {
    await journal.close();
    await dest.close();
    throw err;
  }
  try {
    const messages: RemoteMessage[] = await source.list();
    summary.onServer = messages.length;
    let handled = 0;
    const report = () => opts.onProgress?.({ done: handled, total: messages.length, fetched: summary.fetched, bytes: summary.bytes });
    for (const m of messages) {
      if (opts.signal?.aborted) throw new Error('fetch interrupted');
      if (journal.done.has(m.id)) {
        summary.alreadyFetched++;
      } else {
        const data = await source.download(m);
        if (data === null) {
          summary.vanished++;
          handled++;
          report();
          continue;
        }
        const sha = sha256(data);
        await journal.append({ t: 'intent', id: m.id, sha, size: data.length, ...(await dest.intentFields()) });
        const msg = m.internalDate !== undefined ? { id: m.id, data, sha, internalDate: m.internalDate } : { id: m.id, data, sha };
        const where = await dest.write(msg);
        await journal.append({ t: 'done', id: m.id, sha, where });
        summary.fetched++;
        summary.bytes += data.length;
      }
      if (!opts.keep) {
        await source.remove(m);
        summary.deleted++;
      }
      handled++;
      report();
    }
    await source.finish();
  } catch (err) {
    source.abort();
    throw err;
  } finally {
    await journal.close();
    await dest.close();
  }
  return summary;
}
