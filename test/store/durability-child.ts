// Child process for the kill -9 durability test (test/store/sqlite.test.ts): opens the store in the
// directory given as argv[2], appends one message and prints "OK <uid>" only after append() resolved,
// then waits to be killed.
import { openSqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import { provisionUser } from '../../src/store/provision.js';

const dir = process.argv[2];
if (!dir) throw new Error('usage: durability-child DIR');
const store = await openSqliteStore(dir);
const user = (await store.getUser('durable')) ?? (await provisionUser(store, 'durable', 'h'));
const inbox = (await store.getMailbox(user.id, 'INBOX'))!;
for (let i = 1; ; i++) {
  const data = Buffer.from(`Subject: durable ${i}\r\n\r\n${'payload '.repeat(1000)}${i}\r\n`);
  const prepared = await store.prepare(data);
  const r = await store.append(inbox.id, [{ message: prepared, flags: ['\\Flagged'] }]);
  process.stdout.write(`OK ${r.uids[0]} ${prepared.blobId}\n`);
  if (process.argv[3] !== 'loop') break;
}
setInterval(() => {}, 1 << 30);
