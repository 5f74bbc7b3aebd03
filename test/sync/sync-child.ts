// Runs one sync in a child process for kill -9 tests: settings come from PETREL_SYNC_TEST (JSON of
// SyncOptions without callbacks). Prints "ready" just before the sync starts (so the parent can time its
// kill from there, not from process start-up) and "done <ms>" when it completed.
import { syncOnce } from '../../src/sync/engine.js';
import type { SyncOptions } from '../../src/sync/types.js';

const opts = JSON.parse(process.env.PETREL_SYNC_TEST ?? '{}') as SyncOptions;
process.stdout.write('ready\n');
const t0 = performance.now();
await syncOnce(opts);
process.stdout.write(`done ${Math.round(performance.now() - t0)}\n`);
