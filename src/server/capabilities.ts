// The CAPABILITY list (RFC 9051 §7.2.2), which depends on the session's state and transport.
import { scramMechanisms } from '../auth/scram-login.js';
import { LIMITS } from '../protocol/limits.js';
import type { ServerSettings } from './server-context.js';
import type { Session } from './session.js';

/** Extensions a client may ENABLE (RFC 5161), upper-case. */
export const ENABLEABLE = new Set(['IMAP4REV2', 'CONDSTORE', 'QRESYNC']);

/** Extensions implemented for authenticated sessions, in addition to the base protocols. */
export const EXTENSIONS = [
  'SASL-IR',
  'LITERAL+',
  'ID',
  'ENABLE',
  'IDLE',
  'NAMESPACE',
  'UNSELECT',
  'UIDPLUS',
  'MOVE',
  'CHILDREN',
  'LIST-EXTENDED',
  'LIST-STATUS',
  'SPECIAL-USE',
  'MULTIAPPEND',
  'ESEARCH',
  'SEARCHRES',
  'STATUS=SIZE',
  'CONDSTORE',
  'QRESYNC',
  'OBJECTID',
  'SAVEDATE',
  'PARTIAL',
  // RFC 3516 (part of IMAP4rev2): FETCH BINARY[]/BINARY.SIZE and APPEND with literal8 ~{n}.
  'BINARY',
];

export function authAllowed(session: Session, settings: ServerSettings): boolean {
  if (session.secure) return true;
  if (settings.allowInsecureAuth === 'always') return true;
  return settings.allowInsecureAuth === 'loopback' && session.isLoopback;
}

export function capabilityList(session: Session, settings: ServerSettings): string[] {
  const caps = ['IMAP4rev1', 'IMAP4rev2'];
  if (session.state.kind === 'not-authenticated') {
    caps.push('SASL-IR', 'LITERAL+', 'ID', 'ENABLE', 'IDLE');
    if (!session.secure && settings.tlsAvailable) caps.push('STARTTLS');
    // SCRAM-SHA-256-PLUS only where there is a TLS channel to bind to (RFC 5802 §6, RFC 7677).
    if (authAllowed(session, settings)) caps.push('AUTH=PLAIN', ...scramMechanisms(session.tlsSocket).map((m) => `AUTH=${m}`));
    else caps.push('LOGINDISABLED');
    return caps;
  }
  caps.push(...EXTENSIONS, `APPENDLIMIT=${Math.min(settings.maxMessageSize, LIMITS.maxMessageSize)}`);
  return caps;
}
