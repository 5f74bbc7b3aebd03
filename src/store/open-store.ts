// One place that opens the configured store (issue 8, "Configuration"): the embedded store (SQLite
// metadata + message files) in the data directory by default, or PostgreSQL when `store` is a
// postgres:// URL — then with the LISTEN/NOTIFY change bus (src/store/change-bus-pg.ts), so a session in
// IDLE on one node hears about commits made on every other node, and with message bytes in the database
// unless `blobDir` names shared storage. Both are loaded lazily: SQLite users never load `pg`.
import type { Store } from './types.js';

export interface StoreLocation {
  /** The data directory (used by the embedded store). */
  dataDir: string;
  /** null for the embedded store; a postgres:// or postgresql:// URL for PostgreSQL. */
  store: string | null;
  /** PostgreSQL only: shared directory for message bytes; null = bytes in the database. */
  blobDir?: string | null;
}

export interface OpenStoreOptions {
  /** Errors of background work (PostgreSQL: GC, the listening connection). */
  onBackgroundError?: (err: unknown) => void;
  /** false: no periodic upkeep (GC) in this handle, for a short-lived second connection such as a worker. */
  upkeep?: boolean;
}

export function isPostgresUrl(s: string): boolean {
  return /^postgres(ql)?:\/\//i.test(s);
}

/** `url` with any password replaced by `***`, for messages and logs. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return url.replace(/\/\/([^:/@]*):[^@]*@/, '//$1:***@');
  }
}

/** Opens the store the configuration names. */
export async function openStore(location: StoreLocation, options: OpenStoreOptions = {}): Promise<Store> {
  if (location.store !== null && location.store !== undefined) {
    const { openPostgresStore } = await import('./postgres/postgres-store.js');
    return openPostgresStore(location.store, {
      blobDir: location.blobDir ?? 'database',
      ...(options.onBackgroundError ? { onBackgroundError: options.onBackgroundError } : {}),
    });
  }
  const { openSqliteStore } = await import('./sqlite/sqlite-store.js');
  return openSqliteStore(location.dataDir, options.upkeep === false ? { gcIntervalMs: 0 } : {});
}

/** Describes where a store lives, without secrets: "postgres://ann:***@db/petrel" or the directory. */
export function describeStore(location: StoreLocation): string {
  return location.store ? redactUrl(location.store) : location.dataDir;
}
