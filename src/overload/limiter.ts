/**
 * The overload limiter: at most `limit` requests run at once (the adaptive limit of limit.ts), the rest
 * wait in the priority queue of queue.ts, and what cannot be served in time is turned away at once, at
 * a cost of a few microseconds, instead of slowing every request down.
 *
 * Inputs: requests entering (with a priority and their route's latency record), requests finishing
 * (latency, status), the event loop's delay, the clock. Outputs: run or shed each request, exactly once;
 * the process's pressure state (internal/pressure.ts) raised while shedding and lowered `CALM_AFTER_MS`
 * after the last shed; events on the `weir:overload` diagnostics channel; {@link OverloadLimiter.stats}.
 * Timers: one for the queue's next expiry (only while requests wait), one for the stale requests the
 * queue holds back (see queue.ts), one for the event loop's delay and one for the pressure state (only
 * while raised); all cleared by `close()`. The first two keep the process alive, as the requests they
 * serve are pending work (an app served by `inject()` alone has no socket to do it); the others are
 * unref'd.
 */
import { channel } from 'node:diagnostics_channel';
import { type IntervalHistogram, monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { pressure } from '../internal/pressure.ts';
import { AdaptiveLimit, type RouteLatency } from './limit.ts';
import { type OverloadSettings, priorityName } from './options.ts';
import { type ShedReason, type Waiter, WaitQueue } from './queue.ts';

/**
 * A request that waits for a slot: `run` when it gets one, `shed` when it is turned away (`now`, the
 * limiter's `performance.now()` at that moment).
 */
export interface Entrant extends Waiter {
  run(): void;
  shed(reason: ShedReason, now: number): void;
}

/** What {@link OverloadLimiter.stats} reports. */
export interface OverloadStats {
  limit: number;
  inFlight: number;
  queued: number;
  /** True while the queue serves its newest requests first (it has a standing backlog). */
  lifo: boolean;
  /** True while the limiter sheds (and background work yields). */
  shedding: boolean;
  admitted: number;
  /** Requests that waited for a slot and got one. */
  waited: number;
  /**
   * Of `waited`, those whose client was idle (a new connection, or one quiet for `idleClientMs`): they
   * waited in the line ahead of clients that loop back-to-back.
   */
  waitedIdle: number;
  /**
   * Of `waited`, those sent right after a 503 on their connection (a retry that ignored `Retry-After`):
   * they waited behind the others.
   */
  waitedRetry: number;
  shed: { total: number; byReason: Record<ShedReason, number>; byPriority: Record<string, number> };
  /** Mean event-loop delay over the last half second, in ms. */
  eventLoopDelayMs: number;
  /** Event-loop utilisation (0…1) over the last half second. */
  eventLoopUtilization: number;
}

/** Diagnostics channel of the limiter: `{ type: 'shed', … }` and `{ type: 'limit', … }` messages. */
export const overloadChannel = channel('weir:overload');

/** Pressure stays raised this long after the last shed. */
const CALM_AFTER_MS = 1000;
/** How often the event loop's delay is read. */
const LOOP_EVERY_MS = 500;

export class OverloadLimiter {
  readonly settings: OverloadSettings;
  readonly #limit: AdaptiveLimit;
  readonly #queue: WaitQueue<Entrant>;
  #inFlight = 0;
  #pumping = false;
  #expiry: NodeJS.Timeout | undefined;
  /** Serves stale requests the queue holds back, if nothing has arrived by then. */
  #held: NodeJS.Timeout | undefined;
  #loop: NodeJS.Timeout | undefined;
  #delay: IntervalHistogram | undefined;
  #elu = performance.eventLoopUtilization();
  #calm: NodeJS.Timeout | undefined;
  #probeTimer: NodeJS.Timeout | undefined;
  #lastShed = 0;
  #closed = false;
  #admitted = 0;
  #waited = 0;
  #waitedIdle = 0;
  #waitedRetry = 0;
  #shed = {
    total: 0,
    byReason: { 'queue-full': 0, 'queue-timeout': 0, shedding: 0 },
    byPriority: {} as Record<string, number>,
  };
  #loopDelayMs = 0;
  #loopUse = 0;

  constructor(settings: OverloadSettings) {
    this.settings = settings;
    let mark = performance.eventLoopUtilization();
    this.#limit = new AdaptiveLimit(settings, () => {
      const now = performance.eventLoopUtilization();
      const { utilization } = performance.eventLoopUtilization(now, mark);
      mark = now;
      return utilization;
    });
    this.#queue = new WaitQueue(settings.maxQueue, settings.queueTimeoutMs, settings.lifoAfterMs, {
      staleAfterMs: settings.staleAfterMs,
      // A client that retried at once after a 503 waits as long again as `Retry-After` told it to.
      retryTimeoutMs: settings.queueTimeoutMs + settings.retryAfterSeconds * 1000,
      throttledUntil: () => this.#limit.probedUntil,
    });
  }

  get limit(): number {
    return this.#limit.limit;
  }

  get inFlight(): number {
    return this.#inFlight;
  }

  /**
   * A slot now, when one is free and nobody waits: the caller runs the request and calls
   * {@link release} when it ends. Otherwise false: the caller hands it to {@link wait}.
   */
  tryEnter(): boolean {
    if (this.#loop === undefined && !this.#closed) this.#watchLoop();
    if (this.#limit.probing) this.#probeClock();
    if (this.#inFlight < this.#limit.limit && this.#queue.size === 0) {
      this.#inFlight++;
      this.#admitted++;
      return true;
    }
    return false;
  }

  /** Queues `e` for a slot; it is run, or shed, exactly once (or dropped unanswered if its client left). */
  wait(e: Entrant): void {
    const turnedAway = this.#queue.push(e);
    if (turnedAway !== undefined) this.#turnAway(turnedAway, 'queue-full', performance.now());
    if (turnedAway !== e && this.#expiry === undefined)
      this.#armExpiry(e.since + this.settings.queueTimeoutMs);
    this.#pump();
  }

  /**
   * A request that held a slot has its response (its handler returned; a streamed body may still be
   * going out, at the client's pace) or its client left: `latencyMs` from its start, judged against
   * `route`; `failed` when it ended as a sign of overload (a 503 or 504 of its own, a timeout); `now`, the
   * caller's `performance.now()` when it has just read it.
   */
  release(
    latencyMs: number,
    route: RouteLatency,
    inFlightAtStart: number,
    failed: boolean,
    now = performance.now(),
  ): void {
    this.#inFlight--;
    const updated = failed
      ? this.#limit.drop(now)
      : this.#limit.sample(latencyMs, route, inFlightAtStart, now, this.#queue.size > 0);
    if (updated && overloadChannel.hasSubscribers) {
      overloadChannel.publish({
        type: 'limit',
        limit: this.#limit.limit,
        inFlight: this.#inFlight,
        queued: this.#queue.size,
        lifo: this.#queue.lifo,
      });
    }
    if (this.#queue.size > 0) this.#pump();
  }

  /**
   * Counts a request turned away without waiting because the limiter sheds (a new WebSocket), as
   * `shedding` at `priority`, in the counters and on `weir:overload`. It does not prolong the shedding:
   * a client that keeps retrying cannot keep the limiter in that state.
   */
  refused(priority: number): void {
    this.#count('shedding', priority, 0);
  }

  /** True while the limiter sheds requests, and for a second after the last (when consumers yield too). */
  get shedding(): boolean {
    return this.#calm !== undefined;
  }

  stats(): OverloadStats {
    return {
      limit: this.#limit.limit,
      inFlight: this.#inFlight,
      queued: this.#queue.size,
      lifo: this.#queue.lifo,
      shedding: this.shedding,
      admitted: this.#admitted,
      waited: this.#waited,
      waitedIdle: this.#waitedIdle,
      waitedRetry: this.#waitedRetry,
      shed: {
        total: this.#shed.total,
        byReason: { ...this.#shed.byReason },
        byPriority: { ...this.#shed.byPriority },
      },
      eventLoopDelayMs: this.#loopDelayMs,
      eventLoopUtilization: this.#loopUse,
    };
  }

  /** Stops the timers and sheds every waiting request (the server is stopping). */
  close(): void {
    this.#closed = true;
    clearTimeout(this.#expiry);
    clearInterval(this.#loop);
    clearTimeout(this.#calm);
    clearTimeout(this.#probeTimer);
    clearTimeout(this.#held);
    this.#delay?.disable();
    this.#expiry = this.#loop = this.#calm = this.#held = undefined;
    if (pressure.raised) pressure.set(false);
    const now = performance.now();
    for (const e of this.#queue.drain()) this.#turnAway(e, 'queue-timeout', now, false);
  }

  /**
   * While the limit probes, a timer ends the probe on time and lets waiting requests in. One reading of
   * the clock decides: whichever call finds the probe's time up lets the waiting requests in. (The timer
   * can fire a moment before performance.now() says its delay has passed, Node's timers counting from the
   * loop's cached time; it used to look twice, and a second look that ended the probe let nobody in.)
   */
  #probeClock(): void {
    const limit = this.#limit;
    const now = performance.now();
    if (limit.tick(now)) {
      this.#pump();
      return;
    }
    if (this.#probeTimer !== undefined || !limit.probing || this.#closed) return;
    this.#probeTimer = setTimeout(
      () => {
        this.#probeTimer = undefined;
        this.#probeClock();
      },
      Math.max(1, limit.probeEndsAt - now + 1),
    );
    this.#probeTimer.unref();
  }

  #pump(lull = false): void {
    if (this.#pumping) return;
    this.#pumping = true;
    try {
      while (this.#inFlight < this.#limit.limit && this.#queue.size > 0) {
        const e = this.#queue.next(performance.now(), lull);
        if (e === undefined) break;
        this.#inFlight++;
        this.#admitted++;
        this.#waited++;
        if (e.idle) this.#waitedIdle++;
        else if (e.retry) this.#waitedRetry++;
        e.run();
      }
    } finally {
      this.#pumping = false;
    }
    const heldUntil = this.#queue.heldUntil;
    if (!Number.isNaN(heldUntil) && this.#held === undefined && !this.#closed) this.#hold(heldUntil);
  }

  /**
   * The queue holds stale requests back while requests keep arriving: at `until`, once the loop has
   * polled for new ones (a check-phase callback runs right after the poll), they are served if none came.
   */
  #hold(until: number): void {
    this.#held = setTimeout(
      () =>
        setImmediate(() => {
          this.#held = undefined;
          if (!this.#closed) this.#pump(true);
        }),
      Math.max(1, until - performance.now()),
    );
  }

  /**
   * Left armed when the queue empties (it then fires, finds nothing and stops), so that a queue which
   * empties and fills by turns does not set and clear a timer per request; unref'd, as it keeps nothing
   * alive. An armed timer is never later than a newer request's time: it was set for an older one's.
   */
  #armExpiry(at: number): void {
    clearTimeout(this.#expiry);
    this.#expiry = setTimeout(() => this.#expire(), Math.max(1, at - performance.now()));
    this.#expiry.unref();
  }

  #expire(): void {
    this.#expiry = undefined;
    const now = performance.now();
    const { expired, nextAt } = this.#queue.expire(now);
    for (const e of expired) this.#turnAway(e, 'queue-timeout', now);
    if (nextAt !== Number.POSITIVE_INFINITY) this.#armExpiry(nextAt);
  }

  #turnAway(e: Entrant, reason: ShedReason, now: number, raise = true): void {
    this.#count(reason, e.priority, now - e.since);
    if (raise) this.#raise(now);
    e.shed(reason, now);
  }

  /** Counts one request turned away, and tells `weir:overload`. */
  #count(reason: ShedReason, priority: number, waitedMs: number): void {
    const shed = this.#shed;
    shed.total++;
    shed.byReason[reason]++;
    const name = priorityName(priority);
    shed.byPriority[name] = (shed.byPriority[name] ?? 0) + 1;
    if (overloadChannel.hasSubscribers) {
      overloadChannel.publish({ type: 'shed', reason, priority: name, waitedMs });
    }
  }

  #raise(now: number): void {
    this.#lastShed = now;
    if (this.#calm !== undefined) return;
    pressure.set(true);
    const check = (): void => {
      const quiet = performance.now() - this.#lastShed;
      if (quiet >= CALM_AFTER_MS) {
        this.#calm = undefined;
        pressure.set(false);
      } else {
        this.#calm = setTimeout(check, CALM_AFTER_MS - quiet);
        this.#calm.unref();
      }
    };
    this.#calm = setTimeout(check, CALM_AFTER_MS);
    this.#calm.unref();
  }

  /** Reads the event loop's delay and use every half second; a stalled loop shrinks the limit. */
  #watchLoop(): void {
    const delay = monitorEventLoopDelay({ resolution: 10 });
    delay.enable();
    this.#delay = delay;
    this.#loop = setInterval(() => {
      // The histogram's unit is nanoseconds; its mean includes the 10 ms resolution.
      const mean = delay.count > 0 ? delay.mean / 1e6 - 10 : 0;
      delay.reset();
      const use = performance.eventLoopUtilization(this.#elu);
      this.#elu = performance.eventLoopUtilization();
      this.#loopDelayMs = Math.max(0, mean);
      this.#loopUse = use.utilization;
      if (this.#loopDelayMs > this.settings.maxEventLoopDelayMs) this.#limit.drop(performance.now());
    }, LOOP_EVERY_MS);
    this.#loop.unref();
  }
}
