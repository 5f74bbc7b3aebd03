// Fuzz targets for the POP3 and LMTP wire parsers: src/pop3/pop3-parser.ts (RFC 1939 §3 lines and
// byte-stuffing, RFC 2449, RFC 4616/5034 SASL PLAIN) and src/lmtp/lmtp-parser.ts (RFC 5321 §4.1.1
// commands and paths, §4.5.2 dot-unstuffing, RFC 2033 pipelining after DATA).
import fc from 'fast-check';
import { decodeSaslPlain, LineReader, MessageEncoder, parseLineCount, parseMessageNumber, parsePop3Command } from '../../src/pop3/pop3-parser.js';
import { DataDecoder, LmtpReader, parseAddress, parseCommandLine, parseMailFrom, parseRcptTo, parseSizeParam } from '../../src/lmtp/lmtp-parser.js';
import { bytesArbitrary, check, chunkings, tokenArbitrary, type FuzzTarget } from '../lib.js';

/** Line ends as CRLF, a final line end added; what a multi-line POP3 response or LMTP DATA carries. */
function normalizeLines(data: Buffer): Buffer {
  if (data.length === 0) return data;
  let s = data.toString('latin1').replace(/\r?\n/g, '\r\n');
  if (s.endsWith('\r')) s += '\n';
  else if (!s.endsWith('\r\n')) s += '\r\n';
  return Buffer.from(s, 'latin1');
}

function encodeAll(chunks: Buffer[], bodyLines: number | null): Buffer {
  const enc = new MessageEncoder(bodyLines);
  const out: Buffer[] = [];
  for (const c of chunks) out.push(enc.push(c));
  out.push(enc.end());
  return Buffer.concat(out);
}

const POP3_DICT = ['USER', 'PASS', 'STAT', 'LIST', 'RETR', 'DELE', 'NOOP', 'RSET', 'QUIT', 'TOP', 'UIDL', 'CAPA', 'STLS', 'AUTH', 'PLAIN',
  'APOP', '=', 'AGFsaWNlAHNlY3JldA==', '*', '1', '0', '-1', '4294967296', '\r\n', '\n', '\r', '.', '..', '.\r\n', '\0', '\t', ' '];

export const pop3Target: FuzzTarget = {
  name: 'pop3-parser',
  description:
    'LineReader (POP3 command lines, tiny and default limits) in several chunkings: same events, lines never above ' +
    'the limit; parsePop3Command / parseMessageNumber / parseLineCount / decodeSaslPlain on every line never throw; ' +
    'MessageEncoder (RETR) output does not depend on chunking, ends in ".CRLF", has only CRLF line ends, and ' +
    'un-stuffed equals the input with normalized line ends; TOP n output is the header plus n lines of that.',
  seeds: ['USER alice\r\nPASS pass word\r\nLIST 1\r\nTOP 1 10\r\nQUIT\r\n', 'AUTH PLAIN AGFsaWNlAHNlY3JldA==\r\n', 'From: a\r\n\r\n.\r\n..x\r\n.\r'],
  dictionary: POP3_DICT,
  arbitrary: fc.oneof(tokenArbitrary(POP3_DICT), bytesArbitrary(512)),
  run(data) {
    for (const max of [16, 8192]) {
      let first: string | null = null;
      for (const chunks of chunkings(data)) {
        const r = new LineReader(max);
        const evs: string[] = [];
        const pull = (): void => {
          for (let ev = r.next(); ev; ev = r.next()) {
            if (ev.kind === 'too-long') {
              evs.push('too-long');
              continue;
            }
            check(ev.line.length <= max, `line of ${ev.line.length} octets above ${max}`);
            evs.push(ev.line.toString('latin1'));
            const p = parsePop3Command(ev.line);
            if (p.ok) {
              parseMessageNumber(p.command.args[0]);
              parseLineCount(p.command.args[1]);
            }
            decodeSaslPlain(ev.line.toString('latin1'));
          }
        };
        for (const c of chunks) {
          r.push(c);
          pull();
          check(r.buffered() <= max + 1 + c.length, () => `LineReader buffers ${r.buffered()} octets`);
        }
        const j = JSON.stringify(evs);
        if (first === null) first = j;
        else check(j === first, () => `LineReader events differ with chunking:\n${j.slice(0, 1000)}\nvs\n${first!.slice(0, 1000)}`);
      }
    }
    const full = encodeAll([data], null);
    for (const chunks of chunkings(data).slice(1)) check(encodeAll(chunks, null).equals(full), 'MessageEncoder output depends on chunking');
    const text = full.toString('latin1');
    check(text.endsWith('.\r\n'), 'multi-line response does not end with .CRLF');
    check(!/[^\r]\n/.test(text) && !text.startsWith('\n'), 'bare LF in a multi-line response');
    const body = text.slice(0, -3);
    const unstuffed = body.split('\r\n').map((l) => (l.startsWith('.') ? l.slice(1) : l)).join('\r\n');
    check(unstuffed === normalizeLines(data).toString('latin1'), 'un-stuffed RETR output differs from the message');
    const lines = body === '' ? [] : body.slice(0, -2).split('\r\n').map((l) => l + '\r\n');
    const blank = lines.indexOf('\r\n');
    for (const n of [0, 1, 3]) {
      const top = encodeAll([data], n).toString('latin1');
      const expectLines = blank < 0 ? lines : lines.slice(0, Math.min(lines.length, blank + 1 + n));
      check(top === expectLines.join('') + '.\r\n', () => `TOP ${n} is not the header plus ${n} lines`);
    }
  },
};

const LMTP_DICT = ['LHLO', 'MAIL FROM:', 'RCPT TO:', 'DATA', 'RSET', 'NOOP', 'QUIT', 'VRFY', '<', '>', '<>', '@', 'alice@example.com',
  '"a b"@x', '@a,@b:c@d', '[127.0.0.1]', 'SIZE=', 'BODY=8BITMIME', '\r\n', '\n', '.\r\n', '\r\n.\r\n', '..', '.', '\0', ' '];

export const lmtpTarget: FuzzTarget = {
  name: 'lmtp-parser',
  description:
    'LmtpReader (tiny and default limits) in several chunkings, switching to DATA after a DATA line as the session ' +
    'does: same lines, same message octets, same data ends; parseCommandLine / parseMailFrom / parseRcptTo / ' +
    'parseAddress / parseSizeParam never throw. Differential: the POP3 encoder\'s dot-stuffed output of the input, ' +
    'decoded by the LMTP DataDecoder in any chunking, gives back the input with CRLF line ends and ends exactly at ".".',
  seeds: [
    'LHLO x\r\nMAIL FROM:<> SIZE=10\r\nRCPT TO:<alice@example.com>\r\nDATA\r\nSubject: x\r\n\r\n..dot\r\n.\r\nQUIT\r\n',
    'MAIL FROM:<@a,@b:"q\\"x"@[1.2.3.4]> BODY=8BITMIME\r\n',
  ],
  dictionary: LMTP_DICT,
  arbitrary: fc.oneof(tokenArbitrary(LMTP_DICT), bytesArbitrary(512)),
  run(data) {
    for (const max of [24, 4096]) {
      let first: string | null = null;
      for (const chunks of chunkings(data)) {
        const r = new LmtpReader(max);
        const evs: string[] = [];
        let dataBuf = '';
        const pull = (): void => {
          for (let ev = r.next(); ev; ev = r.next()) {
            if (ev.kind === 'data') {
              dataBuf += ev.chunk.toString('latin1');
              continue;
            }
            if (dataBuf !== '') {
              evs.push('data:' + dataBuf);
              dataBuf = '';
            }
            if (ev.kind === 'data-end') evs.push('data-end');
            else if (ev.kind === 'too-long') evs.push('too-long');
            else {
              check(ev.line.length <= max, 'line above the limit');
              evs.push('line:' + ev.line.toString('latin1'));
              const cmd = parseCommandLine(ev.line);
              if (!cmd) continue;
              if (cmd.verb === 'MAIL') parseMailFrom(cmd.arg);
              if (cmd.verb === 'RCPT') {
                const p = parseRcptTo(cmd.arg);
                if (p.ok) parseSizeParam(p.params.get('SIZE'));
              }
              parseAddress(cmd.arg);
              if (cmd.verb === 'DATA') r.startData();
            }
          }
        };
        for (const c of chunks) {
          r.push(c);
          pull();
        }
        if (dataBuf !== '') evs.push('data:' + dataBuf);
        const j = JSON.stringify(evs);
        if (first === null) first = j;
        else check(j === first, () => `LmtpReader events differ with chunking:\n${j.slice(0, 1000)}\nvs\n${first!.slice(0, 1000)}`);
      }
    }
    // POP3 stuffing → LMTP unstuffing is the identity on normalized messages.
    const stuffed = encodeAll([data], null);
    const expect = normalizeLines(data).toString('latin1');
    for (const chunks of chunkings(Buffer.concat([stuffed, Buffer.from('NOOP\r\n')]))) {
      const dec = new DataDecoder();
      let pending = Buffer.alloc(0);
      let out = '';
      let ended = false;
      let leftover = '';
      for (const c of chunks) {
        if (ended) {
          leftover += c.toString('latin1');
          continue;
        }
        pending = Buffer.concat([pending, c]);
        const r = dec.decode(pending);
        out += r.out.toString('latin1');
        pending = pending.subarray(r.consumed);
        if (r.end) {
          ended = true;
          leftover += pending.toString('latin1');
        }
      }
      check(ended, 'DataDecoder did not find the end of the stuffed message');
      check(out === expect, () => `unstuffed ${JSON.stringify(out.slice(0, 200))} != ${JSON.stringify(expect.slice(0, 200))}`);
      check(leftover === 'NOOP\r\n', () => `DataDecoder stopped at the wrong place; left ${JSON.stringify(leftover.slice(0, 100))}`);
    }
  },
};
