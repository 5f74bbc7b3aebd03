// Parts of the sync benchmark (issue 5 item 11) that the numbers rest on: the data set plan (deterministic,
// ~250 MB over 10,000 messages of the documented size mix, every mailbox used) and the counting proxy
// (exact octets both ways, connections counted, data passed through unchanged).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, connect } from 'node:net';
import type { AddressInfo, Socket } from 'node:net';
import { SYNC_FULL, SYNC_QUICK, mailboxNames, planMessageBytes, planSyncData } from '../../bench/sync-data.js';
import { diffCounts, startCountingProxy } from '../../bench/sync-proxy.js';

test('sync data plan: 10,000 messages in 50 mailboxes, mixed sizes totalling about 250 MB, deterministic', () => {
  const plan = planSyncData(SYNC_FULL);
  assert.equal(plan.messages.length, 10_000);
  assert.equal(plan.mailboxes.length, 50);
  assert.equal(new Set(plan.mailboxes.map((b) => b.name)).size, 50);
  assert.equal(plan.mailboxes[0]!.name, 'INBOX');
  assert.ok(plan.mailboxes.every((b) => b.messages.length >= 1));
  assert.equal(plan.mailboxes.reduce((a, b) => a + b.messages.length, 0), 10_000);
  const total = plan.messages.reduce((a, m) => a + m.size, 0);
  assert.ok(total > 220e6 && total < 290e6, `planned ${total} octets`);
  const texts = plan.messages.filter((m) => m.size >= 2_000 && m.size <= 20_000).length;
  const big = plan.messages.filter((m) => m.size >= 100_000 && m.size <= 2_000_000).length;
  assert.equal(texts + big, 10_000);
  assert.ok(big > 100 && big < 250, `${big} attachments`);
  // Same seed, same plan and bytes; another seed differs.
  const again = planSyncData(SYNC_FULL);
  assert.deepEqual(again.messages.slice(0, 50), plan.messages.slice(0, 50));
  assert.ok(planMessageBytes(plan, plan.messages[7]!).equals(planMessageBytes(again, again.messages[7]!)));
  assert.notDeepEqual(planSyncData(SYNC_FULL, 99).messages.map((m) => m.size).slice(0, 20), plan.messages.map((m) => m.size).slice(0, 20));
  const quick = planSyncData(SYNC_QUICK);
  assert.equal(quick.messages.length, 1_000);
  assert.deepEqual(quick.mailboxes.map((b) => b.name), mailboxNames(10));
});

test('counting proxy: forwards unchanged and counts octets each way and connections', async () => {
  // An upstream that greets, then echoes every chunk twice.
  const upstream = createServer((s: Socket) => {
    s.write('* OK hello\r\n');
    s.on('data', (d: Buffer) => s.write(Buffer.concat([d, d])));
    s.on('end', () => s.end());
  });
  await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', () => r()));
  const proxy = await startCountingProxy('127.0.0.1', (upstream.address() as AddressInfo).port);
  try {
    const before = proxy.counts();
    const payload = Buffer.alloc(300_000, 0x61);
    const received = await new Promise<Buffer>((resolve, reject) => {
      const c = connect({ host: proxy.host, port: proxy.port });
      const chunks: Buffer[] = [];
      let n = 0;
      c.on('data', (d: Buffer) => {
        chunks.push(d);
        n += d.length;
        if (n === 12 + payload.length * 2) c.end();
      });
      c.on('error', reject);
      c.on('close', () => resolve(Buffer.concat(chunks)));
      c.write(payload);
    });
    assert.equal(received.subarray(0, 12).toString(), '* OK hello\r\n');
    assert.ok(received.subarray(12).equals(Buffer.concat([payload, payload])));
    for (let i = 0; i < 100 && proxy.open() > 0; i++) await new Promise((r) => setTimeout(r, 10));
    const d = diffCounts(proxy.counts(), before);
    assert.deepEqual(d, { up: payload.length, down: 12 + payload.length * 2, connections: 1 });
    assert.equal(proxy.open(), 0);
  } finally {
    await proxy.close();
    await new Promise<void>((r) => upstream.close(() => r()));
  }
});
