// The resume record of an import: a small JSON file next to the source ("<source>.petrel-import.json"),
// replaced atomically (temp file → fsync → rename → fsync of the directory) after every batch.
//
// The source is read in a fixed order of units (mbox files, Maildir folders; sorted by name) and the
// position says how far it is committed: every unit before `position.unit` is done, and of that unit the
// bytes before `offset` (mbox) or the files with keys up to `key` (Maildir). Before a batch is appended the
// record names it as `pending`: the mailbox, its UIDVALIDITY and UIDNEXT at that moment, and the blob ids
// (SHA-256 of the bytes) of its messages. A rerun after a crash finds the pending batch either in the
// mailbox — a run of those blob ids at UIDs >= that UIDNEXT; APPEND is all-or-nothing — and moves the
// position past it, or not, and imports it again. So nothing is lost and nothing is appended twice.
import { open, readFile, rename, unlink } from 'node:fs/promises';
import { dirname } from 'node:path';

export interface ImportPosition {
  /** The unit: an mbox file's path relative to the source ("" for a single file) or a Maildir folder name. */
  unit: string;
  /** mbox: bytes of the unit consumed (the offset of the next From_ line). */
  offset?: number;
  /** Maildir: the last file key imported from the unit. */
  key?: string;
}

export interface PendingBatch {
  mailbox: string;
  uidValidity: number;
  uidNext: number;
  blobIds: string[];
  /** Where the position moves once the batch is known to be in the mailbox. */
  position: ImportPosition;
  messages: number;
  bytes: number;
}

export interface ImportState {
  version: 1;
  kind: 'mbox' | 'maildir';
  source: string;
  user: string;
  target: string | null;
  /** The quoting style chosen at the start (so a resumed run reads the rest the same way). */
  mboxFormat?: 'mboxo' | 'mboxrd';
  position: ImportPosition | null;
  pending: PendingBatch | null;
  done: boolean;
  messages: number;
  bytes: number;
  skipped: number;
  startedAt: number;
}

export class ImportStateError extends Error {}

/** Compares units (and Maildir keys) in the order the import walks them: code-unit order. */
export function compareNames(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

export class StateFile {
  constructor(readonly path: string) {}

  async load(): Promise<ImportState | null> {
    let text: string;
    try {
      text = await readFile(this.path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw err;
    }
    let state: ImportState;
    try {
      state = JSON.parse(text) as ImportState;
    } catch {
      throw new ImportStateError(`${this.path} is not a Petrel import state file (bad JSON)`);
    }
    if (state.version !== 1 || (state.kind !== 'mbox' && state.kind !== 'maildir')) {
      throw new ImportStateError(`${this.path} is not a Petrel import state file`);
    }
    return state;
  }

  async save(state: ImportState): Promise<void> {
    const tmp = `${this.path}.tmp`;
    const fh = await open(tmp, 'w', 0o600);
    try {
      await fh.writeFile(JSON.stringify(state, null, 1) + '\n');
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, this.path);
    const dir = await open(dirname(this.path), 'r');
    try {
      await dir.sync();
    } finally {
      await dir.close();
    }
  }

  async remove(): Promise<void> {
    await unlink(this.path).catch(() => {});
  }
}
