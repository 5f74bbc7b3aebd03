// Child process for the PostgreSQL node-crash test (test/store/postgres.test.ts): a "node" that opens the
// store at the URL in argv[2] and appends 3-message MULTIAPPENDs of ~600 KB messages (streamed into chunk
// rows) in a loop to alice's INBOX, printing "OK <uid>:<blobId> ..." only after append() resolved and "MID"
// while the first message of a batch is half uploaded, until it is killed with SIGKILL.
import { openPostgresStore } from '../../src/store/postgres/postgres-store.js';
import type { AppendItem } from '../../src/store/types.js';

const url = process.argv[2];
if (!url) throw new Error('usage: postgres-crash-child URL');
const store = await openPostgresStore(url, { gcIntervalMs: 0 });
const user = (await store.getUser('alice'))!;
const inbox = (await store.getMailbox(user.id, 'INBOX'))!;
for (let i = 1; ; i++) {
  const items: AppendItem[] = [];
  for (let k = 0; k < 3; k++) {
    const w = store.beginIngest();
    await w.write(Buffer.from(`Subject: child ${i}.${k}\r\n\r\n`));
    for (let j = 0; j < 10; j++) {
      await w.write(Buffer.from(`${i}.${k}.${j} `.padEnd(60_000, 'x') + '\r\n'));
      // Five pieces make a whole chunk row, stored before write() resolved: an upload is in progress.
      if (k === 0 && j === 5) process.stdout.write('MID\n');
    }
    items.push({ message: await w.finish(), flags: ['\\Flagged'] });
  }
  const r = await store.append(inbox.id, items);
  process.stdout.write(`OK ${r.uids.map((u, k) => `${u}:${items[k]!.message.blobId}`).join(' ')}\n`);
}
