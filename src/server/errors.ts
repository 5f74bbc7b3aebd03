// Typed errors at the protocol edge, and the one place store errors become IMAP answers
// (ARCHITECTURE.md decision 8; response codes from RFC 5530 and RFC 9051 §7.1).
import type { ResponseCode, Status } from '../protocol/types.js';
import { StoreError } from '../store/types.js';

export class ImapError extends Error {
  constructor(
    readonly status: 'NO' | 'BAD' | 'BYE',
    readonly code: string | null,
    text: string,
    readonly codeArgs?: string,
  ) {
    super(text);
    this.name = 'ImapError';
  }
}

export function bad(text: string, code: string | null = null): ImapError {
  return new ImapError('BAD', code, text);
}

export function no(text: string, code: string | null = null): ImapError {
  return new ImapError('NO', code, text);
}

export interface TaggedResult {
  status: Status;
  code: ResponseCode | null;
  text: string;
}

const STORE_TEXT: Record<string, string> = {
  NONEXISTENT: 'No such mailbox',
  ALREADYEXISTS: 'Mailbox already exists',
  INUSE: 'Mailbox is in use',
  NOPERM: 'Permission denied',
  CANNOT: 'Operation not possible',
  LIMIT: 'Limit reached',
  OVERQUOTA: 'Quota exceeded',
  TOOBIG: 'Message too big',
  EXPUNGEISSUED: 'Some messages were expunged',
  TRYCREATE: 'Destination mailbox does not exist',
  CORRUPTION: 'Storage is damaged',
  SERVERBUG: 'Internal server error',
};

/** Maps anything thrown by a command to the tagged response (the only such switch). */
export function errorToResult(err: unknown, onUnexpected: (err: unknown) => void): TaggedResult {
  if (err instanceof ImapError) {
    const code = err.code ? { name: err.code, ...(err.codeArgs ? { args: err.codeArgs } : {}) } : null;
    return { status: err.status, code, text: err.message };
  }
  if (err instanceof StoreError) {
    if (err.code === 'SERVERBUG' || err.code === 'CORRUPTION') onUnexpected(err);
    const text = err.message || STORE_TEXT[err.code] || 'Failed';
    return { status: 'NO', code: { name: err.code }, text };
  }
  onUnexpected(err);
  return { status: 'NO', code: { name: 'SERVERBUG' }, text: 'Internal error occurred, the event was logged' };
}
