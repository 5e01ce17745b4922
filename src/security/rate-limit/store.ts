/**
 * Where rate-limit state lives, and the one algorithm every store runs: GCRA (the generic cell rate
 * algorithm, as in ATM networks and `redis-cell`). A key's whole state is one number, its theoretical
 * arrival time (TAT): the moment its allowance would be whole again. A request costing `cost` is allowed
 * when moving the TAT forward by `cost × emission` (emission = window ÷ limit) leaves it at most one
 * window ahead of now. So `limit` requests may come at once, and then one per `emission`, smoothly: no
 * burst of 2 × limit at a fixed window's edge.
 */

/** What one check decided. */
export interface RateDecision {
  readonly allowed: boolean;
  /** Requests still allowed right now after this one. */
  readonly remaining: number;
  /** Milliseconds until the allowance is whole again. */
  readonly resetMs: number;
  /** When refused, milliseconds until this request would be allowed; else 0. */
  readonly retryAfterMs: number;
}

/** A GCRA step's inputs: the emission interval and the window, in ms; `cost` in requests. */
export interface RateParams {
  readonly emissionMs: number;
  readonly windowMs: number;
  readonly cost: number;
  /** `false`: only look (peek), change nothing. */
  readonly consume: boolean;
}

/** A backend for rate-limit state. */
export interface RateLimitStore {
  /** `memory` or `redis`. */
  readonly backend: string;
  /** Where the state lives, password redacted. */
  readonly url: string;
  /** Runs one GCRA step on `key`, atomically. Rejects when the backend cannot answer. */
  check(key: string, params: RateParams): Promise<RateDecision>;
  /** Forgets `key` (its allowance is whole again). */
  reset(key: string): Promise<void>;
  close(): Promise<void>;
}

// Float error on fractional emission intervals must not cost a request.
const EPSILON = 1e-6;

/** Decision and new TAT from a key's current TAT (`undefined`: never seen or long since whole). */
export function gcra(
  tat: number | undefined,
  now: number,
  params: RateParams,
): { decision: RateDecision; tat: number | undefined } {
  const { emissionMs, windowMs, cost } = params;
  const start = tat === undefined || tat < now ? now : tat;
  const next = start + emissionMs * cost;
  if (next - now > windowMs + EPSILON) {
    return {
      decision: {
        allowed: false,
        remaining: Math.max(0, Math.floor((windowMs - (start - now)) / emissionMs + EPSILON)),
        resetMs: start - now,
        retryAfterMs: next - windowMs - now,
      },
      tat,
    };
  }
  return {
    decision: {
      allowed: true,
      remaining: Math.max(0, Math.floor((windowMs - (next - now)) / emissionMs + EPSILON)),
      resetMs: next - now,
      retryAfterMs: 0,
    },
    tat: params.consume ? next : tat,
  };
}
