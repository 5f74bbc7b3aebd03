// Runs selected-state command handlers (FETCH, STORE, SEARCH, COPY, MOVE) without a socket: a small
// in-memory Store (only the methods those commands use), a SelectedView built directly, and a
// CommandContext that encodes every response to wire text with the real encoder.
import { CommandFramer } from '../../src/protocol/command-framer.js';
import { encodeResponse, statusLine } from '../../src/protocol/encoder.js';
import { Atom, StreamData } from '../../src/protocol/types.js';
import type { ParsedCommand, ResponseValue } from '../../src/protocol/types.js';
import { indexMessage } from '../../src/mime/indexer.js';
import { ArgReader } from '../../src/server/args.js';
import { errorToResult, type TaggedResult } from '../../src/server/errors.js';
import { SelectedView } from '../../src/server/selected-view.js';
import type { CommandContext, CommandSpec, Session } from '../../src/server/session.js';
import type {
  ChangeSet,
  CopyResult,
  FlagOperation,
  MailboxRecord,
  MessageRecord,
  Store,
  StoreFlagsResult,
  UserRecord,
} from '../../src/store/types.js';
import { StoreError } from '../../src/store/types.js';

export interface TestMessage {
  raw: string | Buffer;
  flags?: string[];
  internalDate?: number;
  internalDateOffset?: number;
}

interface Box {
  rec: MailboxRecord;
  messages: MessageRecord[];
}

/** Just enough of Store for the selected-state commands; records which byte ranges were read. */
export class FakeStore {
  readonly blobs = new Map<string, Buffer>();
  readonly boxes = new Map<string, Box>();
  readonly reads: Array<{ blobId: string; start: number; end: number }> = [];
  readonly tombstones: Array<{ mailboxId: number; uid: number; modSeq: number }> = [];
  private nextMailboxId = 1;
  private nextBlob = 1;

  addMailbox(name: string): MailboxRecord {
    const rec: MailboxRecord = {
      id: this.nextMailboxId++,
      userId: 1,
      name,
      uidValidity: 1000 + this.nextMailboxId,
      uidNext: 1,
      highestModSeq: 1,
      specialUse: null,
      objectId: `M${name}`,
      createdAt: 0,
    };
    this.boxes.set(name, { rec, messages: [] });
    return rec;
  }

  addMessage(box: string, m: TestMessage): MessageRecord {
    const b = this.box(box);
    const data = Buffer.isBuffer(m.raw) ? m.raw : Buffer.from(m.raw.replace(/\r?\n/g, '\r\n'), 'utf8');
    const blobId = `blob${this.nextBlob++}`;
    this.blobs.set(blobId, data);
    const rec: MessageRecord = {
      uid: b.rec.uidNext++,
      modSeq: ++b.rec.highestModSeq,
      flags: m.flags ?? [],
      internalDate: m.internalDate ?? Date.UTC(2024, 0, 15, 12, 0, 0),
      internalDateOffset: m.internalDateOffset ?? 0,
      size: data.length,
      blobId,
      saveDate: 0,
      emailId: `E${blobId}`,
      threadId: null,
      mime: indexMessage(data),
    };
    b.messages.push(rec);
    return rec;
  }

  box(name: string): Box {
    const b = this.boxes.get(name);
    if (!b) throw new Error(`no mailbox ${name}`);
    return b;
  }

  private byId(id: number): Box {
    for (const b of this.boxes.values()) if (b.rec.id === id) return b;
    throw new StoreError('TRYCREATE', 'gone');
  }

  async getMailbox(_userId: number, name: string): Promise<MailboxRecord | null> {
    return this.boxes.get(name)?.rec ?? null;
  }

  async getMessages(mailboxId: number, uids: number[]): Promise<MessageRecord[]> {
    const want = new Set(uids);
    return this.byId(mailboxId).messages.filter((m) => want.has(m.uid)).map((m) => ({ ...m, flags: [...m.flags] }));
  }

  async storeFlags(mailboxId: number, uids: number[], op: FlagOperation, flags: string[], opts?: { unchangedSince?: number }): Promise<StoreFlagsResult> {
    const b = this.byId(mailboxId);
    const want = new Set(uids);
    const updated: StoreFlagsResult['updated'] = [];
    const modified: number[] = [];
    let modSeq = b.rec.highestModSeq;
    let bumped = false;
    for (const m of b.messages) {
      if (!want.has(m.uid)) continue;
      if (opts?.unchangedSince !== undefined && m.modSeq > opts.unchangedSince) {
        modified.push(m.uid);
        continue;
      }
      const lower = new Set(m.flags.map((f) => f.toLowerCase()));
      let next: string[];
      if (op === 'set') next = [...flags];
      else if (op === 'add') next = [...m.flags, ...flags.filter((f) => !lower.has(f.toLowerCase()))];
      else {
        const drop = new Set(flags.map((f) => f.toLowerCase()));
        next = m.flags.filter((f) => !drop.has(f.toLowerCase()));
      }
      const same = next.length === m.flags.length && next.every((f) => lower.has(f.toLowerCase()));
      if (same) continue;
      if (!bumped) {
        modSeq = ++b.rec.highestModSeq;
        bumped = true;
      }
      m.flags = next;
      m.modSeq = modSeq;
      updated.push({ uid: m.uid, flags: [...next], modSeq });
    }
    return { modSeq, updated, modified };
  }

  async copyMessages(src: number, uids: number[], dst: number): Promise<CopyResult> {
    const from = this.byId(src);
    const to = this.byId(dst);
    const want = new Set(uids);
    const mapping: Array<[number, number]> = [];
    const modSeq = ++to.rec.highestModSeq;
    for (const m of from.messages.filter((x) => want.has(x.uid))) {
      const uid = to.rec.uidNext++;
      to.messages.push({ ...m, uid, modSeq, flags: [...m.flags] });
      mapping.push([m.uid, uid]);
    }
    return { uidValidity: to.rec.uidValidity, mapping, modSeq };
  }

  async moveMessages(src: number, uids: number[], dst: number): Promise<CopyResult & { expunged: number[] }> {
    const res = await this.copyMessages(src, uids, dst);
    const from = this.byId(src);
    const gone = new Set(res.mapping.map((p) => p[0]));
    from.messages = from.messages.filter((m) => !gone.has(m.uid));
    const modSeq = ++from.rec.highestModSeq;
    for (const uid of gone) this.tombstones.push({ mailboxId: src, uid, modSeq });
    return { ...res, expunged: [...gone] };
  }

  async changesSince(mailboxId: number, since: number): Promise<ChangeSet> {
    const b = this.byId(mailboxId);
    return {
      highestModSeq: b.rec.highestModSeq,
      uidNext: b.rec.uidNext,
      changed: b.messages.filter((m) => m.modSeq > since).map(({ mime: _m, ...meta }) => meta),
      expunged: this.tombstones.filter((t) => t.mailboxId === mailboxId && t.modSeq > since).map((t) => t.uid).sort((x, y) => x - y),
      truncated: false,
    };
  }

  async readBlob(blobId: string, start: number, end: number): Promise<Buffer> {
    this.reads.push({ blobId, start, end });
    const b = this.blobs.get(blobId)!;
    return Buffer.from(b.subarray(start, Math.min(end, b.length)));
  }

  async *streamBlob(blobId: string, start: number, end: number): AsyncIterable<Buffer> {
    this.reads.push({ blobId, start, end });
    const b = this.blobs.get(blobId)!;
    const stop = Math.min(end, b.length);
    for (let i = start; i < stop; i += 7) yield Buffer.from(b.subarray(i, Math.min(i + 7, stop)));
  }

  asStore(): Store {
    return this as unknown as Store;
  }
}

export const USER: UserRecord = { id: 1, name: 'alice', passwordHash: '', createdAt: 0 };

/** A session with `box` selected; `recentFrom` marks \Recent uids (rev1). */
export function selectBox(store: FakeStore, box: string, opts: { enabled?: string[]; readOnly?: boolean; recentFrom?: number | null } = {}): { session: Session; view: SelectedView } {
  const b = store.box(box);
  const metas = b.messages.map(({ mime: _mime, ...meta }) => ({ ...meta, flags: [...meta.flags] }));
  const view = new SelectedView({ ...b.rec }, opts.readOnly ?? false, metas, opts.recentFrom ?? null);
  const session: Session = {
    state: { kind: 'selected', user: USER, view },
    enabled: new Set(opts.enabled ?? []),
    secure: false,
    remoteAddress: '127.0.0.1',
    isLoopback: true,
    searchResult: [],
    clientId: null,
  };
  return { session, view };
}

/** Tokenizes one command line with the real framer. */
export function parseCommand(line: string | Buffer): ParsedCommand {
  const framer = new CommandFramer();
  // A Buffer carries octets that are not UTF-8 (e.g. a literal in another charset).
  const evs = framer.push(Buffer.concat([typeof line === 'string' ? Buffer.from(line, 'utf8') : line, Buffer.from('\r\n')]));
  for (const ev of evs) if (ev.kind === 'command') return ev.command;
  throw new Error(`not a command: ${line} → ${JSON.stringify(evs)}`);
}

async function encodeToText(values: ResponseValue[], utf8: boolean): Promise<string> {
  const parts: Buffer[] = [];
  for (const c of encodeResponse(values, { utf8 })) {
    if (c instanceof StreamData) {
      let n = 0;
      for await (const chunk of c.open()) {
        parts.push(chunk);
        n += chunk.length;
      }
      if (n !== c.size) throw new Error(`stream produced ${n} bytes, declared ${c.size}`);
    } else parts.push(c);
  }
  return Buffer.concat(parts).toString('utf8');
}

/**
 * Runs `line` (e.g. 'A1 UID FETCH 1:* FLAGS') against the registry entries in `specs` and returns the
 * wire text of everything sent (untagged lines and the tagged status).
 */
export async function run(specs: CommandSpec[], store: FakeStore, session: Session, line: string | Buffer): Promise<{ text: string; lines: string[]; result: TaggedResult }> {
  const cmd = parseCommand(line);
  const spec = specs.find((s) => s.name === cmd.name);
  if (!spec) throw new Error(`no spec for ${cmd.name}`);
  const out: string[] = [];
  const utf8 = session.enabled.has('IMAP4REV2');
  const ctx: CommandContext = {
    tag: cmd.tag,
    name: cmd.name,
    session,
    store: store.asStore(),
    server: {} as CommandContext['server'],
    log: { debug() {}, info() {}, warn() {}, error() {} },
    async untagged(values) {
      out.push(await encodeToText([new Atom('*'), ...values], utf8));
    },
    async untaggedBatch(list) {
      for (const values of list) out.push(await encodeToText([new Atom('*'), ...values], utf8));
    },
    async untaggedStatus(status, code, text) {
      out.push(statusLine('*', status, code, text).toString('utf8'));
    },
    async continuation() {},
    async readLine() {
      return null;
    },
    async waitForChangeOrLine() {
      return 'closed';
    },
    async flushUpdates(allowExpunge) {
      const st = session.state;
      if (st.kind !== 'selected') return;
      const up = st.view.takeUpdates(allowExpunge, null);
      for (const seq of up.expunged) out.push(`* ${seq} EXPUNGE\r\n`);
      if (up.exists !== null) out.push(`* ${up.exists} EXISTS\r\n`);
    },
    async startTls() {},
    setState(state) {
      session.state = state;
    },
  };
  let result: TaggedResult;
  try {
    const args = spec.parse(new ArgReader(cmd.args, utf8), session);
    const r = await spec.run(ctx, args);
    result = r === undefined ? { status: 'OK', code: null, text: `${cmd.name} completed` } : typeof r === 'string' ? { status: 'OK', code: null, text: r } : r;
  } catch (err) {
    result = errorToResult(err, (e) => {
      throw e;
    });
  }
  out.push(statusLine(cmd.tag, result.status, result.code, result.text).toString('utf8'));
  return { text: out.join(''), lines: out.map((l) => l.replace(/\r\n$/, '')), result };
}
