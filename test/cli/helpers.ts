// Helpers for running the `petrel` CLI in-process: captured output, a small in-memory store covering
// the account and mailbox operations the CLI uses, and a fake server.
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CliEnvironment } from '../../src/cli/environment.js';
import { main } from '../../src/cli/main.js';
import type { LmtpServerOptions, RunningLmtpServer } from '../../src/lmtp/lmtp-server.js';
import type { Pop3ServerOptions, RunningPop3Server } from '../../src/pop3/pop3-server.js';
import type { RunningServer, ServerOptions } from '../../src/server/server.js';
import { StoreError, type MailboxRecord, type SpecialUse, type Store, type UserRecord } from '../../src/store/types.js';

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

export async function tempDir(): Promise<string> {
  return mkdtemp(join(tmpdir(), 'petrel-cli-'));
}

/** Runs `petrel ...argv` in-process with the given environment overrides. */
export async function run(argv: string[], overrides: Partial<CliEnvironment> = {}): Promise<RunResult> {
  let stdout = '';
  let stderr = '';
  const code = await main(argv, {
    stdout: { write: (s: string) => (stdout += s) },
    stderr: { write: (s: string) => (stderr += s) },
    env: {},
    readStdin: async () => {
      throw new Error('stdin not provided');
    },
    shutdownSignal: () => new Promise(() => {}),
    loginName: () => 'tester',
    // Never real POP3/LMTP listeners in-process unless a test asks for them.
    startPop3Server: (o) => fakeServer().startPop3(o),
    startLmtpServer: (o) => fakeServer().startLmtp(o),
    ...overrides,
  });
  return { code, stdout, stderr };
}

/** In-memory stand-in for the parts of Store the CLI uses; one instance per data directory. */
export class MemoryStore {
  users = new Map<string, UserRecord>();
  mailboxes: MailboxRecord[] = [];
  subscriptions = new Map<number, Set<string>>();
  closed = 0;
  private nextId = 1;

  asStore(): Store {
    return this as unknown as Store;
  }

  async close(): Promise<void> {
    this.closed++;
  }
  async createUser(name: string, passwordHash: string): Promise<UserRecord> {
    if (this.users.has(name)) throw new StoreError('ALREADYEXISTS', 'user exists');
    const user = { id: this.nextId++, name, passwordHash, createdAt: Date.UTC(2025, 0, 2, 3, 4, 5) };
    this.users.set(name, user);
    return user;
  }
  async getUser(name: string): Promise<UserRecord | null> {
    return this.users.get(name) ?? null;
  }
  async listUsers(): Promise<UserRecord[]> {
    return [...this.users.values()];
  }
  async setPassword(name: string, passwordHash: string): Promise<void> {
    const u = this.users.get(name);
    if (!u) throw new StoreError('NONEXISTENT', 'no user');
    u.passwordHash = passwordHash;
  }
  async deleteUser(name: string): Promise<void> {
    const u = this.users.get(name);
    if (!u) throw new StoreError('NONEXISTENT', 'no user');
    this.users.delete(name);
    this.mailboxes = this.mailboxes.filter((m) => m.userId !== u.id);
  }
  async listMailboxes(userId: number): Promise<MailboxRecord[]> {
    return this.mailboxes.filter((m) => m.userId === userId);
  }
  async getMailbox(userId: number, name: string): Promise<MailboxRecord | null> {
    return this.mailboxes.find((m) => m.userId === userId && m.name === name) ?? null;
  }
  async createMailbox(userId: number, name: string, opts?: { specialUse?: SpecialUse | null }): Promise<MailboxRecord> {
    if (await this.getMailbox(userId, name)) throw new StoreError('ALREADYEXISTS', 'exists');
    const id = this.nextId++;
    const m: MailboxRecord = {
      id,
      userId,
      name,
      uidValidity: id,
      uidNext: 1,
      highestModSeq: 0,
      specialUse: opts?.specialUse ?? null,
      objectId: `m${id}`,
      createdAt: 0,
    };
    this.mailboxes.push(m);
    return m;
  }
  async deleteMailbox(userId: number, name: string): Promise<void> {
    if (name === 'INBOX') throw new StoreError('NOPERM', 'INBOX');
    const before = this.mailboxes.length;
    this.mailboxes = this.mailboxes.filter((m) => !(m.userId === userId && m.name === name));
    if (this.mailboxes.length === before) throw new StoreError('NONEXISTENT', 'no mailbox');
  }
  async setSubscribed(userId: number, name: string, subscribed: boolean): Promise<void> {
    const set = this.subscriptions.get(userId) ?? new Set<string>();
    if (subscribed) set.add(name);
    else set.delete(name);
    this.subscriptions.set(userId, set);
  }
  async listSubscriptions(userId: number): Promise<string[]> {
    return [...(this.subscriptions.get(userId) ?? [])];
  }
  async mailboxStatus(mailboxId: number) {
    return { messages: mailboxId % 3, unseen: 0, deleted: 0, size: 100 * (mailboxId % 3), uidNext: 1, uidValidity: mailboxId, highestModSeq: 0, recent: 0 };
  }
}

/** A provisionUser equivalent for MemoryStore: INBOX and the special-use mailboxes, subscribed. */
export async function memoryProvision(store: Store, name: string, hash: string): Promise<UserRecord> {
  const user = await store.createUser(name, hash);
  const boxes: Array<[string, SpecialUse | null]> = [
    ['INBOX', null],
    ['Drafts', '\\Drafts'],
    ['Sent', '\\Sent'],
    ['Trash', '\\Trash'],
    ['Junk', '\\Junk'],
    ['Archive', '\\Archive'],
  ];
  for (const [box, use] of boxes) {
    await store.createMailbox(user.id, box, { specialUse: use });
    await store.setSubscribed(user.id, box, true);
  }
  return user;
}

/** Overrides that give every data directory its own MemoryStore. */
export function memoryEnvironment(): { stores: Map<string, MemoryStore>; overrides: Partial<CliEnvironment> } {
  const stores = new Map<string, MemoryStore>();
  return {
    stores,
    overrides: {
      openStore: async (dir: string) => {
        let s = stores.get(dir);
        if (!s) stores.set(dir, (s = new MemoryStore()));
        return s.asStore();
      },
      provisionUser: memoryProvision,
    },
  };
}

/** Stand-ins for the IMAP, POP3 and LMTP listeners that record their options. */
export function fakeServer() {
  const state = {
    calls: [] as ServerOptions[],
    pop3Calls: [] as Pop3ServerOptions[],
    lmtpCalls: [] as LmtpServerOptions[],
    /** Listeners closed, over all three kinds. */
    closed: 0,
    async start(o: ServerOptions): Promise<RunningServer> {
      state.calls.push(o);
      return {
        imapPort: o.imapPort === 0 ? 40001 : o.imapPort,
        imapsPort: o.imapsPort === 0 ? 40002 : o.imapsPort,
        connections: () => 0,
        close: async () => {
          state.closed++;
        },
      };
    },
    async startPop3(o: Pop3ServerOptions): Promise<RunningPop3Server> {
      state.pop3Calls.push(o);
      return {
        port: o.port === 0 ? 40003 : o.port,
        tlsPort: o.tlsPort === 0 ? 40004 : o.tlsPort,
        connections: () => 0,
        close: async () => {
          state.closed++;
        },
      };
    },
    async startLmtp(o: LmtpServerOptions): Promise<RunningLmtpServer> {
      state.lmtpCalls.push(o);
      return {
        port: o.port === 0 ? 40005 : o.port,
        socketPath: o.socketPath ?? null,
        connections: () => 0,
        close: async () => {
          state.closed++;
        },
      };
    },
    /** CliEnvironment overrides that use these stand-ins. */
    overrides(): Partial<CliEnvironment> {
      return {
        startServer: (o) => state.start(o),
        startPop3Server: (o) => state.startPop3(o),
        startLmtpServer: (o) => state.startLmtp(o),
      };
    },
  };
  return state;
}
