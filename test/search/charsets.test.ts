// SEARCH over text in many charsets (RFC 9051 §6.4.4: strings match decoded text; RFC 2045 §6 transfer
// encodings, RFC 2047 encoded words, RFC 2046 §4.1.2 charset parameter), case-insensitively by
// i;unicode-casemap (RFC 5051 §2), and the CHARSET of the search strings (BADCHARSET for unknown ones).
// Fixtures are built as byte buffers here, encoded with iconv-lite (ISO-2022-JP bytes written out).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import iconv from 'iconv-lite';
import { searchCommands } from '../../src/server/commands/search.js';
import { convertSearchCharset, searchCharsetSupported } from '../../src/server/charset.js';
import { decodeCharset, decodeHeaderText, fold } from '../../src/mime/search-text.js';
import { parseSearch } from '../../src/protocol/search-keys.js';
import type { ImapArg } from '../../src/protocol/types.js';
import { FakeStore, run, selectBox } from '../server/command-harness.js';

const CRLF = '\r\n';

/** A single-part message: header lines (ASCII), then the body bytes. */
function msg(headers: string[], body: Buffer): Buffer {
  return Buffer.concat([Buffer.from(headers.join(CRLF) + CRLF + CRLF, 'latin1'), body, Buffer.from(CRLF)]);
}

function encodedWord(text: string, charset: string, enc: 'B' | 'Q'): string {
  const bytes = iconv.encode(text, charset);
  if (enc === 'B') return `=?${charset}?B?${bytes.toString('base64')}?=`;
  let q = '';
  for (const b of bytes) q += (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5a) || (b >= 0x61 && b <= 0x7a) ? String.fromCharCode(b) : `=${b.toString(16).toUpperCase().padStart(2, '0')}`;
  return `=?${charset}?Q?${q}?=`;
}

function qp(bytes: Buffer): Buffer {
  let out = '';
  for (const b of bytes) out += b >= 0x21 && b <= 0x7e && b !== 0x3d ? String.fromCharCode(b) : b === 0x20 ? ' ' : `=${b.toString(16).toUpperCase().padStart(2, '0')}`;
  return Buffer.from(out, 'latin1');
}

// "日本語のメール" in ISO-2022-JP (iconv-lite cannot encode it): ESC $ B ... ESC ( B
const ISO2022JP = Buffer.from('1b2442467c4b5c386c244e2561213c256b1b2842', 'hex');

function setup() {
  const store = new FakeStore();
  store.addMailbox('INBOX');
  const add = (raw: Buffer) => store.addMessage('INBOX', { raw });
  // 1: KOI8-R, 8bit body, Q-encoded KOI8-R subject
  add(msg(['From: a@example.ru', `Subject: ${encodedWord('Отчёт за май', 'koi8-r', 'Q')}`, 'Content-Type: text/plain; charset=koi8-r', 'Content-Transfer-Encoding: 8bit'], iconv.encode('Привет, мир! Встреча в Москве.', 'koi8-r')));
  // 2: ISO-2022-JP body (7bit) and B-encoded ISO-2022-JP subject
  add(msg(['From: b@example.jp', `Subject: =?ISO-2022-JP?B?${ISO2022JP.toString('base64')}?=`, 'Content-Type: text/plain; charset=ISO-2022-JP'], ISO2022JP));
  // 3: Shift_JIS, base64 body
  add(msg(['From: c@example.jp', 'Subject: sjis', 'Content-Type: text/plain; charset=Shift_JIS', 'Content-Transfer-Encoding: base64'], Buffer.from(iconv.encode('東京タワーで会いましょう', 'shift_jis').toString('base64'))));
  // 4: EUC-KR, quoted-printable body, B-encoded EUC-KR From display name
  add(msg([`From: ${encodedWord('김철수', 'euc-kr', 'B')} <kim@example.kr>`, 'Subject: euckr', 'Content-Type: text/plain; charset=euc-kr', 'Content-Transfer-Encoding: quoted-printable'], qp(iconv.encode('안녕하세요 회의 자료입니다', 'euc-kr'))));
  // 5: GB2312 subject, GBK body
  add(msg(['From: d@example.cn', `Subject: ${encodedWord('会议通知', 'gb2312', 'B')}`, 'Content-Type: text/plain; charset=gbk', 'Content-Transfer-Encoding: 8bit'], iconv.encode('明天下午三点开会', 'gbk')));
  // 6: GB18030 (a character outside GBK) and Big5 in a multipart
  add(
    Buffer.concat([
      Buffer.from(['From: e@example.tw', 'Subject: multi', 'MIME-Version: 1.0', 'Content-Type: multipart/mixed; boundary=zz', '', '--zz', 'Content-Type: text/plain; charset=gb18030', '', ''].join(CRLF), 'latin1'),
      iconv.encode('表情😀符号', 'gb18030'),
      Buffer.from([CRLF + '--zz', 'Content-Type: text/plain; charset=big5', 'Content-Transfer-Encoding: base64', '', ''].join(CRLF), 'latin1'),
      Buffer.from(iconv.encode('臺北市政府', 'big5').toString('base64')),
      Buffer.from(CRLF + '--zz--' + CRLF, 'latin1'),
    ]),
  );
  // 7: windows-1251 and ISO-8859-15 (the euro sign is 0xA4 there)
  add(msg(['From: f@example.com', `Subject: ${encodedWord('Цена 5 €', 'iso-8859-15', 'Q')}`, 'Content-Type: text/plain; charset=windows-1251', 'Content-Transfer-Encoding: 8bit'], iconv.encode('Счёт-фактура № 17', 'windows-1251')));
  // 8: UTF-8 with decomposed and ligature forms, an ISO-8859-1 header word
  add(msg(['From: g@example.fr', `Subject: ${encodedWord('Élève', 'iso-8859-1', 'Q')}`, 'Content-Type: text/plain; charset=utf-8', 'Content-Transfer-Encoding: 8bit'], Buffer.from('L\u2019e\u0301cole du ﬁls est a\u0300 Straße 5, ǆungla', 'utf8')));
  return { store, ...selectBox(store, 'INBOX') };
}

async function search(s: ReturnType<typeof setup>, criteria: string): Promise<string> {
  const r = await run(searchCommands, s.store, s.session, `T UID SEARCH ${criteria}`);
  assert.equal(r.result.status ?? 'OK', 'OK', r.text);
  return r.lines[0]!;
}

test('body text in legacy charsets is converted to Unicode before matching', async () => {
  const s = setup();
  assert.equal(await search(s, 'BODY "москве"'), '* SEARCH 1'); // KOI8-R, lower case needle
  assert.equal(await search(s, 'BODY "のメール"'), '* SEARCH 2'); // ISO-2022-JP
  assert.equal(await search(s, 'BODY "東京タワー"'), '* SEARCH 3'); // Shift_JIS in base64
  assert.equal(await search(s, 'BODY "회의 자료"'), '* SEARCH 4'); // EUC-KR in QP
  assert.equal(await search(s, 'BODY "三点开会"'), '* SEARCH 5'); // GBK
  assert.equal(await search(s, 'BODY "😀符"'), '* SEARCH 6'); // GB18030 four-byte sequence
  assert.equal(await search(s, 'BODY "臺北"'), '* SEARCH 6'); // Big5 in base64, second part
  assert.equal(await search(s, 'BODY "СЧЁТ-ФАКТУРА"'), '* SEARCH 7'); // windows-1251, upper-case needle
  assert.equal(await search(s, 'BODY "明天下午三点开会X"'), '* SEARCH');
});

test('encoded words in every charset are decoded for SUBJECT, FROM and TEXT', async () => {
  const s = setup();
  assert.equal(await search(s, 'SUBJECT "отчёт"'), '* SEARCH 1');
  assert.equal(await search(s, 'SUBJECT "日本語"'), '* SEARCH 2');
  assert.equal(await search(s, 'FROM "김철수"'), '* SEARCH 4');
  assert.equal(await search(s, 'SUBJECT "会议"'), '* SEARCH 5');
  assert.equal(await search(s, 'SUBJECT "5 €"'), '* SEARCH 7');
  assert.equal(await search(s, 'TEXT "élève"'), '* SEARCH 8');
  assert.equal(await search(s, 'HEADER Subject "ÉLÈVE"'), '* SEARCH 8');
});

test('i;unicode-casemap: case, canonical and compatibility equivalents match; ß is not SS', async () => {
  const s = setup();
  assert.equal(await search(s, 'BODY "L’ÉCOLE"'), '* SEARCH 8'); // precomposed É vs e + U+0301 in the text
  assert.equal(await search(s, 'BODY "FILS"'), '* SEARCH 8'); // ﬁ ligature in the text
  assert.equal(await search(s, 'BODY "à straße"'), '* SEARCH 8');
  assert.equal(await search(s, 'BODY "STRASSE"'), '* SEARCH');
  assert.equal(await search(s, 'BODY "ǅUNGLA"'), '* SEARCH 8'); // digraph titlecase
  assert.equal(fold('ΣΊΣΥΦΟΣ'), fold('σίσυφος'));
  assert.equal(fold('Ǆ'), fold('ǆ'));
  assert.equal(fold('\u212b'), fold('å')); // ANGSTROM SIGN is canonically Å
  assert.notEqual(fold('straße'), fold('strasse'));
  assert.equal(fold(fold('ﬁ㎒ß')), fold('ﬁ㎒ß'));
});

test('decodeCharset and decodeHeaderText cover the listed charsets', () => {
  const cases: Array<[string, string]> = [
    ['iso-8859-2', 'Zażółć gęślą jaźń'],
    ['iso-8859-7', 'Καλημέρα'],
    ['windows-1250', 'Příliš žluťoučký kůň'],
    ['windows-1252', 'naïve café “quotes”'],
    ['koi8-r', 'Съешь же ещё этих мягких'],
    ['shift_jis', 'ｶﾀｶﾅと漢字'],
    ['euc-kr', '한국어'],
    ['gb2312', '简体中文'],
    ['gbk', '繁體字也可以'],
    ['gb18030', '𠀀字'],
    ['big5', '正體中文'],
  ];
  for (const [cs, text] of cases) {
    assert.equal(decodeCharset(iconv.encode(text, cs), cs), text, cs);
    assert.equal(decodeHeaderText(`x ${encodedWord(text, cs, 'B')} y`), `x ${text} y`, cs);
  }
  assert.equal(decodeCharset(ISO2022JP, 'iso-2022-jp'), '日本語のメール');
  // Unknown charsets fall back to UTF-8 or Latin-1 by the bytes.
  assert.equal(decodeCharset(Buffer.from('caf\xe9', 'latin1'), 'x-unknown'), 'café');
  assert.equal(decodeCharset(Buffer.from('café', 'utf8'), null), 'café');
});

test('CHARSET: strings of a supported charset are converted; unknown charsets get BADCHARSET', async () => {
  const s = setup();
  const koi = iconv.encode('москве', 'koi8-r');
  const args: ImapArg[] = [
    { type: 'atom', value: 'CHARSET' },
    { type: 'atom', value: 'KOI8-R' },
    { type: 'atom', value: 'OR' },
    { type: 'atom', value: 'BODY' },
    { type: 'string', value: koi, literal: true, literal8: false },
    { type: 'list', items: [{ type: 'atom', value: 'SUBJECT' }, { type: 'string', value: iconv.encode('май', 'koi8-r'), literal: false, literal8: false }] },
  ];
  const program = parseSearch(convertSearchCharset(args));
  assert.equal(program.charset, 'UTF-8');
  assert.deepEqual(program.key, {
    type: 'or',
    left: { type: 'body', value: 'москве' },
    right: { type: 'header', field: 'Subject', value: 'май' },
  });
  // ISO-2022-JP strings (decoded by the platform's TextDecoder).
  const jp = parseSearch(convertSearchCharset([{ type: 'atom', value: 'CHARSET' }, { type: 'string', value: Buffer.from('iso-2022-jp'), literal: false, literal8: false }, { type: 'atom', value: 'TEXT' }, { type: 'string', value: ISO2022JP, literal: true, literal8: false }]));
  assert.deepEqual(jp.key, { type: 'text', value: '日本語のメール' });
  assert.ok(searchCharsetSupported('Windows-1251') && searchCharsetSupported('big5') && searchCharsetSupported('ISO-2022-JP'));
  assert.ok(!searchCharsetSupported('UTF-16') && !searchCharsetSupported('x-klingon'));
  // Through the command: ASCII needles under a legacy CHARSET, and an unknown CHARSET.
  assert.equal(await search(s, 'CHARSET WINDOWS-1252 FROM "example.kr"'), '* SEARCH 4');
  const r = await run(searchCommands, s.store, s.session, 'C1 SEARCH CHARSET X-KLINGON BODY x');
  assert.equal(r.result.status, 'NO');
  assert.match(r.lines[0]!, /^C1 NO \[BADCHARSET \(US-ASCII UTF-8 ISO-8859-1 .* KOI8-R .*ISO-2022-JP SHIFT_JIS .*BIG5\)\] /);
});

test('CHARSET through the command: literals in each listed charset find text in every charset', async () => {
  const s = setup();
  /** `T UID SEARCH CHARSET <cs> <key> {n}` + the needle's octets in that charset, as a client sends it. */
  const cmd = (cs: string, key: string, needle: Buffer) => Buffer.concat([Buffer.from(`T UID SEARCH CHARSET ${cs} ${key} {${needle.length}}\r\n`, 'latin1'), needle]);
  const cases: Array<[string, string, Buffer, string]> = [
    ['KOI8-R', 'BODY', iconv.encode('москве', 'koi8-r'), '* SEARCH 1'],
    ['ISO-2022-JP', 'SUBJECT', Buffer.from('1b2442467c4b5c386c1b2842', 'hex'), '* SEARCH 2'], // 日本語
    ['Shift_JIS', 'BODY', iconv.encode('東京タワー', 'shift_jis'), '* SEARCH 3'],
    ['EUC-KR', 'FROM', iconv.encode('김철수', 'euc-kr'), '* SEARCH 4'],
    ['GB2312', 'SUBJECT', iconv.encode('会议', 'gb2312'), '* SEARCH 5'],
    ['GBK', 'TEXT', iconv.encode('三点开会', 'gbk'), '* SEARCH 5'],
    ['GB18030', 'BODY', iconv.encode('😀符', 'gb18030'), '* SEARCH 6'],
    ['Big5', 'BODY', iconv.encode('臺北', 'big5'), '* SEARCH 6'],
    ['Windows-1251', 'BODY', iconv.encode('СЧЁТ', 'windows-1251'), '* SEARCH 7'],
    ['Windows-1252', 'TEXT', iconv.encode('élève', 'windows-1252'), '* SEARCH 8'],
    ['Windows-1250', 'BODY', iconv.encode('l’école', 'windows-1250'), '* SEARCH 8'],
    ['ISO-8859-15', 'SUBJECT', iconv.encode('5 €', 'iso-8859-15'), '* SEARCH 7'],
    ['Big5', 'BODY', iconv.encode('東京', 'big5'), '* SEARCH 3'], // the same characters found in Shift_JIS text
  ];
  for (const [cs, key, needle, want] of cases) {
    const r = await run(searchCommands, s.store, s.session, cmd(cs, key, needle));
    assert.equal(r.result.status ?? 'OK', 'OK', `${cs}: ${r.text}`);
    assert.equal(r.lines[0], want, cs);
  }
  // An unknown charset is NO [BADCHARSET (...)] naming the supported ones, literal or not.
  const bad = await run(searchCommands, s.store, s.session, cmd('X-MAC-KLINGON', 'BODY', Buffer.from('abc')));
  assert.equal(bad.result.status, 'NO');
  assert.equal(bad.result.code?.name, 'BADCHARSET');
  for (const cs of ['ISO-2022-JP', 'SHIFT_JIS', 'EUC-KR', 'GB18030', 'BIG5', 'KOI8-R', 'WINDOWS-1250', 'WINDOWS-1251', 'WINDOWS-1252', 'WINDOWS-1258']) {
    assert.match(bad.lines[0]!, new RegExp(`[( ]${cs}[ )]`), cs);
  }
});

test('header fields in Shift_JIS, GB18030, Big5, EUC-KR, Windows-1252 and ISO-2022-JP encoded words: SUBJECT, FROM, TO, CC, HEADER', async () => {
  const store = new FakeStore();
  store.addMailbox('INBOX');
  store.addMessage('INBOX', {
    raw: msg(
      [
        `From: ${encodedWord('山田太郎', 'shift_jis', 'B')} <yamada@example.jp>`,
        `To: ${encodedWord('王小明', 'gb18030', 'Q')} <wang@example.cn>`,
        `Cc: ${encodedWord('陳大文', 'big5', 'B')} <chan@example.tw>`,
        `Subject: ${encodedWord('회의 안건', 'euc-kr', 'Q')} / ${encodedWord('Résumé naïve', 'windows-1252', 'Q')}`,
        `X-Note: =?ISO-2022-JP?B?${ISO2022JP.toString('base64')}?=`,
      ],
      Buffer.from('plain body'),
    ),
  });
  store.addMessage('INBOX', { raw: msg(['From: other@example.org', 'Subject: nothing'], Buffer.from('x')) });
  const s = { store, ...selectBox(store, 'INBOX') };
  const cases: Array<[string, string]> = [
    ['FROM "山田"', '* SEARCH 1'],
    ['TO "小明"', '* SEARCH 1'],
    ['CC "大文"', '* SEARCH 1'],
    ['SUBJECT "회의"', '* SEARCH 1'],
    ['SUBJECT "RÉSUMÉ NAÏVE"', '* SEARCH 1'],
    ['HEADER X-Note "のメール"', '* SEARCH 1'],
    ['TEXT "陳大文"', '* SEARCH 1'],
    ['NOT FROM "山田"', '* SEARCH 2'],
  ];
  for (const [criteria, want] of cases) assert.equal(await search(s, criteria), want, criteria);
});
