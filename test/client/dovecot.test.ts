// The client library against Debian's Dovecot (its own config in a temp dir, loopback): what the sync
// engine relies on — ENABLE CONDSTORE/QRESYNC, HIGHESTMODSEQ, FETCH CHANGEDSINCE with VANISHED (RFC 7162
// §3.1.4, §3.2.6), SELECT with QRESYNC (§3.2.5), STORE UNCHANGEDSINCE → MODIFIED (§3.1.3), APPENDUID /
// COPYUID (RFC 4315), MOVE, ESEARCH, LIST-STATUS, modified UTF-7 names, BINARY, streamed downloads,
// IDLE woken by a second client; and the same client with the extensions not enabled.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { ImapClient, type ImapClientOptions } from '../../src/client/imap-client.js';
import { ImapNoError } from '../../src/client/errors.js';
import { sectionData } from '../../src/client/commands/fetch.js';
import { ensureDovecotInstalled, startDovecot, type DovecotServer } from '../helpers/dovecot.js';

let dc: DovecotServer;
const clients: ImapClient[] = [];

before(async () => {
  const ok = await ensureDovecotInstalled();
  assert.ok(ok, 'Dovecot (dovecot-imapd) is needed for the interop tests and could not be installed');
  const d = await startDovecot();
  assert.ok(d, 'Dovecot did not start');
  dc = d;
});

after(async () => {
  for (const c of clients) c.destroy();
  await dc?.stop();
});

async function connect(extra: Partial<ImapClientOptions> = {}): Promise<ImapClient> {
  const c = await ImapClient.connect({
    host: dc.host,
    port: dc.port,
    tls: 'none',
    auth: { user: dc.user, password: dc.password },
    timeouts: { responseMs: 10_000 },
    ...extra,
  });
  clients.push(c);
  return c;
}

test('ENABLE records CONDSTORE and QRESYNC; HIGHESTMODSEQ on SELECT and STATUS; LIST-STATUS', async () => {
  const c = await connect();
  assert.ok(c.enabled.has('QRESYNC') && c.enabled.has('CONDSTORE'), [...c.enabled].join());
  assert.ok(c.qresync && c.condstore);
  await c.create('Ordner.Entwürfe');
  const a = await c.append('Ordner.Entwürfe', 'Subject: x\r\n\r\ny\r\n');
  assert.ok(a.uid && a.uidValidity);
  const list = await c.list('', '*', { status: ['MESSAGES', 'HIGHESTMODSEQ', 'UIDVALIDITY'] });
  const e = list.find((x) => x.path === 'Ordner.Entwürfe');
  assert.ok(e, list.map((x) => x.path).join());
  assert.equal(e.status?.messages, 1);
  assert.equal(e.status?.uidValidity, a.uidValidity);
  assert.ok((e.status?.highestModSeq ?? 0) > 0);
  const sel = await c.select('Ordner.Entwürfe');
  assert.equal(sel.exists, 1);
  assert.ok((sel.highestModSeq ?? 0) > 0);
  assert.equal(sel.noModSeq, false);
  assert.equal(c.selected?.highestModSeq, sel.highestModSeq);
  await c.logout();
});

test('resync primitives: FETCH CHANGEDSINCE + VANISHED, SELECT (QRESYNC), STORE UNCHANGEDSINCE', async () => {
  const c = await connect();
  const other = await connect();
  await c.create('Sync');
  const uids: number[] = [];
  for (let i = 0; i < 6; i++) uids.push((await c.append('Sync', `Subject: m${i}\r\n\r\nbody ${i}\r\n`)).uid!);
  const base = await c.select('Sync');
  const baseModSeq = base.highestModSeq!;

  // Another client changes flags on two messages and expunges one.
  await other.select('Sync');
  await other.store([uids[1]!, uids[2]!], ['\\Seen', '$Label1'], { uid: true, silent: true });
  await other.store(uids[4]!, ['\\Deleted'], { uid: true, silent: true });
  await other.uidExpunge(uids[4]!);

  // In the selected mailbox: only what changed since the base, and what vanished.
  await c.noop();
  const changes = c.fetch('1:*', { flags: true, modSeq: true }, { uid: true, changedSince: baseModSeq, vanished: true });
  const changed = [];
  for await (const m of changes) changed.push(m);
  assert.deepEqual(changed.map((m) => m.uid!).sort((a, b) => a - b), [uids[1], uids[2]]);
  assert.ok(changed.every((m) => m.flags?.includes('$Label1') && (m.modSeq ?? 0) > baseModSeq));
  assert.deepEqual(changes.vanished, [uids[4]]);

  // Reselecting with QRESYNC gives the same answer in one round trip.
  await c.unselect();
  const q = await c.select('Sync', { qresync: { uidValidity: base.uidValidity, modSeq: baseModSeq, knownUids: uids } });
  assert.deepEqual(q.vanished, [uids[4]]);
  assert.deepEqual(q.changed!.map((m) => m.uid).sort((a, b) => a - b), [uids[1], uids[2]]);
  assert.ok(q.changed!.every((m) => m.flags?.includes('\\Seen')));
  assert.equal(q.exists, 5);

  // UNCHANGEDSINCE: a message changed after the given modseq is left alone and reported.
  const st = await c.store([uids[0]!, uids[1]!], ['\\Flagged'], { uid: true, unchangedSince: baseModSeq });
  assert.deepEqual(st.modified, [uids[1]]);
  assert.deepEqual(st.updated.map((u) => u.uid), [uids[0]]);
  const flagged = await c.search({ flagged: true }, { uid: true });
  assert.deepEqual(flagged, [uids[0]]);
  const withModSeq = await c.searchWithModSeq({ modSeq: baseModSeq + 1 }, { uid: true });
  assert.ok(withModSeq.numbers.includes(uids[0]!) && withModSeq.numbers.includes(uids[1]!));
  await c.logout();
  await other.logout();
});

test('COPY / MOVE with COPYUID, EXPUNGE as VANISHED under QRESYNC, TRYCREATE', async () => {
  const c = await connect();
  await c.create('From');
  await c.create('To');
  const u1 = (await c.append('From', 'Subject: a\r\n\r\na\r\n')).uid!;
  const u2 = (await c.append('From', 'Subject: b\r\n\r\nb\r\n')).uid!;
  await c.select('From');
  await assert.rejects(c.copy(u1, 'Missing', { uid: true }), (e: unknown) => e instanceof ImapNoError && e.code === 'TRYCREATE');
  const cp = await c.copy(u1, 'To', { uid: true });
  assert.equal(cp.uidMap?.size, 1);
  const vanished: number[] = [];
  c.on('vanished', (v) => vanished.push(...v.uids));
  const mv = await c.move([u1, u2], 'To', { uid: true });
  assert.deepEqual([...mv.uidMap!.keys()], [u1, u2]);
  const dest = [...mv.uidMap!.values()];
  assert.equal(new Set([...dest, ...cp.uidMap!.values()]).size, 3);
  assert.deepEqual(vanished.sort((a, b) => a - b), [u1, u2]);
  assert.equal(c.selected?.exists, 0);
  const st = await c.status('To');
  assert.equal(st.messages, 3);
  await c.logout();
});

test('BINARY sections, streamed download of a 2 MB message, ESEARCH', async () => {
  const c = await connect();
  await c.create('Big');
  const payload = Buffer.alloc(2 * 1024 * 1024);
  for (let i = 0; i < payload.length; i++) payload[i] = (i * 31) & 0xff;
  const b64 = payload.toString('base64').replace(/.{76}/g, '$&\r\n');
  const msg = Buffer.from(
    'Subject: big\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=zz\r\n\r\n' +
      '--zz\r\nContent-Type: text/plain\r\n\r\nsee attachment\r\n' +
      `--zz\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n${b64}\r\n--zz--\r\n`,
  );
  const { uid } = await c.append('Big', msg);
  await c.select('Big');
  const dl = await c.download(uid!);
  assert.ok(dl);
  const parts: Buffer[] = [];
  await new Promise<void>((resolve, reject) => {
    dl.content
      .pipe(
        new Writable({
          write(chunk: Buffer, _e, cb) {
            parts.push(chunk);
            cb();
          },
        }),
      )
      .on('finish', resolve)
      .on('error', reject);
  });
  assert.ok(Buffer.concat(parts).equals(msg));
  // BINARY[2] decodes the base64 on the server (RFC 3516).
  assert.ok(c.has('BINARY'));
  const bin = await c.download(uid!, '2', { binary: true });
  assert.ok(bin);
  const got: Buffer[] = [];
  for await (const chunk of bin.content) got.push(chunk as Buffer);
  assert.ok(Buffer.concat(got).equals(payload));
  const [m] = await c.fetchAll(uid!, { bodyStructure: true, binarySize: ['2'], sections: ['1'] }, { uid: true });
  assert.equal(m!.binarySizes?.['2'], payload.length);
  assert.equal(sectionData(m!, '1')?.toString(), 'see attachment');
  assert.deepEqual(m!.bodyStructure!.children!.map((p) => p.part), ['1', '2']);
  assert.ok(c.has('ESEARCH'));
  assert.deepEqual(await c.search({ larger: 1_000_000 }, { uid: true }), [uid]);
  await c.logout();
});

test('IDLE at Dovecot: another client appends, the watcher sees EXISTS; restart keeps the session alive', async () => {
  const watcher = await connect({ timeouts: { responseMs: 5000, idleRestartMs: 100 } });
  const writer = await connect();
  await writer.create('Idle');
  await watcher.select('Idle');
  const exists = new Promise<number>((resolve) => watcher.on('exists', (e) => resolve(e.count)));
  const ac = new AbortController();
  const idling = watcher.idle({ signal: ac.signal });
  // Let at least one restart happen (IDLE → DONE → OK → IDLE).
  await new Promise((r) => setTimeout(r, 250));
  await writer.append('Idle', 'Subject: wake\r\n\r\nup\r\n');
  assert.equal(await exists, 1);
  ac.abort();
  assert.equal(await idling, 'aborted');
  assert.equal(watcher.selected?.exists, 1);
  await watcher.logout();
  await writer.logout();
});

test('without ENABLE: no QRESYNC, EXPUNGE responses instead of VANISHED, CONDSTORE per SELECT', async () => {
  const c = await connect({ enable: [] });
  assert.equal(c.enabled.size, 0);
  await c.create('Plain');
  for (let i = 0; i < 3; i++) await c.append('Plain', `Subject: p${i}\r\n\r\n.\r\n`);
  const sel = await c.select('Plain', { condstore: true });
  assert.ok((sel.highestModSeq ?? 0) > 0);
  await assert.rejects(c.select('Plain', { qresync: { uidValidity: sel.uidValidity, modSeq: 1 } }), /QRESYNC is not enabled/);
  await c.select('Plain');
  await c.store('2', ['\\Deleted'], { silent: true });
  const seqs: number[] = [];
  c.on('expunge', (e) => seqs.push(e.seq));
  const ex = await c.expunge();
  assert.deepEqual(ex.expungedSeqs, [2]);
  assert.deepEqual(seqs, [2]);
  assert.equal(c.selected?.exists, 2);
  await c.logout();
});
