// A small metrics registry written out in the Prometheus text exposition format (version 0.0.4:
// "# HELP", "# TYPE", then `name{label="value",...} number` lines; histograms as cumulative `_bucket{le=...}`
// series plus `_sum` and `_count`). No dependency: the format is a few lines of text.
// Label values are escaped as the format requires (backslash, double quote, line feed).

export type Labels = Record<string, string>;

interface Metric {
  readonly name: string;
  readonly help: string;
  readonly type: 'counter' | 'gauge' | 'histogram';
  render(): string[];
}

function labelKey(labels: Labels): string {
  return Object.keys(labels)
    .sort()
    .map((k) => `${k}="${escapeLabel(labels[k]!)}"`)
    .join(',');
}

export function escapeLabel(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

function series(name: string, key: string, value: number): string {
  return `${name}${key ? `{${key}}` : ''} ${formatNumber(value)}`;
}

function formatNumber(n: number): string {
  if (Number.isNaN(n)) return 'NaN';
  if (n === Infinity) return '+Inf';
  if (n === -Infinity) return '-Inf';
  return String(n);
}

/** A monotonically growing count per label set. */
export class Counter implements Metric {
  readonly type = 'counter' as const;
  private readonly values = new Map<string, number>();
  constructor(
    readonly name: string,
    readonly help: string,
  ) {}

  inc(labels: Labels = {}, by = 1): void {
    const k = labelKey(labels);
    this.values.set(k, (this.values.get(k) ?? 0) + by);
  }

  get(labels: Labels = {}): number {
    return this.values.get(labelKey(labels)) ?? 0;
  }

  render(): string[] {
    return [...this.values].map(([k, v]) => series(this.name, k, v));
  }
}

/** A value read when the metrics are scraped. */
export class Gauge implements Metric {
  readonly type = 'gauge' as const;
  private readonly sources: Array<() => Array<{ labels: Labels; value: number }>> = [];
  constructor(
    readonly name: string,
    readonly help: string,
  ) {}

  /** Adds a callback that reports values at scrape time. */
  collect(fn: () => Array<{ labels: Labels; value: number }>): void {
    this.sources.push(fn);
  }

  render(): string[] {
    const out: string[] = [];
    for (const s of this.sources) for (const { labels, value } of s()) out.push(series(this.name, labelKey(labels), value));
    return out;
  }
}

/** Observations counted in cumulative buckets (upper bounds `le`), plus their sum and count. */
export class Histogram implements Metric {
  readonly type = 'histogram' as const;
  private readonly data = new Map<string, { counts: number[]; sum: number; count: number; labels: Labels }>();
  constructor(
    readonly name: string,
    readonly help: string,
    readonly buckets: readonly number[],
  ) {}

  observe(labels: Labels, value: number): void {
    const k = labelKey(labels);
    let d = this.data.get(k);
    if (!d) {
      d = { counts: this.buckets.map(() => 0), sum: 0, count: 0, labels };
      this.data.set(k, d);
    }
    for (let i = 0; i < this.buckets.length; i++) if (value <= this.buckets[i]!) d.counts[i]!++;
    d.sum += value;
    d.count++;
  }

  count(labels: Labels): number {
    return this.data.get(labelKey(labels))?.count ?? 0;
  }

  render(): string[] {
    const out: string[] = [];
    for (const [k, d] of this.data) {
      for (let i = 0; i < this.buckets.length; i++) {
        out.push(series(`${this.name}_bucket`, labelKey({ ...d.labels, le: formatNumber(this.buckets[i]!) }), d.counts[i]!));
      }
      out.push(series(`${this.name}_bucket`, labelKey({ ...d.labels, le: '+Inf' }), d.count));
      out.push(series(`${this.name}_sum`, k, d.sum));
      out.push(series(`${this.name}_count`, k, d.count));
    }
    return out;
  }
}

export class MetricsRegistry {
  private readonly metrics: Metric[] = [];

  counter(name: string, help: string): Counter {
    return this.add(new Counter(name, help));
  }

  gauge(name: string, help: string): Gauge {
    return this.add(new Gauge(name, help));
  }

  histogram(name: string, help: string, buckets: readonly number[]): Histogram {
    return this.add(new Histogram(name, help, [...buckets].sort((a, b) => a - b)));
  }

  private add<M extends Metric>(m: M): M {
    if (this.metrics.some((x) => x.name === m.name)) throw new Error(`duplicate metric ${m.name}`);
    this.metrics.push(m);
    return m;
  }

  /** The exposition text (Content-Type: text/plain; version=0.0.4). */
  render(): string {
    const lines: string[] = [];
    for (const m of this.metrics) {
      lines.push(`# HELP ${m.name} ${m.help.replace(/\\/g, '\\\\').replace(/\n/g, '\\n')}`);
      lines.push(`# TYPE ${m.name} ${m.type}`);
      lines.push(...m.render());
    }
    return lines.join('\n') + '\n';
  }
}
