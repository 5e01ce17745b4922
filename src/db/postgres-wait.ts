/**
 * `acquireTimeoutMs` for weir's requests for a pooled PostgreSQL connection, on one timer per pool.
 *
 * pg's pool times each request with a timer of its own, armed and cleared on every checkout, even of a
 * connection that is idle and handed over on the next tick: a third of what a checkout costs (~650 ns
 * with it, ~430 ns without, bench/db/pool-checkout.mjs); this line adds ~75 ns, most of it the clock
 * read. Every wait here has the same length, so the deadlines come in the order the
 * requests do: the line is first-in first-out, and one timer, due no later than its oldest deadline, is
 * all it needs. It is not cleared when the line empties: it fires once, finds nothing, and is not armed
 * again, so a busy pool re-arms it about once per `acquireTimeoutMs` and an idle one has none.
 * A request leaves the line when the pool answers it (pg answers in order, but for a request it had to
 * open a connection for: such one leaves once those before it have), or when its deadline passes: it is
 * then refused (`Wait.expire`) and stays in pg's line until pg reaches it (pg has no public way to
 * withdraw one); the connection it then gets goes straight back, as for a request whose signal fired
 * (see postgres-state.ts).
 */
import { Fifo } from '../internal/fifo.ts';
import type { AcquireTimer } from './observe.ts';

/** One request for a connection, from when it is asked until the pool answers it or its deadline passes. */
export class Wait {
  /** When it is refused if not answered (performance.now()). */
  readonly deadline: number;
  /** Its `weir:db.acquire` timer, while the channel is observed. */
  readonly timer: AcquireTimer | undefined;
  /** The request's refusal: called once, with the line's error, when its deadline passes first. */
  readonly #reject: (reason: unknown) => void;
  answered = false;
  /** Its deadline passed first: the connection, when it comes, goes straight back. */
  expired = false;

  constructor(deadline: number, timer: AcquireTimer | undefined, reject: (reason: unknown) => void) {
    this.deadline = deadline;
    this.timer = timer;
    this.#reject = reject;
  }

  /** @internal */
  expire(reason: unknown): void {
    this.expired = true;
    this.timer?.end(false);
    this.#reject(reason);
  }
}

export class WaitLine {
  readonly #ms: number;
  readonly #timedOut: () => unknown;
  readonly #line = new Fifo<Wait>();
  #timer: NodeJS.Timeout | undefined;

  /** `ms`: how long a request may wait, 1 … 2^31 − 1; `timedOut`: the error of one that waited that long. */
  constructor(ms: number, timedOut: () => unknown) {
    this.#ms = ms;
    this.#timedOut = timedOut;
  }

  /** A new request, refused with `reject` if the pool has not answered it within the line's time. */
  add(timer: AcquireTimer | undefined, reject: (reason: unknown) => void): Wait {
    const wait = new Wait(performance.now() + this.#ms, timer, reject);
    this.#line.push(wait);
    // A timer still armed is due no later than this deadline: it was armed for an older one.
    if (this.#timer === undefined) this.#arm(this.#ms);
    return wait;
  }

  /** The pool answered `wait` (with a connection or an error); it leaves the line, with any answered before it. */
  answered(wait: Wait): void {
    wait.answered = true;
    let first = this.#line.first();
    while (first?.answered) {
      this.#line.shift();
      first = this.#line.first();
    }
  }

  #arm(ms: number): void {
    this.#timer = setTimeout(this.#fire, ms);
    this.#timer.unref();
  }

  readonly #fire = (): void => {
    this.#timer = undefined;
    const now = performance.now();
    let first = this.#line.first();
    while (first !== undefined && (first.answered || first.deadline <= now)) {
      this.#line.shift();
      if (!first.answered) first.expire(this.#timedOut());
      first = this.#line.first();
    }
    // Node can run a timer a little before its delay has passed by this clock: then it is armed again for
    // what is left (rounded up).
    if (first !== undefined) this.#arm(Math.max(1, Math.ceil(first.deadline - now)));
  };
}
