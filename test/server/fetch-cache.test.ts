// FETCH's render cache (src/server/commands/fetch-batch.ts): a cached ENVELOPE / BODY / BODYSTRUCTURE is
// byte for byte what the renderer sends (RFC 9051 §7.5.2), in both quoting modes (RFC 6855 §3: 8-bit
// strings are quoted only once UTF8=ACCEPT or IMAP4rev2 is on, RFC 9051 §4.3.1), on the first FETCH (which fills the cache)
// and on later ones (which read it); the cache goes with the message (EXPUNGE), and copies answer alike.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { indexMessage } from '../../src/mime/indexer.js';
import { bodyStructureValue } from '../../src/mime/body-structure.js';
import { envelopeValue } from '../../src/mime/envelope.js';
import { encodeValue } from '../../src/protocol/encoder.js';
import type { ResponseValue } from '../../src/protocol/types.js';
import type { MimeIndex } from '../../src/mime/types.js';
import type { AppendItem, FetchCacheSlot } from '../../src/store/types.js';
import { RenderCacheEntry, renderCacheText, SLOT, type CachedKind } from '../../src/server/commands/fetch-batch.js';
import { ImapTestClient, logoutQuietly } from '../helpers/imap-client.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

const dir = new URL('../../../test/fixtures/mime/', import.meta.url);
const files = readdirSync(dir).filter((n) => n.endsWith('.eml')).sort();
const messages = files.map((f) => readFileSync(new URL(f, dir)));
const KINDS: CachedKind[] = ['ENVELOPE', 'BODY', 'BODYSTRUCTURE'];
const ALL_SLOTS: FetchCacheSlot[] = KINDS.map((k) => SLOT[k]);

function reference(mime: MimeIndex, kind: CachedKind): ResponseValue {
  return kind === 'ENVELOPE' ? envelopeValue(mime) : bodyStructureValue(mime, kind === 'BODYSTRUCTURE');
}

function wire(v: ResponseValue, utf8: boolean): Buffer {
  return Buffer.concat(encodeValue(v, { utf8 }) as Buffer[]);
}

test('render cache: a miss and a hit encode exactly as the renderer, in both quoting modes, over the MIME corpus', () => {
  let eightBit = 0;
  for (const [i, raw] of messages.entries()) {
    const mime = indexMessage(raw);
    for (const fillUtf8 of [false, true]) {
      // First FETCH: everything is a miss, rendered from the index and remembered.
      const first = new RenderCacheEntry([], [], () => mime);
      for (const kind of KINDS) {
        assert.deepEqual(wire(first.value(kind, fillUtf8), fillUtf8), wire(reference(mime, kind), fillUtf8), `${files[i]} ${kind} miss`);
      }
      assert.equal(first.dirty, true);
      // Later FETCHes, in either mode, read the stored texts and never the index.
      const texts = first.addedTexts();
      const stored = KINDS.map((k) => texts[SLOT[k]] ?? null);
      for (const utf8 of [false, true]) {
        const later = new RenderCacheEntry(KINDS, stored, () => assert.fail('the index is not needed on a hit'));
        for (const kind of KINDS) {
          assert.ok(RenderCacheEntry.covers(stored[KINDS.indexOf(kind)]!, kind));
          const want = wire(reference(mime, kind), utf8);
          assert.deepEqual(wire(later.value(kind, utf8), utf8), want, `${files[i]} ${kind} hit (utf8 ${utf8})`);
          if (!want.equals(wire(reference(mime, kind), !utf8))) eightBit++;
        }
        assert.equal(later.dirty, false);
      }
    }
  }
  // The corpus has 8-bit headers, so the two forms really differ for some messages.
  assert.ok(eightBit > 0);
});

test('render cache: each item has its own text; a text of another version or item is ignored', () => {
  const mime = indexMessage(messages[0]!);
  const a = new RenderCacheEntry([], [], () => mime);
  a.value('BODY', false);
  const body = a.addedTexts().body!;
  assert.deepEqual(Object.keys(a.addedTexts()), ['body']);
  const b = new RenderCacheEntry(['BODY', 'ENVELOPE'], [body, null], () => mime);
  b.value('BODY', false);
  assert.equal(b.dirty, false);
  b.value('ENVELOPE', false);
  assert.deepEqual(Object.keys(b.addedTexts()), ['envelope']);
  const c = new RenderCacheEntry(['ENVELOPE', 'BODY'], [b.addedTexts().envelope!, body], () => assert.fail('both are stored'));
  assert.deepEqual(wire(c.value('BODY', false), false), wire(reference(mime, 'BODY'), false));
  assert.deepEqual(wire(c.value('ENVELOPE', false), false), wire(reference(mime, 'ENVELOPE'), false));
  // A stale format (another version, garbage, another item's text) is a miss, never an answer.
  for (const junk of ['P0;B3:abc', 'garbage', 'P1;B999:x', '', body.replace(';B', ';S')]) {
    const d = new RenderCacheEntry(['BODY'], [junk], () => mime);
    assert.equal(RenderCacheEntry.covers(junk, 'BODY'), false, junk);
    assert.deepEqual(wire(d.value('BODY', false), false), wire(reference(mime, 'BODY'), false), junk);
  }
});

let srv: TestServer;

before(async () => {
  srv = await startTestServer();
  const user = await srv.store.getUser(srv.user);
  const inbox = (await srv.store.getMailbox(user!.id, 'INBOX'))!;
  await srv.store.createMailbox(user!.id, 'Other');
  const prepared: AppendItem[] = [];
  for (const m of messages) prepared.push({ message: await srv.store.prepare(m), flags: [] });
  // Appended without the renderer the server installs: the first FETCH fills the cache.
  await withoutIngestRender(() => srv.store.append(inbox.id, prepared));
});

async function withoutIngestRender<T>(fn: () => Promise<T>): Promise<T> {
  srv.store.setFetchCacheRenderer!(null);
  try {
    return await fn();
  } finally {
    srv.store.setFetchCacheRenderer!(renderCacheText);
  }
}

after(async () => {
  await srv?.stop();
});

async function login(utf8: boolean): Promise<ImapTestClient> {
  const c = await ImapTestClient.connect(srv.port);
  assert.match((await c.command('L', `LOGIN ${srv.user} "${srv.password}"`)).tagged, /^L OK/);
  if (utf8) {
    // IMAP4rev2 quotes 8-bit strings (RFC 9051 §4.3.1); the server does not offer UTF8=ACCEPT itself.
    const e = await c.command('E', 'ENABLE IMAP4rev2');
    assert.match(e.tagged, /^E OK/);
    assert.ok(e.untagged.some((u) => /^\* ENABLED IMAP4REV2/i.test(u)));
  }
  assert.match((await c.command('S', 'SELECT INBOX')).tagged, /^S OK/);
  return c;
}

const ITEMS = 'FETCH 1:* (UID FLAGS ENVELOPE INTERNALDATE BODY RFC822.SIZE BODYSTRUCTURE)';

async function fetchAll(c: ImapTestClient, cmd = ITEMS): Promise<Buffer[]> {
  const r = await c.command('F', cmd);
  assert.match(r.tagged, /^F OK/);
  return r.responses.map((x) => x.raw);
}

test('FETCH through the server: the first answer (filling the cache) and later ones (from it) are the renderer\'s bytes', async () => {
  for (const utf8 of [false, true]) {
    const c = await login(utf8);
    try {
      const first = await fetchAll(c);
      const second = await fetchAll(c);
      assert.equal(first.length, messages.length);
      assert.deepEqual(second, first);
      for (const [i, raw] of messages.entries()) {
        const mime = indexMessage(raw);
        const got = first[i]!.toString('latin1');
        for (const kind of KINDS) {
          const want = `${kind} ${wire(reference(mime, kind), utf8).toString('latin1')}`;
          assert.ok(got.includes(want), `${files[i]} ${kind} (utf8 ${utf8})`);
        }
      }
      // One item alone, by UID too, answers the same as within the list.
      const one = await fetchAll(c, 'UID FETCH 1:* (BODYSTRUCTURE)');
      for (const [i, raw] of messages.entries()) {
        const want = `* ${i + 1} FETCH (UID ${i + 1} BODYSTRUCTURE ${wire(reference(indexMessage(raw), 'BODYSTRUCTURE'), utf8).toString('latin1')})`;
        assert.equal(one[i]!.toString('latin1'), want);
      }
    } finally {
      await logoutQuietly(c);
    }
  }
  // Every message now has a cache text.
  const user = await srv.store.getUser(srv.user);
  const inbox = (await srv.store.getMailbox(user!.id, 'INBOX'))!;
  const uids = messages.map((_, i) => i + 1);
  const recs = await srv.store.getFetchCache!(inbox.id, uids, ALL_SLOTS, true);
  assert.deepEqual(recs.map((r) => r.uid), uids);
  assert.ok(recs.every((r) => r.cached.every((t) => t !== null) && r.mimeJson === null));
});

test('one item first, then another: the second is rendered from the index and added to the cache', async () => {
  const c = await login(false);
  try {
    const user = await srv.store.getUser(srv.user);
    const inbox = (await srv.store.getMailbox(user!.id, 'INBOX'))!;
    // Fresh messages, fetched for ENVELOPE alone, then for BODY and BODYSTRUCTURE.
    const n = messages.length;
    const fresh: AppendItem[] = [];
    for (const m of messages.slice(0, 4)) fresh.push({ message: await srv.store.prepare(Buffer.concat([Buffer.from('X-Fresh: 1\r\n'), m])), flags: [] });
    const { uids } = await withoutIngestRender(() => srv.store.append(inbox.id, fresh));
    assert.match((await c.command('N', 'NOOP')).tagged, /^N OK/);
    await fetchAll(c, `UID FETCH ${uids.join(',')} (ENVELOPE)`);
    const got = await fetchAll(c, `UID FETCH ${uids.join(',')} (BODY BODYSTRUCTURE)`);
    assert.equal(got.length, 4);
    for (const [i, uid] of uids.entries()) {
      const mime = indexMessage(Buffer.concat([Buffer.from('X-Fresh: 1\r\n'), messages[i]!]));
      const body = wire(reference(mime, 'BODY'), false).toString('latin1');
      const bs = wire(reference(mime, 'BODYSTRUCTURE'), false).toString('latin1');
      assert.equal(got[i]!.toString('latin1'), `* ${n + i + 1} FETCH (UID ${uid} BODY ${body} BODYSTRUCTURE ${bs})`);
    }
    for (const r of await srv.store.getFetchCache!(inbox.id, uids, ALL_SLOTS, true)) {
      assert.ok(KINDS.every((k, i) => RenderCacheEntry.covers(r.cached[i]!, k)), `uid ${r.uid}`);
    }
  } finally {
    await logoutQuietly(c);
  }
});

test('messages appended while the server runs have their cache from append on, and answer the same', async () => {
  const user = await srv.store.getUser(srv.user);
  const box = await srv.store.createMailbox(user!.id, 'Ingest');
  const prepared: AppendItem[] = [];
  for (const m of messages) prepared.push({ message: await srv.store.prepare(m), flags: [] });
  const { uids } = await srv.store.append(box.id, prepared);
  const recs = await srv.store.getFetchCache!(box.id, uids, ALL_SLOTS, true);
  assert.equal(recs.length, messages.length);
  // Partial messages aside (none here), every new message has all three items before any FETCH.
  for (const r of recs) assert.ok(KINDS.every((k, i) => RenderCacheEntry.covers(r.cached[i]!, k)) && r.mimeJson === null, `uid ${r.uid}`);
  for (const utf8 of [false, true]) {
    const c = await login(utf8);
    try {
      assert.match((await c.command('S2', 'SELECT Ingest')).tagged, /^S2 OK/);
      const got = await fetchAll(c, 'FETCH 1:* (ENVELOPE BODY BODYSTRUCTURE)');
      for (const [i, raw] of messages.entries()) {
        const mime = indexMessage(raw);
        const parts = KINDS.map((k) => `${k} ${wire(reference(mime, k), utf8).toString('latin1')}`);
        assert.equal(got[i]!.toString('latin1'), `* ${i + 1} FETCH (${parts.join(' ')})`, `${files[i]} (utf8 ${utf8})`);
      }
    } finally {
      await logoutQuietly(c);
    }
  }
});

test('a stored text the server cannot use (another version) is rendered anew from the index and replaced', async () => {
  const user = await srv.store.getUser(srv.user);
  const inbox = (await srv.store.getMailbox(user!.id, 'INBOX'))!;
  const [rec] = await srv.store.getFetchCache!(inbox.id, [5], ['bodystructure'], true);
  await srv.store.putFetchCache!([{ mailboxId: inbox.id, uid: 5, blobId: rec!.blobId!, texts: { bodystructure: 'P0;S2:()' } }]);
  const c = await login(false);
  try {
    const got = await fetchAll(c, 'UID FETCH 5 (BODYSTRUCTURE)');
    const want = wire(reference(indexMessage(messages[4]!), 'BODYSTRUCTURE'), false).toString('latin1');
    assert.equal(got[0]!.toString('latin1'), `* 5 FETCH (UID 5 BODYSTRUCTURE ${want})`);
  } finally {
    await logoutQuietly(c);
  }
  const [after] = await srv.store.getFetchCache!(inbox.id, [5], ['bodystructure'], true);
  assert.ok(RenderCacheEntry.covers(after!.cached[0]!, 'BODYSTRUCTURE'));
});

test('the cache goes with its message (EXPUNGE); copies answer as the originals', async () => {
  const c = await login(false);
  try {
    await fetchAll(c, 'FETCH 1:3 (BODYSTRUCTURE)');
    assert.match((await c.command('C', 'UID COPY 1:3 Other')).tagged, /^C OK/);
    const user = await srv.store.getUser(srv.user);
    const other = (await srv.store.getMailbox(user!.id, 'Other'))!;
    const copies = await srv.store.getFetchCache!(other.id, [1, 2, 3], ['bodystructure'], true);
    assert.equal(copies.length, 3);
    // A store keeps the cache per message (SQLite) or per content (PostgreSQL): either the copy has the
    // text or its index comes instead.
    for (const r of copies) assert.ok((r.cached[0] === null) !== (r.mimeJson === null), `uid ${r.uid}`);
    assert.match((await c.command('D', 'UID STORE 2 +FLAGS.SILENT (\\Deleted)')).tagged, /^D OK/);
    assert.match((await c.command('X', 'UID EXPUNGE 2')).tagged, /^X OK/);
    const inbox = (await srv.store.getMailbox(user!.id, 'INBOX'))!;
    assert.deepEqual((await srv.store.getFetchCache!(inbox.id, [1, 2, 3], ALL_SLOTS, true)).map((r) => r.uid), [1, 3]);
    // A cache text for a message that is gone is not stored.
    await srv.store.putFetchCache!([{ mailboxId: inbox.id, uid: 2, blobId: 'x', texts: { body: 'P1;' } }]);
    assert.deepEqual((await srv.store.getFetchCache!(inbox.id, [2], ALL_SLOTS, true)).length, 0);
    // The copies answer exactly as the originals.
    const c2 = await ImapTestClient.connect(srv.port);
    try {
      assert.match((await c2.command('L', `LOGIN ${srv.user} "${srv.password}"`)).tagged, /^L OK/);
      assert.match((await c2.command('S', 'SELECT Other')).tagged, /^S OK/);
      const got = await fetchAll(c2, 'FETCH 1:3 (BODYSTRUCTURE)');
      for (let i = 0; i < 3; i++) {
        const want = `* ${i + 1} FETCH (BODYSTRUCTURE ${wire(reference(indexMessage(messages[i]!), 'BODYSTRUCTURE'), false).toString('latin1')})`;
        assert.equal(got[i]!.toString('latin1'), want);
      }
    } finally {
      await logoutQuietly(c2);
    }
  } finally {
    await logoutQuietly(c);
  }
});
