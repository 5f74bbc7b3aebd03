// STORE / UID STORE: RFC 9051 §6.4.6 (FLAGS, +FLAGS, -FLAGS, .SILENT; FETCH responses with the new
// flags), RFC 7162 §3.1.3 (UNCHANGEDSINCE modifier, MODIFIED response code listing the messages that were
// left alone because they changed after the given mod-sequence; MODSEQ in the FETCH responses).
import { plist, type CommandArg } from '../command-encoder.js';
import { expandUidSet, type ClientConnection, type Untagged } from '../connection.js';
import type { Range, StoreOptions, StoreResult } from '../types.js';
import { str } from '../values.js';
import { parseFetchResponse } from './fetch.js';
import { formatRange } from './util.js';

export async function storeFlags(conn: ClientConnection, range: Range, flags: readonly string[], opts: StoreOptions = {}): Promise<StoreResult> {
  const name = opts.uid ? 'UID STORE' : 'STORE';
  const args: CommandArg[] = [formatRange(range)];
  if (opts.unchangedSince !== undefined) args.push(plist(['UNCHANGEDSINCE', opts.unchangedSince]));
  const mode = opts.mode ?? 'add';
  args.push(`${mode === 'add' ? '+' : mode === 'remove' ? '-' : ''}FLAGS${opts.silent ? '.SILENT' : ''}`);
  args.push(plist([...flags]));
  const updated: StoreResult['updated'] = [];
  const onUntagged = (u: Untagged): boolean => {
    if (u.kind !== 'data' || u.keyword !== 'FETCH' || u.number === undefined) return false;
    const m = parseFetchResponse(u.number, u.args);
    const e: { seq: number; uid?: number; flags?: string[]; modSeq?: number } = { seq: m.seq };
    if (m.uid !== undefined) e.uid = m.uid;
    if (m.flags) e.flags = m.flags;
    if (m.modSeq !== undefined) e.modSeq = m.modSeq;
    (updated as Array<typeof e>).push(e);
    return true;
  };
  const done = await conn.run(name, args, { onUntagged });
  const modified = done.code?.name === 'MODIFIED' ? expandUidSet(str(done.code.args[0]) ?? '') : [];
  return { modified, updated };
}
