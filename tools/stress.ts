// `npm run stress -- --sessions N --seconds S [--seed X]` — many sessions on the same mailboxes checking each
// other's announcements (tools/lib/stress.ts); add `--nodes 2` to spread them over two `petrel serve`
// processes on one PostgreSQL database (`--postgres-url URL` names the server, else PETREL_TEST_PG_URL or a
// throwaway cluster; `--postgres` uses PostgreSQL with one node too; `--kill-node-after S` SIGKILLs the
// last node after S seconds, its sessions move to node 1); `--idle N [--idle-fraction 0.5]` — hold N idle connections
// (that fraction in IDLE) and report the server's memory per connection. The npm script raises `ulimit -n`
// to the hard limit; N idle connections need about N + 100 descriptors in each process.
import { runIdleConnections, runStress } from './lib/stress.js';
import { parseArgs } from './args.js';

const args = parseArgs(process.argv.slice(2), {
  sessions: { type: 'number', default: 20 },
  seconds: { type: 'number', default: 30 },
  seed: { type: 'number' },
  nodes: { type: 'number', default: 1 },
  postgres: { type: 'boolean', default: false },
  'postgres-url': { type: 'string' },
  'kill-node-after': { type: 'number' },
  idle: { type: 'number', default: 0 },
  'idle-fraction': { type: 'number', default: 0.5 },
});

let failed = false;
if (Number(args.idle) > 0) {
  const r = await runIdleConnections({ connections: Number(args.idle), idleFraction: Number(args['idle-fraction']), log: (l) => console.log(l) });
  console.log(
    `${r.connections} connections (${r.inIdle} in IDLE): server RSS ${r.baseRssMb} MB → ${r.loadedRssMb} MB, ` +
      `${(r.bytesPerConnection / 1024).toFixed(1)} KiB per connection; one APPEND woke ${r.wakeups} of ${r.inIdle} IDLE sessions`,
  );
  if (r.wakeups < r.inIdle) failed = true;
} else {
  const started = Date.now();
  const r = await runStress({
    sessions: Number(args.sessions),
    seconds: Number(args.seconds),
    nodes: Number(args.nodes),
    postgres: Boolean(args.postgres),
    ...(args.seed !== undefined ? { seed: Number(args.seed) } : {}),
    ...(args['postgres-url'] !== undefined ? { postgresUrl: String(args['postgres-url']) } : {}),
    ...(args['kill-node-after'] !== undefined ? { killNodeAfterMs: Number(args['kill-node-after']) * 1000 } : {}),
  });
  console.log(
    `seed ${r.seed}, ${args.sessions} sessions on ${r.nodes} node(s) (${r.backend}), ${((Date.now() - started) / 1000).toFixed(1)} s: ` +
      `${JSON.stringify(r.stats)}, commands per node ${r.commandsPerNode.join(' + ')}, ${r.appendsChecked} acknowledged APPENDs present at the end`,
  );
  if (r.killed) console.log(`node ${r.killed.node} killed (SIGKILL) after ${r.killed.afterMs / 1000} s; ${r.killed.sessionsMoved} sessions moved to another node`);
  if (r.contradictions.length === 0) console.log('no contradictions');
  else {
    failed = true;
    console.log(`${r.contradictions.length} CONTRADICTION(S):`);
    for (const c of r.contradictions.slice(0, 50)) console.log('  ' + c);
  }
}
process.exit(failed ? 1 : 0);
