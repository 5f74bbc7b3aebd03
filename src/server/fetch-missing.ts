// Partial messages of a replica (docs/sync.md "Partial messages", src/mime/partial.ts): which FETCH items
// need bytes a partly downloaded message does not hold (RFC 9051 §6.4.5 BODY[section], RFC822, RFC822.TEXT;
// RFC 3516 BINARY[section], BINARY.SIZE), and getting them through the server's fetchMissing hook (the
// sync engine downloads the message and calls Store.replaceContent). When there is no hook, or it fails,
// the command ends NO [UNAVAILABLE] (RFC 5530 §3: "Temporary failure because a subsystem is down").
import { isPartial, partialSectionAvailable } from '../mime/partial.js';
import type { MimeIndex } from '../mime/types.js';
import type { MessageRecord } from '../store/types.js';
import type { FetchRequest } from './fetch-render.js';
import type { CommandContext } from './session.js';

/** What the hook is told: the message whose full content the session needs. */
export interface FetchMissingRequest {
  userName: string;
  mailboxId: number;
  mailboxName: string;
  uid: number;
  /** Aborted when the client's connection closes. */
  signal?: AbortSignal;
}

/**
 * Fetches a partial message's full content and stores it (Store.replaceContent), resolving once it is
 * there; rejects (with a reason shown to the client) when it cannot, e.g. the remote is unreachable.
 */
export type FetchMissingHook = (req: FetchMissingRequest) => Promise<void>;

/** Concurrent hook calls per FETCH batch. */
const FILL_CONCURRENCY = 4;

/** Hook calls in progress per server, by "mailboxId/uid": sessions asking for the same message share one. */
const inFlight = new WeakMap<object, Map<string, Promise<void>>>();

function shared(ctx: CommandContext, key: string, start: () => Promise<void>): Promise<void> {
  let running = inFlight.get(ctx.server);
  if (!running) {
    running = new Map();
    inFlight.set(ctx.server, running);
  }
  const existing = running.get(key);
  if (existing) return existing;
  const p = start().finally(() => running.delete(key));
  running.set(key, p);
  return p;
}

/** The FETCH items that can need bytes a partial message does not hold. */
const CONTENT_ITEMS = new Set<string>(['RFC822', 'RFC822.TEXT', 'BODY[]', 'BINARY[]', 'BINARY.SIZE']);

/** True when rendering `req` for a message with this index needs bytes it does not hold. */
export function fetchNeedsMissing(req: FetchRequest, mime: MimeIndex): boolean {
  if (!isPartial(mime)) return false;
  for (const it of req.items) {
    switch (it.kind) {
      case 'RFC822':
      case 'RFC822.TEXT':
        return true;
      case 'BODY[]':
        if (!partialSectionAvailable(mime, it.section)) return true;
        break;
      case 'BINARY[]':
      case 'BINARY.SIZE':
        if (!partialSectionAvailable(mime, it.section ?? { path: it.path })) return true;
        break;
      default:
        break;
    }
  }
  return false;
}

export interface FillResult {
  /** UIDs whose content could not be had; the caller leaves them out of the response. */
  failed: number[];
  /** Why, for the tagged NO (the first failure's reason). */
  reason: string | null;
}

/**
 * Brings in the full content of every record of `records` that `req` needs and does not hold, and replaces
 * those records in the map with the re-read ones. Records of other messages are not touched.
 */
export async function fillMissing(
  ctx: CommandContext,
  mailboxId: number,
  req: FetchRequest,
  records: Map<number, MessageRecord>,
): Promise<FillResult> {
  // Items answered from metadata never need content: do not even parse the stored indexes (lazy JSON).
  if (!req.items.some((it) => CONTENT_ITEMS.has(it.kind))) return { failed: [], reason: null };
  const todo = [...records.values()].filter((r) => fetchNeedsMissing(req, r.mime)).map((r) => r.uid);
  if (todo.length === 0) return { failed: [], reason: null };
  const hook = ctx.server.fetchMissing;
  const st = ctx.session.state;
  if (!hook || st.kind !== 'selected') {
    return { failed: todo, reason: 'Message content is not downloaded to this replica and no source is configured to fetch it' };
  }
  const mailboxName = (await ctx.store.getMailboxById(mailboxId))?.name ?? st.view.mailbox.name;
  const failed: number[] = [];
  let reason: string | null = null;
  const one = async (uid: number): Promise<void> => {
    try {
      await shared(ctx, `${mailboxId}/${uid}`, () =>
        hook({ userName: st.user.name, mailboxId, mailboxName, uid, ...(ctx.signal ? { signal: ctx.signal } : {}) }),
      );
      const [fresh] = await ctx.store.getMessages(mailboxId, [uid]);
      if (!fresh) {
        records.delete(uid); // expunged meanwhile: skipped like any expunged message
        return;
      }
      if (fetchNeedsMissing(req, fresh.mime)) throw new Error('the content is still incomplete');
      records.set(uid, fresh);
    } catch (err) {
      failed.push(uid);
      const why = err instanceof Error && err.message ? err.message : String(err);
      reason ??= `Message content is not downloaded to this replica and fetching it failed: ${why.replace(/[\r\n]+/g, ' ').slice(0, 200)}`;
      ctx.log.warn({ err, uid, mailboxId }, 'fetching missing message content failed');
    }
  };
  for (let i = 0; i < todo.length; i += FILL_CONCURRENCY) {
    await Promise.all(todo.slice(i, i + FILL_CONCURRENCY).map(one));
  }
  failed.sort((a, b) => a - b);
  return { failed, reason };
}
