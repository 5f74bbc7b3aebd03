// SCRAM-SHA-256-PLUS (RFC 5802 §6, RFC 7677) with tls-exporter (RFC 9266, TLS 1.3) and tls-unique (RFC 5929,
// TLS 1.2): both ends compute the same binding bytes (also after TLS 1.2 resumption), the Petrel server
// advertises -PLUS only on TLS (implicit and after STARTTLS), our client library logs in with it over TLS 1.2
// and 1.3, and the server refuses a wrong binding, a downgrade flag "y", an unsupported binding type, a
// -PLUS exchange without "p=", and a wrong password.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import tls from 'node:tls';
import { randomBytes } from 'node:crypto';
import { generate } from 'selfsigned';
import { channelBindingData, channelBindingType } from '../../src/auth/channel-binding.js';
import { parseClientFirst, scramCredential, startScram } from '../../src/auth/scram.js';
import { ImapClient } from '../../src/client/imap-client.js';
import { ImapConnectionError, ImapNoError } from '../../src/client/errors.js';
import { authenticate, chooseAuthMethod, ScramClient, type ChannelBinding } from '../../src/client/commands/auth.js';
import { LoginThrottle } from '../../src/server/server-context.js';
import { startServer, type RunningServer } from '../../src/server/server.js';
import { ImapTestClient, logoutQuietly } from '../helpers/imap-client.js';
import { startTestServer, TEST_PASSWORD, TEST_USER, type TestServer } from '../helpers/server.js';

let srv: TestServer;
let imap: RunningServer;
let pems: { private: string; cert: string };
const throttle = new LoginThrottle();

before(async () => {
  srv = await startTestServer();
  pems = await generate([{ name: 'commonName', value: 'localhost' }], { keySize: 2048, algorithm: 'sha256' });
  imap = await startServer({
    store: srv.store,
    host: '127.0.0.1',
    imapPort: 0,
    imapsPort: 0,
    tls: { key: pems.private, cert: pems.cert },
    throttle,
  });
});

after(async () => {
  await imap?.close();
  await srv?.stop();
});

/** Forget failed logins between tests so the growing delay does not slow the file down. */
function resetThrottle(): void {
  throttle.succeedLogin('127.0.0.1', TEST_USER);
}

/** A TLS connection to the IMAPS port limited to one TLS version; the greeting is not read. */
function tlsTo(port: number, version: tls.SecureVersion, session?: Buffer): Promise<tls.TLSSocket> {
  return new Promise((resolve, reject) => {
    const s = tls.connect(
      { port, host: '127.0.0.1', rejectUnauthorized: false, minVersion: version, maxVersion: version, ...(session ? { session } : {}) },
      () => resolve(s),
    );
    s.once('error', reject);
  });
}

test('channel binding: tls-exporter on TLS 1.3, tls-unique on TLS 1.2 (also resumed); both ends agree, connections differ', async () => {
  const server = tls.createServer({ key: pems.private, cert: pems.cert, minVersion: 'TLSv1.2' });
  const serverSide: tls.TLSSocket[] = [];
  server.on('secureConnection', (s) => serverSide.push(s));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as net.AddressInfo).port;
  const seen: Buffer[] = [];
  try {
    let ticket: Buffer | undefined;
    for (const [version, expected, resume] of [
      ['TLSv1.3', 'tls-exporter', false],
      ['TLSv1.2', 'tls-unique', false],
      ['TLSv1.2', 'tls-unique', true],
    ] as const) {
      const c = await tlsTo(port, version, resume ? ticket : undefined);
      await new Promise((r) => setTimeout(r, 50));
      if (!resume) ticket = c.getSession();
      const s = serverSide[serverSide.length - 1]!;
      assert.equal(c.isSessionReused(), resume, `${version} resumed=${resume}`);
      assert.equal(channelBindingType(c), expected);
      assert.equal(channelBindingType(s), expected);
      const mine = channelBindingData(c, expected, 'client');
      const theirs = channelBindingData(s, expected, 'server');
      assert.ok(mine && mine.length >= 12, `${expected} data`);
      assert.deepEqual(mine, theirs, `${version}${resume ? ' resumed' : ''}: both ends compute the same ${expected}`);
      // The other type is refused on this version (RFC 9266 §3).
      assert.equal(channelBindingData(c, expected === 'tls-unique' ? 'tls-exporter' : 'tls-unique', 'client'), null);
      assert.equal(channelBindingData(c, 'tls-server-end-point', 'client'), null);
      seen.push(mine);
      c.destroy();
    }
    assert.equal(new Set(seen.map((b) => b.toString('hex'))).size, seen.length, 'every connection has its own binding');
  } finally {
    for (const s of serverSide) s.destroy();
    await new Promise((r) => server.close(r));
  }
});

test('ScramClient reproduces RFC 7677 §3 and checks the server signature', () => {
  const c = new ScramClient('user', 'pencil', { binding: null, nonce: 'rOprNGfwEbeRWgbNEkqO' });
  assert.equal(c.first(), 'n,,n=user,r=rOprNGfwEbeRWgbNEkqO');
  const final = c.final('r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096');
  assert.equal(final, 'c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=');
  assert.doesNotThrow(() => c.verify('v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4='));
  assert.throws(() => c.verify('v=7rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4='), /signature/);
  assert.throws(() => c.verify('e=invalid-proof'), /server error/);
  assert.throws(() => c.final('r=someoneelse,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096'), /nonce/);
  assert.throws(() => c.final('r=rOprNGfwEbeRWgbNEkqOx,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=1'), /iteration/);
  const p = new ScramClient('a,b=c', 'x', { binding: { type: 'tls-exporter', data: Buffer.alloc(32) } });
  assert.match(p.first(), /^p=tls-exporter,,n=a=2Cb=3Dc,r=/);
  assert.match(new ScramClient('u', 'x', { binding: null, clientCanBind: true }).first(), /^y,,/);
});

test('AUTH=SCRAM-SHA-256-PLUS is advertised on implicit TLS and after STARTTLS, never in clear text', async () => {
  const plain = await ImapTestClient.connect(imap.imapPort!);
  assert.match(plain.greeting, /AUTH=SCRAM-SHA-256[ \]]/);
  assert.doesNotMatch(plain.greeting, /SCRAM-SHA-256-PLUS/);
  // Not advertised, so not accepted either.
  const refused = await plain.command('p', 'AUTHENTICATE SCRAM-SHA-256-PLUS ' + b64('p=tls-exporter,,n=alice,r=abcdef'));
  assert.match(refused.tagged, /^p NO \[CANNOT\]/);
  assert.match((await plain.command('s', 'STARTTLS')).tagged, /^s OK/);
  await plain.startTls();
  const caps = (await plain.command('c', 'CAPABILITY')).untagged.join(' ');
  assert.match(caps, /AUTH=SCRAM-SHA-256-PLUS/);
  await logoutQuietly(plain);
  const implicit = await ImapTestClient.connectTls(imap.imapsPort!);
  assert.match(implicit.greeting + (await implicit.command('c', 'CAPABILITY')).untagged.join(' '), /AUTH=SCRAM-SHA-256-PLUS/);
  await logoutQuietly(implicit);
});

function b64(s: string): string {
  return Buffer.from(s, 'utf8').toString('base64');
}

test('our client logs in with SCRAM-SHA-256-PLUS: implicit TLS 1.3, STARTTLS, and TLS 1.2 (tls-unique)', async () => {
  resetThrottle();
  const common = { host: '127.0.0.1', ca: pems.cert, servername: 'localhost', auth: { user: TEST_USER, password: TEST_PASSWORD, method: 'SCRAM-SHA-256-PLUS' as const } };
  const { auth: _auth, ...noAuth } = common;
  const implicit = await ImapClient.connect({ ...noAuth, port: imap.imapsPort!, tls: 'implicit' });
  assert.equal((implicit.transport as tls.TLSSocket).getProtocol(), 'TLSv1.3');
  assert.equal(await authenticate(implicit, TEST_USER, TEST_PASSWORD, 'SCRAM-SHA-256-PLUS'), 'SCRAM-SHA-256-PLUS');
  const box = await implicit.select('INBOX');
  assert.ok(box.uidValidity > 0);
  await implicit.logout();

  const starttls = await ImapClient.connect({ ...common, port: imap.imapPort!, tls: 'starttls' });
  assert.ok(starttls.authenticated);
  await starttls.logout();

  // TLS 1.2: the client library has no version option, so hand it an established TLS 1.2 stream.
  const s12 = await tlsTo(imap.imapsPort!, 'TLSv1.2');
  const c12 = await ImapClient.connect({ tls: 'none', stream: s12 });
  assert.ok(c12.capabilities.has('AUTH=SCRAM-SHA-256-PLUS'));
  assert.equal(await authenticate(c12, TEST_USER, TEST_PASSWORD, 'SCRAM-SHA-256-PLUS'), 'SCRAM-SHA-256-PLUS');
  await c12.select('INBOX');
  assert.equal(chooseAuthMethod(new Set(['AUTH=SCRAM-SHA-256', 'AUTH=SCRAM-SHA-256-PLUS']), s12), 'SCRAM-SHA-256-PLUS', 'no PLAIN: -PLUS on TLS');
  await c12.logout();

  assert.equal(chooseAuthMethod(new Set(['AUTH=PLAIN', 'AUTH=SCRAM-SHA-256']), s12), 'PLAIN', 'without -PLUS offered: PLAIN');
  assert.equal(chooseAuthMethod(new Set(['AUTH=PLAIN', 'AUTH=SCRAM-SHA-256-PLUS']), s12), 'PLAIN', 'PLAIN by default even with -PLUS offered');
  assert.equal(chooseAuthMethod(new Set(['AUTH=PLAIN', 'AUTH=SCRAM-SHA-256-PLUS']), null), 'PLAIN', 'no -PLUS without TLS');
  assert.equal(chooseAuthMethod(new Set(['AUTH=SCRAM-SHA-256', 'LOGINDISABLED']), null), 'SCRAM-SHA-256', 'SCRAM before LOGIN');
  assert.equal(chooseAuthMethod(new Set(['IMAP4rev1']), null), 'LOGIN');
  // Plain SCRAM-SHA-256 in clear text on loopback (flag "n").
  const clear = await ImapClient.connect({ host: '127.0.0.1', port: imap.imapPort!, tls: 'none' });
  await clear.login(TEST_USER, TEST_PASSWORD, 'SCRAM-SHA-256');
  assert.ok(clear.authenticated);
  await clear.logout();
});

test('the client library: a wrong password fails with NO [AUTHENTICATIONFAILED] over -PLUS', async () => {
  resetThrottle();
  const c = await ImapClient.connect({ host: '127.0.0.1', port: imap.imapsPort!, tls: 'implicit', ca: pems.cert, servername: 'localhost' });
  await assert.rejects(c.login(TEST_USER, 'not the password', 'SCRAM-SHA-256-PLUS'), (e: unknown) => e instanceof ImapNoError && e.code === 'AUTHENTICATIONFAILED');
  assert.ok(!c.authenticated);
  // The connection stays usable: the right password works next.
  await c.login(TEST_USER, TEST_PASSWORD, 'SCRAM-SHA-256-PLUS');
  assert.ok(c.authenticated);
  await c.logout();
  resetThrottle();
});

/** Runs one SCRAM exchange by hand on a raw test connection; returns every server line after the command. */
async function handScram(
  c: ImapTestClient,
  tag: string,
  mechanism: string,
  client: ScramClient,
): Promise<{ tagged: string; serverVerified: boolean }> {
  c.send(`${tag} AUTHENTICATE ${mechanism} ${b64(client.first())}`);
  const r1 = await c.next();
  if (!r1.text.startsWith('+ ')) return { tagged: r1.text, serverVerified: false };
  c.send(b64(client.final(Buffer.from(r1.text.slice(2), 'base64').toString('utf8'))));
  const r2 = await c.next();
  if (!r2.text.startsWith('+ ')) return { tagged: r2.text, serverVerified: false };
  client.verify(Buffer.from(r2.text.slice(2), 'base64').toString('utf8'));
  c.send('');
  return { tagged: (await c.readTagged(tag)).tagged, serverVerified: true };
}

function bindingOf(sock: tls.TLSSocket): ChannelBinding {
  const type = channelBindingType(sock)!;
  return { type, data: channelBindingData(sock, type, 'client')! };
}

test('the server: right binding logs in; wrong binding, wrong password, downgrade "y", wrong type and missing "p=" fail', async () => {
  resetThrottle();
  for (const version of ['TLSv1.3', 'TLSv1.2'] as const) {
    // Implicit TLS negotiates 1.3; TLS 1.2 goes through STARTTLS with a capped version.
    const conn = version === 'TLSv1.3' ? await ImapTestClient.connectTls(imap.imapsPort!) : await startTlsCapped(version);
    const sock = socketOf(conn);
    assert.equal(sock.getProtocol(), version);
    const binding = bindingOf(sock);

    // Wrong binding bytes: the proof is right, the binding is not → failed authentication.
    const wrongData = await handScram(conn, 'w', 'SCRAM-SHA-256-PLUS', new ScramClient(TEST_USER, TEST_PASSWORD, { binding: { type: binding.type, data: randomBytes(binding.data.length) } }));
    assert.match(wrongData.tagged, /^w NO \[AUTHENTICATIONFAILED\] Invalid credentials/, `${version}: wrong binding`);
    assert.equal(wrongData.serverVerified, false);

    // Wrong password with the right binding.
    const wrongPw = await handScram(conn, 'x', 'SCRAM-SHA-256-PLUS', new ScramClient(TEST_USER, 'not the password', { binding }));
    assert.equal(wrongPw.tagged.replace(/^x/, 'w'), wrongData.tagged, `${version}: wrong password answers like a wrong binding`);

    // The binding type of the other TLS version: not supported on this connection.
    const otherType = binding.type === 'tls-unique' ? 'tls-exporter' : 'tls-unique';
    const wrongType = await handScram(conn, 't', 'SCRAM-SHA-256-PLUS', new ScramClient(TEST_USER, TEST_PASSWORD, { binding: { type: otherType, data: binding.data } }));
    assert.match(wrongType.tagged, /^t NO \[AUTHENTICATIONFAILED\] SCRAM: channel binding type/, `${version}: ${otherType}`);

    // RFC 5802 §6 downgrade: "y" says "I could bind but you do not offer -PLUS" — we do, so fail.
    const downgrade = await handScram(conn, 'y', 'SCRAM-SHA-256', new ScramClient(TEST_USER, TEST_PASSWORD, { binding: null, clientCanBind: true }));
    assert.match(downgrade.tagged, /^y NO \[AUTHENTICATIONFAILED\] SCRAM: the server supports channel binding/);

    // -PLUS without "p=" is malformed; "p=" with the non-PLUS mechanism too.
    const noP = await handScram(conn, 'n', 'SCRAM-SHA-256-PLUS', new ScramClient(TEST_USER, TEST_PASSWORD, { binding: null }));
    assert.match(noP.tagged, /^n BAD/);
    const pWithoutPlus = await handScram(conn, 'q', 'SCRAM-SHA-256', new ScramClient(TEST_USER, TEST_PASSWORD, { binding }));
    assert.match(pWithoutPlus.tagged, /^q BAD/);

    // Finally the right binding and password: logged in, and the server proved it knows the credential.
    resetThrottle();
    const ok = await handScram(conn, 'k', 'SCRAM-SHA-256-PLUS', new ScramClient(TEST_USER, TEST_PASSWORD, { binding }));
    assert.match(ok.tagged, /^k OK/, `${version}: right binding`);
    assert.ok(ok.serverVerified);
    assert.match((await conn.command('s', 'SELECT INBOX')).tagged, /^s OK/);
    await logoutQuietly(conn);
  }
  // In clear text "y" is honest (no -PLUS offered there) and works.
  const clear = await ImapTestClient.connect(imap.imapPort!);
  const y = await handScram(clear, 'y', 'SCRAM-SHA-256', new ScramClient(TEST_USER, TEST_PASSWORD, { binding: null, clientCanBind: true }));
  assert.match(y.tagged, /^y OK/);
  await logoutQuietly(clear);
  resetThrottle();
});

test('the client drops a server whose signature does not verify (no mutual authentication)', async () => {
  // A fake server on a TLS connection: offers -PLUS, answers with a made-up server-final.
  const server = tls.createServer({ key: pems.private, cert: pems.cert }, (s) => {
    s.write('* OK [CAPABILITY IMAP4rev1 AUTH=SCRAM-SHA-256-PLUS SASL-IR] fake\r\n');
    onLines(s, (line) => {
      const m = /^(\S+) AUTHENTICATE SCRAM-SHA-256-PLUS (\S+)$/.exec(line);
      const cap = /^(\S+) CAPABILITY$/.exec(line);
      if (cap) {
        s.write(`* CAPABILITY IMAP4rev1 AUTH=SCRAM-SHA-256-PLUS SASL-IR\r\n${cap[1]} OK done\r\n`);
      } else if (m) {
        const first = Buffer.from(m[2]!, 'base64').toString('utf8');
        const nonce = /,r=([^,]+)/.exec(first)![1]!;
        s.write(`+ ${b64(`r=${nonce}fake,s=${randomBytes(16).toString('base64')},i=4096`)}\r\n`);
      } else if (Buffer.from(line, 'base64').toString('latin1').startsWith('c=')) {
        s.write(`+ ${b64(`v=${randomBytes(32).toString('base64')}`)}\r\n`);
      } else if (line === '*') {
        s.write('A1 BAD cancelled\r\n');
      }
    });
    s.on('error', () => undefined);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  try {
    const port = (server.address() as net.AddressInfo).port;
    await assert.rejects(
      ImapClient.connect({ host: '127.0.0.1', port, tls: 'implicit', ca: pems.cert, servername: 'localhost', auth: { user: 'u', password: 'p' } }),
      (e: unknown) => e instanceof ImapConnectionError && e.reason === 'protocol' && /signature/.test(e.message),
    );
  } finally {
    await new Promise((r) => server.close(r));
  }
});

/** Calls `onLine` with each CRLF-terminated line a fake server's client sends (without the CRLF). */
function onLines(s: net.Socket, onLine: (line: string) => void): void {
  let buf = '';
  s.on('data', (d: Buffer) => {
    buf += d.toString('latin1');
    let i: number;
    while ((i = buf.indexOf('\r\n')) >= 0) {
      const line = buf.slice(0, i);
      buf = buf.slice(i + 2);
      onLine(line);
    }
  });
}

/** The test client's TLS socket (a private field of the helper). */
function socketOf(c: ImapTestClient): tls.TLSSocket {
  const sock = (c as unknown as { socket: net.Socket }).socket;
  assert.ok(sock instanceof tls.TLSSocket);
  return sock;
}

/** A STARTTLS connection to the plain port, with TLS limited to `version`. */
async function startTlsCapped(version: tls.SecureVersion): Promise<ImapTestClient> {
  const c = await ImapTestClient.connect(imap.imapPort!);
  assert.match((await c.command('s', 'STARTTLS')).tagged, /^s OK/);
  await c.startTls({ minVersion: version, maxVersion: version });
  return c;
}

test('the client without SASL-IR: the client-first goes after "+ "; a server using src/auth/scram.ts accepts the binding', async () => {
  // A small IMAP server that offers only AUTH=SCRAM-SHA-256-PLUS and no SASL-IR, built on the server-side
  // SCRAM functions, so the client's continuation path and its binding are checked end to end.
  const cred = scramCredential('pw', randomBytes(16), 4096);
  const seen: string[] = [];
  const server = tls.createServer({ key: pems.private, cert: pems.cert }, (s) => {
    s.write('* OK [CAPABILITY IMAP4rev1 AUTH=SCRAM-SHA-256-PLUS] fake\r\n');
    let step: ((line: string) => void) | null = null;
    onLines(s, (line) => {
      seen.push(line);
      if (step) {
        step(line);
        return;
      }
      const [tag, ...words] = line.split(' ');
      const cmd = words.join(' ').toUpperCase();
      if (cmd === 'AUTHENTICATE SCRAM-SHA-256-PLUS') {
        s.write('+ \r\n');
        step = (first) => {
          const cf = parseClientFirst(Buffer.from(first, 'base64').toString('utf8'), { allowChannelBinding: true });
          const ex = startScram(cf, cred, undefined, channelBindingData(s, cf.cbName ?? '', 'server'));
          s.write(`+ ${b64(ex.serverFirst)}\r\n`);
          step = (final) => {
            let v: string | null = null;
            try {
              v = ex.finish(Buffer.from(final, 'base64').toString('utf8'));
            } catch {
              v = null;
            }
            if (!v) {
              step = null;
              s.write(`${tag} NO [AUTHENTICATIONFAILED] no\r\n`);
              return;
            }
            s.write(`+ ${b64(v)}\r\n`);
            step = (empty) => {
              step = null;
              s.write(empty === '' ? `${tag} OK [CAPABILITY IMAP4rev1] in\r\n` : `${tag} BAD expected empty\r\n`);
            };
          };
        };
      } else if (cmd === 'LOGOUT') {
        s.end(`* BYE bye\r\n${tag} OK bye\r\n`);
      } else {
        s.write(`${tag} BAD what\r\n`);
      }
    });
    s.on('error', () => undefined);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  try {
    const port = (server.address() as net.AddressInfo).port;
    const opts = { host: '127.0.0.1', port, tls: 'implicit' as const, ca: pems.cert, servername: 'localhost' };
    const c = await ImapClient.connect({ ...opts, auth: { user: 'u', password: 'pw' } });
    assert.ok(c.authenticated);
    const auth = seen.find((l) => / AUTHENTICATE /.test(l))!;
    assert.match(auth, /^\S+ AUTHENTICATE SCRAM-SHA-256-PLUS$/, 'no initial response without SASL-IR');
    assert.match(Buffer.from(seen[seen.indexOf(auth) + 1]!, 'base64').toString(), /^p=tls-exporter,,n=u,r=/);
    await c.logout();
    await assert.rejects(ImapClient.connect({ ...opts, auth: { user: 'u', password: 'wrong' } }), (e: unknown) => e instanceof ImapNoError);
  } finally {
    await new Promise((r) => server.close(r));
  }
});
