/**
 * The adaptive concurrency limit: how many requests may run at once, learned from their latency.
 *
 * Each finished request is a sample: its latency over its route's own no-load latency (see
 * {@link RouteLatency}), so a mix of fast and slow routes reads as one signal. Samples are
 * averaged over a window (`windowMs`, at least `MIN_SAMPLES`); at the end of each window, as in the
 * gradient controllers of Envoy's adaptive concurrency filter and Netflix's concurrency-limits:
 * - the next limit is `limit × gradient + √limit`, the gradient being `tolerance / ratio` within
 *   [0.5, 1] (Netflix's Gradient2): within tolerance and in use (half of it at least), the limit grows by
 *   its square root, so it reaches a large limit in seconds; above it, it shrinks, smoothed, because a
 *   window of high latency is often one slow moment. The √limit of headroom makes it settle a little
 *   past the point where latency starts to rise, so the process stays busy;
 * - a drop (a 503/504 from the app, a request timeout, a stalled event loop): the limit shrinks by 10 %.
 * The limit stays within [`minLimit`, `maxLimit`].
 */

/** Settings of {@link AdaptiveLimit}. */
export interface LimitSettings {
  readonly initialLimit: number;
  readonly minLimit: number;
  readonly maxLimit: number;
  readonly tolerance: number;
  readonly windowMs: number;
  readonly latencyFloorMs: number;
}

/** Samples a window needs before it changes the limit. */
const MIN_SAMPLES = 10;
/** How far a window of high latency moves the limit toward its gradient's value. */
const SMOOTHING = 0.5;
/**
 * Requests waited while the event loop was busy less than this share of a window: the limit, not the
 * process, is what holds them back, and it grows unless latency is past `IDLE_RATIO_CAP` × tolerance
 * (then a downstream is what is saturated, and more requests in flight would only wait there).
 */
const IDLE_BELOW = 0.98;
const IDLE_RATIO_CAP = 8;
/** A route's no-load latency is the minimum of its low-concurrency samples over the last two periods. */
const MIN_PERIOD_MS = 60_000;
/** With requests waiting and no low-concurrency sample for this long, the limit probes. */
const PROBE_EVERY_MS = 60_000;
/** Low-concurrency samples that end a probe, and the longest a probe lasts. */
const PROBE_SAMPLES = 20;
const PROBE_MAX_MS = 200;

/**
 * A route's no-load latency: the minimum latency of its requests over the last one to two periods, so it
 * follows a route that became slower for good (a grown table) instead of judging it against its first
 * day. Unknown (`Infinity`) until its first request ends.
 */
export class RouteLatency {
  #min = Number.POSITIVE_INFINITY;
  #previous = Number.POSITIVE_INFINITY;
  #current = Number.POSITIVE_INFINITY;
  #periodStart = Number.NEGATIVE_INFINITY;

  /** The route's no-load latency in ms (`Infinity` while unknown). */
  get min(): number {
    return this.#min;
  }

  /** Records the latency `ms` of one of its requests, ended at time `now`. */
  learn(ms: number, now: number): void {
    if (now - this.#periodStart > MIN_PERIOD_MS) {
      // A period with no sample leaves nothing behind, so a route unseen for two periods is unknown again.
      this.#previous = now - this.#periodStart > 2 * MIN_PERIOD_MS ? Number.POSITIVE_INFINITY : this.#current;
      this.#current = ms;
      this.#periodStart = now;
    } else if (ms < this.#current) {
      this.#current = ms;
    }
    this.#min = Math.min(this.#previous, this.#current);
  }
}

/**
 * The limit itself. Under sustained load every request runs beside `limit` others, so no request shows
 * a route's no-load latency; as Envoy's filter does, the limit then probes: for up to `PROBE_SAMPLES`
 * requests (or `PROBE_MAX_MS`) it is held at `minLimit`, and those requests show their routes' no-load
 * latency. It starts with a probe (a server may start under full load), and probes again only while
 * requests wait for a slot and none has run at low concurrency for `PROBE_EVERY_MS`: a server that is not
 * saturated never probes.
 */
export class AdaptiveLimit {
  readonly #s: LimitSettings;
  #limit: number;
  #windowStart = 0;
  #ratioSum = 0;
  #samples = 0;
  #maxInFlight = 0;
  #dropped = false;
  #probeUntil = Number.POSITIVE_INFINITY;
  #probeSamples = 0;
  #probeEnded = Number.NEGATIVE_INFINITY;
  #lastLow = Number.NEGATIVE_INFINITY;
  #waited = false;
  readonly #utilization: () => number;

  /**
   * `utilization` gives the share of time the event loop was busy since its last call (0…1); without
   * it the process is taken as always busy, and latency alone moves the limit.
   */
  constructor(settings: LimitSettings, utilization: () => number = () => 1) {
    this.#s = settings;
    this.#utilization = utilization;
    this.#limit = settings.initialLimit;
    this.#probeUntil = Number.POSITIVE_INFINITY; // until the first PROBE_SAMPLES samples
  }

  /** The current limit, a whole number (`minLimit` while probing). */
  get limit(): number {
    return this.#probeUntil !== 0 ? this.#s.minLimit : Math.floor(this.#limit);
  }

  /** True while the limit is held at `minLimit` to measure no-load latencies. */
  get probing(): boolean {
    return this.#probeUntil !== 0;
  }

  /**
   * When the last probe ended: `Infinity` while one is under way (from the start, the first), and
   * `-Infinity` before any ended.
   */
  get probedUntil(): number {
    return this.#probeUntil !== 0 ? Number.POSITIVE_INFINITY : this.#probeEnded;
  }

  /**
   * When a probe under way ends at the latest (`Infinity` before the first request), or 0 when there is
   * none. Requests that never finish (all of them waiting on something) must not hold a probe open.
   */
  get probeEndsAt(): number {
    return this.#probeUntil;
  }

  /** Starts the clock of the first probe, or ends a probe whose time is up; true when the limit changed. */
  tick(now: number): boolean {
    if (this.#probeUntil === 0) return false;
    if (this.#probeUntil === Number.POSITIVE_INFINITY) {
      this.#probeUntil = now + PROBE_MAX_MS;
      return false;
    }
    if (now <= this.#probeUntil) return false;
    this.#endProbe(now);
    return true;
  }

  /**
   * One finished request of `route`: `latencyMs`, with `inFlight` requests running (itself included)
   * when it started, and `waiting` when requests wait for a slot. Returns true when the window closed
   * and the limit was updated.
   */
  sample(latencyMs: number, route: RouteLatency, inFlight: number, now: number, waiting = false): boolean {
    const s = this.#s;
    route.learn(latencyMs, now);
    if (inFlight <= s.minLimit) {
      this.#lastLow = now;
      if (this.#probeUntil !== 0 && (++this.#probeSamples >= PROBE_SAMPLES || now > this.#probeUntil)) {
        this.#endProbe(now);
      }
    }
    if (this.#probeUntil !== 0) {
      if (this.#probeUntil === Number.POSITIVE_INFINITY) this.#probeUntil = now + PROBE_MAX_MS;
      else if (now > this.#probeUntil) this.#endProbe(now);
      return false;
    }
    if (waiting && now - this.#lastLow > PROBE_EVERY_MS) {
      this.#probeUntil = now + PROBE_MAX_MS;
      this.#probeSamples = 0;
      return false;
    }
    const min = route.min;
    if (min !== Number.POSITIVE_INFINITY) {
      const base = min > s.latencyFloorMs ? min : s.latencyFloorMs;
      this.#ratioSum += latencyMs > base ? latencyMs / base : 1;
      this.#samples++;
    }
    if (inFlight > this.#maxInFlight) this.#maxInFlight = inFlight;
    if (waiting) this.#waited = true;
    return this.#maybeUpdate(now);
  }

  /** A sign of overload that is not a latency: the next window shrinks the limit. */
  drop(now: number): boolean {
    this.#dropped = true;
    return this.#probeUntil === 0 && this.#maybeUpdate(now);
  }

  #endProbe(now: number): void {
    this.#probeUntil = 0;
    this.#probeEnded = now;
    this.#lastLow = now;
    this.#windowStart = now;
    this.#ratioSum = 0;
    this.#samples = 0;
    this.#maxInFlight = 0;
  }

  #maybeUpdate(now: number): boolean {
    if (now - this.#windowStart < this.#s.windowMs || (this.#samples < MIN_SAMPLES && !this.#dropped)) {
      return false;
    }
    const s = this.#s;
    const limit = this.#limit;
    let next = limit;
    if (this.#dropped) {
      next = limit * 0.9;
    } else {
      // Gradient2's rule: the limit scaled by the gradient, plus a queue's worth of headroom, so it
      // settles a little past the point where latency starts to rise, with every core kept busy.
      const ratio = this.#ratioSum / this.#samples;
      const gradient = Math.min(1, Math.max(0.5, s.tolerance / ratio));
      next = limit * gradient + Math.sqrt(limit);
      if (next > limit && this.#maxInFlight * 2 < limit)
        next = limit; // not in use: no evidence to grow
      else if (next < limit) next = limit * (1 - SMOOTHING) + next * SMOOTHING;
      const busy = this.#utilization();
      if (this.#waited && busy < IDLE_BELOW && ratio <= s.tolerance * IDLE_RATIO_CAP) {
        next = Math.max(next, limit + Math.sqrt(limit));
      }
    }
    this.#limit = Math.min(s.maxLimit, Math.max(s.minLimit, next));
    this.#windowStart = now;
    this.#ratioSum = 0;
    this.#samples = 0;
    this.#maxInFlight = 0;
    this.#dropped = false;
    this.#waited = false;
    return true;
  }
}
