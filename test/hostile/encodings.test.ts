// Hostile input, part 3: invalid UTF-8 and modified UTF-7 everywhere a client can put text. RFC 9051 §5.1
// (mailbox names: UTF-8 in IMAP4rev2 / UTF8=ACCEPT, RFC 6855 §3), RFC 3501 §5.1.3 (modified UTF-7 for
// IMAP4rev1), §6.4.4 (SEARCH CHARSET, BADCHARSET), §6.2.3 (LOGIN). Every command gets a tagged NO or BAD
// (or OK where the bytes are acceptable), never a crash, and the session stays usable.
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { assertServes, startHostileServer, type HostileServer } from './helpers.js';

let hs: HostileServer;

before(async () => {
  hs = await startHostileServer();
});
after(async () => {
  await hs.stop();
});

const BAD_UTF8 = [
  Buffer.from([0xff, 0xfe]),
  Buffer.from([0xc3]), // truncated sequence
  Buffer.from([0xc0, 0xaf]), // overlong "/"
  Buffer.from([0xed, 0xa0, 0x80]), // UTF-16 surrogate in UTF-8
  Buffer.from([0xf4, 0x90, 0x80, 0x80]), // above U+10FFFF
  Buffer.from([0x80, 0x80, 0x80]),
];

const BAD_MUTF7 = ['&', '&Jjo', '&Jjo!-', '&AGE-', '&2D3-', '&2D3eAA-&2D3eAA-', '&U,BTFw', '&&-', '&-&', '&ZeVnLIqe-&ZeVnLIqe-'];

function asLine(parts: Array<string | Buffer>): Buffer {
  return Buffer.concat([...parts.map((p) => (typeof p === 'string' ? Buffer.from(p, 'latin1') : p)), Buffer.from('\r\n')]);
}

test('invalid UTF-8 and modified UTF-7 before login: LOGIN and AUTHENTICATE refuse them cleanly', async () => {
  // A server of its own: failed logins are throttled per address (growing delays, then a lock-out).
  const own = await startHostileServer();
  try {
    const c = await own.connect();
    let n = 0;
    for (const bad of BAD_UTF8) {
      // As atoms: a syntax error (8-bit data that is not UTF-8), not a login attempt.
      const tag = `U${n++}`;
      c.sendRaw(asLine([`${tag} LOGIN `, bad, ' ', bad]));
      assert.match((await c.readTagged(tag, 30_000)).tagged, new RegExp(`^${tag} (NO|BAD)`));
    }
    for (const bad of BAD_UTF8.slice(0, 3)) {
      // As quoted string and literal: refused as credentials.
      const tag = `U${n++}`;
      c.sendRaw(asLine([`${tag} LOGIN "a`, bad, '" {2+}']));
      c.sendRaw(Buffer.concat([bad.subarray(0, 2), Buffer.alloc(2 - Math.min(2, bad.length), 0x61), Buffer.from('\r\n')]));
      assert.match((await c.readTagged(tag, 30_000)).tagged, new RegExp(`^${tag} (NO|BAD)`));
    }
    c.sendRaw(Buffer.from('V1 AUTHENTICATE PLAIN\r\n'));
    assert.match((await c.next()).text, /^\+/);
    c.sendRaw(Buffer.from('\xff\xfe\x00\r\n', 'latin1'));
    assert.match((await c.readTagged('V1', 30_000)).tagged, /^V1 (NO|BAD)/);
    // AGFsaWNlAP8= is base64 of "\0alice\0\xff" (invalid UTF-8 password).
    assert.match((await c.command('V2', 'AUTHENTICATE PLAIN AGFsaWNlAP8=', 30_000)).tagged, /^V2 (NO|BAD)/);
    assert.match((await c.command('V3', 'NOOP')).tagged, /^V3 OK/);
  } finally {
    await own.stop();
  }
  await assertServes(hs);
});

test('invalid mailbox names in every mailbox command, rev1 (modified UTF-7) and UTF8=ACCEPT sessions', async () => {
  for (const utf8 of [false, true]) {
    const c = await hs.login();
    if (utf8) assert.match((await c.command('E', 'ENABLE UTF8=ACCEPT')).tagged, /^E OK/);
    const names: Buffer[] = [
      ...BAD_UTF8.map((b) => Buffer.concat([Buffer.from('"x'), b, Buffer.from('"')])),
      ...BAD_UTF8.map((b) => Buffer.concat([Buffer.from(`{${b.length + 1}+}\r\nx`), b])),
      ...BAD_MUTF7.map((m) => Buffer.from(`"${m}"`)),
      Buffer.from('"a\\"b/../\\\\"'),
      Buffer.from('""'),
      Buffer.from('"' + 'a/'.repeat(300) + '"'),
    ];
    let n = 0;
    for (const name of names) {
      for (const cmd of ['SELECT', 'EXAMINE', 'CREATE', 'DELETE', 'SUBSCRIBE', 'UNSUBSCRIBE', 'STATUS', 'APPEND', 'LIST ""', 'RENAME INBOX']) {
        const tag = `M${n++}`;
        const tail = cmd === 'STATUS' ? ' (MESSAGES)' : cmd === 'APPEND' ? ' {5+}\r\nx\r\n\r\n' : '';
        c.sendRaw(Buffer.concat([Buffer.from(`${tag} ${cmd} `), name, Buffer.from(tail), Buffer.from('\r\n')]));
        const r = await c.readTagged(tag);
        // A well-formed but strange name may be accepted (OK); an ill-formed one must be refused.
        assert.match(r.tagged, new RegExp(`^${tag} (OK|NO|BAD)`), `${cmd} ${name.toString('latin1')}`);
        if (/^\S+ OK/.test(r.tagged) && cmd === 'CREATE') {
          // Whatever was created can be listed and deleted again.
          const l = await c.command(`${tag}L`, 'LIST "" "*"');
          assert.match(l.tagged, /OK/);
        }
      }
    }
    assert.match((await c.command('Z1', 'LIST "" "*"')).tagged, /^Z1 OK/);
    assert.match((await c.command('Z2', 'SELECT INBOX')).tagged, /^Z2 OK/);
    c.close();
  }
  await assertServes(hs);
});

test('invalid UTF-8 in SEARCH strings, flags and FETCH header names; unknown charsets', async () => {
  const c = await hs.login();
  assert.match((await c.commandWithLiterals('A', ['APPEND INBOX ', Buffer.from('Subject: caf\xe9\r\n\r\nbody \xff\r\n', 'latin1')])).tagged, /OK/);
  assert.match((await c.command('S', 'SELECT INBOX')).tagged, /^S OK/);
  let n = 0;
  for (const bad of BAD_UTF8) {
    const lines: Array<Array<string | Buffer>> = [
      ['SEARCH CHARSET UTF-8 SUBJECT "', bad, '"'],
      ['SEARCH CHARSET UTF-8 BODY {', String(bad.length), '+}\r\n', bad],
      ['SEARCH TEXT "', bad, '"'],
      ['SEARCH HEADER "X-', bad, '" ""'],
      ['SEARCH KEYWORD ', bad],
      ['STORE 1 +FLAGS (', bad, ')'],
      ['STORE 1 +FLAGS (\\', bad, ')'],
      ['FETCH 1 (BODY.PEEK[HEADER.FIELDS ("', bad, '")])'],
      ['FETCH 1 (BODY.PEEK[HEADER.FIELDS (', bad, ')])'],
      ['COPY 1 "', bad, '"'],
      ['ID ("name" "', bad, '")'],
      ['ENABLE ', bad],
    ];
    for (const parts of lines) {
      const tag = `X${n++}`;
      c.sendRaw(asLine([`${tag} `, ...parts]));
      assert.match((await c.readTagged(tag)).tagged, new RegExp(`^${tag} (OK|NO|BAD)`), Buffer.concat(parts.map((p) => Buffer.from(p as string | Buffer))).toString('latin1'));
    }
  }
  const r = await c.command('C1', 'SEARCH CHARSET X-NO-SUCH-CHARSET SUBJECT x');
  assert.match(r.tagged, /^C1 NO \[BADCHARSET/);
  const r2 = await c.command('C2', `SEARCH CHARSET "${'\\"'.repeat(100)}" ALL`);
  assert.match(r2.tagged, /^C2 (NO|BAD)/);
  assert.match((await c.command('C3', 'FETCH 1 (FLAGS ENVELOPE)')).tagged, /^C3 OK/);
  await assertServes(hs);
});
