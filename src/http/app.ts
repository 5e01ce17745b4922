import type { IncomingMessage, ServerResponse } from 'node:http';
import { pino } from 'pino';
import { errorBody, errorCodes, httpError, invalidOption, isHttpError, WeirError } from '../errors.ts';
import { type Logger, silentLogger } from '../internal/logger.ts';
import type { Consumer, JobHandler, JobQueue, ProcessOptions } from '../queue/types.ts';
import { DEFAULT_BODY_LIMIT_BYTES, DEFAULT_MAX_JSON_DEPTH } from './body.ts';
import { type Chain, compose, isThenable, type Middleware } from './compose.ts';
import { type AppRuntime, Context, type RouteSettings } from './context.ts';
import { normalizeSecrets } from './cookies.ts';
import { type Admission, armTimeout, runAdmission } from './pipeline.ts';
import { checkRequest, readTarget } from './protocol.ts';
import { WeirResponse } from './response.ts';
import { type PathEntry, Router } from './router.ts';
import { deliver } from './send.ts';
import { type ListenOptions, listen, type ServerHandle } from './server.ts';

/** A job consumer registered with {@link App.worker}, started with the app's workers. */
interface WorkerDef {
  readonly queue: JobQueue<never>;
  readonly handler: JobHandler<never>;
  readonly options: ProcessOptions;
}

/** Options of an {@link App}. */
export interface AppOptions {
  /**
   * Where logs go: a pino logger (or anything with its `error/warn/info/debug`), or `false` for none.
   * @default pino at level `LOG_LEVEL` (default `info`) on stdout
   */
  logger?: Logger | false;
  /** Largest request body `ctx.json()`, `text()`, `form()` and `buffer()` accept. @default 1048576 (1 MiB) */
  bodyLimitBytes?: number;
  /** Deepest nesting of arrays and objects `ctx.json()` accepts; deeper answers 400. @default 64 */
  maxJsonDepth?: number;
  /** Secrets for signed cookies, newest first: signs with the first, verifies with any. Each ≥ 16 chars. */
  cookieSecrets?: string | readonly string[];
  /** Put stack traces in 500 bodies. @default process.env.NODE_ENV === 'development' */
  exposeErrors?: boolean;
}

/** Options of one route. */
export interface RouteOptions {
  /** Overrides the app's `bodyLimitBytes` for this route. */
  bodyLimitBytes?: number;
  /** Overrides the app's `maxJsonDepth` for this route. */
  maxJsonDepth?: number;
  /**
   * A deadline for the whole response: when it passes, `ctx.signal` aborts and the client gets 503
   * `WEIR_ERR_REQUEST_TIMEOUT` (unless the response has started). Off by default.
   */
  timeoutMs?: number;
}

/** A route handler: returns the response value (see the table in `send.ts`), or a promise of it. */
export type Handler<P extends string = string, S extends object = Record<never, never>> = (
  ctx: Context<P, S>,
) => unknown;

type Chainable<P extends string, S extends object> = [...Middleware<S>[], Handler<P, S>];

/** The overloads of `app.get()`, `app.post()` and the other method adders. */
export interface AddRoute<S extends object, A> {
  <P extends string>(path: P, handler: Handler<P, S>): A;
  <P extends string>(path: P, options: RouteOptions, handler: Handler<P, S>): A;
  <P extends string>(path: P, ...chain: Chainable<P, S>): A;
  <P extends string>(path: P, options: RouteOptions, ...chain: Chainable<P, S>): A;
}

/** Runs at start (in order) or at stop (in reverse order). */
export type LifecycleHook = () => void | Promise<void>;

interface RouteDef {
  readonly method: string;
  readonly path: string;
  readonly options: RouteOptions;
  readonly middleware: readonly Middleware<object>[];
  readonly handler: Handler<string, object>;
}

/** A route ready to serve. */
interface Route {
  readonly run: Chain;
  readonly settings: RouteSettings;
  readonly timeoutMs: number | undefined;
}

const EMPTY_PARAMS: Record<string, string> = Object.freeze(Object.create(null));
const NO_SETTINGS: RouteSettings = { bodyLimitBytes: undefined, maxJsonDepth: undefined };

function checkLimit(name: string, value: number | undefined, min = 0): void {
  if (value !== undefined && (!Number.isSafeInteger(value) || value < min)) {
    throw invalidOption(name, min === 0 ? 'a non-negative integer' : `an integer ≥ ${min}`, value);
  }
}

function joinPath(prefix: string, path: string): string {
  if (prefix === '') return path;
  return path === '/' ? prefix : prefix + path;
}

/**
 * A web application: routes, middleware and lifecycle hooks. Configure it, then `listen()` (or hand it to
 * `inject()`); from then on it is frozen.
 *
 * @typeParam S the shape of `ctx.state`, shared by every middleware and handler of the app.
 * @example
 * const app = new App();
 * app.get('/hello/:name', (ctx) => `Hello, ${ctx.params.name}`);
 * await app.listen({ port: 8080 });
 */
export class App<S extends object = Record<never, never>> {
  /** The app's logger. */
  readonly log: Logger;

  readonly get: AddRoute<S, this>;
  readonly post: AddRoute<S, this>;
  readonly put: AddRoute<S, this>;
  readonly patch: AddRoute<S, this>;
  readonly delete: AddRoute<S, this>;
  readonly head: AddRoute<S, this>;
  readonly options: AddRoute<S, this>;
  /** Registers a route for every method. */
  readonly all: AddRoute<S, this>;

  readonly #runtime: AppRuntime;
  readonly #routes: RouteDef[] = [];
  readonly #middleware: Middleware<object>[] = [];
  readonly #mounts: { prefix: string; app: App<object> }[] = [];
  readonly #startHooks: LifecycleHook[] = [];
  readonly #stopHooks: LifecycleHook[] = [];
  readonly #router = new Router<Route>();
  readonly #fallbacks = new Map<PathEntry<Route>, Map<string, Route>>();
  #notFound: Route | undefined;
  #admission: Admission | undefined;
  #frozen = false;
  #allowAllHeader: string | undefined;
  #ready: Promise<void> | undefined;
  #stopped: Promise<void> | undefined;
  readonly #workers: WorkerDef[] = [];
  #consumers: Consumer[] | undefined;

  constructor(options: AppOptions = {}) {
    checkLimit('bodyLimitBytes', options.bodyLimitBytes);
    checkLimit('maxJsonDepth', options.maxJsonDepth, 1);
    this.log =
      options.logger === false
        ? silentLogger
        : (options.logger ?? pino({ level: process.env.LOG_LEVEL ?? 'info' }));
    this.#runtime = {
      log: this.log,
      cookieSecrets: normalizeSecrets(options.cookieSecrets),
      exposeErrors: options.exposeErrors ?? process.env.NODE_ENV === 'development',
      bodyLimitBytes: options.bodyLimitBytes ?? DEFAULT_BODY_LIMIT_BYTES,
      maxJsonDepth: options.maxJsonDepth ?? DEFAULT_MAX_JSON_DEPTH,
      draining: false,
    };
    const adder = (method: string): AddRoute<S, this> =>
      ((path: string, ...args: unknown[]) => this.#add(method, path, args)) as AddRoute<S, this>;
    this.get = adder('GET');
    this.post = adder('POST');
    this.put = adder('PUT');
    this.patch = adder('PATCH');
    this.delete = adder('DELETE');
    this.head = adder('HEAD');
    this.options = adder('OPTIONS');
    this.all = adder('*');
  }

  /** Adds middleware that wraps every route of this app (and of apps mounted on it), in `use()` order. */
  use(...middleware: Middleware<S>[]): this {
    this.#checkOpen('use()');
    for (const fn of middleware) {
      if (typeof fn !== 'function') throw invalidOption('app.use() argument', 'a middleware function', fn);
      this.#middleware.push(fn as Middleware<object>);
    }
    return this;
  }

  /** Mounts `app`'s routes under `prefix`; this app's middleware wraps them, then `app`'s own. */
  route(prefix: string, app: App<S>): this {
    this.#checkOpen('route()');
    if (typeof prefix !== 'string' || !/^(\/[^/]+)+$/.test(prefix)) {
      throw invalidOption('route() prefix', 'a path like "/api" (leading "/", no trailing "/")', prefix);
    }
    if (!(app instanceof App)) throw invalidOption('route() app', 'an App', app);
    this.#mounts.push({ prefix, app: app as unknown as App<object> });
    return this;
  }

  /** Runs `hook` before the app serves its first request; hooks run in registration order. */
  onStart(hook: LifecycleHook): this {
    this.#checkOpen('onStart()');
    this.#startHooks.push(hook);
    return this;
  }

  /** Runs `hook` when the app stops; hooks run in reverse order, and every one runs even if some fail. */
  onStop(hook: LifecycleHook): this {
    this.#checkOpen('onStop()');
    this.#stopHooks.push(hook);
    return this;
  }

  /**
   * Installs an admission step that runs before routing and body reading: it admits the request (and is
   * told when the response is done) or sheds it with an `HttpError`, usually 503 with `Retry-After`.
   */
  admission(admission: Admission): this {
    this.#checkOpen('admission()');
    if (typeof admission?.admit !== 'function')
      throw invalidOption('admission', 'an object with admit(req)', admission);
    this.#admission = admission;
    return this;
  }

  /** Freezes the app and runs the `onStart` hooks, once. `listen()` and `inject()` call it. */
  ready(): Promise<void> {
    this.#ready ??= (async () => {
      this.#freeze();
      for (const hook of this.#collectHooks('start')) await hook();
    })();
    return this.#ready;
  }

  /**
   * Registers a consumer of `queue`: it runs `handler` for each job, `concurrency` at a time, from when
   * the app's workers start (`listen()`, or `weir worker ENTRY` for workers alone) until the app stops,
   * when it stops taking jobs and lets the running ones finish (up to `shutdownTimeoutMs`) before the
   * `onStop` hooks close the queue.
   * @example app.worker(emails, async (job, { signal }) => send(job.data, { signal }), { concurrency: 8 });
   */
  worker<T>(queue: JobQueue<T>, handler: JobHandler<T>, options: ProcessOptions = {}): this {
    this.#checkOpen('worker()');
    if (typeof queue?.process !== 'function') throw invalidOption('worker() queue', 'a JobQueue', queue);
    if (typeof handler !== 'function') throw invalidOption('worker() handler', 'a function', handler);
    this.#workers.push({
      queue: queue as unknown as JobQueue<never>,
      handler: handler as JobHandler<never>,
      options,
    });
    return this;
  }

  /** The queues and concurrency of the registered workers, as `name×concurrency`. */
  workers(): string[] {
    return this.#collectWorkers().map((w) => `${w.queue.name}×${w.options.concurrency ?? 1}`);
  }

  /** Runs the `onStart` hooks (once), then starts every registered worker (once). */
  async startWorkers(): Promise<void> {
    await this.ready();
    this.#consumers ??= this.#collectWorkers().map((w) => w.queue.process(w.handler, w.options));
  }

  /**
   * Stops the workers gracefully, then runs the `onStop` hooks in reverse order, once; throws an
   * AggregateError-carrying WeirError if any failed.
   */
  stop(): Promise<void> {
    this.#stopped ??= (async () => {
      const failures: unknown[] = [];
      const consumers = this.#consumers ?? [];
      for (const result of await Promise.allSettled(consumers.map((c) => c.close()))) {
        if (result.status === 'rejected') failures.push(result.reason);
      }
      for (const hook of this.#collectHooks('stop').reverse()) {
        try {
          await hook();
        } catch (err) {
          failures.push(err);
        }
      }
      if (failures.length > 0) {
        throw new WeirError('WEIR_ERR_APP_STOP_FAILED', `${failures.length} onStop hook(s) failed`, {
          cause: new AggregateError(failures, 'onStop hooks failed'),
        });
      }
    })();
    return this.#stopped;
  }

  /**
   * Starts serving HTTP, and the registered workers unless `runWorkers` is false. See
   * {@link ListenOptions} for the timeouts and limits.
   */
  async listen(options: ListenOptions & { runWorkers?: boolean } = {}): Promise<ServerHandle> {
    const handle = await listen(this, this.#runtime, options);
    if (options.runWorkers !== false) await this.startWorkers();
    return handle;
  }

  /** The Node request listener, for `http.createServer(app.handler)` or a test injector. */
  get handler(): (req: IncomingMessage, res: ServerResponse) => void {
    this.#freeze();
    return this.#handle;
  }

  /** Every route as `METHOD path`, after mounting. */
  routes(): string[] {
    this.#freeze();
    return this.#router
      .entries()
      .flatMap((entry) => [...entry.methods.keys()].map((m) => `${m === '*' ? 'ALL' : m} ${entry.pattern}`));
  }

  #checkOpen(what: string): void {
    if (this.#frozen) {
      throw new WeirError('WEIR_ERR_APP_FROZEN', `Cannot call ${what} after the app has started serving`);
    }
  }

  #add(method: string, path: string, args: unknown[]): this {
    this.#checkOpen(`${method === '*' ? 'all' : method.toLowerCase()}()`);
    const options = typeof args[0] === 'object' && args[0] !== null ? (args.shift() as RouteOptions) : {};
    checkLimit('route bodyLimitBytes', options.bodyLimitBytes);
    checkLimit('route maxJsonDepth', options.maxJsonDepth, 1);
    if (options.timeoutMs !== undefined && (!Number.isFinite(options.timeoutMs) || options.timeoutMs <= 0)) {
      throw invalidOption('route timeoutMs', 'a positive number of milliseconds', options.timeoutMs);
    }
    if (args.length === 0 || args.some((fn) => typeof fn !== 'function')) {
      throw invalidOption(
        `Route ${method} ${path}`,
        'given middleware functions and a handler function',
        args,
      );
    }
    const handler = args.pop() as Handler<string, object>;
    this.#routes.push({ method, path, options, middleware: args as Middleware<object>[], handler });
    return this;
  }

  #collectWorkers(): WorkerDef[] {
    return [...this.#workers, ...this.#mounts.flatMap((m) => m.app.#collectWorkers())];
  }

  #collectHooks(kind: 'start' | 'stop'): LifecycleHook[] {
    const own = kind === 'start' ? this.#startHooks : this.#stopHooks;
    return [...own, ...this.#mounts.flatMap((m) => m.app.#collectHooks(kind))];
  }

  #flatten(
    prefix: string,
    outer: readonly Middleware<object>[],
    into: [RouteDef, Middleware<object>[]][],
  ): void {
    const chain = [...outer, ...this.#middleware];
    for (const def of this.#routes) {
      into.push([{ ...def, path: joinPath(prefix, def.path) }, [...chain, ...def.middleware]]);
    }
    for (const mount of this.#mounts) mount.app.#flatten(prefix + mount.prefix, chain, into);
  }

  #freeze(): void {
    if (this.#frozen) return;
    const flat: [RouteDef, Middleware<object>[]][] = [];
    this.#flatten('', [], flat);
    for (const [def, middleware] of flat) {
      this.#router.add(def.method, def.path, this.#makeRoute(middleware, def.handler, def.options));
    }
    this.#router.seal();
    this.#notFound = this.#makeRoute(this.#middleware, (ctx) => {
      throw httpError('WEIR_ERR_NOT_FOUND', `No route for ${ctx.method} ${ctx.path}`);
    });
    this.#frozen = true;
    for (const mount of this.#mounts) mount.app.#frozen = true;
  }

  #makeRoute(
    middleware: readonly Middleware<object>[],
    handler: Handler<string, object>,
    options: RouteOptions = {},
  ): Route {
    return {
      run: compose(middleware, handler as Chain, this.#errorResult),
      settings:
        options.bodyLimitBytes === undefined && options.maxJsonDepth === undefined
          ? NO_SETTINGS
          : { bodyLimitBytes: options.bodyLimitBytes, maxJsonDepth: options.maxJsonDepth },
      timeoutMs: options.timeoutMs,
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
    const kind = method === 'OPTIONS' ? 'OPTIONS' : '405';
    let route = cache.get(kind);
    if (route === undefined) {
      const allow = entry.allow;
      route =
        kind === 'OPTIONS'
          ? this.#makeRoute(this.#middleware, (ctx) => {
              ctx.set('allow', allow);
            })
          : this.#makeRoute(this.#middleware, (ctx) => {
              throw httpError(
                'WEIR_ERR_METHOD_NOT_ALLOWED',
                `${ctx.method} is not allowed on ${ctx.path}`,
                undefined,
                {
                  headers: { allow },
                },
              );
            });
      cache.set(kind, route);
    }
    return route;
  }

  readonly #handle = (req: IncomingMessage, res: ServerResponse): void => {
    const method = req.method ?? 'GET';
    let url = req.url ?? '/';
    const refused = checkRequest(req);
    if (refused !== undefined) {
      this.#refuse(req, res, method, url, refused);
      return;
    }
    if (this.#admission !== undefined && !runAdmission(this.#admission, req, res, this.#runtime)) return;
    if (url.charCodeAt(0) !== 47 /* "/" */) {
      const target = readTarget(url, method);
      if ('url' in target) {
        url = target.url;
      } else {
        this.#refuse(req, res, method, url, 'error' in target ? target.error : this.#allowAll());
        return;
      }
    }
    const q = url.indexOf('?');
    const path = q === -1 ? url : url.slice(0, q);
    let route: Route;
    let params = EMPTY_PARAMS;
    const match = this.#router.find(path);
    if (match === undefined) {
      route = this.#notFound!;
    } else {
      route = match.entry.methods.get(method) ?? this.#fallback(match.entry, method);
      params = match.params;
    }
    const ctx = new Context(
      req,
      res,
      method,
      path,
      q === -1 ? '' : url.slice(q + 1),
      params,
      route.settings,
      this.#runtime,
    );
    if (params !== EMPTY_PARAMS && !decodeParams(params)) {
      const malformed = httpError('WEIR_ERR_BAD_REQUEST', 'Malformed percent-encoding in the path');
      deliver(ctx, this.#errorResult(ctx, malformed), this.#errorResult);
      return;
    }
    if (route.timeoutMs !== undefined) armTimeout(ctx, route.timeoutMs, this.#errorResult);
    let result: unknown;
    try {
      result = route.run(ctx);
    } catch (err) {
      result = this.#errorResult(ctx, err);
    }
    if (isThenable(result)) {
      result.then(
        (value) => deliver(ctx, value, this.#errorResult),
        (err: unknown) => deliver(ctx, this.#errorResult(ctx, err), this.#errorResult),
      );
    } else {
      deliver(ctx, result, this.#errorResult);
    }
  };

  /**
   * Answers a request refused before routing (see protocol.ts) without running middleware: it never
   * named a resource of the app. `value` is an error, or the response to `OPTIONS *`.
   */
  #refuse(req: IncomingMessage, res: ServerResponse, method: string, target: string, value: unknown): void {
    // A target that is not a path reaches the log JSON-escaped and cut at 64 characters.
    const path = target.charCodeAt(0) === 47 ? target.split('?', 1)[0]! : JSON.stringify(target.slice(0, 64));
    const ctx = new Context(req, res, method, path, '', EMPTY_PARAMS, NO_SETTINGS, this.#runtime);
    deliver(ctx, isHttpError(value) ? this.#errorResult(ctx, value) : value, this.#errorResult);
  }

  /** `OPTIONS *`: 204 with every method some route of the app answers (RFC 9110 §9.3.7). */
  #allowAll(): WeirResponse {
    this.#allowAllHeader ??= [
      ...new Set(this.#router.entries().flatMap((entry) => entry.allow.split(', '))),
    ].join(', ');
    return new WeirResponse(undefined, 204, { allow: this.#allowAllHeader });
  }

  /** Records the error on the context and builds its JSON response; logs what is not a client error. */
  readonly #errorResult = (ctx: Context, err: unknown): unknown => {
    ctx.error = err;
    const runtime = this.#runtime;
    if (isHttpError(err)) {
      // 503 is load shedding (a full pool, a timeout): expected under overload, so a warning, not an error.
      if (err.status === 503)
        runtime.log.warn({ code: err.code, method: ctx.method, path: ctx.path }, err.message);
      else if (err.status >= 500) runtime.log.error({ err, method: ctx.method, path: ctx.path }, err.message);
      // weir's own 500s are for the operator, who has the log: the client gets the code and no detail.
      const body =
        err.status === 500 && err.code in errorCodes
          ? errorBody(err.code, 'Internal Server Error')
          : errorBody(err.code, err.message, { details: err.details });
      return new WeirResponse(body, err.status, { 'content-type': 'application/json', ...err.headers });
    }
    if (ctx.res.destroyed) {
      // The client left; whatever the handler threw next (usually an AbortError) has no one to answer.
      runtime.log.debug({ err, method: ctx.method, path: ctx.path }, 'request ended after the client left');
      return undefined;
    }
    runtime.log.error({ err, method: ctx.method, path: ctx.path }, 'unhandled error in handler');
    const stack = runtime.exposeErrors && err instanceof Error ? err.stack : undefined;
    const body = errorBody('WEIR_ERR_INTERNAL', 'Internal Server Error', { stack });
    return new WeirResponse(body, 500, { 'content-type': 'application/json' });
  };
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
