// The progress display of `petrel sync` (src/cli/sync-progress.ts), tested without a terminal: the pure
// formatters (fraction, rate, ETA, the bar cut to the terminal width) and the reporter's throttling and
// its log lines printed above the bar.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  formatProgressBar,
  formatProgressLine,
  phaseLabel,
  progressFigures,
  SyncProgressReporter,
} from '../../src/cli/sync-progress.js';
import type { SyncProgress } from '../../src/sync/types.js';

const MB = 1024 * 1024;

function event(over: Partial<SyncProgress> = {}): SyncProgress {
  return {
    phase: 'download',
    mailbox: 'INBOX',
    mailboxesDone: 1,
    mailboxesTotal: 5,
    messagesDone: 120,
    messagesTotal: 300,
    bytesDone: 10 * MB,
    bytesTotal: 40 * MB,
    ...over,
  };
}

test('figures: fraction by bytes, else messages, else mailboxes; rate and ETA from the average', () => {
  const f = progressFigures(event(), 5_000);
  assert.equal(f.fraction, 0.25);
  assert.equal(f.bytesPerSecond, 2 * MB);
  assert.equal(f.messagesPerSecond, 24);
  assert.equal(f.etaMs, 15_000, '30 MB left at 2 MB/s');

  const byMessages = progressFigures(event({ bytesTotal: 0, bytesDone: 0 }), 10_000);
  assert.equal(byMessages.fraction, 0.4);
  assert.equal(byMessages.etaMs, 15_000, '180 messages left at 12/s');

  const byMailboxes = progressFigures(event({ bytesTotal: 0, bytesDone: 0, messagesTotal: 0, messagesDone: 0, mailboxesDone: 2, mailboxesTotal: 8 }), 1_000);
  assert.equal(byMailboxes.fraction, 0.25);
  assert.equal(byMailboxes.etaMs, null, 'no ETA without anything measured');

  assert.equal(progressFigures(event({ bytesDone: 0, messagesDone: 0 }), 3_000).etaMs, null, 'nothing moved yet');
  const done = progressFigures(event({ phase: 'done' }), 3_000);
  assert.equal(done.fraction, 1);
  assert.equal(done.etaMs, null);
  assert.equal(progressFigures(event({ bytesDone: 50 * MB }), 1000).fraction, 1, 'clamped at 1');
});

test('the bar shows phase, mailbox, counts, bytes, rate and ETA, and fits the width', () => {
  const bar = formatProgressBar(event(), 5_000, 200);
  assert.equal(bar, '[#####---------------]  25% INBOX: downloading  mailbox 2/5  120/300 msgs  10 MB/40 MB  2.0 MB/s  ETA 0:15');
  const narrow = formatProgressBar(event(), 5_000, 40);
  assert.equal([...narrow].length, 40);
  assert.ok(narrow.endsWith('…'));
  assert.ok(narrow.startsWith('[#####'));
  const start = formatProgressBar(event({ phase: 'connect', mailbox: undefined, mailboxesDone: 0, mailboxesTotal: 0, messagesDone: 0, messagesTotal: 0, bytesDone: 0, bytesTotal: 0 }), 10);
  assert.equal(start, '[--------------------]   0% connecting  mailbox 0/0  0/0 msgs  0 B');
  assert.equal(phaseLabel(event({ phase: 'upload', mailbox: 'Sent' })), 'Sent: uploading');
  assert.equal(phaseLabel(event({ phase: 'mailboxes' })), 'listing mailboxes');
});

test('a plain line carries the same figures without control characters', () => {
  const line = formatProgressLine(event({ phase: 'flags', mailbox: 'Lists/dev' }), 5_000);
  assert.equal(line, 'sync: Lists/dev: flags, mailbox 2/5, 120/300 msgs, 10 MB/40 MB, 2.0 MB/s, ETA 0:15 (25%)');
  assert.doesNotMatch(line, /[\r\x1b]/);
});

function clockAndSink() {
  let t = 1_000;
  const out: string[] = [];
  return { out, sink: { write: (s: string) => out.push(s) }, now: () => t, advance: (ms: number) => (t += ms) };
}

test('lines mode: at most one line per interval, each a full line', () => {
  const c = clockAndSink();
  const r = new SyncProgressReporter({ sink: c.sink, mode: 'lines', now: c.now, intervalMs: 2000 });
  r.update(event({ phase: 'connect', mailbox: undefined }));
  c.advance(500);
  r.update(event({ messagesDone: 130 }));
  c.advance(500);
  r.update(event({ messagesDone: 140 }));
  assert.equal(c.out.length, 1, 'throttled within the interval, even across a phase change');
  assert.match(c.out[0]!, /^petrel: sync: connecting, /);
  c.advance(1500);
  r.update(event({ messagesDone: 150 }));
  assert.equal(c.out.length, 2);
  assert.match(c.out[1]!, /^petrel: sync: INBOX: downloading, mailbox 2\/5, 150\/300 msgs, .*\n$/);
  r.update(event({ phase: 'done' }));
  r.end();
  assert.equal(c.out.length, 2, '"done" draws nothing: the summary follows');
  r.log('petrel: created mailbox Projects');
  assert.equal(c.out[2], 'petrel: created mailbox Projects\n');
});

test('bar mode: redrawn in place, a new mailbox at once, logs above the bar, cleared at the end', () => {
  const c = clockAndSink();
  const r = new SyncProgressReporter({ sink: c.sink, mode: 'bar', now: c.now, columns: () => 60 });
  r.update(event());
  assert.equal(c.out.length, 1);
  assert.match(c.out[0]!, /^\r\[#####-+\]  25% INBOX: downloading .*\x1b\[K$/);
  assert.ok([...c.out[0]!.replace(/^\r/, '').replace(/\x1b\[K$/, '')].length <= 59, 'fits the terminal');
  c.advance(10);
  r.update(event({ messagesDone: 121 }));
  assert.equal(c.out.length, 1, 'throttled');
  r.update(event({ mailbox: 'Sent', phase: 'upload' }));
  assert.equal(c.out.length, 2, 'a new mailbox is shown at once');
  r.log('petrel: uploaded 3 messages to Sent');
  assert.deepEqual(c.out.slice(2, 4), ['\r\x1b[K', 'petrel: uploaded 3 messages to Sent\n']);
  assert.match(c.out[4]!, /^\r\[.*Sent: uploading/, 'the bar is drawn again below the line');
  r.end();
  assert.equal(c.out.at(-1), '\r\x1b[K');

  const none = clockAndSink();
  const q = new SyncProgressReporter({ sink: none.sink, mode: 'none', now: none.now });
  q.update(event());
  q.end();
  assert.deepEqual(none.out, [], 'no progress');
  q.log('petrel: created mailbox X');
  assert.deepEqual(none.out, ['petrel: created mailbox X\n'], 'log lines still print');
});

test('rate and ETA are measured from the first planned transfer, not from connecting', () => {
  const c = clockAndSink();
  const r = new SyncProgressReporter({ sink: c.sink, mode: 'lines', now: c.now, intervalMs: 0 });
  r.update(event({ phase: 'connect', mailbox: undefined, messagesTotal: 0, messagesDone: 0, bytesTotal: 0, bytesDone: 0 }));
  c.advance(10_000); // a slow login and mailbox listing
  r.update(event({ messagesDone: 0, bytesDone: 0 }));
  c.advance(5_000);
  r.update(event());
  assert.match(c.out.at(-1)!, /, 2\.0 MB\/s, ETA 0:15 \(25%\)\n$/, '10 MB in the 5 s since the transfer was planned');
});
