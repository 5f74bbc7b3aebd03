// COPY / UID COPY (RFC 9051 §6.4.7), MOVE / UID MOVE (RFC 6851 §3: COPYUID in an untagged OK before the
// expunges, §3.3 fallback COPY + STORE \Deleted + UID EXPUNGE), COPYUID (RFC 4315 §3), EXPUNGE (§6.4.3:
// EXPUNGE responses; VANISHED under QRESYNC, RFC 7162 §3.2.10) and UID EXPUNGE (RFC 4315 §2.1).
import { mbox, plist } from '../command-encoder.js';
import { parseVanished, type ClientConnection, type Untagged } from '../connection.js';
import { ImapError } from '../errors.js';
import type { CopyResult, ExpungeResult, Range } from '../types.js';
import { formatRange, parseCopyUid } from './util.js';

function copyResult(code: Parameters<typeof parseCopyUid>[0]): CopyResult {
  const c = parseCopyUid(code);
  return c ? { uidValidity: c.uidValidity, uidMap: c.uidMap } : {};
}

export async function copyMessages(conn: ClientConnection, range: Range, dest: string, opts: { uid?: boolean } = {}): Promise<CopyResult> {
  const done = await conn.run(opts.uid ? 'UID COPY' : 'COPY', [formatRange(range), mbox(dest)]);
  return copyResult(done.code);
}

/** Records EXPUNGE / VANISHED responses without consuming them (they still update state and emit events). */
function expungeRecorder(res: ExpungeResult): (u: Untagged) => boolean {
  return (u) => {
    if (u.kind !== 'data') return false;
    if (u.keyword === 'EXPUNGE' && u.number !== undefined) res.expungedSeqs.push(u.number);
    else if (u.keyword === 'VANISHED') {
      const v = parseVanished(u.args);
      if (!v.earlier) res.vanishedUids.push(...v.uids);
    }
    return false;
  };
}

export async function moveMessages(conn: ClientConnection, range: Range, dest: string, opts: { uid?: boolean } = {}): Promise<CopyResult> {
  const caps = conn.capabilities;
  if (caps.has('MOVE') || caps.has('IMAP4REV2')) {
    let result: CopyResult = {};
    const done = await conn.run(opts.uid ? 'UID MOVE' : 'MOVE', [formatRange(range), mbox(dest)], {
      onUntagged: (u) => {
        if (u.kind !== 'status' || u.code?.name !== 'COPYUID') return false;
        result = copyResult(u.code);
        return true;
      },
    });
    // Some servers put COPYUID on the tagged OK instead.
    if (!result.uidMap) result = { ...result, ...copyResult(done.code) };
    return result;
  }
  if (!opts.uid || !caps.has('UIDPLUS')) {
    throw new ImapError('MOVE needs the MOVE extension, or UIDPLUS and a UID range (an EXPUNGE would remove other \\Deleted messages)');
  }
  const set = formatRange(range);
  const copied = await copyMessages(conn, set, dest, { uid: true });
  await conn.run('UID STORE', [set, '+FLAGS.SILENT', plist(['\\Deleted'])]);
  await uidExpunge(conn, set);
  return copied;
}

export async function expunge(conn: ClientConnection): Promise<ExpungeResult> {
  const res: ExpungeResult = { expungedSeqs: [], vanishedUids: [] };
  await conn.run('EXPUNGE', [], { onUntagged: expungeRecorder(res) });
  return res;
}

export async function uidExpunge(conn: ClientConnection, uids: Range): Promise<ExpungeResult> {
  if (!conn.capabilities.has('UIDPLUS') && !conn.capabilities.has('IMAP4REV2')) throw new ImapError('UID EXPUNGE needs UIDPLUS');
  const res: ExpungeResult = { expungedSeqs: [], vanishedUids: [] };
  await conn.run('UID EXPUNGE', [formatRange(uids)], { onUntagged: expungeRecorder(res) });
  return res;
}
