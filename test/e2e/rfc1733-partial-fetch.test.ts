// RFC 1733 §3 ("Online"): "IMAP4 supports server-based RFC 822 and MIME processing ... a client can
// determine that a message has a 2000 byte text segment and a 40 megabyte video segment, and elect to fetch
// only the text segment." This test does exactly that against a real Petrel server (in-process, loopback):
// a 2 KB text part and a 40 MB base64 video part, APPENDed by streaming a temp file (RFC 9051 §6.3.12);
// BODYSTRUCTURE (RFC 9051 §7.5.2) shows both parts with their sizes without reading the message; BODY[1]
// returns the text and reads only about that many bytes from storage (counted by wrapping the store's
// readBlob/streamBlob); and the MIME indexer never held more than a few KB while the 40 MB part streamed
// through it at ingest (its peak retained bytes, src/mime/indexer.ts indexerStats).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createReadStream, createWriteStream, mkdtempSync, rmSync, statSync } from 'node:fs';
import { once } from 'node:events';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ImapTestClient, logoutQuietly } from '../helpers/imap-client.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { indexerStats } from '../../src/mime/indexer.js';

const VIDEO_BYTES = 40 * 1024 * 1024;
const LINE = 76; // base64 line length (RFC 2045 §6.8), plus CRLF

let server: TestServer;
let dir: string;
let file: string;
let textBody: Buffer;
let videoBodySize = 0;
let messageSize = 0;

/** Writes the message to a temp file in 64 KB blocks (never the 40 MB part as one string). */
async function writeMessage(path: string): Promise<void> {
  const out = createWriteStream(path);
  const write = async (b: Buffer | string): Promise<void> => {
    if (!out.write(b)) await once(out, 'drain');
  };
  const lines: string[] = [];
  for (let i = 0; lines.join('\r\n').length < 2000 - 80; i++) {
    lines.push(`Line ${String(i).padStart(2, '0')} of the text segment: the client wants this part and nothing else.`);
  }
  textBody = Buffer.from(lines.join('\r\n') + '\r\n');
  await write(
    'From: Sender <sender@example.com>\r\n' +
      'To: Receiver <receiver@example.org>\r\n' +
      'Subject: RFC 1733 example: text and a 40 MB video\r\n' +
      'Date: Mon, 1 Jul 2024 12:00:00 +0000\r\n' +
      'MIME-Version: 1.0\r\n' +
      'Content-Type: multipart/mixed; boundary="rfc1733"\r\n' +
      '\r\n' +
      '--rfc1733\r\n' +
      'Content-Type: text/plain; charset=us-ascii\r\n' +
      '\r\n',
  );
  await write(textBody);
  await write(
    '\r\n--rfc1733\r\n' +
      'Content-Type: video/mp4; name="talk.mp4"\r\n' +
      'Content-Disposition: attachment; filename="talk.mp4"\r\n' +
      'Content-Transfer-Encoding: base64\r\n' +
      '\r\n',
  );
  // One 64 KB block of base64 lines, written until the part reaches 40 MB.
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
  let block = '';
  for (let i = 0; block.length + LINE + 2 <= 64 * 1024; i++) {
    let line = '';
    for (let j = 0; j < LINE; j++) line += alphabet[(i * 7 + j * 13) % 64];
    block += line + '\r\n';
  }
  const blockBuf = Buffer.from(block);
  videoBodySize = 0;
  while (videoBodySize + blockBuf.length <= VIDEO_BYTES) {
    await write(blockBuf);
    videoBodySize += blockBuf.length;
  }
  await write('\r\n--rfc1733--\r\n');
  out.end();
  await once(out, 'finish');
}

/** APPEND over a raw socket, streaming the file into the literal with back-pressure. */
async function appendFile(port: number, user: string, password: string, path: string): Promise<string> {
  const sock = net.connect({ port, host: '127.0.0.1' });
  await once(sock, 'connect');
  let buf = '';
  const waitFor = async (re: RegExp): Promise<string> => {
    for (;;) {
      const m = re.exec(buf);
      if (m) {
        buf = buf.slice(m.index + m[0].length);
        return m[0];
      }
      const [chunk] = (await once(sock, 'data')) as [Buffer];
      buf += chunk.toString('latin1');
    }
  };
  await waitFor(/^\* OK[^\r]*\r\n/m);
  sock.write(`a1 LOGIN "${user}" "${password}"\r\n`);
  await waitFor(/^a1 OK[^\r]*\r\n/m);
  sock.write(`a2 APPEND INBOX {${statSync(path).size}}\r\n`);
  await waitFor(/^\+[^\r]*\r\n/m);
  for await (const chunk of createReadStream(path, { highWaterMark: 64 * 1024 })) {
    if (!sock.write(chunk as Buffer)) await once(sock, 'drain');
  }
  sock.write('\r\n');
  const done = await waitFor(/^a2 [^\r]*\r\n/m);
  sock.end('a3 LOGOUT\r\n');
  return done;
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'petrel-rfc1733-'));
  file = join(dir, 'message.eml');
  await writeMessage(file);
  messageSize = statSync(file).size;
  server = await startTestServer({ maxMessageSize: 64 * 1024 * 1024 });
});

after(async () => {
  await server?.stop();
  rmSync(dir, { recursive: true, force: true });
});

test('RFC 1733: fetch the 2 KB text segment of a message with a 40 MB video segment', async () => {
  assert.ok(textBody.length >= 1900 && textBody.length <= 2100, `text part is ${textBody.length} bytes`);
  assert.ok(videoBodySize > 39 * 1024 * 1024, `video part is ${videoBodySize} bytes`);

  // Ingest: the 40 MB part streams through the indexer, which keeps only a line prefix and header values.
  indexerStats.peakRetainedBytes = 0;
  const appended = await appendFile(server.port, server.user, server.password, file);
  assert.match(appended, /^a2 OK/, appended);
  assert.ok(indexerStats.peakRetainedBytes > 0, 'the indexer saw the message');
  assert.ok(indexerStats.peakRetainedBytes < 16 * 1024, `indexer held ${indexerStats.peakRetainedBytes} bytes at once`);

  // Count every byte the server reads from the message store from now on.
  const store = server.store;
  let bytesRead = 0;
  const readBlob = store.readBlob.bind(store);
  const streamBlob = store.streamBlob.bind(store);
  store.readBlob = async (blobId, start, end) => {
    const b = await readBlob(blobId, start, end);
    bytesRead += b.length;
    return b;
  };
  store.streamBlob = (blobId, start, end) => {
    const inner = streamBlob(blobId, start, end);
    return (async function* () {
      for await (const chunk of inner) {
        bytesRead += chunk.length;
        yield chunk;
      }
    })();
  };

  const c = await ImapTestClient.connect(server.port);
  try {
    assert.match((await c.command('L', `LOGIN "${server.user}" "${server.password}"`)).tagged, /^L OK/);
    assert.match((await c.command('S', 'SELECT INBOX')).tagged, /^S OK/);

    // The client learns the structure, with sizes, without the server reading the message.
    const bs = await c.command('B', 'FETCH 1 (RFC822.SIZE BODYSTRUCTURE)');
    assert.match(bs.tagged, /^B OK/);
    const line = bs.untagged.find((u) => u.startsWith('* 1 FETCH'));
    assert.ok(line, bs.untagged.join('\n'));
    assert.ok(line.includes(`RFC822.SIZE ${messageSize}`), line);
    const lines = textBody.toString('latin1').split('\r\n').length - 1;
    assert.ok(line.includes(`("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" ${textBody.length} ${lines} NIL NIL NIL NIL)`), line);
    assert.ok(
      line.includes(`("video" "mp4" ("name" "talk.mp4") NIL NIL "base64" ${videoBodySize} NIL ("attachment" ("filename" "talk.mp4")) NIL NIL)`),
      line,
    );
    assert.equal(bytesRead, 0, 'BODYSTRUCTURE is answered from the stored index');

    // Then it fetches only the text segment; the server reads about that many bytes.
    const t = await c.command('T', 'FETCH 1 (BODY.PEEK[1])');
    assert.match(t.tagged, /^T OK/);
    const resp = t.responses.find((r) => r.text.startsWith('* 1 FETCH'));
    assert.ok(resp);
    assert.equal(resp.literals.length, 1);
    assert.deepEqual(resp.literals[0], textBody);
    assert.ok(bytesRead >= textBody.length, `read ${bytesRead} bytes`);
    assert.ok(bytesRead <= textBody.length + 4096, `read ${bytesRead} bytes of a ${messageSize}-byte message for BODY[1]`);

    // And the video's size alone, still without touching the 40 MB.
    const before = bytesRead;
    const sz = await c.command('Z', 'FETCH 1 (BODY.PEEK[2.MIME])');
    assert.match(sz.tagged, /^Z OK/);
    assert.ok(bytesRead - before < 1024, `read ${bytesRead - before} bytes for BODY[2.MIME]`);
  } finally {
    await logoutQuietly(c);
  }
});
