// SELECT / EXAMINE (RFC 9051 §6.3.2, §6.3.3, §7.3.1 FLAGS, §7.4.1 EXISTS, §7.1 codes PERMANENTFLAGS,
// UIDVALIDITY, UIDNEXT, UNSEEN, READ-WRITE/READ-ONLY), RFC 7162 §3.1.8 (CONDSTORE parameter, HIGHESTMODSEQ,
// NOMODSEQ), §3.2.5 (QRESYNC parameter: VANISHED (EARLIER) and FETCH of changed messages), §3.2.11 (CLOSED),
// RFC 8474 §4 (MAILBOXID); CLOSE (§6.4.1) and UNSELECT (RFC 3691).
import { plist, mbox, type CommandArg } from '../command-encoder.js';
import { parseVanished, type ClientConnection, type Untagged } from '../connection.js';
import { ImapError } from '../errors.js';
import type { ChangedMessage, SelectOptions, SelectResult } from '../types.js';
import { flagList, list, num, str } from '../values.js';
import { parseFetchResponse } from './fetch.js';
import { formatRange } from './util.js';

export async function selectMailbox(conn: ClientConnection, path: string, opts: SelectOptions = {}): Promise<SelectResult> {
  const args: CommandArg[] = [mbox(path)];
  if (opts.qresync) {
    if (!conn.enabled.has('QRESYNC')) throw new ImapError('QRESYNC is not enabled on this connection');
    const q = opts.qresync;
    const inner: CommandArg[] = [q.uidValidity, q.modSeq];
    if (q.knownUids !== undefined) inner.push(formatRange(q.knownUids));
    if (q.seqMatch) {
      if (q.knownUids === undefined) inner.push('1:*');
      inner.push(plist([formatRange(q.seqMatch.seqs), formatRange(q.seqMatch.uids)]));
    }
    args.push(plist(['QRESYNC', plist(inner)]));
  } else if (opts.condstore && conn.capabilities.has('CONDSTORE')) {
    args.push(plist(['CONDSTORE']));
  }
  const r: SelectResult = {
    path,
    exists: 0,
    uidValidity: 0,
    uidNext: 0,
    noModSeq: false,
    flags: [],
    permanentFlags: [],
    readOnly: opts.readOnly === true,
  };
  let vanished: number[] | undefined;
  let changed: ChangedMessage[] | undefined;
  const onUntagged = (u: Untagged): boolean => {
    if (u.kind === 'status') {
      const c = u.code;
      if (!c) return false;
      switch (c.name) {
        case 'CLOSED':
          // What came before belonged to the previously selected mailbox (RFC 7162 §3.2.11).
          return true;
        case 'UIDVALIDITY':
          r.uidValidity = num(c.args[0]) ?? 0;
          return true;
        case 'UIDNEXT':
          r.uidNext = num(c.args[0]) ?? 0;
          return true;
        case 'UNSEEN': {
          const n = num(c.args[0]);
          if (n !== undefined) r.unseen = n;
          return true;
        }
        case 'PERMANENTFLAGS':
          r.permanentFlags = flagList(c.args[0]);
          return true;
        case 'HIGHESTMODSEQ': {
          const n = num(c.args[0]);
          if (n !== undefined) r.highestModSeq = n;
          return true;
        }
        case 'NOMODSEQ':
          r.noModSeq = true;
          return true;
        case 'MAILBOXID': {
          const id = str(list(c.args[0])?.[0]) ?? str(c.args[0]);
          if (id !== undefined) r.mailboxId = id;
          return true;
        }
        default:
          return false;
      }
    }
    switch (u.keyword) {
      case 'FLAGS':
        r.flags = flagList(u.args[0]);
        return true;
      case 'EXISTS':
        r.exists = u.number ?? 0;
        return true;
      case 'RECENT':
        r.recent = u.number ?? 0;
        return true;
      case 'VANISHED': {
        const v = parseVanished(u.args);
        if (!v.earlier) return false;
        (vanished ??= []).push(...v.uids);
        return true;
      }
      case 'FETCH': {
        if (!opts.qresync || u.number === undefined) return false;
        const m = parseFetchResponse(u.number, u.args);
        if (m.uid === undefined) return false;
        const c: ChangedMessage = { uid: m.uid, seq: m.seq };
        if (m.flags) c.flags = m.flags;
        if (m.modSeq !== undefined) c.modSeq = m.modSeq;
        (changed ??= []).push(c);
        return true;
      }
      default:
        return false;
    }
  };
  conn.mailbox = null;
  await conn.run(opts.readOnly ? 'EXAMINE' : 'SELECT', args, {
    onUntagged,
    onTagged: (status, code) => {
      if (status !== 'OK') return;
      if (code?.name === 'READ-ONLY') r.readOnly = true;
      else if (code?.name === 'READ-WRITE') r.readOnly = false;
      if (opts.qresync) {
        r.vanished = vanished ?? [];
        r.changed = changed ?? [];
      }
      // Set now, not when the promise settles: responses to commands pipelined after SELECT are
      // handled before then and must update this mailbox.
      conn.mailbox = {
        path,
        readOnly: r.readOnly,
        exists: r.exists,
        uidValidity: r.uidValidity,
        uidNext: r.uidNext,
        flags: r.flags,
        permanentFlags: r.permanentFlags,
        ...(r.highestModSeq !== undefined ? { highestModSeq: r.highestModSeq } : {}),
      };
    },
  });
  return r;
}

/** CLOSE: expunges \Deleted messages (unless read-only) and deselects (RFC 9051 §6.4.1). */
export async function closeMailbox(conn: ClientConnection): Promise<void> {
  await conn.run('CLOSE', []);
  conn.mailbox = null;
}

/** UNSELECT: deselects without expunging (RFC 3691); falls back to nothing when unsupported. */
export async function unselectMailbox(conn: ClientConnection): Promise<void> {
  if (!conn.capabilities.has('UNSELECT') && !conn.capabilities.has('IMAP4REV2')) throw new ImapError('The server has no UNSELECT');
  await conn.run('UNSELECT', []);
  conn.mailbox = null;
}
