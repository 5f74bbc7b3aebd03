// The command registry (ARCHITECTURE.md decision 6): one entry per command name.
import type { CommandSpec } from './session.js';
import { anyStateCommands } from './commands/any-state.js';
import { authCommands } from './commands/auth.js';
import { mailboxCommands } from './commands/mailboxes.js';
import { selectCommands } from './commands/select.js';
import { appendCommands } from './commands/append.js';
import { idleCommands } from './commands/idle.js';
import { fetchCommands } from './commands/fetch.js';
import { storeCommands } from './commands/store.js';
import { searchCommands } from './commands/search.js';
import { copyMoveCommands } from './commands/copy-move.js';

export function buildRegistry(): Map<string, CommandSpec> {
  const all = [
    ...anyStateCommands,
    ...authCommands,
    ...mailboxCommands,
    ...selectCommands,
    ...appendCommands,
    ...idleCommands,
    ...fetchCommands,
    ...storeCommands,
    ...searchCommands,
    ...copyMoveCommands,
  ];
  const map = new Map<string, CommandSpec>();
  for (const spec of all) {
    if (map.has(spec.name)) throw new Error(`duplicate command ${spec.name}`);
    map.set(spec.name, spec);
  }
  return map;
}
