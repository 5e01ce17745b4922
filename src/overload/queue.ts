/**
 * Where requests over the concurrency limit wait: one line per priority class, highest class served
 * first, and within a class two lines: requests of clients that were idle (a new connection, or one whose
 * previous answer went out a while ago) ahead of requests sent right after an answer on their connection.
 * Under overload, clients that loop back-to-back are what fills the queue; a light client, or a new one,
 * is not made to wait behind them (as fq_codel serves sparse flows ahead of bulk ones).
 * A line is served first-in first-out while the wait is short, and last-in first-out once the
 * oldest waiting request has waited `lifoAfterMs` and the backlog would take that long to serve in order
 * (a standing queue: the server is overloaded, and the newest requests are the ones whose clients are
 * still there); it turns back once the queue is empty, or once the backlog could have been served in
 * order within half of `lifoAfterMs` for a whole 100 ms window. The time to serve the backlog is its
 * size over the rate at which waiting requests were served lately: a wait that stands only because a
 * closed set of clients (64 connections, say) keeps more requests than the limit in flight drains in a
 * few tens of ms and stays first-in first-out, where newest-first would leave the oldest of them to wait
 * out `timeoutMs`.
 * Nothing waits longer than `timeoutMs`; when the queue is full, the oldest request of the lowest line
 * is turned away to make room, unless the newcomer's line is lower still.
 */
import { Fifo } from '../internal/fifo.ts';

/** A request waiting for a slot. */
export interface Waiter {
  readonly priority: number;
  /** True when its client was idle before sending it: it waits ahead of its class's other requests. */
  readonly idle?: boolean;
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

export class WaitQueue<W extends Waiter> {
  /** Lines by rank (the class, then idle clients first; see rankOf()), highest first. */
  readonly #lines: { rank: number; line: Fifo<W> }[] = [];
  #size = 0;
  #lifo = false;
  /** Waiting requests served per ms lately (a moving average over windows), or -1 before any window. */
  #rate = -1;
  #windowStart = Number.NaN;
  #windowServed = 0;
  /** Since when the backlog has been short enough to serve in order (NaN: it is not). */
  #shortSince = Number.NaN;
  readonly #max: number;
  readonly #timeoutMs: number;
  readonly #lifoAfterMs: number;

  constructor(max: number, timeoutMs: number, lifoAfterMs: number) {
    this.#max = max;
    this.#timeoutMs = timeoutMs;
    this.#lifoAfterMs = lifoAfterMs;
  }

  get size(): number {
    return this.#size;
  }

  /** True while lines are served last-in first-out. */
  get lifo(): boolean {
    return this.#lifo;
  }

  /**
   * Adds `w`. Returns the waiter turned away to make room (`w` itself when its class is the lowest and
   * the queue is full), or undefined.
   */
  push(w: W): W | undefined {
    const rank = rankOf(w);
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

  /** The next waiter to run (highest class; FIFO or LIFO as the wait says), or undefined. */
  next(now: number): W | undefined {
    this.#mode(now);
    while (this.#lines.length > 0) {
      const first = this.#lines[0]!;
      const w = this.#lifo ? first.line.pop() : first.line.shift();
      if (first.line.length === 0) this.#lines.shift();
      if (w === undefined) continue;
      this.#size--;
      if (w.alive()) {
        this.#windowServed++;
        return w;
      }
    }
    return undefined;
  }

  /**
   * Removes and returns the waiters that waited `timeoutMs` or whose client left (the latter are not
   * answered). Also returns when the next one expires (`Infinity` with none left).
   */
  expire(now: number): { expired: W[]; nextAt: number } {
    const expired: W[] = [];
    let nextAt = Number.POSITIVE_INFINITY;
    for (let i = this.#lines.length - 1; i >= 0; i--) {
      const { line } = this.#lines[i]!;
      for (let w = line.first(); w !== undefined; w = line.first()) {
        if (w.alive() && now - w.since < this.#timeoutMs) break;
        line.shift();
        this.#size--;
        if (w.alive()) expired.push(w);
      }
      const head = line.first();
      if (head === undefined) this.#lines.splice(i, 1);
      else if (head.since + this.#timeoutMs < nextAt) nextAt = head.since + this.#timeoutMs;
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
    this.#measure(now);
    if (this.#size === 0) {
      this.#lifo = false;
      this.#shortSince = Number.NaN;
      return;
    }
    if (!this.#lifo) {
      let oldest = Number.POSITIVE_INFINITY;
      for (const { line } of this.#lines) {
        const head = line.first();
        if (head !== undefined && head.since < oldest) oldest = head.since;
      }
      if (now - oldest >= this.#lifoAfterMs && this.#drainMs() >= this.#lifoAfterMs) this.#lifo = true;
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

  /**
   * How long serving the whole backlog in order would take at the recent rate (ms); `Infinity` while
   * that rate is unknown or nil.
   */
  #drainMs(): number {
    return this.#rate > 0 ? this.#size / this.#rate : Number.POSITIVE_INFINITY;
  }

  /** Closes the rate's window once it is `RATE_WINDOW_MS` long (a window that served none counts as 0). */
  #measure(now: number): void {
    const elapsed = now - this.#windowStart;
    if (Number.isNaN(elapsed)) {
      this.#windowStart = now;
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
    lines.splice(i, 0, { rank, line });
    return line;
  }
}

/** A waiter's line: classes are integers, so an idle client's line sits between its class and the next. */
function rankOf(w: Waiter): number {
  return w.idle === true ? w.priority * 2 + 1 : w.priority * 2;
}
