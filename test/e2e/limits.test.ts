// Limits and session-state edges end to end (issue 2, item 8): APPENDLIMIT (RFC 7889) with synchronizing
// and non-synchronizing literals (RFC 7888 §4), connections per IP address, autologout outside IDLE
// (RFC 9051 §5.4) but not during IDLE (RFC 2177), plaintext pipelined after STARTTLS is discarded
// (RFC 9051 §6.2.1), STATUS RECENT only in IMAP4rev1 (RFC 9051 Appendix E), CLOSE/UNSELECT (§6.4.2, RFC 3691).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { generate } from 'selfsigned';
import { ImapTestClient, logoutQuietly } from '../helpers/imap-client.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

const clients: ImapTestClient[] = [];
const servers: TestServer[] = [];

after(async () => {
  for (const c of clients) await logoutQuietly(c);
  for (const s of servers) await s.stop();
});

async function server(opts: Parameters<typeof startTestServer>[0] = {}): Promise<TestServer> {
  const s = await startTestServer(opts);
  servers.push(s);
  return s;
}

async function connect(s: TestServer): Promise<ImapTestClient> {
  const c = await ImapTestClient.connect(s.port);
  clients.push(c);
  return c;
}

async function login(s: TestServer): Promise<ImapTestClient> {
  const c = await connect(s);
  const r = await c.command('L', `LOGIN ${s.user} "${s.password}"`);
  assert.match(r.tagged, /^L OK/, r.tagged);
  return c;
}

test('APPENDLIMIT is advertised and enforced for synchronizing and LITERAL+ literals', async () => {
  const s = await server({ maxMessageSize: 1000 });
  const c = await login(s);
  const caps = await c.command('C', 'CAPABILITY');
  assert.match(caps.untagged[0]!, / APPENDLIMIT=1000( |$)/);
  // RFC 7889 §3.1/§3.2: the limit is also a STATUS item, and a LIST-STATUS item.
  assert.deepEqual((await c.command('SA', 'STATUS INBOX (APPENDLIMIT MESSAGES)')).untagged, ['* STATUS "INBOX" (APPENDLIMIT 1000 MESSAGES 0)']);
  const ls = await c.command('LA', 'LIST "" "Sent" RETURN (STATUS (APPENDLIMIT))');
  assert.ok(ls.untagged.includes('* STATUS "Sent" (APPENDLIMIT 1000)'), ls.untagged.join('\n'));

  // Synchronizing: refused before the data is sent, no continuation (RFC 7889 §4).
  c.send('A1 APPEND INBOX {2000}');
  const r1 = await c.next();
  assert.match(r1.text, /^A1 NO \[TOOBIG\]/);

  // Non-synchronizing: the octets are already on the wire; they are read and discarded (RFC 7888 §4).
  const big = Buffer.alloc(2000, 0x61);
  c.sendRaw(Buffer.concat([Buffer.from('A2 APPEND INBOX {2000+}\r\n'), big, Buffer.from('\r\n')]));
  const r2 = await c.readTagged('A2');
  assert.match(r2.tagged, /^A2 (NO|BAD) \[TOOBIG\]/);
  assert.ok(!r2.untagged.some((l) => /^\+/.test(l)));

  const n = await c.command('N', 'NOOP');
  assert.match(n.tagged, /^N OK/);
  const st = await c.command('S', 'STATUS INBOX (MESSAGES)');
  assert.match(st.untagged.join(''), /MESSAGES 0/, 'nothing was stored');
  // A message within the limit is accepted.
  const ok = Buffer.from('Subject: small\r\n\r\nfits\r\n');
  assert.match((await c.commandWithLiterals('A3', ['APPEND INBOX ', ok])).tagged, /^A3 OK/);
});

test('implementation limits are NO [LIMIT] (RFC 5530): a keyword over 100 characters, over 1,000 messages in one APPEND', async () => {
  const s = await server();
  const c = await login(s);
  assert.match((await c.command('S', 'SELECT INBOX')).tagged, /^S OK/);
  const one = Buffer.from('Subject: one\r\n\r\nbody\r\n');
  assert.match((await c.commandWithLiterals('A', ['APPEND INBOX ', one])).tagged, /^A OK/);
  assert.match((await c.command('K1', `STORE 1 +FLAGS (${'k'.repeat(101)})`)).tagged, /^K1 NO \[LIMIT\]/);
  assert.match((await c.command('K2', `STORE 1 +FLAGS (${'k'.repeat(100)})`)).tagged, /^K2 OK/);
  // 1,001 messages in one MULTIAPPEND (LITERAL+, so all are sent at once): refused whole.
  const parts: Array<string | Buffer> = ['APPEND INBOX'];
  for (let i = 0; i < 1001; i++) parts.push(Buffer.from(` {${one.length}+}\r\n`), one);
  c.sendRaw(Buffer.concat([Buffer.from('M '), ...parts.map((p) => (typeof p === 'string' ? Buffer.from(p) : p)), Buffer.from('\r\n')]));
  const m = await c.readTagged('M');
  assert.match(m.tagged, /^M NO \[LIMIT\]/);
  assert.match((await c.command('ST', 'STATUS INBOX (MESSAGES)')).untagged.join(''), /MESSAGES 1\)/, 'nothing was stored');
});

test('connections beyond the per-address limit get BYE; closing one makes room', async () => {
  const s = await server({ maxConnectionsPerIp: 3 });
  const open = [await connect(s), await connect(s), await connect(s)];
  const extra = await connect(s);
  assert.match(extra.greeting, /^\* BYE/);
  open[0]!.send('Z LOGOUT');
  await open[0]!.readTagged('Z');
  open[0]!.close();
  // The slot frees when the server sees the close; retry until then (bounded).
  let again: ImapTestClient | null = null;
  for (let i = 0; i < 50; i++) {
    const c = await connect(s);
    if (c.greeting.startsWith('* OK')) {
      again = c;
      break;
    }
    c.close();
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.ok(again, 'a new connection is accepted after one closed');
});

test('autologout after the inactivity timeout outside IDLE, but not during IDLE', async () => {
  const s = await server({ idleTimeoutMs: 300 });
  const quiet = await login(s);
  const bye = await quiet.waitFor(/^\* BYE/, 5000);
  assert.match(bye.text, /^\* BYE /);

  const idler = await login(s);
  assert.match((await idler.command('S', 'SELECT INBOX')).tagged, /^S OK/);
  idler.send('I IDLE');
  await idler.waitFor(/^\+/);
  // Well past the 300 ms inactivity limit: IDLE has its own (RFC 2177: ~29 minutes).
  await new Promise((r) => setTimeout(r, 1200));
  assert.ok(!idler.closed, 'still connected during IDLE');
  idler.send('DONE');
  assert.match((await idler.readTagged('I')).tagged, /^I OK/);
});

test('plaintext pipelined after STARTTLS is discarded, not executed inside TLS', async () => {
  const pems = await generate([{ name: 'commonName', value: 'localhost' }], { keySize: 2048, algorithm: 'sha256' });
  const s = await server({ tls: { key: pems.private, cert: pems.cert } });
  const c = await connect(s);
  // A man in the middle could append this after the STARTTLS line; it must not run after the upgrade.
  c.sendRaw(`T STARTTLS\r\nX LOGIN ${s.user} "${s.password}"\r\n`);
  const r = await c.readTagged('T');
  assert.match(r.tagged, /^T OK/);
  await c.startTls();
  const n = await c.command('N', 'NOOP');
  assert.match(n.tagged, /^N OK/);
  assert.deepEqual(n.untagged, []);
  // Still not authenticated: the injected LOGIN did not run.
  assert.match((await c.command('S', 'SELECT INBOX')).tagged, /^S BAD/);
});

test('STATUS RECENT is an IMAP4rev1 item only; CLOSE and UNSELECT leave the selected state', async () => {
  const s = await server();
  const c = await login(s);
  const st = await c.command('S1', 'STATUS INBOX (RECENT MESSAGES)');
  assert.match(st.tagged, /^S1 OK/);
  assert.match(st.untagged.join(''), /RECENT 0/);
  assert.match((await c.command('E', 'ENABLE IMAP4rev2')).tagged, /^E OK/);
  assert.match((await c.command('S2', 'STATUS INBOX (RECENT)')).tagged, /^S2 BAD/);

  assert.match((await c.command('SE', 'SELECT INBOX')).tagged, /^SE OK/);
  assert.match((await c.command('U', 'UNSELECT')).tagged, /^U OK/);
  assert.match((await c.command('F', 'FETCH 1 FLAGS')).tagged, /^F BAD/, 'no mailbox selected');
  assert.match((await c.command('SE2', 'SELECT INBOX')).tagged, /^SE2 OK/);
  assert.match((await c.command('CL', 'CLOSE')).tagged, /^CL OK/);
  assert.match((await c.command('CL2', 'CLOSE')).tagged, /^CL2 BAD/);
});
