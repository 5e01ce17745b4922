import { invalidOption } from '../errors.ts';

/** A request's class under overload: a name, or a number (0…1000, higher is more important). */
export type Priority = 'critical' | 'normal' | 'batch' | number;

const NAMED: Record<string, number> = { critical: 300, normal: 200, batch: 100 };

/** The number of the default class, `normal`. */
export const NORMAL_PRIORITY = NAMED.normal as number;

/** The number of `priority`. @throws `WEIR_ERR_INVALID_OPTION` when it is neither a name nor 0…1000. */
export function priorityOf(priority: Priority, name = 'priority'): number {
  if (typeof priority === 'string' && NAMED[priority] !== undefined) return NAMED[priority];
  if (typeof priority === 'number' && Number.isInteger(priority) && priority >= 0 && priority <= 1000) {
    return priority;
  }
  throw invalidOption(name, '"critical", "normal", "batch" or an integer 0…1000', priority);
}

/** The name of a priority number, as counters and logs show it. */
export function priorityName(priority: number): string {
  for (const name in NAMED) if (NAMED[name] === priority) return name;
  return String(priority);
}

/** The limiter's knobs. Every one has a default; `overload: false` on the App turns the limiter off. */
export interface OverloadOptions {
  /** The limit at start. @default 64 */
  initialLimit?: number;
  /** The limit never goes below this. @default 4 */
  minLimit?: number;
  /** The limit never goes above this. @default 1000 */
  maxLimit?: number;
  /**
   * How far a route's latency may rise over its no-load latency (as a factor) before the limit shrinks.
   * @default 2
   */
  tolerance?: number;
  /** Latencies under this are never taken as a sign of queueing (ms). @default 1 */
  latencyFloorMs?: number;
  /** The limit is updated at most once per window (ms). @default 100 */
  windowMs?: number;
  /** Requests that may wait for a slot; past it, the oldest of the lowest class is shed. @default 10_000 */
  maxQueue?: number;
  /** The longest a request waits for a slot before it is shed (ms). @default 1000 */
  queueTimeoutMs?: number;
  /**
   * Once serving the waiting backlog in order would take this long (ms) and its oldest request is stale
   * (`staleAfterMs`), the newest are served first, until the queue has emptied or the backlog could have
   * been served in order within half of this for 100 ms. @default 300
   */
  lifoAfterMs?: number;
  /**
   * A request that has waited this long is stale (ms): while the newest are served first, it is served
   * only when no fresher request of its class waits and none has arrived for 10 ms (the load has passed);
   * the slot is left for a request that arrives instead, so that served requests' waits stay under this.
   * @default 50
   */
  staleAfterMs?: number;
  /**
   * A waiting request whose client was idle at least this long since its previous answer on the same
   * connection (or that opened a new one) is served ahead of the requests of its class sent right after
   * an answer: under overload a light or a new client is not queued behind clients that loop back-to-back
   * (ms; 0 treats every request alike). @default 50
   */
  idleClientMs?: number;
  /** A mean event-loop delay above this (ms, per half second) shrinks the limit. @default 100 */
  maxEventLoopDelayMs?: number;
  /**
   * `Retry-After` of a shed request, in seconds. A client that sends its next request on the connection
   * within `idleClientMs` of the 503 (ignoring it) waits behind its class's other requests, for up to
   * `queueTimeoutMs` plus this. @default 1
   */
  retryAfterSeconds?: number;
}

export type OverloadSettings = Required<OverloadOptions>;

const DEFAULTS: OverloadSettings = {
  initialLimit: 64,
  minLimit: 4,
  maxLimit: 1000,
  tolerance: 2,
  latencyFloorMs: 1,
  windowMs: 100,
  maxQueue: 10_000,
  queueTimeoutMs: 1000,
  lifoAfterMs: 300,
  staleAfterMs: 50,
  idleClientMs: 50,
  maxEventLoopDelayMs: 100,
  retryAfterSeconds: 1,
};

/** `options` over the defaults, checked. @throws `WEIR_ERR_INVALID_OPTION` naming the first bad one. */
export function overloadSettings(options: OverloadOptions = {}): OverloadSettings {
  if (typeof options !== 'object' || options === null) {
    throw invalidOption('overload', 'false or an options object', options);
  }
  const s: OverloadSettings = { ...DEFAULTS };
  for (const key of Object.keys(DEFAULTS) as (keyof OverloadSettings)[]) {
    const value = options[key];
    if (value === undefined) continue;
    const integer = key === 'initialLimit' || key === 'minLimit' || key === 'maxLimit' || key === 'maxQueue';
    const min = key === 'maxQueue' || key === 'latencyFloorMs' || key === 'idleClientMs' ? 0 : 1;
    if (
      typeof value !== 'number' ||
      !Number.isFinite(value) ||
      value < min ||
      (integer && !Number.isInteger(value))
    ) {
      throw invalidOption(`overload.${key}`, `${integer ? 'an integer' : 'a number'} ≥ ${min}`, value);
    }
    s[key] = value;
  }
  if (s.minLimit > s.maxLimit)
    throw invalidOption('overload.minLimit', `at most maxLimit (${s.maxLimit})`, s.minLimit);
  s.initialLimit = Math.min(s.maxLimit, Math.max(s.minLimit, s.initialLimit));
  return s;
}
