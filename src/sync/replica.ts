// A replica: a Petrel store in a directory (what `petrel serve --data DIR` serves) plus the sync state
// (sync.db) of src/sync/state.ts. The local account has the remote account's name; it is created on the
// first sync with the remote password's hash, so a local mail client logs in to `petrel serve` on the
// replica with the same credentials.
import { randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { hashPassword } from '../auth/password.js';
import { openStore } from '../store/open-store.js';
import type { MailboxRecord, Store, UserRecord } from '../store/types.js';
import { SyncState } from './state.js';

export interface Replica {
  dir: string;
  store: Store;
  state: SyncState;
  user: UserRecord;
  close(): Promise<void>;
}

export interface OpenReplicaOptions {
  /** Local account name (default: the remote user name). */
  userName: string;
  /** Used to create the local account the first time (hashed; never stored in clear). */
  password?: string;
}

export async function openReplica(dir: string, opts: OpenReplicaOptions): Promise<Replica> {
  mkdirSync(dir, { recursive: true });
  const store = await openStore({ dataDir: dir, store: null });
  let state: SyncState | null = null;
  try {
    state = SyncState.open(dir);
    let user = await store.getUser(opts.userName);
    if (!user) {
      const hash = await hashPassword(opts.password ?? cryptoRandom());
      user = await store.createUser(opts.userName, hash);
      if (!(await store.getMailbox(user.id, 'INBOX'))) await store.createMailbox(user.id, 'INBOX');
    }
    const st = state;
    const u = user;
    return {
      dir,
      store,
      state: st,
      user: u,
      close: async () => {
        st.close();
        await store.close();
      },
    };
  } catch (err) {
    state?.close();
    await store.close();
    throw err;
  }
}

function cryptoRandom(): string {
  return randomBytes(24).toString('base64url');
}

/** Creates `name` and any missing parent levels in the replica. */
export async function ensureLocalMailbox(store: Store, userId: number, name: string, specialUse: MailboxRecord['specialUse'] = null): Promise<MailboxRecord> {
  const parts = name.split('/');
  for (let i = 1; i < parts.length; i++) {
    const parent = parts.slice(0, i).join('/');
    if (!(await store.getMailbox(userId, parent))) {
      try {
        await store.createMailbox(userId, parent);
      } catch (err) {
        if (!(err instanceof Error && 'code' in err && (err as { code: string }).code === 'ALREADYEXISTS')) throw err;
      }
    }
  }
  const existing = await store.getMailbox(userId, name);
  if (existing) return existing;
  return store.createMailbox(userId, name, { specialUse });
}
