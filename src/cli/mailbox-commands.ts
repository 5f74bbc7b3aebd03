// `petrel mailbox list|create|delete --user NAME`: mailbox administration for one account.
// Names are full Unicode paths with "/" as the hierarchy separator (RFC 9051 §5.1.1); they pass the
// same checks as an IMAP CREATE (src/server/mailbox-names.ts), and CREATE's intermediate levels are
// created too (RFC 9051 §6.3.4).
import type { Command } from 'commander';
import { ImapError } from '../server/errors.js';
import { ancestors, normalizeInbox, validateNewName } from '../server/mailbox-names.js';
import { StoreError } from '../store/types.js';
import {
  checkUserName,
  CliError,
  loadConfig,
  compareMailboxNames,
  requireUser,
  table,
  withCommonOptions,
  withStore,
  type CommonOptions,
} from './common.js';
import type { CliEnvironment } from './environment.js';

interface MailboxOptions extends CommonOptions {
  user: string;
}

export function addMailboxCommands(program: Command, env: CliEnvironment): void {
  const mailbox = program.command('mailbox').description("manage an account's mailboxes: list, create, delete");

  withCommonOptions(
    mailbox
      .command('list')
      .alias('ls')
      .description("list an account's mailboxes with message counts")
      .requiredOption('--user <name>', 'the account'),
  ).action(async (opts: MailboxOptions) => {
    checkUserName(opts.user);
    const config = await loadConfig(env, opts);
    await withStore(env, config, false, async (store) => {
      const user = await requireUser(store, opts.user);
      const subscribed = new Set(await store.listSubscriptions(user.id));
      const mailboxes = (await store.listMailboxes(user.id)).sort((a, b) => compareMailboxNames(a.name, b.name));
      const rows: Array<Array<string | number>> = [];
      for (const m of mailboxes) {
        const status = await store.mailboxStatus(m.id);
        rows.push([
          m.name,
          m.specialUse ?? '',
          subscribed.has(m.name) ? 'yes' : 'no',
          status.messages,
          status.unseen,
          status.size,
        ]);
      }
      env.stdout.write(table(['MAILBOX', 'SPECIAL-USE', 'SUBSCRIBED', 'MESSAGES', 'UNSEEN', 'BYTES'], rows));
    });
  });

  withCommonOptions(
    mailbox
      .command('create')
      .description('create a mailbox (and any missing parent levels), subscribed')
      .argument('<mailbox>', 'mailbox name, "/" separates levels (e.g. "Projects/2025")')
      .requiredOption('--user <name>', 'the account'),
  ).action(async (rawName: string, opts: MailboxOptions) => {
    checkUserName(opts.user);
    const name = checkMailboxName(rawName);
    const config = await loadConfig(env, opts);
    await withStore(env, config, false, async (store) => {
      const user = await requireUser(store, opts.user);
      if (await store.getMailbox(user.id, name)) throw new CliError(`mailbox "${name}" already exists`);
      const created: string[] = [];
      for (const level of [...ancestors(name), name]) {
        if (await store.getMailbox(user.id, level)) continue;
        try {
          await store.createMailbox(user.id, level);
        } catch (err) {
          throw storeFailure(err, level);
        }
        await store.setSubscribed(user.id, level, true);
        created.push(level);
      }
      env.stdout.write(`Created ${created.map((n) => `"${n}"`).join(', ')} for ${opts.user}.\n`);
    });
  });

  withCommonOptions(
    mailbox
      .command('delete')
      .alias('del')
      .description('delete a mailbox and its messages (its sub-mailboxes stay)')
      .argument('<mailbox>', 'mailbox name')
      .requiredOption('--user <name>', 'the account'),
  ).action(async (rawName: string, opts: MailboxOptions) => {
    checkUserName(opts.user);
    const name = normalizeInbox(rawName);
    if (name === 'INBOX') throw new CliError('INBOX cannot be deleted');
    const config = await loadConfig(env, opts);
    await withStore(env, config, false, async (store) => {
      const user = await requireUser(store, opts.user);
      if (!(await store.getMailbox(user.id, name))) throw new CliError(`${opts.user} has no mailbox "${name}"`);
      try {
        await store.deleteMailbox(user.id, name);
      } catch (err) {
        throw storeFailure(err, name);
      }
      await store.setSubscribed(user.id, name, false);
      env.stdout.write(`Deleted "${name}" of ${opts.user}.\n`);
    });
  });
}

function checkMailboxName(raw: string): string {
  const name = normalizeInbox(raw);
  try {
    validateNewName(name);
  } catch (err) {
    if (err instanceof ImapError) throw new CliError(`invalid mailbox name "${raw}": ${lowerFirst(err.message)}`, 2);
    throw err;
  }
  return name;
}

function storeFailure(err: unknown, name: string): unknown {
  if (!(err instanceof StoreError)) return err;
  switch (err.code) {
    case 'ALREADYEXISTS':
      return new CliError(`mailbox "${name}" already exists`);
    case 'NONEXISTENT':
      return new CliError(`no mailbox "${name}"`);
    case 'NOPERM':
      return new CliError(`"${name}" cannot be deleted`);
    default:
      return new CliError(`"${name}": ${err.message}`);
  }
}

function lowerFirst(s: string): string {
  return s.charAt(0).toLowerCase() + s.slice(1);
}
