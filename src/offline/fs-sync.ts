// fsync helpers for the fetch destinations: a file's data and the directory entry that names it must both
// be durable before the server copy is deleted.
import { open } from 'node:fs/promises';

export async function fsyncDir(path: string): Promise<void> {
  const fh = await open(path, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}
