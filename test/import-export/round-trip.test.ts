// Import and export through the real store (SqliteStore): mbox → store → mbox byte for byte, a Maildir++
// tree and an fs tree → store → Maildir with flags, keywords, internal dates (mtimes) and folder names
// intact, a directory of mbox files per mailbox, and resuming after a crash on either side of the append.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { exportMail, importMail, type ExportOptions, type ImportOptions } from '../../src/cli/import-export.js';
import { CliError } from '../../src/cli/common.js';
import { asctime } from '../../src/mailfile/from-line.js';
import { provisionUser } from '../../src/store/provision.js';
import { openSqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import type { Store } from '../../src/store/types.js';

const quiet = { stderr: { write: () => true }, progress: 'none' as const };

function importOptions(o: Partial<ImportOptions>): ImportOptions {
  return {
    user: 'ann',
    mboxFormat: 'auto',
    trustContentLength: false,
    maildirLayout: 'auto',
    maildirDate: 'mtime',
    lineEndings: 'crlf',
    restart: false,
    batchSize: 25,
    progress: 'none',
    ...o,
  };
}

function exportOptions(o: Partial<ExportOptions>): ExportOptions {
  return { user: 'ann', mailboxes: [], mboxFormat: 'mboxrd', maildirLayout: 'maildir++', lineEndings: 'lf', force: false, progress: 'none', ...o };
}

async function withStore<T>(dir: string, fn: (store: Store) => Promise<T>): Promise<T> {
  const store = await openSqliteStore(dir);
  try {
    return await fn(store);
  } finally {
    await store.close();
  }
}

async function setup(): Promise<{ dir: string; data: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'petrel-ie-'));
  const data = join(dir, 'data');
  await withStore(data, async (s) => {
    await provisionUser(s, 'ann', 'x');
    await provisionUser(s, 'bob', 'x');
  });
  return { dir, data };
}

const KEYWORDS = ['$Label1', 'work', '$Forwarded', 'Later'];

/** One message as our mbox writer lays it out (so export must reproduce the file byte for byte). */
function mboxEntry(i: number): { text: string; flags: string[]; date: number; id: string } {
  const date = Date.UTC(2020, i % 12, 1 + (i % 28), i % 24, i % 60, (i * 7) % 60);
  const flags: string[] = [];
  if (i % 2 === 0) flags.push('\\Seen');
  if (i % 3 === 0) flags.push('\\Answered');
  if (i % 5 === 0) flags.push('\\Flagged');
  if (i % 7 === 0) flags.push('\\Draft');
  if (i % 11 === 0) flags.push('\\Deleted');
  const kws = KEYWORDS.filter((_, k) => (i >> k) % 3 === 0);
  const id = `<m${i}@example.org>`;
  let xStatus = '';
  if (flags.includes('\\Answered')) xStatus += 'A';
  if (flags.includes('\\Flagged')) xStatus += 'F';
  if (flags.includes('\\Draft')) xStatus += 'T';
  if (flags.includes('\\Deleted')) xStatus += 'D';
  const sender = i % 4 === 0 ? `s${i}@example.org` : 'MAILER-DAEMON';
  const text =
    `From ${sender} ${asctime(date)}\n` +
    (i % 4 === 0 ? `Return-Path: <s${i}@example.org>\n` : '') +
    `Subject: message ${i}\nMessage-ID: ${id}\n` +
    `Status: ${flags.includes('\\Seen') ? 'R' : ''}O\n` +
    (xStatus ? `X-Status: ${xStatus}\n` : '') +
    (kws.length ? `X-Keywords: ${kws.join(' ')}\n` : '') +
    `\nHello ${i}\n` +
    (i % 3 === 0 ? '\n>From a quoted line after a blank one\n>>From doubly quoted\n' : '') +
    (i % 5 === 0 ? '>>>From deep\nFrom not at a paragraph start? quoted anyway: no, this is mid-paragraph\n' : '') +
    (i % 6 === 0 ? '\n\n' : '') +
    '\n';
  return { text, flags: [...flags, ...kws], date, id };
}

test('mbox → store → mbox: byte-identical, with flags, keywords and internal dates in the store', async () => {
  const { dir, data } = await setup();
  try {
    const entries = Array.from({ length: 240 }, (_, i) => mboxEntry(i));
    // The mid-paragraph "From " line is not quoted in the input; our writer quotes it, so leave it out of
    // the byte comparison by writing it quoted in the source too (mboxrd).
    const source = entries.map((e) => e.text.replace('\nFrom not at', '\n>From not at')).join('');
    const mbox = join(dir, 'in.mbox');
    await writeFile(mbox, source);
    const summary = await withStore(data, (s) => importMail(s, importOptions({ mbox, mailbox: 'Archive/2020' }), quiet));
    assert.equal(summary.messages, 240);
    assert.equal(summary.format, 'mboxrd', 'auto-detected from the >>From lines');
    assert.deepEqual(summary.mailboxes, ['Archive/2020']);

    await withStore(data, async (s) => {
      const user = (await s.getUser('ann'))!;
      const mb = (await s.getMailbox(user.id, 'Archive/2020'))!;
      const msgs = await s.listMessages(mb.id);
      assert.equal(msgs.length, 240);
      msgs.forEach((m, i) => {
        assert.equal(m.internalDate, entries[i]!.date, `date of ${i}`);
        assert.deepEqual(new Set(m.flags), new Set(entries[i]!.flags), `flags of ${i}`);
      });
      const first = await s.readBlob(msgs[3]!.blobId, 0, msgs[3]!.size);
      const text = first.toString('latin1');
      assert.ok(!/[^\r]\n/.test(text), 'stored with CRLF line ends');
      assert.ok(!/^(Status|X-Status|X-Keywords):/m.test(text), 'mbox bookkeeping fields are not stored');
      assert.match(text, /\r\n\r\nFrom a quoted line after a blank one\r\n>From doubly quoted\r\n/);
    });

    const out = join(dir, 'out.mbox');
    const ex = await withStore(data, (s) => exportMail(s, exportOptions({ mbox: out, mailboxes: ['Archive/2020'] }), quiet));
    assert.equal(ex.messages, 240);
    assert.equal((await readFile(out)).toString('latin1'), source);

    // Exporting again refuses to overwrite without --force.
    await assert.rejects(
      withStore(data, (s) => exportMail(s, exportOptions({ mbox: out, mailboxes: ['Archive/2020'] }), quiet)),
      (err: unknown) => err instanceof CliError && /exists/.test(err.message),
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

interface TreeMessage {
  folder: string;
  name: string;
  body: string;
  mtime: number;
}

async function writeMaildirTree(root: string, layout: 'maildir++' | 'fs', messages: TreeMessage[], keywordFiles: Record<string, string>): Promise<void> {
  for (const m of messages) {
    const dir = m.folder === '' ? root : layout === 'maildir++' ? join(root, m.folder) : join(root, ...m.folder.split('/'));
    for (const sub of ['cur', 'new', 'tmp']) await mkdir(join(dir, sub), { recursive: true });
    const file = join(dir, m.name.includes(':2,') ? 'cur' : 'new', m.name);
    await writeFile(file, m.body);
    await utimes(file, m.mtime / 1000, m.mtime / 1000);
  }
  for (const [folder, text] of Object.entries(keywordFiles)) await writeFile(join(root, folder, 'dovecot-keywords'), text);
}

/** folder → sorted list of "flags|mtime|content" for every message of a Maildir tree (Maildir++). */
async function readTree(root: string, layout: 'maildir++' | 'fs'): Promise<Map<string, string[]>> {
  const out = new Map<string, string[]>();
  const visit = async (dir: string, name: string) => {
    const kwText = await readFile(join(dir, 'dovecot-keywords'), 'utf8').catch(() => '');
    const kw = new Map(kwText.split('\n').filter(Boolean).map((l) => [String.fromCharCode(97 + Number(l.split(' ')[0])), l.split(' ')[1]!]));
    const items: string[] = [];
    for (const sub of ['cur', 'new']) {
      for (const f of await readdir(join(dir, sub)).catch(() => [] as string[])) {
        const info = f.includes(':2,') ? f.slice(f.indexOf(':2,') + 3) : '';
        const letters = [...info].map((c) => (c >= 'a' && c <= 'z' ? kw.get(c) ?? `?${c}` : c)).sort();
        const st = await stat(join(dir, sub, f));
        const body = await readFile(join(dir, sub, f), 'latin1');
        items.push(`${letters.join(',')}|${Math.floor(st.mtimeMs / 1000)}|${body}`);
      }
    }
    out.set(name, items.sort());
  };
  await visit(root, 'INBOX');
  if (layout === 'maildir++') {
    for (const e of await readdir(root)) if (e.startsWith('.') && e.length > 1 && !e.startsWith('.dovecot')) await visit(join(root, e), e);
  } else {
    const walk = async (dir: string, prefix: string) => {
      for (const e of await readdir(dir, { withFileTypes: true })) {
        if (!e.isDirectory() || ['cur', 'new', 'tmp'].includes(e.name)) continue;
        await visit(join(dir, e.name), prefix + e.name);
        await walk(join(dir, e.name), prefix + e.name + '/');
      }
    };
    await walk(root, '');
  }
  return out;
}

function treeMessages(layout: 'maildir++' | 'fs'): TreeMessage[] {
  const folders =
    layout === 'maildir++'
      ? ['', '.Work', '.Work.Projects', '.Caf&AOk-', '.Empty']
      : ['', 'Work', 'Work/Projects', 'Café'];
  const messages: TreeMessage[] = [];
  let n = 0;
  for (const folder of folders) {
    if (folder === '.Empty') continue;
    for (let i = 0; i < 40; i++, n++) {
      const infos = ['S', 'RS', 'FS', 'DS', 'PS', 'T', '', 'Sa', 'Sab', 'Fb'];
      const info = infos[n % infos.length]!;
      const time = 1_600_000_000 + n * 3600;
      const name = n % 9 === 4 ? `${time}.M${n}P1.host` : `${time}.M${n}P1.host,S=100:2,${info}`;
      messages.push({
        folder,
        name,
        body: `Subject: ${folder || 'INBOX'} ${i}\nMessage-ID: <t${n}@example.org>\n\nbody ${n}\nFrom inside\n`,
        mtime: (time + 17) * 1000,
      });
    }
  }
  return messages;
}

for (const layout of ['maildir++', 'fs'] as const) {
  test(`Maildir tree (${layout}) → store → Maildir tree: folders, flags, keywords and dates intact`, async () => {
    const { dir, data } = await setup();
    try {
      const src = join(dir, 'Maildir');
      await mkdir(src);
      const messages = treeMessages(layout);
      const kwFolders = layout === 'maildir++' ? ['', '.Work', '.Work.Projects', '.Caf&AOk-'] : ['', 'Work', 'Work/Projects', 'Café'];
      await writeMaildirTree(src, layout, messages, Object.fromEntries(kwFolders.map((f) => [f, '0 $Label1\n1 work\n'])));
      if (layout === 'maildir++') await mkdir(join(src, '.Empty', 'cur'), { recursive: true });
      const summary = await withStore(data, (s) => importMail(s, importOptions({ maildir: src, maildirLayout: 'auto' }), quiet));
      assert.equal(summary.messages, messages.length);
      const names = layout === 'maildir++' ? ['INBOX', 'Café', 'Empty', 'Work', 'Work/Projects'] : ['INBOX', 'Café', 'Work', 'Work/Projects'];
      assert.deepEqual([...summary.mailboxes].sort(), [...names].sort());

      await withStore(data, async (s) => {
        const user = (await s.getUser('ann'))!;
        const mb = (await s.getMailbox(user.id, 'Work/Projects'))!;
        const msgs = await s.listMessages(mb.id);
        assert.equal(msgs.length, 40);
        // The first message of Work/Projects in the generator is n = 80.
        assert.equal(msgs[0]!.internalDate, (1_600_000_000 + 80 * 3600 + 17) * 1000, 'internal date = mtime');
        const flagged = msgs.find((m) => m.flags.includes('work'));
        assert.ok(flagged, 'keyword from dovecot-keywords');
        assert.ok(msgs.some((m) => m.flags.includes('$Forwarded')), 'P → $Forwarded');
        assert.ok(msgs.some((m) => m.flags.includes('\\Deleted') && !m.flags.includes('\\Seen')), 'T → \\Deleted');
        const inNew = msgs.filter((m) => m.flags.length === 0);
        assert.ok(inNew.length > 0, 'messages in new/ have no flags');
      });

      const out = join(dir, 'Out');
      const ex = await withStore(data, (s) =>
        exportMail(s, exportOptions({ maildir: out, maildirLayout: layout, mailboxes: names }), quiet),
      );
      assert.equal(ex.messages, messages.length);
      const before = await readTree(src, layout);
      const after = await readTree(out, layout);
      assert.deepEqual(after, before);

      // Exporting again writes nothing new (deterministic names) and changes nothing.
      const again = await withStore(data, (s) => exportMail(s, exportOptions({ maildir: out, maildirLayout: layout, mailboxes: names }), quiet));
      assert.equal(again.messages, 0);
      assert.equal(again.present, messages.length);
      assert.deepEqual(await readTree(out, layout), before);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
}

test('--maildir-date name takes the leading timestamp of the file name', async () => {
  const { dir, data } = await setup();
  try {
    const src = join(dir, 'Maildir');
    await writeMaildirTree(src, 'fs', [{ folder: '', name: '1500000000.M1P1.h:2,S', body: 'Subject: x\n\nx\n', mtime: 1_700_000_000_000 }], {});
    await withStore(data, (s) => importMail(s, importOptions({ maildir: src, maildirDate: 'name' }), quiet));
    await withStore(data, async (s) => {
      const inbox = (await s.getMailbox((await s.getUser('ann'))!.id, 'INBOX'))!;
      const [m] = await s.listMessages(inbox.id);
      assert.equal(m!.internalDate, 1_500_000_000_000);
      assert.deepEqual(m!.flags, ['\\Seen']);
    });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('all mailboxes to a directory of mbox files, and that directory imported into another account', async () => {
  const { dir, data } = await setup();
  try {
    const mbox = join(dir, 'in.mbox');
    await writeFile(mbox, Array.from({ length: 30 }, (_, i) => mboxEntry(i).text).join(''));
    await withStore(data, async (s) => {
      await importMail(s, importOptions({ mbox, mailbox: 'INBOX' }), quiet);
      await importMail(s, importOptions({ mbox, mailbox: 'Lists/Node', stateFile: join(dir, 'second.json') }), quiet);
    });
    const outDir = join(dir, 'export');
    const ex = await withStore(data, (s) => exportMail(s, exportOptions({ mbox: outDir }), quiet));
    assert.equal(ex.messages, 60);
    assert.deepEqual(
      ex.files.map((f) => f.slice(outDir.length + 1)).sort(),
      ['Archive.mbox', 'Drafts.mbox', 'INBOX.mbox', 'Junk.mbox', 'Lists.mbox', 'Lists/Node.mbox', 'Sent.mbox', 'Trash.mbox'],
    );
    assert.equal((await stat(join(outDir, 'Junk.mbox'))).size, 0, 'an empty mailbox is an empty file');

    const summary = await withStore(data, (s) => importMail(s, importOptions({ user: 'bob', mbox: outDir }), quiet));
    assert.equal(summary.messages, 60);
    await withStore(data, async (s) => {
      const bob = (await s.getUser('bob'))!;
      const names = (await s.listMailboxes(bob.id)).map((m) => m.name).sort();
      assert.deepEqual(names, ['Archive', 'Drafts', 'INBOX', 'Junk', 'Lists', 'Lists/Node', 'Sent', 'Trash']);
      const node = (await s.getMailbox(bob.id, 'Lists/Node'))!;
      const msgs = await s.listMessages(node.id);
      assert.equal(msgs.length, 30);
      assert.deepEqual(new Set(msgs[6]!.flags), new Set(mboxEntry(6).flags));
    });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

async function countById(store: Store, user: string, mailbox: string): Promise<Map<string, number>> {
  const u = (await store.getUser(user))!;
  const mb = (await store.getMailbox(u.id, mailbox))!;
  const counts = new Map<string, number>();
  for (const m of await store.listMessages(mb.id)) {
    const head = (await store.readBlob(m.blobId, 0, 400)).toString('latin1');
    const id = /Message-ID: (\S+)/.exec(head)?.[1] ?? '?';
    counts.set(id, (counts.get(id) ?? 0) + 1);
  }
  return counts;
}

for (const when of ['beforeAppend', 'afterAppend'] as const) {
  test(`a crash ${when === 'beforeAppend' ? 'before' : 'after'} a batch's append: the rerun neither loses nor duplicates`, async () => {
    const { dir, data } = await setup();
    try {
      const entries = Array.from({ length: 130 }, (_, i) => mboxEntry(i));
      const mbox = join(dir, 'in.mbox');
      await writeFile(mbox, entries.map((e) => e.text).join(''));
      class Crash extends Error {}
      await assert.rejects(
        withStore(data, (s) =>
          importMail(s, importOptions({ mbox, batchSize: 20 }), quiet, {
            [when]: (batch: number) => {
              if (batch === 2) throw new Crash('simulated crash');
            },
          }),
        ),
        Crash,
      );
      const state = JSON.parse(await readFile(`${mbox}.petrel-import.json`, 'utf8'));
      assert.ok(state.pending, 'the batch was recorded as pending');
      assert.equal(state.pending.blobIds.length, 20);
      const rerun = await withStore(data, (s) => importMail(s, importOptions({ mbox, batchSize: 20 }), quiet));
      assert.equal(rerun.totalMessages, 130);
      assert.equal(rerun.messages, when === 'beforeAppend' ? 130 - 40 : 130 - 60);
      const counts = await withStore(data, (s) => countById(s, 'ann', 'INBOX'));
      assert.equal(counts.size, 130);
      for (const e of entries) assert.equal(counts.get(e.id), 1, e.id);
      // Order is the file's order.
      await withStore(data, async (s) => {
        const inbox = (await s.getMailbox((await s.getUser('ann'))!.id, 'INBOX'))!;
        const dates = (await s.listMessages(inbox.id)).map((m) => m.internalDate);
        assert.deepEqual(dates, entries.map((e) => e.date));
      });
      // A third run: already done, nothing appended.
      const third = await withStore(data, (s) => importMail(s, importOptions({ mbox, batchSize: 20 }), quiet));
      assert.equal(third.alreadyDone, true);
      // Different options against the same record are refused.
      await assert.rejects(
        withStore(data, (s) => importMail(s, importOptions({ mbox, mailbox: 'Other' }), quiet)),
        (err: unknown) => err instanceof CliError && /records an import/.test(err.message),
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
}

test('a Maildir import resumes by file key after a crash', async () => {
  const { dir, data } = await setup();
  try {
    const src = join(dir, 'Maildir');
    const messages = treeMessages('maildir++');
    await writeMaildirTree(src, 'maildir++', messages, {});
    await assert.rejects(
      withStore(data, (s) =>
        importMail(s, importOptions({ maildir: src, batchSize: 15 }), quiet, {
          afterAppend: (b: number) => {
            if (b === 4) throw new Error('crash');
          },
        }),
      ),
    );
    const rerun = await withStore(data, (s) => importMail(s, importOptions({ maildir: src, batchSize: 15 }), quiet));
    assert.equal(rerun.totalMessages, messages.length);
    await withStore(data, async (s) => {
      for (const mailbox of ['INBOX', 'Work', 'Work/Projects', 'Café']) {
        const counts = await countById(s, 'ann', mailbox);
        assert.equal(counts.size, 40, mailbox);
        for (const [id, c] of counts) assert.equal(c, 1, `${mailbox} ${id}`);
      }
    });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

for (const thread of [false, true]) {
  test(`bulk path${thread ? ' (search documents by the indexing thread)' : ''}: small messages grouped, a big one streamed in between, file order kept; SEARCH exact during the import, indexed at its end`, async () => {
    const { dir, data } = await setup();
    try {
      // 1.5 MiB body: above the import's in-memory limit (1 MiB), so it streams through beginIngest while
      // the small messages of the same batch wait for prepareMany.
      const bigLine = 'big body line with nothing special in it\n';
      const big = bigLine.repeat(Math.ceil((1.5 * 2 ** 20) / bigLine.length));
      const texts = Array.from({ length: 12 }, (_, i) =>
        `From a@example.org ${asctime(Date.UTC(2021, 0, 1 + i))}\nSubject: s${i}\nMessage-ID: <b${i}@example.org>\n\n` +
        (i === 5 ? big : `word${i} quetzalword${i}\n`) + '\n',
      );
      const mbox = join(dir, 'in.mbox');
      await writeFile(mbox, texts.join(''));
      const seen: number[][] = [];
      const summary = await withStore(data, (s) =>
        importMail(s, importOptions({ mbox, batchSize: 4 }), thread ? { ...quiet, indexerDataDir: data } : quiet, {
          afterAppend: async (batch) => {
            // Appended, documents deferred: the messages are SEARCH candidates already.
            if (batch !== 0) return;
            const inbox = (await s.getMailbox((await s.getUser('ann'))!.id, 'INBOX'))!;
            seen.push((await s.searchTextCandidates!(inbox.id, 'body', 'QUETZALWORD2')) ?? []);
          },
        }),
      );
      assert.equal(summary.messages, 12);
      assert.ok(seen[0]!.includes(3), 'message 3 (uid 3) is a candidate while its document waits');
      await withStore(data, async (s) => {
        const inbox = (await s.getMailbox((await s.getUser('ann'))!.id, 'INBOX'))!;
        const msgs = await s.listMessages(inbox.id);
        assert.deepEqual(msgs.map((m) => m.internalDate), texts.map((_, i) => Date.UTC(2021, 0, 1 + i)));
        const bigMsg = (await s.readBlob(msgs[5]!.blobId, 0, msgs[5]!.size)).toString('latin1');
        assert.ok(bigMsg.endsWith(big.replace(/\n/g, '\r\n')), 'the streamed message is whole');
        assert.equal(msgs[5]!.size > 2 ** 20, true);
        // Indexed before importMail returned: nothing pending, and the index answers exactly.
        assert.equal(await s.indexPending!(), 0);
        assert.deepEqual(await s.searchTextCandidates!(inbox.id, 'body', 'QUETZALWORD7'), [8]);
      });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
}
