import type { IncomingMessage, ServerResponse } from 'node:http';
import { httpError, isHttpError } from '../errors.ts';
import { RouteLatency } from '../overload/limit.ts';
import type { OverloadLimiter } from '../overload/limiter.ts';
import { NORMAL_PRIORITY, priorityOf } from '../overload/options.ts';
import type { AppRuntime, RouteSettings } from './app-runtime.ts';
import {
  type CallbackChain,
  type Chain,
  compose,
  type ErrorResult,
  isThenable,
  kCallbackChain,
  type Middleware,
} from './compose.ts';
import { Context } from './context.ts';
import { armDeadline } from './deadline.ts';
import { errorResponder } from './error-response.ts';
import { FALLBACKS, fallbackKind } from './fallbacks.ts';
import { answered, clientState, giveBack } from './limited.ts';
import { observeRequest, requestChannel, UNMATCHED } from './observe.ts';
import { type Admission, runAdmission, shedRequest } from './pipeline.ts';
import { checkRequest, readTarget } from './protocol.ts';
import { WeirResponse } from './response.ts';
import type { Route, RouteLimits } from './route.ts';
import { type PathEntry, Router } from './router.ts';
import { deliver } from './send.ts';
import { kWsRoute, type WsRoute } from './ws-route.ts';

/**
 * The frozen side of an App: the routes, each with its middleware composed once, and the request
 * listener. Per request: the protocol checks, admission when installed, one router lookup, one Context,
 * the route's chain, one `deliver()`.
 */

const EMPTY_PARAMS: Record<string, string> = Object.freeze(Object.create(null));
const NO_SETTINGS: RouteSettings = {
  bodyLimitBytes: undefined,
  maxJsonDepth: undefined,
  bodyRate: undefined,
  decompressBodies: undefined,
};

export class Dispatcher {
  readonly #router = new Router<Route>();
  readonly #fallbacks = new Map<PathEntry<Route>, Map<string, Route>>();
  readonly #middleware: readonly Middleware<object>[];
  readonly #admission: Admission | undefined;
  readonly #runtime: AppRuntime;
  readonly #errorResult: ErrorResult;
  readonly #notFound: Route;
  /** The WebSocket routes (method `WS` in the router) and their settings; see upgrade.ts. */
  readonly #ws = new Map<Route, WsRoute>();
  #allowAllHeader: string | undefined;

  /** `middleware` is the app's own, which also wraps the 404, 405 and automatic OPTIONS answers. */
  constructor(
    runtime: AppRuntime,
    middleware: readonly Middleware<object>[],
    admission: Admission | undefined,
  ) {
    this.#runtime = runtime;
    this.#middleware = middleware;
    this.#admission = admission;
    this.#errorResult = errorResponder(runtime);
    this.#notFound = this.#makeRoute(UNMATCHED, (ctx) => {
      throw httpError('WEIR_ERR_NOT_FOUND', `No route for ${ctx.method} ${ctx.path}`);
    });
  }

  /** Adds a route; `middleware` is its whole chain, outermost first. */
  add(
    method: string,
    path: string,
    middleware: readonly Middleware<object>[],
    run: Chain,
    limits: RouteLimits,
    appMiddleware: readonly Middleware<object>[] = this.#middleware,
  ): void {
    const route = this.#makeRoute(path, run, limits, middleware, appMiddleware);
    const ws = (run as { [kWsRoute]?: WsRoute })[kWsRoute];
    if (ws !== undefined) this.#ws.set(route, ws);
    this.#router.add(method, path, route);
  }

  /** True when the app has WebSocket routes: its server then listens for upgrades. */
  get hasWebSockets(): boolean {
    return this.#ws.size > 0;
  }

  /** Turns a thrown value into the response to send (for upgrade.ts). */
  get errorResult(): ErrorResult {
    return this.#errorResult;
  }

  /** The WebSocket route of `path`, its chain and its params; undefined when the path has none. */
  wsRoute(
    path: string,
  ): { run: Chain; params: Record<string, string>; ws: WsRoute; pattern: string } | undefined {
    const match = this.#router.find(path);
    const route = match?.entry.methods.get('WS');
    const ws = route === undefined ? undefined : this.#ws.get(route);
    return ws === undefined
      ? undefined
      : { run: route!.run, params: match!.params, ws, pattern: route!.pattern };
  }

  /** Ends registration. */
  seal(): void {
    this.#router.seal();
  }

  /** Every route as `METHOD path`. */
  routes(): string[] {
    return this.#router
      .entries()
      .flatMap((entry) => [...entry.methods.keys()].map((m) => `${m === '*' ? 'ALL' : m} ${entry.pattern}`));
  }

  #makeRoute(
    pattern: string,
    run: Chain,
    limits: RouteLimits = {},
    middleware = this.#middleware,
    appMiddleware = this.#middleware,
  ): Route {
    const rate = limits.minBodyRateBytesPerSecond;
    const grace = limits.bodyRateGraceMs;
    // Merged here, once per route, so a request reads one object either way.
    const bodyRate =
      rate === undefined && grace === undefined
        ? undefined
        : {
            minBytesPerSecond: rate ?? this.#runtime.bodyRate.minBytesPerSecond,
            graceMs: grace ?? this.#runtime.bodyRate.graceMs,
          };
    const chain = compose(middleware, run, this.#errorResult);
    return {
      pattern,
      run: chain,
      callback: (chain as { [kCallbackChain]?: CallbackChain })[kCallbackChain],
      settings:
        limits.bodyLimitBytes === undefined &&
        limits.maxJsonDepth === undefined &&
        bodyRate === undefined &&
        limits.decompressBodies === undefined
          ? NO_SETTINGS
          : {
              bodyLimitBytes: limits.bodyLimitBytes,
              maxJsonDepth: limits.maxJsonDepth,
              bodyRate,
              decompressBodies: limits.decompressBodies,
            },
      timeoutMs: limits.timeoutMs,
      priority:
        limits.shed === false
          ? -1
          : limits.priority === undefined
            ? NORMAL_PRIORITY
            : priorityOf(limits.priority),
      latency: new RouteLatency(),
      appMiddleware,
    };
  }

  /** The route for a method the path has no handler for: HEAD→GET, ALL, automatic OPTIONS, else 405. */
  #fallback(entry: PathEntry<Route>, method: string): Route {
    const methods = entry.methods;
    const get = methods.get('GET');
    if (method === 'HEAD' && get !== undefined) return get;
    const all = methods.get('*');
    if (all !== undefined) return all;
    let cache = this.#fallbacks.get(entry);
    if (cache === undefined) {
      cache = new Map();
      this.#fallbacks.set(entry, cache);
    }
    const kind = fallbackKind(method, methods);
    let route = cache.get(kind);
    if (route === undefined) {
      const allow = entry.allow;
      // The path's own app's middleware wraps the answer (a mounted API's cors() answers its preflights),
      // when every route on the path comes from one app; else the root app's.
      const owners = new Set([...methods.values()].map((r) => r.appMiddleware));
      const wrap = owners.size === 1 ? ([...owners][0] as readonly Middleware<object>[]) : this.#middleware;
      route = this.#makeRoute(entry.pattern, FALLBACKS[kind](allow), {}, wrap, wrap);
      cache.set(kind, route);
    }
    return route;
  }

  /** The Node request listener. */
  readonly handle = (req: IncomingMessage, res: ServerResponse): void => {
    // Observers time a request from its arrival; without them, no clock is read.
    const arrived = requestChannel.hasSubscribers ? performance.now() : -1;
    const method = req.method ?? 'GET';
    let url = req.url ?? '/';
    const refused = checkRequest(req);
    if (refused !== undefined) {
      this.#refuse(req, res, method, url, refused, arrived);
      return;
    }
    if (this.#admission !== undefined && !runAdmission(this.#admission, req, res, this.#runtime)) return;
    if (url.charCodeAt(0) !== 47 /* "/" */) {
      const target = readTarget(url, method);
      if ('url' in target) {
        url = target.url;
      } else {
        this.#refuse(req, res, method, url, 'error' in target ? target.error : this.#allowAll(), arrived);
        return;
      }
    }
    const q = url.indexOf('?');
    const path = q === -1 ? url : url.slice(0, q);
    let route: Route;
    let params = EMPTY_PARAMS;
    const match = this.#router.find(path);
    if (match === undefined) {
      route = this.#notFound;
    } else {
      route = match.entry.methods.get(method) ?? this.#fallback(match.entry, method);
      params = match.params;
    }
    const limiter = this.#runtime.limiter;
    if (limiter === undefined || route.priority < 0) {
      this.#serve(req, res, method, path, q === -1 ? '' : url.slice(q + 1), params, route, arrived);
    } else if (limiter.tryEnter()) {
      const query = q === -1 ? '' : url.slice(q + 1);
      this.#serveLimited(limiter, req, res, method, path, query, params, route, arrived);
    } else {
      const query = q === -1 ? '' : url.slice(q + 1);
      const since = performance.now();
      const client = clientState(req.socket, since, limiter.settings.idleClientMs);
      limiter.wait({
        priority: route.priority,
        idle: client === 'idle',
        retry: client === 'retry',
        since,
        alive: () => req.socket?.destroyed !== true,
        run: () => this.#serveLimited(limiter, req, res, method, path, query, params, route, arrived),
        shed: (_reason, now) => {
          answered(req.socket, now, true);
          shedRequest(req, res, this.#runtime, limiter.settings.retryAfterSeconds);
        },
      });
    }
  };

  /**
   * Serves a request that holds one of the limiter's slots, and gives the slot back once its handler
   * has answered (a streamed body then goes out at the client's pace, holding no slot) or its client
   * has left, whichever is first.
   */
  #serveLimited(
    limiter: OverloadLimiter,
    req: IncomingMessage,
    res: ServerResponse,
    method: string,
    path: string,
    query: string,
    params: Record<string, string>,
    route: Route,
    arrived: number,
  ): void {
    const started = performance.now();
    const inFlight = limiter.inFlight;
    let held = true;
    const release = (): void => {
      if (!held) return;
      held = false;
      giveBack(limiter, req.socket, res, route, started, inFlight);
    };
    if (!this.#serve(req, res, method, path, query, params, route, arrived, release)) {
      held = false;
      giveBack(limiter, req.socket, res, route, started, inFlight);
      return;
    }
    // Left in place once called (the response's 'close' then finds `held` false): one call then instead
    // of a removeListener per request; `once` would wrap it in two more objects per request.
    if (held) res.on('close', release);
  }

  /**
   * Runs the route. True when its answer may be asynchronous: `done`, when given, is then called once
   * the answer has been handed to `deliver()`, possibly before this returns (never when this returns
   * false).
   */
  #serve(
    req: IncomingMessage,
    res: ServerResponse,
    method: string,
    path: string,
    query: string,
    params: Record<string, string>,
    route: Route,
    arrived: number,
    done?: () => void,
  ): boolean {
    const ctx = new Context(req, res, method, path, query, params, route.settings, this.#runtime);
    if (arrived >= 0) observeRequest(ctx, route.pattern, arrived, this.#runtime);
    const tracer = this.#runtime.tracer;
    if (tracer !== undefined) tracer.start(ctx, route.pattern, arrived);
    if (params !== EMPTY_PARAMS && !decodeParams(params)) {
      const malformed = httpError('WEIR_ERR_BAD_REQUEST', 'Malformed percent-encoding in the path');
      deliver(ctx, this.#errorResult(ctx, malformed), this.#errorResult);
      return false;
    }
    if (
      (route.timeoutMs !== undefined || this.#runtime.trustDeadline !== undefined) &&
      !armDeadline(ctx, route.timeoutMs, this.#runtime, this.#errorResult)
    ) {
      return false;
    }
    const callback = route.callback;
    if (callback !== undefined) {
      // deliver() never throws; `done` may run before this returns (a refusal decided from the head).
      const answer = (failed: boolean, value: unknown): void => {
        deliver(ctx, failed ? this.#errorResult(ctx, value) : value, this.#errorResult);
        done?.();
      };
      try {
        if (tracer === undefined) callback(ctx, answer);
        else tracer.run(ctx, (c) => callback(c, answer));
      } catch (err) {
        answer(true, err);
      }
      return true;
    }
    let result: unknown;
    try {
      result = tracer === undefined ? route.run(ctx) : tracer.run(ctx, route.run);
    } catch (err) {
      result = this.#errorResult(ctx, err);
    }
    if (isThenable(result)) {
      // deliver() never throws: `done` runs after it in the same callback, with no promise of its own.
      result.then(
        (value) => {
          deliver(ctx, value, this.#errorResult);
          done?.();
        },
        (err: unknown) => {
          deliver(ctx, this.#errorResult(ctx, err), this.#errorResult);
          done?.();
        },
      );
      return true;
    }
    deliver(ctx, result, this.#errorResult);
    return false;
  }

  /**
   * Answers a request refused before routing (see protocol.ts) without running middleware: it never
   * named a resource of the app. `value` is an error, or the response to `OPTIONS *`.
   */
  #refuse(
    req: IncomingMessage,
    res: ServerResponse,
    method: string,
    target: string,
    value: unknown,
    arrived: number,
  ): void {
    // A target that is not a path reaches the log JSON-escaped and cut at 64 characters.
    const path = target.charCodeAt(0) === 47 ? target.split('?', 1)[0]! : JSON.stringify(target.slice(0, 64));
    const ctx = new Context(req, res, method, path, '', EMPTY_PARAMS, NO_SETTINGS, this.#runtime);
    if (arrived >= 0) observeRequest(ctx, UNMATCHED, arrived, this.#runtime);
    this.#runtime.tracer?.start(ctx, UNMATCHED, arrived);
    deliver(ctx, isHttpError(value) ? this.#errorResult(ctx, value) : value, this.#errorResult);
  }

  /** `OPTIONS *`: 204 with every method some route of the app answers (RFC 9110 §9.3.7). */
  #allowAll(): WeirResponse {
    this.#allowAllHeader ??= [
      ...new Set(this.#router.entries().flatMap((entry) => entry.allow.split(', '))),
    ].join(', ');
    return new WeirResponse(undefined, 204, { allow: this.#allowAllHeader });
  }
}

/** Decodes percent-encoded params in place; false when one is malformed. */
function decodeParams(params: Record<string, string>): boolean {
  for (const name in params) {
    const value = params[name]!;
    if (value.includes('%')) {
      try {
        params[name] = decodeURIComponent(value);
      } catch {
        return false;
      }
    }
  }
  return true;
}
