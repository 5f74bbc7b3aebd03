// What `petrel serve` prints on stdout: once, the first account's generated password in a box (as
// Stalwart does on its first start), and on every start how to connect: the IMAP, IMAPS, POP3, POP3S and
// LMTP endpoints (RFC 9051, RFC 8314 §3.3, RFC 1939, RFC 2033) and client examples.
import type { AuthPolicy } from '../config/config.js';

export interface ConnectInfo {
  dataDir: string;
  host: string;
  imapPort: number | null;
  imapsPort: number | null;
  pop3Port: number | null;
  pop3sPort: number | null;
  /** LMTP delivery: TCP port on `host` (its own address, loopback by default) and/or a socket path. */
  lmtp: { host: string; port: number | null; socket: string | null };
  allowInsecureAuth: AuthPolicy;
  certificate: { path: string; selfSigned: boolean; fingerprint256: string };
  users: string[];
}

/** An address clients can use: wildcard binds are reached on loopback here. */
export function connectHost(host: string): string {
  if (host === '0.0.0.0' || host === '::' || host === '') return '127.0.0.1';
  return host;
}

/** host:port, bracketing IPv6 addresses. */
export function hostPort(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

/** The python3 imaplib one-liner for this server. */
export function pythonExample(info: ConnectInfo, user: string, password: string | null): string {
  const host = connectHost(info.host);
  const pw = password === null ? "getpass.getpass()" : `'${password}'`;
  const imports = password === null ? 'imaplib, ssl, getpass' : 'imaplib, ssl';
  const unverified = 'ssl_context=ssl._create_unverified_context()';
  const statements: string[] = [];
  if (info.imapsPort !== null) {
    const ctx = info.certificate.selfSigned ? `, ${unverified}` : '';
    statements.push(`m = imaplib.IMAP4_SSL('${host}', ${info.imapsPort}${ctx})`);
  } else {
    statements.push(`m = imaplib.IMAP4('${host}', ${info.imapPort})`);
    if (!isLoopback(host) || info.allowInsecureAuth === 'never') {
      statements.push(`m.starttls(${info.certificate.selfSigned ? unverified : ''})`);
    }
  }
  statements.push(`m.login('${user}', ${pw})`, 'print(m.list())');
  return `python3 -c "import ${imports}; ${statements.join('; ')}"`;
}

export function firstStartBox(user: string, password: string, info: ConnectInfo): string {
  const host = connectHost(info.host);
  const lines = ['Petrel: first start. Created an account:', '', `    user:      ${user}`, `    password:  ${password}`];
  if (info.imapsPort !== null) lines.push(`    IMAPS:     ${hostPort(host, info.imapsPort)} (implicit TLS)`);
  if (info.imapPort !== null) lines.push(`    IMAP:      ${hostPort(host, info.imapPort)} (STARTTLS)`);
  if (info.pop3sPort !== null) lines.push(`    POP3S:     ${hostPort(host, info.pop3sPort)} (implicit TLS)`);
  if (info.pop3Port !== null) lines.push(`    POP3:      ${hostPort(host, info.pop3Port)} (STLS)`);
  lines.push(
    '',
    'This password is shown only this once. Change it with:',
    `    petrel user passwd ${user} --data ${shellQuote(info.dataDir)}`,
  );
  const width = Math.max(...lines.map((l) => l.length));
  const rule = `+${'-'.repeat(width + 2)}+`;
  return [
    rule,
    ...lines.map((l) => `| ${l.padEnd(width)} |`),
    rule,
    ...(info.imapPort !== null || info.imapsPort !== null ? ['Try it:', `  ${pythonExample(info, user, password)}`] : []),
    '',
  ].join('\n') + '\n';
}

export function connectText(info: ConnectInfo): string {
  const host = connectHost(info.host);
  const out: string[] = [];
  const listening = info.host === host ? '' : ` (listening on ${info.host === '::' ? 'all addresses, [::]' : 'all addresses, ' + info.host})`;
  const protocols = [
    info.imapPort !== null || info.imapsPort !== null ? 'IMAP' : null,
    info.pop3Port !== null || info.pop3sPort !== null ? 'POP3' : null,
    info.lmtp.port !== null || info.lmtp.socket !== null ? 'LMTP' : null,
  ].filter((p): p is string => p !== null);
  const named = protocols.length > 1 ? `${protocols.slice(0, -1).join(', ')} and ${protocols.at(-1)!}` : protocols.join('');
  out.push(`Petrel is serving ${named} from ${info.dataDir}${listening}`);
  const login =
    info.allowInsecureAuth === 'always'
      ? 'password login allowed without TLS'
      : info.allowInsecureAuth === 'loopback'
        ? 'password login without TLS only from loopback'
        : 'password login only after STARTTLS';
  if (info.imapPort !== null) out.push(`  IMAP   ${hostPort(host, info.imapPort)}  STARTTLS; ${login}`);
  if (info.imapsPort !== null) out.push(`  IMAPS  ${hostPort(host, info.imapsPort)}  implicit TLS`);
  if (info.pop3Port !== null) out.push(`  POP3   ${hostPort(host, info.pop3Port)}  STLS; ${login.replace('STARTTLS', 'STLS')}`);
  if (info.pop3sPort !== null) out.push(`  POP3S  ${hostPort(host, info.pop3sPort)}  implicit TLS`);
  if (info.lmtp.port !== null) {
    out.push(`  LMTP   ${hostPort(info.lmtp.host, info.lmtp.port)}  delivery, no authentication (Postfix: lmtp:inet:${hostPort(connectHost(info.lmtp.host), info.lmtp.port)})`);
  }
  if (info.lmtp.socket !== null) out.push(`  LMTP   unix:${info.lmtp.socket}  delivery (Postfix: lmtp:unix:${info.lmtp.socket})`);
  out.push(
    `  TLS certificate: ${info.certificate.path}${info.certificate.selfSigned ? ' (self-signed)' : ''}`,
    `    SHA-256 ${info.certificate.fingerprint256}`,
  );
  const user = info.users[0] ?? 'USER';
  out.push(`  Accounts: ${info.users.length === 0 ? '(none)' : info.users.join(', ')}`, '');
  out.push('Connect with:');
  if (info.imapsPort !== null) {
    out.push(
      `  Thunderbird  server ${host}, port ${info.imapsPort}, connection security SSL/TLS, normal password,`,
      `               user name ${user}${info.certificate.selfSigned ? ' (confirm the security exception for the certificate)' : ''}`,
      `  mutt         mutt -f imaps://${user}@${hostPort(host, info.imapsPort)}/`,
    );
  } else if (info.imapPort !== null) {
    out.push(
      `  Thunderbird  server ${host}, port ${info.imapPort}, connection security STARTTLS, normal password,`,
      `               user name ${user}${info.certificate.selfSigned ? ' (confirm the security exception for the certificate)' : ''}`,
      `  mutt         mutt -f imap://${user}@${hostPort(host, info.imapPort)}/`,
    );
  }
  if (info.imapPort !== null || info.imapsPort !== null) out.push(`  python3      ${pythonExample(info, user, null)}`);
  if (info.pop3sPort !== null || info.pop3Port !== null) {
    const port = info.pop3sPort ?? info.pop3Port!;
    const security = info.pop3sPort !== null ? 'SSL/TLS' : 'STARTTLS';
    out.push(`  POP3         any POP3 client: server ${host}, port ${port}, connection security ${security}, user name ${user}`);
  }
  out.push('', 'Stop with Ctrl-C.', '');
  return out.join('\n');
}

function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || host.startsWith('127.');
}

/** Quotes a word for a POSIX shell when it needs it. */
export function shellQuote(word: string): string {
  return /^[\w.\/@+-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}
