// Short runs of the stress tool for CI (issue 7, item 3): 6 sessions for 3 seconds on the same mailboxes
// with no contradiction between what each was told (tools/lib/stress.ts), the flag-register rule checked on
// its own (it must reject what no linearization allows), and 300 idle connections, half in IDLE, all
// woken by one APPEND (RFC 2177).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Registers, runIdleConnections, runStress } from '../../tools/lib/stress.js';

test('stress: 6 sessions x 3 s on shared mailboxes, no contradictions', async () => {
  const r = await runStress({ sessions: 6, seconds: 3 });
  assert.deepEqual(r.contradictions, [], `seed ${r.seed}`);
  assert.ok(r.stats.stores > 0 && r.stats.fetches > 0 && r.stats.flagChecks > 0, JSON.stringify(r.stats));
});

test('flag registers: values allowed only within the windows of the writer\'s STOREs', () => {
  const regs = new Registers();
  // Nothing stored yet: only "clear" is possible.
  assert.equal(regs.possible('INBOX', 1, 2, false, 0, 10), true);
  assert.equal(regs.possible('INBOX', 1, 2, true, 0, 10), false);
  const w = regs.begin('INBOX', 1, 2, true, 100);
  // In flight during [90, 110]: either value.
  assert.equal(regs.possible('INBOX', 1, 2, true, 90, 110), true);
  assert.equal(regs.possible('INBOX', 1, 2, false, 90, 110), true);
  // Before it was sent: not yet set.
  assert.equal(regs.possible('INBOX', 1, 2, true, 50, 60), false);
  w.acked = 120;
  // Observed entirely after the acknowledgement: must be set.
  assert.equal(regs.possible('INBOX', 1, 2, false, 130, 140), false);
  assert.equal(regs.possible('INBOX', 1, 2, true, 130, 140), true);
  // Other mailboxes and other writers are separate registers.
  assert.equal(regs.possible('Other', 1, 2, true, 130, 140), false);
  assert.equal(regs.possible('INBOX', 1, 3, true, 130, 140), false);
});

test('300 idle connections, half in IDLE: all woken by one APPEND; memory per connection reported', async () => {
  const r = await runIdleConnections({ connections: 300, idleFraction: 0.5 });
  assert.equal(r.connections, 300);
  assert.equal(r.wakeups, r.inIdle);
});
