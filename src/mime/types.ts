// The stored MIME part tree (decision 4: parse once at ingest). Owned by src/mime/; the store
// keeps it as JSON and nobody else looks inside. See src/mime/indexer.ts.
// RFC 2045 (MIME headers), RFC 2046 §5 (multipart, message/rfc822), RFC 9051 §7.5.2 (what FETCH needs).

/** JSON-serialisable index of one message. The shape is defined by src/mime. */
export interface MimeIndex {
  /** Format version, so stored indexes can be upgraded. */
  v: number;
  [key: string]: unknown;
}

/**
 * Version 1 of the index (what `MimeIndexer.finish()` returns). Short keys: it is stored per message.
 * All strings are header bytes decoded as latin1 (one char per byte), so 8-bit headers survive
 * the JSON round trip byte-exactly; src/mime turns them back into bytes when it answers FETCH.
 */
export interface MimeIndexV1 extends MimeIndex {
  v: 1;
  /** Size of the raw message in octets. */
  z: number;
  /** Octets with every line end a CRLF (bare LFs widened, an unterminated last line ended), as POP3 sends
   *  the message (RFC 1939 §5 "exact size"); present only when it differs from `z`. */
  cz?: number;
  /** Sent date (Date header) in ms since the epoch, or null when absent/unparseable. */
  dt: number | null;
  /** The Date header's own zone offset, minutes east of UTC (for SENTON/SENTBEFORE/SENTSINCE). */
  dz?: number;
  /** The message itself (root part; its header block is the message header). */
  r: MimePart;
  /** A partly downloaded message of a replica (src/mime/partial.ts): offsets point into a synthetic blob,
   *  `z` is the remote size, parts marked `u`/`hu` are not held. */
  pz?: 1;
}

/** Envelope header values, unfolded, raw (RFC 9051 §7.5.2 ENVELOPE order); null when absent. */
export type RawEnvelope = [
  date: string | null,
  subject: string | null,
  from: string | null,
  sender: string | null,
  replyTo: string | null,
  to: string | null,
  cc: string | null,
  bcc: string | null,
  inReplyTo: string | null,
  messageId: string | null,
];

/** One MIME part. Offsets are into the raw message; body is [b, e), header is [h, b). */
export interface MimePart {
  /** Header start. */
  h: number;
  /** Body start (just after the blank line ending the header). */
  b: number;
  /** Body end (exclusive; the CRLF before a boundary delimiter belongs to the delimiter). */
  e: number;
  /** Body lines: LF characters in [b, e). */
  n: number;
  /** Content-Type type and subtype as written; absent when there was no valid Content-Type. */
  t?: string;
  s?: string;
  /** Content-Type parameters, flat [name, value, name, value, ...] (RFC 2231 joined). */
  p?: string[];
  /** No Content-Type, inside multipart/digest: defaults to message/rfc822 (RFC 2046 §5.1.5). */
  dg?: 1;
  /** Content-ID, Content-Description, Content-Transfer-Encoding, Content-Location, Content-MD5 (raw, trimmed). */
  id?: string;
  ds?: string;
  c?: string;
  lo?: string;
  m?: string;
  /** Content-Disposition type and params (RFC 2183). */
  dt?: string;
  dp?: string[];
  /** Content-Language tags (RFC 3282). */
  la?: string[];
  /** A multipart or message part beyond LIMITS.maxMimeDepth: a leaf, sent as application/octet-stream
   *  (Dovecot 2.3). A multipart's body is then only its preamble. */
  x?: 1;
  /** Children of a multipart part. */
  k?: MimePart[];
  /** The encapsulated message of a message/rfc822 or message/global part (its root part). */
  g?: MimePart;
  /** Envelope values; present on message roots (the top part and every encapsulated root). Raw field
   *  values with the first line's leading white space and every CR/LF removed (older indexes: unfolded and
   *  trimmed). */
  en?: RawEnvelope;
  /** The Subject field was folded over several lines (ENVELOPE then sends it as a literal, like Dovecot). */
  sf?: 1;
  /** Partial messages (src/mime/partial.ts): the body [b, e) is not held (e = b unless children are laid
   *  out); `zs` is its size on the remote (BODYSTRUCTURE size); `hu`: the header [h, b) is not held. */
  u?: 1;
  zs?: number;
  hu?: 1;
}
