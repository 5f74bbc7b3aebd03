// Stored NUL bytes (APPEND with literal8, RFC 3516) never appear inside a normal literal (RFC 9051 §4.3):
// BODY[] answers carry 0x80 in their place with the same size; BINARY[] returns the real bytes as literal8.
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
});

after(async () => {
  await logoutQuietly(c);
  await server.stop();
});

test('NUL bytes are masked in BODY[] and kept in BINARY[]', async () => {
  const msg = Buffer.from('Subject: nul\r\n\r\na\x00b\x00c\r\n', 'latin1');
  c.sendRaw(Buffer.concat([Buffer.from(`A APPEND INBOX ~{${msg.length}+}\r\n`), msg, Buffer.from('\r\n')]));
  assert.match((await c.readTagged('A')).tagged, /^A OK/);
  assert.match((await c.command('S', 'SELECT INBOX')).tagged, /^S OK/);
  const body = await c.command('F', 'FETCH 1 (BODY.PEEK[TEXT] BINARY.PEEK[1])');
  assert.match(body.tagged, /^F OK/);
  const resp = body.responses.find((r) => r.text.startsWith('* 1 FETCH'))!;
  assert.deepEqual(resp.literals[0], Buffer.from('a\x80b\x80c\r\n', 'latin1'));
  assert.deepEqual(resp.literals[1], Buffer.from('a\x00b\x00c\r\n', 'latin1'));
  assert.ok(resp.raw.includes(Buffer.from('BINARY[1] ~{')), 'BINARY with NUL is a literal8');
});
