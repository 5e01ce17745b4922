/**
 * weir/http-client: calls to other HTTP services, on undici. Pooled keep-alive connections per origin,
 * connect, headers, body and total time limits, retries with backoff and jitter that honour
 * `Retry-After` and stop at the caller's deadline, a circuit breaker per origin, cancellation by the
 * request a handler serves (`{ ctx }`), a bounded response body, and JSON helpers that validate with a
 * Standard Schema. Only this entry loads undici: an app that makes no client never does.
 * @module
 */
export type { BreakerState } from './breaker.ts';
export { createHttpClient } from './client.ts';
export type { UpstreamError, UpstreamErrorCode } from './errors.ts';
export {
  type BreakerOptions,
  DEFAULT_MAX_BODY_BYTES,
  type HttpClientOptions,
  type RetryOptions,
  type TimeoutOptions,
} from './options.ts';
export type { IncomingHttpHeaders, UpstreamResponse } from './response.ts';
export type { CallOptions, HttpClient, JsonCallOptions, JsonResult } from './types.ts';
