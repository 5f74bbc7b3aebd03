// APPEND (RFC 9051 §6.3.12: flags, date-time, message literal; TRYCREATE), APPENDUID (RFC 4315 §3),
// literals per RFC 9051 §4.3 / RFC 7888 (LITERAL+ sends the message without waiting for "+").
import { formatInternalDate } from '../../protocol/dates.js';
import { mbox, plist, qstr, type CommandArg } from '../command-encoder.js';
import type { ClientConnection } from '../connection.js';
import type { AppendContent, AppendOptions, AppendResult } from '../types.js';
import { num } from '../values.js';

export async function appendMessage(conn: ClientConnection, path: string, content: AppendContent, opts: AppendOptions = {}): Promise<AppendResult> {
  const args: CommandArg[] = [mbox(path)];
  if (opts.flags && opts.flags.length > 0) args.push(plist([...opts.flags]));
  if (opts.internalDate) {
    const ms = opts.internalDate.getTime();
    args.push(qstr(formatInternalDate(ms, opts.internalDateOffset ?? -opts.internalDate.getTimezoneOffset())));
  }
  if (typeof content === 'string' || Buffer.isBuffer(content)) {
    args.push({ kind: 'literal', value: typeof content === 'string' ? Buffer.from(content, 'utf8') : content });
  } else {
    args.push({ kind: 'stream', size: content.size, source: content.stream });
  }
  const done = await conn.run('APPEND', args);
  const res: AppendResult = {};
  if (done.code?.name === 'APPENDUID') {
    const v = num(done.code.args[0]);
    const uid = num(done.code.args[1]);
    if (v !== undefined) res.uidValidity = v;
    if (uid !== undefined) res.uid = uid;
  }
  return res;
}
