/**
 * A latency histogram in microseconds with log-linear buckets, the one shape every engine of `weir bench`
 * fills: the wrk engine's Lua script computes the same bucket index (see wrk-script.ts), autocannon's
 * responses are filed here directly, and histograms of threads, seconds and rounds merge by adding counts.
 *
 * Buckets: values below 128 µs have a bucket each (exact); above, every power-of-two range [2^m, 2^(m+1))
 * is cut into 64 equal buckets, so a bucket is at most 1/64 (1.6 %) of its value wide. Values are clamped
 * to 2^31 µs (about 36 minutes), far past any timeout a run uses.
 *
 * Not hdr-histogram-js (which autocannon brings): the wrk engine must work without the optional autocannon
 * package installed, and its Lua side needs a bucket rule small enough to write out twice.
 */

const EXACT = 128;
const SUB = 64;
const MAX_US = 2 ** 31 - 1;

/** The bucket of a latency of `us` microseconds. */
export function bucketOf(us: number): number {
  const v = Math.min(MAX_US, Math.max(0, Math.floor(us)));
  if (v < EXACT) return v;
  const m = 31 - Math.clz32(v); // 2^m <= v < 2^(m+1), m >= 7
  const shift = m - 6;
  return EXACT + (shift - 1) * SUB + ((v >>> shift) - SUB);
}

/** The values bucket `index` holds: [low, high) in µs. */
export function bucketRange(index: number): [low: number, high: number] {
  if (index < EXACT) return [index, index + 1];
  const shift = Math.floor((index - EXACT) / SUB) + 1;
  const low = (((index - EXACT) % SUB) + SUB) * 2 ** shift;
  return [low, low + 2 ** shift];
}

/** The value a bucket stands for: itself below 128 µs, its middle above. */
function representative(index: number): number {
  const [low, high] = bucketRange(index);
  return high - low === 1 ? low : (low + high) / 2;
}

/** The percentiles every report gives, in ms. */
export interface Percentiles {
  p50: number;
  p90: number;
  p99: number;
  p999: number;
  max: number;
}

/** A histogram as the JSON report stores it: `[lowUs, highUs, count]` per bucket that has a count. */
export interface HistogramJson {
  count: number;
  minUs: number;
  maxUs: number;
  sumUs: number;
  buckets: [low: number, high: number, count: number][];
}

/** Latencies in µs, bucketed; count, sum, min and max exact. */
export class Histogram {
  #counts = new Map<number, number>();
  #count = 0;
  #sum = 0;
  #min = Number.POSITIVE_INFINITY;
  #max = 0;

  /** Records `count` latencies of `us` µs. */
  record(us: number, count = 1): void {
    const index = bucketOf(us);
    this.#counts.set(index, (this.#counts.get(index) ?? 0) + count);
    this.#count += count;
    this.#sum += us * count;
    if (us < this.#min) this.#min = us;
    if (us > this.#max) this.#max = us;
  }

  /**
   * Adds `count` latencies known only by their bucket (the wrk engine's): the bucket's value stands in
   * for the sum, its bounds for min and max, until setExact() gives the exact ones.
   */
  addBucket(index: number, count: number): void {
    const value = representative(index);
    this.#counts.set(index, (this.#counts.get(index) ?? 0) + count);
    this.#count += count;
    this.#sum += value * count;
    const [low, high] = bucketRange(index);
    if (low < this.#min) this.#min = low;
    if (high - 1 > this.#max) this.#max = high - 1;
  }

  /** Replaces the sum, min and max estimated from buckets by exact ones. */
  setExact(sumUs: number, minUs: number, maxUs: number): void {
    this.#sum = sumUs;
    this.#min = minUs;
    this.#max = maxUs;
  }

  /** Adds every latency of `other` to this one. */
  merge(other: Histogram): this {
    for (const [index, count] of other.#counts)
      this.#counts.set(index, (this.#counts.get(index) ?? 0) + count);
    this.#count += other.#count;
    this.#sum += other.#sum;
    if (other.#count > 0) {
      this.#min = Math.min(this.#min, other.#min);
      this.#max = Math.max(this.#max, other.#max);
    }
    return this;
  }

  /** Latencies recorded. */
  get count(): number {
    return this.#count;
  }

  /** The mean latency in ms (0 when empty). */
  get meanMs(): number {
    return this.#count === 0 ? 0 : this.#sum / this.#count / 1000;
  }

  /** The largest latency in ms (0 when empty). */
  get maxMs(): number {
    return this.#count === 0 ? 0 : this.#max / 1000;
  }

  /**
   * The latency in ms below or at which `p` percent of the values lie (0 when empty): the value of the
   * bucket holding the ⌈p/100 · count⌉-th value, never above the exact maximum.
   */
  percentile(p: number): number {
    if (this.#count === 0) return 0;
    const rank = Math.max(1, Math.ceil((p / 100) * this.#count));
    let seen = 0;
    for (const index of [...this.#counts.keys()].sort((a, b) => a - b)) {
      seen += this.#counts.get(index) ?? 0;
      if (seen >= rank) return Math.min(representative(index), this.#max) / 1000;
    }
    return this.#max / 1000;
  }

  /** p50, p90, p99, p99.9 and max, in ms. */
  percentiles(): Percentiles {
    return {
      p50: this.percentile(50),
      p90: this.percentile(90),
      p99: this.percentile(99),
      p999: this.percentile(99.9),
      max: this.maxMs,
    };
  }

  /** Every bucket with a count, in ascending order: [lowUs, highUs, count]. */
  buckets(): [low: number, high: number, count: number][] {
    return [...this.#counts]
      .sort((a, b) => a[0] - b[0])
      .map(([index, count]) => {
        const [low, high] = bucketRange(index);
        return [low, high, count];
      });
  }

  /** The form report.json stores (see {@link HistogramJson}). */
  toJSON(): HistogramJson {
    return {
      count: this.#count,
      minUs: this.#count === 0 ? 0 : this.#min,
      maxUs: this.#max,
      sumUs: this.#sum,
      buckets: this.buckets(),
    };
  }

  /** The histogram a report's JSON stored. */
  static fromJSON(json: HistogramJson): Histogram {
    const h = new Histogram();
    for (const [low, , count] of json.buckets) h.addBucket(bucketOf(low), count);
    if (json.count > 0) h.setExact(json.sumUs, json.minUs, json.maxUs);
    return h;
  }
}
