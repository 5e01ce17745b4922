/**
 * Prometheus metrics for an app: its requests and its overload limiter, the process (CPU, memory, heap,
 * GC, event-loop delay and utilisation), and the backends it is given (database pools, caches, job
 * queues, the worker-thread pool), served in the text format on `/metrics` of the app (never shed) and/or
 * on a port of their own. In a cluster worker they are also the worker's answer to its primary, which
 * sums every worker's metrics (`startPrimary({ metrics })` in weir/cluster).
 */
import cluster from 'node:cluster';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { createServer, type Server } from 'node:http';
import { createRequire } from 'node:module';
import { performance } from 'node:perf_hooks';
import type { Registry } from 'prom-client';
import { invalidOption, WeirError } from '../errors.ts';
import { type App, kAppRuntime } from '../http/app.ts';
import { requestChannel } from '../http/observe.ts';
import { WeirResponse } from '../http/response.ts';
import { pulled } from './collectors.ts';
import { DURATION_BUCKETS, httpMetrics } from './http-metrics.ts';
import { type MetricSources, sourceMetrics } from './sources.ts';

const require = createRequire(import.meta.url);
/**
 * prom-client, loaded by the first metrics() call: importing weir/observability for its access log or
 * dashboard loads neither it nor what it requires (@opentelemetry/api, for its exemplars).
 */
const promClient = (): typeof import('prom-client') => require('prom-client') as typeof import('prom-client');

/** Options of {@link metrics}. */
export interface MetricsOptions extends MetricSources {
  /**
   * The app's route that serves the metrics (never shed by the overload limiter, left out of the
   * OpenAPI document), or `false` for none: serve them on `port`, or leave them to whoever reads
   * `registry` (in a cluster worker, the primary's summed `/metrics`). @default '/metrics'
   */
  path?: string | false;
  /**
   * Also serve them on a port of their own (`GET /metrics`), so they can be scraped on an address
   * clients cannot reach. `0` picks a free port (see `Metrics.url`).
   */
  port?: number;
  /** The address of `port`. @default '127.0.0.1' */
  host?: string;
  /** Prefix of weir's metric names. @default 'weir_' */
  prefix?: string;
  /** prom-client's process metrics: CPU, memory, heap, GC, event-loop delay, handles. @default true */
  processMetrics?: boolean;
  /** Upper bounds of the request duration histogram, in seconds. @default 1 ms … 10 s, 13 buckets */
  buckets?: readonly number[];
  /**
   * The registry to fill, for an app that has metrics of its own. @default a new one
   *
   * In a `node:cluster` worker it is also what the worker answers its primary's requests for metrics
   * with (prom-client's `AggregatorRegistry.setRegistries`, set to the registries of this process's
   * `metrics()` calls), so metrics registered in prom-client's global registry are summed across
   * workers only when it is the one given here.
   */
  registry?: Registry;
}

/** A running metrics exporter. */
export interface Metrics {
  /** The prom-client registry: register your own metrics in it to have them served alongside. */
  readonly registry: Registry;
  /** The URL of the metrics port, once it listens (after the app starts); `undefined` without `port`. */
  readonly url: string | undefined;
  /** The metrics in Prometheus's text format. */
  text(): Promise<string>;
  /** Stops counting and closes the metrics port. Called when the app stops. */
  close(): Promise<void>;
}

const METRIC_PREFIX = /^[a-zA-Z_][a-zA-Z0-9_]*$|^$/;

/**
 * Counts what `app` does and serves it to Prometheus. Call it before the app starts (it adds a route
 * and lifecycle hooks); once per app.
 *
 * @example
 * const app = new App();
 * metrics(app, { databases: { main: db }, caches: { pages: cache }, queues: { emails: queue } });
 */
export function metrics(app: App<object>, options: MetricsOptions = {}): Metrics {
  const prefix = options.prefix ?? 'weir_';
  if (typeof prefix !== 'string' || !METRIC_PREFIX.test(prefix)) {
    throw invalidOption('metrics prefix', 'letters, digits and _, not starting with a digit', prefix);
  }
  const buckets = options.buckets ?? DURATION_BUCKETS;
  if (
    !Array.isArray(buckets) ||
    buckets.length === 0 ||
    buckets.some((b, i) => !Number.isFinite(b) || b <= 0 || (i > 0 && b <= buckets[i - 1]!))
  ) {
    throw invalidOption('metrics buckets', 'increasing positive numbers of seconds', buckets);
  }
  const path = options.path ?? '/metrics';
  if (path !== false && (typeof path !== 'string' || !path.startsWith('/'))) {
    throw invalidOption('metrics path', "a path starting with '/' or false", path);
  }
  const port = options.port;
  if (port !== undefined && (!Number.isInteger(port) || port < 0 || port > 65535)) {
    throw invalidOption('metrics port', 'an integer 0…65535', port);
  }
  const prom = promClient();
  const registry = options.registry ?? new prom.Registry();
  const runtime = app[kAppRuntime];

  const onRequest = httpMetrics(registry, prefix, runtime, buckets);
  if (options.processMetrics !== false) {
    prom.collectDefaultMetrics({ register: registry });
    let mark = performance.eventLoopUtilization();
    pulled(
      registry,
      `${prefix}event_loop_utilization`,
      'Share of time the event loop was busy since the last scrape (0…1).',
      'gauge',
      () => {
        const now = performance.eventLoopUtilization();
        const value = performance.eventLoopUtilization(now, mark).utilization;
        mark = now;
        return [{ labels: {}, value }];
      },
    );
  }
  const subscriptions = [
    { channel: requestChannel.name, listener: onRequest },
    ...sourceMetrics(registry, prefix, options),
  ];

  const text = (): Promise<string> => registry.metrics();
  if (path !== false) {
    app.get(
      path,
      { shed: false, hidden: true, summary: 'Prometheus metrics' },
      async () =>
        new WeirResponse(await text(), 200, {
          'content-type': registry.contentType,
          'cache-control': 'no-store',
        }),
    );
  }

  let server: Server | undefined;
  let url: string | undefined;
  if (port !== undefined) {
    const host = options.host ?? '127.0.0.1';
    app.onStart(async () => {
      server = createServer((req, res) => {
        if (req.method !== 'GET' || (req.url ?? '').split('?', 1)[0] !== '/metrics') {
          res
            .writeHead(404, { 'content-type': 'text/plain' })
            .end('Not found: the metrics are at /metrics\n');
          return;
        }
        text().then(
          (body) => res.writeHead(200, { 'content-type': registry.contentType }).end(body),
          () =>
            res.writeHead(500, { 'content-type': 'text/plain' }).end('The metrics could not be collected\n'),
        );
      });
      await new Promise<void>((resolve, reject) => {
        server!.once('error', (err: NodeJS.ErrnoException) =>
          reject(
            new WeirError('WEIR_ERR_LISTEN', `Cannot serve metrics on ${host}:${port}: ${err.message}`, {
              cause: err,
            }),
          ),
        );
        server!.listen(port, host, resolve);
      });
      const address = server.address();
      const bound = typeof address === 'object' && address !== null ? address.port : port;
      url = `http://${host.includes(':') ? `[${host}]` : host}:${bound}/metrics`;
    });
  }

  for (const { channel, listener } of subscriptions) subscribe(channel, listener);
  if (cluster.isWorker) answerPrimary(registry);
  let closed: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closed ??= (async () => {
      for (const { channel, listener } of subscriptions) unsubscribe(channel, listener);
      if (cluster.isWorker) answerPrimary(registry, false);
      const open = server;
      server = undefined;
      if (open !== undefined) {
        open.closeAllConnections();
        await new Promise<void>((resolve) => open.close(() => resolve()));
      }
    })();
    return closed;
  };
  app.onStop(close);
  return {
    registry,
    get url() {
      return url;
    },
    text,
    close,
  };
}

/** The registries of this worker's `metrics()` calls that are open: what it answers its primary with. */
const answering = new Set<Registry>();

/**
 * Adds `registry` to (or removes it from) what this cluster worker answers its primary's requests for
 * metrics with. prom-client answers them: its worker-side listener is added by the first
 * `AggregatorRegistry` built in the process (`setRegistries` alone adds none) and reads the registries
 * last given to `setRegistries`. It answers only `prom-client:getMetricsReq` messages; weir's own carry
 * `weir: 1` and a type of their own, so neither mistakes the other's.
 */
function answerPrimary(registry: Registry, open = true): void {
  const { AggregatorRegistry } = promClient();
  if (open && answering.size === 0) new AggregatorRegistry();
  if (open) answering.add(registry);
  else answering.delete(registry);
  AggregatorRegistry.setRegistries([...answering]);
}
