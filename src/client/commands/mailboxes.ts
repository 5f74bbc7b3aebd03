// Mailbox commands: LIST (RFC 9051 §6.3.9, §7.3.1; LIST-EXTENDED RFC 5258 selection and return options;
// LIST-STATUS RFC 5819; SPECIAL-USE RFC 6154 §2 attributes), LSUB (RFC 3501 §6.3.9, for servers without
// LIST-EXTENDED), STATUS (RFC 9051 §6.3.11, §7.3.2; HIGHESTMODSEQ RFC 7162 §3.1.6; SIZE RFC 8438; MAILBOXID
// RFC 8474), CREATE / DELETE / RENAME / SUBSCRIBE / UNSUBSCRIBE (§6.3.4–§6.3.8). Names are modified UTF-7
// on the wire unless UTF-8 is in effect (RFC 9051 §5.1.3, RFC 6855 §3).
import { decodeMailboxName } from '../../protocol/mutf7.js';
import type { ImapArg } from '../../protocol/types.js';
import { mbox, pattern as pat, plist, type CommandArg } from '../command-encoder.js';
import type { ClientConnection, Untagged } from '../connection.js';
import type { ListEntry, ListOptions, StatusItem, StatusResult } from '../types.js';
import { bytes, flagList, list, num, pairs, str } from '../values.js';

const SPECIAL_USE = new Set(['\\ALL', '\\ARCHIVE', '\\DRAFTS', '\\FLAGGED', '\\JUNK', '\\SENT', '\\TRASH']);

/** A mailbox name from the server → Unicode. */
export function decodeName(conn: ClientConnection, a: ImapArg | undefined): string {
  const raw = bytes(a)?.toString('utf8') ?? '';
  if (raw.toUpperCase() === 'INBOX') return 'INBOX';
  if (conn.utf8) return raw;
  try {
    return decodeMailboxName(raw);
  } catch {
    return raw;
  }
}

function parseListLine(conn: ClientConnection, args: ImapArg[]): ListEntry {
  const flags = flagList(args[0]);
  const delimiter = str(args[1]) ?? null;
  const path = decodeName(conn, args[2]);
  const upper = flags.map((f) => f.toUpperCase());
  const entry: ListEntry = {
    path,
    delimiter,
    flags,
    subscribed: upper.includes('\\SUBSCRIBED'),
    noSelect: upper.includes('\\NOSELECT') || upper.includes('\\NONEXISTENT'),
  };
  const su = flags.find((f) => SPECIAL_USE.has(f.toUpperCase()));
  if (su) entry.specialUse = su;
  return entry;
}

export function parseStatusData(conn: ClientConnection, args: ImapArg[]): StatusResult {
  const res: StatusResult = { path: decodeName(conn, args[0]) };
  const m = pairs(list(args[1]) ?? []);
  const set = (k: string, f: (n: number) => void) => {
    const n = num(m.get(k));
    if (n !== undefined) f(n);
  };
  set('MESSAGES', (n) => (res.messages = n));
  set('UIDNEXT', (n) => (res.uidNext = n));
  set('UIDVALIDITY', (n) => (res.uidValidity = n));
  set('UNSEEN', (n) => (res.unseen = n));
  set('RECENT', (n) => (res.recent = n));
  set('HIGHESTMODSEQ', (n) => (res.highestModSeq = n));
  set('SIZE', (n) => (res.size = n));
  set('DELETED', (n) => (res.deleted = n));
  const id = m.get('MAILBOXID');
  const idv = str(list(id)?.[0]);
  if (idv !== undefined) res.mailboxId = idv;
  return res;
}

/** Items the server can answer: HIGHESTMODSEQ needs CONDSTORE, SIZE needs STATUS=SIZE, MAILBOXID OBJECTID. */
function supportedItems(conn: ClientConnection, items: readonly StatusItem[]): StatusItem[] {
  const c = conn.capabilities;
  return items.filter((i) => {
    if (i === 'HIGHESTMODSEQ') return c.has('CONDSTORE') || c.has('QRESYNC');
    if (i === 'SIZE') return c.has('STATUS=SIZE') || c.has('IMAP4REV2');
    if (i === 'DELETED') return c.has('IMAP4REV2') && conn.enabled.has('IMAP4REV2');
    if (i === 'MAILBOXID') return c.has('OBJECTID');
    if (i === 'RECENT') return !conn.enabled.has('IMAP4REV2');
    return true;
  });
}

export const DEFAULT_STATUS: readonly StatusItem[] = ['MESSAGES', 'UIDNEXT', 'UIDVALIDITY', 'UNSEEN', 'HIGHESTMODSEQ'];

export async function status(conn: ClientConnection, path: string, items: readonly StatusItem[] = DEFAULT_STATUS): Promise<StatusResult> {
  const want = supportedItems(conn, items);
  let result: StatusResult | null = null;
  await conn.run('STATUS', [mbox(path), plist(want.length > 0 ? want : ['MESSAGES'])], {
    onUntagged: (u) => {
      if (u.kind !== 'data' || u.keyword !== 'STATUS' || result) return false;
      result = parseStatusData(conn, u.args);
      return true;
    },
  });
  return result ?? { path };
}

export async function listMailboxes(conn: ClientConnection, reference = '', pattern = '*', opts: ListOptions = {}): Promise<ListEntry[]> {
  const caps = conn.capabilities;
  const extended = caps.has('LIST-EXTENDED');
  const entries: ListEntry[] = [];
  const statuses = new Map<string, StatusResult>();
  const onUntagged = (u: Untagged): boolean => {
    if (u.kind !== 'data') return false;
    if (u.keyword === 'LIST' || u.keyword === 'LSUB') {
      const e = parseListLine(conn, u.args);
      if (u.keyword === 'LSUB') e.subscribed = true;
      entries.push(e);
      return true;
    }
    if (u.keyword === 'STATUS') {
      const s = parseStatusData(conn, u.args);
      statuses.set(s.path, s);
      return true;
    }
    return false;
  };
  const wantStatus = opts.status ? supportedItems(conn, opts.status) : [];
  if (extended) {
    const args: CommandArg[] = [];
    if (opts.subscribedOnly) args.push(plist(['SUBSCRIBED']));
    args.push(mbox(reference), pat(pattern));
    const ret: CommandArg[] = ['SUBSCRIBED', 'CHILDREN'];
    if (caps.has('SPECIAL-USE')) ret.push('SPECIAL-USE');
    if (wantStatus.length > 0 && caps.has('LIST-STATUS')) ret.push('STATUS', plist(wantStatus));
    args.push('RETURN', plist(ret));
    await conn.run('LIST', args, { onUntagged });
  } else if (opts.subscribedOnly) {
    await conn.run('LSUB', [mbox(reference), pat(pattern)], { onUntagged });
  } else {
    // Pipelined: LIST for the names, LSUB for the subscription flags (RFC 3501 §6.3.9).
    const subscribed = new Set<string>();
    const lsub = conn.run('LSUB', [mbox(reference), pat(pattern)], {
      onUntagged: (u) => {
        if (u.kind !== 'data' || u.keyword !== 'LSUB') return false;
        subscribed.add(parseListLine(conn, u.args).path);
        return true;
      },
    });
    const lst = conn.run('LIST', [mbox(reference), pat(pattern)], { onUntagged });
    await Promise.all([lsub, lst]);
    for (const e of entries) if (subscribed.has(e.path)) e.subscribed = true;
  }
  if (wantStatus.length > 0) {
    const missing = entries.filter((e) => !e.noSelect && !statuses.has(e.path));
    // Without LIST-STATUS: one STATUS per mailbox, all pipelined.
    const got = await Promise.all(missing.map((e) => status(conn, e.path, wantStatus).catch(() => null)));
    for (const s of got) if (s) statuses.set(s.path, s);
    for (const e of entries) {
      const s = statuses.get(e.path);
      if (s) e.status = s;
    }
  }
  return entries;
}

export async function createMailbox(conn: ClientConnection, path: string): Promise<void> {
  await conn.run('CREATE', [mbox(path)]);
}

export async function deleteMailbox(conn: ClientConnection, path: string): Promise<void> {
  await conn.run('DELETE', [mbox(path)]);
}

export async function renameMailbox(conn: ClientConnection, from: string, to: string): Promise<void> {
  await conn.run('RENAME', [mbox(from), mbox(to)]);
}

export async function subscribeMailbox(conn: ClientConnection, path: string, subscribe = true): Promise<void> {
  await conn.run(subscribe ? 'SUBSCRIBE' : 'UNSUBSCRIBE', [mbox(path)]);
}

/** NAMESPACE (RFC 2342 / RFC 9051 §6.3.10): the personal namespace prefix and delimiter. */
export async function namespace(conn: ClientConnection): Promise<{ prefix: string; delimiter: string | null } | null> {
  if (!conn.capabilities.has('NAMESPACE') && !conn.capabilities.has('IMAP4REV2')) return null;
  let out: { prefix: string; delimiter: string | null } | null = null;
  await conn.run('NAMESPACE', [], {
    onUntagged: (u) => {
      if (u.kind !== 'data' || u.keyword !== 'NAMESPACE') return false;
      const personal = list(list(u.args[0])?.[0]);
      if (personal) out = { prefix: decodeName(conn, personal[0]), delimiter: str(personal[1]) ?? null };
      return true;
    },
  });
  return out;
}
