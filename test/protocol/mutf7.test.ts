// Modified UTF-7 (RFC 3501 §5.1.3): known vectors, strict rejection of non-canonical input, round trips.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { decodeMailboxName, encodeMailboxName, Mutf7Error } from '../../src/protocol/mutf7.js';

const vectors: Array<[string, string]> = [
  ['INBOX', 'INBOX'],
  ['', ''],
  ['&', '&-'],
  ['a&b&&', 'a&-b&-&-'],
  // RFC 3501 §5.1.3 example
  ['~peter/mail/台北/日本語', '~peter/mail/&U,BTFw-/&ZeVnLIqe-'],
  ['Entwürfe', 'Entw&APw-rfe'],
  ['Corbeille/Éléments', 'Corbeille/&AMk-l&AOk-ments'],
  ['😀', '&2D3eAA-'],
  ['tab\there', 'tab&AAk-here'],
  ['\x7f', '&AH8-'],
  ['Отправленные', '&BB4EQgQ,BEAEMAQyBDsENQQ9BD0ESwQ1-'],
];

for (const [name, wire] of vectors) {
  test(`mutf7: ${JSON.stringify(name)} ↔ ${wire}`, () => {
    assert.equal(encodeMailboxName(name), wire);
    assert.equal(decodeMailboxName(wire), name);
  });
}

const invalid: Array<[string, string]> = [
  ['&Jjo', 'unterminated'],
  ['&', 'lone ampersand'],
  ['a&b', 'ampersand not followed by base64 and -'],
  ['&AGE-', 'printable ASCII encoded'],
  ['&ACY-', '"&" encoded in base64'],
  ['&Jjo-&Jjo-', 'adjacent encoded runs'],
  ['&U,BTF2-', 'non-zero trailing bits'],
  ['&U,BTFw==-', 'padding'],
  ['&U/BTFw-', '"/" instead of ","'],
  ['&2D0-', 'unpaired high surrogate'],
  ['&3gA-', 'unpaired low surrogate'],
  ['&AAAA-', 'extra base64 character (non-minimal)'],
  ['Entwürfe', '8-bit character'],
  ['a\tb', 'control character'],
];

for (const [wire, why] of invalid) {
  test(`mutf7: rejects ${JSON.stringify(wire)} (${why})`, () => {
    assert.throws(() => decodeMailboxName(wire), Mutf7Error);
  });
}

test('mutf7: encoding a lone surrogate throws', () => {
  assert.throws(() => encodeMailboxName('a\ud800b'), Mutf7Error);
  assert.throws(() => encodeMailboxName('\udc00'), Mutf7Error);
});

test('mutf7: property — decode(encode(s)) === s and the encoding is printable ASCII', () => {
  fc.assert(
    fc.property(fc.string({ unit: 'grapheme', maxLength: 40 }), (s) => {
      const wire = encodeMailboxName(s);
      assert.match(wire, /^[\x20-\x7e]*$/);
      assert.equal(decodeMailboxName(wire), s);
      // canonical: re-encoding the decoded form gives the same wire text
      assert.equal(encodeMailboxName(decodeMailboxName(wire)), wire);
    }),
    { numRuns: 500 },
  );
});

test('mutf7: property — any decodable string re-encodes to itself (decoder accepts only canonical forms)', () => {
  fc.assert(
    fc.property(fc.string({ unit: fc.constantFrom('&', '-', 'A', 'a', 'G', 'E', ',', '+', '2', 'D', '3', 'x'), maxLength: 12 }), (wire) => {
      let name: string;
      try {
        name = decodeMailboxName(wire);
      } catch (err) {
        assert.ok(err instanceof Mutf7Error);
        return;
      }
      assert.equal(encodeMailboxName(name), wire);
    }),
    { numRuns: 2000 },
  );
});
