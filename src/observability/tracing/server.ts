/**
 * Server spans: one per request of a traced app, from its arrival to its response's close, named
 * `METHOD /route/:pattern`, with the attributes of OpenTelemetry's HTTP server conventions. The
 * incoming trace context (`traceparent`, `tracestate`, through the propagator) is the span's parent when
 * its peer is trusted, and only a link otherwise. The route's chain runs with the span active, so the
 * queries, cache calls, jobs and fetches it makes are its children.
 */
import type { IncomingHttpHeaders } from 'node:http';
import type { AppRuntime } from '../../http/app-runtime.ts';
import type { Chain } from '../../http/compose.ts';
import type { Context as RequestContext } from '../../http/context.ts';
import { type RequestRecord, type RequestTracer, UNMATCHED } from '../../http/observe.ts';
import type { Api, Attributes, Context, Span, TextMapGetter } from './api.ts';
import { recordError, suppressKey } from './api.ts';

/** What the server spans of one app are made with. */
export interface ServerSettings {
  readonly tracer: ReturnType<Api['trace']['getTracer']>;
  /** Whose incoming trace context becomes the parent (by the socket's peer address). */
  readonly trusted: (peer: string) => boolean;
  /** Route patterns not traced. */
  readonly ignore: ReadonlySet<string>;
}

/** Methods the conventions name as they are; any other is `_OTHER` (with the original beside it). */
const KNOWN_METHODS = new Set([
  'GET',
  'HEAD',
  'POST',
  'PUT',
  'DELETE',
  'CONNECT',
  'OPTIONS',
  'TRACE',
  'PATCH',
]);

const headerGetter: TextMapGetter<IncomingHttpHeaders> = {
  keys: (carrier) => Object.keys(carrier),
  get: (carrier, key) => carrier[key],
};

/** A request's span and the context its chain runs in. */
interface Traced {
  readonly span: Span | undefined;
  readonly context: Context;
}

export class ServerSpans implements RequestTracer {
  readonly #api: Api;
  readonly #settings: ServerSettings;
  readonly #runtime: AppRuntime;
  readonly #requests = new WeakMap<RequestContext, Traced>();
  /** The context an ignored route runs in: weir makes no span in it. */
  readonly #suppressed: Context;

  constructor(api: Api, settings: ServerSettings, runtime: AppRuntime) {
    this.#api = api;
    this.#settings = settings;
    this.#runtime = runtime;
    this.#suppressed = api.ROOT_CONTEXT.setValue(suppressKey(api), true);
  }

  start(ctx: RequestContext, route: string, arrived: number): void {
    if (this.#settings.ignore.has(route)) {
      this.#requests.set(ctx, { span: undefined, context: this.#suppressed });
      return;
    }
    const api = this.#api;
    const req = ctx.req;
    const root = api.ROOT_CONTEXT;
    let parent = root;
    const extracted = api.propagation.extract(root, req.headers, headerGetter);
    const incoming = api.trace.getSpanContext(extracted);
    const linked = incoming !== undefined && api.isSpanContextValid(incoming) ? incoming : undefined;
    if (linked !== undefined && this.#settings.trusted(req.socket?.remoteAddress ?? '')) parent = extracted;
    const method = KNOWN_METHODS.has(ctx.method) ? ctx.method : '_OTHER';
    const attributes: Attributes = {
      'http.request.method': method,
      'url.path': ctx.path,
      'url.scheme': ctx.protocol,
      'client.address': ctx.ip,
      'network.protocol.version': req.httpVersion,
    };
    if (method === '_OTHER') attributes['http.request.method_original'] = ctx.method;
    if (route !== UNMATCHED) attributes['http.route'] = route;
    const agent = req.headers['user-agent'];
    if (agent !== undefined) attributes['user_agent.original'] = agent;
    const port = req.socket?.localPort;
    if (port !== undefined) attributes['server.port'] = port;
    const name = method === '_OTHER' ? 'HTTP' : route === UNMATCHED ? method : `${method} ${route}`;
    const span = this.#settings.tracer.startSpan(
      name,
      {
        kind: api.SpanKind.SERVER,
        startTime: arrived >= 0 ? arrived : undefined,
        attributes,
        links: linked !== undefined && parent === root ? [{ context: linked }] : undefined,
      },
      parent,
    );
    this.#requests.set(ctx, { span, context: api.trace.setSpan(parent, span) });
  }

  run(ctx: RequestContext, chain: Chain): unknown {
    const traced = this.#requests.get(ctx);
    if (traced === undefined) return chain(ctx);
    return this.#api.context.with(traced.context, chain, undefined, ctx);
  }

  logFields(ctx: RequestContext): Record<string, string> | undefined {
    const span = this.#requests.get(ctx)?.span;
    if (span === undefined) return undefined;
    const { traceId, spanId } = span.spanContext();
    return { traceId, spanId };
  }

  /** Ends the span of a request whose response has closed (from the `weir:http.request` channel). */
  readonly end = (message: unknown): void => {
    const record = message as RequestRecord;
    if (record.runtime !== this.#runtime) return;
    const span = this.#requests.get(record.ctx)?.span;
    if (span === undefined) return;
    this.#requests.delete(record.ctx);
    const status = record.status;
    span.setAttribute('http.response.status_code', status);
    if (!record.completed) span.setAttribute('weir.response.completed', false);
    if (status >= 500) {
      const error = record.ctx.error;
      if (error !== undefined) {
        recordError(this.#api, span, error);
      } else {
        span.setAttribute('error.type', String(status));
        span.setStatus({ code: this.#api.SpanStatusCode.ERROR });
      }
    }
    span.end();
  };
}
