/**
 * What a measured run records, whatever the engine: latencies per status class (so a fast 503 never hides
 * inside the 200s' percentiles), per second of the run for the latency-over-time plot, and the count of
 * every status code.
 */
import { Histogram, type HistogramJson, type Percentiles } from './histogram.ts';

/** A response's status class; `other` is a status outside 100–599 (a broken response line). */
export type StatusClass = '1xx' | '2xx' | '3xx' | '4xx' | '5xx' | 'other';

/** Every status class, in report order. */
export const STATUS_CLASSES: readonly StatusClass[] = ['2xx', '3xx', '4xx', '5xx', '1xx', 'other'];

/** The class of status code `status`. */
export function classOf(status: number): StatusClass {
  if (status >= 100 && status < 600) return `${Math.floor(status / 100)}xx` as StatusClass;
  return 'other';
}

/** One second of a run, per status class: its count and latency percentiles (ms). */
export interface SecondJson {
  second: number;
  classes: Partial<Record<StatusClass, { count: number; p50: number; p99: number }>>;
}

/** One status class of a run: its count, percentiles (ms), mean (ms) and histogram. */
export interface ClassJson extends Percentiles {
  count: number;
  mean: number;
  histogram: HistogramJson;
}

/** Latencies by status class and by second, and counts by status code. */
export class Recorder {
  #classes = new Map<StatusClass, Histogram>();
  #seconds = new Map<number, Map<StatusClass, Histogram>>();
  #statuses = new Map<number, number>();

  /** Records one response of status `status` that took `us` µs and completed in second `second` of the run. */
  record(status: number, us: number, second: number): void {
    const cls = classOf(status);
    this.#classHistogram(cls).record(us);
    this.#secondHistogram(second, cls).record(us);
    this.#statuses.set(status, (this.#statuses.get(status) ?? 0) + 1);
  }

  /** Adds `count` responses of status `status` in latency bucket `bucket`, completed in second `second`. */
  addBucket(status: number, second: number, bucket: number, count: number): void {
    const cls = classOf(status);
    this.#classHistogram(cls).addBucket(bucket, count);
    this.#secondHistogram(second, cls).addBucket(bucket, count);
    this.#statuses.set(status, (this.#statuses.get(status) ?? 0) + count);
  }

  /** Sets the exact sum, min and max (µs) of class `cls`, where the engine kept them beside the buckets. */
  setExact(cls: StatusClass, sumUs: number, minUs: number, maxUs: number): void {
    this.#classes.get(cls)?.setExact(sumUs, minUs, maxUs);
  }

  /** Responses recorded, of every status. */
  get count(): number {
    let n = 0;
    for (const c of this.#statuses.values()) n += c;
    return n;
  }

  /** The histogram of class `cls` (empty if no response had it). */
  histogram(cls: StatusClass): Histogram {
    return this.#classes.get(cls) ?? new Histogram();
  }

  /** The classes seen, in report order. */
  classes(): StatusClass[] {
    return STATUS_CLASSES.filter((c) => this.#classes.has(c));
  }

  /** Count per status code, e.g. { "200": 9812, "503": 4906 }. */
  statuses(): Record<string, number> {
    return Object.fromEntries([...this.#statuses].sort((a, b) => a[0] - b[0]));
  }

  /** Per class: count, percentiles, mean and histogram. */
  classesJson(): Partial<Record<StatusClass, ClassJson>> {
    const out: Partial<Record<StatusClass, ClassJson>> = {};
    for (const cls of this.classes()) out[cls] = classJson(this.histogram(cls));
    return out;
  }

  /** Per second, from the first to the last with a response (seconds without one included, empty). */
  timeline(): SecondJson[] {
    if (this.#seconds.size === 0) return [];
    const last = Math.max(...this.#seconds.keys());
    const out: SecondJson[] = [];
    for (let second = 0; second <= last; second++) {
      const classes: SecondJson['classes'] = {};
      for (const [cls, h] of this.#seconds.get(second) ?? []) {
        classes[cls] = { count: h.count, p50: h.percentile(50), p99: h.percentile(99) };
      }
      out.push({ second, classes });
    }
    return out;
  }

  #classHistogram(cls: StatusClass): Histogram {
    let h = this.#classes.get(cls);
    if (h === undefined) {
      h = new Histogram();
      this.#classes.set(cls, h);
    }
    return h;
  }

  #secondHistogram(second: number, cls: StatusClass): Histogram {
    const s = Math.max(0, Math.floor(second));
    let byClass = this.#seconds.get(s);
    if (byClass === undefined) {
      byClass = new Map();
      this.#seconds.set(s, byClass);
    }
    let h = byClass.get(cls);
    if (h === undefined) {
      h = new Histogram();
      byClass.set(cls, h);
    }
    return h;
  }
}

/** Count, percentiles, mean and histogram of `h`. */
export function classJson(h: Histogram): ClassJson {
  return { count: h.count, ...h.percentiles(), mean: h.meanMs, histogram: h.toJSON() };
}
