/**
 * weir's metrics as prom-client sees them: objects a prom-client `Registry` formats (and a cluster's
 * `AggregatorRegistry` sums), whose values weir keeps in plain numbers. Counting a request is a few
 * array and number updates, not a prom-client label lookup; the values become label sets only when
 * Prometheus scrapes.
 */
import type { Registry } from 'prom-client';

/** One sample of a metric: its value and labels; `metricName` for a histogram's `_bucket`/`_sum`/`_count`. */
export interface Sample {
  value: number;
  labels: Record<string, string | number>;
  metricName?: string;
}

type MetricType = 'counter' | 'gauge' | 'histogram';

/** The shape prom-client's Registry reads from a metric (`registerMetric`, `get()`). */
interface Collected {
  name: string;
  help: string;
  type: MetricType;
  aggregator: 'sum';
  values: Sample[];
}

/**
 * Registers a metric whose samples `read()` produces at each scrape (it may be async: a queue's counts).
 * A `read()` that throws reports no sample for that scrape rather than failing the whole scrape.
 */
export function pulled(
  registry: Registry,
  name: string,
  help: string,
  type: MetricType,
  read: () => Sample[] | Promise<Sample[]>,
): void {
  const metric = {
    name,
    help,
    type,
    aggregator: 'sum' as const,
    async get(): Promise<Collected> {
      let values: Sample[];
      try {
        values = await read();
      } catch {
        values = [];
      }
      return { name, help, type, aggregator: 'sum', values };
    },
    reset() {},
  };
  registry.registerMetric(metric as never);
}

/** One series of a histogram: per-bucket counts (not cumulative: made cumulative when read), sum, count. */
interface Series {
  readonly labels: Record<string, string>;
  readonly counts: Float64Array;
  sum: number;
  count: number;
}

/**
 * A histogram whose series are found by two keys (such as route and method) through nested maps, so an
 * observation allocates nothing once its series exists. Bounds are upper bounds, in the unit observed.
 */
export class Histogram2 {
  readonly #bounds: Float64Array;
  readonly #series = new Map<string, Map<string, Series>>();
  readonly #names: readonly [string, string];

  constructor(
    registry: Registry,
    name: string,
    help: string,
    names: [string, string],
    bounds: readonly number[],
  ) {
    this.#bounds = Float64Array.from(bounds);
    this.#names = names;
    pulled(registry, name, help, 'histogram', () => this.#samples(name));
  }

  observe(a: string, b: string, value: number): void {
    let inner = this.#series.get(a);
    if (inner === undefined) {
      inner = new Map();
      this.#series.set(a, inner);
    }
    let series = inner.get(b);
    if (series === undefined) {
      series = {
        labels: { [this.#names[0]]: a, [this.#names[1]]: b },
        counts: new Float64Array(this.#bounds.length),
        sum: 0,
        count: 0,
      };
      inner.set(b, series);
    }
    const i = bucketOf(this.#bounds, value);
    if (i < this.#bounds.length) series.counts[i]!++;
    series.sum += value;
    series.count++;
  }

  #samples(name: string): Sample[] {
    const out: Sample[] = [];
    for (const inner of this.#series.values()) {
      for (const series of inner.values()) histogramSamples(out, name, this.#bounds, series);
    }
    return out;
  }
}

/** Appends a histogram series' samples: cumulative `_bucket`s up to `+Inf`, `_sum` and `_count`. */
export function histogramSamples(
  out: Sample[],
  name: string,
  bounds: Float64Array,
  series: {
    readonly labels: Record<string, string>;
    readonly counts: Float64Array;
    sum: number;
    count: number;
  },
): void {
  let cumulative = 0;
  for (let i = 0; i < bounds.length; i++) {
    cumulative += series.counts[i]!;
    out.push({
      metricName: `${name}_bucket`,
      labels: { ...series.labels, le: bounds[i]! },
      value: cumulative,
    });
  }
  out.push({ metricName: `${name}_bucket`, labels: { ...series.labels, le: '+Inf' }, value: series.count });
  out.push({ metricName: `${name}_sum`, labels: series.labels, value: series.sum });
  out.push({ metricName: `${name}_count`, labels: series.labels, value: series.count });
}

/** Counts `value` into the first bucket whose upper bound holds it (none past the last: `+Inf` only). */
export function bucketOf(bounds: Float64Array, value: number): number {
  let i = 0;
  while (i < bounds.length && value > bounds[i]!) i++;
  return i;
}

/** A counter keyed by a list of label values joined into one key; its label sets are few and bounded. */
export class KeyedCounter {
  readonly #values = new Map<string, { labels: Record<string, string>; value: number }>();
  readonly #names: readonly string[];

  constructor(registry: Registry, name: string, help: string, names: string[]) {
    this.#names = names;
    pulled(registry, name, help, 'counter', () =>
      [...this.#values.values()].map(({ labels, value }) => ({ labels, value })),
    );
  }

  inc(values: readonly string[], by = 1): void {
    const key = values.join('\u0000');
    const entry = this.#values.get(key);
    if (entry !== undefined) {
      entry.value += by;
      return;
    }
    const labels: Record<string, string> = {};
    this.#names.forEach((label, i) => {
      labels[label] = values[i]!;
    });
    this.#values.set(key, { labels, value: by });
  }
}
