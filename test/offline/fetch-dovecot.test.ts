// `petrel fetch` against Dovecot (Debian's dovecot-imapd and dovecot-pop3d on loopback, issue 6 item 5):
// POP3 (RFC 1939 UIDL/RETR/DELE/QUIT) and IMAP (RFC 9051, UIDPLUS UID EXPUNGE RFC 4315) download-and-delete,
// --keep reruns, and the kill -9 test at seeded random points with a rerun to completion.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ImapClient } from '../../src/client/index.js';
import { ensureDebianPackages } from '../helpers/debian.js';
import { ensureDovecotInstalled, findDovecot, startDovecot, type DovecotServer } from '../helpers/dovecot.js';
import { REPO_ROOT } from '../helpers/server.js';
import { killAndRerun, makeMessage, readMaildir, runFetchChild, sortedHex } from './fetch-helpers.js';

const SEED = Number(process.env.PETREL_FETCH_KILL_SEED ?? Date.now() % 1_000_000);
let dovecot: DovecotServer | null = null;
let work: string;

before(async () => {
  let installed = await ensureDovecotInstalled();
  for (let i = 0; !installed && i < 240; i++) {
    await new Promise((r) => setTimeout(r, 500));
    installed = findDovecot() !== null;
  }
  assert.ok(installed, 'Dovecot is needed and could not be installed');
  await ensureDebianPackages(['dovecot-pop3d']);
  dovecot = await startDovecot({ pop3: true });
  assert.ok(dovecot, 'Dovecot did not start');
  work = await mkdtemp(join(tmpdir(), 'petrel-fetch-dovecot-'));
  console.log(`# fetch/Dovecot ${dovecot.version} kill seed ${SEED}`);
});

after(async () => {
  await dovecot?.stop();
  if (work) await rm(work, { recursive: true, force: true });
});

async function imap(): Promise<ImapClient> {
  const d = dovecot!;
  return ImapClient.connect({ host: d.host, port: d.port, tls: 'none', auth: { user: d.user, password: d.password } });
}

async function seed(messages: Buffer[]): Promise<void> {
  const c = await imap();
  try {
    for (const m of messages) await c.append('INBOX', m);
  } finally {
    await c.logout();
  }
}

/** The INBOX's messages on Dovecot, as fetched over IMAP. */
async function serverMessages(): Promise<Buffer[]> {
  const c = await imap();
  try {
    const sel = await c.select('INBOX');
    if (sel.exists === 0) return [];
    const out: Buffer[] = [];
    for (const m of await c.fetchAll('1:*', { uid: true })) {
      const d = await c.download(m.uid!);
      const chunks: Buffer[] = [];
      for await (const ch of d!.content) chunks.push(ch as Buffer);
      out.push(Buffer.concat(chunks));
    }
    return out;
  } finally {
    await c.logout();
  }
}

function args(protocol: 'pop3' | 'imap'): string[] {
  const d = dovecot!;
  const port = protocol === 'pop3' ? d.pop3Port! : d.port;
  return ['--protocol', protocol, '--host', d.host, '--port', String(port), '--tls', 'none', '--user', d.user, '--password-env', 'FETCH_PW'];
}

const env = (): Record<string, string> => ({ FETCH_PW: dovecot!.password });

describe('petrel fetch against Dovecot', () => {
  test('POP3 with --keep, then POP3 deleting: byte-identical copies, Dovecot emptied', async () => {
    const msgs = Array.from({ length: 10 }, (_, i) => makeMessage(i, i * 100));
    await seed(msgs);
    const dest = join(work, 'pop3');
    const kept = await runFetchChild(REPO_ROOT, [...args('pop3'), '--to', `maildir:${dest}`, '--keep'], env(), null);
    assert.equal(kept.code, 0, kept.stderr);
    assert.equal((await serverMessages()).length, 10);
    const del = await runFetchChild(REPO_ROOT, [...args('pop3'), '--to', `maildir:${dest}`], env(), null);
    assert.equal(del.code, 0, del.stderr);
    assert.deepEqual(sortedHex(await readMaildir(dest)), sortedHex(msgs));
    assert.equal((await serverMessages()).length, 0);
  });

  test('IMAP --keep then IMAP deleting: only the new message is fetched, Dovecot emptied', async () => {
    const msgs = Array.from({ length: 5 }, (_, i) => makeMessage(50 + i));
    await seed(msgs);
    const dest = join(work, 'imap');
    const r1 = await runFetchChild(REPO_ROOT, [...args('imap'), '--to', `maildir:${dest}`, '--keep'], env(), null);
    assert.equal(r1.code, 0, r1.stderr);
    await seed([makeMessage(60)]);
    const r2 = await runFetchChild(REPO_ROOT, [...args('imap'), '--to', `maildir:${dest}`], env(), null);
    assert.equal(r2.code, 0, r2.stderr);
    assert.deepEqual(sortedHex(await readMaildir(dest)), sortedHex([...msgs, makeMessage(60)]));
    assert.equal((await serverMessages()).length, 0);
  });

  for (const protocol of ['imap', 'pop3'] as const) {
    test(`kill -9 at random points (${protocol}): every message exactly once, Dovecot emptied`, async () => {
      const msgs = Array.from({ length: 120 }, (_, i) => makeMessage(1000 + i, (i * 53) % 1500));
      await seed(msgs);
      const dest = join(work, `kill-${protocol}`);
      const { killed, final } = await killAndRerun({
        repoRoot: REPO_ROOT,
        args: [...args(protocol), '--to', `maildir:${dest}`],
        env: env(),
        journal: join(dest, 'petrel-fetch.journal'),
        journalBytes: msgs.length * 2 * 200,
      messages: msgs.length,
        kills: 5,
        seed: SEED + (protocol === 'pop3' ? 7 : 0),
      });
      assert.equal(final.code, 0, final.stderr);
      assert.ok(killed >= 1);
      assert.deepEqual(sortedHex(await readMaildir(dest)), sortedHex(msgs));
      assert.equal((await serverMessages()).length, 0);
    });
  }
});

describe('petrel fetch against Dovecot without UIDPLUS (one EXPUNGE at the end)', () => {
  let plain: DovecotServer | null = null;
  before(async () => {
    plain = await startDovecot({ imapSettings: { imap_capability: 'IMAP4rev1 LITERAL+ SASL-IR ENABLE IDLE NAMESPACE UNSELECT' } });
    assert.ok(plain, 'Dovecot did not start');
  });
  after(async () => {
    await plain?.stop();
  });

  test('kill -9 at random points between \\Deleted and EXPUNGE: every message once, mailbox emptied', async () => {
    const d = plain!;
    const c = await ImapClient.connect({ host: d.host, port: d.port, tls: 'none', auth: { user: d.user, password: d.password } });
    assert.equal(c.has('UIDPLUS'), false, 'UIDPLUS is switched off');
    const msgs = Array.from({ length: 80 }, (_, i) => makeMessage(2000 + i, (i * 31) % 900));
    for (const m of msgs) await c.append('INBOX', m);
    await c.logout();
    const dest = join(work, 'no-uidplus');
    const { killed, final } = await killAndRerun({
      repoRoot: REPO_ROOT,
      args: ['--protocol', 'imap', '--host', d.host, '--port', String(d.port), '--tls', 'none', '--user', d.user, '--password-env', 'FETCH_PW', '--to', `maildir:${dest}`],
      env: { FETCH_PW: d.password },
      journal: join(dest, 'petrel-fetch.journal'),
      journalBytes: msgs.length * 2 * 200,
      messages: msgs.length,
      kills: 4,
      seed: SEED + 13,
    });
    assert.equal(final.code, 0, final.stderr);
    assert.ok(killed >= 1);
    assert.deepEqual(sortedHex(await readMaildir(dest)), sortedHex(msgs));
    const v = await ImapClient.connect({ host: d.host, port: d.port, tls: 'none', auth: { user: d.user, password: d.password } });
    try {
      assert.equal((await v.select('INBOX')).exists, 0);
    } finally {
      await v.logout();
    }
  });
});
