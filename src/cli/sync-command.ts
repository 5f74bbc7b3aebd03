// `petrel sync` (issue 5 items 3 and 9): two-way sync of a remote IMAP account with a local replica, RFC
// 1733's disconnected model (§2, §4: "resynchronised later through unique identifiers"); --watch stays
// online (RFC 2177 IDLE inside the engine) until SIGINT/SIGTERM. The engine lives in src/sync/; this file
// resolves the account (src/sync/account.ts), draws progress (sync-progress.ts), prints the dry-run plan
// and the summary, and turns failures into one readable line with exit status 1 (2 for usage errors).
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { formatBytes } from '../mailfile/progress.js';
import { AccountError, resolveAccount, type AccountFlags, type ResolvedAccount } from '../sync/account.js';
import { storedAccount } from '../sync/state.js';
import type { SyncAction, SyncOptions, SyncSummary } from '../sync/types.js';
import { CliError, table } from './common.js';
import type { CliEnvironment, TextSink } from './environment.js';
import { SyncProgressReporter, type SyncProgressMode } from './sync-progress.js';

export interface SyncEngine {
  syncOnce(opts: SyncOptions): Promise<SyncSummary>;
  watch(opts: SyncOptions & { signal: AbortSignal; onCycle?: (s: SyncSummary | Error) => void }): Promise<void>;
}

/** Loads the engine on first use, so `petrel --help` does not load the sync code. */
export type EngineLoader = (what: 'once' | 'watch') => Promise<SyncEngine>;

interface SyncFlags {
  replica: string;
  account?: string;
  mailbox?: string[];
  dryRun?: boolean;
  watch?: boolean;
  mode?: string;
  maxTextKb?: string;
  maxMessageKb?: string;
  since?: string;
  quiet?: boolean;
  json?: boolean;
  progress: string;
  disable?: string[];
  host?: string;
  port?: string;
  tls?: string;
  user?: string;
  passwordEnv?: string;
  passwordFile?: string;
  passwordCommand?: string;
  ca?: string;
  insecure?: boolean;
}

/** Extensions --disable accepts (SyncOptions.disable). */
export const DISABLE_NAMES = ['QRESYNC', 'CONDSTORE', 'UIDPLUS', 'MOVE', 'OBJECTID'] as const;

export function addSyncCommand(program: Command, env: CliEnvironment, loadEngine: EngineLoader = defaultEngineLoader): void {
  program
    .command('sync')
    .description('two-way sync of a remote IMAP account with a local replica that "petrel serve --data DIR" can serve (disconnected model)')
    .requiredOption('--replica <dir>', 'the replica directory (created when missing)')
    .option('--account <file>', 'account file, TOML or JSON (docs/sync.md#command-line-and-account-file)')
    .option('--mailbox <pattern...>', 'sync only mailboxes matching these patterns (* any, % one level); replaces "mailboxes" of the file')
    .option('--dry-run', 'print what would change on either side and change nothing')
    .option('--watch', 'stay online: sync, then follow changes on both sides until Ctrl-C / SIGTERM')
    .option('--mode <mode>', 'what to download of new messages: full, headers or text (overrides the rules of the file)')
    .option('--max-text-kb <n>', 'mode text: download text parts up to N KB')
    .option('--max-message-kb <n>', 'download larger messages as headers only')
    .option('--since <date>', 'download only messages since YYYY-MM-DD, or the last N days (e.g. 90d)')
    .option('--quiet', 'no progress and no summary (errors still go to stderr)')
    .option('--json', 'print the summary as JSON on stdout (--watch: one line per cycle)')
    .option('--progress <mode>', 'bar, lines, none or auto (bar when stderr is a terminal, else lines; none for --watch)', 'auto')
    .option('--disable <extension...>', `do not use these extensions even when offered: ${DISABLE_NAMES.join(', ')} (diagnosing a server)`)
    .option('--host <host>', 'IMAP server host')
    .option('--port <n>', 'IMAP server port (default 993 for --tls implicit, else 143)')
    .option('--tls <mode>', 'implicit, starttls or none (default implicit)')
    .option('--user <name>', 'login name')
    .option('--password-env <VAR>', 'take the password from this environment variable')
    .option('--password-file <file>', 'take the password from the first line of this file')
    .option('--password-command <cmd>', 'run this through /bin/sh; the password is the first line it prints')
    .option('--ca <file>', 'PEM certificate to trust (a private CA or the server\'s self-signed certificate)')
    .option('--insecure', 'do not verify the server certificate')
    .addHelpText(
      'after',
      [
        '',
        'Examples:',
        '  petrel sync --replica ~/mail --account ~/.config/petrel/work.toml',
        '  petrel sync --replica ~/mail --host imap.example.org --user ann --password-command "pass mail/work"',
        '  petrel sync --replica ~/mail --account work.toml --mailbox INBOX --mailbox "Lists/*" --since 90d --dry-run',
        '  petrel sync --replica ~/mail --account work.toml --watch',
        '  petrel serve --data ~/mail        serve the replica to a local mail client',
        '',
        'Exit status: 0 done, 1 failed (the reason is printed), 2 usage error.',
      ].join('\n'),
    )
    .action(async (flags: SyncFlags) => {
      await syncAction(env, flags, loadEngine);
    });
}

const defaultEngineLoader: EngineLoader = async (what) => {
  const { syncOnce } = await import('../sync/engine.js');
  if (what !== 'watch') return { syncOnce, watch: () => Promise.reject(new Error('watch is not loaded')) };
  const { watch } = await import('../sync/watch.js');
  return { syncOnce, watch };
};

function progressMode(env: CliEnvironment, flags: SyncFlags): SyncProgressMode {
  const v = flags.progress;
  if (v !== 'bar' && v !== 'lines' && v !== 'none' && v !== 'auto') throw new CliError(`--progress must be bar, lines, none or auto (not "${v}")`, 2);
  if (flags.quiet) return 'none';
  if (v !== 'auto') return v;
  if ((env.stderr as { isTTY?: boolean }).isTTY === true) return 'bar';
  // --watch in a log: the line per cycle says enough; progress lines would repeat every cycle.
  return flags.watch ? 'none' : 'lines';
}

function checkFlags(flags: SyncFlags): string[] | undefined {
  if (flags.dryRun && flags.watch) throw new CliError('--dry-run and --watch do not go together (a dry run changes nothing, so there is nothing to follow)', 2);
  if (flags.replica === '') throw new CliError('--replica: give a directory', 2);
  if (flags.disable === undefined) return undefined;
  const out: string[] = [];
  for (const name of flags.disable.flatMap((d) => d.split(','))) {
    const upper = name.trim().toUpperCase();
    if (!(DISABLE_NAMES as readonly string[]).includes(upper)) {
      throw new CliError(`--disable: unknown extension "${name}" (one of ${DISABLE_NAMES.join(', ')})`, 2);
    }
    out.push(upper);
  }
  return out;
}

async function syncAction(env: CliEnvironment, flags: SyncFlags, loadEngine: EngineLoader): Promise<void> {
  const disable = checkFlags(flags);
  const mode = progressMode(env, flags);
  const replicaDir = resolve(env.cwd, flags.replica);
  const accountFlags: AccountFlags = {
    host: flags.host,
    port: flags.port,
    tls: flags.tls,
    user: flags.user,
    passwordEnv: flags.passwordEnv,
    passwordFile: flags.passwordFile,
    passwordCommand: flags.passwordCommand,
    ca: flags.ca,
    insecure: flags.insecure,
    mailboxes: flags.mailbox,
    mode: flags.mode,
    maxTextKb: flags.maxTextKb,
    maxMessageKb: flags.maxMessageKb,
    since: flags.since,
  };
  for (const k of Object.keys(accountFlags) as Array<keyof AccountFlags>) if (accountFlags[k] === undefined) delete accountFlags[k];
  // Without an account file, a replica synchronised before remembers its server (not the password).
  if (flags.account === undefined) {
    const stored = storedAccount(replicaDir);
    if (stored) {
      if (accountFlags.host === undefined && stored.host !== undefined) accountFlags.host = stored.host;
      if (accountFlags.port === undefined && stored.port !== undefined) accountFlags.port = stored.port;
      if (accountFlags.tls === undefined && stored.tls !== undefined) accountFlags.tls = stored.tls;
      if (accountFlags.user === undefined && stored.user !== undefined) accountFlags.user = stored.user;
    }
  }
  let resolved: ResolvedAccount;
  try {
    resolved = await resolveAccount({ file: flags.account, flags: accountFlags, env: env.env, cwd: env.cwd });
  } catch (err) {
    if (err instanceof AccountError) throw new CliError(err.message, err.usage ? 2 : 1);
    throw err;
  }
  // Printed even with --quiet: a password others can read matters more than a quiet cron job.
  for (const w of resolved.warnings) env.stderr.write(`petrel: warning: ${w}\n`);
  const engine = await loadEngine(flags.watch ? 'watch' : 'once');

  const reporter = new SyncProgressReporter({
    sink: env.stderr,
    mode,
    columns: () => (env.stderr as { columns?: number }).columns,
  });
  const controller = new AbortController();
  let stoppedBy: string | null = null;
  const quiet = flags.quiet === true;
  void env.shutdownSignal().then((name) => {
    stoppedBy = name;
    if (!quiet) reporter.log(`petrel: ${name}: stopping (the replica stays consistent; press Ctrl-C again to quit at once)`);
    controller.abort(new Error(`stopped by ${name}`));
  });
  const options: SyncOptions = {
    replicaDir,
    account: resolved.account,
    rules: resolved.rules,
    dryRun: flags.dryRun === true,
    signal: controller.signal,
    onProgress: (p) => reporter.update(p),
    onLog: (line) => {
      if (!quiet) reporter.log(`petrel: ${line}`);
    },
  };
  if (resolved.mailboxes !== undefined) options.mailboxes = resolved.mailboxes;
  if (disable !== undefined) options.disable = disable;
  const where = `${resolved.account.user}@${resolved.account.host}:${resolved.account.port ?? ''}`;

  if (flags.watch) {
    if (!quiet && !flags.json) env.stderr.write(`petrel: watching ${where} → ${replicaDir} (Ctrl-C to stop)\n`);
    // A refused login or an untrusted certificate will not heal by retrying (and retrying a wrong
    // password can lock the account): stop. An unreachable server is the disconnected model: keep going.
    let fatal = null as Error | null;
    try {
      await engine.watch({
        ...options,
        signal: controller.signal,
        onCycle: (s) => {
          reporter.end();
          if (s instanceof Error && isPermanentSyncError(s)) {
            fatal = s;
            controller.abort(s);
            return;
          }
          if (flags.json) env.stdout.write(JSON.stringify(s instanceof Error ? { error: describeSyncError(s, resolved, replicaDir) } : s) + '\n');
          else if (!quiet || s instanceof Error) {
            const line = formatCycleLine(s, new Date(), resolved, replicaDir);
            (s instanceof Error ? env.stderr : env.stdout).write(line + '\n');
          }
        },
      });
    } catch (err) {
      reporter.end();
      if (stoppedBy === null) throw new CliError(describeSyncError(fatal ?? err, resolved, replicaDir));
    }
    reporter.end();
    if (fatal !== null) throw new CliError(describeSyncError(fatal, resolved, replicaDir));
    if (!quiet && !flags.json) env.stderr.write(`petrel: stopped${stoppedBy ? ` (${stoppedBy})` : ''}\n`);
    return;
  }

  let summary: SyncSummary;
  try {
    summary = await engine.syncOnce(options);
  } catch (err) {
    reporter.end();
    if (stoppedBy !== null) throw new CliError(interruptedReason(stoppedBy));
    throw new CliError(describeSyncError(err, resolved, replicaDir));
  }
  reporter.end();
  writeResult(env.stdout, summary, flags, where, replicaDir);
  if (stoppedBy !== null) throw new CliError(interruptedReason(stoppedBy));
}

function interruptedReason(signal: string): string {
  return `sync interrupted by ${signal}; what was done is kept, run it again to finish`;
}

function writeResult(out: TextSink, summary: SyncSummary, flags: SyncFlags, where: string, replicaDir: string): void {
  if (flags.json) {
    out.write(JSON.stringify(summary, null, 2) + '\n');
    return;
  }
  if (flags.quiet) return;
  if (summary.dryRun) out.write(formatDryRun(summary.actions));
  out.write(formatSummary(summary, where, replicaDir));
}

/** The plan of a dry run: one line per action, grouped as the engine listed them. */
export function formatDryRun(actions: readonly SyncAction[]): string {
  const changes = actions.filter((a) => a.kind !== 'keep');
  if (changes.length === 0) return 'Dry run: nothing to change; the replica and the server agree.\n';
  const rows = changes.map((a) => [a.side === 'remote' ? 'server' : 'replica', a.kind, a.mailbox, a.detail]);
  const kept = actions.length - changes.length;
  return (
    `Dry run: nothing was changed. ${changes.length} change${changes.length === 1 ? '' : 's'} would be made:\n` +
    table(['where', 'change', 'mailbox', 'detail'], rows).replace(/^(?=.)/gm, '  ') +
    (kept > 0 ? `  (${kept} kept as ${kept === 1 ? 'it is' : 'they are'}: see --json)\n` : '')
  );
}

/** The summary after a sync: a table of the mailboxes that changed, then totals and conflicts. */
export function formatSummary(s: SyncSummary, where: string, replicaDir: string): string {
  const verb = s.dryRun ? 'Dry run of' : 'Synced';
  const tiers = [...new Set(s.mailboxes.map((m) => m.tier))];
  const lines: string[] = [
    `${verb} ${where} with ${replicaDir} in ${seconds(s.elapsedMs)}: ${s.mailboxes.length} mailbox${s.mailboxes.length === 1 ? '' : 'es'}` +
      (tiers.length > 0 ? ` (resync: ${tiers.join(', ')})` : ''),
  ];
  const changed = s.mailboxes.filter(
    (m) => m.downloaded + m.uploaded + m.flagsToRemote + m.flagsToLocal + m.expungedRemote + m.expungedLocal > 0,
  );
  let text = lines.join('\n') + '\n';
  const counted =
    s.downloaded + s.uploaded + s.flagsToRemote + s.flagsToLocal + s.expungedRemote + s.expungedLocal +
    s.mailboxesCreated + s.mailboxesRenamed + s.mailboxesDeleted + s.conflicts.length;
  // A dry run that counted nothing: the plan above says it all; zero totals would only contradict it.
  if (s.dryRun && counted === 0) return text;
  if (changed.length > 0) {
    text += table(
      ['mailbox', 'tier', 'down', 'up', 'flags to server', 'flags to replica', 'expunged on server', 'expunged in replica'],
      changed.map((m) => [m.name, m.tier, m.downloaded, m.uploaded, m.flagsToRemote, m.flagsToLocal, m.expungedRemote, m.expungedLocal]),
    ).replace(/^(?=.)/gm, '  ');
    const same = s.mailboxes.length - changed.length;
    if (same > 0) text += `  (${same} other mailbox${same === 1 ? '' : 'es'} unchanged)\n`;
  } else if (s.mailboxes.length > 0) {
    text += '  no message changed\n';
  }
  const total = [
    `${s.downloaded} downloaded (${formatBytes(s.bytesDown)})`,
    `${s.uploaded} uploaded (${formatBytes(s.bytesUp)})`,
    `flags: ${s.flagsToRemote} to the server, ${s.flagsToLocal} to the replica`,
    `expunged: ${s.expungedRemote} on the server, ${s.expungedLocal} in the replica`,
  ];
  const boxes = [
    s.mailboxesCreated ? `${s.mailboxesCreated} created` : '',
    s.mailboxesRenamed ? `${s.mailboxesRenamed} renamed` : '',
    s.mailboxesDeleted ? `${s.mailboxesDeleted} deleted` : '',
  ].filter(Boolean);
  if (boxes.length > 0) total.push(`mailboxes: ${boxes.join(', ')}`);
  text += `Total: ${total.join('; ')}\n`;
  if (s.conflicts.length > 0) {
    text += `Conflicts resolved (docs/sync.md):\n${s.conflicts.map((c) => `  - ${c}\n`).join('')}`;
  }
  return text;
}

/** One line per --watch cycle: `2026-11-26 02:10:05 synced: 3 down, 1 up, 2 flags, 0 expunged (0.4 s)`. */
export function formatCycleLine(s: SyncSummary | Error, at: Date, account?: ResolvedAccount, replicaDir?: string): string {
  const stamp = at.toISOString().replace('T', ' ').replace(/\.\d+Z$/, 'Z');
  if (s instanceof Error) return `${stamp} sync failed, will retry: ${describeSyncError(s, account, replicaDir)}`;
  const flags = s.flagsToRemote + s.flagsToLocal;
  const expunged = s.expungedRemote + s.expungedLocal;
  const parts = [`${s.downloaded} down`, `${s.uploaded} up`, `${flags} flag change${flags === 1 ? '' : 's'}`, `${expunged} expunged`];
  const boxes = s.mailboxesCreated + s.mailboxesRenamed + s.mailboxesDeleted;
  if (boxes > 0) parts.push(`${boxes} mailbox change${boxes === 1 ? '' : 's'}`);
  if (s.conflicts.length > 0) parts.push(`${s.conflicts.length} conflict${s.conflicts.length === 1 ? '' : 's'}`);
  return `${stamp} synced: ${parts.join(', ')} (${seconds(s.elapsedMs)})`;
}

function seconds(ms: number): string {
  return ms < 10_000 ? `${(ms / 1000).toFixed(1)} s` : `${Math.round(ms / 1000)} s`;
}

interface ErrorShape {
  name?: string;
  message?: string;
  reason?: string;
  command?: string;
  code?: string;
  text?: string;
  cause?: unknown;
}

/**
 * One readable line for a failed sync: the first typed error in the cause chain decides (client
 * connection and command errors, store errors of the replica, account errors); the rest is the message.
 */
export function describeSyncError(err: unknown, account?: ResolvedAccount, replicaDir?: string): string {
  const a = account?.account;
  const server = a ? `${a.host}:${a.port ?? (a.tls === 'implicit' ? 993 : 143)}` : 'the server';
  const chain: ErrorShape[] = [];
  for (let e: unknown = err, i = 0; e && typeof e === 'object' && i < 8; e = (e as ErrorShape).cause, i++) chain.push(e as ErrorShape);
  const first = (err instanceof Error ? err.message : String(err)).split('\n')[0] ?? '';
  for (const e of chain) {
    const msg = (e.message ?? '').split('\n')[0] ?? '';
    if (e.name === 'AccountError') return msg;
    if (e.name === 'ImapConnectionError') {
      switch (e.reason) {
        case 'connect':
          return `cannot connect to ${server}: ${stripPrefix(msg)}`;
        case 'tls':
          return `TLS with ${server} failed: ${msg.replace(/^(TLS (handshake )?failed: )+/, '')}${/certificate|self.signed|verify/i.test(msg) ? ' (give --ca FILE to trust its certificate, or --insecure)' : ''}`;
        case 'timeout':
          return `${server} stopped answering: ${msg}`;
        case 'bye':
          return `${server} closed the connection: ${msg}`;
        case 'refused':
          if (a?.tls === 'none' && /LOGIN/.test(msg)) {
            return `${server} takes no password over an unencrypted connection (${msg.replace(/^The server/, 'it')}): use --tls starttls or implicit`;
          }
          return `${msg} (${server})`;
        case 'aborted':
          return 'sync stopped';
        default:
          return `connection to ${server} failed: ${msg}`;
      }
    }
    if ((e.name === 'ImapNoError' || e.name === 'ImapBadError' || e.name === 'ImapCommandError') && (e.command === 'LOGIN' || e.command === 'AUTHENTICATE')) {
      const who = a ? `${a.user}@${server}` : server;
      const from = account ? ` (password from ${account.passwordSource})` : '';
      return `login refused for ${who}: ${e.text || msg}${from}`;
    }
    if (e.name === 'StoreError') return `replica${replicaDir ? ` ${replicaDir}` : ''}: ${msg}${e.code ? ` (${e.code})` : ''}`;
    const code = e.code;
    if (typeof code === 'string' && /^E[A-Z]+$/.test(code) && code !== 'ERR_MODULE_NOT_FOUND') {
      // A file-system error (the replica directory, a lock file).
      return `${msg}${replicaDir && !msg.includes(replicaDir) ? ` (replica ${replicaDir})` : ''}`;
    }
  }
  return first || 'sync failed';
}

/** Errors that retrying will not cure: a refused login, an untrusted certificate, a bad account. */
export function isPermanentSyncError(err: unknown): boolean {
  for (let e: unknown = err, i = 0; e && typeof e === 'object' && i < 8; e = (e as ErrorShape).cause, i++) {
    const x = e as ErrorShape;
    if (x.name === 'AccountError') return true;
    if (x.command === 'LOGIN' || x.command === 'AUTHENTICATE') return true;
    if (x.name === 'ImapConnectionError') {
      if (x.reason === 'refused') return true;
      if (x.reason === 'tls' && /certificate|self.signed|verify|altname/i.test(x.message ?? '')) return true;
      return false;
    }
  }
  return false;
}

function stripPrefix(msg: string): string {
  return msg.replace(/^Cannot connect to [^:]+:\d+: /, '');
}
