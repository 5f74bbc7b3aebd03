// Typed client errors. RFC 9051 §7.1 (status responses: NO = operational error, BAD = protocol error,
// BYE = the server is closing), §7.1 / RFC 5530 (response codes such as TRYCREATE, NONEXISTENT,
// ALREADYEXISTS, AUTHENTICATIONFAILED carried by the error so callers can branch on them).
import type { ImapArg } from '../protocol/types.js';

export interface ResponseCodeInfo {
  /** Upper-cased name, e.g. 'TRYCREATE'. */
  name: string;
  args: ImapArg[];
  /** Text between "[" and "]" as sent. */
  raw: string;
}

/** Base class of every error the client raises. */
export class ImapError extends Error {
  override readonly name: string = 'ImapError';
}

/** A command completed with a tagged NO or BAD. */
export class ImapCommandError extends ImapError {
  override readonly name: string = 'ImapCommandError';
  constructor(
    readonly status: 'NO' | 'BAD',
    /** The command name, e.g. 'UID STORE'. */
    readonly command: string,
    /** The response code name (TRYCREATE, NONEXISTENT, ...), undefined when the server sent none. */
    readonly code: string | undefined,
    readonly codeInfo: ResponseCodeInfo | undefined,
    /** Human-readable text of the response. */
    readonly text: string,
  ) {
    super(`${command} failed: ${status}${code ? ` [${codeInfo?.raw ?? code}]` : ''} ${text}`.trim());
  }
}

/** Tagged NO: the server could not do it (no such mailbox, over quota, ...). */
export class ImapNoError extends ImapCommandError {
  override readonly name: string = 'ImapNoError';
  constructor(command: string, codeInfo: ResponseCodeInfo | undefined, text: string) {
    super('NO', command, codeInfo?.name, codeInfo, text);
  }
}

/** Tagged BAD: the server did not understand the command, or it is not valid now. */
export class ImapBadError extends ImapCommandError {
  override readonly name: string = 'ImapBadError';
  constructor(command: string, codeInfo: ResponseCodeInfo | undefined, text: string) {
    super('BAD', command, codeInfo?.name, codeInfo, text);
  }
}

export type ConnectionErrorReason =
  /** TCP connect failed (refused, unreachable, DNS). */
  | 'connect'
  /** TLS handshake or certificate failure, or STARTTLS unavailable while required. */
  | 'tls'
  /** No reply within the configured time: the connection is presumed dead. */
  | 'timeout'
  /** The server sent BYE (RFC 9051 §7.1.5). */
  | 'bye'
  /** The transport closed or failed. */
  | 'closed'
  /** The server sent something the client cannot understand; the stream cannot be trusted. */
  | 'protocol'
  /** The caller aborted with an AbortSignal. */
  | 'aborted'
  /** The client refused to proceed (e.g. credentials would go in clear text). */
  | 'refused';

/** The connection is unusable: replace it (see reconnect.ts). */
export class ImapConnectionError extends ImapError {
  override readonly name: string = 'ImapConnectionError';
  constructor(
    readonly reason: ConnectionErrorReason,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** True for errors after which the connection must be replaced. */
export function isConnectionError(err: unknown): err is ImapConnectionError {
  return err instanceof ImapConnectionError;
}
