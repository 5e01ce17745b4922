/**
 * Where requests over the concurrency limit wait: one line per priority class, highest class served
 * first, and within a class three lines: requests of clients that were idle (a new connection, or one
 * whose previous answer went out a while ago), ahead of requests sent right after an answer on their
 * connection, ahead of requests sent right after a 503 (retries that ignored its `Retry-After`).
 * Under overload, clients that loop back-to-back are what fills the queue; a light client, or a new one,
 * is not made to wait behind them (as fq_codel serves sparse flows ahead of bulk ones), and a client
 * that retries at once waits behind those that did not, for `retryTimeoutMs` (longer than `timeoutMs`
 * with the limiter's settings): each turn of a retry storm then costs the server a 503 less often.
 * A line is served first-in first-out while the wait is short, and last-in first-out once its oldest
 * request is stale (has waited `staleAfterMs`, or `lifoAfterMs` if shorter) and the backlog would take
 * `lifoAfterMs` to serve in order (a standing queue: the server is overloaded, and the newest requests
 * are the ones whose clients are still there); it turns back once the queue is empty, or once the
 * backlog could have been served in order within half of `lifoAfterMs` for a whole 100 ms window. The
 * time to serve the backlog is its size over the rate at which waiting requests were served lately: a
 * wait that stands only because a closed set of clients (64 connections, say) keeps more requests than
 * the limit in flight drains in a few tens of ms and stays first-in first-out, where newest-first would
 * leave the oldest of them to wait out `timeoutMs`.
 * The rate is the process's own: while the limit probes (holds itself at its floor to measure no-load
 * latencies, see AdaptiveLimit) the queue is served slowly on purpose, so no window of the rate that
 * saw any of that time counts, and the queue does not turn newest-first then; nor does a rate not yet
 * measured (a process that has just started).
 * While newest-first, a stale request is served only when no fresher one of its class waits and none
 * has arrived for a moment (see #freshest()): otherwise it waits for that, or for its timeout.
 * Nothing waits longer than `timeoutMs` (`retryTimeoutMs` for a retry); when the queue is full, the
 * oldest request of the lowest line is turned away to make room, unless the newcomer's line is lower
 * still.
 */
import { Fifo } from '../internal/fifo.ts';

/** A request waiting for a slot. */
export interface Waiter {
  readonly priority: number;
  /** True when its client was idle before sending it: it waits ahead of its class's other requests. */
  readonly idle?: boolean;
  /**
   * True when its client sent it right after a 503 (a retry that ignored `Retry-After`): it waits behind
   * its class's other requests, and longer (see {@link WaitQueueOptions.retryTimeoutMs}).
   */
  readonly retry?: boolean;
  readonly since: number;
  /** False once its client has gone: it is dropped without an answer. */
  alive(): boolean;
}

/**
 * Why a request was turned away: it waited too long, the queue was full, or it was a new WebSocket
 * refused while the limiter shed requests (`shedding`; it never waits).
 */
export type ShedReason = 'queue-full' | 'queue-timeout' | 'shedding';

/** The rate at which waiting requests are served is measured over windows of this length (ms). */
const RATE_WINDOW_MS = 100;
/**
 * While newest-first, a stale request is held back only while requests keep arriving: once none has
 * arrived for this long (ms), the load has passed and a free slot serves the stale ones too.
 */
const ARRIVALS_LAPSE_MS = 10;

export class WaitQueue<W extends Waiter> {
  /** Lines by rank (the class, then idle clients first, retries last; see rankOf()), highest first. */
  readonly #lines: { rank: number; line: Fifo<W>; timeoutMs: number }[] = [];
  #size = 0;
  #lifo = false;
  /** Waiting requests served per ms lately (a moving average over windows), or -1 before any window. */
  #rate = -1;
  #windowStart = Number.NaN;
  #windowServed = 0;
  /** Since when the backlog has been short enough to serve in order (NaN: it is not). */
  #shortSince = Number.NaN;
  /** When the newest request arrived. */
  #lastArrival = Number.NEGATIVE_INFINITY;
  /** The last arrival before a lull in arrivals (NaN: none since). */
  #lullAfter = Number.NaN;
  /** Until when stale requests are held back (NaN: they are not). */
  #heldUntil = Number.NaN;
  readonly #max: number;
  readonly #timeoutMs: number;
  readonly #lifoAfterMs: number;
  readonly #staleAfterMs: number;
  /** How long the oldest request must have waited for newest-first (the shorter of the two). */
  readonly #lifoWaitMs: number;
  readonly #retryTimeoutMs: number;
  readonly #throttledUntil: () => number;

  constructor(max: number, timeoutMs: number, lifoAfterMs: number, options: WaitQueueOptions = {}) {
    this.#max = max;
    this.#timeoutMs = timeoutMs;
    this.#lifoAfterMs = lifoAfterMs;
    this.#staleAfterMs = options.staleAfterMs ?? Number.POSITIVE_INFINITY;
    this.#lifoWaitMs = Math.min(this.#staleAfterMs, lifoAfterMs);
    this.#retryTimeoutMs = options.retryTimeoutMs ?? timeoutMs;
    this.#throttledUntil = options.throttledUntil ?? (() => Number.NEGATIVE_INFINITY);
  }

  get size(): number {
    return this.#size;
  }

  /** True while lines are served last-in first-out. */
  get lifo(): boolean {
    return this.#lifo;
  }

  /**
   * When {@link next} last found only stale requests to serve while requests kept arriving: the time
   * it would serve them if none arrives before (NaN otherwise).
   */
  get heldUntil(): number {
    return this.#heldUntil;
  }

  /**
   * Adds `w`. Returns the waiter turned away to make room (`w` itself when its class is the lowest and
   * the queue is full), or undefined.
   */
  push(w: W): W | undefined {
    const rank = rankOf(w);
    if (w.since > this.#lastArrival) this.#lastArrival = w.since;
    if (this.#size >= this.#max) {
      const lowest = this.#lines.at(-1);
      if (lowest === undefined || lowest.rank > rank) return w;
      if (lowest.rank === rank && this.#max === 0) return w;
      const evicted = lowest.line.shift();
      this.#size--;
      if (lowest.line.length === 0) this.#lines.pop();
      this.#lineOf(rank).push(w);
      this.#size++;
      return evicted;
    }
    // A backlog that starts now is timed from now: the time the queue stood empty served nothing.
    if (this.#size === 0 && this.#windowServed === 0) this.#windowStart = w.since;
    this.#lineOf(rank).push(w);
    this.#size++;
    return undefined;
  }

  /**
   * The next waiter to run (highest class; FIFO or LIFO as the wait says), or undefined: the queue is
   * empty, or it holds only stale requests back ({@link heldUntil}). `lull`: the caller has just polled
   * for new requests (so a stretch of other work is not taken for a lapse in arrivals); only then are
   * stale requests served while newest-first.
   */
  next(now: number, lull = false): W | undefined {
    this.#mode(now);
    this.#heldUntil = Number.NaN;
    while (this.#lines.length > 0) {
      const i = this.#lifo ? this.#freshest(now, lull) : 0;
      if (i < 0) return undefined;
      const at = this.#lines[i]!;
      const w = this.#lifo ? at.line.pop() : at.line.shift();
      if (at.line.length === 0) this.#lines.splice(i, 1);
      if (w === undefined) continue;
      this.#size--;
      if (this.#size === 0) this.#emptied();
      if (w.alive()) {
        this.#windowServed++;
        return w;
      }
    }
    return undefined;
  }

  /**
   * Newest-first: the line to serve from, of the highest class's, the first whose newest request has
   * waited less than `staleAfterMs` (the requests under a newest are older). With none, the first line
   * in a `lull` (no request has arrived for `ARRIVALS_LAPSE_MS`), and until the next arrival; otherwise
   * -1: the stale requests are held back. Their clients have waited too long for a served answer to be
   * worth more than a fresh client's, and a slot left free is taken within moments by a request that
   * arrives (in a closed loop a served client sends again at once). Served waits then stay under
   * `staleAfterMs`, where newest-first alone lets a request sink under newer ones (a closed loop puts
   * one back on top for every one served, so how long it stays under them has a long tail) and be
   * served, now and then, after most of `timeoutMs`.
   */
  #freshest(now: number, lull: boolean): number {
    const lines = this.#lines;
    const top = classOf(lines[0]!.rank);
    for (let i = 0; i < lines.length && classOf(lines[i]!.rank) === top; i++) {
      const newest = lines[i]!.line.last();
      if (newest !== undefined && now - newest.since < this.#staleAfterMs) return i;
    }
    if ((lull || this.#lullAfter === this.#lastArrival) && now - this.#lastArrival >= ARRIVALS_LAPSE_MS) {
      // Until a request arrives, the stale ones are served as slots free up.
      this.#lullAfter = this.#lastArrival;
      return 0;
    }
    this.#heldUntil = this.#lastArrival + ARRIVALS_LAPSE_MS;
    return -1;
  }

  /**
   * Removes and returns the waiters that waited `timeoutMs` or whose client left (the latter are not
   * answered). Also returns when the next one expires (`Infinity` with none left).
   */
  expire(now: number): { expired: W[]; nextAt: number } {
    const expired: W[] = [];
    let nextAt = Number.POSITIVE_INFINITY;
    for (let i = this.#lines.length - 1; i >= 0; i--) {
      const { line, timeoutMs } = this.#lines[i]!;
      for (let w = line.first(); w !== undefined; w = line.first()) {
        if (w.alive() && now - w.since < timeoutMs) break;
        line.shift();
        this.#size--;
        if (w.alive()) expired.push(w);
      }
      const head = line.first();
      if (head === undefined) this.#lines.splice(i, 1);
      else if (head.since + timeoutMs < nextAt) nextAt = head.since + timeoutMs;
    }
    this.#mode(now);
    return { expired, nextAt };
  }

  /** Every waiter still queued, removed (for shutdown). */
  drain(): W[] {
    const all: W[] = [];
    for (const { line } of this.#lines)
      for (let w = line.shift(); w !== undefined; w = line.shift()) all.push(w);
    this.#lines.length = 0;
    this.#size = 0;
    return all;
  }

  #mode(now: number): void {
    const throttledUntil = this.#throttledUntil();
    const throttled = throttledUntil === Number.POSITIVE_INFINITY;
    this.#measure(now, throttledUntil);
    if (this.#size === 0) {
      this.#emptied();
      return;
    }
    if (!this.#lifo) {
      // No rate measured yet, or served slowly on purpose: a long drain would say nothing of the load.
      if (this.#rate < 0 || throttled) return;
      let oldest = Number.POSITIVE_INFINITY;
      for (const { line } of this.#lines) {
        const head = line.first();
        if (head !== undefined && head.since < oldest) oldest = head.since;
      }
      if (now - oldest >= this.#lifoWaitMs && this.#drainMs() >= this.#lifoAfterMs) this.#lifo = true;
    } else if (this.#drainMs() >= this.#lifoAfterMs / 2) {
      this.#shortSince = Number.NaN;
    } else if (Number.isNaN(this.#shortSince)) {
      this.#shortSince = now;
    } else if (now - this.#shortSince >= RATE_WINDOW_MS) {
      // Back to first-in first-out while a backlog stands only when it has stayed short for a window:
      // going back while it is long, or in the moment a cohort has just expired and its clients have not
      // sent again yet, would make everyone wait again, in waves.
      this.#lifo = false;
      this.#shortSince = Number.NaN;
    }
  }

  /** The queue has emptied: the overload, if any, has passed. */
  #emptied(): void {
    this.#lifo = false;
    this.#shortSince = Number.NaN;
  }

  /**
   * How long serving the whole backlog in order would take at the recent rate (ms); `Infinity` while
   * that rate is unknown or nil.
   */
  #drainMs(): number {
    return this.#rate > 0 ? this.#size / this.#rate : Number.POSITIVE_INFINITY;
  }

  /**
   * Closes the rate's window once it is `RATE_WINDOW_MS` long (a window that served none counts as 0),
   * unless it began before `throttledUntil`.
   */
  #measure(now: number, throttledUntil: number): void {
    const elapsed = now - this.#windowStart;
    if (Number.isNaN(elapsed)) {
      this.#windowStart = now;
      return;
    }
    if (throttledUntil >= this.#windowStart) {
      // The window saw the queue served slowly on purpose (a backlog that began during a probe, say, and
      // is first looked at after it): not the process's rate, which stays as it was (unknown, for a
      // process whose first requests are the probe's). A new window starts now.
      this.#windowStart = now;
      this.#windowServed = 0;
      return;
    }
    if (elapsed < RATE_WINDOW_MS) return;
    const rate = this.#windowServed / elapsed;
    this.#rate = this.#rate < 0 ? rate : (this.#rate + rate) / 2;
    this.#windowStart = now;
    this.#windowServed = 0;
  }

  #lineOf(rank: number): Fifo<W> {
    const lines = this.#lines;
    let i = 0;
    while (i < lines.length && lines[i]!.rank > rank) i++;
    if (i < lines.length && lines[i]!.rank === rank) return lines[i]!.line;
    const line = new Fifo<W>();
    const timeoutMs = rank % LINES === RETRY_LINE ? this.#retryTimeoutMs : this.#timeoutMs;
    lines.splice(i, 0, { rank, line, timeoutMs });
    return line;
  }
}

/** The optional behaviours of a {@link WaitQueue}. */
export interface WaitQueueOptions {
  /** While newest-first, a request that has waited this long is held back (ms; default: never). */
  staleAfterMs?: number;
  /** How long a {@link Waiter.retry} waits before it is turned away (ms; default: the timeout). */
  retryTimeoutMs?: number;
  /**
   * Until when the queue was last served slowly on purpose (the limit probes): `Infinity` while it is,
   * `-Infinity` if never (the default). No window of the rate that saw any of that time counts, and the
   * queue does not turn newest-first while it lasts.
   */
  throttledUntil?: () => number;
}

/**
 * A waiter's line: `LINES` to a class (classes are integers, priorities ≥ 0), retries lowest, then the
 * requests sent right after an answer, then idle clients'.
 */
const LINES = 3;
const RETRY_LINE = 0;
const BUSY_LINE = 1;
const IDLE_LINE = 2;

function rankOf(w: Waiter): number {
  return w.priority * LINES + (w.idle === true ? IDLE_LINE : w.retry === true ? RETRY_LINE : BUSY_LINE);
}

function classOf(rank: number): number {
  return Math.floor(rank / LINES);
}
