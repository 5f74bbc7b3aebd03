// ENVELOPE strings and malformed address lists, answered as Dovecot 2.3.19 answers them (each expectation
// below was taken from dovecot-imapd on the same header): RFC 5322 §3.4 address lists with Dovecot's
// recovery rules, subject/display names "for humans", date/in-reply-to/message-id without CR/LF
// (src/mime/envelope.ts). All are legal IMAP strings (RFC 9051 §4.3); matching Dovecot byte for byte is what
// the differential test (test/interop/dovecot-mime.test.ts) requires.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { indexMessage } from '../../src/mime/indexer.js';
import { envelopeValue, humanValue } from '../../src/mime/envelope.js';
import { encodeValue } from '../../src/protocol/encoder.js';
import type { ResponseValue } from '../../src/protocol/types.js';

function wire(v: ResponseValue): string {
  return Buffer.concat(encodeValue(v) as Buffer[]).toString('latin1');
}

function envelope(header: string): string {
  return wire(envelopeValue(indexMessage(Buffer.from(header + '\r\n\r\nhi\r\n', 'latin1'))));
}

/** [To: value, the ENVELOPE's "to" as Dovecot sends it]. */
const TO_CASES: Array<[string, string]> = [
  ["\"quoted local\"@example.com", "((NIL NIL \"quoted local\" \"example.com\"))"],
  ["Joe Smith joe@example.com", "((\"Joe Smith joe\" NIL \"MISSING_MAILBOX\" \"MISSING_DOMAIN\"))"],
  ["joe@example.com <joe@example.com>", "((NIL NIL \"joe\" \"example.com\"))"],
  ["\"joe@example.com\" <joe@example.com>", "((\"joe@example.com\" NIL \"joe\" \"example.com\"))"],
  ["<joe@example.com>", "((NIL NIL \"joe\" \"example.com\"))"],
  ["undisclosed-recipients:;", "((NIL NIL \"undisclosed-recipients\" NIL)(NIL NIL NIL NIL))"],
  ["Undisclosed recipients:", "((NIL NIL \"Undisclosed recipients\" NIL)(NIL NIL NIL NIL))"],
  ["joe", "((NIL NIL \"joe\" \"MISSING_DOMAIN\"))"],
  ["joe@", "((NIL NIL \"joe\" \"MISSING_DOMAIN\"))"],
  ["@example.com", "((NIL NIL \"MISSING_MAILBOX\" \"example.com\"))"],
  ["a@b@c, next@x", "((NIL NIL \"a\" \"b\"))"],
  ["<joe@example.com", "((NIL NIL \"joe\" \"SYNTAX_ERROR\"))"],
  ["Name <>", "((\"Name\" NIL \"MISSING_MAILBOX\" \"MISSING_DOMAIN\"))"],
  ["a@b.c;, d@e", "((NIL NIL \"a\" \"b.c\"))"],
  ["x@y, , z@w,", "((NIL NIL \"x\" \"y\")(NIL NIL \"MISSING_MAILBOX\" \"MISSING_DOMAIN\")(NIL NIL \"z\" \"w\"))"],
  ["Name <a@b> junk, c@d", "((\"Name\" NIL \"a\" \"b\"))"],
  ["a@b junk, c@d", "((NIL NIL \"a\" \"b\"))"],
  ["<@r1,@r2:u@d>, e@f", "((NIL \"@r1,@r2\" \"u\" \"d\")(NIL NIL \"e\" \"f\"))"],
  ["<@r1:u@d", "((NIL \"@r1\" \"u\" \"SYNTAX_ERROR\"))"],
  ["g: a@b, c@d; e@f", "((NIL NIL \"g\" NIL)(NIL NIL \"a\" \"b\")(NIL NIL \"c\" \"d\")(NIL NIL NIL NIL))"],
  ["g: a@b, c@d, e@f", "((NIL NIL \"g\" NIL)(NIL NIL \"a\" \"b\")(NIL NIL \"c\" \"d\")(NIL NIL \"e\" \"f\")(NIL NIL NIL NIL))"],
  ["\"a  b\" <x@y>", "(({3}\r\na b NIL \"x\" \"y\"))"],
  ["\" lead\" <x@y>", "(({4}\r\nlead NIL \"x\" \"y\"))"],
  ["Dot.Name <x@y>", "((\"Dot.Name\" NIL \"x\" \"y\"))"],
  ["A. B. C. <x@y>", "((\"A. B. C.\" NIL \"x\" \"y\"))"],
  ["a.@b, c..d@e", "((NIL NIL \"a.\" \"b\")(NIL NIL \"c..d\" \"e\"))"],
  ["x@[1.2.3.4]", "((NIL NIL \"x\" \"[1.2.3.4]\"))"],
  ["x@ex ample.com", "((NIL NIL \"x\" \"ex\"))"],
  ["(only comment)", "NIL"],
  ["x@y (c1) (c2)", "((\"c2\" NIL \"x\" \"y\"))"],
  ["Name (c) <x@y>", "((\"Name\" NIL \"x\" \"y\"))"],
  ["\"\" <x@y>", "((NIL NIL \"x\" \"y\"))"],
  ["x (n) @ y", "((\"n\" NIL \"x\" \"y\"))"],
];

for (const [input, want] of TO_CASES) {
  test(`To: ${input}`, () => {
    const env = envelope(`To: ${input}\r\nSubject: s`);
    const prefix = '(NIL "s" NIL NIL NIL ';
    assert.ok(env.startsWith(prefix), env);
    assert.equal(env.slice(prefix.length, env.length - ' NIL NIL NIL NIL)'.length), want);
  });
}

test('folded, tabbed and padded envelope strings', () => {
  assert.equal(
    envelope('Subject: folded\r\n\twith tab\r\nDate: Tue, 4 Jun 2024 12:00:00\r\n\t+0000\r\nMessage-ID: <a@\r\n b>\r\nIn-Reply-To: <x@y>\r\n <z@w>'),
    '("Tue, 4 Jun 2024 12:00:00\t+0000" {15}\r\nfolded with tab NIL NIL NIL NIL NIL NIL "<x@y> <z@w>" "<a@ b>")',
  );
  assert.equal(
    envelope('Subject:\r\n leading fold\r\nMessage-ID:    <sp@x>   \r\nIn-Reply-To:\t<t@x>\t'),
    '(NIL {12}\r\nleading fold NIL NIL NIL NIL NIL NIL "<t@x>\t" "<sp@x>   ")',
  );
  assert.equal(
    envelope('Subject:   spaces around   \r\nFrom: "a\\"b" <x@y>\r\nTo: (com\\"ment) u@v\r\nCc: "x" <"odd\\\\local"@v>'),
    '(NIL {13}\r\nspaces around (({3}\r\na"b NIL "x" "y")) (({3}\r\na"b NIL "x" "y")) (({3}\r\na"b NIL "x" "y")) ((NIL NIL "u" "v")) (("x" NIL "odd\\\\local" "v")) NIL NIL NIL)',
  );
  assert.equal(
    envelope('Subject: multi\r\n  space\r\n fold\r\nFrom: Folded\r\n\tTab <ft@y>'),
    '(NIL {16}\r\nmulti space fold (("Folded Tab" NIL "ft" "y")) (("Folded Tab" NIL "ft" "y")) (("Folded Tab" NIL "ft" "y")) NIL NIL NIL NIL NIL)',
  );
  assert.equal(
    envelope('Subject: a"b\r\nDate: "quoted" date\r\nMessage-ID: <a\\b@x>'),
    '("\\"quoted\\" date" {3}\r\na"b NIL NIL NIL NIL NIL NIL NIL "<a\\\\b@x>")',
  );
});

test('humanValue: plain strings stay quoted, anything to clean up becomes a literal', () => {
  assert.equal(humanValue('Plain words'), 'Plain words');
  assert.equal(humanValue(null), null);
  assert.equal(humanValue(''), '');
  assert.equal(humanValue('   '), '');
  assert.equal(wire(humanValue('two  spaces')), '{10}\r\ntwo spaces');
  assert.equal(wire(humanValue(' lead')), '{4}\r\nlead');
  assert.equal(wire(humanValue('trail ')), '{5}\r\ntrail');
  assert.equal(wire(humanValue('back\\slash')), '{10}\r\nback\\slash');
  assert.equal(wire(humanValue('caf\xe9')), '{4}\r\ncaf\xe9');
  assert.equal(wire(humanValue('nul\0here')), '{8}\r\nnul\x80here');
  assert.equal(wire(humanValue('was folded', true)), '{10}\r\nwas folded');
});
