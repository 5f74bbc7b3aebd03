// Shared by the PostgreSQL search test and its measurement script: generated mail (several charsets and
// transfer encodings, RFC 2045 §6, RFC 2047, RFC 2046 multiparts), the MIME fixture corpus, and SEARCH run
// the way the server runs it (src/server/search-eval.ts, RFC 9051 §6.4.4) with or without the store's index.
import * as fsp from 'node:fs/promises';
import iconv from 'iconv-lite';
import { evaluateSearch } from '../../src/server/search-eval.js';
import { SelectedView } from '../../src/server/selected-view.js';
import type { Session } from '../../src/server/session.js';
import type { SearchKey } from '../../src/protocol/search-keys.js';
import type { MessageRecord, Store } from '../../src/store/types.js';

const ROOT = new URL('../../../', import.meta.url);
const CRLF = '\r\n';

/** Deterministic PRNG (mulberry32). */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const WORDS = [
  'alpha', 'budget', 'Meeting', 'quarterly', 'REPORT', 'invoice', 'lunch', 'Tuesday', 'project', 'deadline',
  'Straße', 'café', 'naïve', 'Ærø', 'Привет', 'встреча', '東京', '会議', '안녕', 'Ελλάδα', 'ﬁnal', 'résumé',
  'zebra', 'quokka', 'xylophone', 'marmalade', 'hello', 'world', 'the', 'and', 'of', 'ok', '100%', 'snake_case',
];

/** A generated message: random words, varying charset and transfer encoding, sometimes multipart. */
export function generated(r: () => number, i: number): Buffer {
  const pick = () => WORDS[Math.floor(r() * WORDS.length)]!;
  const words = (n: number) => Array.from({ length: n }, pick).join(' ');
  const subject = `${words(3)} #${i}`;
  const body = `${words(8 + Math.floor(r() * 30))}\r\nline two ${words(5)} token${i}x\r\n`;
  const kind = Math.floor(r() * 5);
  const head = [`From: Sender ${i % 37} <s${i % 37}@example.com>`, `To: rcpt${i % 11}@example.org`, `Date: Mon, 1 Jan 2024 10:00:00 +0000`, 'MIME-Version: 1.0'];
  if (kind === 0) {
    return Buffer.from([...head, `Subject: ${subject}`, 'Content-Type: text/plain; charset=utf-8', 'Content-Transfer-Encoding: 8bit', '', body].join(CRLF), 'utf8');
  }
  if (kind === 1) {
    const b64 = Buffer.from(body, 'utf8').toString('base64').replace(/.{76}/g, `$&${CRLF}`);
    return Buffer.from([...head, `Subject: =?UTF-8?B?${Buffer.from(subject).toString('base64')}?=`, 'Content-Type: text/plain; charset=UTF-8', 'Content-Transfer-Encoding: base64', '', b64].join(CRLF), 'latin1');
  }
  if (kind === 2) {
    // windows-1251 can hold only part of the words: keep what it can.
    const text = body.replace(/[^\x00-\x7f\u0400-\u04ff]/g, '?');
    return Buffer.concat([Buffer.from([...head, `Subject: ${subject.replace(/[^\x00-\x7f]/g, '?')}`, 'Content-Type: text/plain; charset=windows-1251', '', ''].join(CRLF), 'latin1'), iconv.encode(text, 'windows-1251')]);
  }
  if (kind === 3) {
    const html = `<p>${words(6)} <b>${words(2)}</b></p>`;
    return Buffer.from(
      [...head, `Subject: ${subject}`, 'Content-Type: multipart/alternative; boundary="b"', '', '--b', 'Content-Type: text/plain; charset=utf-8', 'Content-Transfer-Encoding: quoted-printable', '',
        Buffer.from(body, 'utf8').toString('latin1').replace(/[\x80-\xff=]/g, (c) => `=${c.charCodeAt(0).toString(16).toUpperCase()}`),
        '--b', 'Content-Type: text/html; charset=utf-8', `X-Part: ${words(1)}`, '', html, '--b--', ''].join(CRLF),
      'latin1',
    );
  }
  // A text part and an attachment (whose words BODY does not search: RFC 9051 §6.4.4 lets servers skip it).
  return Buffer.from(
    [...head, `Subject: ${subject}`, `X-Label: ${words(2)}`, 'Content-Type: multipart/mixed; boundary=mm', '', '--mm', 'Content-Type: text/plain', '', body,
      '--mm', 'Content-Type: application/octet-stream', 'Content-Transfer-Encoding: base64', '', Buffer.from(words(5)).toString('base64'), '--mm--', ''].join(CRLF),
    'utf8',
  );
}

/** The MIME fixture corpus (test/fixtures/mime/*.eml), in name order. */
export async function corpus(): Promise<Buffer[]> {
  const dir = new URL('test/fixtures/mime/', ROOT);
  const names = (await fsp.readdir(dir)).filter((n) => n.endsWith('.eml')).sort();
  const out: Buffer[] = [];
  for (const n of names) out.push(await fsp.readFile(new URL(n, dir)));
  return out;
}

/**
 * The store as the server sees it; `index: false` hides searchTextCandidates (the exact scan). Blob reads
 * are recorded in `reads` (blob ids) and, with `cache`, served from it, as are message records (a corpus
 * is read from the database once across many searches).
 */
export function wrapStore(store: Store, index: boolean, reads: string[] = [], cache?: Map<string, Promise<Buffer>>): Store {
  const records = new Map<string, Promise<MessageRecord[]>>();
  return new Proxy(store, {
    get(target, prop) {
      if (prop === 'searchTextCandidates' && !index) return undefined;
      if (prop === 'getMessages' && cache) {
        // Records too, when caching: the stored data does not change while a corpus is searched.
        return (mailboxId: number, uids: number[]) => {
          const k = `msgs:${mailboxId}:${uids.join(',')}`;
          let p = records.get(k);
          if (!p) records.set(k, (p = target.getMessages(mailboxId, uids)));
          return p;
        };
      }
      if (prop === 'readBlob') {
        return (blobId: string, start: number, end: number) => {
          reads.push(blobId);
          if (!cache) return target.readBlob(blobId, start, end);
          const k = `${blobId}:${start}:${end}`;
          let p = cache.get(k);
          if (!p) cache.set(k, (p = target.readBlob(blobId, start, end)));
          return p;
        };
      }
      const v = Reflect.get(target, prop, target) as unknown;
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
}

/** SEARCH over the whole mailbox as a selected session runs it; the matching UIDs, ascending. */
export async function searchUids(store: Store, mailboxId: number, key: SearchKey): Promise<number[]> {
  return (await selectedSearch(store, mailboxId))(key);
}

/** Selects the mailbox once (as SELECT does: listMessages); then each call is one SEARCH command. */
export async function selectedSearch(store: Store, mailboxId: number): Promise<(key: SearchKey) => Promise<number[]>> {
  const mb = (await store.getMailboxById(mailboxId))!;
  const view = new SelectedView(mb, true, await store.listMessages(mailboxId), null);
  const session: Session = {
    state: { kind: 'selected', user: { id: mb.userId, name: 'u', passwordHash: '', createdAt: 0 }, view },
    enabled: new Set(),
    secure: false,
    remoteAddress: '127.0.0.1',
    isLoopback: true,
    searchResult: [],
    clientId: null,
  };
  return async (key) => (await evaluateSearch(store, view, session, key)).hits.map((h) => h.uid);
}

/** Appends the messages to the mailbox, `batch` per MULTIAPPEND, prepared a few at a time. */
export async function appendAll(store: Store, mailboxId: number, messages: readonly Buffer[], batch = 500): Promise<void> {
  for (let i = 0; i < messages.length; i += batch) {
    const part = messages.slice(i, i + batch);
    const items = [];
    for (let j = 0; j < part.length; j += 20) {
      const prepared = await Promise.all(part.slice(j, j + 20).map((m) => store.prepare(m)));
      for (const message of prepared) items.push({ message, flags: [] as string[] });
    }
    await store.append(mailboxId, items);
  }
}
