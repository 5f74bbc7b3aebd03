// The one mapping from thrown errors to tagged responses (src/server/errors.ts): RFC 5530 response codes.
// Store errors keep their code ([NONEXISTENT], [ALREADYEXISTS], [TRYCREATE], [OVERQUOTA], ...), protocol
// errors their status, and anything unexpected becomes NO [SERVERBUG] and is logged, never a crash.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { bad, errorToResult, no } from '../../src/server/errors.js';
import { StoreError } from '../../src/store/types.js';

test('ImapError: status, code and text pass through', () => {
  const logged: unknown[] = [];
  assert.deepEqual(errorToResult(bad('Missing )'), (e) => logged.push(e)), { status: 'BAD', code: null, text: 'Missing )' });
  assert.deepEqual(errorToResult(no('Mailbox is in use', 'INUSE'), (e) => logged.push(e)), {
    status: 'NO',
    code: { name: 'INUSE' },
    text: 'Mailbox is in use',
  });
  assert.equal(logged.length, 0);
});

test('StoreError: NO with the store code; an empty message gets the code\'s standard text', () => {
  const logged: unknown[] = [];
  for (const code of ['NONEXISTENT', 'ALREADYEXISTS', 'TRYCREATE', 'OVERQUOTA', 'LIMIT', 'CANNOT', 'NOPERM'] as const) {
    const r = errorToResult(new StoreError(code, ''), (e) => logged.push(e));
    assert.equal(r.status, 'NO');
    assert.deepEqual(r.code, { name: code });
    assert.ok(r.text.length > 0, code);
  }
  // Expected refusals are not logged as failures.
  assert.equal(logged.length, 0);
  const r = errorToResult(new StoreError('NONEXISTENT', 'No mailbox "x"'), () => undefined);
  assert.equal(r.text, 'No mailbox "x"');
});

test('unexpected errors become NO [SERVERBUG] with a generic text, and are logged', () => {
  const logged: unknown[] = [];
  const err = new TypeError('cannot read properties of undefined (secret detail)');
  const r = errorToResult(err, (e) => logged.push(e));
  assert.equal(r.status, 'NO');
  assert.deepEqual(r.code, { name: 'SERVERBUG' });
  assert.ok(!r.text.includes('secret'), 'internal detail stays out of the answer');
  assert.deepEqual(logged, [err as unknown]);
  // A store that reports its own bug or damage is logged too.
  const corrupt = new StoreError('CORRUPTION', '');
  assert.deepEqual(errorToResult(corrupt, (e) => logged.push(e)).code, { name: 'CORRUPTION' });
  assert.equal(logged.length, 2);
});
