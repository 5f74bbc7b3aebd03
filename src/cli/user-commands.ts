// `petrel user add|passwd|del|list`: account administration on the data directory's store.
// New accounts get INBOX and the RFC 6154 special-use mailboxes through provisionUser.
import type { Command } from 'commander';
import { generatePassword, hashPassword } from '../auth/password.js';
import { StoreError } from '../store/types.js';
import {
  checkUserName,
  CliError,
  compareMailboxNames,
  loadConfig,
  passwordFromOptions,
  requireUser,
  table,
  withCommonOptions,
  withStore,
  type CommonOptions,
  type PasswordOptions,
} from './common.js';
import type { CliEnvironment } from './environment.js';

export function addUserCommands(program: Command, env: CliEnvironment): void {
  const user = program
    .command('user')
    .description('manage accounts: add, passwd, del, list');

  withCommonOptions(
    user
      .command('add')
      .description('create an account with INBOX, Drafts, Sent, Trash, Junk and Archive')
      .argument('<name>', 'user name (letters, digits, . _ @ + -)')
      .option('--password <password>', 'the password (visible in the process list: prefer --password-stdin)')
      .option('--password-stdin', 'read the password from standard input')
      .addHelpText('after', '\nWithout --password or --password-stdin a strong password is generated and printed.'),
  ).action(async (name: string, opts: CommonOptions & PasswordOptions) => {
    checkUserName(name);
    const config = await loadConfig(env, opts);
    const given = await passwordFromOptions(env, opts);
    const password = given ?? generatePassword();
    const hash = await hashPassword(password);
    await withStore(env, config, true, async (store) => {
      if (await store.getUser(name)) throw new CliError(`user "${name}" already exists`);
      // Logins look names up exactly; refuse names that differ from an existing one only in case,
      // which people would confuse.
      const clash = (await store.listUsers()).find((u) => u.name.toLowerCase() === name.toLowerCase());
      if (clash) throw new CliError(`user "${clash.name}" already exists (names differing only in case are refused)`);
      try {
        await env.provisionUser(store, name, hash);
      } catch (err) {
        if (err instanceof StoreError && err.code === 'ALREADYEXISTS') throw new CliError(`user "${name}" already exists`);
        throw err;
      }
      const record = await requireUser(store, name);
      const mailboxes = (await store.listMailboxes(record.id)).map((m) => m.name).sort(compareMailboxNames);
      env.stdout.write(`Created user ${name} with mailboxes ${mailboxes.join(', ')}.\n`);
    });
    if (given === null) env.stdout.write(`Password: ${password}\n`);
  });

  withCommonOptions(
    user
      .command('passwd')
      .description("set an account's password")
      .argument('<name>', 'user name')
      .option('--password <password>', 'the new password (visible in the process list: prefer --password-stdin)')
      .option('--password-stdin', 'read the new password from standard input')
      .addHelpText('after', '\nWithout --password or --password-stdin a strong password is generated and printed.'),
  ).action(async (name: string, opts: CommonOptions & PasswordOptions) => {
    checkUserName(name);
    const config = await loadConfig(env, opts);
    const given = await passwordFromOptions(env, opts);
    const password = given ?? generatePassword();
    const hash = await hashPassword(password);
    await withStore(env, config, false, async (store) => {
      await requireUser(store, name);
      await store.setPassword(name, hash);
    });
    env.stdout.write(`Changed the password of ${name}.\n`);
    if (given === null) env.stdout.write(`Password: ${password}\n`);
  });

  withCommonOptions(
    user
      .command('del')
      .alias('delete')
      .description('delete an account with all its mailboxes and messages')
      .argument('<name>', 'user name'),
  ).action(async (name: string, opts: CommonOptions) => {
    checkUserName(name);
    const config = await loadConfig(env, opts);
    await withStore(env, config, false, async (store) => {
      await requireUser(store, name);
      await store.deleteUser(name);
    });
    env.stdout.write(`Deleted user ${name} and all their mail.\n`);
  });

  withCommonOptions(user.command('list').alias('ls').description('list the accounts')).action(
    async (opts: CommonOptions) => {
      const config = await loadConfig(env, opts);
      await withStore(env, config, false, async (store) => {
        const users = await store.listUsers();
        if (users.length === 0) {
          env.stderr.write('No users yet.\n');
          return;
        }
        const rows = users
          .slice()
          .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
          .map((u) => [u.name, new Date(u.createdAt).toISOString().slice(0, 19).replace('T', ' ')]);
        env.stdout.write(table(['USER', 'CREATED (UTC)'], rows));
      });
    },
  );
}
