// Shared set-up of the hostile-input battery: an in-process server with short timeouts, logged-in raw
// clients, a check that the server still serves an ordinary client, and retained-heap measurement
// (the server runs in the test process, so its memory is this process's heap).
import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { ImapTestClient } from '../helpers/imap-client.js';
import { makeDataDir, provisionAccounts, TEST_PASSWORD, TEST_USER } from '../helpers/server.js';
import { startServer, type RunningServer, type ServerOptions } from '../../src/server/server.js';
import { openSqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import type { Store } from '../../src/store/types.js';

setFlagsFromString('--expose-gc');
const gcFn = runInNewContext('gc') as () => void;

export interface HostileServer {
  port: number;
  store: Store;
  dataDir: string;
  server: RunningServer;
  clients: ImapTestClient[];
  connect(): Promise<ImapTestClient>;
  login(): Promise<ImapTestClient>;
  stop(): Promise<void>;
}

export async function startHostileServer(opts: Partial<Pick<ServerOptions, 'preAuthTimeoutMs' | 'idleTimeoutMs' | 'maxConnectionsPerIp' | 'maxMessageSize'>> = {}): Promise<HostileServer> {
  const dataDir = await makeDataDir();
  const store = await openSqliteStore(dataDir);
  await provisionAccounts(store);
  const server = await startServer({ store, host: '127.0.0.1', imapPort: 0, imapsPort: null, tls: null, ...opts });
  const clients: ImapTestClient[] = [];
  const hs: HostileServer = {
    port: server.imapPort!,
    store,
    dataDir,
    server,
    clients,
    async connect() {
      const c = await ImapTestClient.connect(server.imapPort!);
      clients.push(c);
      return c;
    },
    async login() {
      const c = await hs.connect();
      const r = await c.command('L', `LOGIN ${TEST_USER} "${TEST_PASSWORD}"`);
      assert.match(r.tagged, /^L OK/, r.tagged);
      return c;
    },
    async stop() {
      for (const c of clients) c.close();
      await server.close();
      await store.close();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
  return hs;
}

/** A fresh client logs in, selects INBOX, appends and fetches: the server is still serving. */
export async function assertServes(hs: HostileServer, note = ''): Promise<void> {
  const c = await ImapTestClient.connect(hs.port);
  try {
    assert.match((await c.command('L', `LOGIN ${TEST_USER} "${TEST_PASSWORD}"`)).tagged, /^L OK/, note);
    assert.match((await c.command('S', 'SELECT INBOX')).tagged, /^S OK/, note);
    const msg = Buffer.from('Subject: still here\r\n\r\nok\r\n');
    assert.match((await c.commandWithLiterals('A', ['APPEND INBOX ', msg])).tagged, /^A OK/, note);
    const f = await c.command('F', 'UID FETCH * (UID BODY.PEEK[HEADER.FIELDS (Subject)])');
    assert.match(f.tagged, /^F OK/, note);
    assert.match(f.untagged.join('\n'), /Subject: still here/, note);
    await c.command('Z', 'LOGOUT');
  } finally {
    c.close();
  }
}

/** Retained JS heap plus Buffer memory after a full garbage collection. */
export function heapAfterGc(): number {
  gcFn();
  gcFn();
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
}

export const MB = 1024 * 1024;

/** Reads responses until the tagged one for `tag`, counting the untagged ones without keeping them. */
export async function readTaggedCounting(c: ImapTestClient, tag: string, timeoutMs = 30_000): Promise<{ tagged: string; count: number; bytes: number }> {
  let count = 0;
  let bytes = 0;
  for (;;) {
    const r = await c.next(timeoutMs);
    if (r.text.startsWith(tag + ' ')) return { tagged: r.text, count, bytes };
    count++;
    bytes += r.raw.length;
  }
}

/** Waits until the server closes the client's connection (or fails after timeoutMs). */
export async function waitClosed(c: ImapTestClient, timeoutMs: number): Promise<string[]> {
  const seen: string[] = [];
  const deadline = Date.now() + timeoutMs;
  while (!c.closed) {
    if (Date.now() > deadline) throw new Error(`connection still open after ${timeoutMs} ms; saw ${JSON.stringify(seen.slice(-3))}`);
    try {
      seen.push((await c.next(Math.max(1, deadline - Date.now()))).text);
    } catch {
      /* closed or timed out: the loop condition decides */
    }
  }
  return seen;
}
