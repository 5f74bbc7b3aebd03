// Shared pieces of the fuzz targets: the target shape, a failure type for broken invariants,
// reproducible chunking of one input, and fast-check arbitraries that build byte inputs from a
// token dictionary (grammar-aware generation) next to plain random bytes.
import fc from 'fast-check';

/**
 * One fuzz target. `run` gets raw bytes (the same bytes that are stored in fuzz/corpus/<name>/) and
 * must return normally for every input: errors of the documented types are caught inside `run`;
 * anything that escapes is a finding (an unexpected exception, or a FuzzInvariantError).
 */
export interface FuzzTarget {
  name: string;
  /** What is exercised, which errors are expected, and which invariants are checked. */
  description: string;
  /** Hand-written starting points for mutation. */
  seeds: string[];
  /** Words the mutator inserts (protocol keywords, special characters, boundary numbers). */
  dictionary: string[];
  /** Generates whole inputs (grammar-aware and random). */
  arbitrary: fc.Arbitrary<Buffer>;
  run(data: Buffer): void;
}

/** An invariant of the code under test does not hold for an input. */
export class FuzzInvariantError extends Error {
  override readonly name = 'FuzzInvariantError';
}

export function check(cond: unknown, message: string | (() => string)): asserts cond {
  if (!cond) throw new FuzzInvariantError(typeof message === 'string' ? message : message());
}

/** Runs fn; an error that is an instance of one of `allowed` is swallowed and returned. */
export function expectOnly<T>(allowed: ReadonlyArray<abstract new (...a: never[]) => Error>, fn: () => T): T | Error {
  try {
    return fn();
  } catch (err) {
    if (allowed.some((c) => err instanceof c)) return err as Error;
    throw err;
  }
}

/** mulberry32: a small deterministic PRNG. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** FNV-1a of the bytes: a per-input seed, so a replayed input is chunked exactly as when it was found. */
export function hashSeed(data: Buffer): number {
  let h = 0x811c9dc5;
  const n = Math.min(data.length, 4096);
  for (let i = 0; i < n; i++) h = Math.imul(h ^ data[i]!, 0x01000193);
  return (h ^ data.length) >>> 0;
}

/** Splits into random chunks of 1..maxChunk octets. */
export function splitRandom(buf: Buffer, seed: number, maxChunk = 37): Buffer[] {
  const r = rng(seed);
  const out: Buffer[] = [];
  let i = 0;
  while (i < buf.length) {
    const n = 1 + Math.floor(r() * maxChunk);
    out.push(buf.subarray(i, i + n));
    i += n;
  }
  return out;
}

export function splitEvery(buf: Buffer, size: number): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0; i < buf.length; i += size) out.push(buf.subarray(i, i + size));
  return out;
}

/** The chunkings every streaming target compares: whole, random pieces, and (for small inputs) bytewise. */
export function chunkings(data: Buffer): Buffer[][] {
  const out: Buffer[][] = [[data], splitRandom(data, hashSeed(data))];
  if (data.length <= 1024) out.push(splitEvery(data, 1));
  return out;
}

/** Interesting numbers around the limits of 32-bit and 64-bit fields. */
export const NUMBERS = ['0', '1', '2', '9', '10', '63', '64', '65', '255', '4096', '65535', '65536', '2147483647', '2147483648',
  '4294967295', '4294967296', '9007199254740991', '9007199254740992', '99999999999999999999', '00', '01', '-1'];

/** Inputs built from dictionary words, numbers, random printable and binary strings, and CR/LF. */
export function tokenArbitrary(dictionary: readonly string[], opts: { maxTokens?: number; separators?: string[] } = {}): fc.Arbitrary<Buffer> {
  const seps = opts.separators ?? [' ', ' ', ' ', '', '\r\n', '\n'];
  const token = fc.oneof(
    { weight: 6, arbitrary: fc.constantFrom(...dictionary) },
    { weight: 2, arbitrary: fc.constantFrom(...NUMBERS) },
    { weight: 2, arbitrary: fc.string({ unit: 'grapheme-ascii', maxLength: 12 }) },
    { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 6 }) },
    { weight: 1, arbitrary: fc.constantFrom(...seps) },
  );
  return fc
    .array(fc.tuple(token, fc.constantFrom(...seps)), { maxLength: opts.maxTokens ?? 40 })
    .map((parts) => Buffer.from(parts.map(([t, s]) => t + s).join(''), 'utf8'));
}

/** Random bytes, biased to the ASCII range the parsers care about. */
export function bytesArbitrary(maxLength = 512): fc.Arbitrary<Buffer> {
  return fc.oneof(
    fc.uint8Array({ maxLength }).map((a) => Buffer.from(a)),
    fc.uint8Array({ maxLength, min: 0x09, max: 0x7e }).map((a) => Buffer.from(a)),
  );
}

/** A deep or long repetition of a small pattern (nesting, many ranges). */
export function repeatArbitrary(patterns: readonly string[], prefix = '', suffix = ''): fc.Arbitrary<Buffer> {
  return fc
    .tuple(fc.constantFrom(...patterns), fc.integer({ min: 1, max: 5000 }), fc.constantFrom(...patterns, ''))
    .map(([p, n, tail]) => Buffer.from(prefix + p.repeat(n) + tail + suffix, 'latin1'));
}
