// Mailbox commands of the authenticated state: CREATE, DELETE, RENAME (RFC 9051 §6.3.4-6.3.6), SUBSCRIBE,
// UNSUBSCRIBE (§6.3.7-8), LIST (§6.3.9, LIST-EXTENDED RFC 5258, LIST-STATUS RFC 5819, SPECIAL-USE RFC 6154),
// LSUB (RFC 3501 §6.3.9), NAMESPACE (RFC 2342 / RFC 9051 §6.3.10), STATUS (§6.3.11, STATUS=SIZE RFC 8438,
// HIGHESTMODSEQ RFC 7162 §3.1.7, MAILBOXID RFC 8474 §4.3, APPENDLIMIT RFC 7889 §3.1-3.2); CREATE's MAILBOXID
// response code (RFC 8474 §4.1).
import { Atom } from '../../protocol/types.js';
import type { ImapArg, ResponseValue } from '../../protocol/types.js';
import type { MailboxRecord, Store } from '../../store/types.js';
import { StoreError } from '../../store/types.js';
import { LIMITS } from '../../protocol/limits.js';
import { enableCondstore } from '../condstore.js';
import { bad, no } from '../errors.js';
import { ancestors, compilePattern, joinReference, mailboxToWire, SEPARATOR, validateNewName } from '../mailbox-names.js';
import { defineCommand, isRev2, sessionUtf8, type CommandContext, type Session } from '../session.js';

function userOf(s: Session) {
  if (s.state.kind !== 'authenticated' && s.state.kind !== 'selected') throw bad('Not authenticated');
  return s.state.user;
}

const AUTH_STATES = ['authenticated', 'selected'] as const;

/** Creates `name` and any missing superior levels (RFC 9051 §6.3.4). */
export async function createWithParents(store: Store, userId: number, name: string): Promise<MailboxRecord> {
  for (const parent of ancestors(name)) {
    if (!(await store.getMailbox(userId, parent))) {
      try {
        await store.createMailbox(userId, parent);
      } catch (err) {
        if (!(err instanceof StoreError && err.code === 'ALREADYEXISTS')) throw err;
      }
    }
  }
  return store.createMailbox(userId, name);
}

export const STATUS_ITEMS = ['MESSAGES', 'UIDNEXT', 'UIDVALIDITY', 'UNSEEN', 'DELETED', 'SIZE', 'RECENT', 'HIGHESTMODSEQ', 'MAILBOXID', 'APPENDLIMIT'];

function parseStatusItems(items: ImapArg[], session: Session): string[] {
  if (items.length === 0) throw bad('STATUS needs at least one item');
  const out: string[] = [];
  for (const it of items) {
    if (it.type !== 'atom') throw bad('Invalid STATUS item');
    const name = it.value.toUpperCase();
    if (!STATUS_ITEMS.includes(name)) throw bad(`Unknown STATUS item ${it.value.slice(0, 30)}`);
    if (name === 'RECENT' && isRev2(session)) throw bad('RECENT is not an IMAP4rev2 STATUS item');
    if (!out.includes(name)) out.push(name);
  }
  return out;
}

export async function statusValues(store: Store, mailbox: MailboxRecord, items: string[], appendLimit: number): Promise<ResponseValue[]> {
  const st = await store.mailboxStatus(mailbox.id);
  const out: ResponseValue[] = [];
  for (const item of items) {
    if (item === 'MAILBOXID') {
      // RFC 8474 §4.3: "MAILBOXID" SP "(" objectid ")"
      out.push(new Atom(item), [new Atom(mailbox.objectId)]);
      continue;
    }
    if (item === 'APPENDLIMIT') {
      // RFC 7889 §3.1: the mailbox's upload limit; ours is the same for every mailbox (the capability's).
      out.push(new Atom(item), appendLimit);
      continue;
    }
    const value =
      item === 'MESSAGES'
        ? st.messages
        : item === 'UIDNEXT'
          ? st.uidNext
          : item === 'UIDVALIDITY'
            ? st.uidValidity
            : item === 'UNSEEN'
              ? st.unseen
              : item === 'DELETED'
                ? st.deleted
                : item === 'SIZE'
                  ? st.size
                  : item === 'RECENT'
                    ? st.recent
                    : st.highestModSeq;
    out.push(new Atom(item), value);
  }
  return out;
}

/** The APPENDLIMIT the capability advertises (src/server/capabilities.ts). */
function appendLimitOf(ctx: CommandContext): number {
  return Math.min(ctx.server.settings.maxMessageSize, LIMITS.maxMessageSize);
}

interface ListArgs {
  selection: Set<string>;
  reference: string;
  patterns: string[];
  returns: Set<string>;
  statusItems: string[] | null;
  lsub: boolean;
  /** RFC 5258 §3: selection options, a pattern list or RETURN were given (even empty ones). */
  extended: boolean;
}

function parseListArgs(r: import('../args.js').ArgReader, session: Session, lsub: boolean): ListArgs {
  const selection = new Set<string>();
  const returns = new Set<string>();
  let statusItems: string[] | null = null;
  let extended = false;
  if (!lsub && r.isList()) {
    extended = true;
    for (const it of r.list('selection options')) {
      if (it.type !== 'atom') throw bad('Invalid LIST selection option');
      const opt = it.value.toUpperCase();
      if (!['SUBSCRIBED', 'REMOTE', 'RECURSIVEMATCH', 'SPECIAL-USE'].includes(opt)) {
        throw bad(`Unknown LIST selection option ${it.value.slice(0, 30)}`);
      }
      selection.add(opt);
    }
    // RFC 5258 §3.1: RECURSIVEMATCH alone is a syntax error.
    if (selection.has('RECURSIVEMATCH') && !selection.has('SUBSCRIBED') && !selection.has('SPECIAL-USE')) {
      throw bad('RECURSIVEMATCH needs another selection option');
    }
  }
  const reference = r.pattern();
  const patterns: string[] = [];
  if (!lsub && r.isList()) {
    extended = true;
    for (const it of r.list('mailbox patterns')) {
      if (it.type !== 'atom' && it.type !== 'string') throw bad('Invalid mailbox pattern');
      const sub = new (r.constructor as typeof import('../args.js').ArgReader)([it], r.utf8);
      patterns.push(sub.pattern());
    }
    if (patterns.length === 0) throw bad('Empty pattern list');
  } else {
    patterns.push(r.pattern());
  }
  if (!lsub && r.isAtom('RETURN')) {
    extended = true;
    r.atom();
    const opts = r.list('return options');
    for (let i = 0; i < opts.length; i++) {
      const it = opts[i]!;
      if (it.type !== 'atom') throw bad('Invalid LIST return option');
      const opt = it.value.toUpperCase();
      if (opt === 'STATUS') {
        const items = opts[i + 1];
        if (!items || items.type !== 'list') throw bad('STATUS return option needs a list of items');
        statusItems = parseStatusItems(items.items, session);
        i++;
      } else if (['SUBSCRIBED', 'CHILDREN', 'SPECIAL-USE', 'MYRIGHTS'].includes(opt)) {
        if (opt === 'MYRIGHTS') throw bad('MYRIGHTS needs ACL');
        returns.add(opt);
      } else {
        throw bad(`Unknown LIST return option ${it.value.slice(0, 30)}`);
      }
    }
  }
  r.end();
  return { selection, reference, patterns, returns, statusItems, lsub, extended };
}

async function runList(ctx: CommandContext, args: ListArgs): Promise<void> {
  const user = userOf(ctx.session);
  if (args.statusItems?.includes('HIGHESTMODSEQ')) await enableCondstore(ctx);
  const utf8 = sessionUtf8(ctx.session);
  const verb = args.lsub ? 'LSUB' : 'LIST';
  // LIST "" "" asks for the hierarchy delimiter and root (RFC 9051 §6.3.9) — but not in an extended LIST,
  // where an empty pattern is just ignored for matching (RFC 5258 §3).
  if (!args.lsub && !args.extended && args.patterns.length === 1 && args.patterns[0] === '') {
    await ctx.untagged([new Atom(verb), [new Atom('\\Noselect')], SEPARATOR, '']);
    return;
  }
  const mailboxes = await ctx.store.listMailboxes(user.id);
  const byName = new Map(mailboxes.map((m) => [m.name, m] as const));
  const subscribed = new Set(await ctx.store.listSubscriptions(user.id));
  const wantSubscribed = args.selection.has('SUBSCRIBED') || args.lsub;
  const returnSubscribed = args.returns.has('SUBSCRIBED') || args.selection.has('SUBSCRIBED');
  const specialOnly = args.selection.has('SPECIAL-USE');
  const recursive = args.selection.has('RECURSIVEMATCH');

  // Every name that exists, is subscribed, or is a superior of one of those.
  const all = new Set<string>();
  for (const m of mailboxes) all.add(m.name);
  if (wantSubscribed) for (const s of subscribed) all.add(s);
  const withAncestors = new Set(all);
  for (const n of all) for (const a of ancestors(n)) withAncestors.add(a);
  const hasExistingDescendant = (name: string): boolean => {
    const prefix = name + SEPARATOR;
    for (const m of mailboxes) if (m.name.startsWith(prefix)) return true;
    return false;
  };
  const patterns = args.extended ? args.patterns.filter((p) => p !== '') : args.patterns;
  const matchers = patterns.map((p) => compilePattern(joinReference(args.reference, p)));
  const matches = (n: string) => matchers.some((m) => m(n));
  const hasSubscribedDescendant = (name: string, unmatchedOnly: boolean): boolean => {
    const prefix = name + SEPARATOR;
    for (const s of subscribed) if (s.startsWith(prefix) && !(unmatchedOnly && matches(s))) return true;
    return false;
  };
  const names = [...withAncestors].sort(compareNames);
  for (const name of names) {
    if (!matches(name)) continue;
    const mbox = byName.get(name);
    const isSub = subscribed.has(name);
    let childInfo = false;
    let lsubParent = false;
    if (wantSubscribed && !isSub) {
      if (args.lsub) {
        // RFC 3501 §6.3.9: LSUB with "%" lists a parent of subscribed children, as \Noselect.
        if (!hasSubscribedDescendant(name, false) || !args.patterns.some((p) => p.includes('%'))) continue;
        lsubParent = true;
      } else if (recursive && hasSubscribedDescendant(name, true)) {
        // RFC 5258 §3.5: a parent is returned with CHILDINFO only for subscribed descendants that the
        // patterns do not already return themselves.
        childInfo = true;
      } else continue;
    }
    if (specialOnly && !mbox?.specialUse) continue;
    const attrs: Atom[] = [];
    if (lsubParent) {
      attrs.push(new Atom('\\Noselect'));
    } else if (!mbox) {
      // RFC 5258 §3: \NonExistent (which implies \Noselect) for extended LIST and IMAP4rev2 sessions;
      // plain IMAP4rev1 LIST and LSUB keep RFC 3501's \Noselect.
      attrs.push(new Atom(!args.lsub && (args.extended || isRev2(ctx.session)) ? '\\NonExistent' : '\\Noselect'));
    }
    if (!args.lsub) {
      attrs.push(new Atom(hasExistingDescendant(name) ? '\\HasChildren' : '\\HasNoChildren'));
      if (returnSubscribed && isSub) attrs.push(new Atom('\\Subscribed'));
      if (mbox?.specialUse) attrs.push(new Atom(mbox.specialUse));
    }
    if (!mbox && !args.lsub && !wantSubscribed && !hasExistingDescendant(name)) continue;
    const line: ResponseValue[] = [new Atom(verb), attrs, SEPARATOR, mailboxToWire(name, utf8)];
    if (childInfo) line.push([new Atom('CHILDINFO'), ['SUBSCRIBED']]);
    await ctx.untagged(line);
    if (args.statusItems && mbox) {
      try {
        const values = await statusValues(ctx.store, mbox, args.statusItems, appendLimitOf(ctx));
        await ctx.untagged([new Atom('STATUS'), mailboxToWire(name, utf8), values]);
      } catch (err) {
        if (!(err instanceof StoreError)) throw err;
      }
    }
  }
}

function compareNames(a: string, b: string): number {
  if (a === 'INBOX') return -1;
  if (b === 'INBOX') return 1;
  return a < b ? -1 : a > b ? 1 : 0;
}

export const mailboxCommands = [
  defineCommand({
    name: 'CREATE',
    states: [...AUTH_STATES],
    parse(r) {
      const name = r.mailbox();
      // An optional CREATE-SPECIAL-USE parameter list is not advertised; reject extra arguments.
      r.end();
      return name;
    },
    async run(ctx, rawName) {
      const user = userOf(ctx.session);
      // A trailing separator declares the intent to create children (RFC 9051 §6.3.4).
      const name = rawName.endsWith(SEPARATOR) ? rawName.slice(0, -1) : rawName;
      if (name === 'INBOX') throw no('INBOX always exists', 'ALREADYEXISTS');
      validateNewName(name);
      if (await ctx.store.getMailbox(user.id, name)) throw no('Mailbox already exists', 'ALREADYEXISTS');
      const created = await createWithParents(ctx.store, user.id, name);
      // RFC 8474 §4.1: the tagged OK of every successful CREATE carries the new mailbox's MAILBOXID.
      return { status: 'OK' as const, code: { name: 'MAILBOXID', args: [[new Atom(created.objectId)]] }, text: 'CREATE completed' };
    },
  }),
  defineCommand({
    name: 'DELETE',
    states: [...AUTH_STATES],
    parse(r) {
      const name = r.mailbox();
      r.end();
      return name;
    },
    async run(ctx, name) {
      const user = userOf(ctx.session);
      if (name === 'INBOX') throw no('INBOX cannot be deleted', 'CANNOT');
      const mbox = await ctx.store.getMailbox(user.id, name);
      if (!mbox) {
        // RFC 3501 §6.3.4 / RFC 9051 §6.3.5: deleting a \Noselect name that has inferior hierarchical
        // names (here: a parent that only exists through its children) is an error; RFC 9051 §7.1 names
        // the code for it, HASCHILDREN.
        const prefix = name + SEPARATOR;
        if ((await ctx.store.listMailboxes(user.id)).some((m) => m.name.startsWith(prefix))) {
          throw no(`Name "${name.slice(0, 100)}" has inferior hierarchical names; delete them first`, 'HASCHILDREN');
        }
        throw no('No such mailbox', 'NONEXISTENT');
      }
      const st = ctx.session.state;
      if (st.kind === 'selected' && st.view.mailboxId === mbox.id) {
        // RFC 9051 §6.3.4 leaves this to the server; we close the selection first, like Dovecot.
        ctx.setState({ kind: 'authenticated', user: st.user });
        await ctx.untaggedStatus('OK', { name: 'CLOSED' }, 'Mailbox deleted');
      }
      await ctx.store.deleteMailbox(user.id, name);
      return 'DELETE completed';
    },
  }),
  defineCommand({
    name: 'RENAME',
    states: [...AUTH_STATES],
    parse(r) {
      const from = r.mailbox();
      const to = r.mailbox();
      r.end();
      return { from, to };
    },
    async run(ctx, { from, to }) {
      const user = userOf(ctx.session);
      const target = to.endsWith(SEPARATOR) ? to.slice(0, -1) : to;
      validateNewName(target);
      if (target === 'INBOX') throw no('Cannot rename to INBOX', 'ALREADYEXISTS');
      if (!(await ctx.store.getMailbox(user.id, from))) throw no('No such mailbox', 'NONEXISTENT');
      if (await ctx.store.getMailbox(user.id, target)) throw no('Target mailbox already exists', 'ALREADYEXISTS');
      if (from !== 'INBOX' && (target === from || target.startsWith(from + SEPARATOR))) {
        throw no('Cannot rename a mailbox into itself', 'CANNOT');
      }
      for (const parent of ancestors(target)) {
        if (parent === from) continue;
        if (!(await ctx.store.getMailbox(user.id, parent))) await createWithParents(ctx.store, user.id, parent);
      }
      await ctx.store.renameMailbox(user.id, from, target);
      return 'RENAME completed';
    },
  }),
  defineCommand({
    name: 'SUBSCRIBE',
    states: [...AUTH_STATES],
    parse(r) {
      const name = r.mailbox();
      r.end();
      return name;
    },
    async run(ctx, name) {
      const user = userOf(ctx.session);
      validateNewName(name);
      await ctx.store.setSubscribed(user.id, name, true);
      return 'SUBSCRIBE completed';
    },
  }),
  defineCommand({
    name: 'UNSUBSCRIBE',
    states: [...AUTH_STATES],
    parse(r) {
      const name = r.mailbox();
      r.end();
      return name;
    },
    async run(ctx, name) {
      const user = userOf(ctx.session);
      const subs = await ctx.store.listSubscriptions(user.id);
      if (!subs.includes(name)) throw no('Not subscribed', 'NONEXISTENT');
      await ctx.store.setSubscribed(user.id, name, false);
      return 'UNSUBSCRIBE completed';
    },
  }),
  defineCommand({
    name: 'LIST',
    states: [...AUTH_STATES],
    parse: (r, s) => parseListArgs(r, s, false),
    run: async (ctx, args) => {
      await runList(ctx, args);
      return 'LIST completed';
    },
  }),
  defineCommand({
    name: 'LSUB',
    states: [...AUTH_STATES],
    parse: (r, s) => parseListArgs(r, s, true),
    run: async (ctx, args) => {
      await runList(ctx, args);
      return 'LSUB completed';
    },
  }),
  defineCommand({
    name: 'NAMESPACE',
    states: [...AUTH_STATES],
    parse: (r) => r.end(),
    async run(ctx) {
      // One personal namespace with prefix "" and separator "/" (RFC 2342 §5).
      await ctx.untagged([new Atom('NAMESPACE'), [['', SEPARATOR]], null, null]);
      return 'NAMESPACE completed';
    },
  }),
  defineCommand({
    name: 'STATUS',
    states: [...AUTH_STATES],
    parse(r, s) {
      const name = r.mailbox();
      const items = parseStatusItems(r.list('status items'), s);
      r.end();
      return { name, items };
    },
    async run(ctx, { name, items }) {
      const user = userOf(ctx.session);
      const mbox = await ctx.store.getMailbox(user.id, name);
      if (!mbox) throw no('No such mailbox', 'NONEXISTENT');
      // STATUS (HIGHESTMODSEQ) is a CONDSTORE enabling command (RFC 7162 §3.1).
      if (items.includes('HIGHESTMODSEQ')) await enableCondstore(ctx);
      const values = await statusValues(ctx.store, mbox, items, appendLimitOf(ctx));
      await ctx.untagged([new Atom('STATUS'), mailboxToWire(mbox.name, sessionUtf8(ctx.session)), values]);
      return 'STATUS completed';
    },
  }),
];
