// What all connections of one server share: the store, settings, the failed-login throttle,
// per-IP connection counts.
import { verifyPassword } from '../auth/password.js';
import type { Store, UserRecord } from '../store/types.js';
import { LIMITS } from '../protocol/limits.js';
import type { ServerLoggerLike } from './session.js';

export interface ServerSettings {
  allowInsecureAuth: 'loopback' | 'always' | 'never';
  tlsAvailable: boolean;
  maxMessageSize: number;
  maxConnectionsPerIp: number;
  idleTimeoutMs: number;
  preAuthTimeoutMs: number;
}

/** Failures from one account name before it is locked out (from any number of addresses). Higher than the
 *  per-address limit: the account lock-out also keeps the owner out, so it should only catch a slow guesser
 *  spread over many addresses. */
export const MAX_FAILED_LOGINS_PER_ACCOUNT = LIMITS.maxFailedLogins * 3;

interface FailureRecord {
  count: number;
  lockedUntil: number;
  last: number;
}

/** Where the throttle reports failures and lock-outs (the metrics, the log). */
export interface LoginThrottleEvents {
  log?: ServerLoggerLike;
  onFailure?: () => void;
  onLockout?: (kind: 'ip' | 'account') => void;
}

/** Failure counts for one kind of key (addresses, or account names). */
class FailureTable {
  private readonly entries = new Map<string, FailureRecord>();
  constructor(private readonly limit: number) {}

  locked(key: string, now: number): boolean {
    const f = this.entries.get(key);
    if (!f) return false;
    if (f.lockedUntil > now) return true;
    if (now - f.last > LIMITS.lockoutMs) this.entries.delete(key);
    return false;
  }

  /** Counts a failure; returns the delay and whether this failure started a lock-out. */
  fail(key: string, now: number): { delay: number; lockedNow: boolean } {
    const f = this.entries.get(key) ?? { count: 0, lockedUntil: 0, last: now };
    if (now - f.last > LIMITS.lockoutMs) f.count = 0;
    f.count++;
    f.last = now;
    let lockedNow = false;
    if (f.count >= this.limit) {
      f.lockedUntil = now + LIMITS.lockoutMs;
      f.count = 0;
      lockedNow = true;
    }
    this.entries.set(key, f);
    if (this.entries.size > 100_000) this.prune(now);
    const delay = Math.min(LIMITS.failedLoginBaseDelayMs * 2 ** Math.max(0, f.count - 1), LIMITS.failedLoginMaxDelayMs);
    return { delay, lockedNow };
  }

  clear(key: string): void {
    this.entries.delete(key);
  }

  private prune(now: number): void {
    for (const [k, f] of this.entries) if (now - f.last > LIMITS.lockoutMs && f.lockedUntil < now) this.entries.delete(k);
  }
}

/**
 * Failed-login accounting shared by IMAP and POP3: per address and per account name, each with a growing
 * delay before the failure answer and a temporary lock-out (issue 7, item 5). Unknown account names are
 * counted like existing ones, so the throttle's answers reveal nothing about which names exist.
 */
export class LoginThrottle {
  private readonly byIp = new FailureTable(LIMITS.maxFailedLogins);
  private readonly byAccount = new FailureTable(MAX_FAILED_LOGINS_PER_ACCOUNT);

  constructor(private readonly events: LoginThrottleEvents = {}) {}

  /** ms to wait before answering, or -1 when the address is locked out. */
  check(ip: string, now = Date.now()): number {
    return this.byIp.locked(ip, now) ? -1 : 0;
  }

  /** Records a failure of the address; returns the delay to apply before the NO. */
  fail(ip: string, now = Date.now()): number {
    const r = this.byIp.fail(ip, now);
    if (r.lockedNow) this.lockedOut('ip', { ip });
    return r.delay;
  }

  succeed(ip: string): void {
    this.byIp.clear(ip);
  }

  /** 0, or -1 when the address or the account is locked out. */
  checkLogin(ip: string, user: string, now = Date.now()): number {
    const ipLocked = this.byIp.locked(ip, now);
    const accountLocked = this.byAccount.locked(accountKey(user), now);
    return ipLocked || accountLocked ? -1 : 0;
  }

  /** Records a failed login of `user` from `ip`; returns the delay to apply before the failure answer. */
  failLogin(ip: string, user: string, now = Date.now()): number {
    this.events.onFailure?.();
    const a = this.byIp.fail(ip, now);
    if (a.lockedNow) this.lockedOut('ip', { ip });
    const b = this.byAccount.fail(accountKey(user), now);
    if (b.lockedNow) this.lockedOut('account', { user: accountKey(user) });
    return Math.max(a.delay, b.delay);
  }

  /** A successful login clears the address's and the account's failures. */
  succeedLogin(ip: string, user: string): void {
    this.byIp.clear(ip);
    this.byAccount.clear(accountKey(user));
  }

  private lockedOut(kind: 'ip' | 'account', what: Record<string, string>): void {
    this.events.onLockout?.(kind);
    this.events.log?.warn({ ...what, minutes: LIMITS.lockoutMs / 60_000 }, `login lock-out (${kind})`);
  }
}

/** Account names are compared case-insensitively and cut to 64 characters (as logged). */
function accountKey(user: string): string {
  return user.slice(0, 64).toLowerCase();
}

export interface ServerContext {
  store: Store;
  settings: ServerSettings;
  throttle: LoginThrottle;
  log: ServerLoggerLike;
  /** Verifies a user's password; resolves the user or null. */
  authenticate(user: string, password: string): Promise<import('../store/types.js').UserRecord | null>;
  /** Brings in the full content of a partial message of a replica (fetch-missing.ts); absent: NO [UNAVAILABLE]. */
  fetchMissing?: import('./fetch-missing.js').FetchMissingHook;
}

/**
 * Password verification that costs the same for unknown users and wrong passwords: an unknown name is
 * checked against `dummyHash` (a hash of a random password with the default parameters), so every
 * attempt runs exactly one scrypt verification and timing does not reveal which names exist.
 */
export function passwordAuthenticator(
  store: Pick<Store, 'getUser'>,
  dummyHash: string,
  verify: (password: string, hash: string) => Promise<boolean> = verifyPassword,
): (name: string, password: string) => Promise<UserRecord | null> {
  return async (name, password) => {
    const user = await store.getUser(name);
    if (!user) {
      await verify(password, dummyHash);
      return null;
    }
    return (await verify(password, user.passwordHash)) ? user : null;
  };
}
