// Selective download (issue 5, item 4): text parts only (RFC 1733's "fetch only the text segment"),
// headers + BODYSTRUCTURE only, a size cap and a date window; what was left on the server is fetched on
// demand — through the library (ReplicaReader) and through a server on the replica (the fetchMissing
// hook) — and then kept. With the server unreachable the local server answers NO [UNAVAILABLE].
import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { after, before, describe, test } from 'node:test';
import { ImapClient } from '../../src/client/imap-client.js';
import { startServer, type RunningServer } from '../../src/server/server.js';
import { syncOnce } from '../../src/sync/engine.js';
import { ContentFetcher, ReplicaReader } from '../../src/sync/on-demand.js';
import type { AccountSettings } from '../../src/sync/types.js';
import { startTestServer, TEST_PASSWORD, type TestServer } from '../helpers/server.js';
import { startTcpProxy, type TcpProxy } from '../helpers/tcp-proxy.js';
import { accountFor, connect, tempReplica } from './sync-helpers.js';

const TEXT = 'Meeting notes: the plan is agreed.\r\n'.repeat(55); // ~2 KB
const VIDEO = Buffer.alloc(600 * 1024, 7).toString('base64').replace(/.{76}/g, '$&\r\n');

function withAttachment(subject: string): Buffer {
  return Buffer.from(
    `From: ann@example.org\r\nTo: bob@example.org\r\nSubject: ${subject}\r\nDate: Tue, 24 Nov 2026 10:00:00 +0000\r\n` +
      `Message-ID: <${subject.replace(/\W/g, '')}@example.org>\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="b1"\r\n\r\n` +
      `--b1\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n${TEXT}\r\n--b1\r\nContent-Type: video/mp4; name="talk.mp4"\r\n` +
      `Content-Disposition: attachment; filename="talk.mp4"\r\nContent-Transfer-Encoding: base64\r\n\r\n${VIDEO}\r\n--b1--\r\n`,
  );
}

let server: TestServer;
let account: AccountSettings;

before(async () => {
  server = await startTestServer();
  account = accountFor(server);
  const c = await connect(account);
  await c.append('INBOX', withAttachment('talk recording'));
  await c.append('INBOX', Buffer.from('Subject: old\r\nMessage-ID: <old@example.org>\r\n\r\nold mail\r\n'), { internalDate: new Date('2020-01-02T00:00:00Z') });
  await c.append('INBOX', Buffer.from('Subject: small\r\nMessage-ID: <small@example.org>\r\n\r\nsmall mail\r\n'));
  await c.logout();
});
after(async () => {
  await server.stop();
});

async function remoteFetch(): Promise<string[]> {
  const c = await connect(account);
  try {
    await c.examine('INBOX');
    const raw: string[] = [];
    const res = await c.fetchAll('1:*', { uid: true, bodyStructure: true, size: true, sections: [{ section: '1', peek: true }, { section: '2', peek: true }] }, { uid: true });
    for (const m of res) raw.push(JSON.stringify([m.size, m.bodyStructure, m.sections.map((s) => s.data?.toString('base64') ?? null)]));
    return raw;
  } finally {
    await c.logout();
  }
}

describe('selective download', () => {
  let replica: string;
  let local: RunningServer;
  let proxy: TcpProxy;
  let fetcher: ContentFetcher;
  let reader: ReplicaReader;
  const calls: number[] = [];

  before(async () => {
    replica = await tempReplica();
    proxy = await startTcpProxy(server.port);
    const s = await syncOnce({
      replicaDir: replica,
      account,
      mailboxes: ['INBOX'],
      rules: [{ pattern: '*', policy: { mode: 'text', maxTextBytes: 8 * 1024, since: new Date('2025-01-01T00:00:00Z') } }],
    });
    assert.equal(s.downloaded, 2, 'the old message is outside the date window');
    assert.ok(s.bytesDown < 20_000, `only text and headers were downloaded (${s.bytesDown} bytes)`);
    reader = await ReplicaReader.open(replica, account.user);
    fetcher = new ContentFetcher(replica, reader.store, { ...account, port: proxy.port });
    local = await startServer({
      store: reader.store,
      host: '127.0.0.1',
      imapPort: 0,
      imapsPort: null,
      tls: null,
      fetchMissing: async (req) => {
        calls.push(req.uid);
        await fetcher.fetchMissing(req);
      },
    });
  });
  after(async () => {
    await local.close();
    await fetcher.close();
    await reader.close();
    await proxy.close();
    await rm(replica, { recursive: true, force: true });
  });

  test('the replica answers BODYSTRUCTURE, sizes and the text part exactly like the server, without asking it', async () => {
    const c = await ImapClient.connect({ host: '127.0.0.1', port: local.imapPort!, tls: 'none', auth: { user: account.user, password: TEST_PASSWORD } });
    await c.examine('INBOX');
    const mine = await c.fetchAll('1', { uid: true, bodyStructure: true, size: true, envelope: true, sections: [{ section: '1', peek: true }] }, { uid: false });
    await c.logout();
    const r = await connect(account);
    await r.examine('INBOX');
    const theirs = await r.fetchAll('1', { uid: true, bodyStructure: true, size: true, envelope: true, sections: [{ section: '1', peek: true }] }, { uid: false });
    await r.logout();
    assert.deepEqual(mine[0]!.bodyStructure, theirs[0]!.bodyStructure);
    assert.deepEqual(mine[0]!.envelope, theirs[0]!.envelope);
    assert.equal(mine[0]!.size, theirs[0]!.size);
    assert.ok(mine[0]!.sections[0]!.data!.equals(theirs[0]!.sections[0]!.data!));
    assert.deepEqual(calls, [], 'nothing was fetched on demand');
    assert.equal(await reader.isComplete('INBOX', 1), false);
  });

  test('with the network down, the attachment is NO [UNAVAILABLE] and the session goes on', async () => {
    proxy.cut();
    try {
      const c = await ImapClient.connect({ host: '127.0.0.1', port: local.imapPort!, tls: 'none', auth: { user: account.user, password: TEST_PASSWORD } });
      await c.examine('INBOX');
      await assert.rejects(c.fetchAll('1', { sections: [{ section: '2', peek: true }] }), (err: Error & { code?: string }) => err.code === 'UNAVAILABLE');
      assert.equal((await c.fetchAll('1', { size: true }))[0]!.size, withAttachment('talk recording').length);
      await c.logout();
    } finally {
      proxy.restore();
    }
  });

  test('reading the attachment fetches the message once, then it is served from the replica', async () => {
    const c = await ImapClient.connect({ host: '127.0.0.1', port: local.imapPort!, tls: 'none', auth: { user: account.user, password: TEST_PASSWORD } });
    await c.examine('INBOX');
    const before = calls.length;
    const got = await c.fetchAll('1', { sections: [{ section: '2', peek: true }] });
    const again = await c.fetchAll('1', { sections: [{ section: '', peek: true }] });
    await c.logout();
    assert.equal(calls.length - before, 1, 'one on-demand download');
    const remote = await remoteFetch();
    assert.equal(got[0]!.sections[0]!.data!.toString('base64'), JSON.parse(remote[0]!)[2][1]);
    assert.ok(again[0]!.sections[0]!.data!.equals(withAttachment('talk recording')));
    assert.equal(await reader.isComplete('INBOX', 1), true);
    // A resync after the completion changes nothing.
    const s = await syncOnce({ replicaDir: replica, account, mailboxes: ['INBOX'] });
    assert.equal(s.downloaded + s.uploaded + s.flagsToLocal + s.flagsToRemote, 0, JSON.stringify(s.actions));
  });
});

test('headers-only and size-capped messages are fetched by the library on demand', async () => {
  const replica = await tempReplica();
  try {
    const s = await syncOnce({ replicaDir: replica, account, mailboxes: ['INBOX'], rules: [{ pattern: 'INBOX', policy: { mode: 'full', maxMessageBytes: 100_000 } }] });
    assert.equal(s.downloaded, 3);
    const offline = await ReplicaReader.open(replica, account.user);
    // Local UIDs follow the order of arrival: find the big and a small message by size.
    const inbox = (await offline.store.getMailbox(offline.replica.user.id, 'INBOX'))!;
    const msgs = await offline.store.listMessages(inbox.id);
    const big = msgs.find((m) => m.size > 100_000)!.uid;
    const small = msgs.find((m) => m.size < 100_000)!.uid;
    try {
      assert.equal(await offline.isComplete('INBOX', big), false, 'the big message was stored as headers + structure');
      assert.equal(await offline.isComplete('INBOX', small), true, 'a small one in full');
      await assert.rejects(offline.getMessage('INBOX', big), /not downloaded/);
    } finally {
      await offline.close();
    }
    const online = await ReplicaReader.open(replica, account.user, account);
    try {
      assert.ok((await online.getMessage('INBOX', big)).equals(withAttachment('talk recording')));
      assert.equal(await online.isComplete('INBOX', big), true);
    } finally {
      await online.close();
    }
  } finally {
    await rm(replica, { recursive: true, force: true });
  }
});
