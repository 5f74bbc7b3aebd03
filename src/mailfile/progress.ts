// Progress for long imports and exports, on stderr: a one-line bar redrawn in place when stderr is a
// terminal, otherwise a plain line every few seconds (logs and pipes stay readable); and the summary's
// number formatting.

export interface ProgressSink {
  write(text: string): unknown;
}

export type ProgressMode = 'bar' | 'lines' | 'none';

export interface ProgressOptions {
  sink: ProgressSink;
  mode: ProgressMode;
  /** What the bar measures: a byte count (mbox) or a message count (Maildir, export). */
  unit: 'bytes' | 'messages';
  total: number;
  label: string;
  /** Minimum time between two progress lines in "lines" mode. */
  intervalMs?: number;
  now?: () => number;
}

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ['KB', 'MB', 'GB', 'TB'];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(v < 10 ? 1 : 0)} ${units[i]}`;
}

export function formatDuration(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = s % 60;
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${String(sec).padStart(2, '0')}` : `${m}:${String(sec).padStart(2, '0')}`;
}

export class Progress {
  private readonly started: number;
  private lastDraw: number;
  private drawn = false;
  private readonly now: () => number;
  private readonly interval: number;

  constructor(private readonly o: ProgressOptions) {
    this.now = o.now ?? Date.now;
    this.started = this.now();
    this.interval = o.mode === 'bar' ? 100 : (o.intervalMs ?? 2000);
    // The bar appears with the first message (then at most every 100 ms); lines wait one interval.
    this.lastDraw = o.mode === 'bar' ? this.started - this.interval : this.started;
  }

  /** `done`: progress in the bar's unit; `messages`/`bytes`: counts for the text. */
  update(done: number, messages: number, bytes: number, force = false): void {
    if (this.o.mode === 'none') return;
    const t = this.now();
    if (!force && t - this.lastDraw < this.interval) return;
    this.lastDraw = t;
    const elapsed = Math.max(1, t - this.started);
    const fraction = this.o.total > 0 ? Math.min(1, done / this.o.total) : 0;
    const rate = (messages * 1000) / elapsed;
    const pct = `${Math.floor(fraction * 100)}%`;
    const eta = fraction > 0.001 && fraction < 1 ? ` ETA ${formatDuration((elapsed / fraction) * (1 - fraction))}` : '';
    const text = `${messages} messages, ${formatBytes(bytes)}, ${Math.round(rate)} msg/s`;
    if (this.o.mode === 'bar') {
      const width = 24;
      const filled = Math.round(fraction * width);
      const bar = '#'.repeat(filled) + '-'.repeat(width - filled);
      this.o.sink.write(`\r${this.o.label} [${bar}] ${pct.padStart(4)} ${text}${eta}\x1b[K`);
      this.drawn = true;
    } else {
      this.o.sink.write(`petrel: ${this.o.label}: ${text} (${pct})${eta}\n`);
    }
  }

  /** Clears the bar before the summary. */
  end(): void {
    if (this.drawn) this.o.sink.write('\r\x1b[K');
    this.drawn = false;
  }
}
