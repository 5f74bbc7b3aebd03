// LIST-EXTENDED (RFC 5258), LSUB (RFC 3501 §6.3.9) and RECURSIVEMATCH/CHILDINFO semantics over the wire,
// including the cases Dovecot's imaptest checks (a parent is returned with CHILDINFO only for subscribed
// descendants the patterns do not return themselves; LSUB "%" lists unsubscribed parents as \Noselect).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { startTestServer, TEST_PASSWORD, TEST_USER, type TestServer } from '../helpers/server.js';
import { ImapTestClient, logoutQuietly } from '../helpers/imap-client.js';

let server: TestServer;
let c: ImapTestClient;

before(async () => {
  server = await startTestServer();
  c = await ImapTestClient.connect(server.port);
  assert.match((await c.command('L', `LOGIN ${TEST_USER} "${TEST_PASSWORD}"`)).tagged, /^L OK/);
  for (const n of ['le/test1', 'le/test2/', 'le/test2/test1', 'le/test3', 'le/test4/test5', 'le/test4/test52', 'le/test6', 'le/test7/test7', 'le/test8/test8', 'le/test8/test9']) {
    assert.match((await c.command('C', `CREATE ${n}`)).tagged, /^C OK/);
  }
  for (const n of ['le/test1', 'le/test2/test1', 'le/test6', 'le/test7/test7', 'le/test8/test8', 'le/test8/test9']) {
    assert.match((await c.command('S', `SUBSCRIBE ${n}`)).tagged, /^S OK/);
  }
  assert.match((await c.command('D', 'DELETE le/test6')).tagged, /^D OK/);
});

after(async () => {
  await logoutQuietly(c);
  await server.stop();
});

async function list(cmd: string): Promise<string[]> {
  const r = await c.command('T', cmd);
  assert.match(r.tagged, /^T OK/, `${cmd} → ${r.tagged}`);
  return r.untagged;
}

test('multiple patterns', async () => {
  const lines = await list('LIST "" (le/*2 le/test3)');
  assert.deepEqual(lines.map((l) => l.replace(/^\* LIST \([^)]*\) "\/" /, '')), ['"le/test2"', '"le/test3"', '"le/test4/test52"']);
});

test('SUBSCRIBED selection shows subscribed names, also deleted ones as \\NonExistent (not \\Noselect)', async () => {
  const lines = await list('LIST (SUBSCRIBED) "" le/*');
  assert.equal(lines.length, 6);
  assert.ok(lines.every((l) => l.includes('\\Subscribed')));
  const gone = lines.find((l) => l.endsWith('"le/test6"'));
  assert.ok(gone?.includes('\\NonExistent') && !gone.includes('\\Noselect'));
});

test('RECURSIVEMATCH returns a parent with CHILDINFO only for descendants the pattern does not match', async () => {
  assert.deepEqual(await list('LIST (SUBSCRIBED RECURSIVEMATCH) "" le/test2% RETURN (CHILDREN)'), [
    '* LIST (\\HasChildren) "/" "le/test2" (CHILDINFO ("SUBSCRIBED"))',
  ]);
  const t7 = await list('LIST (SUBSCRIBED RECURSIVEMATCH) "" *test7');
  assert.deepEqual(t7, ['* LIST (\\HasNoChildren \\Subscribed) "/" "le/test7/test7"']);
  const t8 = await list('LIST (SUBSCRIBED RECURSIVEMATCH) "" *test8');
  assert.equal(t8[0], '* LIST (\\HasChildren) "/" "le/test8" (CHILDINFO ("SUBSCRIBED"))');
  assert.equal(t8.length, 2);
  assert.deepEqual(await list('LIST (SUBSCRIBED RECURSIVEMATCH) "" (le/test2 le/test2/test1)'), [
    '* LIST (\\HasNoChildren \\Subscribed) "/" "le/test2/test1"',
  ]);
});

test('RETURN (CHILDREN SUBSCRIBED) on a plain pattern', async () => {
  const lines = await list('LIST "" le/% RETURN (CHILDREN SUBSCRIBED)');
  assert.ok(lines.includes('* LIST (\\HasNoChildren \\Subscribed) "/" "le/test1"'));
  assert.ok(lines.includes('* LIST (\\HasChildren) "/" "le/test8"'));
  assert.equal(lines.length, 6);
});

test('an empty pattern asks for the delimiter only in the basic syntax; extended LISTs ignore it (RFC 5258 §3)', async () => {
  assert.deepEqual(await list('LIST "" ""'), ['* LIST (\\Noselect) "/" ""']);
  assert.deepEqual(await list('LIST "" "" RETURN (CHILDREN)'), []);
  assert.deepEqual(await list('LIST () "" ""'), []);
  assert.deepEqual(await list('LIST "le" ""  RETURN ()'), []);
  // The empty member of a pattern list matches nothing; the others still do.
  assert.deepEqual(await list('LIST "" ("" le/test1)'), ['* LIST (\\HasNoChildren) "/" "le/test1"']);
  // An empty selection list is still the extended syntax: a parent that exists only through its children is
  // \NonExistent there (RFC 5258 §3: "MUST be accurately computed"), \Noselect in the basic syntax.
  assert.match((await c.command('C', 'CREATE le/gone/kid')).tagged, /^C OK/);
  assert.match((await c.command('D', 'DELETE le/gone')).tagged, /^D OK/);
  assert.deepEqual(await list('LIST () "" le/gone'), ['* LIST (\\NonExistent \\HasChildren) "/" "le/gone"']);
  assert.deepEqual(await list('LIST "" le/gone'), ['* LIST (\\Noselect \\HasChildren) "/" "le/gone"']);
  assert.match((await c.command('D', 'DELETE le/gone/kid')).tagged, /^D OK/);
});

test('syntax errors are BAD', async () => {
  for (const cmd of ['LIST (IMAPTEST) "" ""', 'LIST (RECURSIVEMATCH) "" ""', 'LIST (RECURSIVEMATCH REMOTE) "" ""', 'LIST "" "" RETURN (IMAPTEST)']) {
    assert.match((await c.command('B', cmd)).tagged, /^B BAD/, cmd);
  }
  assert.match((await c.command('R', 'LIST (REMOTE) "" %')).tagged, /^R OK/);
});

test('LSUB with "%" lists unsubscribed parents of subscribed names as \\Noselect', async () => {
  const lines = await list('LSUB "" le/%');
  assert.ok(lines.includes('* LSUB () "/" "le/test1"'));
  assert.ok(lines.includes('* LSUB (\\Noselect) "/" "le/test2"'));
  assert.ok(lines.includes('* LSUB (\\Noselect) "/" "le/test8"'));
  assert.ok(!lines.some((l) => l.endsWith('"le/test3"')));
  assert.deepEqual(await list('LSUB "" *test1'), ['* LSUB () "/" "le/test1"', '* LSUB () "/" "le/test2/test1"']);
});
