// The client library against the real Petrel server (in-process, loopback): login, mailboxes, APPEND
// (buffer and stream), SELECT, FETCH (envelope, bodystructure tree, sections, streamed download), STORE,
// SEARCH, COPY/MOVE with COPYUID, EXPUNGE, IDLE between two clients, STARTTLS, typed errors, reconnect.
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { Readable, Writable } from 'node:stream';
import { generate } from 'selfsigned';
import { ImapClient, type ImapClientOptions } from '../../src/client/imap-client.js';
import { ImapConnectionError, ImapNoError } from '../../src/client/errors.js';
import { ResilientClient, backoffDelay, withReconnect } from '../../src/client/reconnect.js';
import { sectionData } from '../../src/client/commands/fetch.js';
import { walkBodyStructure } from '../../src/client/body-structure.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

let srv: TestServer;
const clients: ImapClient[] = [];

before(async () => {
  srv = await startTestServer();
});
after(async () => {
  for (const c of clients) c.destroy();
  await srv.stop();
});

function opts(extra: Partial<ImapClientOptions> = {}): ImapClientOptions {
  return { host: '127.0.0.1', port: srv.port, tls: 'none', auth: { user: srv.user, password: srv.password }, timeouts: { responseMs: 10_000 }, ...extra };
}

async function connect(extra: Partial<ImapClientOptions> = {}): Promise<ImapClient> {
  const c = await ImapClient.connect(opts(extra));
  clients.push(c);
  return c;
}

const MULTIPART = [
  'From: "Ann Example" <ann@example.org>',
  'To: bob@example.net, =?utf-8?q?J=C3=BCrgen?= <j@example.de>',
  'Subject: =?utf-8?b?R3LDvMOfZQ==?= report',
  'Message-ID: <report-1@example.org>',
  'Date: Tue, 2 Jan 2024 09:00:00 +0100',
  'MIME-Version: 1.0',
  'Content-Type: multipart/mixed; boundary="b1"',
  '',
  '--b1',
  'Content-Type: text/plain; charset=utf-8',
  '',
  'Hello Bob,',
  'see attached.',
  '--b1',
  'Content-Type: application/octet-stream; name="data.bin"',
  'Content-Disposition: attachment; filename="data.bin"',
  'Content-Transfer-Encoding: base64',
  '',
  Buffer.from('binary\0data').toString('base64'),
  '--b1--',
  '',
].join('\r\n');

test('login, capabilities, mailbox management, LIST with STATUS and special-use', async () => {
  const c = await connect();
  assert.ok(c.authenticated);
  assert.ok(c.has('IMAP4rev1') && c.has('UIDPLUS') && c.has('MOVE'));
  await c.create('Projects/Petrel');
  await c.create('Entwürfe');
  await assert.rejects(c.create('Entwürfe'), (e: unknown) => e instanceof ImapNoError && e.code === 'ALREADYEXISTS');
  await c.rename('Projects/Petrel', 'Projects/Kestrel');
  await c.subscribe('Projects/Kestrel');
  const all = await c.list('', '*', { status: ['MESSAGES', 'UIDNEXT', 'UIDVALIDITY'] });
  const byName = new Map(all.map((e) => [e.path, e]));
  assert.ok(byName.has('INBOX') && byName.has('Entwürfe') && byName.has('Projects/Kestrel'), [...byName.keys()].join());
  assert.ok(!byName.has('Projects/Petrel'));
  assert.equal(byName.get('Projects/Kestrel')!.subscribed, true);
  assert.equal(byName.get('Projects/Kestrel')!.delimiter, '/');
  assert.equal(byName.get('Entwürfe')!.status?.messages, 0);
  assert.ok((byName.get('INBOX')!.status?.uidValidity ?? 0) > 0);
  assert.equal(byName.get('Sent')?.specialUse, '\\Sent');
  const st = await c.status('Entwürfe');
  assert.equal(st.path, 'Entwürfe');
  assert.equal(st.messages, 0);
  await c.delete('Entwürfe');
  await assert.rejects(c.status('Entwürfe'), (e: unknown) => e instanceof ImapNoError);
  await assert.rejects(c.select('Nowhere'), (e: unknown) => e instanceof ImapNoError && e.code === 'NONEXISTENT');
  assert.equal(c.selected, null);
  await c.logout();
  assert.ok(c.closed);
});

test('APPEND (buffer and stream), SELECT, FETCH envelope / bodystructure / sections, streamed download', async () => {
  const c = await connect();
  await c.create('Reports');
  await assert.rejects(c.append('Nope', 'x'), (e: unknown) => e instanceof ImapNoError && e.code === 'TRYCREATE');
  const date = new Date('2024-01-02T08:00:00Z');
  const a1 = await c.append('Reports', MULTIPART, { flags: ['\\Seen', '$Report'], internalDate: date });
  assert.ok(a1.uid !== undefined && a1.uidValidity !== undefined);

  const big = Buffer.alloc(1_500_000);
  for (let i = 0; i < big.length; i++) big[i] = 0x41 + (i % 26);
  for (let i = 76; i < big.length; i += 78) {
    big[i] = 0x0d;
    big[i + 1] = 0x0a;
  }
  const bigMsg = Buffer.concat([Buffer.from('Subject: big\r\n\r\n'), big]);
  const chunks: Buffer[] = [];
  for (let i = 0; i < bigMsg.length; i += 64 * 1024) chunks.push(bigMsg.subarray(i, i + 64 * 1024));
  const a2 = await c.append('Reports', { size: bigMsg.length, stream: Readable.from(chunks) });
  assert.equal(a2.uid, a1.uid! + 1);

  const sel = await c.select('Reports');
  assert.equal(sel.exists, 2);
  assert.equal(sel.uidValidity, a1.uidValidity);
  assert.equal(sel.uidNext, a2.uid! + 1);
  assert.equal(sel.readOnly, false);
  assert.ok(sel.permanentFlags.includes('\\*'));

  const [m] = await c.fetchAll(a1.uid!, { flags: true, internalDate: true, size: true, envelope: true, bodyStructure: true, sections: ['HEADER.FIELDS (Subject)', '1', { section: '2', binary: true }] }, { uid: true });
  assert.ok(m);
  assert.equal(m.uid, a1.uid);
  assert.deepEqual(m.flags!.filter((f) => f !== '\\Recent').sort(), ['$Report', '\\Seen']);
  assert.equal(m.internalDate?.getTime(), date.getTime());
  assert.equal(m.size, Buffer.byteLength(MULTIPART));
  assert.equal(m.envelope?.subject, 'Grüße report');
  assert.deepEqual(m.envelope?.from, [{ name: 'Ann Example', address: 'ann@example.org' }]);
  assert.deepEqual(m.envelope?.to, [{ address: 'bob@example.net' }, { name: 'Jürgen', address: 'j@example.de' }]);
  assert.equal(m.envelope?.messageId, '<report-1@example.org>');
  const bs = m.bodyStructure!;
  assert.equal(bs.type, 'multipart');
  assert.equal(bs.subtype, 'mixed');
  assert.equal(bs.parameters.boundary, 'b1');
  const parts = [...walkBodyStructure(bs)].map((p) => [p.part, `${p.type}/${p.subtype}`]);
  assert.deepEqual(parts, [['', 'multipart/mixed'], ['1', 'text/plain'], ['2', 'application/octet-stream']]);
  const att = bs.children![1]!;
  assert.equal(att.encoding, 'base64');
  assert.equal(att.disposition?.type, 'attachment');
  assert.equal(att.disposition?.parameters.filename, 'data.bin');
  assert.equal(bs.children![0]!.parameters.charset, 'utf-8');
  assert.ok((bs.children![0]!.lines ?? 0) >= 1);
  assert.equal(sectionData(m, 'HEADER.FIELDS (SUBJECT)')?.toString(), 'Subject: =?utf-8?b?R3LDvMOfZQ==?= report\r\n\r\n');
  assert.equal(sectionData(m, '1')?.toString(), 'Hello Bob,\r\nsee attached.');
  if (c.has('BINARY')) assert.equal(sectionData(m, '2', true)?.toString(), 'binary\0data');

  // Streamed download of the big message: bytes identical, delivered in many chunks.
  const dl = await c.download(a2.uid!);
  assert.ok(dl);
  assert.equal(dl.size, bigMsg.length);
  const got: Buffer[] = [];
  await new Promise<void>((resolve, reject) => {
    dl.content.pipe(
      new Writable({
        highWaterMark: 16 * 1024,
        write(chunk: Buffer, _e, cb) {
          got.push(chunk);
          setImmediate(cb);
        },
      }),
    ).on('finish', resolve).on('error', reject);
  });
  assert.ok(Buffer.concat(got).equals(bigMsg));
  assert.ok(got.length > 1);
  assert.equal(await c.download(999_999), null);
  // The connection is still in step after the download.
  const flags = await c.fetchAll('1:*', { flags: true }, { uid: true });
  assert.deepEqual(flags.map((x) => x.uid), [a1.uid, a2.uid]);
  await c.logout();
});

test('STORE, SEARCH, COPY / MOVE with COPYUID, EXPUNGE and UID EXPUNGE', async () => {
  const c = await connect();
  await c.create('Work');
  await c.create('Done');
  const uids: number[] = [];
  for (let i = 1; i <= 5; i++) {
    const r = await c.append('Work', `Subject: item ${i}\r\nX-Prio: ${i % 2 ? 'high' : 'low'}\r\n\r\nbody ${i} ${i === 3 ? 'needle' : ''}\r\n`);
    uids.push(r.uid!);
  }
  await c.select('Work');
  const st = await c.store(uids.slice(0, 2), ['\\Flagged', '$Todo'], { uid: true });
  assert.deepEqual(st.updated.map((u) => u.uid).sort(), uids.slice(0, 2));
  assert.ok(st.updated.every((u) => u.flags?.includes('\\Flagged') && u.flags.includes('$Todo')));
  await c.store(uids[0]!, ['$Todo'], { uid: true, mode: 'remove', silent: true });
  await c.store(uids[4]!, ['\\Seen'], { uid: true, mode: 'set' });

  assert.deepEqual(await c.search({ flagged: true }, { uid: true }), uids.slice(0, 2));
  assert.deepEqual(await c.search({ keyword: '$Todo' }, { uid: true }), [uids[1]]);
  assert.deepEqual(await c.search({ seen: false, flagged: false }, { uid: true }), [uids[2], uids[3]]);
  assert.deepEqual(await c.search({ body: 'needle' }, { uid: true }), [uids[2]]);
  assert.deepEqual(await c.search({ header: [['X-Prio', 'low']] }, { uid: true }), [uids[1], uids[3]]);
  assert.deepEqual(await c.search({ or: [{ uid: uids[0]! }, { subject: 'item 5' }] }, { uid: true }), [uids[0], uids[4]]);
  assert.deepEqual(await c.search({ not: { uid: `${uids[1]}:*` } }, { uid: true }), [uids[0]]);
  assert.deepEqual(await c.search({ all: true }), [1, 2, 3, 4, 5]);

  const cp = await c.copy(uids.slice(0, 2), 'Done', { uid: true });
  assert.ok(cp.uidValidity);
  assert.deepEqual([...cp.uidMap!.keys()], uids.slice(0, 2));

  const events: unknown[] = [];
  c.on('expunge', (e) => events.push(['expunge', e.seq]));
  c.on('vanished', (e) => events.push(['vanished', e.uids]));
  const mv = await c.move(uids[2]!, 'Done', { uid: true });
  assert.equal(mv.uidMap?.size, 1);
  assert.ok(mv.uidMap?.has(uids[2]!));
  assert.equal(events.length, 1, JSON.stringify(events));
  assert.equal(c.selected?.exists, 4);

  await c.store(uids[3]!, ['\\Deleted'], { uid: true, silent: true });
  await c.store(uids[4]!, ['\\Deleted'], { uid: true, silent: true });
  const ux = await c.uidExpunge(uids[3]!);
  assert.equal(ux.expungedSeqs.length + ux.vanishedUids.length, 1);
  const ex = await c.expunge();
  assert.equal(ex.expungedSeqs.length + ex.vanishedUids.length, 1);
  assert.equal(c.selected?.exists, 2);
  const left = await c.fetchAll('1:*', { uid: true }, { uid: true });
  assert.deepEqual(left.map((m) => m.uid), uids.slice(0, 2));
  const done = await c.status('Done');
  assert.equal(done.messages, 3);
  await c.logout();
});

test('IDLE: a second client appending and flagging wakes the watcher; abort ends IDLE', async () => {
  const watcher = await connect();
  const writer = await connect();
  await writer.create('Watched');
  await watcher.select('Watched');
  const exists = new Promise<number>((resolve) => watcher.on('exists', (e) => resolve(e.count)));
  const ac = new AbortController();
  const idling = watcher.idle({ signal: ac.signal });
  const r = await writer.append('Watched', 'Subject: ping\r\n\r\nhi\r\n');
  assert.equal(await exists, 1);
  const flagged = new Promise<{ uid?: number; flags?: string[] }>((resolve) => watcher.on('fetch', resolve));
  await writer.select('Watched');
  await writer.store(r.uid!, ['\\Flagged'], { uid: true });
  const f = await flagged;
  assert.ok(f.flags?.includes('\\Flagged'));
  ac.abort();
  assert.equal(await idling, 'aborted');
  // A command after IDLE works, and so does IDLE preempted by a command.
  const again = watcher.idle();
  const st = await watcher.status('INBOX');
  assert.equal(st.path, 'INBOX');
  assert.equal(await again, 'preempted');
  await watcher.logout();
  await writer.logout();
});

test('pipelining: many commands issued at once complete in order with the right results', async () => {
  const c = await connect();
  await c.create('Pipe');
  const appends = await Promise.all(Array.from({ length: 20 }, (_, i) => c.append('Pipe', `Subject: p${i}\r\n\r\n${i}\r\n`)));
  const appendedUids = appends.map((a) => a.uid!);
  assert.deepEqual(appendedUids, [...appendedUids].sort((a, b) => a - b));
  assert.equal(new Set(appendedUids).size, 20);
  const [sel, f1, f2, s1] = await Promise.all([
    c.select('Pipe'),
    c.fetchAll('1:10', { envelope: true }, { uid: false }),
    c.fetchAll('11:20', { envelope: true }, { uid: false }),
    c.search({ subject: 'p7' }),
  ]);
  assert.equal(sel.exists, 20);
  assert.deepEqual(f1.map((m) => m.envelope?.subject), Array.from({ length: 10 }, (_, i) => `p${i}`));
  assert.deepEqual(f2.map((m) => m.envelope?.subject), Array.from({ length: 10 }, (_, i) => `p${i + 10}`));
  assert.deepEqual(s1, [8]);
  await c.logout();
});

test('STARTTLS: upgrade before authenticating; no credentials in clear text when the server has no TLS', async () => {
  const pems = await generate([{ name: 'commonName', value: 'localhost' }], { keySize: 2048, algorithm: 'sha256' });
  const tlsSrv = await startTestServer({ allowInsecureAuth: 'never', tls: { key: pems.private, cert: pems.cert } });
  try {
    const c = await ImapClient.connect({
      host: '127.0.0.1',
      port: tlsSrv.port,
      tls: 'starttls',
      ca: pems.cert,
      servername: 'localhost',
      auth: { user: tlsSrv.user, password: tlsSrv.password },
    });
    assert.ok(c.secure && c.authenticated);
    assert.ok(!c.has('STARTTLS'));
    await c.select('INBOX');
    await c.logout();
    // A certificate we do not trust fails the handshake: reason tls.
    await assert.rejects(
      ImapClient.connect({ host: '127.0.0.1', port: tlsSrv.port, tls: 'starttls', servername: 'localhost', auth: { user: 'a', password: 'b' } }),
      (e: unknown) => e instanceof ImapConnectionError && e.reason === 'tls',
    );
  } finally {
    await tlsSrv.stop();
  }
  // The shared server has no TLS: starttls must refuse rather than log in in clear.
  await assert.rejects(ImapClient.connect(opts({ tls: 'starttls' })), (e: unknown) => e instanceof ImapConnectionError && e.reason === 'tls');
});

test('wrong password → ImapNoError; connection refused → ImapConnectionError(connect)', async () => {
  await assert.rejects(ImapClient.connect(opts({ auth: { user: srv.user, password: 'wrong' } })), (e: unknown) => e instanceof ImapNoError);
  for (const c of clients) c.destroy();
  await srv.server.close();
  try {
    await assert.rejects(ImapClient.connect(opts()), (e: unknown) => e instanceof ImapConnectionError && e.reason === 'connect');
  } finally {
    srv = await startTestServer();
  }
});

test('reconnect: ResilientClient replaces a broken connection and reruns the work; backoff grows', async () => {
  let failures = 0;
  const rc = new ResilientClient(opts(), {
    baseDelayMs: 1,
    connect: async (o) => {
      if (failures++ < 2) throw new ImapConnectionError('connect', 'simulated refusal');
      return ImapClient.connect(o);
    },
  });
  let runs = 0;
  const result = await rc.run(async (c) => {
    runs++;
    if (runs === 1) {
      c.fail(new ImapConnectionError('closed', 'simulated cut'));
      await c.noop();
    }
    return (await c.status('INBOX')).path;
  });
  assert.equal(result, 'INBOX');
  assert.equal(runs, 2);
  assert.equal(rc.connections, 2);
  await rc.close();
  // Not retried: a NO (wrong password) is final.
  let attempts = 0;
  await assert.rejects(
    withReconnect(opts({ auth: { user: srv.user, password: 'nope' } }), async () => 1, {
      baseDelayMs: 1,
      connect: (o) => {
        attempts++;
        return ImapClient.connect(o);
      },
    }),
    ImapNoError,
  );
  assert.equal(attempts, 1);
  const fixed = { random: () => 0.5, baseDelayMs: 100, maxDelayMs: 1000, jitter: 0.5 };
  assert.deepEqual([1, 2, 3, 4, 5, 6].map((n) => backoffDelay(n, fixed)), [100, 200, 400, 800, 1000, 1000]);
  assert.equal(backoffDelay(1, { ...fixed, random: () => 0 }), 50);
});
