/**
 * `tracing(app)`: OpenTelemetry spans for an app's requests and for what they (and its jobs) do, made
 * through `@opentelemetry/api`, which is loaded here and nowhere else; the SDK that samples and exports
 * them is the user's. Server spans come from the app's runtime hook and the `weir:http.request` channel
 * (server.ts); database, cache and job spans from the backends' tracing channels (backends.ts); client
 * spans from undici's channels (fetch.ts). Without a `tracing()` call none of this is loaded, and each
 * request or operation pays one check.
 *
 * The backend and fetch spans are the process's, not an app's: the first `tracing()` still open installs
 * them, with its options, and the last one closed removes them.
 */
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { invalidOption } from '../../errors.ts';
import { type App, kAppRuntime } from '../../http/app.ts';
import { requestChannel } from '../../http/observe.ts';
import { compileTrustProxy } from '../../http/proxy.ts';
import { activeSpans } from '../../internal/trace.ts';
import { type Api, loadApi, type Tracer } from './api.ts';
import { BackendSpans } from './backends.ts';
import { FetchSpans } from './fetch.ts';
import { ServerSpans } from './server.ts';

/**
 * An OpenTelemetry `Tracer` (`trace.getTracer(name, version)` of `@opentelemetry/api`). Typed by the one
 * method weir calls, so that weir's types do not need the package.
 */
export interface TracerLike {
  startSpan(name: string, options?: object, context?: object): object;
}

/** Which kinds of span weir makes besides the server spans; each `true` unless set `false`. */
export interface TracedSpans {
  /** A span per database query, script and transaction (`weir/db`). @default true */
  db?: boolean;
  /** A span per cache call (`weir/cache`): get, getMany, set, add, delete, clear, wrap. @default true */
  cache?: boolean;
  /** A span per job added (`send <queue>`) and per attempt of a job (`process <queue>`). @default true */
  jobs?: boolean;
  /** A span per HTTP request made with `fetch` (undici, weir/client), with `traceparent` sent. @default true */
  fetch?: boolean;
}

/** Options of {@link tracing}. */
export interface TracingOptions {
  /** The tracer spans are made with. @default trace.getTracer('weir', weir's version) */
  tracer?: TracerLike;
  /**
   * Whose incoming trace context (`traceparent`, `tracestate`, read by the global propagator) a request's
   * span continues: `true` every peer, or the addresses and CIDR ranges of your own proxies and services
   * (`['10.0.0.0/8']`), judged by the socket's peer. Another peer's context is only linked to: the span
   * starts a new trace, so a client can neither join your traces nor force them to be sampled.
   * A malformed context is ignored. @default false
   */
  trust?: boolean | readonly string[];
  /**
   * Route patterns (as registered: `/healthz`, `/users/:id`) whose requests make no span, nor do the
   * queries and calls they make. @default []
   */
  ignore?: readonly string[];
  /** Which kinds of span weir makes besides the server spans. @default all */
  spans?: TracedSpans;
  /** The longest `db.query.text` (the SQL, never its values) kept, in characters; 0 keeps none. @default 2048 */
  maxQueryTextLength?: number;
}

/** A running {@link tracing}. */
export interface Tracing {
  /** Stops making spans for the app (and, when it is the last open one, for the backends). */
  close(): Promise<void>;
}

/** The process-wide spans, and the open tracings that hold them. */
let shared: { backends: BackendSpans; fetch: FetchSpans | undefined; holders: number } | undefined;

/**
 * Traces `app` with OpenTelemetry: a SERVER span per request (`GET /users/:id`), and, beneath it, a span
 * per database query, cache call, job added and `fetch()` made while it runs; a CONSUMER span per job
 * attempt, whose parent is the span that added the job. Attributes follow OpenTelemetry's semantic
 * conventions (HTTP, database, messaging). Call it once per app, before the app starts, on the app that
 * listens (a mounted app's requests are its parent's); register an OpenTelemetry SDK (tracer provider,
 * context manager, propagator) first, or the spans go nowhere. It is closed when the app stops.
 *
 * @throws WEIR_ERR_TRACING_API_MISSING when `@opentelemetry/api` is not installed;
 *   WEIR_ERR_INVALID_OPTION for a bad option, or a second call for one app.
 * @example
 * const tracer = await tracing(app, { ignore: ['/healthz', '/metrics'] });
 */
export async function tracing(app: App<object>, options: TracingOptions = {}): Promise<Tracing> {
  const runtime = app?.[kAppRuntime];
  if (runtime === undefined) throw invalidOption('tracing() app', 'an App', app);
  const trusted = compileTrust(options.trust);
  const ignore = options.ignore ?? [];
  if (!Array.isArray(ignore) || ignore.some((route) => typeof route !== 'string')) {
    throw invalidOption('tracing ignore', 'a list of route patterns', ignore);
  }
  const spans = options.spans ?? {};
  for (const kind of ['db', 'cache', 'jobs', 'fetch'] as const) {
    const value = spans[kind];
    if (value !== undefined && typeof value !== 'boolean') {
      throw invalidOption(`tracing spans.${kind}`, 'true or false', value);
    }
  }
  const maxQueryTextLength = options.maxQueryTextLength ?? 2048;
  if (!Number.isSafeInteger(maxQueryTextLength) || maxQueryTextLength < 0) {
    throw invalidOption('tracing maxQueryTextLength', 'an integer ≥ 0', maxQueryTextLength);
  }
  if (options.tracer !== undefined && typeof options.tracer?.startSpan !== 'function') {
    throw invalidOption('tracing tracer', 'an OpenTelemetry Tracer', options.tracer);
  }
  if (runtime.tracer !== undefined) {
    throw invalidOption(
      'tracing() app',
      'an app not traced yet (call tracing() once per app)',
      'a traced app',
    );
  }
  // Registered now, while the app is open (it throws WEIR_ERR_APP_FROZEN once it serves).
  let handle: Tracing | undefined;
  app.onStop(() => handle?.close());
  const api = await loadApi();
  if (runtime.tracer !== undefined) {
    throw invalidOption(
      'tracing() app',
      'an app not traced yet (call tracing() once per app)',
      'a traced app',
    );
  }
  const tracer = (options.tracer as Tracer | undefined) ?? api.trace.getTracer('weir', version());
  const server = new ServerSpans(api, { tracer, trusted, ignore: new Set(ignore) }, runtime);
  // The channel first: a request the tracer starts must find its end published.
  requestChannel.subscribe(server.end);
  runtime.tracer = server;
  hold(api, tracer, spans, maxQueryTextLength);
  let closed: Promise<void> | undefined;
  handle = {
    close() {
      closed ??= (async () => {
        if (runtime.tracer === server) runtime.tracer = undefined;
        requestChannel.unsubscribe(server.end);
        release();
      })();
      return closed;
    },
  };
  return handle;
}

function hold(api: Api, tracer: Tracer, spans: TracedSpans, maxQueryTextLength: number): void {
  if (shared !== undefined) {
    shared.holders++;
    return;
  }
  const backends = new BackendSpans(api, {
    tracer,
    db: spans.db !== false,
    cache: spans.cache !== false,
    jobs: spans.jobs !== false,
    maxQueryTextLength,
  });
  backends.install();
  activeSpans.around = backends.around;
  const fetch = spans.fetch === false ? undefined : new FetchSpans(api, tracer);
  fetch?.install();
  shared = { backends, fetch, holders: 1 };
}

function release(): void {
  if (shared === undefined || --shared.holders > 0) return;
  shared.backends.uninstall();
  shared.fetch?.uninstall();
  activeSpans.around = undefined;
  shared = undefined;
}

/** The `trust` option as a test of the socket's peer address. */
function compileTrust(trust: TracingOptions['trust'] = false): (peer: string) => boolean {
  if (trust === true) return () => true;
  if (trust === false) return () => false;
  if (!Array.isArray(trust) || trust.length === 0) {
    throw invalidOption('tracing trust', 'a boolean or a non-empty list of addresses and CIDR ranges', trust);
  }
  const inRange = compileTrustProxy(trust) as (address: string, hop: number) => boolean;
  return (peer) => isIP(peer) !== 0 && inRange(peer, 0);
}

/** weir's version, for the default tracer's scope. */
function version(): string | undefined {
  try {
    const text = readFileSync(new URL('../../../package.json', import.meta.url), 'utf8');
    return (JSON.parse(text) as { version?: string }).version;
  } catch {
    return undefined;
  }
}
