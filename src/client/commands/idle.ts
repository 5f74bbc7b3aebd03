// IDLE (RFC 2177; RFC 9051 §6.3.13): the client waits for "+", the server pushes EXISTS / EXPUNGE / FETCH
// while the client sends nothing, and "DONE" ends it. RFC 2177 §3 asks clients to re-issue IDLE at least
// every 29 minutes; we restart far more often so a silently dead connection shows up as a missing reply
// to DONE (the connection's watchdog then fails it). Without IDLE, NOOP polling (RFC 9051 §6.1.2).
import type { ClientConnection } from '../connection.js';
import { ImapConnectionError } from '../errors.js';
import type { IdleEnd, IdleOptions } from '../types.js';

const DEFAULT_RESTART_MS = 5 * 60 * 1000;
const DEFAULT_POLL_MS = 60 * 1000;

/** Waits for the first of: abort, a newly queued command, a timer, the command ending. */
function waitForWake(conn: ClientConnection, signal: AbortSignal | undefined, ms: number, ended: Promise<unknown>): Promise<'aborted' | 'preempted' | 'restart' | 'server'> {
  return new Promise((resolve) => {
    let timer: NodeJS.Timeout | null = null;
    const finish = (why: 'aborted' | 'preempted' | 'restart' | 'server') => {
      if (timer) clearTimeout(timer);
      timer = null;
      signal?.removeEventListener('abort', onAbort);
      if (conn.idleBreaker === onPreempt) conn.idleBreaker = null;
      resolve(why);
    };
    const onAbort = () => finish('aborted');
    const onPreempt = () => finish('preempted');
    if (signal?.aborted) return finish('aborted');
    if (conn.queuedCount > 0 || conn.closed) return finish('preempted');
    signal?.addEventListener('abort', onAbort, { once: true });
    conn.idleBreaker = onPreempt;
    timer = setTimeout(() => finish('restart'), ms);
    void ended.then(() => finish('server'));
  });
}

export async function idle(conn: ClientConnection, opts: IdleOptions = {}): Promise<IdleEnd> {
  const signal = opts.signal;
  if (!conn.capabilities.has('IDLE') && !conn.capabilities.has('IMAP4REV2')) {
    for (;;) {
      const why = await waitForWake(conn, signal, opts.pollMs ?? DEFAULT_POLL_MS, new Promise(() => undefined));
      if (conn.closed) throw conn.closedError ?? new ImapConnectionError('closed', 'Connection closed');
      if (why === 'aborted' || why === 'preempted') return why;
      await conn.run('NOOP', []);
    }
  }
  const restartMs = opts.restartMs ?? DEFAULT_RESTART_MS;
  for (;;) {
    let why = 'server' as 'aborted' | 'preempted' | 'restart' | 'server';
    await conn.run('IDLE', [], {
      conversation: async (ctx) => {
        await ctx.continuation();
        ctx.setQuiet(true);
        why = await waitForWake(conn, signal, restartMs, ctx.completed);
        ctx.setQuiet(false);
        if (why === 'server') return;
        await ctx.write(Buffer.from('DONE\r\n'));
      },
    });
    if (why === 'aborted' || why === 'preempted' || why === 'server') return why;
    if (signal?.aborted) return 'aborted';
  }
}
