// A slow reader cannot grow server memory without bound (issue 7, item 3; ARCHITECTURE.md decision 5: body
// sections are written as literals with socket backpressure, src/server/connection.ts write()). A client
// asks for 20 x 4 MB of BODY[] (80 MB) and stops reading its socket; the server (in this process) must hold
// only a bounded amount while it waits, keep serving other clients, and deliver every byte intact once
// the client reads again.
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { createHash } from 'node:crypto';
import { assertServes, heapAfterGc, MB, startHostileServer, type HostileServer } from '../hostile/helpers.js';
import { TEST_PASSWORD, TEST_USER } from '../helpers/server.js';

let hs: HostileServer;
const MESSAGES = 20;
const SIZE = 4 * MB;

function message(i: number): Buffer {
  const head = Buffer.from(`Subject: big ${i}\r\n\r\n`);
  const body = Buffer.alloc(SIZE - head.length, 0x61 + (i % 26));
  for (let k = 70; k < body.length; k += 72) (body[k] = 13), (body[k + 1] = 10);
  return Buffer.concat([head, body]);
}

before(async () => {
  hs = await startHostileServer();
  const c = await hs.login();
  for (let i = 0; i < MESSAGES; i++) {
    const m = message(i);
    c.sendRaw(Buffer.concat([Buffer.from(`A${i} APPEND INBOX {${m.length}+}\r\n`), m, Buffer.from('\r\n')]));
    assert.match((await c.readTagged(`A${i}`, 60_000)).tagged, /OK/);
  }
});
after(async () => {
  await hs.stop();
});

test('a client that stops reading while fetching 80 MB holds the server to bounded memory', async (t) => {
  const sock = net.connect({ port: hs.port, host: '127.0.0.1' });
  await new Promise<void>((resolve, reject) => {
    sock.once('connect', resolve);
    sock.once('error', reject);
  });
  let received = 0;
  const chunks: Buffer[] = [];
  const onData = (d: Buffer): void => {
    received += d.length;
    chunks.push(d);
  };
  sock.on('data', onData);
  const waitFor = async (re: RegExp): Promise<void> => {
    for (let i = 0; i < 600 && !re.test(Buffer.concat(chunks).toString('latin1')); i++) await new Promise((r) => setTimeout(r, 50));
  };
  sock.write(`L LOGIN ${TEST_USER} "${TEST_PASSWORD}"\r\nS SELECT INBOX\r\n`);
  await waitFor(/\r\nS OK/);
  chunks.length = 0;
  received = 0;

  const heap0 = heapAfterGc();
  // Stop reading, then ask for everything twice over.
  sock.pause();
  sock.off('data', onData);
  sock.write('F1 FETCH 1:* (BODY.PEEK[])\r\nF2 UID FETCH 1:* (BODY.PEEK[] BINARY.PEEK[1])\r\n');
  // Give the server time to fill the socket buffers and stop on backpressure (not a timing assertion: the
  // check below is about memory, whatever the timing).
  await new Promise((r) => setTimeout(r, 3000));
  const held = heapAfterGc() - heap0;
  t.diagnostic(`server-side growth while paused: ${(held / MB).toFixed(2)} MB`);
  assert.ok(held < 24 * MB, `server holds ${(held / MB).toFixed(1)} MB for a paused reader of ${(3 * MESSAGES * SIZE) / MB} MB`);
  await assertServes(hs, 'while the slow reader is paused');

  // Read again: everything arrives, intact.
  sock.on('data', onData);
  sock.resume();
  await waitFor(/\r\nF2 OK/);
  const all = Buffer.concat(chunks);
  assert.match(all.toString('latin1'), /\r\nF1 OK/);
  assert.match(all.toString('latin1'), /\r\nF2 OK/);
  const expect = createHash('sha256').update(message(MESSAGES - 1)).digest('hex');
  const first = all.indexOf(Buffer.from(`Subject: big ${MESSAGES - 1}\r\n`));
  assert.equal(createHash('sha256').update(all.subarray(first, first + SIZE)).digest('hex'), expect);
  assert.ok(received > 2 * MESSAGES * SIZE);
  sock.destroy();
});
