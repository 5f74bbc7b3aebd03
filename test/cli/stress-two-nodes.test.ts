// The stress checker across two nodes (issue 8, item 5): 6 sessions for 6 seconds spread over two `petrel
// serve` processes on one PostgreSQL database, appending, flagging, expunging and fetching in the same two
// mailboxes (tools/lib/stress.ts). Half-way through node 2 is killed with SIGKILL, and its sessions move to
// node 1 (as behind a load balancer). No session may be told anything that contradicts what another was
// told (RFC 9051 §2.3.1.1 UIDs, §7.4.1 EXISTS, §7.5.1 EXPUNGE, flag registers); at the end every keyword
// holds its writer's last acknowledged value, every UID acknowledged by APPENDUID (RFC 4315) and never
// expunged is there — also those node 2 acknowledged before it died — and every session's view after a
// NOOP is exactly its mailbox. Skipped, with the reason on one line, when PostgreSQL is unavailable.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ensurePostgres } from '../helpers/postgres.js';
import { runStress } from '../../tools/lib/stress.js';

let unavailable: string | null = null;
try {
  await ensurePostgres();
} catch (err) {
  unavailable = (err instanceof Error ? err.message : String(err)).split('\n')[0]!;
}

test(
  'stress: 6 sessions x 6 s over two petrel serve nodes on one PostgreSQL, one killed half-way: no contradictions, nothing lost',
  unavailable === null ? {} : { skip: `PostgreSQL is not available: ${unavailable}` },
  async () => {
    const server = await ensurePostgres();
    try {
      const r = await runStress({ sessions: 6, seconds: 6, nodes: 2, postgresUrl: server.url, killNodeAfterMs: 3000 });
      assert.equal(r.backend, 'postgres');
      assert.equal(r.nodes, 2);
      assert.deepEqual(r.contradictions, [], `seed ${r.seed}`);
      // Both nodes served commands; node 2's three sessions moved to node 1 when it was killed.
      assert.equal(r.commandsPerNode.length, 2);
      assert.ok(r.commandsPerNode.every((n) => n > 20), JSON.stringify(r.commandsPerNode));
      assert.deepEqual(r.killed, { node: 2, afterMs: 3000, sessionsMoved: 3 });
      assert.ok(r.appendsChecked > 0);
      const s = r.stats;
      assert.ok(s.appends > 0 && s.stores > 0 && s.expunges > 0 && s.flagChecks > 0 && s.expungeChecks > 0, JSON.stringify(s));
    } finally {
      await server.stop();
    }
  },
);
