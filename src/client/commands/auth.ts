// Connection-setup commands: CAPABILITY (RFC 9051 §6.1.1), STARTTLS (§6.2.1: the capability list is
// discarded afterwards; no command may be pipelined after it), LOGIN (§6.2.3; refused when LOGINDISABLED),
// AUTHENTICATE PLAIN (§6.2.2, RFC 4616; the initial response goes on the command line with SASL-IR,
// RFC 4959), ENABLE (RFC 5161), LOGOUT (§6.1.3).
import { qstr } from '../command-encoder.js';
import type { ClientConnection } from '../connection.js';
import { ImapConnectionError } from '../errors.js';

export async function capability(conn: ClientConnection): Promise<Set<string>> {
  await conn.run('CAPABILITY', []);
  return conn.capabilities;
}

export async function startTls(conn: ClientConnection): Promise<void> {
  if (!conn.capabilities.has('STARTTLS')) throw new ImapConnectionError('tls', 'The server does not offer STARTTLS; refusing to continue in clear text');
  await conn.run('STARTTLS', [], {
    barrier: true,
    onTagged: (status) => {
      if (status === 'OK') conn.discardInput();
    },
  });
}

export type AuthMethod = 'PLAIN' | 'LOGIN';

/** Logs in; returns the method used. Capabilities are refreshed afterwards (RFC 9051 §6.2.2). */
export async function authenticate(conn: ClientConnection, user: string, password: string, method?: AuthMethod): Promise<AuthMethod> {
  const caps = conn.capabilities;
  const plain = method === 'PLAIN' || (method === undefined && caps.has('AUTH=PLAIN'));
  const before = conn.capabilities;
  if (plain) {
    const token = Buffer.from(`\0${user}\0${password}`, 'utf8').toString('base64');
    if (caps.has('SASL-IR')) {
      await conn.run('AUTHENTICATE', ['PLAIN', token], { barrier: true });
    } else {
      await conn.run('AUTHENTICATE', ['PLAIN'], {
        barrier: true,
        conversation: async (ctx) => {
          await ctx.continuation();
          await ctx.write(Buffer.from(token + '\r\n'));
        },
      });
    }
  } else {
    if (caps.has('LOGINDISABLED')) throw new ImapConnectionError('refused', 'The server disabled LOGIN and offers no AUTH=PLAIN');
    await conn.run('LOGIN', [qstr(user), qstr(password)], { barrier: true });
  }
  if (conn.capabilities === before) await capability(conn);
  return plain ? 'PLAIN' : 'LOGIN';
}

/** ENABLE the wanted extensions the server offers; returns what the server confirmed. */
export async function enable(conn: ClientConnection, wanted: readonly string[]): Promise<Set<string>> {
  const caps = conn.capabilities;
  const ask = wanted.map((w) => w.toUpperCase()).filter((w) => caps.has(w) && !conn.enabled.has(w));
  if (ask.length === 0 || !(caps.has('ENABLE') || caps.has('IMAP4REV2'))) return conn.enabled;
  await conn.run('ENABLE', ask, { barrier: true });
  return conn.enabled;
}

export async function logout(conn: ClientConnection): Promise<void> {
  if (conn.closed) return;
  conn.expectClose();
  try {
    await conn.run('LOGOUT', [], { barrier: true });
  } catch (err) {
    if (!(err instanceof ImapConnectionError)) throw err;
  } finally {
    conn.destroy();
  }
}
