// Not-authenticated state: STARTTLS (RFC 9051 §6.2.1), LOGIN (§6.2.3), AUTHENTICATE (§6.2.2) with PLAIN
// (RFC 4616), SCRAM-SHA-256 and, on TLS, SCRAM-SHA-256-PLUS (RFC 7677, RFC 5802 §6 channel binding,
// RFC 9266 tls-exporter, RFC 5929 tls-unique; the exchange is src/auth/scram-login.ts, shared with POP3),
// and SASL-IR (RFC 4959). Failed logins are slowed down per address and per account, then locked out.
import { scramLogin, scramMechanisms, type ScramMechanism } from '../../auth/scram-login.js';
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
      const scramMechanism = scramMechanisms(ctx.session.tlsSocket).find((m) => m === mechanism);
      if (mechanism !== 'PLAIN' && !scramMechanism) {
        throw no(`Unsupported SASL mechanism ${mechanism.slice(0, 20)}`, 'CANNOT');
      }
      if (!authAllowed(ctx.session, ctx.server.settings)) {
        throw no('Plaintext authentication is disabled; use STARTTLS first', 'PRIVACYREQUIRED');
      }
      const decoded = await saslResponse(ctx, initial === null ? null : initial === '=' ? '' : initial, '');
      if (scramMechanism) return scram(ctx, scramMechanism, decoded);
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

/**
 * SCRAM-SHA-256(-PLUS) (RFC 5802 §5, RFC 7677): client-first → server-first → client-final (proof) →
 * server-final (our signature) as a last continuation, answered by an empty line. Unknown users and
 * users whose hash has no SCRAM credential fail at the proof, exactly like a wrong password.
 */
async function scram(ctx: CommandContext, mechanism: ScramMechanism, clientFirst: string) {
  const ip = ctx.session.remoteAddress;
  const result = await scramLogin({
    mechanism,
    clientFirst,
    tls: ctx.session.tlsSocket ?? null,
    ip,
    throttle: ctx.server.throttle,
    findUser: (name) => ctx.server.store.getUser(name),
    challenge: (text) => saslResponse(ctx, null, Buffer.from(text, 'utf8').toString('base64')),
  });
  switch (result.kind) {
    case 'malformed':
      throw bad(`SCRAM: ${result.reason}`);
    case 'locked':
      ctx.log.info({ ip, user: result.user.slice(0, 64), protocol: 'imap', mechanism }, 'login refused: locked out');
      throw no('Too many failed logins; try again later', 'UNAVAILABLE');
    case 'refused':
      ctx.log.info({ ip, user: result.user.slice(0, 64), protocol: 'imap', mechanism, reason: result.reason }, 'login refused');
      throw no(`SCRAM: ${result.reason}`, 'AUTHENTICATIONFAILED');
    case 'failed':
      ctx.log.info({ ip, user: result.user.slice(0, 64), protocol: 'imap', mechanism, reason: result.reason }, 'failed login');
      throw no('Invalid credentials', 'AUTHENTICATIONFAILED');
    case 'ok':
      return loggedIn(ctx, ip, result.user, result.record);
  }
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

