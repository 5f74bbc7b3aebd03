// SCRAM-SHA-256 (RFC 5802 §3, §5, §7; RFC 7677) for the server: the stored credential (salt, iteration
// count, StoredKey, ServerKey) and the checks of the client's messages, including the channel binding of
// SCRAM-SHA-256-PLUS (RFC 5802 §6: the "c=" attribute is base64(gs2-header + channel binding data)).
// Which GS2 flags are acceptable on which connection is decided by src/auth/scram-login.ts.
// Passwords are normalised to NFC, as for the scrypt hash (RFC 8265 OpaqueString); for ASCII passwords
// this equals SASLprep.
import { createHash, createHmac, pbkdf2Sync, randomBytes, timingSafeEqual } from 'node:crypto';

export const SCRAM_ITERATIONS = 10_000;

export interface ScramCredential {
  iterations: number;
  salt: Buffer;
  storedKey: Buffer;
  serverKey: Buffer;
}

const hmac = (key: Buffer, text: string): Buffer => createHmac('sha256', key).update(text, 'utf8').digest();
const sha256 = (data: Buffer): Buffer => createHash('sha256').update(data).digest();

/** SaltedPassword → StoredKey, ServerKey (RFC 5802 §3). */
export function scramCredential(password: string, salt: Buffer = randomBytes(16), iterations = SCRAM_ITERATIONS): ScramCredential {
  const salted = pbkdf2Sync(password.normalize('NFC'), salt, iterations, 32, 'sha256');
  return { iterations, salt, storedKey: sha256(hmac(salted, 'Client Key')), serverKey: hmac(salted, 'Server Key') };
}

/** The credential as a field of the password hash string: `scram-sha-256=<i>:<salt>:<StoredKey>:<ServerKey>`. */
export function formatScramField(c: ScramCredential): string {
  return `scram-sha-256=${c.iterations}:${c.salt.toString('base64')}:${c.storedKey.toString('base64')}:${c.serverKey.toString('base64')}`;
}

const FIELD = /(?:^|;)scram-sha-256=(\d{4,7}):([A-Za-z0-9+/]+={0,2}):([A-Za-z0-9+/]{43}=):([A-Za-z0-9+/]{43}=)(?:;|$)/;

/** The SCRAM credential stored in a password hash string, or null when it has none. */
export function parseScramField(stored: string): ScramCredential | null {
  const m = FIELD.exec(stored);
  if (!m) return null;
  return {
    iterations: Number(m[1]),
    salt: Buffer.from(m[2]!, 'base64'),
    storedKey: Buffer.from(m[3]!, 'base64'),
    serverKey: Buffer.from(m[4]!, 'base64'),
  };
}

export interface ClientFirst {
  gs2Header: string;
  /** The gs2-cbind-flag (RFC 5802 §7): 'n' client does not bind, 'y' client could but thinks the server cannot, 'p' binds. */
  cbindFlag: 'n' | 'y' | 'p';
  /** The channel binding type named after "p=", else null. */
  cbName: string | null;
  user: string;
  clientNonce: string;
  bare: string;
}

/**
 * Parses client-first-message (RFC 5802 §7); throws Error with a short reason. A "p=" flag is refused
 * unless `allowChannelBinding` (only the -PLUS mechanism may bind).
 */
export function parseClientFirst(msg: string, opts: { allowChannelBinding?: boolean } = {}): ClientFirst {
  const m = /^([ny]|p=[^,]*),(a=[^,]*)?,(n=[^,]+,r=[\x21-\x2b\x2d-\x7e]+(?:,.*)?)$/.exec(msg);
  if (!m) throw new Error('malformed client-first-message');
  const flag = m[1]!;
  if (flag.startsWith('p=') && !opts.allowChannelBinding) throw new Error('channel binding is not supported');
  // cb-name = 1*(ALPHA / DIGIT / "." / "-") (RFC 5802 §7)
  if (flag.startsWith('p=') && !/^p=[A-Za-z0-9.-]{1,64}$/.test(flag)) throw new Error('malformed channel binding name');
  const bare = m[3]!;
  const fields = bare.split(',');
  if (fields.some((f) => /^m=/.test(f))) throw new Error('mandatory extension not supported');
  const user = unescapeName(fields[0]!.slice(2));
  const authzid = m[2] ? unescapeName(m[2].slice(2)) : '';
  if (authzid !== '' && authzid !== user) throw new Error('authorization identity not permitted');
  return {
    gs2Header: `${flag},${m[2] ?? ''},`,
    cbindFlag: flag.startsWith('p=') ? 'p' : (flag as 'n' | 'y'),
    cbName: flag.startsWith('p=') ? flag.slice(2) : null,
    user,
    clientNonce: fields[1]!.slice(2),
    bare,
  };
}

function unescapeName(s: string): string {
  if (/=(?!2C|3D)/.test(s)) throw new Error('bad escape in user name');
  return s.replace(/=2C/g, ',').replace(/=3D/g, '=');
}

export interface ScramExchange {
  serverFirst: string;
  /** Checks client-final-message; returns server-final-message ("v=...") or null if the proof is wrong. */
  finish(clientFinal: string): string | null;
}

/** The client's "c=" did not match what this connection's channel binding gives: fail authentication. */
export class ScramChannelBindingError extends Error {
  override readonly name = 'ScramChannelBindingError';
}

/**
 * Starts the server side after client-first: `serverNonce` is the random part the server adds;
 * `channelBinding` is the connection's binding data when the client sent "p=" (RFC 5802 §6: "The server
 * MUST always validate the client's c= field").
 */
export function startScram(
  first: ClientFirst,
  cred: ScramCredential,
  serverNonce: string = randomBytes(18).toString('base64'),
  channelBinding: Buffer | null = null,
): ScramExchange {
  if (first.cbindFlag === 'p' && !channelBinding) throw new Error('channel binding data missing');
  const cbindInput = Buffer.concat([Buffer.from(first.gs2Header, 'utf8'), first.cbindFlag === 'p' ? channelBinding! : Buffer.alloc(0)]);
  const nonce = first.clientNonce + serverNonce;
  const serverFirst = `r=${nonce},s=${cred.salt.toString('base64')},i=${cred.iterations}`;
  return {
    serverFirst,
    finish(clientFinal: string): string | null {
      const m = /^c=([A-Za-z0-9+/]*={0,2}),r=([^,]+)(?:,.*)?,p=([A-Za-z0-9+/]+={0,2})$/.exec(clientFinal);
      if (!m) throw new Error('malformed client-final-message');
      const given = Buffer.from(m[1]!, 'base64');
      if (given.length !== cbindInput.length || !timingSafeEqual(given, cbindInput)) {
        throw new ScramChannelBindingError('channel binding mismatch');
      }
      if (m[2] !== nonce) throw new Error('nonce mismatch');
      const withoutProof = clientFinal.slice(0, clientFinal.lastIndexOf(',p='));
      const authMessage = `${first.bare},${serverFirst},${withoutProof}`;
      const proof = Buffer.from(m[3]!, 'base64');
      if (proof.length !== 32) return null;
      const signature = hmac(cred.storedKey, authMessage);
      const clientKey = Buffer.alloc(32);
      for (let i = 0; i < 32; i++) clientKey[i] = proof[i]! ^ signature[i]!;
      if (!timingSafeEqual(sha256(clientKey), cred.storedKey)) return null;
      return `v=${hmac(cred.serverKey, authMessage).toString('base64')}`;
    },
  };
}

/**
 * A stand-in credential for unknown users and users without a SCRAM credential: the exchange runs the same
 * way (a salt that is stable per name, so repeated tries see the same salt) and fails at the proof.
 */
export function decoyCredential(user: string, secret: Buffer): ScramCredential {
  return {
    iterations: SCRAM_ITERATIONS,
    salt: createHmac('sha256', secret).update(user, 'utf8').digest().subarray(0, 16),
    storedKey: randomBytes(32),
    serverKey: randomBytes(32),
  };
}
