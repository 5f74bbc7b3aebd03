// Client command encoding: RFC 9051 §2.2.1 (client commands: tag SP command CRLF), §4.3 (strings:
// quoted or literal; a synchronizing literal waits for the server's "+" before its data, §7.5),
// RFC 7888 (LITERAL+ `{n+}` never waits; LITERAL- only up to 4096 octets), RFC 3516 (literal8 `~{n}`),
// RFC 6855 §3 / RFC 9051 §4.3.1 (8-bit UTF-8 in quoted strings once UTF8=ACCEPT or IMAP4rev2 is on).
import { LIMITS } from '../protocol/limits.js';
import { encodeMailboxName } from '../protocol/mutf7.js';

/** One argument of a command. Plain strings are atoms (sent verbatim); numbers are numbers. */
export type CommandArg =
  | string
  | number
  | { kind: 'string'; value: string | Buffer }
  | { kind: 'literal'; value: Buffer; binary?: boolean }
  | { kind: 'stream'; size: number; source: AsyncIterable<Buffer | Uint8Array | string>; binary?: boolean }
  | { kind: 'mailbox'; name: string; pattern?: boolean }
  | { kind: 'list'; items: CommandArg[] };

/** A string argument: quoted when it can be, else a literal. */
export const qstr = (value: string | Buffer): CommandArg => ({ kind: 'string', value });
/** A mailbox name: modified UTF-7 unless UTF-8 is in effect (RFC 9051 §5.1.3, RFC 6855 §3). */
export const mbox = (name: string): CommandArg => ({ kind: 'mailbox', name });
/** A LIST pattern: like a mailbox name, wildcards allowed unquoted (RFC 9051 §9 list-mailbox). */
export const pattern = (name: string): CommandArg => ({ kind: 'mailbox', name, pattern: true });
export const plist = (items: CommandArg[]): CommandArg => ({ kind: 'list', items });

export interface ClientEncodeOptions {
  literalPlus: boolean;
  literalMinus: boolean;
  utf8: boolean;
}

/** Wire segments of one command. `sync` means: wait for a continuation request before going on. */
export type Segment =
  | { kind: 'bytes'; data: Buffer }
  | { kind: 'sync' }
  | { kind: 'stream'; size: number; source: AsyncIterable<Buffer | Uint8Array | string> };

class SegmentWriter {
  readonly segments: Segment[] = [];
  private text = '';
  private parts: Buffer[] = [];

  str(s: string): void {
    this.text += s;
  }
  buf(b: Buffer): void {
    this.flushText();
    this.parts.push(b);
  }
  private flushText(): void {
    if (this.text !== '') this.parts.push(Buffer.from(this.text, 'utf8'));
    this.text = '';
  }
  private flush(): void {
    this.flushText();
    if (this.parts.length > 0) this.segments.push({ kind: 'bytes', data: this.parts.length === 1 ? this.parts[0]! : Buffer.concat(this.parts) });
    this.parts = [];
  }
  marker(seg: Segment): void {
    this.flush();
    this.segments.push(seg);
  }
  finish(): Segment[] {
    this.flush();
    return this.segments;
  }
}

function quotable(b: Buffer, utf8: boolean): boolean {
  if (b.length > LIMITS.maxQuotedLength) return false;
  for (let i = 0; i < b.length; i++) {
    const c = b[i]!;
    if (c === 0 || c === 0x0a || c === 0x0d) return false;
    if (c >= 0x80 && !utf8) return false;
  }
  return true;
}

function writeLiteralHeader(w: SegmentWriter, size: number, binary: boolean, o: ClientEncodeOptions): void {
  const nonSync = o.literalPlus || (o.literalMinus && size <= LIMITS.literalMinusMax);
  w.str(`${binary ? '~' : ''}{${size}${nonSync ? '+' : ''}}\r\n`);
  if (!nonSync) w.marker({ kind: 'sync' });
}

function writeString(w: SegmentWriter, b: Buffer, o: ClientEncodeOptions): void {
  if (quotable(b, o.utf8)) {
    let s = '"';
    const t = b.toString(o.utf8 ? 'utf8' : 'latin1');
    for (const ch of t) s += ch === '"' || ch === '\\' ? '\\' + ch : ch;
    w.buf(Buffer.from(s + '"', o.utf8 ? 'utf8' : 'latin1'));
  } else {
    writeLiteralHeader(w, b.length, false, o);
    w.buf(b);
  }
}

function writeArg(w: SegmentWriter, a: CommandArg, o: ClientEncodeOptions): void {
  if (typeof a === 'string') {
    w.str(a);
  } else if (typeof a === 'number') {
    if (!Number.isSafeInteger(a) || a < 0) throw new RangeError(`Cannot send number ${a}`);
    w.str(String(a));
  } else if (a.kind === 'string') {
    writeString(w, typeof a.value === 'string' ? Buffer.from(a.value, 'utf8') : a.value, o);
  } else if (a.kind === 'mailbox') {
    const name = o.utf8 ? a.name : encodeMailboxName(a.name);
    // mailbox = "INBOX" / astring: plain names go as atoms (ASTRING-CHAR, RFC 9051 §9); LIST patterns
    // (list-mailbox) may also hold the wildcards '*' and '%' (list-wildcards).
    const atomLike = a.pattern ? /^[!#$&'+,\-./0-9:;<=>?@A-Z^_`a-z|}~\]*%]+$/ : /^[!#$&'+,\-./0-9:;<=>?@A-Z^_`a-z|}~\]]+$/;
    if (atomLike.test(name)) w.str(name);
    else writeString(w, Buffer.from(name, 'utf8'), o);
  } else if (a.kind === 'literal') {
    writeLiteralHeader(w, a.value.length, a.binary === true, o);
    w.buf(a.value);
  } else if (a.kind === 'stream') {
    writeLiteralHeader(w, a.size, a.binary === true, o);
    w.marker({ kind: 'stream', size: a.size, source: a.source });
  } else {
    w.str('(');
    a.items.forEach((it, i) => {
      if (i > 0) w.str(' ');
      writeArg(w, it, o);
    });
    w.str(')');
  }
}

/** `tag NAME args...\r\n` as segments. */
export function encodeCommand(tag: string, name: string, args: readonly CommandArg[], o: ClientEncodeOptions): Segment[] {
  const w = new SegmentWriter();
  w.str(`${tag} ${name}`);
  for (const a of args) {
    w.str(' ');
    writeArg(w, a, o);
  }
  w.str('\r\n');
  return w.finish();
}

/** For logs: the command with literals and LOGIN/AUTHENTICATE secrets elided. */
export function describeCommand(name: string, args: readonly CommandArg[]): string {
  if (name === 'LOGIN' || name === 'AUTHENTICATE') return `${name} ***`;
  const one = (a: CommandArg): string =>
    typeof a === 'string' || typeof a === 'number'
      ? String(a)
      : a.kind === 'list'
        ? `(${a.items.map(one).join(' ')})`
        : a.kind === 'mailbox'
          ? JSON.stringify(a.name)
          : a.kind === 'string' && typeof a.value === 'string' && a.value.length < 80
            ? JSON.stringify(a.value)
            : `{${a.kind === 'stream' ? a.size : a.kind === 'literal' ? a.value.length : (a.value as Buffer | string).length}}`;
  return [name, ...args.map(one)].join(' ');
}
