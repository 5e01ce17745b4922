/** What the dispatcher keeps per route, and the per-route options it reads. */
import type { RouteLatency } from '../overload/limit.ts';
import type { Priority } from '../overload/options.ts';
import type { RouteSettings } from './app-runtime.ts';
import type { CallbackChain, Chain, Middleware } from './compose.ts';

/** A route ready to serve. */
export interface Route {
  /** The path pattern as registered (`/users/:id`), `(unmatched)` for the 404 route. */
  readonly pattern: string;
  readonly run: Chain;
  /** The chain's callback form, when it has one (see compose.ts). */
  readonly callback: CallbackChain | undefined;
  readonly settings: RouteSettings;
  readonly timeoutMs: number | undefined;
  /** Its class under overload (see weir/overload); `-1`: never limited nor shed. */
  readonly priority: number;
  /** Its no-load latency, which the overload limiter judges its latency by. */
  readonly latency: RouteLatency;
  /**
   * The middleware of the app that owns the route (and of the apps it is mounted in), without the
   * route's own: what wraps the automatic OPTIONS and 405 answers on its path.
   */
  readonly appMiddleware: readonly Middleware<object>[];
}

/** Per-route options the dispatcher needs. */
export interface RouteLimits {
  readonly bodyLimitBytes?: number;
  readonly maxJsonDepth?: number;
  readonly minBodyRateBytesPerSecond?: number;
  readonly bodyRateGraceMs?: number;
  readonly timeoutMs?: number;
  readonly priority?: Priority;
  /** `false`: the overload limiter neither counts nor sheds this route (health checks, metrics). */
  readonly shed?: boolean;
  /** Overrides the app's `decompressBodies`. */
  readonly decompressBodies?: boolean;
}
