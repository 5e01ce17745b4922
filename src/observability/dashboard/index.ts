/**
 * `dashboard()`: a live page of how an app is doing, for the people who run it. Throughput, latency,
 * the overload limiter, database pools, cache hit ratios, queue depths, the event loop and memory, drawn
 * with uPlot (served by the app: no CDN) and updated once per interval over Server-Sent Events.
 */
import { httpError, invalidOption, WeirError } from '../../errors.ts';
import { type App, kAppRuntime } from '../../http/app.ts';
import type { Middleware } from '../../http/compose.ts';
import type { Context } from '../../http/context.ts';
import { type SseStream, sse } from '../../http/sse.ts';
import { checkSources, type MetricSources } from '../sources.ts';
import { pageAssets, pageHandler, sendAsset } from './page.ts';
import { type DashboardSample, Sampler } from './sampler.ts';

export type { DashboardSample } from './sampler.ts';

/** Options of {@link dashboard}: where it is, who may see it, how often it samples, and what it shows. */
export interface DashboardOptions extends MetricSources {
  /** The page's path; the files it loads and its event stream are below it. @default '/_dashboard' */
  path?: string;
  /**
   * Middleware run before every route of the dashboard (the page, its files, its stream): who may see
   * it, such as `requireAuth()` of weir/security, or `[session(), requireAuth()]`. Without one, the
   * dashboard is open to anyone who reaches the app, and `dashboard()` throws when NODE_ENV is
   * `production`; `false` serves it open anyway, on purpose: only where no one else can reach the app
   * (a private interface, a port behind a VPN), as the page shows how loaded the app is, names its
   * pools, caches and queues, and shows the process's memory. @default none
   */
  guard?: Middleware<object> | readonly Middleware<object>[] | false;
  /** How often a sample is taken and sent, in ms (100 … 60,000). @default 1000 */
  intervalMs?: number;
  /** Samples kept and sent to a page when it connects, so its charts start full (1 … 3,600). @default 120 */
  historySize?: number;
  /** Pages that may watch at once (1 … 1,000); past it, 503 `WEIR_ERR_DASHBOARD_FULL`. @default 16 */
  maxClients?: number;
  /** The page's title. @default 'weir dashboard' */
  title?: string;
}

/** A dashboard served by an app. */
export interface Dashboard {
  /** The page's path. */
  readonly path: string;
  /** Pages watching now. */
  readonly clients: number;
  /** True while it samples: from the first page's connection to the last one's departure. */
  readonly sampling: boolean;
  /** The samples kept, oldest first: what a page gets when it connects. */
  history(): DashboardSample[];
  /** Stops sampling; pages still connected get nothing more. Called when the app stops. */
  close(): void;
}

const PATH = /^(\/[\w.~-]+)+$/;

function integer(
  name: string,
  value: number | undefined,
  fallback: number,
  min: number,
  max: number,
): number {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || value < min || value > max) {
    throw invalidOption(`dashboard ${name}`, `an integer ${min} … ${max}`, value);
  }
  return value;
}

function guards(guard: DashboardOptions['guard']): Middleware<object>[] {
  if (guard === false) return [];
  if (guard === undefined) {
    if (process.env.NODE_ENV === 'production') {
      throw new WeirError(
        'WEIR_ERR_DASHBOARD_UNGUARDED',
        "dashboard() has no guard and NODE_ENV is production, so it would show the app's internals to anyone: " +
          'pass guard: requireAuth() (weir/security), or guard: false to serve it open on purpose',
      );
    }
    return [];
  }
  if (typeof guard === 'function') return [guard];
  if (Array.isArray(guard) && guard.length > 0 && guard.every((m) => typeof m === 'function'))
    return [...guard];
  throw invalidOption('dashboard guard', 'a middleware, a non-empty array of middleware, or false', guard);
}

/** The options, checked, with their defaults. */
function settingsOf(options: DashboardOptions) {
  if (typeof options !== 'object' || options === null) {
    throw invalidOption('dashboard() options', 'an object', options);
  }
  const path = options.path ?? '/_dashboard';
  if (typeof path !== 'string' || !PATH.test(path)) {
    throw invalidOption(
      'dashboard path',
      "a path of letters, digits and . _ ~ - segments, such as '/_dashboard'",
      path,
    );
  }
  const title = options.title ?? 'weir dashboard';
  if (typeof title !== 'string') throw invalidOption('dashboard title', 'a string', title);
  checkSources(options, 'dashboard');
  return {
    path,
    title,
    intervalMs: integer('intervalMs', options.intervalMs, 1000, 100, 60_000),
    historySize: integer('historySize', options.historySize, 120, 1, 3600),
    maxClients: integer('maxClients', options.maxClients, 16, 1, 1000),
    chain: guards(options.guard),
  };
}

/**
 * Serves a live dashboard of `app` at `path` (never shed by the overload limiter, left out of the OpenAPI
 * document): a page of small charts, fed once per `intervalMs` over Server-Sent Events. It samples only
 * while a page watches, so an app whose dashboard nobody has open pays nothing per request. Call it before
 * the app starts; once per app.
 * @throws WEIR_ERR_DASHBOARD_UNGUARDED when NODE_ENV is `production` and no `guard` is given.
 * @throws WEIR_ERR_INVALID_OPTION for an option or source of the wrong type or out of range.
 * @example
 * const app = new App();
 * dashboard(app, { guard: requireAuth(), databases: { main: db }, caches: { pages: cache } });
 */
export function dashboard(app: App<object>, options: DashboardOptions = {}): Dashboard {
  const { path, title, intervalMs, historySize, maxClients, chain } = settingsOf(options);
  const assets = pageAssets();
  const routes = {
    page: path,
    events: `${path}/events`,
    files: Object.values(assets).map((asset) => ({ path: `${path}${asset.name}`, asset })),
  };
  const sampler = new Sampler({
    intervalMs,
    historySize,
    maxClients,
    runtime: app[kAppRuntime],
    ownRoutes: new Set([routes.page, routes.events, ...routes.files.map((f) => f.path)]),
    sources: options,
    log: app.log,
  });

  const route = { shed: false, hidden: true } as const;
  app.get(routes.page, route, ...chain, pageHandler(title, assets));
  for (const { path: filePath, asset } of routes.files) {
    app.get(filePath, route, ...chain, (ctx: Context<string, object>) => sendAsset(ctx, asset));
  }
  app.get(routes.events, route, ...chain, (ctx: Context<string, object>) => watch(ctx, sampler, maxClients));
  if (chain.length === 0) {
    app.onStart(() =>
      app.log.info({ path }, 'dashboard: served without a guard, to anyone who reaches the app'),
    );
  }
  app.onStop(() => sampler.close());

  return {
    path,
    get clients() {
      return sampler.viewers;
    },
    get sampling() {
      return sampler.sampling;
    },
    history: () => sampler.history(),
    close: () => sampler.close(),
  };
}

/**
 * The event stream of one page: a `history` event (the interval, the samples kept, the process id), then
 * a `sample` event per interval until the page leaves. Its place among `maxClients` is taken before the
 * response starts, so a full dashboard answers 503 rather than an empty stream.
 */
function watch(ctx: Context<string, object>, sampler: Sampler, maxClients: number) {
  let stream: SseStream | undefined;
  const leave = sampler.add({
    // Until the stream opens, samples are skipped: its history event will hold them.
    send: (json) => stream === undefined || stream.send({ event: 'sample', data: json }),
  });
  if (leave === undefined) {
    throw httpError(
      'WEIR_ERR_DASHBOARD_FULL',
      `The dashboard has ${maxClients} viewers already (maxClients): try again shortly`,
      undefined,
      { headers: { 'retry-after': '5' } },
    );
  }
  ctx.signal.addEventListener('abort', leave, { once: true });
  return sse(ctx, (opened: SseStream) => {
    stream = opened;
    const history = JSON.stringify({
      intervalMs: sampler.intervalMs,
      historySize: sampler.historySize,
      pid: process.pid,
      samples: sampler.history(),
    });
    if (opened.signal.aborted) leave();
    else opened.signal.addEventListener('abort', leave, { once: true });
    opened.send({ event: 'history', data: history });
  });
}
