// Password hashing for accounts (issue 2, item 8: "passwords hashed with argon2id or scrypt").
// scrypt is RFC 7914; the stored string is self-describing, in the style of the PHC string format:
//   $scrypt$ln=<log2 N>,r=<r>,p=<p>$<salt, base64>$<hash, base64>[;scram-sha-256=<i>:<salt>:<StoredKey>:<ServerKey>]
// so parameters can be raised later without invalidating existing hashes (see needsRehash).
// Passwords are normalised to Unicode NFC first, as RFC 8265 §4.2 (OpaqueString) prescribes.
import { randomBytes, randomInt, scrypt, timingSafeEqual } from 'node:crypto';
import { formatScramField, scramCredential } from './scram.js';

export interface ScryptParams {
  /** log2 of the CPU/memory cost N. */
  ln: number;
  /** Block size. */
  r: number;
  /** Parallelisation. */
  p: number;
}

/**
 * Chosen by measurement on the development machine (2 cores, Node 20): ln=14,r=8 took ~42 ms,
 * ln=14,r=10 ~55 ms, ln=15,r=8 ~100 ms per hash. ~50 ms keeps a login cheap for the server and an
 * offline guess expensive. Memory per hash: 128·N·r = 20 MiB.
 */
export const DEFAULT_SCRYPT_PARAMS: Readonly<ScryptParams> = Object.freeze({ ln: 14, r: 10, p: 1 });

const SALT_BYTES = 16;
const HASH_BYTES = 32;

// Bounds for parameters read from a stored hash, so a corrupted or hostile hash string cannot make
// verification allocate gigabytes or spin for minutes.
const MAX_LN = 20;
const MAX_R = 32;
const MAX_P = 16;
const MAX_MEMORY = 1024 * 1024 * 1024;

function scryptAsync(password: string, salt: Buffer, keyLength: number, params: ScryptParams): Promise<Buffer> {
  const N = 2 ** params.ln;
  // Node refuses when 128·N·r exceeds maxmem (default 32 MiB); allow what these parameters need.
  const maxmem = 128 * N * params.r * 2 + 1024 * 1024;
  return new Promise((resolve, reject) => {
    scrypt(password.normalize('NFC'), salt, keyLength, { N, r: params.r, p: params.p, maxmem }, (err, key) =>
      err ? reject(err) : resolve(key),
    );
  });
}

/** Hashes a password with a fresh random salt. */
export async function hashPassword(
  password: string,
  params: ScryptParams = DEFAULT_SCRYPT_PARAMS,
  options: { scram?: boolean } = {},
): Promise<string> {
  if (!validParams(params)) throw new RangeError('Invalid scrypt parameters');
  const salt = randomBytes(SALT_BYTES);
  const hash = await scryptAsync(password, salt, HASH_BYTES, params);
  const scrypt = `$scrypt$ln=${params.ln},r=${params.r},p=${params.p}$${b64(salt)}$${b64(hash)}`;
  // A SCRAM-SHA-256 credential (RFC 7677) rides along after ";" (src/auth/scram.ts), so AUTHENTICATE
  // SCRAM-SHA-256 works without a schema change. Hashes without it simply cannot use SCRAM.
  return options.scram === false ? scrypt : `${scrypt};${formatScramField(scramCredential(password))}`;
}

interface ParsedHash {
  params: ScryptParams;
  salt: Buffer;
  hash: Buffer;
}

const HASH_PATTERN = /^\$scrypt\$ln=(\d{1,2}),r=(\d{1,3}),p=(\d{1,3})\$([A-Za-z0-9+/]+={0,2})\$([A-Za-z0-9+/]+={0,2})$/;

function parseHash(stored: string): ParsedHash | null {
  if (typeof stored !== 'string' || stored.length > 1024) return null;
  // Fields after ";" (the SCRAM credential) are not part of the scrypt hash.
  const m = HASH_PATTERN.exec(stored.split(';', 1)[0]!);
  if (!m) return null;
  const params = { ln: Number(m[1]), r: Number(m[2]), p: Number(m[3]) };
  if (!validParams(params)) return null;
  const salt = Buffer.from(m[4]!, 'base64');
  const hash = Buffer.from(m[5]!, 'base64');
  if (salt.length < 8 || salt.length > 64 || hash.length < 16 || hash.length > 128) return null;
  return { params, salt, hash };
}

function validParams(p: ScryptParams): boolean {
  return (
    Number.isInteger(p.ln) && p.ln >= 1 && p.ln <= MAX_LN &&
    Number.isInteger(p.r) && p.r >= 1 && p.r <= MAX_R &&
    Number.isInteger(p.p) && p.p >= 1 && p.p <= MAX_P &&
    128 * 2 ** p.ln * p.r <= MAX_MEMORY
  );
}

/** True when `password` matches `stored`. False (never an exception) for a malformed hash. */
export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  if (typeof password !== 'string') return false;
  const parsed = parseHash(stored);
  if (!parsed) return false;
  let candidate: Buffer;
  try {
    candidate = await scryptAsync(password, parsed.salt, parsed.hash.length, parsed.params);
  } catch {
    return false;
  }
  return candidate.length === parsed.hash.length && timingSafeEqual(candidate, parsed.hash);
}

/** True when `stored` is malformed or weaker than the current default parameters. */
export function needsRehash(stored: string, params: ScryptParams = DEFAULT_SCRYPT_PARAMS): boolean {
  const parsed = parseHash(stored);
  if (!parsed) return true;
  const cost = (q: ScryptParams) => 2 ** q.ln * q.r * q.p;
  return cost(parsed.params) < cost(params) || parsed.hash.length < HASH_BYTES;
}

// 31 symbols (~4.95 bits each) without look-alikes: no 0/o, 1/l/i.
const ALPHABET = 'abcdefghjkmnpqrstuvwxyz23456789';
const GROUPS = 4;
const GROUP_LENGTH = 5;

/**
 * A strong password that is easy to read aloud and type: four groups of five lower-case letters and
 * digits without look-alike characters, e.g. "k7mq2-x9tfh-3wbna-p4ezc" (about 99 bits of entropy).
 */
export function generatePassword(): string {
  const groups: string[] = [];
  for (let g = 0; g < GROUPS; g++) {
    let group = '';
    for (let i = 0; i < GROUP_LENGTH; i++) group += ALPHABET[randomInt(ALPHABET.length)];
    groups.push(group);
  }
  return groups.join('-');
}

function b64(buf: Buffer): string {
  return buf.toString('base64').replace(/=+$/, '');
}
