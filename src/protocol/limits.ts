// Every size and count limit of Petrel's protocol handling, in one place (ARCHITECTURE.md, "protocol/").
// RFC 7162 §4 / RFC 2683 §3.2.1.5 ask for at least 8192-octet command lines; we allow far more.

export const LIMITS = {
  /** Longest command line, excluding literals. */
  maxLineLength: 64 * 1024,
  /** Largest literal that is buffered in memory as a string argument (non-APPEND). */
  maxInlineLiteral: 64 * 1024,
  /** Most bytes of one command held in memory at once: line text plus buffered literals (streamed literals excluded). */
  maxCommandBytes: 2 * 1024 * 1024,
  /** Largest message accepted by APPEND (advertised as APPENDLIMIT, RFC 7889). */
  maxMessageSize: 64 * 1024 * 1024,
  /** Largest non-synchronizing literal under LITERAL- (RFC 7888 §4). */
  literalMinusMax: 4096,
  /** Deepest nesting of parenthesized lists in a command. */
  maxNesting: 32,
  /** Most arguments/tokens in one command (counts list items too). */
  maxTokens: 100_000,
  /** Most messages in one MULTIAPPEND. */
  maxAppendMessages: 1000,
  /** Longest mailbox name in octets (UTF-8). */
  maxMailboxNameLength: 512,
  /** Deepest mailbox hierarchy. */
  maxMailboxDepth: 32,
  /** Most ranges in one sequence set. */
  maxSeqRanges: 100_000,
  /** Longest tag. */
  maxTagLength: 64,
  /** Inactivity before autologout, outside IDLE (RFC 9051 §5.4: at least 30 minutes). */
  idleTimeoutMs: 30 * 60 * 1000,
  /** IDLE sessions are logged out after this long (RFC 2177 asks clients to re-issue within 29 min). */
  idleCommandTimeoutMs: 31 * 60 * 1000,
  /** Unauthenticated connections are closed after this long. */
  preAuthTimeoutMs: 60 * 1000,
  /** Concurrent connections from one IP address. */
  maxConnectionsPerIp: 50,
  /** Failed logins from one IP before lock-out; each failure adds a growing delay before the NO. */
  maxFailedLogins: 10,
  failedLoginBaseDelayMs: 250,
  failedLoginMaxDelayMs: 5000,
  lockoutMs: 5 * 60 * 1000,
  /** Bytes queued for a client that does not read before we stop producing more. */
  maxOutputBuffer: 1024 * 1024,
  /** Longest quoted string we send before switching to a literal. */
  maxQuotedLength: 1024,
  /** Deepest MIME nesting the indexer descends into; deeper multipart/message parts are leaves sent as
   *  application/octet-stream. 99 below the message itself: where Dovecot 2.3 stops (100 nested parts). */
  maxMimeDepth: 99,
  /** Most MIME parts indexed in one message; the rest are folded into their parent's body. */
  maxMimeParts: 10_000,
  /** Longest header block the indexer keeps per part for ENVELOPE/BODYSTRUCTURE. */
  maxHeaderBytes: 1024 * 1024,

  // --- POP3 (src/pop3/) and LMTP (src/lmtp/) ---
  /** Longest POP3 line, CRLF excluded. RFC 2449 §4 caps commands at 255 octets; SASL responses
   *  (RFC 5034 §4) may be longer, so we allow more. */
  pop3MaxLineLength: 8192,
  /** POP3 autologout in the TRANSACTION state (RFC 1939 §3: at least 10 minutes). */
  pop3IdleTimeoutMs: 10 * 60 * 1000,
  /** Longest LMTP command line, CRLF excluded (RFC 5321 §4.5.3.1.4: at least 512 octets). */
  lmtpMaxLineLength: 4096,
  /** Recipients in one LMTP transaction (RFC 5321 §4.5.3.1.8: at least 100); more get 452 4.5.3. */
  lmtpMaxRecipients: 100,
  /** LMTP server timeout while waiting for a command or data (RFC 5321 §4.5.3.2.7: 5 minutes). */
  lmtpIdleTimeoutMs: 5 * 60 * 1000,
} as const;
