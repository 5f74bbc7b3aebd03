// Connection-setup commands: CAPABILITY (RFC 9051 §6.1.1), STARTTLS (§6.2.1: the capability list is
// discarded afterwards; no command may be pipelined after it), LOGIN (§6.2.3; refused when LOGINDISABLED),
// AUTHENTICATE PLAIN (§6.2.2, RFC 4616; the initial response goes on the command line with SASL-IR,
// RFC 4959), AUTHENTICATE SCRAM-SHA-256 and SCRAM-SHA-256-PLUS (RFC 7677, RFC 5802 §3, §5, §6; channel
// binding tls-exporter RFC 9266 on TLS 1.3, tls-unique RFC 5929 on TLS 1.2), ENABLE (RFC 5161), LOGOUT (§6.1.3).
import { createHash, createHmac, pbkdf2Sync, randomBytes, timingSafeEqual } from 'node:crypto';
import { TLSSocket } from 'node:tls';
// A dependency-free leaf module (node:tls only), shared with the server so both ends compute the same bytes.
import { channelBindingData, channelBindingType } from '../../auth/channel-binding.js';
import { qstr } from '../command-encoder.js';
import type { ClientConnection, ConversationContext } from '../connection.js';
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

export type AuthMethod = 'PLAIN' | 'LOGIN' | 'SCRAM-SHA-256' | 'SCRAM-SHA-256-PLUS';

/**
 * Picks the method when none was asked for: SCRAM-SHA-256-PLUS on TLS when offered (the password never
 * reaches the server, and a man in the middle with an accepted certificate is detected), else PLAIN, else
 * SCRAM-SHA-256, else LOGIN. PLAIN comes before SCRAM-SHA-256 so that accounts whose password predates the
 * server's SCRAM credential can still log in. PLAIN is not tried after a failed -PLUS (that would hand
 * the password to the very man in the middle channel binding detects); pass `method` to choose.
 */
export function chooseAuthMethod(caps: ReadonlySet<string>, tls: TLSSocket | null): AuthMethod {
  // PLAIN first when offered: servers list SCRAM for every account, also for accounts whose stored
  // credential cannot do it (Petrel's hashes from before SCRAM, many Dovecot passdbs), and a default that
  // locks those accounts out is worse than PLAIN inside TLS with a verified certificate (what Thunderbird
  // and mbsync do). SCRAM-SHA-256-PLUS is used when asked for, or when PLAIN is not offered.
  if (caps.has('AUTH=PLAIN')) return 'PLAIN';
  if (tls && caps.has('AUTH=SCRAM-SHA-256-PLUS') && channelBindingType(tls)) return 'SCRAM-SHA-256-PLUS';
  return caps.has('AUTH=SCRAM-SHA-256') ? 'SCRAM-SHA-256' : 'LOGIN';
}

/** Logs in; returns the method used. Capabilities are refreshed afterwards (RFC 9051 §6.2.2). */
export async function authenticate(conn: ClientConnection, user: string, password: string, method?: AuthMethod): Promise<AuthMethod> {
  const caps = conn.capabilities;
  const tls = conn.transport instanceof TLSSocket ? conn.transport : null;
  const chosen = method ?? chooseAuthMethod(caps, tls);
  const before = conn.capabilities;
  if (chosen === 'PLAIN') {
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
  } else if (chosen === 'SCRAM-SHA-256' || chosen === 'SCRAM-SHA-256-PLUS') {
    await scramAuthenticate(conn, chosen, user, password, tls);
  } else {
    if (caps.has('LOGINDISABLED')) throw new ImapConnectionError('refused', 'The server disabled LOGIN and offers no AUTH=PLAIN');
    await conn.run('LOGIN', [qstr(user), qstr(password)], { barrier: true });
  }
  if (conn.capabilities === before) await capability(conn);
  return chosen;
}

async function scramAuthenticate(conn: ClientConnection, mechanism: 'SCRAM-SHA-256' | 'SCRAM-SHA-256-PLUS', user: string, password: string, tls: TLSSocket | null): Promise<void> {
  let binding: ChannelBinding | null = null;
  if (mechanism === 'SCRAM-SHA-256-PLUS') {
    const type = tls ? channelBindingType(tls) : null;
    const data = tls && type ? channelBindingData(tls, type, 'client') : null;
    if (!type || !data) throw new ImapConnectionError('refused', 'SCRAM-SHA-256-PLUS needs a TLS 1.2 or 1.3 connection');
    binding = { type, data };
  }
  // RFC 5802 §6: a client that could bind but does not see -PLUS says so with "y" (downgrade detection).
  const scram = new ScramClient(user, password, { binding, clientCanBind: tls !== null && channelBindingType(tls) !== null });
  const first = Buffer.from(scram.first(), 'utf8').toString('base64');
  const b64line = (text: string) => Buffer.from(Buffer.from(text, 'utf8').toString('base64') + '\r\n');
  const conversation = async (ctx: ConversationContext) => {
    if (!conn.capabilities.has('SASL-IR')) {
      await ctx.continuation();
      await ctx.write(Buffer.from(first + '\r\n'));
    }
    const serverFirst = Buffer.from(await ctx.continuation(), 'base64').toString('utf8');
    let final: string;
    try {
      final = scram.final(serverFirst);
    } catch (err) {
      await ctx.write(Buffer.from('*\r\n'));
      throw new ImapConnectionError('protocol', `SCRAM: ${(err as Error).message}`);
    }
    await ctx.write(b64line(final));
    const serverFinal = Buffer.from(await ctx.continuation(), 'base64').toString('utf8');
    try {
      scram.verify(serverFinal);
    } catch (err) {
      // The server does not know the password (or is not the server the channel is bound to): never trust it.
      await ctx.write(Buffer.from('*\r\n'));
      throw new ImapConnectionError('protocol', `SCRAM: ${(err as Error).message}`);
    }
    await ctx.write(Buffer.from('\r\n'));
  };
  await conn.run('AUTHENTICATE', conn.capabilities.has('SASL-IR') ? [mechanism, first] : [mechanism], { barrier: true, conversation });
}

export interface ChannelBinding {
  type: string;
  data: Buffer;
}

const hmac = (key: Buffer, text: string): Buffer => createHmac('sha256', key).update(text, 'utf8').digest();
const sha256 = (data: Buffer): Buffer => createHash('sha256').update(data).digest();

/** The SCRAM user name: "," and "=" escaped as =2C and =3D (RFC 5802 §5.1). */
function scramName(name: string): string {
  return name.normalize('NFC').replace(/=/g, '=3D').replace(/,/g, '=2C');
}

/**
 * The client side of SCRAM-SHA-256 (RFC 5802 §3, §5, §7), without I/O: client-first, then client-final
 * from server-first, then the check of the server's signature (mutual authentication). Passwords are
 * normalised to NFC, as the Petrel server does (RFC 8265 OpaqueString; equal to SASLprep for ASCII).
 */
export class ScramClient {
  readonly gs2Header: string;
  private readonly nonce: string;
  private readonly bare: string;
  private expectedServerSignature: Buffer | null = null;
  static readonly MAX_ITERATIONS = 1_000_000;

  constructor(
    user: string,
    private readonly password: string,
    private readonly opts: { binding: ChannelBinding | null; clientCanBind?: boolean; nonce?: string },
  ) {
    const flag = opts.binding ? `p=${opts.binding.type}` : opts.clientCanBind ? 'y' : 'n';
    this.gs2Header = `${flag},,`;
    this.nonce = opts.nonce ?? randomBytes(18).toString('base64');
    this.bare = `n=${scramName(user)},r=${this.nonce}`;
  }

  first(): string {
    return this.gs2Header + this.bare;
  }

  final(serverFirst: string): string {
    const m = /^r=([\x21-\x2b\x2d-\x7e]+),s=([A-Za-z0-9+/]+={0,2}),i=(\d{1,9})(?:,.*)?$/.exec(serverFirst);
    if (!m) throw new Error('malformed server-first-message');
    const nonce = m[1]!;
    if (!nonce.startsWith(this.nonce) || nonce.length === this.nonce.length) throw new Error('the server did not extend our nonce');
    const iterations = Number(m[3]);
    if (iterations < 4096 || iterations > ScramClient.MAX_ITERATIONS) throw new Error(`iteration count ${iterations} out of range`);
    const salted = pbkdf2Sync(this.password.normalize('NFC'), Buffer.from(m[2]!, 'base64'), iterations, 32, 'sha256');
    const cbind = Buffer.concat([Buffer.from(this.gs2Header, 'utf8'), this.opts.binding?.data ?? Buffer.alloc(0)]);
    const withoutProof = `c=${cbind.toString('base64')},r=${nonce}`;
    const authMessage = `${this.bare},${serverFirst},${withoutProof}`;
    const clientKey = hmac(salted, 'Client Key');
    const signature = hmac(sha256(clientKey), authMessage);
    const proof = Buffer.alloc(32);
    for (let i = 0; i < 32; i++) proof[i] = clientKey[i]! ^ signature[i]!;
    this.expectedServerSignature = hmac(hmac(salted, 'Server Key'), authMessage);
    return `${withoutProof},p=${proof.toString('base64')}`;
  }

  /** Throws unless server-final-message carries the signature only the holder of ServerKey can make. */
  verify(serverFinal: string): void {
    if (!this.expectedServerSignature) throw new Error('server-final before server-first');
    const e = /^e=([^,]*)/.exec(serverFinal);
    if (e) throw new Error(`server error ${e[1]!.slice(0, 60)}`);
    const m = /^v=([A-Za-z0-9+/]+={0,2})(?:,.*)?$/.exec(serverFinal);
    const got = m ? Buffer.from(m[1]!, 'base64') : Buffer.alloc(0);
    if (got.length !== 32 || !timingSafeEqual(got, this.expectedServerSignature)) throw new Error("the server's signature does not verify");
  }
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
