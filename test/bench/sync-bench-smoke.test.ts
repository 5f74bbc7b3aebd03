// The sync benchmark (bench/sync-bench.ts, issue 5 item 11) at a tiny size: Petrel's syncOnce() and mbsync
// both download a 50-message account from Dovecot through their counting proxies, every message lands
// locally, the proxies saw the octets both ways, and the no-change resync downloads nothing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runSyncBench } from '../../bench/sync-bench.js';

test('sync bench at 50 messages: Petrel and mbsync each move every message, octets counted both ways', async () => {
  const r = await runSyncBench({ size: { messages: 50, mailboxes: 5 }, petrel: true, mbsync: true, verbose: false });
  assert.ok(r.dataBytes > 50 * 2_000, `data set of ${r.dataBytes} octets`);
  for (const t of r.tools) {
    assert.equal(t.available, true, `${t.tool} unavailable: ${t.reason}`);
    assert.equal(t.reason, undefined, `${t.tool}: ${t.reason}`);
    assert.deepEqual(t.mismatches, [], `${t.tool} local counts differ`);
    assert.equal(t.messagesSynced, 50, `${t.tool} synced ${t.messagesSynced} messages`);
    assert.equal(t.complete, true);
    const initial = t.initial!;
    const resync = t.resync!;
    assert.ok(initial && resync, `${t.tool} ran both phases`);
    // Every message body crossed the proxy downwards; commands went up.
    assert.ok(initial.down >= r.dataBytes, `${t.tool} initial down ${initial.down} < data ${r.dataBytes}`);
    assert.ok(initial.up > 0, `${t.tool} initial up`);
    assert.ok(resync.up > 0 && resync.down > 0, `${t.tool} resync octets ${resync.up}/${resync.down}`);
    assert.ok(resync.down < initial.down / 10, `${t.tool} resync moved ${resync.down} octets`);
    assert.ok(initial.connections >= 1 && resync.connections >= 1);
  }
  const petrel = r.tools.find((t) => t.tool === 'Petrel')!;
  assert.equal(petrel.summaries?.[0]?.downloaded, 50);
  assert.equal(petrel.summaries?.[1]?.downloaded, 0);
});
