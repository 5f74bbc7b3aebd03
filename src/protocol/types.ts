// IMAP vocabulary shared by the server, the client and the sync engine.
// Token-level shapes follow the formal syntax of RFC 9051 §9 / RFC 3501 §9.
// This folder does no I/O: everything here is data and pure functions.

/** One argument of a command as the tokenizer saw it (RFC 9051 §4). */
export type ImapArg =
  /** An atom, including NIL, numbers, flags (\Seen), sequence sets and fetch attributes with
   *  their bracketed section and partial (`BODY.PEEK[HEADER.FIELDS (From)]<0.100>` is ONE atom). */
  | { type: 'atom'; value: string }
  /** A quoted string or a literal that was small enough to buffer. */
  | { type: 'string'; value: Buffer; literal: boolean; literal8: boolean }
  /** A parenthesized list. */
  | { type: 'list'; items: ImapArg[] }
  /** A literal that was handed to a LiteralSink while it arrived (APPEND message data). */
  | { type: 'stream'; size: number; literal8: boolean; sink: LiteralSink };

/** A complete command. `name` is upper-cased; UID commands are named 'UID FETCH', 'UID STORE', ... */
export interface ParsedCommand {
  tag: string;
  name: string;
  args: ImapArg[];
}

/** Where a streamed literal's bytes go. Chosen by the server when a literal starts. */
export interface LiteralSink {
  write(chunk: Buffer): void;
  end(): void;
  /** Called instead of end() when the command is abandoned (syntax error, connection closed). */
  abort(reason: string): void;
}

export interface LiteralInfo {
  tag: string;
  /** Command name so far (upper-cased, 'UID ...' joined), '' if not yet known. */
  name: string;
  size: number;
  literal8: boolean;
  /** true for {n+} (LITERAL+) — the client does not wait for a continuation. */
  nonSync: boolean;
}

/** Response values (server → client). The encoder turns them into wire bytes. */
export class Atom {
  constructor(readonly value: string) {}
}
/** Always sent as a literal; `binary` uses literal8 `~{n}` (RFC 3516). */
export class LiteralData {
  constructor(readonly data: Buffer, readonly binary = false) {}
}
/** A literal whose bytes are read lazily (large body sections), with a size known up front. */
export class StreamData {
  constructor(
    readonly size: number,
    readonly open: () => AsyncIterable<Buffer>,
    readonly binary = false,
  ) {}
}
/** Values written back to back with no separator: the `1*body` of a multipart BODYSTRUCTURE and the
 *  `1*address` of an ENVELOPE address list (RFC 9051 §9), where Dovecot and UW send `(..)(..)`. */
export class Adjacent {
  constructor(readonly items: ResponseValue[]) {}
}
/** A value already encoded (by the same encoder, with the same options): its bytes are sent as they are;
 *  a string must be US-ASCII. FETCH's render cache keeps ENVELOPE and BODYSTRUCTURE in this form
 *  (src/server/commands/fetch-batch.ts). */
export class Encoded {
  constructor(readonly bytes: Buffer | string) {}
}
/** null → NIL, number → number, string/Buffer → quoted or literal as needed, array → list. */
export type ResponseValue = null | number | string | Buffer | Atom | LiteralData | StreamData | Adjacent | Encoded | ResponseValue[];

/** Response status words (RFC 9051 §7.1). */
export type Status = 'OK' | 'NO' | 'BAD' | 'BYE' | 'PREAUTH';

/** A response code, `[NAME args]` (RFC 9051 §7.1, RFC 5530). */
export interface ResponseCode {
  name: string;
  /** Already-formatted text after the name, e.g. '38505 3955' for COPYUID, or a list of values. */
  args?: string | ResponseValue[];
}

/** System flags (RFC 9051 §2.3.2). Keywords are any other atom. */
export const SYSTEM_FLAGS = ['\\Seen', '\\Answered', '\\Flagged', '\\Deleted', '\\Draft'] as const;
export type SystemFlag = (typeof SYSTEM_FLAGS)[number];
export const RECENT_FLAG = '\\Recent';

/** An inclusive range of numbers; '*' is resolved by `resolveSet` against the current maximum. */
export interface NumRange {
  start: number | '*';
  end: number | '*';
}
/** A sequence-set or uid-set (RFC 9051 §9 sequence-set); `$` is SEARCHRES (RFC 5182). */
export type NumSet = { ranges: NumRange[] } | { searchRes: true };

/** A section spec of BODY[...] / BINARY[...] (RFC 9051 §6.4.5). */
export interface SectionSpec {
  /** Part numbers, [] for the whole message. */
  path: number[];
  /** What of that part. undefined = the part's body (or whole message when path is []). */
  text?: 'HEADER' | 'HEADER.FIELDS' | 'HEADER.FIELDS.NOT' | 'TEXT' | 'MIME';
  /** Header field names for HEADER.FIELDS[.NOT], as given by the client. */
  fields?: string[];
}

export interface Partial {
  origin: number;
  count: number;
}
