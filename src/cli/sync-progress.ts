// Progress of `petrel sync` (issue 5 item 9): a one-line bar redrawn in place on a terminal (mailbox,
// messages, bytes, rate, ETA), plain lines every few seconds otherwise. The formatting is pure
// (formatProgressBar / formatProgressLine take the event and the elapsed time) so it is tested without a
// terminal; SyncProgressReporter only decides when to draw and keeps log lines from tearing the bar.
import { formatBytes, formatDuration } from '../mailfile/progress.js';
import type { SyncProgress } from '../sync/types.js';
import type { TextSink } from './environment.js';

export type SyncProgressMode = 'bar' | 'lines' | 'none';

export interface ProgressFigures {
  /** 0..1: by bytes when the total is known, else by messages, else by mailboxes. */
  fraction: number;
  /** Average bytes and messages per second over `elapsedMs`; 0 before anything moved. */
  bytesPerSecond: number;
  messagesPerSecond: number;
  /** Milliseconds left at the average rate; null when unknown (nothing moved yet, or done). */
  etaMs: number | null;
}

export function progressFigures(p: SyncProgress, elapsedMs: number): ProgressFigures {
  const seconds = Math.max(elapsedMs, 1) / 1000;
  const bytesPerSecond = p.bytesDone / seconds;
  const messagesPerSecond = p.messagesDone / seconds;
  let fraction = 0;
  let etaMs: number | null = null;
  if (p.bytesTotal > 0) {
    fraction = p.bytesDone / p.bytesTotal;
    if (p.bytesDone > 0 && p.bytesDone < p.bytesTotal) etaMs = ((p.bytesTotal - p.bytesDone) / bytesPerSecond) * 1000;
  } else if (p.messagesTotal > 0) {
    fraction = p.messagesDone / p.messagesTotal;
    if (p.messagesDone > 0 && p.messagesDone < p.messagesTotal) etaMs = ((p.messagesTotal - p.messagesDone) / messagesPerSecond) * 1000;
  } else if (p.mailboxesTotal > 0) {
    fraction = p.mailboxesDone / p.mailboxesTotal;
  }
  if (p.phase === 'done') {
    fraction = 1;
    etaMs = null;
  }
  return { fraction: Math.min(1, Math.max(0, fraction)), bytesPerSecond, messagesPerSecond, etaMs };
}

/** What is happening, in a few words: "connecting", "listing mailboxes", "INBOX: downloading". */
export function phaseLabel(p: SyncProgress): string {
  const box = p.mailbox ?? '';
  switch (p.phase) {
    case 'connect':
      return 'connecting';
    case 'mailboxes':
      return 'listing mailboxes';
    case 'mailbox':
      return box ? `${box}: comparing` : 'comparing';
    case 'download':
      return box ? `${box}: downloading` : 'downloading';
    case 'upload':
      return box ? `${box}: uploading` : 'uploading';
    case 'flags':
      return box ? `${box}: flags` : 'flags';
    case 'index':
      return 'indexing for search';
    case 'done':
      return 'done';
  }
}

function counts(p: SyncProgress, f: ProgressFigures): string[] {
  const parts = [`mailbox ${Math.min(p.mailboxesDone + (p.phase === 'done' ? 0 : 1), p.mailboxesTotal)}/${p.mailboxesTotal}`];
  parts.push(`${p.messagesDone}/${p.messagesTotal} msgs`);
  parts.push(p.bytesTotal > 0 ? `${formatBytes(p.bytesDone)}/${formatBytes(p.bytesTotal)}` : formatBytes(p.bytesDone));
  if (p.bytesDone > 0) parts.push(`${formatBytes(Math.round(f.bytesPerSecond))}/s`);
  if (f.etaMs !== null) parts.push(`ETA ${formatDuration(f.etaMs)}`);
  return parts;
}

/**
 * The bar, without control characters: `[#####-----]  42% INBOX: downloading  mailbox 2/5  120/300 msgs
 * 12.3 MB/40.0 MB  1.2 MB/s  ETA 0:23`, cut to `width` columns.
 */
export function formatProgressBar(p: SyncProgress, elapsedMs: number, width = 100, barWidth = 20): string {
  const f = progressFigures(p, elapsedMs);
  const filled = Math.round(f.fraction * barWidth);
  const pct = `${Math.floor(f.fraction * 100)}%`.padStart(4);
  const line = `[${'#'.repeat(filled)}${'-'.repeat(barWidth - filled)}] ${pct} ${phaseLabel(p)}  ${counts(p, f).join('  ')}`;
  return truncate(line, width);
}

/** A plain progress line for logs and pipes: `sync: INBOX: downloading, mailbox 2/5, 120/300 msgs, ... (42%)`. */
export function formatProgressLine(p: SyncProgress, elapsedMs: number): string {
  const f = progressFigures(p, elapsedMs);
  return `sync: ${phaseLabel(p)}, ${counts(p, f).join(', ')} (${Math.floor(f.fraction * 100)}%)`;
}

function truncate(s: string, width: number): string {
  const chars = [...s];
  return chars.length <= width ? s : chars.slice(0, Math.max(0, width - 1)).join('') + '…';
}

export interface ReporterOptions {
  sink: TextSink;
  mode: SyncProgressMode;
  /** Terminal width for the bar (default 100). */
  columns?: () => number | undefined;
  /** Minimum time between two draws: 100 ms for the bar, 2 s for lines by default. */
  intervalMs?: number;
  now?: () => number;
}

/** Draws progress events on a sink (stderr), throttled; log lines are printed above the bar. */
export class SyncProgressReporter {
  private readonly now: () => number;
  private readonly started: number;
  private readonly interval: number;
  private lastDraw = -Infinity;
  private lastPhase = '';
  private drawn = false;
  private last: SyncProgress | null = null;
  /** When the first transfer was planned: rates and ETA are measured from here, not from connecting. */
  private transferStart: number | null = null;

  constructor(private readonly o: ReporterOptions) {
    this.now = o.now ?? Date.now;
    this.started = this.now();
    this.interval = o.intervalMs ?? (o.mode === 'bar' ? 100 : 2000);
  }

  update(p: SyncProgress): void {
    this.last = p;
    if (this.o.mode === 'none' || p.phase === 'done') return;
    const t = this.now();
    if (this.transferStart === null && (p.messagesTotal > 0 || p.bytesTotal > 0)) this.transferStart = t;
    // The bar shows a new phase or mailbox at once; otherwise (and always for lines) draws are throttled.
    const phase = `${p.phase}\0${p.mailbox ?? ''}`;
    const changed = phase !== this.lastPhase;
    const due = t - this.lastDraw >= this.interval;
    if (!due && !(changed && this.o.mode === 'bar')) return;
    this.lastPhase = phase;
    this.lastDraw = t;
    this.draw(p, t);
  }

  /** A line (an action, a warning) printed above the bar; printed in every mode (the caller silences it). */
  log(line: string): void {
    if (this.drawn) this.o.sink.write('\r\x1b[K');
    this.o.sink.write(line + '\n');
    if (this.drawn && this.last) this.draw(this.last, this.now());
  }

  /** Removes the bar (before the summary). */
  end(): void {
    if (this.drawn) this.o.sink.write('\r\x1b[K');
    this.drawn = false;
  }

  private draw(p: SyncProgress, t: number): void {
    const elapsed = t - (this.transferStart ?? this.started);
    if (this.o.mode === 'bar') {
      const cols = this.o.columns?.();
      const width = Math.max(20, cols !== undefined && cols > 0 ? cols - 1 : 99);
      this.o.sink.write(`\r${formatProgressBar(p, elapsed, width)}\x1b[K`);
      this.drawn = true;
    } else {
      this.o.sink.write(`petrel: ${formatProgressLine(p, elapsed)}\n`);
    }
  }
}
