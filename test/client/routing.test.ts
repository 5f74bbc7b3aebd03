// Client engine against a scripted in-memory server: tags, pipelining, untagged routing to commands and
// events, synchronizing literals and LITERAL+, continuation handling (AUTHENTICATE, IDLE), typed errors,
// BYE and the liveness watchdog. Server output is fed whole, byte by byte and in random chunks.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import tls from 'node:tls';
import { generate } from 'selfsigned';
import { ImapClient } from '../../src/client/imap-client.js';
import { ImapBadError, ImapConnectionError, ImapNoError } from '../../src/client/errors.js';
import { sectionData } from '../../src/client/commands/fetch.js';
import { CHUNKINGS, chunkingName, duplexPair, FakeServer, type Chunking } from './fake-server.js';

/** Attaches a no-op rejection handler so a promise asserted on later is not reported as unhandled. */
function later<T>(p: Promise<T>): Promise<T> {
  p.catch(() => undefined);
  return p;
}

const CAPS = 'IMAP4rev1 LITERAL+ IDLE ENABLE CONDSTORE QRESYNC UIDPLUS MOVE ESEARCH';

async function login(
  srv: FakeServer,
  opts: { caps?: string; responseMs?: number; saslIr?: boolean; idleRestartMs?: number } = {},
): Promise<ImapClient> {
  const caps = opts.caps ?? CAPS;
  const p = ImapClient.connect({
    tls: 'none',
    stream: srv.clientSide,
    auth: { user: 'üser', password: 'p"w' },
    timeouts: { responseMs: opts.responseMs ?? 10_000, ...(opts.idleRestartMs ? { idleRestartMs: opts.idleRestartMs } : {}) },
  });
  const saslIr = opts.saslIr !== false;
  await srv.send(`* OK [CAPABILITY ${caps} AUTH=PLAIN${saslIr ? ' SASL-IR' : ''}] ready\r\n`);
  const token = Buffer.from('\0üser\0p"w', 'utf8').toString('base64');
  if (saslIr) {
    assert.equal(await srv.line(), `A1 AUTHENTICATE PLAIN ${token}`);
  } else {
    assert.equal(await srv.line(), 'A1 AUTHENTICATE PLAIN');
    await srv.send('+ \r\n');
    assert.equal(await srv.line(), token);
  }
  await srv.send(`A1 OK [CAPABILITY ${caps}] logged in\r\n`);
  if (caps.includes('ENABLE')) {
    const want = ['CONDSTORE', 'QRESYNC'].filter((c) => caps.includes(c));
    if (want.length > 0) {
      assert.equal(await srv.line(), `A2 ENABLE ${want.join(' ')}`);
      await srv.send(`* ENABLED ${want.join(' ')}\r\nA2 OK enabled\r\n`);
    }
  }
  return p;
}

for (const chunking of CHUNKINGS) {
  test(`pipelined SELECT and two FETCHes, unsolicited EXISTS in between (${chunkingName(chunking)})`, async () => {
    const srv = new FakeServer(chunking);
    const c = await login(srv);
    assert.deepEqual([...c.enabled].sort(), ['CONDSTORE', 'QRESYNC']);
    const events: unknown[] = [];
    c.on('exists', (e) => events.push(['exists', e.count]));
    c.on('fetch', (e) => events.push(['fetch', e.uid, e.flags]));

    const sel = c.select('INBOX');
    const f1 = c.fetchAll('10:11', { flags: true, sections: [''] }, { uid: true });
    const f2 = c.fetchAll(12, { flags: true, modSeq: true, envelope: true }, { uid: true });
    // All three go out before any answer: pipelining.
    assert.equal(await srv.line(), 'A3 SELECT INBOX');
    assert.equal(await srv.line(), 'A4 UID FETCH 10:11 (UID FLAGS BODY.PEEK[])');
    assert.equal(await srv.line(), 'A5 UID FETCH 12 (UID FLAGS MODSEQ ENVELOPE)');
    await srv.send(
      '* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft)\r\n' +
        '* OK [PERMANENTFLAGS (\\Seen \\*)] ok\r\n' +
        '* 3 EXISTS\r\n* 0 RECENT\r\n' +
        '* OK [UIDVALIDITY 77] ok\r\n* OK [UIDNEXT 13] ok\r\n* OK [HIGHESTMODSEQ 900] ok\r\n' +
        'A3 OK [READ-WRITE] selected\r\n' +
        '* 1 FETCH (UID 10 FLAGS (\\Seen) BODY[] {5}\r\nhello)\r\n' +
        '* 4 EXISTS\r\n' +
        '* 2 FETCH (UID 11 FLAGS () BODY[] {0}\r\n)\r\n' +
        'A4 OK done\r\n' +
        '* 3 FETCH (UID 12 MODSEQ (901) FLAGS ($Junk) ENVELOPE ("Mon, 1 Jan 2024 10:00:00 +0000" {6}\r\nSub\r\nj ' +
        '(("Ann" NIL "ann" "example.org")) NIL NIL ((NIL NIL "team" NIL)("Bob" NIL "bob" "x.org")(NIL NIL NIL NIL)) NIL NIL NIL "<m@x>"))\r\n' +
        '* 2 FETCH (FLAGS (\\Flagged))\r\n' +
        'A5 OK done\r\n',
    );
    const s = await sel;
    assert.equal(s.exists, 3);
    assert.equal(s.uidValidity, 77);
    assert.equal(s.uidNext, 13);
    assert.equal(s.highestModSeq, 900);
    assert.equal(s.readOnly, false);
    assert.deepEqual(s.permanentFlags, ['\\Seen', '\\*']);
    const m1 = await f1;
    assert.equal(m1.length, 2);
    assert.equal(m1[0]!.uid, 10);
    assert.deepEqual(m1[0]!.flags, ['\\Seen']);
    assert.equal(sectionData(m1[0]!)?.toString(), 'hello');
    assert.equal(sectionData(m1[1]!)?.length, 0);
    const m2 = await f2;
    assert.equal(m2.length, 1);
    assert.equal(m2[0]!.modSeq, 901);
    assert.equal(m2[0]!.envelope?.subject, 'Sub\r\nj');
    assert.deepEqual(m2[0]!.envelope?.from, [{ name: 'Ann', address: 'ann@example.org' }]);
    assert.deepEqual(m2[0]!.envelope?.to, [{ group: 'team' }, { name: 'Bob', address: 'bob@x.org' }]);
    assert.equal(m2[0]!.envelope?.messageId, '<m@x>');
    // The EXISTS was an event (and updated the state); the FETCH without UID during UID FETCH too.
    assert.deepEqual(events, [['exists', 4], ['fetch', undefined, ['\\Flagged']]]);
    assert.equal(c.selected?.exists, 4);
    c.destroy();
  });
}

for (const chunking of ['bytes', { seed: 3 }] as Chunking[]) {
  test(`AUTHENTICATE PLAIN without SASL-IR waits for "+"; a synchronizing literal waits too (${chunkingName(chunking)})`, async () => {
    const srv = new FakeServer(chunking);
    const c = await login(srv, { caps: 'IMAP4rev1 UIDPLUS', saslIr: false });
    assert.deepEqual([...c.enabled], []);
    const app = c.append('Drafts', 'hello', { flags: ['\\Draft'] });
    assert.equal(await srv.line(), 'A2 APPEND Drafts (\\Draft) {5}');
    await srv.settle();
    assert.equal(srv.pending, '', 'no literal data before the continuation request');
    await srv.send('+ go ahead\r\n');
    assert.equal((await srv.bytes(7)).toString(), 'hello\r\n');
    await srv.send('A2 OK [APPENDUID 5 9] appended\r\n');
    assert.deepEqual(await app, { uidValidity: 5, uid: 9 });

    // Refused literal: the server answers NO instead of "+"; the writer moves on to the next command.
    const refused = later(c.append('INBOX', Buffer.alloc(10, 0x61)));
    const after = c.noop();
    assert.equal(await srv.line(), 'A3 APPEND INBOX {10}');
    await srv.send('A3 NO [TOOBIG] too big\r\n');
    await assert.rejects(refused, (e: unknown) => e instanceof ImapNoError && e.code === 'TOOBIG' && e.text === 'too big');
    assert.equal(await srv.line(), 'A4 NOOP');
    await srv.send('A4 OK\r\n');
    await after;
    c.destroy();
  });
}

test('LITERAL+ sends literal data at once; mailbox names are modified UTF-7; non-ASCII search uses CHARSET', async () => {
  const srv = new FakeServer();
  const c = await login(srv);
  const app = c.append('Entwürfe', 'a\r\nb');
  assert.equal(await srv.line(), 'A3 APPEND Entw&APw-rfe {4+}');
  assert.equal((await srv.bytes(6)).toString(), 'a\r\nb\r\n');
  await srv.send('A3 OK done\r\n');
  assert.deepEqual(await app, {});
  const s = c.search({ subject: 'Grüße', seen: false }, { uid: true });
  assert.equal(await srv.line(), 'A4 UID SEARCH RETURN (ALL) CHARSET UTF-8 UNSEEN SUBJECT {7+}');
  assert.equal((await srv.bytes(9)).toString('utf8'), 'Grüße\r\n');
  await srv.send('* ESEARCH (TAG "A4") UID ALL 4:6,9\r\nA4 OK\r\n');
  assert.deepEqual(await s, [4, 5, 6, 9]);
  c.destroy();
});

test('typed errors carry response codes; a NO does not disturb the next command', async () => {
  const srv = new FakeServer({ seed: 11 });
  const c = await login(srv);
  const a = later(c.copy('1:3', 'Nope', { uid: true }));
  const b = later(c.create('Dup'));
  const d = later(c.status('X'));
  assert.equal(await srv.line(), 'A3 UID COPY 1:3 Nope');
  assert.equal(await srv.line(), 'A4 CREATE Dup');
  assert.equal(await srv.line(), 'A5 STATUS X (MESSAGES UIDNEXT UIDVALIDITY UNSEEN HIGHESTMODSEQ)');
  await srv.send('A3 NO [TRYCREATE] no such mailbox\r\nA4 NO [ALREADYEXISTS] exists\r\nA5 BAD [CLIENTBUG] what?\r\n');
  await assert.rejects(a, (e: unknown) => e instanceof ImapNoError && e.code === 'TRYCREATE' && e.command === 'UID COPY');
  await assert.rejects(b, (e: unknown) => e instanceof ImapNoError && e.code === 'ALREADYEXISTS');
  await assert.rejects(d, (e: unknown) => e instanceof ImapBadError && e.code === 'CLIENTBUG');
  const m = c.move([5, 6, 7], 'Archive', { uid: true });
  assert.equal(await srv.line(), 'A6 UID MOVE 5:7 Archive');
  await srv.send('* OK [COPYUID 99 5:7 20:22] moved\r\n* VANISHED 5:7\r\nA6 OK done\r\n');
  const r = await m;
  assert.equal(r.uidValidity, 99);
  assert.deepEqual([...r.uidMap!], [[5, 20], [6, 21], [7, 22]]);
  c.destroy();
});

test('BYE fails every pending command with ImapConnectionError(bye) and emits close', async () => {
  const srv = new FakeServer('bytes');
  const c = await login(srv);
  let closed: unknown = 'not yet';
  c.on('close', (e) => (closed = e));
  const p1 = later(c.noop());
  const p2 = later(c.status('INBOX'));
  await srv.line();
  await srv.line();
  await srv.send('* BYE shutting down\r\n');
  srv.close();
  await assert.rejects(p1, (e: unknown) => e instanceof ImapConnectionError && e.reason === 'bye' && /shutting down/.test(e.message));
  await assert.rejects(p2, (e: unknown) => e instanceof ImapConnectionError && e.reason === 'bye');
  assert.ok(closed instanceof ImapConnectionError);
  await assert.rejects(c.noop(), ImapConnectionError);
});

test('a silent server is detected: the watchdog fails the connection with reason timeout', async () => {
  const srv = new FakeServer();
  const c = await login(srv, { responseMs: 80 });
  const p = later(c.noop());
  assert.equal(await srv.line(), 'A3 NOOP');
  await assert.rejects(p, (e: unknown) => e instanceof ImapConnectionError && e.reason === 'timeout');
  assert.ok(c.closed);
});

test('IDLE: events while idling, stop by AbortSignal, preempted by a command, restarted on a timer', async () => {
  const srv = new FakeServer({ seed: 5 });
  const c = await login(srv, { idleRestartMs: 60_000 });
  const seen: unknown[] = [];
  c.on('exists', (e) => seen.push(['exists', e.count]));
  c.on('expunge', (e) => seen.push(['expunge', e.seq]));
  c.on('vanished', (e) => seen.push(['vanished', e.uids]));
  const ac = new AbortController();
  const idling = c.idle({ signal: ac.signal });
  assert.equal(await srv.line(), 'A3 IDLE');
  await srv.send('+ idling\r\n* 7 EXISTS\r\n* 2 EXPUNGE\r\n* VANISHED 40,42\r\n');
  ac.abort();
  assert.equal(await srv.line(), 'DONE');
  await srv.send('A3 OK idle done\r\n');
  assert.equal(await idling, 'aborted');
  assert.deepEqual(seen, [['exists', 7], ['expunge', 2], ['vanished', [40, 42]]]);

  // A command issued while idling ends the IDLE first.
  const idling2 = c.idle();
  assert.equal(await srv.line(), 'A4 IDLE');
  await srv.send('+ idling\r\n');
  await srv.settle();
  const noop = c.noop();
  assert.equal(await srv.line(), 'DONE');
  await srv.send('A4 OK done\r\n');
  assert.equal(await idling2, 'preempted');
  assert.equal(await srv.line(), 'A5 NOOP');
  await srv.send('A5 OK\r\n');
  await noop;

  // Restart: IDLE is re-issued after restartMs.
  const ac3 = new AbortController();
  const idling3 = c.idle({ signal: ac3.signal, restartMs: 30 });
  assert.equal(await srv.line(), 'A6 IDLE');
  await srv.send('+ idling\r\n');
  assert.equal(await srv.line(), 'DONE');
  await srv.send('A6 OK\r\n');
  assert.equal(await srv.line(), 'A7 IDLE');
  ac3.abort();
  await srv.send('+ idling\r\n');
  assert.equal(await srv.line(), 'DONE');
  await srv.send('A7 OK\r\n');
  assert.equal(await idling3, 'aborted');
  c.destroy();
});

test('IDLE on a dead link: no reply to DONE after a restart fails with timeout', async () => {
  const srv = new FakeServer();
  const c = await login(srv, { responseMs: 80 });
  const idling = later(c.idle({ restartMs: 20 }));
  assert.equal(await srv.line(), 'A3 IDLE');
  await srv.send('+ idling\r\n');
  // The server is silent for longer than responseMs while idling: that is fine...
  await new Promise((r) => setTimeout(r, 10));
  assert.equal(await srv.line(), 'DONE');
  // ...but the DONE gets no answer.
  await assert.rejects(idling, (e: unknown) => e instanceof ImapConnectionError && e.reason === 'timeout');
});

for (const chunking of ['whole', { seed: 9 }] as Chunking[]) {
  test(`a big body section streams into a Writable with backpressure (${chunkingName(chunking)})`, async () => {
    const srv = new FakeServer(chunking);
    const c = await login(srv);
    const body = Buffer.alloc(chunking === 'whole' ? 300_000 : 20_000);
    for (let i = 0; i < body.length; i++) body[i] = (i * 7 + 3) & 0xff;
    const got: Buffer[] = [];
    const infos: unknown[] = [];
    const slow = new Writable({
      highWaterMark: 1024,
      write(chunk: Buffer, _e, cb) {
        got.push(chunk);
        setImmediate(cb);
      },
    });
    const done = c.fetchAll(
      '5',
      { sections: [{ section: '2', binary: true }, 'HEADER'] },
      {
        uid: true,
        streamSection: (info) => {
          infos.push(info);
          return info.section === '2' ? slow : undefined;
        },
      },
    );
    const finished = new Promise((r) => slow.on('finish', r));
    assert.equal(await srv.line(), 'A3 UID FETCH 5 (UID BINARY.PEEK[2] BODY.PEEK[HEADER])');
    await srv.send(Buffer.concat([Buffer.from(`* 1 FETCH (UID 5 BINARY[2] ~{${body.length}}\r\n`), body, Buffer.from(' BODY[HEADER] {4}\r\nA: b)\r\nA3 OK\r\n')]));
    const msgs = await done;
    await finished;
    assert.ok(Buffer.concat(got).equals(body));
    assert.deepEqual(infos, [
      { seq: 1, uid: 5, section: '2', binary: true, size: body.length },
      { seq: 1, uid: 5, section: 'HEADER', binary: false, size: 4 },
    ]);
    assert.equal(msgs[0]!.sections[0]!.streamed, true);
    assert.equal(msgs[0]!.sections[0]!.size, body.length);
    assert.equal(sectionData(msgs[0]!, 'header')?.toString(), 'A: b');
    c.destroy();
  });
}

test('STORE UNCHANGEDSINCE reports MODIFIED; SELECT with QRESYNC returns vanished and changed', async () => {
  const srv = new FakeServer({ seed: 21 });
  const c = await login(srv);
  const st = c.store('1:5', ['\\Seen'], { uid: true, unchangedSince: 300, silent: true });
  assert.equal(await srv.line(), 'A3 UID STORE 1:5 (UNCHANGEDSINCE 300) +FLAGS.SILENT (\\Seen)');
  await srv.send('* 1 FETCH (UID 1 MODSEQ (310))\r\nA3 OK [MODIFIED 2,4:5] some changed\r\n');
  const r = await st;
  assert.deepEqual(r.modified, [2, 4, 5]);
  assert.deepEqual(r.updated, [{ seq: 1, uid: 1, modSeq: 310 }]);

  const sel = c.select('Work', { qresync: { uidValidity: 8, modSeq: 300, knownUids: '1:20' } });
  assert.equal(await srv.line(), 'A4 SELECT Work (QRESYNC (8 300 1:20))');
  await srv.send(
    '* 2 EXISTS\r\n* OK [UIDVALIDITY 8] x\r\n* OK [UIDNEXT 21] x\r\n* OK [HIGHESTMODSEQ 320] x\r\n' +
      '* VANISHED (EARLIER) 3:4,9\r\n* 2 FETCH (UID 20 FLAGS (\\Seen) MODSEQ (315))\r\nA4 OK [READ-ONLY] ok\r\n',
  );
  const s = await sel;
  assert.deepEqual(s.vanished, [3, 4, 9]);
  assert.deepEqual(s.changed, [{ uid: 20, seq: 2, flags: ['\\Seen'], modSeq: 315 }]);
  assert.equal(s.readOnly, true);
  assert.equal(s.highestModSeq, 320);
  c.destroy();
});

test('credentials are not sent in clear text: STARTTLS required but not offered', async () => {
  const srv = new FakeServer();
  const p = later(ImapClient.connect({ tls: 'starttls', stream: srv.clientSide, auth: { user: 'u', password: 'secret' } }));
  await srv.send('* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] hi\r\n');
  await assert.rejects(p, (e: unknown) => e instanceof ImapConnectionError && e.reason === 'tls');
  assert.ok(!srv.pending.includes('secret') && !srv.pending.includes(Buffer.from('\0u\0secret').toString('base64')), srv.pending);
});

test('a PREAUTH greeting is refused when STARTTLS is required', async () => {
  const srv = new FakeServer();
  const p = later(ImapClient.connect({ tls: 'starttls', stream: srv.clientSide }));
  await srv.send('* PREAUTH [CAPABILITY IMAP4rev1 STARTTLS] hi\r\n');
  await assert.rejects(p, (e: unknown) => e instanceof ImapConnectionError && e.reason === 'tls');
});

test('LOGINDISABLED without AUTH=PLAIN is refused; LOGIN is used when PLAIN is missing', async () => {
  const srv = new FakeServer();
  const p = later(ImapClient.connect({ tls: 'none', stream: srv.clientSide, auth: { user: 'u', password: 'x' } }));
  await srv.send('* OK [CAPABILITY IMAP4rev1 LOGINDISABLED] hi\r\n');
  await assert.rejects(p, (e: unknown) => e instanceof ImapConnectionError && e.reason === 'refused');

  const srv2 = new FakeServer('bytes');
  const p2 = later(ImapClient.connect({ tls: 'none', stream: srv2.clientSide, auth: { user: 'me', password: 'a b"c' } }));
  await srv2.send('* OK hi\r\n');
  assert.equal(await srv2.line(), 'A1 CAPABILITY');
  await srv2.send('* CAPABILITY IMAP4rev1\r\nA1 OK\r\n');
  assert.equal(await srv2.line(), 'A2 LOGIN "me" "a b\\"c"');
  await srv2.send('A2 NO [AUTHENTICATIONFAILED] bad password\r\n');
  await assert.rejects(p2, (e: unknown) => e instanceof ImapNoError && e.code === 'AUTHENTICATIONFAILED');
});

test('an unparseable response fails only the command it belongs to', async () => {
  const srv = new FakeServer();
  const c = await login(srv);
  const warnings: string[] = [];
  c.on('warning', (w) => warnings.push(w));
  const p = later(c.fetchAll('1', { flags: true }));
  await srv.line();
  await srv.send('* 1 FETCH (FLAGS (\\Seen)\r\nA3 OK\r\n');
  await assert.rejects(p, /Unparseable/);
  assert.equal(warnings.length, 1);
  const q = c.noop();
  await srv.line();
  await srv.send('A4 OK\r\n');
  await q;
  c.destroy();
});

test('breaking out of a fetch early keeps the connection in step', async () => {
  const srv = new FakeServer({ seed: 2 });
  const c = await login(srv);
  const it = c.fetch('1:*', { flags: true }, { uid: true });
  const consumer = (async () => {
    const uids: number[] = [];
    for await (const m of it) {
      uids.push(m.uid!);
      if (uids.length === 2) break;
    }
    return uids;
  })();
  assert.equal(await srv.line(), 'A3 UID FETCH 1:* (UID FLAGS)');
  let resp = '';
  for (let i = 1; i <= 400; i++) resp += `* ${i} FETCH (UID ${i} FLAGS ())\r\n`;
  await srv.send(resp + 'A3 OK\r\n');
  assert.deepEqual(await consumer, [1, 2]);
  const n = c.noop();
  assert.equal(await srv.line(), 'A4 NOOP');
  await srv.send('A4 OK\r\n');
  await n;
  c.destroy();
});

test('keepalive: an idle connection sends NOOP; a NOOP without reply closes it with reason timeout', async () => {
  // The keepalive timer is unref'd (it must not keep a process alive); the in-memory transport holds no
  // handle either, so keep the event loop running for the test.
  const keep = setInterval(() => undefined, 1000);
  const srv = new FakeServer();
  const p = ImapClient.connect({ tls: 'none', stream: srv.clientSide, auth: { user: 'u', password: 'p' }, timeouts: { keepaliveMs: 40, responseMs: 60 } });
  await srv.send('* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN SASL-IR] hi\r\n');
  await srv.line();
  await srv.send('A1 OK [CAPABILITY IMAP4rev1] ok\r\n');
  const c = await p;
  const closed = new Promise<unknown>((resolve) => c.once('close', resolve));
  assert.equal(await srv.line(), 'A2 NOOP');
  await srv.send('A2 OK\r\n');
  assert.equal(await srv.line(), 'A3 NOOP');
  const err = await closed;
  clearInterval(keep);
  assert.ok(err instanceof ImapConnectionError && err.reason === 'timeout');
});

test('STARTTLS over any transport; clear-text bytes injected after the OK are discarded', async () => {
  const pems = await generate([{ name: 'commonName', value: 'imap.test' }], { keySize: 2048, algorithm: 'sha256' });
  const [clientEnd, serverEnd] = duplexPair();
  const p = ImapClient.connect({ tls: 'starttls', stream: clientEnd, ca: pems.cert, servername: 'imap.test', auth: { user: 'u', password: 'pw' } });
  // Clear-text phase, read by hand.
  let plain = '';
  const onPlain = (d: Buffer) => (plain += d.toString('latin1'));
  serverEnd.on('data', onPlain);
  serverEnd.write('* OK [CAPABILITY IMAP4rev1 STARTTLS LOGINDISABLED] hi\r\n');
  while (!plain.includes('\r\n')) await new Promise((r) => setImmediate(r));
  assert.equal(plain, 'A1 STARTTLS\r\n');
  serverEnd.off('data', onPlain);
  // The OK and an injected response in the same packet.
  serverEnd.write('A1 OK begin TLS\r\n* CAPABILITY IMAP4rev1 AUTH=PLAIN INJECTED\r\n* ENABLED INJECTED\r\n');
  const secure = new tls.TLSSocket(serverEnd, { isServer: true, key: pems.private, cert: pems.cert });
  let enc = '';
  const lines: string[] = [];
  const next = async (): Promise<string> => {
    for (;;) {
      const i = enc.indexOf('\r\n');
      if (i >= 0) {
        const l = enc.slice(0, i);
        enc = enc.slice(i + 2);
        lines.push(l);
        return l;
      }
      await new Promise((r) => secure.once('data', r));
    }
  };
  secure.on('data', (d: Buffer) => (enc += d.toString('utf8')));
  assert.equal(await next(), 'A2 CAPABILITY');
  secure.write('* CAPABILITY IMAP4rev1 AUTH=PLAIN SASL-IR\r\nA2 OK\r\n');
  assert.equal(await next(), `A3 AUTHENTICATE PLAIN ${Buffer.from('\0u\0pw').toString('base64')}`);
  secure.write('A3 OK [CAPABILITY IMAP4rev1 IDLE] in\r\n');
  const c = await p;
  assert.ok(c.secure);
  assert.ok(!c.has('INJECTED') && !c.enabled.has('INJECTED'));
  assert.ok(c.has('IDLE'));
  c.destroy();
});
