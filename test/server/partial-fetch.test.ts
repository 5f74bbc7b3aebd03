// Serving a replica's partial messages (docs/sync.md "Partial messages"): FETCH of what a partly
// downloaded message holds answers from it without the fetchMissing hook; FETCH of what it lacks
// (BODY[], RFC822, RFC822.TEXT, BODY[TEXT], absent parts, BINARY, BINARY.SIZE) calls the hook, which
// swaps in the full content (Store.replaceContent), then answers as for a whole message; without a hook
// or when it fails the command ends NO [UNAVAILABLE] (RFC 5530) and the connection stays usable.
// SEARCH BODY/TEXT looks at what is held.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { startServer, type FetchMissingHook, type FetchMissingRequest, type RunningServer } from '../../src/server/server.js';
import { openSqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import { provisionUser } from '../../src/store/provision.js';
import { hashPassword } from '../../src/auth/password.js';
import type { Store } from '../../src/store/types.js';
import { ImapTestClient, logoutQuietly } from '../helpers/imap-client.js';
import { makePartial, SAMPLE } from './partial-helpers.js';

/** Generous per-command timeout: the machine may be busy with other test runs. */
const T = 60_000;

const PASSWORD = 'secret-pass';

interface Rig {
  store: Store;
  server: RunningServer;
  calls: FetchMissingRequest[];
  /** INBOX uid 1: partial SAMPLE (text part held); uid 2: SAMPLE whole. "Full" uid 1: SAMPLE whole. */
  inboxId: number;
  stop(): Promise<void>;
}

const rigs: Rig[] = [];
after(async () => {
  for (const r of rigs) await r.stop();
});

/** A replica store served with `hook` (built from the calls it records when a function is given). */
async function rig(kind: 'replace' | 'throw' | 'none' | 'hang' | 'gated', gate?: Promise<void>): Promise<Rig & { lookups: number }> {
  const dir = await mkdtemp(join(tmpdir(), 'petrel-partial-'));
  const store = await openSqliteStore(dir);
  const user = await provisionUser(store, 'alice', await hashPassword(PASSWORD));
  const inbox = (await store.getMailbox(user.id, 'INBOX'))!;
  const full = await store.createMailbox(user.id, 'Full');
  const partial = makePartial(SAMPLE, ['1']);
  const prepared = await store.preparePartial(partial.bytes, partial.mime, SAMPLE.length);
  await store.append(inbox.id, [{ message: prepared, flags: [] }, { message: await store.prepare(SAMPLE), flags: [] }]);
  await store.append(full.id, [{ message: await store.prepare(SAMPLE), flags: [] }]);
  const calls: FetchMissingRequest[] = [];
  let hook: FetchMissingHook | undefined;
  if (kind === 'replace') {
    hook = async (req) => {
      calls.push(req);
      await store.replaceContent(req.mailboxId, req.uid, await store.prepare(SAMPLE));
    };
  } else if (kind === 'gated') {
    hook = async (req) => {
      calls.push(req);
      await gate;
      await store.replaceContent(req.mailboxId, req.uid, await store.prepare(SAMPLE));
    };
  } else if (kind === 'hang') {
    // Waits until the session's connection goes away (the signal), then fails.
    hook = (req) => {
      calls.push(req);
      return new Promise<void>((_, reject) => {
        req.signal!.addEventListener('abort', () => reject(new Error('aborted')), { once: true });
      });
    };
  } else if (kind === 'throw') {
    hook = async (req) => {
      calls.push(req);
      throw new Error('remote imap.example.org unreachable');
    };
  }
  // Counts the mailbox lookups fillMissing makes right before it calls (or joins) the hook.
  const spied = new Proxy(store, {
    get(target, prop, receiver) {
      if (prop === 'getMailboxById') {
        return (id: number) => {
          r.lookups++;
          return target.getMailboxById(id);
        };
      }
      const v = Reflect.get(target, prop, receiver) as unknown;
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
  const server = await startServer({ store: spied, host: '127.0.0.1', imapPort: 0, imapsPort: null, tls: null, ...(hook ? { fetchMissing: hook } : {}) });
  const r: Rig & { lookups: number } = {
    lookups: 0,
    store,
    server,
    calls,
    inboxId: inbox.id,
    async stop() {
      await server.close();
      await store.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
  rigs.push(r);
  return r;
}

async function login(r: Rig, mailbox = 'INBOX'): Promise<ImapTestClient> {
  const c = await ImapTestClient.connect(r.server.imapPort!);
  assert.match((await c.command('L', `LOGIN alice ${PASSWORD}`, T)).tagged, /^L OK/);
  assert.match((await c.command('S', `SELECT ${mailbox}`, T)).tagged, /^S OK/);
  return c;
}

/** The one FETCH response of a command, as bytes (latin1), with the sequence number cut off. */
function body(res: { responses: Array<{ raw: Buffer }> }): string {
  assert.equal(res.responses.length, 1, 'one FETCH response');
  return res.responses[0]!.raw.toString('latin1').replace(/^\* \d+ FETCH /, '');
}

const PRESENT = 'UID FLAGS ENVELOPE BODYSTRUCTURE BODY RFC822.SIZE BODY.PEEK[HEADER] BODY.PEEK[HEADER.FIELDS (Subject)] BODY.PEEK[1] BODY.PEEK[1.MIME] BODY.PEEK[2.MIME] BODY.PEEK[3.HEADER] BINARY.PEEK[1] BINARY.SIZE[1]';

describe('FETCH of partial messages', () => {
  it('answers what the partial message holds without the hook, identically to the whole message', async () => {
    const r = await rig('replace');
    const c = await login(r);
    const full = await login(r, 'Full');
    try {
      const a = await c.command('F', `UID FETCH 1 (${PRESENT})`, T);
      const b = await full.command('F', `UID FETCH 1 (${PRESENT})`, T);
      assert.match(a.tagged, /^F OK/);
      assert.equal(body(a), body(b));
      assert.match(body(a), /RFC822\.SIZE \d+/);
      assert.equal(r.calls.length, 0, 'the hook is not called for what is there');
      // A message of the replica that is whole never calls it either.
      assert.match((await c.command('G', 'UID FETCH 2 (BODY.PEEK[])', T)).tagged, /^G OK/);
      assert.equal(r.calls.length, 0);
    } finally {
      await logoutQuietly(c);
      await logoutQuietly(full);
    }
  });

  it('calls the hook for what is missing, then answers from the full content and caches it', async () => {
    const r = await rig('replace');
    const c = await login(r);
    const other = await login(r); // selected before the content changes
    const full = await login(r, 'Full');
    try {
      const items = 'BODY.PEEK[2] BINARY.PEEK[2] BINARY.SIZE[2] BODY.PEEK[3] BODY.PEEK[TEXT] RFC822.TEXT BODY.PEEK[]';
      const a = await c.command('F', `UID FETCH 1 (${items})`, T);
      assert.match(a.tagged, /^F OK/);
      assert.equal(r.calls.length, 1);
      assert.deepEqual(
        { ...r.calls[0]!, signal: undefined },
        { userName: 'alice', mailboxId: r.inboxId, mailboxName: 'INBOX', uid: 1, signal: undefined },
      );
      assert.ok(r.calls[0]!.signal instanceof AbortSignal);
      const b = await full.command('F', `UID FETCH 1 (${items})`, T);
      // RFC822.TEXT sets \Seen on both (not .PEEK): the FLAGS that follow are the same too.
      assert.equal(body(a), body(b));
      // Every session sees the full content now, with no further call.
      await other.command('N', 'NOOP', T); // takes the \\Seen update of RFC822.TEXT
      const o = await other.command('F', 'UID FETCH 1 (BODY.PEEK[] RFC822)', T);
      const p = await full.command('F', 'UID FETCH 1 (BODY.PEEK[] RFC822)', T);
      assert.equal(body(o), body(p));
      assert.equal(r.calls.length, 1);
      // The message kept its UID, flags and mod-sequence.
      const [m] = await r.store.getMessages(r.inboxId, [1]);
      assert.equal(m!.size, SAMPLE.length);
      assert.deepEqual(await r.store.readBlob(m!.blobId, 0, 1e9), SAMPLE);
    } finally {
      await logoutQuietly(c);
      await logoutQuietly(other);
      await logoutQuietly(full);
    }
  });

  it('sets \\Seen only once the content is there', async () => {
    const r = await rig('throw');
    const c = await login(r);
    try {
      const res = await c.command('F', 'FETCH 1 (BODY[2])', T);
      assert.match(res.tagged, /^F NO \[UNAVAILABLE\] .*remote imap\.example\.org unreachable/);
      assert.equal(res.responses.length, 0);
      const flags = await c.command('G', 'FETCH 1 (FLAGS)', T);
      assert.match(flags.untagged[0]!, /^\* 1 FETCH \(FLAGS \((\\Recent)?\)\)$/);
    } finally {
      await logoutQuietly(c);
    }
  });

  it('ends NO [UNAVAILABLE] when the hook fails, answers the other messages, and the connection lives on', async () => {
    const r = await rig('throw');
    const c = await login(r);
    try {
      for (const item of ['BODY.PEEK[]', 'RFC822', 'RFC822.TEXT', 'BODY.PEEK[TEXT]', 'BODY.PEEK[2]', 'BODY.PEEK[3.TEXT]', 'BINARY.PEEK[2]', 'BINARY.SIZE[2]', 'BODY.PEEK[]<0.10>']) {
        const before = r.calls.length;
        const res = await c.command('F', `UID FETCH 1:2 (${item})`, T);
        assert.match(res.tagged, /^F NO \[UNAVAILABLE\] Message content is not downloaded/, item);
        assert.equal(r.calls.length, before + 1, `${item}: one call`);
        assert.equal(res.responses.length, 1, `${item}: the whole message 2 is answered`);
        assert.match(res.responses[0]!.text, /^\* 2 FETCH \(UID 2 /);
      }
      assert.match((await c.command('N', 'NOOP', T)).tagged, /^N OK/);
      assert.match((await c.command('H', 'UID FETCH 1 (BODY.PEEK[HEADER] BODYSTRUCTURE)', T)).tagged, /^H OK/);
    } finally {
      await logoutQuietly(c);
    }
  });

  it('aborts the hook\'s signal when the client goes away, and other sessions carry on', async () => {
    const r = await rig('hang');
    const c = await login(r);
    const other = await login(r);
    c.send('F UID FETCH 1 (BODY.PEEK[2])');
    while (r.calls.length === 0) await new Promise((resolve) => setImmediate(resolve));
    const signal = r.calls[0]!.signal!;
    assert.equal(signal.aborted, false);
    const aborted = new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
    c.close(); // the client drops the connection in the middle of the FETCH
    await aborted;
    assert.equal(signal.aborted, true);
    assert.match((await other.command('N', 'UID FETCH 1 (BODY.PEEK[1])', T)).tagged, /^N OK/);
    await logoutQuietly(other);
  });

  it('sessions asking for the same missing message at once share one hook call', async () => {
    let open!: () => void;
    const gate = new Promise<void>((resolve) => (open = resolve));
    const r = await rig('gated', gate);
    const a = await login(r);
    const b = await login(r);
    const full = await login(r, 'Full');
    try {
      const before = r.lookups;
      a.send('A UID FETCH 1 (BODY.PEEK[3])');
      while (r.calls.length === 0) await new Promise((resolve) => setImmediate(resolve));
      b.send('B UID FETCH 1 (BODY.PEEK[3])');
      // B has looked the mailbox up, so it is at the hook now (joining A's call, or making its own).
      while (r.lookups < before + 2) await new Promise((resolve) => setImmediate(resolve));
      for (let i = 0; i < 5; i++) await new Promise((resolve) => setImmediate(resolve));
      assert.equal(r.calls.length, 1, 'B joined the call in progress');
      open();
      const ra = await a.readTagged('A', T);
      const rb = await b.readTagged('B', T);
      const want = await full.command('W', 'UID FETCH 1 (BODY.PEEK[3])', T);
      assert.match(ra.tagged, /^A OK/);
      assert.match(rb.tagged, /^B OK/);
      assert.equal(body(ra), body(want));
      assert.equal(body(rb), body(want));
      assert.equal(r.calls.length, 1);
    } finally {
      await logoutQuietly(a);
      await logoutQuietly(b);
      await logoutQuietly(full);
    }
  });

  it('ends NO [UNAVAILABLE] without a hook', async () => {
    const r = await rig('none');
    const c = await login(r);
    try {
      const res = await c.command('F', 'FETCH 1 (BODY.PEEK[2])', T);
      assert.match(res.tagged, /^F NO \[UNAVAILABLE\] .*no source is configured/);
      assert.match((await c.command('G', 'FETCH 1 (BODY.PEEK[1])', T)).tagged, /^G OK/);
    } finally {
      await logoutQuietly(c);
    }
  });

  it('SEARCH BODY and TEXT look at what a partial message holds', async () => {
    const r = await rig('replace');
    const c = await login(r);
    try {
      const search = async (q: string) => (await c.command('S', `UID SEARCH ${q}`, T)).untagged.find((l) => l.startsWith('* SEARCH'));
      assert.equal(await search('BODY "figures are attached"'), '* SEARCH 1 2');
      assert.equal(await search('TEXT "quarterly"'), '* SEARCH 1 2');
      // The forwarded message (part 3) was not downloaded: only the whole copy matches.
      assert.equal(await search('BODY "walrus"'), '* SEARCH 2');
      assert.equal(await search('LARGER 100'), '* SEARCH 1 2', 'sizes are the remote ones');
      assert.equal(r.calls.length, 0, 'SEARCH does not download');
      assert.match((await c.command('F', 'UID FETCH 1 (BODY.PEEK[3])', T)).tagged, /^F OK/);
      assert.equal(await search('BODY "walrus"'), '* SEARCH 1 2');
    } finally {
      await logoutQuietly(c);
    }
  });
});
