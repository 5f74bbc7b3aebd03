// The `petrel` command (bin/petrel.js calls main). Sub-commands: serve, user add|passwd|del|list,
// mailbox list|create|delete, config, migrate, sync. Exit status: 0 success, 1 failure, 2 usage or configuration error;
// errors are one readable line on stderr.
import { readFileSync } from 'node:fs';
import { Command, CommanderError } from 'commander';
import { ConfigError } from '../config/config.js';
import { StoreError } from '../store/types.js';
import { CliError } from './common.js';
import { addConfigCommand } from './config-command.js';
import { defaultEnvironment, type CliEnvironment } from './environment.js';
import { addFetchCommand } from './fetch-command.js';
import { addImportExportCommands } from './import-export.js';
import { addMailboxCommands } from './mailbox-commands.js';
import { addMigrateCommand } from './migrate-command.js';
import { addServeCommand } from './serve-command.js';
import { addSyncCommand } from './sync-command.js';
import { addUserCommands } from './user-commands.js';

export async function main(argv: string[], overrides: Partial<CliEnvironment> = {}): Promise<number> {
  const env: CliEnvironment = { ...defaultEnvironment(), ...overrides };
  const program = buildProgram(env);
  try {
    await program.parseAsync(argv, { from: 'user' });
    return 0;
  } catch (err) {
    return report(env, err);
  }
}

export function buildProgram(env: CliEnvironment): Command {
  const program = new Command('petrel');
  program
    .description("Petrel: an IMAP4rev2/rev1 mail server for RFC 1733's online, offline and disconnected models")
    .version(packageVersion(), '-V, --version', 'print the version')
    .helpOption('-h, --help', 'show help')
    .helpCommand('help [command]', 'show help for a command')
    .exitOverride()
    .showHelpAfterError('(add --help for usage)')
    .configureOutput({
      writeOut: (s) => void env.stdout.write(s),
      writeErr: (s) => void env.stderr.write(s),
      outputError: (s, write) => write(`petrel: ${s.replace(/^error: /, '')}`),
    })
    .addHelpText(
      'after',
      [
        '',
        'Every command takes --data DIR and --config FILE, and --store postgres://... to keep mail in',
        'PostgreSQL (docs/postgres.md). Settings come from flags, then PETREL_*',
        'environment variables, then the config file, then defaults. See README.md and docs/.',
        '',
        'Examples:',
        '  petrel serve                                   serve ./data on 127.0.0.1:1143 and :1993',
        '  petrel user add ann --password-stdin < pw.txt  create an account',
        '  petrel mailbox create Projects/2025 --user ann',
        '  petrel migrate --from ./data --to postgres://petrel@db/petrel   move the store into PostgreSQL',
      ].join('\n'),
    );
  addServeCommand(program, env);
  addUserCommands(program, env);
  addMailboxCommands(program, env);
  addImportExportCommands(program, env);
  addFetchCommand(program, env);
  addConfigCommand(program, env);
  addMigrateCommand(program, env);
  addSyncCommand(program, env);
  return program;
}

function report(env: CliEnvironment, err: unknown): number {
  if (err instanceof CommanderError) {
    // Commander has already printed help, the version, or its error message.
    // exitCode 0: help or version was asked for; anything else was a usage error.
    return err.exitCode === 0 ? 0 : 2;
  }
  if (err instanceof CliError) {
    env.stderr.write(`petrel: ${err.message}\n`);
    return err.exitCode;
  }
  if (err instanceof ConfigError) {
    env.stderr.write(`petrel: ${err.message}\n`);
    return 2;
  }
  if (err instanceof StoreError) {
    env.stderr.write(`petrel: ${err.message} (${err.code})\n`);
    return 1;
  }
  const message = err instanceof Error ? err.message : String(err);
  env.stderr.write(`petrel: ${message.split('\n')[0]}\n`);
  if (env.env.PETREL_DEBUG && err instanceof Error && err.stack) env.stderr.write(err.stack + '\n');
  return 1;
}

function packageVersion(): string {
  try {
    // dist/src/cli/main.js → the repository root.
    const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version?: string };
    return pkg.version ?? '0.0.0';
  } catch {
    return '0.0.0';
  }
}
