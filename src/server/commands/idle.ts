// IDLE (RFC 2177, RFC 9051 §6.3.13): the client waits; changes to the selected mailbox are pushed as they
// are committed (the store's poke wakes the connection, decision 2), until the client sends DONE.
import { LIMITS } from '../../protocol/limits.js';
import { bad } from '../errors.js';
import { defineCommand } from '../session.js';

export const idleCommands = [
  defineCommand({
    name: 'IDLE',
    states: ['authenticated', 'selected'],
    parse: (r) => r.end(),
    async run(ctx) {
      await ctx.continuation('idling');
      const deadline = Date.now() + LIMITS.idleCommandTimeoutMs;
      for (;;) {
        await ctx.flushUpdates(true);
        const left = deadline - Date.now();
        if (left <= 0) throw bad('IDLE timed out');
        const what = await ctx.waitForChangeOrLine(left);
        if (what === 'closed') return 'IDLE terminated';
        if (what === 'timeout') throw bad('IDLE timed out');
        if (what === 'line') {
          const line = await ctx.readLine();
          if (line === null) return 'IDLE terminated';
          if (line.toString('latin1').trim().toUpperCase() === 'DONE') return 'IDLE terminated';
          throw bad('Expected DONE');
        }
      }
    },
  }),
];
