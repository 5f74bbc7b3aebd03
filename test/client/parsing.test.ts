// Parsing of FETCH data into typed values: BODYSTRUCTURE trees with section numbers (RFC 9051 §6.4.5,
// §7.5.2) including message/rfc822 nesting and RFC 2231 parameters, ENVELOPE groups and RFC 2047 words,
// section names; and UTF8=ACCEPT (RFC 6855) changing how mailbox names go out and come back.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ResponseParser } from '../../src/protocol/response-parser.js';
import type { ImapArg } from '../../src/protocol/types.js';
import { parseBodyStructure, decodeWords, walkBodyStructure } from '../../src/client/body-structure.js';
import { normalizeSection, parseFetchResponse } from '../../src/client/commands/fetch.js';
import { formatRange } from '../../src/client/commands/util.js';
import { expandUidSet } from '../../src/client/connection.js';
import { ImapClient } from '../../src/client/imap-client.js';
import { FakeServer } from './fake-server.js';

function fetchArgs(line: string): { seq: number; args: ImapArg[] } {
  const ev = new ResponseParser().push(Buffer.from(line + '\r\n'));
  const r = ev[0];
  assert.ok(r && r.kind === 'response' && r.response.kind === 'data');
  const v = r.response.values;
  return { seq: Number((v[0] as { value: string }).value), args: v.slice(2) };
}

test('BODYSTRUCTURE: multipart with a forwarded message/rfc822 gets RFC 9051 §6.4.5 part numbers', () => {
  const { args } = fetchArgs(
    '* 1 FETCH (BODYSTRUCTURE (("TEXT" "PLAIN" ("CHARSET" "utf-8") NIL NIL "7BIT" 12 1 NIL NIL NIL NIL)' +
      '("MESSAGE" "RFC822" NIL NIL "fwd" "7BIT" 400 ("Mon, 1 Jan 2024 00:00:00 +0000" "inner" NIL NIL NIL NIL NIL NIL NIL NIL) ' +
      '(("TEXT" "PLAIN" NIL NIL NIL "7BIT" 5 1)("IMAGE" "PNG" ("NAME*" "utf-8\'\'%E2%82%AC.png") "<id1>" NIL "BASE64" 100) "ALTERNATIVE") 20 NIL ("inline" NIL) NIL NIL)' +
      '("APPLICATION" "PDF" ("name*0" "long" "name*1" "name.pdf") NIL NIL "BASE64" 3000 NIL ("attachment" ("FILENAME" "=?utf-8?q?r=C3=A9sum=C3=A9?=.pdf")) ("en" "de") "http://x") "MIXED" ("BOUNDARY" "b") NIL NIL))',
  );
  const msg = parseFetchResponse(1, args);
  const bs = msg.bodyStructure!;
  assert.deepEqual(
    [...walkBodyStructure(bs)].map((p) => `${p.part}:${p.type}/${p.subtype}`),
    ['' + ':multipart/mixed', '1:text/plain', '2:message/rfc822', '2:multipart/alternative', '2.1:text/plain', '2.2:image/png', '3:application/pdf'],
  );
  const fwd = bs.children![1]!;
  assert.equal(fwd.envelope?.subject, 'inner');
  assert.equal(fwd.lines, 20);
  assert.equal(fwd.description, 'fwd');
  assert.deepEqual(fwd.disposition, { type: 'inline', parameters: {} });
  const png = fwd.children![0]!.children![1]!;
  assert.equal(png.parameters.name, '€.png');
  assert.equal(png.id, '<id1>');
  assert.equal(png.size, 100);
  const pdf = bs.children![2]!;
  assert.equal(pdf.parameters.name, 'longname.pdf');
  assert.equal(pdf.disposition?.parameters.filename, 'résumé.pdf');
  assert.deepEqual(pdf.language, ['en', 'de']);
  assert.equal(pdf.location, 'http://x');
  assert.equal(bs.parameters.boundary, 'b');
});

test('BODYSTRUCTURE of a single-part message is part 1; message/rfc822 with a single body is part.1', () => {
  /** The value after the item name in `* 1 FETCH (B <value>)`. */
  const value = (line: string): ImapArg | undefined => (fetchArgs(line).args[0] as { items: ImapArg[] }).items[1];
  const single = parseBodyStructure(value('* 1 FETCH (B ("TEXT" "HTML" NIL NIL NIL "QUOTED-PRINTABLE" 10 2 NIL NIL NIL NIL))'));
  assert.equal(single?.part, '1');
  assert.equal(single?.encoding, 'quoted-printable');
  assert.equal(single?.lines, 2);
  const nested = parseBodyStructure(
    value('* 1 FETCH (B ("MESSAGE" "RFC822" NIL NIL NIL "7BIT" 50 (NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL) ("TEXT" "PLAIN" NIL NIL NIL "7BIT" 5 1) 4))'),
  );
  assert.deepEqual([...walkBodyStructure(nested!)].map((p) => p.part), ['1', '1.1']);
});

test('ENVELOPE: groups, NIL names, encoded words; RFC 2047 decoding rules', () => {
  const { seq, args } = fetchArgs(
    '* 7 FETCH (UID 70 ENVELOPE (NIL "=?ISO-8859-1?Q?Caf=E9?= =?UTF-8?B?4oKs?=" ((NIL NIL "a" "x.org")) NIL NIL ' +
      '((NIL NIL "undisclosed" NIL)(NIL NIL NIL NIL)) NIL NIL NIL NIL) RFC822.SIZE 99 INTERNALDATE " 2-Jan-2024 10:00:00 +0100" MODSEQ (12345678901))',
  );
  const m = parseFetchResponse(seq, args);
  assert.equal(m.seq, 7);
  assert.equal(m.uid, 70);
  assert.equal(m.size, 99);
  assert.equal(m.modSeq, 12345678901);
  assert.equal(m.internalDate?.toISOString(), '2024-01-02T09:00:00.000Z');
  assert.equal(m.internalDateOffset, 60, 'the zone INTERNALDATE was written in');
  assert.equal(m.envelope?.subject, 'Café€');
  assert.deepEqual(m.envelope?.from, [{ address: 'a@x.org' }]);
  assert.deepEqual(m.envelope?.to, [{ group: 'undisclosed' }]);
  assert.equal(m.envelope?.date, undefined);
  assert.equal(decodeWords('plain text'), 'plain text');
  assert.equal(decodeWords('=?utf-8?q?a_b?= c'), 'a b c');
  assert.equal(decodeWords('=?bogus-charset?q?x?='), 'x');
});

test('section names: BODY[], RFC822 forms, partial origins, HEADER.FIELDS normalisation, NIL sections', () => {
  const { seq, args } = fetchArgs(
    '* 1 FETCH (BODY[HEADER.FIELDS ("From" subject)] {6}\r\nF: x\r\n BODY[]<10> "abc" RFC822.TEXT "t" BODY[1.MIME] NIL BINARY[2] ~{3}\r\n\x00\x01\x02 BINARY.SIZE[2] 3)',
  );
  const m = parseFetchResponse(seq, args);
  assert.deepEqual(
    m.sections.map((s) => [s.section, s.binary, s.origin, s.data === null ? null : s.data?.toString('latin1')]),
    [
      ['HEADER.FIELDS (FROM SUBJECT)', false, undefined, 'F: x\r\n'],
      ['', false, 10, 'abc'],
      ['TEXT', false, undefined, 't'],
      ['1.MIME', false, undefined, null],
      ['2', true, undefined, '\x00\x01\x02'],
    ],
  );
  assert.deepEqual(m.binarySizes, { '2': 3 });
  assert.equal(normalizeSection(' header.fields  ( From  Subject ) '), 'HEADER.FIELDS (FROM SUBJECT)');
});

test('ranges and UID sets', () => {
  assert.equal(formatRange([5, 1, 2, 3, 9, 10]), '1:3,5,9:10');
  assert.equal(formatRange('1:*'), '1:*');
  assert.equal(formatRange(7), '7');
  assert.throws(() => formatRange('1 2'), RangeError);
  assert.throws(() => formatRange([]), RangeError);
  assert.throws(() => formatRange(0), RangeError);
  assert.deepEqual(expandUidSet('3:1,7'), [1, 2, 3, 7]);
  assert.deepEqual(expandUidSet(''), []);
});

test('UTF8=ACCEPT enabled: mailbox names and strings go as UTF-8, LIST names come back as UTF-8', async () => {
  const srv = new FakeServer({ seed: 4 });
  const p = ImapClient.connect({ tls: 'none', stream: srv.clientSide, auth: { user: 'u', password: 'p' } });
  await srv.send('* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN SASL-IR ENABLE UTF8=ACCEPT LITERAL+] hi\r\n');
  await srv.line();
  await srv.send('A1 OK [CAPABILITY IMAP4rev1 ENABLE UTF8=ACCEPT LITERAL+ LIST-EXTENDED] ok\r\n');
  assert.equal(await srv.line(), 'A2 ENABLE UTF8=ACCEPT');
  await srv.send('* ENABLED UTF8=ACCEPT\r\nA2 OK\r\n');
  const c = await p;
  assert.ok(c.utf8);
  const cr = c.create('Entwürfe');
  assert.equal(await srv.line(), 'A3 CREATE "Entwürfe"');
  await srv.send('A3 OK\r\n');
  await cr;
  const l = c.list();
  assert.equal(await srv.line(), 'A4 LIST "" * RETURN (SUBSCRIBED CHILDREN)');
  await srv.send('* LIST (\\HasNoChildren) "/" "Entwürfe"\r\n* LIST (\\Subscribed) "/" inbox\r\nA4 OK\r\n');
  const entries = await l;
  assert.deepEqual(entries.map((e) => [e.path, e.subscribed]), [['Entwürfe', false], ['INBOX', true]]);
  c.destroy();
});
