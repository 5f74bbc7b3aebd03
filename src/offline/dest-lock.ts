// One `petrel fetch` per destination at a time: a lock file holding the owner's PID next to the journal.
// A lock left by a killed run (its PID no longer alive) is taken over, so kill -9 never blocks a rerun.
import { open, readFile, unlink, writeFile } from 'node:fs/promises';

export class DestinationLockedError extends Error {
  constructor(
    readonly path: string,
    readonly pid: number,
  ) {
    super(`another petrel fetch (pid ${pid}) is writing to this destination (lock ${path})`);
    this.name = 'DestinationLockedError';
  }
}

function alive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Takes the lock; resolves with a release function. */
export async function lockDestination(path: string): Promise<() => Promise<void>> {
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const fh = await open(path, 'wx', 0o600);
      await fh.writeFile(`${process.pid}\n`);
      await fh.close();
      return async () => {
        await unlink(path).catch(() => undefined);
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    const pid = Number((await readFile(path, 'utf8').catch(() => '')).trim());
    if (pid !== process.pid && alive(pid)) throw new DestinationLockedError(path, pid);
    // Stale (the owner died): remove it and try again; 'wx' settles a race between two takers.
    await unlink(path).catch(() => undefined);
  }
  await writeFile(path, `${process.pid}\n`, { mode: 0o600 });
  return async () => {
    await unlink(path).catch(() => undefined);
  };
}
