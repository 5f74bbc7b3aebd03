// Writes Maildir trees (https://cr.yp.to/proto/maildir.html, Maildir++ as Courier/Dovecot lay it out): each
// message goes to tmp/, is fsynced, gets its mtime set to the internal date, and is renamed into cur/ with
// its flags in the ":2," suffix; the directory is fsynced after a batch. File names are unique and
// deterministic — "<internal-date seconds>.V<uidvalidity>U<uid>.<host>,S=<size>:2,<flags>" — so running an
// export again skips what is already there instead of duplicating it. Keywords get lowercase letters through
// the folder's dovecot-keywords file (at most 26 per folder; Dovecot's scheme).
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { mkdir, open, readdir, rename, unlink, utimes, writeFile, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { maildirInfo } from './flags.js';
import { encodeLevel, readDovecotKeywords, type MaildirLayout } from './maildir.js';
import { LfConverter } from './line-splitter.js';

/** The host part of a Maildir name, with "/" ":" and "," escaped as the Maildir description asks. */
export function maildirHost(host = hostname()): string {
  return (host || 'localhost').replace(/\//g, '\\057').replace(/:/g, '\\072').replace(/,/g, '\\054');
}

export function maildirKey(internalDate: number, uidValidity: number, uid: number, host: string): string {
  return `${Math.floor(internalDate / 1000)}.V${uidValidity}U${uid}.${host}`;
}

/** The directory of mailbox `name` in a tree. Throws for names the layout cannot hold. */
export function folderPathFor(root: string, layout: MaildirLayout, name: string): string {
  if (name === 'INBOX' || name === '') return root;
  const levels = name.split('/');
  if (layout === 'maildir++') return join(root, '.' + levels.map(encodeLevel).join('.'));
  for (const l of levels) {
    if (l.startsWith('.') || ['cur', 'new', 'tmp'].includes(l)) {
      throw new Error(`mailbox "${name}" cannot be written in the fs layout (level "${l}"); use --maildir-layout maildir++`);
    }
  }
  return join(root, ...levels);
}

async function fsyncDir(path: string): Promise<void> {
  const fh = await open(path, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

export class MaildirFolderWriter {
  private keywordLetters = new Map<string, string>(); // lower-case keyword → letter
  private keywordsDirty = false;
  private existing = new Set<string>();
  private synced = true;
  private seq = 0;

  private constructor(
    readonly path: string,
    private readonly isSub: boolean,
    private readonly lineEndings: 'lf' | 'keep',
  ) {}

  /** Creates the folder (cur, new, tmp; maildirfolder for Maildir++ sub-folders) and reads what is there. */
  static async open(path: string, options: { subfolder: boolean; lineEndings: 'lf' | 'keep' }): Promise<MaildirFolderWriter> {
    const w = new MaildirFolderWriter(path, options.subfolder, options.lineEndings);
    for (const d of ['cur', 'new', 'tmp']) await mkdir(join(path, d), { recursive: true, mode: 0o700 });
    if (w.isSub) await writeFile(join(path, 'maildirfolder'), '', { flag: 'a', mode: 0o600 });
    for (const [letter, kw] of await readDovecotKeywords(path)) w.keywordLetters.set(kw.toLowerCase(), letter);
    for (const d of ['cur', 'new']) {
      for (const name of await readdir(join(path, d))) w.existing.add(name.split(/[:;!,]/)[0]!);
    }
    return w;
  }

  has(key: string): boolean {
    return this.existing.has(key);
  }

  /** Marks a key as taken before its (concurrent) write starts. */
  claim(key: string): void {
    this.existing.add(key);
  }

  private letterFor(keyword: string): string | null {
    const lower = keyword.toLowerCase();
    const known = this.keywordLetters.get(lower);
    if (known) return known;
    const used = new Set(this.keywordLetters.values());
    for (let i = 0; i < 26; i++) {
      const letter = String.fromCharCode(97 + i);
      if (!used.has(letter)) {
        this.keywordLetters.set(lower, letter);
        this.keywordSpelling.set(letter, keyword);
        this.keywordsDirty = true;
        return letter;
      }
    }
    return null;
  }
  private keywordSpelling = new Map<string, string>();

  private saving: Promise<void> = Promise.resolve();

  /** Writes dovecot-keywords (before the files that use its letters become visible); one save at a time. */
  private saveKeywords(): Promise<void> {
    if (!this.keywordsDirty) return this.saving;
    this.keywordsDirty = false;
    this.saving = this.saving.then(() => this.writeKeywords());
    return this.saving;
  }

  private async writeKeywords(): Promise<void> {
    const existing = await readDovecotKeywords(this.path);
    const byLetter = new Map(existing);
    for (const [letter, kw] of this.keywordSpelling) byLetter.set(letter, kw);
    const lines = [...byLetter.entries()]
      .sort((a, b) => (a[0] < b[0] ? -1 : 1))
      .map(([letter, kw]) => `${letter.charCodeAt(0) - 97} ${kw}\n`)
      .join('');
    const tmp = join(this.path, `.dovecot-keywords.${process.pid}.${randomBytes(4).toString('hex')}`);
    const fh = await open(tmp, 'w', 0o600);
    try {
      await fh.writeFile(lines);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, join(this.path, 'dovecot-keywords'));
  }

  /**
   * Writes one message: tmp/<key> → fsync → mtime → rename to cur/<key>,S=<size>:2,<flags>.
   * Returns the bytes written and the keywords that found no letter (lost).
   */
  async write(
    key: string,
    flags: readonly string[],
    internalDate: number,
    chunks: AsyncIterable<Buffer>,
  ): Promise<{ bytes: number; lost: string[] }> {
    const { info, lost } = maildirInfo(flags, (kw) => this.letterFor(kw));
    await this.saveKeywords();
    const tmp = join(this.path, 'tmp', `${key}.${process.pid}.${this.seq++}`);
    let fh: FileHandle | null = await open(tmp, 'w', 0o600);
    let bytes = 0;
    try {
      const conv = this.lineEndings === 'lf' ? new LfConverter() : null;
      for await (const chunk of chunks) {
        const data = conv ? conv.push(chunk) : chunk;
        if (data.length > 0) {
          await fh.write(data);
          bytes += data.length;
        }
      }
      if (conv) {
        const tail = conv.finish();
        if (tail.length > 0) {
          await fh.write(tail);
          bytes += tail.length;
        }
      }
      await fh.sync();
      await fh.close();
      fh = null;
      const seconds = internalDate / 1000;
      await utimes(tmp, seconds, seconds);
      await rename(tmp, join(this.path, 'cur', `${key},S=${bytes}:2,${info}`));
    } catch (err) {
      if (fh) await fh.close().catch(() => {});
      await unlink(tmp).catch(() => {});
      throw err;
    }
    this.existing.add(key);
    this.synced = false;
    return { bytes, lost };
  }

  /** fsyncs cur/ so the renames are durable. */
  async sync(): Promise<void> {
    if (this.synced) return;
    await fsyncDir(join(this.path, 'cur'));
    this.synced = true;
  }
}
