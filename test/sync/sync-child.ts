// Runs one sync in a child process for kill -9 tests: settings come from PETREL_SYNC_TEST (JSON of
// SyncOptions without callbacks). Prints "done" when the sync completed.
import { syncOnce } from '../../src/sync/engine.js';
import type { SyncOptions } from '../../src/sync/types.js';

const opts = JSON.parse(process.env.PETREL_SYNC_TEST ?? '{}') as SyncOptions;
await syncOnce(opts);
process.stdout.write('done\n');
