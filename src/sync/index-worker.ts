// Fills the replica's full-text search index in a worker thread while the sync downloads (RFC 1733's
// disconnected model: the initial download of a whole account). The download appends with
// `deferIndex` (src/store/types.ts), which marks each new blob "not yet indexed" (SEARCH, RFC 9051
// §6.4.4, treats it as a candidate and stays exact); this thread runs the SQLite store's indexPending()
// on its own connection to the same database, so the FTS5 work — most of a download's CPU — runs on
// another core next to the network and blob writes. A crash leaves the marks; the next sync's
// indexPending() (or the store's upkeep) writes the rest.
//
// Both threads write to one SQLite database, which has one write lock. So that the download does not
// sleep in SQLite's busy handler while this thread holds the lock, the two hand it over through shared
// memory: the download's connection announces each write transaction (SqliteStore.setWriteGate → `want`)
// and waits until this thread is between transactions (`busy` = 0); this thread starts a transaction only
// while nobody wants the lock. Both waits are bounded, and SQLite's own locking stays the safety net.
//
// Loaded in the main thread it only exports BackgroundIndexer; started as the worker (workerData
// `petrelIndexer`) it runs the loop below.
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';

/** Documents per transaction in the worker: short, so the download's appends wait little for the lock. */
const WORKER_BATCH = 100;
/** How long the worker sleeps when nothing is pending and it was not woken. */
const IDLE_MS = 250;

interface WorkerInput {
  petrelIndexer: true;
  dataDir: string;
  /** Int32 [want, busy]: write transactions the main thread is waiting for or running; 1 while this
   *  thread is inside one of its own. */
  flags: SharedArrayBuffer;
}

const WANT = 0;
const BUSY = 1;
/** Longest the download's connection waits for the thread's transaction before trying anyway. */
const MAX_HANDOVER_WAIT_MS = 5000;

type WorkerReply = { type: 'done'; written: number } | { type: 'error'; message: string };

/** The main thread's handle on the indexing thread. */
export class BackgroundIndexer {
  private finished: Promise<number> | null = null;
  private exited = false;
  private reply: WorkerReply | null = null;
  private readonly exit: Promise<void>;

  private constructor(
    private readonly worker: Worker,
    private readonly flags: Int32Array,
  ) {
    worker.on('message', (m: WorkerReply) => {
      this.reply = m;
    });
    this.exit = new Promise((resolve) => {
      worker.once('exit', () => {
        this.exited = true;
        // A thread ended inside a transaction (terminated) holds nothing any more.
        Atomics.store(flags, BUSY, 0);
        Atomics.notify(flags, BUSY);
        resolve();
      });
      // An error ends the thread too ('exit' follows); the caller's own indexPending() then does the rest.
      worker.on('error', (err) => {
        this.reply ??= { type: 'error', message: err.message };
      });
    });
  }

  /** Starts indexing the store in `dataDir` (an SQLite store) in a worker thread. */
  static start(dataDir: string): BackgroundIndexer {
    const flags = new SharedArrayBuffer(8);
    const data: WorkerInput = { petrelIndexer: true, dataDir, flags };
    const worker = new Worker(new URL(import.meta.url), { workerData: data });
    return new BackgroundIndexer(worker, new Int32Array(flags));
  }

  /**
   * For SqliteStore.setWriteGate of the download's connection: before its write transaction, announce it
   * and wait (blocking, bounded) until the thread is between transactions; after it, let the thread go on.
   */
  readonly gate = {
    enter: (): void => {
      Atomics.add(this.flags, WANT, 1);
      const until = Date.now() + MAX_HANDOVER_WAIT_MS;
      for (;;) {
        const left = until - Date.now();
        if (Atomics.load(this.flags, BUSY) === 0 || left <= 0) return;
        Atomics.wait(this.flags, BUSY, 1, left);
      }
    },
    leave: (): void => {
      Atomics.sub(this.flags, WANT, 1);
      Atomics.notify(this.flags, WANT);
    },
  };

  /** New documents were deferred: index them now rather than after the idle wait. */
  kick(): void {
    if (!this.exited) this.worker.postMessage('kick');
  }

  /**
   * Indexes what is still pending, then ends the thread. Resolves with the documents the thread wrote;
   * rejects when the thread failed (what it left stays pending).
   */
  finish(): Promise<number> {
    this.finished ??= (async () => {
      if (!this.exited) this.worker.postMessage('finish');
      await this.exit;
      const r = this.reply;
      if (r?.type === 'done') return r.written;
      throw new Error(`the search indexing thread failed: ${r?.type === 'error' ? r.message : 'it exited without an answer'}`);
    })();
    return this.finished;
  }

  /** Ends the thread at once (a failed or aborted sync); an open transaction is rolled back. */
  async stop(): Promise<void> {
    if (this.exited) return;
    await this.worker.terminate();
    await this.exit;
  }
}

async function workerMain(input: WorkerInput): Promise<void> {
  const port = parentPort!;
  const flags = new Int32Array(input.flags);
  const around = {
    // Wait while the download wants the lock (bounded: SQLite's locking is still there).
    before: () => {
      const until = Date.now() + MAX_HANDOVER_WAIT_MS;
      for (;;) {
        const want = Atomics.load(flags, WANT);
        const left = until - Date.now();
        if (want === 0 || left <= 0) break;
        Atomics.wait(flags, WANT, want, left);
      }
      Atomics.store(flags, BUSY, 1);
    },
    after: () => {
      Atomics.store(flags, BUSY, 0);
      Atomics.notify(flags, BUSY);
    },
  };
  let finishing = false;
  let wake: (() => void) | null = null;
  port.on('message', (m: unknown) => {
    if (m === 'finish') finishing = true;
    const w = wake;
    wake = null;
    w?.();
  });
  let written = 0;
  try {
    const { openStore } = await import('../store/open-store.js');
    const store = await openStore({ dataDir: input.dataDir, store: null }, { upkeep: false });
    try {
      for (;;) {
        const n = (await store.indexPending?.({ batch: WORKER_BATCH, around })) ?? 0;
        written += n;
        if (n > 0) continue;
        if (finishing) break;
        await new Promise<void>((resolve) => {
          const t = setTimeout(resolve, IDLE_MS);
          wake = () => {
            clearTimeout(t);
            resolve();
          };
        });
      }
    } finally {
      await store.close();
    }
    port.postMessage({ type: 'done', written } satisfies WorkerReply);
  } catch (err) {
    port.postMessage({ type: 'error', message: err instanceof Error ? err.message : String(err) } satisfies WorkerReply);
  }
  port.close();
}

if (!isMainThread && (workerData as Partial<WorkerInput> | null)?.petrelIndexer === true) {
  void workerMain(workerData as WorkerInput);
}
