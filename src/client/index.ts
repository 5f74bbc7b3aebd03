// Public entry of the IMAP client library (ARCHITECTURE.md "client/"): the online model for applications
// and the base of the sync engine.
export { ImapClient, DEFAULT_ENABLE, type ImapClientOptions, type ClientTimeouts, type TlsMode } from './imap-client.js';
export { ImapError, ImapCommandError, ImapNoError, ImapBadError, ImapConnectionError, isConnectionError, type ConnectionErrorReason } from './errors.js';
export { ResilientClient, withReconnect, backoffDelay, isRetryable, type ReconnectPolicy } from './reconnect.js';
export { sectionData, normalizeSection, type FetchStream, type DownloadResult } from './commands/fetch.js';
export { walkBodyStructure, decodeWords } from './body-structure.js';
export type { MailboxState, ImapClientEvents } from './connection.js';
export type { SearchResult } from './commands/search.js';
export type * from './types.js';
