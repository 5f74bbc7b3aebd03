// Failed-login throttling (issue 2, item 8: "failed logins (growing delay, then temporary lock-out)").
// The real limits (LIMITS.maxFailedLogins failures with delays up to seconds) are too slow for an
// end-to-end test (about 28 s of delays), so LoginThrottle is tested as a unit here; protocol-edges.test.ts
// checks end to end that a failure answers NO [AUTHENTICATIONFAILED] (RFC 5530).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LIMITS } from '../../src/protocol/limits.js';
import { LoginThrottle } from '../../src/server/server-context.js';

test('each failure waits longer, up to the maximum', () => {
  const t = new LoginThrottle();
  const now = 1_000_000;
  const delays: number[] = [];
  for (let i = 0; i < LIMITS.maxFailedLogins - 1; i++) delays.push(t.fail('10.0.0.1', now + i));
  for (let i = 1; i < delays.length; i++) assert.ok(delays[i]! >= delays[i - 1]!, `delays grow: ${delays.join(',')}`);
  assert.ok(delays[delays.length - 1]! > delays[0]!, `delays grow: ${delays.join(',')}`);
  assert.ok(delays.every((d) => d <= LIMITS.failedLoginMaxDelayMs));
  assert.equal(t.check('10.0.0.1', now + 100), 0, 'not locked out before the limit');
});

test('after maxFailedLogins failures the address is locked out, others are not; the lock expires', () => {
  const t = new LoginThrottle();
  const now = 2_000_000;
  for (let i = 0; i < LIMITS.maxFailedLogins; i++) t.fail('10.0.0.2', now + i);
  assert.equal(t.check('10.0.0.2', now + 1000), -1);
  assert.equal(t.check('10.0.0.3', now + 1000), 0);
  assert.equal(t.check('10.0.0.2', now + LIMITS.lockoutMs + 1000), 0, 'the lock-out is temporary');
});

test('a successful login clears the failures', () => {
  const t = new LoginThrottle();
  const now = 3_000_000;
  for (let i = 0; i < LIMITS.maxFailedLogins - 1; i++) t.fail('10.0.0.4', now + i);
  t.succeed('10.0.0.4');
  const d = t.fail('10.0.0.4', now + 100);
  assert.equal(d, LIMITS.failedLoginBaseDelayMs, 'counting starts again');
  assert.equal(t.check('10.0.0.4', now + 200), 0);
});
