// What all connections of one server share: the store, settings, the failed-login throttle,
// per-IP connection counts.
import type { Store } from '../store/types.js';
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

export class LoginThrottle {
  private readonly failures = new Map<string, { count: number; lockedUntil: number; last: number }>();

  /** ms to wait before answering, or -1 when the address is locked out. */
  check(ip: string, now = Date.now()): number {
    const f = this.failures.get(ip);
    if (!f) return 0;
    if (f.lockedUntil > now) return -1;
    if (now - f.last > LIMITS.lockoutMs) {
      this.failures.delete(ip);
      return 0;
    }
    return 0;
  }

  /** Records a failure; returns the delay to apply before the NO. */
  fail(ip: string, now = Date.now()): number {
    const f = this.failures.get(ip) ?? { count: 0, lockedUntil: 0, last: now };
    if (now - f.last > LIMITS.lockoutMs) f.count = 0;
    f.count++;
    f.last = now;
    if (f.count >= LIMITS.maxFailedLogins) {
      f.lockedUntil = now + LIMITS.lockoutMs;
      f.count = 0;
    }
    this.failures.set(ip, f);
    if (this.failures.size > 100_000) this.prune(now);
    return Math.min(LIMITS.failedLoginBaseDelayMs * 2 ** Math.max(0, f.count - 1), LIMITS.failedLoginMaxDelayMs);
  }

  succeed(ip: string): void {
    this.failures.delete(ip);
  }

  private prune(now: number): void {
    for (const [ip, f] of this.failures) if (now - f.last > LIMITS.lockoutMs && f.lockedUntil < now) this.failures.delete(ip);
  }
}

export interface ServerContext {
  store: Store;
  settings: ServerSettings;
  throttle: LoginThrottle;
  log: ServerLoggerLike;
  /** Verifies a user's password; resolves the user or null. */
  authenticate(user: string, password: string): Promise<import('../store/types.js').UserRecord | null>;
}
