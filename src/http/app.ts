import type { IncomingMessage, ServerResponse } from 'node:http';
import { invalidOption, WeirError } from '../errors.ts';
import { inspecting } from '../internal/inspect.ts';
import { defaultLogger, type Logger, silentLogger } from '../internal/logger.ts';
import { type OpenApiDocument, type OpenApiOptions, openapiDocument } from '../openapi/document.ts';
import { OverloadLimiter, type OverloadStats } from '../overload/limiter.ts';
import { overloadSettings } from '../overload/options.ts';
import type { AppRuntime } from './app-runtime.ts';
import { Background, type SpawnOptions } from './background.ts';
import { DEFAULT_BODY_LIMIT_BYTES, DEFAULT_MAX_JSON_DEPTH } from './body.ts';
import { DEFAULT_BODY_RATE_GRACE_MS, DEFAULT_MIN_BODY_RATE_BYTES_PER_SECOND } from './body-rate.ts';
import type { Chain, Middleware } from './compose.ts';
import { compileCompression } from './compression/settings.ts';
import { normalizeSecrets } from './cookies.ts';
import { compileTrustDeadline } from './deadline.ts';
import { Dispatcher } from './dispatcher.ts';
import { type AppOptions, checkAppOptions, checkRouteOptions, type RouteOptions } from './options.ts';
import type { Admission } from './pipeline.ts';
import { compileTrustProxy } from './proxy.ts';
import { compileRequestIds } from './request-id.ts';
import { withSchemas } from './schemas.ts';
import { dormantHandle, type ListenOptions, listen, type ServerHandle } from './server.ts';
import { type UpgradeListener, upgradeListener } from './upgrade.ts';
import { type AddWsRoute, wsRouteArgs } from './ws-route.ts';

/** The runtime of an App, for weir's own observers (weir/observability). Internal: not exported by the package. */
export const kAppRuntime = Symbol('weir.app-runtime');

/** A running background service: closing it stops it gracefully (running work finishes first). */
export interface Closable {
  close(): Promise<void>;
}

/**
 * What `app.worker()` needs of a job queue: a name and `process(handler, options)`. weir/queue's
 * `JobQueue` is one; the App knows no more of queues than this, so the HTTP core imports no backend.
 */
export interface Processable<H, O extends { concurrency?: number }> {
  readonly name: string;
  process(handler: H, options?: O): Closable;
}

/** A background service registered with {@link App.worker}, started with the app's workers. */
interface WorkerDef {
  readonly name: string;
  readonly concurrency: number;
  readonly start: () => Closable;
}

export type { AppOptions, RouteOptions } from './options.ts';

import { DEFAULT_ALL_ISSUES_MAX_NODES } from '../schema/validate.ts';
import type { PrefixedRoutes, RouteMethod } from './route-spec.ts';
import type { AddRoute, Handler } from './route-types.ts';

/** A route with its path under every mount prefix, its whole middleware chain, and its apps' own. */
type FlatRoute = [RouteDef, Middleware<object>[], readonly Middleware<object>[]];

export type { AddRoute, Handler, SchemaHandler } from './route-types.ts';

/** Runs at start (in order) or at stop (in reverse order). */
export type LifecycleHook = () => void | Promise<void>;

interface RouteDef {
  readonly method: string;
  readonly path: string;
  readonly options: RouteOptions;
  readonly middleware: readonly Middleware<object>[];
  readonly handler: Handler<string, object>;
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
 * @typeParam R the app's routes, for a typed client (see `route-spec.ts`): each method adder returns the
 *   app typed with its route added, so a chain of them (`new App().get(…).post(…)`) carries them all.
 * @example
 * const app = new App();
 * app.get('/hello/:name', (ctx) => `Hello, ${ctx.params.name}`);
 * await app.listen({ port: 8080 });
 */
export class App<S extends object = Record<never, never>, out R = Record<never, never>> {
  /** The app's logger. */
  readonly log: Logger;

  readonly get: AddRoute<S, R, 'get'>;
  readonly post: AddRoute<S, R, 'post'>;
  readonly put: AddRoute<S, R, 'put'>;
  readonly patch: AddRoute<S, R, 'patch'>;
  readonly delete: AddRoute<S, R, 'delete'>;
  readonly head: AddRoute<S, R, 'head'>;
  readonly options: AddRoute<S, R, 'options'>;
  /** Registers a route for every method. */
  readonly all: AddRoute<S, R, RouteMethod>;
  /**
   * Registers a WebSocket route: `app.ws(path, [options], ...middleware, handler)`. The upgrade request
   * runs the app's middleware and the route's (auth, sessions) before the handshake; see docs/websockets.md.
   * @example app.ws('/echo', async (socket) => { for await (const m of socket) socket.send(m); });
   */
  readonly ws: AddWsRoute<S, R>;

  readonly #runtime: AppRuntime;
  readonly #routes: RouteDef[] = [];
  readonly #middleware: Middleware<object>[] = [];
  readonly #responseSchemas: 'error' | 'warn' | 'off';
  readonly #allIssuesMaxNodes: number;
  readonly #mounts: { prefix: string; app: App<object> }[] = [];
  readonly #startHooks: LifecycleHook[] = [];
  readonly #stopHooks: LifecycleHook[] = [];
  #admission: Admission | undefined;
  /** Set when the app freezes (listen, inject, handler, routes): from then on nothing can be added. */
  #dispatcher: Dispatcher | undefined;
  #upgrade: UpgradeListener | undefined;
  #ready: Promise<void> | undefined;
  #stopped: Promise<void> | undefined;
  readonly #workers: WorkerDef[] = [];
  #consumers: Closable[] | undefined;
  readonly #background: Background;

  constructor(options: AppOptions = {}) {
    checkAppOptions(options);
    const env = process.env.NODE_ENV;
    this.#responseSchemas =
      options.responseSchemas ?? (env === 'development' || env === 'test' ? 'error' : 'warn');
    this.#allIssuesMaxNodes = options.allIssuesMaxNodes ?? DEFAULT_ALL_ISSUES_MAX_NODES;
    this.log = options.logger === false ? silentLogger : (options.logger ?? defaultLogger());
    this.#runtime = {
      log: this.log,
      cookieSecrets: normalizeSecrets(options.cookieSecrets),
      exposeErrors: options.exposeErrors ?? process.env.NODE_ENV === 'development',
      bodyLimitBytes: options.bodyLimitBytes ?? DEFAULT_BODY_LIMIT_BYTES,
      maxJsonDepth: options.maxJsonDepth ?? DEFAULT_MAX_JSON_DEPTH,
      bodyRate: {
        minBytesPerSecond: options.minBodyRateBytesPerSecond ?? DEFAULT_MIN_BODY_RATE_BYTES_PER_SECOND,
        graceMs: options.bodyRateGraceMs ?? DEFAULT_BODY_RATE_GRACE_MS,
      },
      trustProxy: compileTrustProxy(options.trustProxy),
      draining: false,
      streams: new Set(),
      limiter:
        options.overload === false ? undefined : new OverloadLimiter(overloadSettings(options.overload)),
      trustDeadline: compileTrustDeadline(options.trustDeadline),
      requestIds: compileRequestIds(options.requestId),
      tracer: undefined,
      compression: compileCompression(options.compression),
      decompressBodies: options.decompressBodies ?? false,
    };
    this.#background = new Background(this.log, options.background);
    const adder = <M extends RouteMethod>(method: string) =>
      ((path: string, ...args: unknown[]) => this.#add(method, path, args)) as unknown as AddRoute<S, R, M>;
    this.get = adder('GET');
    this.post = adder('POST');
    this.put = adder('PUT');
    this.patch = adder('PATCH');
    this.delete = adder('DELETE');
    this.head = adder('HEAD');
    this.options = adder('OPTIONS');
    this.all = adder('*');
    this.ws = ((path: string, ...args: unknown[]) => {
      this.#checkOpen('ws()');
      this.#routes.push({ method: 'WS', path, options: {}, ...wsRouteArgs(path, args) });
      return this;
    }) as unknown as AddWsRoute<S, R>;
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

  /**
   * Mounts `app`'s routes under `prefix`; this app's middleware wraps them, then `app`'s own. Returns this
   * app, its type carrying `app`'s routes under the prefix.
   */
  route<Prefix extends string, Sub>(
    prefix: Prefix,
    app: App<S, Sub>,
  ): App<S, R & PrefixedRoutes<Prefix, Sub>> {
    this.#checkOpen('route()');
    if (typeof prefix !== 'string' || !/^(\/[^/]+)+$/.test(prefix)) {
      throw invalidOption('route() prefix', 'a path like "/api" (leading "/", no trailing "/")', prefix);
    }
    if (!(app instanceof App)) throw invalidOption('route() app', 'an App', app);
    this.#mounts.push({ prefix, app: app as unknown as App<object> });
    return this as App<S, R & PrefixedRoutes<Prefix, Sub>>;
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
  worker<H, O extends { concurrency?: number }>(queue: Processable<H, O>, handler: H, options?: O): this {
    this.#checkOpen('worker()');
    if (typeof queue?.process !== 'function') throw invalidOption('worker() queue', 'a JobQueue', queue);
    if (typeof handler !== 'function') throw invalidOption('worker() handler', 'a function', handler);
    this.#workers.push({
      name: queue.name,
      concurrency: options?.concurrency ?? 1,
      start: () => queue.process(handler, options),
    });
    return this;
  }

  /**
   * True from the moment a server of this app starts draining (a signal or `handle.close()`) until it
   * stops: a readiness probe answers 503 then, so load balancers move traffic away. See `readiness()`.
   */
  get draining(): boolean {
    return this.#runtime.draining;
  }

  /**
   * Starts work meant to outlive the request that asks for it (unlike `ctx.tasks`, cancelled with its
   * response): `fn` gets a signal that aborts only when the app stops and the task is still running
   * past `background.stopTimeoutMs`. The app's stop waits for running tasks before its `onStop` hooks
   * (so they may still use the database); a failure is logged. Work that must survive a crash belongs in
   * a job queue instead.
   * @throws HttpError 503 `WEIR_ERR_BACKGROUND_FULL` past `background.maxTasks` running, or while stopping.
   * @example app.background((signal) => mailer.send(welcome(user), { signal }), { name: 'welcome mail' });
   */
  background<T>(fn: (signal: AbortSignal) => PromiseLike<T> | T, options?: SpawnOptions): Promise<T> {
    return this.#background.spawn(fn, options);
  }

  /**
   * The app described as an OpenAPI 3.1 document: every route (mounted ones included, `hidden` ones
   * left out) with its params, the JSON Schemas of its route schemas, its security and error answers.
   * A schema with no JSON Schema form is left open, with one warning in the log.
   */
  openapi(options: OpenApiOptions = {}): OpenApiDocument {
    const flat: FlatRoute[] = [];
    this.#flatten('', [], flat);
    const routes = flat
      .filter(([def]) => def.method !== 'WS')
      .map(([def, middleware]) => ({ ...def, middleware }));
    return openapiDocument(routes, options, this.log);
  }

  /** @internal */
  get [kAppRuntime](): AppRuntime {
    return this.#runtime;
  }

  /** The overload limiter's state and counters, or undefined when `overload: false`. */
  overloadStats(): OverloadStats | undefined {
    return this.#runtime.limiter?.stats();
  }

  /** The queues and concurrency of the registered workers, as `name×concurrency`. */
  workers(): string[] {
    return this.#collectWorkers().map((w) => `${w.name}×${w.concurrency}`);
  }

  /** Runs the `onStart` hooks (once), then starts every registered worker (once). */
  async startWorkers(): Promise<void> {
    await this.ready();
    this.#consumers ??= this.#collectWorkers().map((w) => w.start());
  }

  /**
   * Stops the workers gracefully, then runs the `onStop` hooks in reverse order, once; throws an
   * AggregateError-carrying WeirError if any failed.
   */
  stop(): Promise<void> {
    this.#stopped ??= (async () => {
      this.#runtime.limiter?.close();
      const failures: unknown[] = [];
      const consumers = this.#consumers ?? [];
      for (const result of await Promise.allSettled(consumers.map((c) => c.close()))) {
        if (result.status === 'rejected') failures.push(result.reason);
      }
      await Promise.all(this.#collectBackgrounds().map((b) => b.stop()));
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
    const inspection = inspecting();
    if (inspection !== undefined) {
      // The CLI loaded the module that calls this: it finds us here; `weir routes` wants no server.
      inspection.apps.push(this);
      if (!inspection.bind) return dormantHandle(options);
    }
    const handle = await listen(this, this.#runtime, options);
    if (options.runWorkers !== false) await this.startWorkers();
    return handle;
  }

  /** The Node request listener, for `http.createServer(app.handler)` or a test injector. */
  get handler(): (req: IncomingMessage, res: ServerResponse) => void {
    return this.#freeze().handle;
  }

  /** @internal The server's `upgrade` listener; undefined for an app with no WebSocket routes. */
  get upgrade(): UpgradeListener | undefined {
    const dispatcher = this.#freeze();
    if (!dispatcher.hasWebSockets) return undefined;
    this.#upgrade ??= upgradeListener(dispatcher, this.#runtime);
    return this.#upgrade;
  }

  /** Every route as `METHOD path` (`WS path` for a WebSocket route), after mounting. */
  routes(): string[] {
    return this.#freeze().routes();
  }

  #checkOpen(what: string): void {
    if (this.#dispatcher !== undefined) {
      throw new WeirError('WEIR_ERR_APP_FROZEN', `Cannot call ${what} after the app has started serving`);
    }
  }

  #add(method: string, path: string, args: unknown[]): this {
    this.#checkOpen(`${method === '*' ? 'all' : method.toLowerCase()}()`);
    const options = typeof args[0] === 'object' && args[0] !== null ? (args.shift() as RouteOptions) : {};
    checkRouteOptions(options);
    if (args.length === 0 || args.some((fn) => typeof fn !== 'function')) {
      throw invalidOption(
        `Route ${method} ${path}`,
        'given middleware functions and a handler function',
        args,
      );
    }
    const handler = withSchemas(options.schema, args.pop() as Chain, {
      check: this.#responseSchemas,
      allIssuesMaxNodes: this.#allIssuesMaxNodes,
      log: this.log,
      route: `${method === '*' ? 'ALL' : method} ${path}`,
    }) as Handler<string, object>;
    this.#routes.push({ method, path, options, middleware: args as Middleware<object>[], handler });
    return this;
  }

  #collectWorkers(): WorkerDef[] {
    return [...this.#workers, ...this.#mounts.flatMap((m) => m.app.#collectWorkers())];
  }

  #collectBackgrounds(): Background[] {
    return [this.#background, ...this.#mounts.flatMap((m) => m.app.#collectBackgrounds())];
  }

  #collectHooks(kind: 'start' | 'stop'): LifecycleHook[] {
    const own = kind === 'start' ? this.#startHooks : this.#stopHooks;
    return [...own, ...this.#mounts.flatMap((m) => m.app.#collectHooks(kind))];
  }

  #flatten(prefix: string, outer: readonly Middleware<object>[], into: FlatRoute[]): void {
    const chain = [...outer, ...this.#middleware];
    for (const def of this.#routes) {
      into.push([{ ...def, path: joinPath(prefix, def.path) }, [...chain, ...def.middleware], chain]);
    }
    for (const mount of this.#mounts) mount.app.#flatten(prefix + mount.prefix, chain, into);
  }

  #freeze(): Dispatcher {
    if (this.#dispatcher !== undefined) return this.#dispatcher;
    const flat: FlatRoute[] = [];
    this.#flatten('', [], flat);
    const dispatcher = new Dispatcher(this.#runtime, this.#middleware, this.#admission);
    for (const [def, middleware, appMiddleware] of flat) {
      dispatcher.add(def.method, def.path, middleware, def.handler as Chain, def.options, appMiddleware);
    }
    dispatcher.seal();
    this.#dispatcher = dispatcher;
    for (const mount of this.#mounts) mount.app.#dispatcher = dispatcher;
    return dispatcher;
  }
}
