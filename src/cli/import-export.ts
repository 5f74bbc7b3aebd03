// `petrel import` and `petrel export`: mail files in and out of an account (RFC 1733's offline model needs
// mail to move between a server and local files). mbox (RFC 4155, mboxo/mboxrd) and Maildir/Maildir++ are
// read and written by src/mailfile; this file moves the messages through the store's one ingest path
// (ARCHITECTURE decision 3: prepare → append, as IMAP APPEND, RFC 9051 §6.3.12) in its bulk form, as the
// sync's download does: small messages grouped per batch (Store.prepareMany), big ones streamed
// (beginIngest), appended with deferIndex and their search documents written (indexPending) before the
// command ends. It keeps the resume record (src/mailfile/import-state.ts) and reports progress. Internal dates and flags (system
// flags and keywords, RFC 9051 §2.3.2-§2.3.3) are carried both ways.
import { createReadStream } from 'node:fs';
import { mkdir, open, readdir, readFile, rename, stat, unlink, type FileHandle } from 'node:fs/promises';
import { basename, dirname, join, relative, resolve } from 'node:path';
import type { Command } from 'commander';
import { isPartial } from '../mime/partial.js';
import { ImapError } from '../server/errors.js';
import { ancestors, normalizeInbox, validateNewName } from '../server/mailbox-names.js';
import { StoreError, type AppendItem, type IngestWriter, type MailboxRecord, type PreparedMessage, type Store } from '../store/types.js';
import { compareNames, ImportStateError, StateFile, type ImportPosition, type ImportState } from '../mailfile/import-state.js';
import { CrlfConverter } from '../mailfile/line-splitter.js';
import {
  compareKeys,
  entryFlags,
  entryInternalDate,
  listMaildirFolders,
  listMaildirMessages,
  readDovecotKeywords,
  type MaildirEntry,
  type MaildirLayout,
} from '../mailfile/maildir.js';
import { folderPathFor, maildirHost, maildirKey, MaildirFolderWriter } from '../mailfile/maildir-writer.js';
import { detectMboxFormat, readMboxEvents } from '../mailfile/mbox-file.js';
import { MboxFormatError, type MboxFormat } from '../mailfile/mbox-parser.js';
import { MboxEntryEncoder } from '../mailfile/mbox-writer.js';
import { formatBytes, Progress, type ProgressMode } from '../mailfile/progress.js';
import { BackgroundIndexer } from '../sync/index-worker.js';
import { checkUserName, CliError, compareMailboxNames, loadConfig, requireUser, withCommonOptions, withStore, type CommonOptions } from './common.js';
import type { CliEnvironment, TextSink } from './environment.js';

// ------------------------------------------------------------------------------------------ options

export interface ImportOptions {
  user: string;
  mbox?: string;
  maildir?: string;
  /** Target mailbox (mbox) or the mailbox the tree's root maps to (Maildir; sub-folders go below it). */
  mailbox?: string;
  mboxFormat: MboxFormat | 'auto';
  trustContentLength: boolean;
  maildirLayout: MaildirLayout | 'auto';
  maildirDate: 'mtime' | 'name';
  lineEndings: 'crlf' | 'keep';
  /** Path of the resume record; default "<source>.petrel-import.json". */
  stateFile?: string;
  restart: boolean;
  batchSize: number;
  progress: ProgressMode;
  progressIntervalMs?: number;
}

export interface ImportSummary {
  /** Messages appended by this run (a resumed run counts only its own). */
  messages: number;
  bytes: number;
  skipped: number;
  mailboxes: string[];
  elapsedMs: number;
  /** Totals over all runs of this import. */
  totalMessages: number;
  alreadyDone: boolean;
  format?: MboxFormat;
  warnings: number;
}

/** Test hooks: called around the append of each batch (a throw simulates a crash at that point). */
export interface ImportHooks {
  beforeAppend?(batchIndex: number): void | Promise<void>;
  afterAppend?(batchIndex: number): void | Promise<void>;
}

export interface ExportOptions {
  user: string;
  mbox?: string;
  maildir?: string;
  mailboxes: string[];
  mboxFormat: MboxFormat;
  maildirLayout: MaildirLayout;
  lineEndings: 'lf' | 'keep';
  force: boolean;
  progress: ProgressMode;
  progressIntervalMs?: number;
}

export interface ExportSummary {
  messages: number;
  bytes: number;
  /** Maildir: messages already present from an earlier export (same deterministic name). */
  present: number;
  mailboxes: string[];
  files: string[];
  elapsedMs: number;
  lostKeywords: number;
  /** A replica's partly downloaded messages (docs/sync.md): their bytes are not all here, so they are left out. */
  skippedPartial: number;
}

interface Io {
  stderr: TextSink;
  progress: ProgressMode;
  progressIntervalMs?: number;
  /**
   * Import: the data directory of an SQLite store (blobs in it): the deferred search documents are then
   * written by a worker thread on its own connection while the import goes on (src/sync/index-worker.ts,
   * as the sync's download does), on the second core. Without it they are written at the end.
   */
  indexerDataDir?: string;
}

// ------------------------------------------------------------------------------------------ commands

interface RawImportOptions extends CommonOptions {
  user: string;
  mbox?: string;
  maildir?: string;
  mailbox?: string;
  mboxFormat: string;
  trustContentLength?: boolean;
  maildirLayout: string;
  maildirDate: string;
  lineEndings: string;
  state?: string;
  restart?: boolean;
  batchSize: string;
  progress: string;
  progressInterval: string;
}

interface RawExportOptions extends CommonOptions {
  user: string;
  mbox?: string;
  maildir?: string;
  mailbox?: string[];
  mboxFormat: string;
  maildirLayout: string;
  lineEndings: string;
  force?: boolean;
  progress: string;
  progressInterval: string;
}

function oneOf<T extends string>(value: string, allowed: readonly T[], option: string): T {
  if ((allowed as readonly string[]).includes(value)) return value as T;
  throw new CliError(`${option} must be one of ${allowed.join(', ')} (got "${value}")`, 2);
}

function progressMode(env: CliEnvironment, value: string): ProgressMode {
  const mode = oneOf(value, ['auto', 'bar', 'lines', 'none'] as const, '--progress');
  if (mode !== 'auto') return mode;
  return (env.stderr as { isTTY?: boolean }).isTTY === true ? 'bar' : 'lines';
}

function progressInterval(raw: string): number {
  const seconds = Number(raw);
  if (!Number.isFinite(seconds) || seconds < 0 || seconds > 3600) {
    throw new CliError('--progress-interval must be a number of seconds from 0 to 3600', 2);
  }
  return Math.round(seconds * 1000);
}

function sourceOption(opts: { mbox?: string; maildir?: string }, verb: string): void {
  if ((opts.mbox === undefined) === (opts.maildir === undefined)) {
    throw new CliError(`${verb} needs exactly one of --mbox and --maildir`, 2);
  }
}

export function addImportExportCommands(program: Command, env: CliEnvironment): void {
  withCommonOptions(
    program
      .command('import')
      .description('import an mbox file (or a directory of them) or a Maildir tree into an account; resumable')
      .requiredOption('--user <name>', 'the account')
      .option('--mbox <path>', 'an mbox file, or a directory of *.mbox files (one mailbox each)')
      .option('--maildir <dir>', 'a Maildir (its root is INBOX; sub-folders become mailboxes)')
      .option('--mailbox <name>', 'target mailbox (mbox) or the mailbox the root maps to (default INBOX)')
      .option('--mbox-format <fmt>', 'mbox quoting: mboxo, mboxrd or auto', 'auto')
      .option('--trust-content-length', 'take Content-Length headers as the body length (mboxcl2)')
      .option('--maildir-layout <layout>', 'folder layout: maildir++ (.Sub.Folder), fs (Sub/Folder) or auto', 'auto')
      .option('--maildir-date <source>', 'internal date from the file: mtime or name', 'mtime')
      .option('--line-endings <mode>', 'crlf (bare LF → CRLF, as IMAP wants) or keep', 'crlf')
      .option('--state <file>', 'resume record (default <source>.petrel-import.json)')
      .option('--restart', 'ignore an existing resume record and import everything again')
      .option('--batch-size <n>', 'messages per store transaction', '100')
      .option('--progress <mode>', 'auto (a bar on a terminal, else lines), bar, lines or none', 'auto')
      .option('--progress-interval <seconds>', 'seconds between progress lines', '2'),
  ).action(async (raw: RawImportOptions) => {
    checkUserName(raw.user);
    sourceOption(raw, 'import');
    const batchSize = Number(raw.batchSize);
    if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > 1000) {
      throw new CliError('--batch-size must be a whole number from 1 to 1000', 2);
    }
    const opts: ImportOptions = {
      user: raw.user,
      mbox: raw.mbox === undefined ? undefined : resolve(env.cwd, raw.mbox),
      maildir: raw.maildir === undefined ? undefined : resolve(env.cwd, raw.maildir),
      mailbox: raw.mailbox === undefined ? undefined : checkMailboxName(raw.mailbox),
      mboxFormat: oneOf(raw.mboxFormat, ['mboxo', 'mboxrd', 'auto'] as const, '--mbox-format'),
      trustContentLength: raw.trustContentLength === true,
      maildirLayout: oneOf(raw.maildirLayout, ['maildir++', 'fs', 'auto'] as const, '--maildir-layout'),
      maildirDate: oneOf(raw.maildirDate, ['mtime', 'name'] as const, '--maildir-date'),
      lineEndings: oneOf(raw.lineEndings, ['crlf', 'keep'] as const, '--line-endings'),
      stateFile: raw.state === undefined ? undefined : resolve(env.cwd, raw.state),
      restart: raw.restart === true,
      batchSize,
      progress: progressMode(env, raw.progress),
      progressIntervalMs: progressInterval(raw.progressInterval),
    };
    const config = await loadConfig(env, raw);
    // The indexing thread opens the SQLite store by its data directory (not with a separate blob directory).
    const indexerDataDir = config.store === null && config.blobDir === null ? config.dataDir : undefined;
    const summary = await withStore(env, config, false, (store) =>
      importMail(store, opts, { stderr: env.stderr, progress: opts.progress, progressIntervalMs: opts.progressIntervalMs, indexerDataDir }),
    );
    env.stderr.write(importSummaryText(summary, opts));
  });

  withCommonOptions(
    program
      .command('export')
      .description("export an account's mailboxes (or some) to mbox files or a Maildir tree")
      .requiredOption('--user <name>', 'the account')
      .option('--mbox <path>', 'with one --mailbox: that file; otherwise a directory with one <name>.mbox per mailbox')
      .option('--maildir <dir>', 'a Maildir tree (INBOX is its root)')
      .option('--mailbox <name...>', 'the mailboxes to export (default: all)')
      .option('--mbox-format <fmt>', 'mbox quoting: mboxrd or mboxo', 'mboxrd')
      .option('--maildir-layout <layout>', 'maildir++ (.Sub.Folder) or fs (Sub/Folder)', 'maildir++')
      .option('--line-endings <mode>', 'lf (CRLF → LF, as mail files on Unix have) or keep', 'lf')
      .option('--force', 'replace existing mbox files')
      .option('--progress <mode>', 'auto (a bar on a terminal, else lines), bar, lines or none', 'auto')
      .option('--progress-interval <seconds>', 'seconds between progress lines', '2'),
  ).action(async (raw: RawExportOptions) => {
    checkUserName(raw.user);
    sourceOption(raw, 'export');
    const opts: ExportOptions = {
      user: raw.user,
      mbox: raw.mbox === undefined ? undefined : resolve(env.cwd, raw.mbox),
      maildir: raw.maildir === undefined ? undefined : resolve(env.cwd, raw.maildir),
      mailboxes: (raw.mailbox ?? []).map(normalizeInbox),
      mboxFormat: oneOf(raw.mboxFormat, ['mboxo', 'mboxrd'] as const, '--mbox-format'),
      maildirLayout: oneOf(raw.maildirLayout, ['maildir++', 'fs'] as const, '--maildir-layout'),
      lineEndings: oneOf(raw.lineEndings, ['lf', 'keep'] as const, '--line-endings'),
      force: raw.force === true,
      progress: progressMode(env, raw.progress),
      progressIntervalMs: progressInterval(raw.progressInterval),
    };
    const config = await loadConfig(env, raw);
    const summary = await withStore(env, config, false, (store) => exportMail(store, opts, { stderr: env.stderr, progress: opts.progress, progressIntervalMs: opts.progressIntervalMs }));
    env.stderr.write(exportSummaryText(summary, opts));
  });
}

function checkMailboxName(raw: string): string {
  const name = normalizeInbox(raw);
  try {
    validateNewName(name);
  } catch (err) {
    if (err instanceof ImapError) throw new CliError(`invalid mailbox name "${raw}": ${err.message}`, 2);
    throw err;
  }
  return name;
}

function rate(n: number, ms: number): string {
  return ms > 0 ? `${Math.round((n * 1000) / ms)}` : '-';
}

export function importSummaryText(s: ImportSummary, opts: ImportOptions): string {
  const source = opts.mbox ?? opts.maildir ?? '';
  if (s.alreadyDone) {
    return `petrel: ${source} was already imported (${s.totalMessages} messages); --restart imports it again\n`;
  }
  const secs = (s.elapsedMs / 1000).toFixed(1);
  let text =
    `Imported ${s.messages} messages (${formatBytes(s.bytes)}) into ${s.mailboxes.length} mailbox` +
    `${s.mailboxes.length === 1 ? '' : 'es'} of ${opts.user} in ${secs} s: ` +
    `${rate(s.messages, s.elapsedMs)} messages/s, ${formatBytes(Math.round((s.bytes * 1000) / Math.max(1, s.elapsedMs)))}/s`;
  if (s.format) text += `; mbox format ${s.format}`;
  if (s.totalMessages !== s.messages) text += `; ${s.totalMessages} in all, with earlier runs`;
  if (s.skipped > 0) text += `; ${s.skipped} skipped`;
  if (s.warnings > 0) text += `; ${s.warnings} warnings`;
  return text + '.\n';
}

export function exportSummaryText(s: ExportSummary, opts: ExportOptions): string {
  const target = opts.mbox ?? opts.maildir ?? '';
  let text =
    `Exported ${s.messages} messages (${formatBytes(s.bytes)}) from ${s.mailboxes.length} mailbox` +
    `${s.mailboxes.length === 1 ? '' : 'es'} of ${opts.user} to ${target} in ${(s.elapsedMs / 1000).toFixed(1)} s: ` +
    `${rate(s.messages, s.elapsedMs)} messages/s`;
  if (s.present > 0) text += `; ${s.present} were already there`;
  if (s.lostKeywords > 0) text += `; ${s.lostKeywords} keywords had no Maildir letter left (26 per folder) and were dropped`;
  if (s.skippedPartial > 0) {
    text += `; ${s.skippedPartial} partly downloaded messages of this replica were left out (read them once through petrel serve --sync-account to complete them)`;
  }
  return text + '.\n';
}

// ------------------------------------------------------------------------------------------ import

/** Blob writes in flight during an import; parallel fsyncs cost little more than one. */
const MAX_IN_FLIGHT = 32;

/** A source unit: one mbox file or one Maildir folder, with the mailbox it goes to. */
interface Unit {
  name: string;
  path: string;
  mailbox: string;
  /** mbox: the file size. */
  size: number;
  /** Maildir: the files. */
  entries?: MaildirEntry[];
}

function targetName(prefix: string | undefined, relative: string): string {
  if (relative === '') return prefix ?? 'INBOX';
  const name = prefix === undefined ? relative : `${prefix}/${relative}`;
  return normalizeInbox(name);
}

async function startsWithFrom(path: string): Promise<boolean> {
  const fh = await open(path, 'r');
  try {
    const buf = Buffer.alloc(5);
    const { bytesRead } = await fh.read(buf, 0, 5, 0);
    return bytesRead === 5 && buf.toString('latin1') === 'From ';
  } finally {
    await fh.close();
  }
}

/** The mbox files of a directory tree: "*.mbox" and any file starting with "From " (Thunderbird's
 *  "Name" files with "Name.sbd/" sub-directories work too). "A/B.mbox" → mailbox "A/B". */
async function mboxDirectoryUnits(root: string, prefix: string | undefined): Promise<Unit[]> {
  const units: Unit[] = [];
  const walk = async (dir: string, depth: number): Promise<void> => {
    if (depth > 64) return;
    for (const e of await readdir(dir, { withFileTypes: true })) {
      if (e.name.startsWith('.')) continue;
      const path = join(dir, e.name);
      if (e.isDirectory()) {
        await walk(path, depth + 1);
        continue;
      }
      if (!e.isFile() || e.name.endsWith('.petrel-import.json') || e.name.endsWith('.msf')) continue;
      if (!e.name.endsWith('.mbox') && !(await startsWithFrom(path))) continue;
      const rel = relative(root, path).split(/[\\/]/);
      const levels = rel.map((level, i) => (i < rel.length - 1 ? level.replace(/\.sbd$/, '') : level.replace(/\.mbox$/, '')));
      const name = levels.join('/');
      units.push({ name: rel.join('/'), path, mailbox: targetName(prefix, name), size: (await stat(path)).size });
    }
  };
  await walk(root, 0);
  units.sort((a, b) => compareNames(a.name, b.name));
  return units;
}

function isDone(position: ImportPosition | null, unit: Unit): boolean {
  return position !== null && compareNames(unit.name, position.unit) < 0;
}

/** Imports a source into an account. Exported for tests (with hooks); the CLI calls it. */
export async function importMail(store: Store, opts: ImportOptions, io: Io, hooks: ImportHooks = {}): Promise<ImportSummary> {
  const started = Date.now();
  const user = await requireUser(store, opts.user);
  const kind = opts.mbox !== undefined ? 'mbox' : 'maildir';
  const source = (opts.mbox ?? opts.maildir)!;
  let sourceStat;
  try {
    sourceStat = await stat(source);
  } catch {
    throw new CliError(`cannot read ${source}: no such file or directory`);
  }
  if (kind === 'maildir' && !sourceStat.isDirectory()) throw new CliError(`${source} is not a directory`);
  const stateFile = new StateFile(opts.stateFile ?? `${source.replace(/[\\/]+$/, '')}.petrel-import.json`);

  let state: ImportState | null;
  try {
    state = opts.restart ? null : await stateFile.load();
  } catch (err) {
    if (err instanceof ImportStateError) throw new CliError(`${err.message}; remove it or give --restart`);
    throw err;
  }
  if (state && (state.kind !== kind || state.source !== source || state.user !== opts.user || state.target !== (opts.mailbox ?? null))) {
    throw new CliError(
      `${stateFile.path} records an import of ${state.source} for ${state.user}` +
        `${state.target ? ` into ${state.target}` : ''}; give the same options to resume it, --restart to start over, or --state FILE`,
    );
  }
  const summary: ImportSummary = {
    messages: 0,
    bytes: 0,
    skipped: 0,
    mailboxes: [],
    elapsedMs: 0,
    totalMessages: state?.messages ?? 0,
    alreadyDone: false,
    warnings: 0,
  };
  if (state?.done) {
    summary.alreadyDone = true;
    return summary;
  }

  // The units, in order.
  let units: Unit[];
  let format: MboxFormat | undefined;
  if (kind === 'mbox') {
    units = sourceStat.isDirectory()
      ? await mboxDirectoryUnits(source, opts.mailbox)
      : [{ name: '', path: source, mailbox: opts.mailbox ?? 'INBOX', size: sourceStat.size }];
    if (state?.mboxFormat) format = state.mboxFormat;
    else if (opts.mboxFormat !== 'auto') format = opts.mboxFormat;
    else {
      format = 'mboxo';
      for (const u of units) if ((await detectMboxFormat(u.path)).doubleQuoted) format = 'mboxrd';
    }
    summary.format = format;
  } else {
    const { folders } = await listMaildirFolders(source, opts.maildirLayout);
    units = [];
    for (const f of folders) {
      units.push({ name: f.name, path: f.path, mailbox: targetName(opts.mailbox, f.name), size: 0, entries: await listMaildirMessages(f.path) });
    }
  }
  for (const u of units) {
    try {
      validateNewName(u.mailbox);
    } catch (err) {
      if (err instanceof ImapError) throw new CliError(`cannot import ${u.path} into "${u.mailbox}": ${err.message}`);
      throw err;
    }
  }

  state ??= {
    version: 1,
    kind,
    source,
    user: opts.user,
    target: opts.mailbox ?? null,
    mboxFormat: format,
    position: null,
    pending: null,
    done: false,
    messages: 0,
    bytes: 0,
    skipped: 0,
    startedAt: started,
  };
  const st: ImportState = state;

  // A batch left pending by a crash: appended or not?
  if (st.pending) {
    const p = st.pending;
    const mb = await store.getMailbox(user.id, p.mailbox);
    let appended = false;
    if (mb && mb.uidValidity === p.uidValidity) {
      const later = (await store.listMessages(mb.id)).filter((m) => m.uid >= p.uidNext).map((m) => m.blobId);
      appended = containsRun(later, p.blobIds);
    }
    if (appended) {
      st.position = p.position;
      st.messages += p.messages;
      st.bytes += p.bytes;
    }
    st.pending = null;
  }
  await stateFile.save(st);

  // Progress totals.
  const total =
    kind === 'mbox' ? units.reduce((n, u) => n + u.size, 0) : units.reduce((n, u) => n + (u.entries?.length ?? 0), 0);
  let doneBefore = 0; // progress units of the units already finished
  const progress = new Progress({
    sink: io.stderr,
    mode: io.progress,
    unit: kind === 'mbox' ? 'bytes' : 'messages',
    total,
    label: 'import',
    intervalMs: io.progressIntervalMs,
  });
  const warn = (text: string) => {
    summary.warnings++;
    progress.end();
    io.stderr.write(`petrel: warning: ${text}\n`);
  };

  const skipped = () => {
    summary.skipped++;
    st.skipped++;
  };
  let batchIndex = 0;
  const mailboxCache = new Map<string, MailboxRecord>();
  const ensureMailbox = async (name: string): Promise<MailboxRecord> => {
    const cached = mailboxCache.get(name);
    if (cached) return cached;
    for (const level of [...ancestors(name), name]) {
      if (await store.getMailbox(user.id, level)) continue;
      try {
        await store.createMailbox(user.id, level);
        await store.setSubscribed(user.id, level, true);
      } catch (err) {
        if (!(err instanceof StoreError && err.code === 'ALREADYEXISTS')) throw err;
      }
    }
    const mb = await store.getMailbox(user.id, name);
    if (!mb) throw new CliError(`cannot create mailbox "${name}"`);
    mailboxCache.set(name, mb);
    if (!summary.mailboxes.includes(name)) summary.mailboxes.push(name);
    return mb;
  };

  /**
   * Collects the messages of one mailbox; appends them, recording the batch as pending first. Small
   * messages wait in memory and go to the blob store together at the flush (Store.prepareMany: fsyncs
   * grouped, one lock; the store then reads threading headers and search text from the buffers); big ones
   * are streamed (Store.beginIngest) as they are read.
   */
  class Batch {
    private items: Array<{ prepared: Promise<PreparedMessage> | null; data: Buffer | null; flags: string[]; internalDate: number | undefined }> = [];
    private position: ImportPosition | null = null;
    private inFlight: Array<Promise<PreparedMessage>> = [];
    private buffered = 0;
    constructor(private readonly mailbox: MailboxRecord) {}

    get size(): number {
      return this.items.length;
    }

    /** A streamed message (its blob write already under way). */
    async add(prepared: Promise<PreparedMessage>, flags: string[], internalDate: number | undefined, position: ImportPosition): Promise<void> {
      // Keep up to MAX_IN_FLIGHT blob writes (each ends with fsyncs) in flight: they overlap with each
      // other and with reading the next messages.
      prepared.catch(() => {});
      this.items.push({ prepared, data: null, flags, internalDate });
      this.position = position;
      this.inFlight.push(prepared);
      if (this.inFlight.length > MAX_IN_FLIGHT) await this.inFlight.shift();
      if (this.items.length >= opts.batchSize) await this.flush();
    }

    /** A whole small message in memory (up to BUFFERED_MESSAGE bytes): written at the flush. */
    async addBuffer(data: Buffer, flags: string[], internalDate: number | undefined, position: ImportPosition): Promise<void> {
      this.items.push({ prepared: null, data, flags, internalDate });
      this.position = position;
      this.buffered += data.length;
      if (this.items.length >= opts.batchSize || this.buffered >= MAX_BUFFERED_BATCH) await this.flush();
    }

    /** Marks progress past a message that is not imported (skipped). */
    skip(position: ImportPosition): void {
      this.position = position;
    }

    async flush(): Promise<void> {
      const items = this.items;
      const position = this.position;
      this.items = [];
      this.inFlight = [];
      this.buffered = 0;
      if (position === null) return;
      this.position = null;
      if (items.length === 0) {
        st.position = position;
        await stateFile.save(st);
        return;
      }
      // The buffered ones in one group (fsynced before the pending record and the append refer to them).
      const datas = items.flatMap((i) => (i.data !== null ? [i.data] : []));
      const written = datas.length > 0 ? await prepareBuffers(store, datas) : [];
      let w = 0;
      const prepared = await Promise.all(items.map((i) => (i.prepared !== null ? i.prepared : Promise.resolve(written[w++]!))));
      const appendItems: AppendItem[] = prepared.map((message, k) => ({
        message,
        flags: items[k]!.flags,
        internalDate: items[k]!.internalDate,
      }));
      const mb = await store.getMailboxById(this.mailbox.id);
      if (!mb) throw new CliError(`mailbox "${this.mailbox.name}" disappeared during the import`);
      const bytes = prepared.reduce((n, m) => n + m.size, 0);
      st.pending = {
        mailbox: mb.name,
        uidValidity: mb.uidValidity,
        uidNext: mb.uidNext,
        blobIds: prepared.map((m) => m.blobId),
        position,
        messages: prepared.length,
        bytes,
      };
      await stateFile.save(st);
      await hooks.beforeAppend?.(batchIndex);
      // The full-text documents are left for later (append's deferIndex: the blobs are marked "not yet
      // indexed", SEARCH takes them as candidates meanwhile and stays exact); indexPending() writes them
      // in bigger transactions before the import ends (below), or the store's upkeep after a crash.
      await store.append(mb.id, appendItems, { deferIndex: true });
      indexer?.kick();
      await hooks.afterAppend?.(batchIndex);
      batchIndex++;
      // Committed; the record says so with the next save (a crash before it is resolved from `pending`).
      st.pending = null;
      st.position = position;
      st.messages += prepared.length;
      st.bytes += bytes;
      summary.messages += prepared.length;
      summary.bytes += bytes;
    }
  }

  // The thread that writes the deferred search documents meanwhile (see Io.indexerDataDir).
  let indexer: BackgroundIndexer | null = null;
  const gated = writeGateOf(store);
  if (io.indexerDataDir !== undefined && gated && store.indexPending) {
    indexer = BackgroundIndexer.start(io.indexerDataDir);
    // The import's write transactions and the thread's hand the SQLite write lock over (index-worker.ts).
    gated.setWriteGate(indexer.gate);
  }
  try {
    for (const unit of units) {
      if (isDone(st.position, unit)) {
        doneBefore += kind === 'mbox' ? unit.size : (unit.entries?.length ?? 0);
        continue;
      }
      const resumeAt = st.position !== null && st.position.unit === unit.name ? st.position : null;
      const mailbox = await ensureMailbox(unit.mailbox);
      const batch = new Batch(mailbox);
      if (kind === 'mbox') {
        await importMboxUnit(unit, resumeAt?.offset ?? 0, format!, batch);
        doneBefore += unit.size;
      } else {
        await importMaildirUnit(unit, resumeAt?.key ?? null, batch);
        doneBefore += unit.entries?.length ?? 0;
      }
      await batch.flush();
    }
  } catch (err) {
    if (indexer) {
      gated?.setWriteGate(null);
      await indexer.stop();
      indexer = null;
    }
    throw err;
  } finally {
    progress.end();
  }

  async function importMboxUnit(unit: Unit, startOffset: number, fmt: MboxFormat, batch: Batch): Promise<void> {
    if (startOffset >= unit.size && startOffset > 0) {
      batch.skip({ unit: unit.name, offset: startOffset });
      return;
    }
    // A message is held in memory (`parts`) until it passes BUFFERED_MESSAGE bytes; then it is streamed.
    let writer = null as IngestWriter | null;
    let parts: Buffer[] = [];
    let flags: string[] = [];
    let date: number | null = null;
    let size = 0;
    let startOfMessage = 0;
    const put = async (data: Buffer): Promise<void> => {
      if (data.length === 0) return;
      size += data.length;
      if (writer === null && size <= BUFFERED_MESSAGE) {
        parts.push(data);
        return;
      }
      if (writer === null) {
        writer = store.beginIngest();
        for (const p of parts) await writer.write(p);
        parts = [];
      }
      await writer.write(data);
    };
    try {
      for await (const events of readMboxEvents(unit.path, {
        format: fmt,
        trustContentLength: opts.trustContentLength,
        crlf: opts.lineEndings === 'crlf',
        startOffset,
      })) {
        for (const ev of events) {
          switch (ev.type) {
            case 'begin':
              writer = null;
              parts = [];
              flags = [];
              date = ev.internalDate;
              size = 0;
              startOfMessage = ev.offset;
              break;
            case 'header':
              flags = ev.flags;
              if (ev.invalidKeywords.length > 0) {
                warn(`message at offset ${startOfMessage} of ${unit.path}: keywords ${ev.invalidKeywords.map((k) => JSON.stringify(k)).join(', ')} are not valid IMAP keywords and were dropped`);
              }
              date ??= ev.date;
              await put(ev.data);
              break;
            case 'body':
              await put(ev.data);
              break;
            case 'end': {
              const w = writer;
              writer = null;
              const position = { unit: unit.name, offset: ev.offset };
              if (size === 0) {
                skipped();
                warn(`empty message at offset ${startOfMessage} of ${unit.path} skipped`);
                batch.skip(position);
              } else if (w !== null) {
                await batch.add(w.finish(), flags, date ?? undefined, position);
              } else {
                await batch.addBuffer(Buffer.concat(parts, size), flags, date ?? undefined, position);
              }
              parts = [];
              progress.update(doneBefore + ev.offset, summary.messages + batch.size, summary.bytes);
              break;
            }
          }
        }
      }
    } catch (err) {
      if (writer) await writer.abort().catch(() => {});
      if (err instanceof MboxFormatError) {
        const where = startOffset > 0 ? ` (resuming at offset ${startOffset}: has the file changed? --restart starts over)` : '';
        throw new CliError(`${unit.path}: ${err.message}${where}`);
      }
      throw err;
    }
  }

  async function importMaildirUnit(unit: Unit, afterKey: string | null, batch: Batch): Promise<void> {
    const keywords = await readDovecotKeywords(unit.path);
    const all = unit.entries ?? [];
    const todo = afterKey === null ? all : all.filter((e) => compareKeys(e.key, afterKey) > 0);
    let done = all.length - todo.length;
    // Read ahead: the reads queue in the thread pool between the blob fsyncs instead of after them.
    const loads: Array<Promise<LoadedEntry> | undefined> = [];
    const load = (i: number) => {
      const entry = todo[i];
      if (entry && !loads[i]) {
        const p = loadEntry(unit, entry);
        p.catch(() => {});
        loads[i] = p;
      }
    };
    for (let i = 0; i < todo.length; i++) {
      for (let k = i; k < i + READ_AHEAD; k++) load(k);
      const entry = todo[i]!;
      const loaded = await loads[i]!;
      loads[i] = undefined;
      done++;
      const position = { unit: unit.name, key: entry.key };
      if (loaded === null) {
        warn(`${entry.file} disappeared during the import; skipped`);
        skipped();
        batch.skip(position);
        continue;
      }
      const { file, info, stats: st0 } = loaded;
      if (st0.size === 0) {
        warn(`${file} is empty; skipped`);
        skipped();
        batch.skip(position);
        continue;
      }
      const parsed = entryFlags({ ...entry, info }, keywords);
      if (parsed.unknown.length > 0) warn(`${file}: unknown flag letters ${parsed.unknown.join('')} ignored (no dovecot-keywords entry)`);
      if (parsed.invalid.length > 0) warn(`${file}: keywords ${parsed.invalid.join(', ')} are not valid IMAP keywords and were dropped`);
      const internalDate = entryInternalDate(entry, st0.mtimeMs, opts.maildirDate);
      if (loaded.data !== null && loaded.data.length <= BUFFERED_MESSAGE) {
        const data = opts.lineEndings === 'crlf' ? new CrlfConverter().push(loaded.data) : loaded.data;
        await batch.addBuffer(data, parsed.flags, internalDate, position);
        progress.update(doneBefore + done, summary.messages + batch.size, summary.bytes);
        continue;
      }
      const writer = store.beginIngest();
      try {
        const conv = opts.lineEndings === 'crlf' ? new CrlfConverter() : null;
        // Small files in one read (one thread-pool job instead of four), big ones streamed.
        const chunks: AsyncIterable<Buffer> | Buffer[] =
          loaded.data !== null ? [loaded.data] : createReadStream(file, { highWaterMark: 256 * 1024 });
        for await (const chunk of chunks) {
          const data = conv ? conv.push(chunk) : chunk;
          if (data.length > 0) await writer.write(data);
        }
      } catch (err) {
        await writer.abort().catch(() => {});
        throw err;
      }
      await batch.add(writer.finish(), parsed.flags, internalDate, position);
      progress.update(doneBefore + done, summary.messages + batch.size, summary.bytes);
    }
    const last = todo[todo.length - 1];
    if (last) batch.skip({ unit: unit.name, key: last.key });
  }

  // The documents the appends deferred (and any a killed earlier run left) are written before the import
  // reports its end, so SEARCH uses the index for all of them from here on (it was exact before too):
  // the thread's rest, then here whatever it left (should it have failed).
  if (indexer) {
    const bg = indexer;
    indexer = null;
    await bg.finish().catch((err: unknown) => warn(err instanceof Error ? err.message : String(err)));
    gated?.setWriteGate(null);
  }
  await store.indexPending?.();
  st.done = true;
  st.pending = null;
  await stateFile.save(st);
  summary.elapsedMs = Date.now() - started;
  summary.totalMessages = st.messages;
  // Every target counts, also those whose units were finished by an earlier run.
  for (const u of units) if (!summary.mailboxes.includes(u.mailbox)) summary.mailboxes.push(u.mailbox);
  return summary;
}

const READ_AHEAD = 16;

type WriteGate = { enter(): void; leave(): void };
/** The SQLite store's write gate (SqliteStore.setWriteGate), when the store has one. */
function writeGateOf(store: Store): { setWriteGate(gate: WriteGate | null): void } | null {
  const s = store as Partial<{ setWriteGate(gate: WriteGate | null): void }>;
  return typeof s.setWriteGate === 'function' ? (s as { setWriteGate(gate: WriteGate | null): void }) : null;
}
/** Messages up to this size are held in memory and written in groups (Store.prepareMany); bigger ones stream. */
const BUFFERED_MESSAGE = 1 << 20;
/** A batch holding this many bytes of such messages is flushed before it reaches --batch-size. */
const MAX_BUFFERED_BATCH = 32 << 20;

/** Whole messages into the blob store: grouped (Store.prepareMany) where the store can, else a few at a time. */
async function prepareBuffers(store: Store, datas: Buffer[]): Promise<PreparedMessage[]> {
  if (store.prepareMany) return store.prepareMany(datas);
  const out = new Array<PreparedMessage>(datas.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < datas.length) {
      const i = next++;
      out[i] = await store.prepare(datas[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(MAX_IN_FLIGHT, datas.length) }, worker));
  return out;
}

interface LoadedEntryData {
  file: string;
  info: string;
  stats: { size: number; mtimeMs: number };
  /** The bytes of a small file (up to 1 MiB); null: stream it. */
  data: Buffer | null;
}
type LoadedEntry = LoadedEntryData | null;

/** Stats and (when small) reads a Maildir file; finds it again by key when a mail program renamed it. */
async function loadEntry(unit: Unit, entry: MaildirEntry): Promise<LoadedEntry> {
  const attempt = async (file: string): Promise<LoadedEntryData> => {
    const stats = await stat(file);
    const data = stats.size <= 1 << 20 ? await readFile(file) : null;
    return { file, info: entry.info, stats: { size: data ? data.length : stats.size, mtimeMs: stats.mtimeMs }, data };
  };
  try {
    return await attempt(entry.file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  // Moved (new/ → cur/, or a flag change): look for the same key.
  const again = (await listMaildirMessages(unit.path)).find((e) => e.key === entry.key);
  if (!again) return null;
  try {
    return { ...(await attempt(again.file)), info: again.info };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
}

/** Whether `needle` occurs as a contiguous run in `hay`. */
function containsRun(hay: string[], needle: string[]): boolean {
  if (needle.length === 0) return false;
  outer: for (let i = 0; i + needle.length <= hay.length; i++) {
    for (let k = 0; k < needle.length; k++) if (hay[i + k] !== needle[k]) continue outer;
    return true;
  }
  return false;
}

// ------------------------------------------------------------------------------------------ export

/** A buffered, fsynced file written under a temporary name and renamed into place at the end. */
class AtomicFile {
  private parts: Buffer[] = [];
  private buffered = 0;
  bytes = 0;
  private constructor(
    private readonly fh: FileHandle,
    private readonly tmp: string,
    readonly path: string,
  ) {}

  static async create(path: string): Promise<AtomicFile> {
    await mkdir(dirname(path), { recursive: true, mode: 0o700 });
    const tmp = join(dirname(path), `.${basename(path)}.petrel-tmp-${process.pid}`);
    return new AtomicFile(await open(tmp, 'w', 0o600), tmp, path);
  }

  async write(b: Buffer): Promise<void> {
    if (b.length === 0) return;
    this.parts.push(b);
    this.buffered += b.length;
    this.bytes += b.length;
    if (this.buffered >= 256 * 1024) await this.drain();
  }

  private async drain(): Promise<void> {
    if (this.buffered === 0) return;
    const data = Buffer.concat(this.parts, this.buffered);
    this.parts = [];
    this.buffered = 0;
    await this.fh.write(data);
  }

  async commit(): Promise<void> {
    await this.drain();
    await this.fh.sync();
    await this.fh.close();
    await rename(this.tmp, this.path);
    const dir = await open(dirname(this.path), 'r');
    try {
      await dir.sync();
    } finally {
      await dir.close();
    }
  }

  async discard(): Promise<void> {
    await this.fh.close().catch(() => {});
    await unlink(this.tmp).catch(() => {});
  }
}

/** The file of mailbox `name` when exporting several to a directory: "A/B" → DIR/A/B.mbox. */
export function mboxPathFor(dir: string, name: string): string {
  return join(dir, ...name.split('/').slice(0, -1), `${name.split('/').pop()!}.mbox`);
}

/** Exports mailboxes of an account. Exported for tests; the CLI calls it. */
export async function exportMail(store: Store, opts: ExportOptions, io: Io): Promise<ExportSummary> {
  const started = Date.now();
  const user = await requireUser(store, opts.user);
  const all = (await store.listMailboxes(user.id)).sort((a, b) => compareMailboxNames(a.name, b.name));
  let boxes: MailboxRecord[];
  if (opts.mailboxes.length === 0) boxes = all;
  else {
    boxes = [];
    for (const name of opts.mailboxes) {
      const mb = all.find((m) => m.name === name);
      if (!mb) throw new CliError(`${opts.user} has no mailbox "${name}"`);
      if (!boxes.includes(mb)) boxes.push(mb);
    }
  }
  const summary: ExportSummary = { messages: 0, bytes: 0, present: 0, mailboxes: boxes.map((b) => b.name), files: [], elapsedMs: 0, lostKeywords: 0, skippedPartial: 0 };
  const lists = new Map<number, Awaited<ReturnType<Store['listMessages']>>>();
  let total = 0;
  for (const b of boxes) {
    let list = await store.listMessages(b.id);
    // A replica's partial messages hold synthetic bytes: exporting them would write mail that is not the mail.
    const partial = new Set<number>();
    for (let i = 0; i < list.length; i += 500) {
      for (const r of await store.getMessages(b.id, list.slice(i, i + 500).map((m) => m.uid))) if (isPartial(r.mime)) partial.add(r.uid);
    }
    if (partial.size > 0) {
      list = list.filter((m) => !partial.has(m.uid));
      summary.skippedPartial += partial.size;
    }
    lists.set(b.id, list);
    total += list.length;
  }
  const progress = new Progress({ sink: io.stderr, mode: io.progress, unit: 'messages', total, label: 'export', intervalMs: io.progressIntervalMs });
  let done = 0;
  const blobChunks = (blobId: string, size: number) => store.streamBlob(blobId, 0, size);

  try {
    if (opts.mbox !== undefined) {
      const single = opts.mailboxes.length === 1;
      const targets = boxes.map((b) => ({ box: b, path: single ? opts.mbox! : mboxPathFor(opts.mbox!, b.name) }));
      if (!single) {
        let isFile = false;
        try {
          isFile = !(await stat(opts.mbox)).isDirectory();
        } catch {
          // does not exist: created
        }
        if (isFile) throw new CliError(`${opts.mbox} is a file; exporting several mailboxes needs a directory (or give one --mailbox)`);
      }
      if (!opts.force) {
        for (const t of targets) {
          const exists = await stat(t.path).then(() => true, () => false);
          if (exists) throw new CliError(`${t.path} exists; give --force to replace it`);
        }
      }
      for (const { box, path } of targets) {
        const file = await AtomicFile.create(path);
        try {
          for (const m of lists.get(box.id) ?? []) {
            const enc = new MboxEntryEncoder({ format: opts.mboxFormat, lineEndings: opts.lineEndings, flags: m.flags, internalDate: m.internalDate });
            for await (const chunk of blobChunks(m.blobId, m.size)) await file.write(enc.push(chunk));
            await file.write(enc.finish());
            summary.messages++;
            summary.bytes += m.size;
            done++;
            progress.update(done, summary.messages, summary.bytes);
          }
          await file.commit();
        } catch (err) {
          await file.discard();
          throw err;
        }
        summary.files.push(path);
      }
    } else {
      const root = opts.maildir!;
      await mkdir(root, { recursive: true, mode: 0o700 });
      const host = maildirHost();
      for (const box of boxes) {
        let path: string;
        try {
          path = folderPathFor(root, opts.maildirLayout, box.name);
        } catch (err) {
          throw new CliError((err as Error).message);
        }
        const folder = await MaildirFolderWriter.open(path, { subfolder: opts.maildirLayout === 'maildir++' && box.name !== 'INBOX', lineEndings: opts.lineEndings });
        summary.files.push(path);
        // Up to MAX_IN_FLIGHT files are written at once: their fsyncs overlap.
        const inFlight = new Set<Promise<void>>();
        let failure: unknown = null;
        for (const m of lists.get(box.id) ?? []) {
          const key = maildirKey(m.internalDate, box.uidValidity, m.uid, host);
          done++;
          if (folder.has(key)) {
            summary.present++;
            continue;
          }
          folder.claim(key);
          const p: Promise<void> = folder.write(key, m.flags, m.internalDate, blobChunks(m.blobId, m.size)).then(
            ({ lost }) => {
              summary.lostKeywords += lost.length;
              summary.messages++;
              summary.bytes += m.size;
              progress.update(done, summary.messages, summary.bytes);
            },
            (err: unknown) => {
              failure ??= err;
            },
          );
          inFlight.add(p);
          void p.then(() => inFlight.delete(p));
          if (inFlight.size >= MAX_IN_FLIGHT) await Promise.race(inFlight);
          if (failure) break;
        }
        await Promise.all(inFlight);
        if (failure) throw failure;
        await folder.sync();
      }
    }
  } finally {
    progress.end();
  }
  summary.elapsedMs = Date.now() - started;
  return summary;
}
