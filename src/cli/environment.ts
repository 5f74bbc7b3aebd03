// What the `petrel` command needs from the outside world, gathered in one object so tests can run the
// CLI in-process with their own streams, environment, store and server. The defaults load the store and
// the server lazily, so `petrel --help` starts fast and works even before a store exists.
import { userInfo } from 'node:os';
import type { LmtpServerOptions, RunningLmtpServer } from '../lmtp/lmtp-server.js';
import type { Pop3ServerOptions, RunningPop3Server } from '../pop3/pop3-server.js';
import type { RunningServer, ServerOptions } from '../server/server.js';
import type { PetrelConfig } from '../config/config.js';
import type { Store } from '../store/types.js';

export interface TextSink {
  write(text: string): unknown;
}

export interface CliEnvironment {
  stdout: TextSink;
  stderr: TextSink;
  /** Reads standard input to its end (for --password-stdin). */
  readStdin(): Promise<string>;
  env: Record<string, string | undefined>;
  cwd: string;
  /** Opens the store: with `config`, the one it names (the embedded store in dataDir, or PostgreSQL when
   *  `config.store` is a postgres:// URL; src/store/open-store.ts); without, the embedded store in dataDir. */
  openStore(dataDir: string, config?: PetrelConfig): Promise<Store>;
  startServer(options: ServerOptions): Promise<RunningServer>;
  /** The POP3/POP3S listeners (src/pop3/pop3-server.ts). */
  startPop3Server(options: Pop3ServerOptions): Promise<RunningPop3Server>;
  /** The LMTP listeners (src/lmtp/lmtp-server.ts). */
  startLmtpServer(options: LmtpServerOptions): Promise<RunningLmtpServer>;
  /** Creates a user with INBOX and the special-use mailboxes (src/store/provision.ts). */
  provisionUser(store: Store, name: string, passwordHash: string): Promise<unknown>;
  /** Resolves with the signal's name when the server should stop (SIGINT/SIGTERM). */
  shutdownSignal(): Promise<string>;
  /** The operating-system login name, used for the first account; null when unknown. */
  loginName(): string | null;
}

export function defaultEnvironment(): CliEnvironment {
  return {
    stdout: process.stdout,
    stderr: process.stderr,
    readStdin,
    env: process.env,
    cwd: process.cwd(),
    async openStore(dataDir, config) {
      const { openStore } = await import('../store/open-store.js');
      return openStore({ dataDir, store: config?.store ?? null, blobDir: config?.blobDir ?? null });
    },
    async startServer(options) {
      const { startServer } = await import('../server/server.js');
      return startServer(options);
    },
    async startPop3Server(options) {
      const { startPop3Server } = await import('../pop3/pop3-server.js');
      return startPop3Server(options);
    },
    async startLmtpServer(options) {
      const { startLmtpServer } = await import('../lmtp/lmtp-server.js');
      return startLmtpServer(options);
    },
    async provisionUser(store, name, passwordHash) {
      const { provisionUser } = await import('../store/provision.js');
      return provisionUser(store, name, passwordHash);
    },
    shutdownSignal,
    loginName() {
      try {
        return userInfo().username;
      } catch {
        return null;
      }
    },
  };
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
  return Buffer.concat(chunks).toString('utf8');
}

function shutdownSignal(): Promise<string> {
  return new Promise((resolve) => {
    const onSignal = (signal: NodeJS.Signals) => {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      resolve(signal);
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  });
}
