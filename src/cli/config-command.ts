// `petrel config`: prints the effective settings as a TOML config file (TOML v1.0.0), each line commented
// with where its value came from, so the precedence flags > environment > file > defaults can be checked.
import type { Command } from 'commander';
import { SETTINGS, type PetrelConfig, type SettingSpec } from '../config/config.js';
import { loadConfig, withCommonOptions, type CommonOptions } from './common.js';
import type { CliEnvironment } from './environment.js';

export function addConfigCommand(program: Command, env: CliEnvironment): void {
  withCommonOptions(
    program
      .command('config')
      .description('print the effective settings (as TOML) and where each comes from'),
  ).action(async (opts: CommonOptions) => {
    const config = await loadConfig(env, opts);
    env.stdout.write(renderConfig(config));
  });
}

export function renderConfig(config: PetrelConfig): string {
  const lines = [`# config file: ${config.configFile ?? '(none)'}`];
  const entries = SETTINGS.map((s) => [s, assignment(s, config)] as const);
  const width = Math.max(...entries.map(([, a]) => a.length));
  for (const [s, a] of entries) lines.push(`${a.padEnd(width)}  # ${origin(s, config)}`);
  return lines.join('\n') + '\n';
}

function assignment(s: SettingSpec, config: PetrelConfig): string {
  const value = config[s.key];
  if (value === null) {
    if (s.kind === 'port') return `${s.file} = 0`;
    return `# ${s.file} = (not set)`;
  }
  if (s.kind === 'mode' && typeof value === 'number') return `${s.file} = "0${value.toString(8)}"`;
  return `${s.file} = ${typeof value === 'number' ? String(value) : JSON.stringify(value)}`;
}

function origin(s: SettingSpec, config: PetrelConfig): string {
  switch (config.sources[s.key]) {
    case 'flag':
      return `flag ${s.flag ?? ''}`.trimEnd();
    case 'env':
      return `environment ${s.env}`;
    case 'file':
      return 'config file';
    default:
      return 'default';
  }
}
