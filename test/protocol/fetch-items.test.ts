// FETCH data items (RFC 9051 §6.4.5, §7.5.2; RFC 3516; RFC 7162; RFC 8970), parsed from real framer output.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CommandFramer } from '../../src/protocol/command-framer.js';
import {
  fetchSetsSeen,
  FetchSyntaxError,
  formatFetchItemName,
  parseFetchAtts,
  parseFetchModifiers,
} from '../../src/protocol/fetch-items.js';
import type { ImapArg } from '../../src/protocol/types.js';

function args(s: string): ImapArg[] {
  const evs = new CommandFramer().push(Buffer.from(`t FETCH ${s}\r\n`));
  const ev = evs[0]!;
  assert.equal(ev.kind, 'command', JSON.stringify(ev));
  return ev.kind === 'command' ? ev.command.args : [];
}

function items(s: string): ReturnType<typeof parseFetchAtts> {
  return parseFetchAtts(args(s)[0]!);
}

test('macros expand', () => {
  assert.deepEqual(items('ALL').map((i) => i.kind), ['FLAGS', 'INTERNALDATE', 'RFC822.SIZE', 'ENVELOPE']);
  assert.deepEqual(items('fast').map((i) => i.kind), ['FLAGS', 'INTERNALDATE', 'RFC822.SIZE']);
  assert.deepEqual(items('FULL').map((i) => i.kind), ['FLAGS', 'INTERNALDATE', 'RFC822.SIZE', 'ENVELOPE', 'BODY']);
  assert.throws(() => items('(ALL FLAGS)'), FetchSyntaxError);
});

test('simple items, single or listed', () => {
  assert.deepEqual(items('uid'), [{ kind: 'UID' }]);
  assert.deepEqual(
    items('(FLAGS RFC822.SIZE RFC822 RFC822.HEADER RFC822.TEXT BODYSTRUCTURE BODY MODSEQ EMAILID THREADID SAVEDATE)').map((i) => i.kind),
    ['FLAGS', 'RFC822.SIZE', 'RFC822', 'RFC822.HEADER', 'RFC822.TEXT', 'BODYSTRUCTURE', 'BODY', 'MODSEQ', 'EMAILID', 'THREADID', 'SAVEDATE'],
  );
  assert.throws(() => items('()'), FetchSyntaxError);
  assert.throws(() => items('(FLAGS BOGUS)'), /Unknown FETCH data item BOGUS/);
});

test('PREVIEW with and without LAZY', () => {
  assert.deepEqual(items('(UID PREVIEW (LAZY) FLAGS)'), [{ kind: 'UID' }, { kind: 'PREVIEW', lazy: true }, { kind: 'FLAGS' }]);
  assert.deepEqual(items('(PREVIEW)'), [{ kind: 'PREVIEW', lazy: false }]);
  assert.throws(() => items('(PREVIEW (EAGER))'), FetchSyntaxError);
});

test('body sections', () => {
  assert.deepEqual(items('BODY[]'), [{ kind: 'BODY[]', section: { path: [] }, partial: null, peek: false }]);
  assert.deepEqual(items('body.peek[1.2.3]<10.20>'), [
    { kind: 'BODY[]', section: { path: [1, 2, 3] }, partial: { origin: 10, count: 20 }, peek: true },
  ]);
  assert.deepEqual(items('BODY[HEADER]'), [{ kind: 'BODY[]', section: { path: [], text: 'HEADER' }, partial: null, peek: false }]);
  assert.deepEqual(items('BODY[2.text]')[0], { kind: 'BODY[]', section: { path: [2], text: 'TEXT' }, partial: null, peek: false });
  assert.deepEqual(items('BODY[1.MIME]')[0], { kind: 'BODY[]', section: { path: [1], text: 'MIME' }, partial: null, peek: false });
  assert.deepEqual(items('BODY.PEEK[HEADER.FIELDS (From "To" x-Foo)]')[0], {
    kind: 'BODY[]',
    section: { path: [], text: 'HEADER.FIELDS', fields: ['From', 'To', 'x-Foo'] },
    partial: null,
    peek: true,
  });
  assert.deepEqual(items('BODY[1.HEADER.FIELDS.NOT (Received)]')[0], {
    kind: 'BODY[]',
    section: { path: [1], text: 'HEADER.FIELDS.NOT', fields: ['Received'] },
    partial: null,
    peek: false,
  });
});

for (const bad of [
  'BODY[MIME]',
  'BODY[HEADER.FIELDS]',
  'BODY[HEADER.FIELDS ()]',
  'BODY[HEADER.FIELDS (a:b)]',
  'BODY[0]',
  'BODY[1.0]',
  'BODY[1.]',
  'BODY[TEXT (a)]',
  'BODY[FOO]',
  'BODY[1HEADER]',
  'BODY[]<1.0>',
  'BODY[]<1.>',
  'BODY[]<>',
  'BODY[]x',
  'BINARY[1.FOO]',
  'BINARY[0.TEXT]',
  'BINARY.SIZE[1]<0.1>',
  'BINARY.SIZE[TEXT]<0.1>',
  'BODYX[]',
]) {
  test(`invalid item ${bad}`, () => {
    assert.throws(() => items(bad), FetchSyntaxError);
  });
}

test('binary items', () => {
  assert.deepEqual(items('BINARY[1.2]<0.100>'), [{ kind: 'BINARY[]', path: [1, 2], partial: { origin: 0, count: 100 }, peek: false }]);
  assert.deepEqual(items('BINARY.PEEK[]'), [{ kind: 'BINARY[]', path: [], partial: null, peek: true }]);
  assert.deepEqual(items('BINARY.SIZE[3]'), [{ kind: 'BINARY.SIZE', path: [3] }]);
  // A section-text after the part is outside RFC 3516's grammar; accepted as Dovecot does.
  assert.deepEqual(items('BINARY.PEEK[2.MIME]<0.5>'), [
    { kind: 'BINARY[]', path: [2], partial: { origin: 0, count: 5 }, peek: true, section: { path: [2], text: 'MIME' } },
  ]);
  // `<origin>` alone means to the end of the section (not in RFC 9051's grammar; Dovecot accepts it).
  assert.deepEqual(items('BINARY.PEEK[1]<15>'), [{ kind: 'BINARY[]', path: [1], partial: { origin: 15, count: Number.MAX_SAFE_INTEGER }, peek: true }]);
  assert.deepEqual(items('BINARY.SIZE[TEXT]'), [{ kind: 'BINARY.SIZE', path: [], section: { path: [], text: 'TEXT' } }]);
});

test('response item names (RFC 9051 §7.5.2)', () => {
  const names = items(
    '(BODY.PEEK[HEADER.FIELDS (From "X%Y" "a]b")]<0.100> BODY[] BODY[1.2.MIME] BINARY.PEEK[1]<5.10> BINARY.SIZE[2] RFC822.SIZE PREVIEW)',
  ).map(formatFetchItemName);
  assert.deepEqual(names, ['BODY[HEADER.FIELDS (From "X%Y" "a]b")]<0>', 'BODY[]', 'BODY[1.2.MIME]', 'BINARY[1]<5>', 'BINARY.SIZE[2]', 'RFC822.SIZE', 'PREVIEW']);
});

test('which items set \\Seen', () => {
  const seen = items('(BODY[] BODY.PEEK[] RFC822 RFC822.TEXT RFC822.HEADER BINARY[] BINARY.PEEK[] FLAGS)').map(fetchSetsSeen);
  assert.deepEqual(seen, [true, false, true, true, false, true, false, false]);
});

test('FETCH modifiers', () => {
  const mods = (s: string) => {
    const a = args(`1 FLAGS ${s}`)[2]!;
    assert.equal(a.type, 'list');
    return parseFetchModifiers(a.type === 'list' ? a.items : []);
  };
  assert.deepEqual(mods('(CHANGEDSINCE 12345)'), { changedSince: 12345, vanished: false });
  assert.deepEqual(mods('(changedsince 1 VANISHED)'), { changedSince: 1, vanished: true });
  assert.throws(() => mods('(VANISHED)'), /VANISHED needs CHANGEDSINCE/);
  assert.throws(() => mods('(CHANGEDSINCE 0)'), FetchSyntaxError);
  assert.throws(() => mods('(CHANGEDSINCE x)'), FetchSyntaxError);
  assert.throws(() => mods('(FOO 1)'), FetchSyntaxError);
});
