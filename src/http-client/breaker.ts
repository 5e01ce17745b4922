/**
 * The circuit breaker of one origin.
 *
 * States and transitions (all made by `#move`):
 *   closed    → open       when, over the last `windowMs`, at least `minRequests` outcomes were counted
 *                          and at least `failureRatio` of them were failures;
 *   open      → half-open  on the first `admit()` at least `openMs` after opening: that call is the probe;
 *   half-open → closed     when the probe succeeds (the window starts empty);
 *   half-open → open       when the probe fails, or is given up without an outcome (cancelled).
 * While open, and while a probe is out, `admit()` refuses: the caller fails fast with no connection.
 *
 * Outcomes are counted in ten buckets spanning the window, so counting is O(1) and memory is fixed.
 */
import type { BreakerSettings } from './options.ts';

/** The state of an origin's breaker. */
export type BreakerState =
  /** Calls go through; outcomes are counted. */
  | 'closed'
  /** Calls fail at once with `WEIR_ERR_UPSTREAM_UNAVAILABLE`. */
  | 'open'
  /** One probe call is out; the others fail at once. */
  | 'half-open';

/** What one attempt came to, as far as the breaker is concerned. */
export type Outcome = 'success' | 'failure' | 'ignored';

const BUCKETS = 10;

export class Breaker {
  readonly #settings: BreakerSettings;
  readonly #now: () => number;
  readonly #bucketMs: number;
  // Ring of buckets: start time, successes and failures of each; a bucket older than the window is reset
  // when its slot comes round again.
  readonly #starts = new Array<number>(BUCKETS).fill(Number.NEGATIVE_INFINITY);
  readonly #ok = new Array<number>(BUCKETS).fill(0);
  readonly #failed = new Array<number>(BUCKETS).fill(0);
  #state: BreakerState = 'closed';
  #openedAt = 0;

  constructor(settings: BreakerSettings, now: () => number = Date.now) {
    this.#settings = settings;
    this.#now = now;
    this.#bucketMs = settings.windowMs / BUCKETS;
  }

  get state(): BreakerState {
    return this.#state;
  }

  /**
   * Whether a call may go: always while closed; while open, only the first call once `openMs` has
   * passed, which becomes the probe (the breaker is then half-open until `record()` is called for it).
   * Returns `'probe'` for that call, so its outcome is known to settle the half-open state.
   */
  admit(): boolean | 'probe' {
    if (this.#state === 'closed') return true;
    if (this.#state === 'open' && this.#now() - this.#openedAt >= this.#settings.openMs) {
      this.#move('half-open');
      return 'probe';
    }
    return false;
  }

  /** Counts the outcome of a call `admit()` let through (`probe` as `admit()` answered). */
  record(outcome: Outcome, probe: boolean): void {
    if (probe) {
      this.#move(outcome === 'success' ? 'closed' : 'open');
      return;
    }
    if (this.#state !== 'closed' || outcome === 'ignored') return;
    const now = this.#now();
    const slot = Math.floor(now / this.#bucketMs) % BUCKETS;
    const start = now - (now % this.#bucketMs);
    if (this.#starts[slot] !== start) {
      this.#starts[slot] = start;
      this.#ok[slot] = 0;
      this.#failed[slot] = 0;
    }
    if (outcome === 'success') {
      this.#ok[slot]! += 1;
      return;
    }
    this.#failed[slot]! += 1;
    let ok = 0;
    let failed = 0;
    const since = now - this.#settings.windowMs;
    for (let i = 0; i < BUCKETS; i++) {
      if (this.#starts[i]! > since) {
        ok += this.#ok[i]!;
        failed += this.#failed[i]!;
      }
    }
    const total = ok + failed;
    if (total >= this.#settings.minRequests && failed / total >= this.#settings.failureRatio) {
      this.#move('open');
    }
  }

  /** Milliseconds until an open breaker lets a probe through (0 when it would now, or is not open). */
  retryInMs(): number {
    if (this.#state !== 'open') return 0;
    return Math.max(0, this.#openedAt + this.#settings.openMs - this.#now());
  }

  #move(to: BreakerState): void {
    this.#state = to;
    if (to === 'open') this.#openedAt = this.#now();
    if (to === 'closed') {
      this.#starts.fill(Number.NEGATIVE_INFINITY);
      this.#ok.fill(0);
      this.#failed.fill(0);
    }
  }
}
