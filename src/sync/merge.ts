// Three-way flag merge (ARCHITECTURE.md decision 10; docs/sync.md "Conflicts"). Each flag is merged on
// its own against the base both sides last agreed on: a flag one side added is added, a flag one side
// removed is removed. A flag cannot be added on one side and removed on the other (adding means it was
// not in the base, removing that it was), so the per-flag merge never has to pick a winner.
// Flags compare case-insensitively (RFC 9051 §2.3.2: keywords and system flags are case-insensitive);
// \Recent is session state and never synchronised (RFC 3501 §2.3.2).

/** Canonical comparison key of a flag. */
export function flagKey(flag: string): string {
  return flag.toLowerCase();
}

/** Flags without \Recent, de-duplicated case-insensitively, sorted by key. */
export function normalizeFlags(flags: readonly string[]): string[] {
  const seen = new Map<string, string>();
  for (const f of flags) {
    const k = flagKey(f);
    if (k === '\\recent' || f === '') continue;
    if (!seen.has(k)) seen.set(k, f);
  }
  return [...seen.entries()].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0)).map((e) => e[1]);
}

export function sameFlags(a: readonly string[], b: readonly string[]): boolean {
  const x = normalizeFlags(a).map(flagKey);
  const y = normalizeFlags(b).map(flagKey);
  return x.length === y.length && x.every((k, i) => k === y[i]);
}

/** a \ b (case-insensitive), spelled as in a. */
export function flagDiff(a: readonly string[], b: readonly string[]): string[] {
  const keys = new Set(b.map(flagKey));
  return normalizeFlags(a).filter((f) => !keys.has(flagKey(f)));
}

/** The merged flag set: base + (local adds) + (remote adds) − (local removes) − (remote removes). */
export function mergeFlags(base: readonly string[], local: readonly string[], remote: readonly string[]): string[] {
  const out = new Map<string, string>();
  for (const f of normalizeFlags(base)) out.set(flagKey(f), f);
  for (const f of flagDiff(base, local)) out.delete(flagKey(f));
  for (const f of flagDiff(base, remote)) out.delete(flagKey(f));
  for (const f of flagDiff(local, base)) out.set(flagKey(f), f);
  for (const f of flagDiff(remote, base)) if (!out.has(flagKey(f))) out.set(flagKey(f), f);
  return normalizeFlags([...out.values()]);
}

/** Base for two copies paired without history (after a UIDVALIDITY change): what both have. Every flag
 *  set on either side then survives the merge; nothing is removed. */
export function commonFlags(a: readonly string[], b: readonly string[]): string[] {
  const keys = new Set(b.map(flagKey));
  return normalizeFlags(a).filter((f) => keys.has(flagKey(f)));
}
