// APPEND (RFC 9051 §6.3.12) with MULTIAPPEND (RFC 3502), APPENDLIMIT (RFC 7889) and APPENDUID (RFC 4315 §3).
// Message literals arrive as streams already written to the blob store by IngestSink; nothing is visible
// until store.append() commits all messages of the command at once.
import type { ImapArg } from '../../protocol/types.js';
import { parseDateTimeWithZone } from '../../protocol/dates.js';
import type { AppendItem, PreparedMessage } from '../../store/types.js';
import { StoreError } from '../../store/types.js';
import { LIMITS } from '../../protocol/limits.js';
import { parseFlagList } from '../args.js';
import { bad, no } from '../errors.js';
import { formatUidList, type IngestSink } from '../connection.js';
import { defineCommand } from '../session.js';

interface AppendMessageArgs {
  flags: string[];
  /** The date-time argument: instant and zone (kept, so FETCH INTERNALDATE gives back what was appended). */
  date: { ms: number; offsetMinutes: number } | undefined;
  literal: ImapArg;
}

export const appendCommands = [
  defineCommand({
    name: 'APPEND',
    states: ['authenticated', 'selected'],
    parse(r) {
      const mailbox = r.mailbox();
      const messages: AppendMessageArgs[] = [];
      while (!r.atEnd()) {
        let flags: string[] = [];
        let date: { ms: number; offsetMinutes: number } | undefined;
        if (r.isList()) flags = parseFlagList(r.list('flag list'));
        const p = r.peek();
        if (p && p.type === 'string' && !p.literal) {
          r.next('date');
          try {
            date = parseDateTimeWithZone(p.value.toString('latin1'));
          } catch {
            throw bad('Invalid date-time in APPEND');
          }
        }
        const literal = r.next('message literal');
        if (literal.type !== 'stream' && !(literal.type === 'string' && literal.literal)) {
          throw bad('APPEND needs the message as a literal');
        }
        messages.push({ flags, date, literal });
        // An implementation limit (RFC 3502 sets none): NO [LIMIT] (RFC 5530 §3), nothing is stored.
        if (messages.length > LIMITS.maxAppendMessages) throw no(`At most ${LIMITS.maxAppendMessages} messages in one APPEND`, 'LIMIT');
      }
      if (messages.length === 0) throw bad('APPEND needs a message');
      return { mailbox, messages };
    },
    async run(ctx, { mailbox, messages }) {
      const st = ctx.session.state;
      if (st.kind !== 'authenticated' && st.kind !== 'selected') throw bad('Not authenticated');
      const items: AppendItem[] = [];
      for (const m of messages) {
        let prepared: PreparedMessage;
        if (m.literal.type === 'stream') {
          try {
            prepared = await (m.literal.sink as IngestSink).prepared();
          } catch (err) {
            ctx.log.error({ err }, 'APPEND ingest failed');
            throw no('Could not store the message', 'SERVERBUG');
          }
        } else if (m.literal.type === 'string') {
          prepared = await ctx.store.prepare(m.literal.value);
        } else throw bad('APPEND needs the message as a literal');
        if (prepared.size === 0) throw no('Cannot store an empty message', 'CANNOT');
        if (prepared.size > ctx.server.settings.maxMessageSize) throw no('Message too big', 'TOOBIG');
        if (m.flags.includes('\\Recent')) throw bad('\\Recent cannot be set');
        items.push(
          m.date
            ? { message: prepared, flags: m.flags, internalDate: m.date.ms, internalDateOffset: m.date.offsetMinutes }
            : { message: prepared, flags: m.flags },
        );
      }
      const mbox = await ctx.store.getMailbox(st.user.id, mailbox);
      if (!mbox) throw no('Mailbox does not exist', 'TRYCREATE');
      let result;
      try {
        result = await ctx.store.append(mbox.id, items);
      } catch (err) {
        if (err instanceof StoreError && err.code === 'NONEXISTENT') throw no('Mailbox does not exist', 'TRYCREATE');
        throw err;
      }
      return {
        status: 'OK' as const,
        code: { name: 'APPENDUID', args: `${result.uidValidity} ${formatUidList(result.uids)}` },
        text: 'APPEND completed',
      };
    },
  }),
];
