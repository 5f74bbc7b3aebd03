// A small `--name value` / `--flag` / `--no-flag` parser for the tools in this folder.

export interface ArgSpec {
  type: 'string' | 'number' | 'boolean';
  default?: string | number | boolean;
}

export function parseArgs(argv: readonly string[], spec: Record<string, ArgSpec>): Record<string, string | number | boolean | undefined> {
  const out: Record<string, string | number | boolean | undefined> = {};
  for (const [k, s] of Object.entries(spec)) out[k] = s.default;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (!a.startsWith('--')) throw new Error(`unexpected argument ${a}`);
    let name = a.slice(2);
    let value: string | undefined;
    const eq = name.indexOf('=');
    if (eq >= 0) {
      value = name.slice(eq + 1);
      name = name.slice(0, eq);
    }
    if (name.startsWith('no-') && spec[name.slice(3)]?.type === 'boolean') {
      out[name.slice(3)] = false;
      continue;
    }
    const s = spec[name];
    if (!s) throw new Error(`unknown option --${name}; known: ${Object.keys(spec).map((k) => '--' + k).join(' ')}`);
    if (s.type === 'boolean') {
      out[name] = value === undefined ? true : value !== 'false';
      continue;
    }
    value ??= argv[++i];
    if (value === undefined) throw new Error(`--${name} needs a value`);
    if (s.type === 'number') {
      const n = Number(value);
      if (!Number.isFinite(n)) throw new Error(`--${name} needs a number`);
      out[name] = n;
    } else out[name] = value;
  }
  return out;
}
