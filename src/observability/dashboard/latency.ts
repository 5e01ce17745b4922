/**
 * Request durations of one sampling interval, for their median and 99th percentile: counts in
 * log-spaced buckets (each 10% wider than the last, 10 µs … 100 s), so memory is fixed whatever the
 * traffic and a quantile is within 10% of the true value.
 */

/** The lower edge of the first bucket, in ms. */
const FLOOR_MS = 0.01;
/** Each bucket's upper edge over its lower one. */
const GROWTH = 1.1;
const LOG_GROWTH = Math.log(GROWTH);
/** Enough buckets to reach 100 s; longer durations share the last one. */
const BUCKETS = Math.ceil(Math.log(100_000 / FLOOR_MS) / LOG_GROWTH) + 1;

export class LatencyHistogram {
  readonly #counts = new Uint32Array(BUCKETS);
  #count = 0;
  #max = 0;

  /** Counts one duration, in ms. */
  record(ms: number): void {
    const i = ms <= FLOOR_MS ? 0 : Math.min(BUCKETS - 1, Math.ceil(Math.log(ms / FLOOR_MS) / LOG_GROWTH));
    this.#counts[i]!++;
    this.#count++;
    if (ms > this.#max) this.#max = ms;
  }

  /** Durations recorded since the last reset. */
  get count(): number {
    return this.#count;
  }

  /**
   * The duration at quantile `q` (0…1), in ms: the upper edge of the bucket that holds it, never more than
   * the longest duration recorded; `null` when nothing was recorded.
   */
  quantile(q: number): number | null {
    if (this.#count === 0) return null;
    const rank = Math.max(1, Math.ceil(q * this.#count));
    let seen = 0;
    for (let i = 0; i < BUCKETS; i++) {
      seen += this.#counts[i]!;
      if (seen >= rank) return Math.min(FLOOR_MS * GROWTH ** i, this.#max);
    }
    return this.#max;
  }

  /** Forgets every duration: the next interval starts empty. */
  reset(): void {
    this.#counts.fill(0);
    this.#count = 0;
    this.#max = 0;
  }
}
