// Tests for src/auth/password.ts (scrypt, RFC 7914; NFC normalisation, RFC 8265 §4.2).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  DEFAULT_SCRYPT_PARAMS,
  generatePassword,
  hashPassword,
  needsRehash,
  verifyPassword,
} from '../../src/auth/password.js';

// Cheap parameters keep most tests fast; one test uses the defaults.
const FAST = { ln: 4, r: 8, p: 1 };

test('a hash verifies its own password and no other', async () => {
  const hash = await hashPassword('correct horse', FAST);
  assert.equal(await verifyPassword('correct horse', hash), true);
  assert.equal(await verifyPassword('correct hors', hash), false);
  assert.equal(await verifyPassword('Correct horse', hash), false);
  assert.equal(await verifyPassword('', hash), false);
});

test('default parameters: self-describing string that verifies', async () => {
  const hash = await hashPassword('s3cret');
  const { ln, r, p } = DEFAULT_SCRYPT_PARAMS;
  assert.match(hash, new RegExp(`^\\$scrypt\\$ln=${ln},r=${r},p=${p}\\$[A-Za-z0-9+/]{22}\\$[A-Za-z0-9+/]{43};scram-sha-256=10000:[A-Za-z0-9+/]{22}==:[A-Za-z0-9+/]{43}=:[A-Za-z0-9+/]{43}=$`));
  assert.equal(await verifyPassword('s3cret', hash), true);
  assert.equal(await verifyPassword('s3cret!', hash), false);
  assert.equal(needsRehash(hash), false);
});

test('the same password hashes differently each time (random salt)', async () => {
  const a = await hashPassword('same', FAST);
  const b = await hashPassword('same', FAST);
  assert.notEqual(a, b);
  assert.equal(await verifyPassword('same', a), true);
  assert.equal(await verifyPassword('same', b), true);
});

test('parameters are read from the stored string', async () => {
  const hash = await hashPassword('pw', { ln: 5, r: 2, p: 2 });
  assert.match(hash, /^\$scrypt\$ln=5,r=2,p=2\$/);
  assert.equal(await verifyPassword('pw', hash), true);
  assert.equal(needsRehash(hash), true, 'weaker than the defaults');
});

test('Unicode passwords: composed and decomposed forms are the same password (NFC)', async () => {
  const composed = 'caf\u00e9';
  const decomposed = 'cafe\u0301';
  const hash = await hashPassword(composed, FAST);
  assert.equal(await verifyPassword(decomposed, hash), true);
  assert.equal(await verifyPassword('cafe', hash), false);
});

test('malformed or hostile hashes give false, never throw', async () => {
  const good = await hashPassword('pw', FAST, { scram: false });
  const salt = good.split('$')[3]!;
  const digest = good.split('$')[4]!;
  const bad = [
    '',
    'plain',
    '$2b$10$abcdefghijklmnopqrstuv',
    '$scrypt$ln=4,r=8,p=1$',
    `$scrypt$ln=4,r=8$${salt}$${digest}`,
    `$scrypt$ln=40,r=8,p=1$${salt}$${digest}`, // N far too large
    `$scrypt$ln=20,r=999,p=1$${salt}$${digest}`,
    `$scrypt$ln=0,r=8,p=1$${salt}$${digest}`,
    `$scrypt$ln=4,r=8,p=1$${salt}$${digest}$extra`,
    `$scrypt$ln=4,r=8,p=1$!!!$${digest}`,
    `$scrypt$ln=4,r=8,p=1$${salt}$AAAA`, // hash too short
    `$scrypt$ln=4,r=8,p=1$AAAA$${digest}`, // salt too short
    good.replace('$scrypt$', '$SCRYPT$'),
  ];
  for (const h of bad) {
    assert.equal(await verifyPassword('pw', h), false, h);
    assert.equal(needsRehash(h), true, h);
  }
  assert.equal(await verifyPassword('pw', good), true);
  // A flipped bit in the digest is a mismatch.
  const raw = Buffer.from(digest, 'base64');
  raw[0] = raw[0]! ^ 1;
  const flipped = good.slice(0, good.lastIndexOf('$') + 1) + raw.toString('base64').replace(/=+$/, '');
  assert.equal(await verifyPassword('pw', flipped), false);
});

test('hashPassword rejects invalid parameters', async () => {
  await assert.rejects(hashPassword('pw', { ln: 0, r: 8, p: 1 }), RangeError);
  await assert.rejects(hashPassword('pw', { ln: 14, r: 0, p: 1 }), RangeError);
  await assert.rejects(hashPassword('pw', { ln: 30, r: 8, p: 1 }), RangeError);
});

test('generatePassword: readable groups, strong, distinct', () => {
  const seen = new Set<string>();
  for (let i = 0; i < 200; i++) {
    const pw = generatePassword();
    assert.match(pw, /^[a-hj-km-np-z2-9]{5}(-[a-hj-km-np-z2-9]{5}){3}$/);
    assert.doesNotMatch(pw, /[01ilo]/);
    seen.add(pw);
  }
  assert.equal(seen.size, 200);
});
