// The stress checker across two nodes (issue 8, item 5): 6 sessions for 4 seconds spread over two `petrel
// serve` processes on one PostgreSQL database, appending, flagging, expunging and fetching in the same two
// mailboxes (tools/lib/stress.ts). No session may be told anything that contradicts what another was told
// (RFC 9051 §2.3.1.1 UIDs, §7.4.1 EXISTS, §7.5.1 EXPUNGE, flag registers), every node must list the same
// final UIDs and flags, and every session's view after a NOOP must be exactly its mailbox — also for the
// changes made through the other node. Skipped, with the reason on one line, when PostgreSQL is unavailable.
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
  'stress: 6 sessions x 4 s over two petrel serve nodes on one PostgreSQL, no contradictions',
  unavailable === null ? {} : { skip: `PostgreSQL is not available: ${unavailable}` },
  async () => {
    const server = await ensurePostgres();
    try {
      const r = await runStress({ sessions: 6, seconds: 4, nodes: 2, postgresUrl: server.url });
      assert.equal(r.backend, 'postgres');
      assert.equal(r.nodes, 2);
      assert.deepEqual(r.contradictions, [], `seed ${r.seed}`);
      // Both nodes served commands, and the workload wrote through both.
      assert.equal(r.commandsPerNode.length, 2);
      assert.ok(r.commandsPerNode.every((n) => n > 20), JSON.stringify(r.commandsPerNode));
      const s = r.stats;
      assert.ok(s.appends > 0 && s.stores > 0 && s.expunges > 0 && s.flagChecks > 0 && s.expungeChecks > 0, JSON.stringify(s));
    } finally {
      await server.stop();
    }
  },
);
