// The server side of a SCRAM-SHA-256 / SCRAM-SHA-256-PLUS login (RFC 5802 §5, §6; RFC 7677), shared by
// IMAP AUTHENTICATE (RFC 9051 §6.2.2) and POP3 AUTH (RFC 5034 §4): the protocols only carry the messages
// (base64 lines, "*" to cancel) and word the answers. Here: which GS2 channel binding flag is acceptable on
// which connection (downgrade protection), the failed-login throttle (same accounting as USER/PASS and
// LOGIN), the decoy exchange for unknown users, and the final round that hands over the server signature
// (RFC 4422 §5: protocols without "additional data with success" send it as a last challenge, answered
// by an empty response).
import { randomBytes } from 'node:crypto';
import type { TLSSocket } from 'node:tls';
import { channelBindingData, channelBindingType } from './channel-binding.js';
import {
  decoyCredential,
  parseClientFirst,
  parseScramField,
  ScramChannelBindingError,
  startScram,
  type ClientFirst,
} from './scram.js';

export const SCRAM_MECHANISMS = ['SCRAM-SHA-256', 'SCRAM-SHA-256-PLUS'] as const;
export type ScramMechanism = (typeof SCRAM_MECHANISMS)[number];

/** The SCRAM mechanisms to advertise on a connection: -PLUS only where there is a TLS channel to bind to. */
export function scramMechanisms(tls: TLSSocket | null | undefined): ScramMechanism[] {
  return tls && channelBindingType(tls) ? ['SCRAM-SHA-256', 'SCRAM-SHA-256-PLUS'] : ['SCRAM-SHA-256'];
}

/** Failed-login accounting (src/server/server-context.ts LoginThrottle has this shape). */
export interface ScramThrottle {
  /** 0, or -1 when the address or the account is locked out. */
  checkLogin(ip: string, user: string): number;
  /** Records a failure; returns the delay before answering. */
  failLogin(ip: string, user: string): number;
}

export interface ScramLoginOptions<U extends { passwordHash: string }> {
  mechanism: ScramMechanism;
  /** The decoded initial client response (client-first-message). */
  clientFirst: string;
  /** The connection's TLS socket, or null in clear text. */
  tls: TLSSocket | null;
  ip: string;
  throttle: ScramThrottle;
  findUser(name: string): Promise<U | null>;
  /**
   * Sends a server challenge (the protocol base64-encodes it) and returns the client's decoded response.
   * Cancelling, bad base64 and a closed connection are the protocol's to answer: it throws.
   */
  challenge(text: string): Promise<string>;
}

export type ScramLoginResult<U> =
  /** The proof and (for -PLUS) the channel binding checked out; the client acknowledged our signature. */
  | { kind: 'ok'; user: string; record: U }
  /** Wrong password, unknown user, no SCRAM credential, or binding mismatch: counted, delay already served. */
  | { kind: 'failed'; user: string; reason: string }
  /** The address or the account is locked out; nothing was checked. */
  | { kind: 'locked'; user: string }
  /** Authentication refused before any password check (downgrade detected, unsupported binding type). */
  | { kind: 'refused'; user: string; reason: string }
  /** The client's messages do not follow RFC 5802 §7. */
  | { kind: 'malformed'; reason: string };

/** Salt source for users without a SCRAM credential (or unknown): stable per name while the server runs. */
const DECOY_SECRET = randomBytes(32);

const MAX_USER_LENGTH = 255;

export async function scramLogin<U extends { passwordHash: string }>(o: ScramLoginOptions<U>): Promise<ScramLoginResult<U>> {
  const plus = o.mechanism === 'SCRAM-SHA-256-PLUS';
  const bindingType = o.tls ? channelBindingType(o.tls) : null;
  if (plus && !bindingType) return { kind: 'malformed', reason: 'SCRAM-SHA-256-PLUS needs a TLS connection' };
  let first: ClientFirst;
  try {
    first = parseClientFirst(o.clientFirst, { allowChannelBinding: plus });
  } catch (err) {
    return { kind: 'malformed', reason: (err as Error).message };
  }
  if (first.user.length > MAX_USER_LENGTH) return { kind: 'malformed', reason: 'user name too long' };
  // RFC 5802 §6: -PLUS means the client binds ("p"); "n"/"y" with it is a contradiction.
  if (plus && first.cbindFlag !== 'p') return { kind: 'malformed', reason: 'SCRAM-SHA-256-PLUS requires a "p=" channel binding flag' };
  // RFC 5802 §6: "y" means the client could bind but saw no -PLUS. We offer -PLUS on every TLS connection,
  // so the mechanism list was tampered with (a downgrade attack): fail.
  if (!plus && first.cbindFlag === 'y' && bindingType) {
    return { kind: 'refused', user: first.user, reason: 'the server supports channel binding (SCRAM-SHA-256-PLUS); possible downgrade' };
  }
  let binding: Buffer | null = null;
  if (plus) {
    binding = channelBindingData(o.tls!, first.cbName ?? '', 'server');
    // RFC 5802 §6: an indicated channel binding type the server does not support fails authentication.
    if (!binding) return { kind: 'refused', user: first.user, reason: `channel binding type ${first.cbName?.slice(0, 30)} is not supported here (use ${bindingType})` };
  }
  if (o.throttle.checkLogin(o.ip, first.user) < 0) return { kind: 'locked', user: first.user };
  const record = await o.findUser(first.user);
  const cred = record ? parseScramField(record.passwordHash) : null;
  // Unknown users and hashes without a SCRAM credential run the same exchange and fail at the proof.
  const exchange = startScram(first, cred ?? decoyCredential(first.user, DECOY_SECRET), undefined, binding);
  const clientFinal = await o.challenge(exchange.serverFirst);
  let serverFinal: string | null;
  let reason = 'invalid proof';
  try {
    serverFinal = exchange.finish(clientFinal);
  } catch (err) {
    if (!(err instanceof ScramChannelBindingError)) return { kind: 'malformed', reason: (err as Error).message };
    serverFinal = null;
    reason = 'channel binding mismatch';
  }
  if (!serverFinal || !cred || !record) {
    const delay = o.throttle.failLogin(o.ip, first.user);
    await new Promise((r) => setTimeout(r, delay));
    return { kind: 'failed', user: first.user, reason };
  }
  // RFC 5802 §5: the client must see the server's signature; it answers with an empty response.
  const ack = await o.challenge(serverFinal);
  if (ack !== '') return { kind: 'malformed', reason: 'expected an empty response after server-final-message' };
  return { kind: 'ok', user: first.user, record };
}
