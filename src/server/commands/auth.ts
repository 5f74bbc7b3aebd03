// Not-authenticated state: STARTTLS (RFC 9051 §6.2.1), LOGIN (§6.2.3), AUTHENTICATE (§6.2.2) with PLAIN
// (RFC 4616), SCRAM-SHA-256 (RFC 7677, RFC 5802; no -PLUS) and SASL-IR (RFC 4959). Failed logins are slowed
// down per address and per account, then locked out.
import { randomBytes } from 'node:crypto';
import { decoyCredential, parseClientFirst, parseScramField, startScram, type ClientFirst } from '../../auth/scram.js';
import type { UserRecord } from '../../store/types.js';
import { bad, no } from '../errors.js';
import { authAllowed, capabilityList } from '../capabilities.js';
import { defineCommand, type CommandContext } from '../session.js';

export const authCommands = [
  defineCommand({
    name: 'STARTTLS',
    states: ['not-authenticated'],
    parse: (r) => r.end(),
    async run(ctx) {
      if (ctx.session.secure) throw bad('TLS is already active');
      if (!ctx.server.settings.tlsAvailable) throw no('TLS is not configured', 'CANNOT');
      await ctx.startTls();
      return 'Begin TLS negotiation now';
    },
  }),
  defineCommand({
    name: 'LOGIN',
    states: ['not-authenticated'],
    parse(r) {
      const user = r.astring('user name');
      const password = r.astring('password');
      r.end();
      return { user, password };
    },
    async run(ctx, { user, password }) {
      if (!authAllowed(ctx.session, ctx.server.settings)) {
        throw no('Plaintext authentication is disabled; use STARTTLS first', 'PRIVACYREQUIRED');
      }
      return login(ctx, user, password);
    },
  }),
  defineCommand({
    name: 'AUTHENTICATE',
    states: ['not-authenticated'],
    parse(r) {
      const mechanism = r.atom('SASL mechanism').toUpperCase();
      const initial = r.atEnd() ? null : r.astring('initial response');
      r.end();
      return { mechanism, initial };
    },
    async run(ctx, { mechanism, initial }) {
      if (mechanism !== 'PLAIN' && mechanism !== 'SCRAM-SHA-256') {
        throw no(`Unsupported SASL mechanism ${mechanism.slice(0, 20)}`, 'CANNOT');
      }
      if (!authAllowed(ctx.session, ctx.server.settings)) {
        throw no('Plaintext authentication is disabled; use STARTTLS first', 'PRIVACYREQUIRED');
      }
      const decoded = await saslResponse(ctx, initial === null ? null : initial === '=' ? '' : initial, '');
      if (mechanism === 'SCRAM-SHA-256') return scram(ctx, decoded);
      // PLAIN: [authzid] NUL authcid NUL passwd (RFC 4616 §2)
      const parts = decoded.split('\0');
      if (parts.length !== 3) throw bad('Malformed PLAIN response');
      const [authzid, authcid, password] = parts as [string, string, string];
      if (authzid !== '' && authzid !== authcid) throw no('Authorization identity not permitted', 'AUTHORIZATIONFAILED');
      return login(ctx, authcid, password);
    },
  }),
];

/** One SASL response: the initial response, or a line read after `+ challenge`; decoded from base64. */
async function saslResponse(ctx: CommandContext, given: string | null, challenge: string): Promise<string> {
  let response = given;
  if (response === null) {
    await ctx.continuation(challenge);
    const line = await ctx.readLine();
    if (line === null) throw bad('Connection closed');
    response = line.toString('latin1');
  }
  // RFC 9051 §6.2.2: a lone "*" cancels the exchange.
  if (response === '*') throw bad('Authentication cancelled');
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(response) || response.length % 4 !== 0) {
    throw bad('Invalid base64 in SASL response');
  }
  return Buffer.from(response, 'base64').toString('utf8');
}

/** Salt source for users without a SCRAM credential (or unknown): stable per name while the server runs. */
const DECOY_SECRET = randomBytes(32);

/**
 * SCRAM-SHA-256 (RFC 5802 §5, RFC 7677): client-first → server-first → client-final (proof) →
 * server-final (our signature) as a last continuation, answered by an empty line. Unknown users and
 * users whose hash has no SCRAM credential go through the same exchange with a decoy credential and fail
 * at the proof, so the exchange reveals nothing about which names exist.
 */
async function scram(ctx: CommandContext, clientFirst: string) {
  let first: ClientFirst;
  try {
    first = parseClientFirst(clientFirst);
  } catch (err) {
    throw bad(`SCRAM: ${(err as Error).message}`);
  }
  const ip = ctx.session.remoteAddress;
  const throttle = ctx.server.throttle;
  if (first.user.length > 255) throw bad('SCRAM: user name too long');
  if (throttle.checkLogin(ip, first.user) < 0) throw no('Too many failed logins; try again later', 'UNAVAILABLE');
  const record = await ctx.server.store.getUser(first.user);
  const cred = record ? parseScramField(record.passwordHash) : null;
  const exchange = startScram(first, cred ?? decoyCredential(first.user, DECOY_SECRET));
  const clientFinal = await saslResponse(ctx, null, Buffer.from(exchange.serverFirst).toString('base64'));
  let serverFinal: string | null;
  try {
    serverFinal = exchange.finish(clientFinal);
  } catch (err) {
    throw bad(`SCRAM: ${(err as Error).message}`);
  }
  if (!serverFinal || !cred || !record) {
    const delay = throttle.failLogin(ip, first.user);
    await new Promise((r) => setTimeout(r, delay));
    ctx.log.info({ ip, user: first.user.slice(0, 64), protocol: 'imap', mechanism: 'SCRAM-SHA-256' }, 'failed login');
    throw no('Invalid credentials', 'AUTHENTICATIONFAILED');
  }
  // RFC 5802 §5: the client must see the server's signature; it answers with an empty response.
  const ack = await saslResponse(ctx, null, Buffer.from(serverFinal).toString('base64'));
  if (ack !== '') throw bad('SCRAM: expected an empty response after server-final-message');
  return loggedIn(ctx, ip, first.user, record);
}

async function login(ctx: CommandContext, user: string, password: string) {
  const ip = ctx.session.remoteAddress;
  const throttle = ctx.server.throttle;
  if (throttle.checkLogin(ip, user) < 0) {
    ctx.log.info({ ip, user: user.slice(0, 64), protocol: 'imap' }, 'login refused: locked out');
    throw no('Too many failed logins; try again later', 'UNAVAILABLE');
  }
  let record: UserRecord | null = null;
  if (user.length <= 255 && password.length <= 1024) record = await ctx.server.authenticate(user, password);
  if (!record) {
    const delay = throttle.failLogin(ip, user);
    await new Promise((r) => setTimeout(r, delay));
    // One line per failed login: the address and the name given, never the password.
    ctx.log.info({ ip, user: user.slice(0, 64), protocol: 'imap' }, 'failed login');
    throw no('Invalid credentials', 'AUTHENTICATIONFAILED');
  }
  return loggedIn(ctx, ip, user, record);
}

function loggedIn(ctx: CommandContext, ip: string, user: string, record: UserRecord) {
  ctx.server.throttle.succeedLogin(ip, user);
  ctx.setState({ kind: 'authenticated', user: record });
  ctx.log.info({ ip, user: record.name, protocol: 'imap' }, 'login');
  const caps = capabilityList(ctx.session, ctx.server.settings).join(' ');
  return { status: 'OK' as const, code: { name: 'CAPABILITY', args: caps }, text: 'Logged in' };
}

