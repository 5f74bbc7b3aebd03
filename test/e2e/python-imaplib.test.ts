// End-to-end with Python's imaplib, an IMAP4rev1 client (RFC 3501), driven by test/python/imaplib_session.py
// against the real server on an ephemeral loopback port (issue 2, item 9). The script prints JSON; this
// file asserts RFC 3501 behaviour on it: APPEND with flags/date and APPENDUID (RFC 4315), FETCH RFC822 /
// BODY.PEEK[HEADER] / partial (§6.4.5), implicit \Seen (§6.4.5), STORE, SEARCH, UID commands (§6.4.8),
// COPY with COPYUID, STATUS, EXPUNGE (§6.4.3), CLOSE, LSUB, LOGOUT.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { runProgram } from '../helpers/run-program.js';
import { REPO_ROOT, startTestServer, type TestServer } from '../helpers/server.js';

type Pair = [string, unknown];
let srv: TestServer;
let out: Record<string, unknown>;

before(async () => {
  srv = await startTestServer();
  const r = await runProgram('python3', [join(REPO_ROOT, 'test/python/imaplib_session.py'), String(srv.port), srv.user, srv.password]);
  assert.equal(r.code, 0, `python failed:\n${r.stderr}\n${r.stdout}`);
  out = JSON.parse(r.stdout) as Record<string, unknown>;
});

after(async () => {
  await srv?.stop();
});

function ok(key: string): unknown {
  const v = out[key] as Pair;
  assert.ok(Array.isArray(v), `${key} missing`);
  assert.equal(v[0], 'OK', `${key}: ${JSON.stringify(v)}`);
  return v[1];
}

function str(v: unknown): string {
  return JSON.stringify(v);
}

test('greeting, LOGIN and CAPABILITY', () => {
  assert.match(out.welcome as string, /^\* OK /);
  const before = out.capabilities_before as string[];
  assert.ok(before.includes('IMAP4REV1'), str(before));
  assert.ok(before.includes('AUTH=PLAIN'), str(before));
  assert.ok(!before.includes('LOGINDISABLED'), 'LOGIN allowed on loopback');
  ok('login');
  const caps = (ok('capability') as string[])[0]!.split(' ');
  for (const c of ['IMAP4rev1', 'IMAP4rev2', 'UIDPLUS', 'MOVE', 'IDLE', 'LITERAL+']) assert.ok(caps.includes(c), `${c} in ${caps.join(' ')}`);
});

test('LIST shows the provisioned mailboxes with "/" delimiter and special-use attributes', () => {
  const lines = ok('list') as string[];
  const names = lines.map((l) => /"\/" "?([^"]*)"?$/.exec(l)?.[1]);
  for (const n of ['INBOX', 'Drafts', 'Sent', 'Trash', 'Junk', 'Archive']) assert.ok(names.includes(n), `${n} in ${str(lines)}`);
  assert.ok(lines.some((l) => /\\Sent/.test(l) && /Sent"?$/.test(l)), str(lines));
  const inbox = ok('list_inbox') as string[];
  assert.equal(inbox.length, 1);
  assert.match(inbox[0]!, /^\([^)]*\) "\/" "?INBOX"?$/);
});

test('APPEND with flags and date answers APPENDUID; without them too', () => {
  ok('create');
  const a1 = (ok('append1') as string[])[0]!;
  const a2 = (ok('append2') as string[])[0]!;
  const m1 = /\[APPENDUID (\d+) (\d+)\]/.exec(a1);
  const m2 = /\[APPENDUID (\d+) (\d+)\]/.exec(a2);
  assert.ok(m1 && m2, `${a1} / ${a2}`);
  assert.equal(m1[1], m2[1], 'same UIDVALIDITY');
  assert.ok(Number(m2[2]) > Number(m1[2]), 'UIDs ascend');
});

test('SELECT reports EXISTS and READ-WRITE', () => {
  assert.deepEqual(ok('select'), ['2']);
  const u = out.select_untagged as Record<string, unknown>;
  assert.ok(u.FLAGS, str(u));
  assert.ok(u['UIDVALIDITY'] ?? u['OK'], str(u));
});

test('FETCH RFC822 returns the exact bytes and sets \\Seen; BODY.PEEK[HEADER] does not', () => {
  const [, head, body] = out.fetch_rfc822 as [string, string, string];
  assert.match(head, /^1 \(.*RFC822 \{\d+\}$/);
  assert.equal(body, out.msg1);
  assert.equal(Number(/\{(\d+)\}$/.exec(head)![1]), out.msg1_len);
  const f1 = str(ok('flags_after_rfc822'));
  assert.match(f1, /\\\\Seen/);
  assert.match(f1, /\\\\Flagged/, 'APPEND flags kept');

  const [, hhead, header] = out.fetch_header as [string, string, string];
  assert.match(hhead, /BODY\[HEADER\] \{\d+\}$/);
  assert.ok(header.startsWith('From: Py <py@example.com>\r\n'), header);
  assert.ok(header.endsWith('\r\n\r\n'), 'the header section includes the blank line (RFC 9051 §6.4.5)');
  assert.ok(!header.includes('short'));
  assert.doesNotMatch(str(ok('flags_after_peek')), /\\\\Seen/);
});

test('partial FETCH BODY.PEEK[TEXT]<0.10> returns 10 octets and names the origin', () => {
  const [, head, data] = out.fetch_partial as [string, string, string];
  assert.match(head, /BODY\[TEXT\]<0> \{10\}$/);
  assert.equal(data, '0123456789');
});

test('FETCH UID RFC822.SIZE INTERNALDATE', () => {
  const lines = ok('fetch_meta') as string[];
  assert.equal(lines.length, 2, str(lines));
  const size = /RFC822\.SIZE (\d+)/.exec(lines[0]!);
  assert.ok(size, lines[0]);
  assert.equal(Number(size[1]), out.msg1_len);
  assert.match(lines[0]!, /INTERNALDATE "0?1-Jun-2021 \d\d:\d\d:\d\d [+-]\d{4}"/);
  assert.match(lines[1]!, /UID \d+/);
});

test('STORE +FLAGS answers the new flags; .SILENT does not; the result is visible', () => {
  const s = str(ok('store'));
  assert.match(s, /\\\\Answered/);
  assert.match(s, /\$Py/);
  assert.deepEqual(ok('store_silent'), [null]);
  const f = str(ok('flags_after_store'));
  assert.match(f, /\$Py/);
  assert.doesNotMatch(f, /\\\\Answered/);
});

test('SEARCH by flag, keyword, NOT, size and ALL', () => {
  assert.deepEqual(ok('search_flagged'), ['1']);
  assert.deepEqual(ok('search_keyword'), ['2']);
  assert.deepEqual(ok('search_unseen'), ['2']);
  assert.deepEqual(ok('search_larger'), ['1']);
  assert.deepEqual(ok('search_all'), ['1 2']);
});

test('UID SEARCH, UID FETCH and UID STORE use UIDs', () => {
  const uids = (ok('uid_search') as string[])[0]!.split(' ').map(Number);
  assert.equal(uids.length, 2);
  assert.ok(uids[1]! > uids[0]!);
  const f = str(ok('uid_fetch'));
  assert.match(f, new RegExp(`UID ${uids[1]}\\b`));
  const st = str(ok('uid_store'));
  assert.match(st, /\\\\Draft/);
  assert.match(st, new RegExp(`UID ${uids[0]}\\b`), 'UID STORE responses include UID (RFC 3501 §6.4.8)');
});

test('COPY and UID COPY answer COPYUID; STATUS counts the copies', () => {
  ok('create_copy');
  const c = str(ok('copy'));
  assert.match(c, /\[COPYUID \d+ \d+:\d+ \d+:\d+\]/);
  assert.match(str(ok('uid_copy')), /\[COPYUID \d+ \d+ \d+\]/);
  const st = (ok('status_copy') as string[])[0]!;
  assert.match(st, /MESSAGES 3/);
  assert.match(st, /UIDNEXT 4/);
  assert.match(st, /UIDVALIDITY \d+/);
  assert.match(st, /RECENT \d+/);
  assert.match(st, /UNSEEN \d+/);
});

test('EXPUNGE reports the expunged sequence number and the mailbox shrinks', () => {
  ok('store_deleted');
  assert.deepEqual(ok('expunge'), ['1']);
  assert.deepEqual(ok('search_after_expunge'), ['1']);
});

test('CHECK, NOOP, CLOSE, LSUB, SELECT of a missing mailbox and LOGOUT', () => {
  ok('check');
  ok('noop');
  ok('close');
  assert.ok(Array.isArray(out.lsub));
  assert.equal((out.lsub as Pair)[0], 'OK');
  const sm = out.select_missing as Pair;
  assert.equal(sm[0], 'NO');
  assert.match(str(sm[1]), /\[NONEXISTENT\]/);
  assert.equal((out.logout as Pair)[0], 'BYE');
});
