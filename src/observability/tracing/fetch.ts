/**
 * Client spans of HTTP calls made with Node's `fetch` (and undici, which it is, and weir/client, which
 * calls it), from undici's diagnostics channels: one span per request, from its creation to the end of
 * its response body (`undici:request:trailers`) or its failure (`undici:request:error`), named by its
 * method, with the attributes of OpenTelemetry's HTTP client conventions. The span's context is injected
 * into the request (`traceparent` …) unless the caller set that header itself, so a traced server that
 * trusts this one continues the trace.
 *
 * The URL kept is its scheme, host, port and path: the query string is left out (it carries tokens).
 */
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import type { Api, Context, Span, TextMapSetter, Tracer } from './api.ts';
import { recordError, suppressKey } from './api.ts';

/** The parts of undici's request object read here (undici 6 and 7). */
interface UndiciRequest {
  readonly origin?: unknown;
  readonly method?: unknown;
  readonly path?: unknown;
  /** undici ≥ 6: `[name, value, name, value, …]`; earlier: `name: value\r\n…`. */
  readonly headers?: unknown;
  addHeader?(name: string, value: string): unknown;
}

const CHANNELS = {
  create: 'undici:request:create',
  headers: 'undici:request:headers',
  trailers: 'undici:request:trailers',
  error: 'undici:request:error',
} as const;

/** Whether `request` already carries a header named `name` (lower case). */
function hasHeader(request: UndiciRequest, name: string): boolean {
  const headers = request.headers;
  if (Array.isArray(headers)) {
    for (let i = 0; i < headers.length; i += 2) {
      if (String(headers[i]).toLowerCase() === name) return true;
    }
    return false;
  }
  if (typeof headers === 'string') {
    return headers
      .toLowerCase()
      .split('\r\n')
      .some((line) => line.startsWith(`${name}:`));
  }
  return false;
}

const requestSetter: TextMapSetter<UndiciRequest> = {
  set: (request, key, value) => {
    if (typeof request.addHeader === 'function' && !hasHeader(request, key.toLowerCase())) {
      request.addHeader(key, value);
    }
  },
};

export class FetchSpans {
  readonly #api: Api;
  readonly #tracer: Tracer;
  readonly #suppress: symbol;
  readonly #spans = new WeakMap<object, Span>();

  constructor(api: Api, tracer: Tracer) {
    this.#api = api;
    this.#tracer = tracer;
    this.#suppress = suppressKey(api);
  }

  install(): void {
    subscribe(CHANNELS.create, this.#create);
    subscribe(CHANNELS.headers, this.#headers);
    subscribe(CHANNELS.trailers, this.#done);
    subscribe(CHANNELS.error, this.#error);
  }

  uninstall(): void {
    unsubscribe(CHANNELS.create, this.#create);
    unsubscribe(CHANNELS.headers, this.#headers);
    unsubscribe(CHANNELS.trailers, this.#done);
    unsubscribe(CHANNELS.error, this.#error);
  }

  readonly #create = (message: unknown): void => {
    const request = (message as { request?: UndiciRequest }).request;
    if (request === undefined || typeof request !== 'object') return;
    const api = this.#api;
    const parent: Context = api.context.active();
    if (parent.getValue(this.#suppress) === true) return;
    let url: URL;
    try {
      url = new URL(String(request.path ?? '/'), String(request.origin));
    } catch {
      return;
    }
    const method = String(request.method ?? 'GET').toUpperCase();
    const scheme = url.protocol.slice(0, -1);
    const port = url.port === '' ? (scheme === 'https' ? 443 : 80) : Number(url.port);
    const span = this.#tracer.startSpan(
      method,
      {
        kind: api.SpanKind.CLIENT,
        attributes: {
          'http.request.method': method,
          'server.address': url.hostname,
          'server.port': port,
          'url.full': `${url.protocol}//${url.host}${url.pathname}`,
          'url.scheme': scheme,
        },
      },
      parent,
    );
    this.#spans.set(request, span);
    api.propagation.inject(api.trace.setSpan(parent, span), request, requestSetter);
  };

  readonly #headers = (message: unknown): void => {
    const { request, response } = message as { request: object; response?: { statusCode?: unknown } };
    const span = this.#spans.get(request);
    const status = response?.statusCode;
    if (span === undefined || typeof status !== 'number') return;
    span.setAttribute('http.response.status_code', status);
    // A client span fails on 4xx too: the call did not get what it asked for.
    if (status >= 400) {
      span.setAttribute('error.type', String(status));
      span.setStatus({ code: this.#api.SpanStatusCode.ERROR });
    }
  };

  readonly #done = (message: unknown): void => {
    const { request } = message as { request: object };
    const span = this.#spans.get(request);
    if (span === undefined) return;
    this.#spans.delete(request);
    span.end();
  };

  readonly #error = (message: unknown): void => {
    const { request, error } = message as { request: object; error?: unknown };
    const span = this.#spans.get(request);
    if (span === undefined) return;
    this.#spans.delete(request);
    recordError(this.#api, span, error);
    span.end();
  };
}
