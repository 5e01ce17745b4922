/**
 * The OpenTelemetry API as the tracing module uses it: loaded on the first `tracing()` call (an app
 * that does not trace never loads `@opentelemetry/api`), with the names weir's spans share.
 */
import type * as OTel from '@opentelemetry/api';
import { WeirError } from '../../errors.ts';
import { loadPackage } from '../../internal/load-package.ts';

export type Api = typeof OTel;
export type Attributes = OTel.Attributes;
export type Context = OTel.Context;
export type Span = OTel.Span;
export type Tracer = OTel.Tracer;
export type TextMapGetter<C> = OTel.TextMapGetter<C>;
export type TextMapSetter<C> = OTel.TextMapSetter<C>;

let loaded: Promise<Api> | undefined;

/** `@opentelemetry/api`, loaded once. @throws WEIR_ERR_TRACING_API_MISSING when it is not installed. */
export function loadApi(): Promise<Api> {
  loaded ??= loadPackage<Api>(
    '@opentelemetry/api',
    'tracing()',
    (message, cause) => new WeirError('WEIR_ERR_TRACING_API_MISSING', message, { cause }),
    true,
  ).catch((err: unknown) => {
    loaded = undefined;
    throw err;
  });
  return loaded;
}

/**
 * The key of a context in which weir makes no span: the route of an ignored request (`ignore`) runs in
 * one, so that its queries and cache calls do not become traces of their own. `createContextKey()` is
 * `Symbol.for()`, so every copy of the API agrees on it.
 */
export function suppressKey(api: Api): symbol {
  return api.createContextKey('weir.tracing.suppressed');
}

/** The most characters of an error message an exception event keeps. */
const MAX_MESSAGE = 1024;

/**
 * Records `err` on `span` as an exception event and marks the span failed: `error.type` is the error's
 * `code` when it has one (`WEIR_ERR_…`, `ECONNREFUSED`), else its name. The stack is kept; the message is
 * cut at 1,024 characters.
 */
export function recordError(api: Api, span: Span, err: unknown): void {
  const error = err as { code?: unknown; name?: unknown; message?: unknown; stack?: unknown } | undefined;
  const type =
    typeof error?.code === 'string' ? error.code : typeof error?.name === 'string' ? error.name : 'Error';
  const message = typeof error?.message === 'string' ? error.message.slice(0, MAX_MESSAGE) : String(err);
  span.recordException({
    name: type,
    message,
    stack: typeof error?.stack === 'string' ? error.stack : undefined,
  });
  span.setAttribute('error.type', type);
  span.setStatus({ code: api.SpanStatusCode.ERROR, message });
}
