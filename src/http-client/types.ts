/** The public types of weir/http-client: a call's options and the client's methods. */
import type { SignalOptions } from '../concurrency/sleep.ts';
import type { StandardSchemaV1 } from '../schema/standard.ts';
import type { BreakerState } from './breaker.ts';
import type { RetryOptions, TimeoutOptions } from './options.ts';
import type { UpstreamResponse } from './response.ts';

/** Options of one call. */
export interface CallOptions extends SignalOptions {
  /**
   * The request a handler is serving (its `ctx`): the call stops when the request's signal aborts (the
   * client left, the route timed out) and retries no later than its deadline. Instead of `signal` and
   * `deadline`, not with them.
   */
  ctx?: SignalOptions;
  /** Request headers, over the client's. */
  headers?: Readonly<Record<string, string>>;
  /** Query parameters, appended to the path (`undefined` values left out). */
  query?: Readonly<Record<string, string | number | boolean | undefined>>;
  /** The request body. Not with `json`. */
  body?: string | Uint8Array;
  /** A value sent as the JSON body (`content-type: application/json` unless set). Not with `body`. */
  json?: unknown;
  /**
   * Sent as `Idempotency-Key`: the upstream runs the request once however often it is sent, so even a
   * POST may be retried.
   */
  idempotencyKey?: string;
  /** This call's time limits, over the client's (`connectMs` is the client's alone). */
  timeouts?: Omit<TimeoutOptions, 'connectMs'>;
  /** This call's retries, over the client's; `false` makes none. */
  retry?: RetryOptions | false;
}

/** Options of a JSON call: a call's, and a schema the response body must satisfy. */
export interface JsonCallOptions<S extends StandardSchemaV1 | undefined = undefined> extends CallOptions {
  /** A Standard Schema (valibot, zod, arktype …) the body is validated with; the call resolves to its output. */
  schema?: S;
}

/** What a JSON call resolves to: the schema's output, or `T` without one. */
export type JsonResult<S, T> = S extends StandardSchemaV1 ? StandardSchemaV1.InferOutput<S> : T;

/** A client of other HTTP services. Make one per upstream (or per app) with {@link createHttpClient}. */
export interface HttpClient {
  /**
   * Sends one request and resolves to its response, whatever the status (after the retries a 429, 502,
   * 503 or 504 allowed). `path` is relative to `baseUrl` (`/users/7`), or an absolute http(s) URL.
   * @throws `WEIR_ERR_UPSTREAM_TIMEOUT`, `WEIR_ERR_UPSTREAM_UNAVAILABLE`, `WEIR_ERR_UPSTREAM_TOO_LARGE`;
   *   the reason of the caller's signal when it aborts; `WEIR_ERR_DEADLINE_EXCEEDED` at its deadline.
   */
  request(method: string, path: string, options?: CallOptions): Promise<UpstreamResponse>;
  get(path: string, options?: CallOptions): Promise<UpstreamResponse>;
  head(path: string, options?: CallOptions): Promise<UpstreamResponse>;
  post(path: string, options?: CallOptions): Promise<UpstreamResponse>;
  put(path: string, options?: CallOptions): Promise<UpstreamResponse>;
  patch(path: string, options?: CallOptions): Promise<UpstreamResponse>;
  delete(path: string, options?: CallOptions): Promise<UpstreamResponse>;
  /**
   * Sends one request and resolves to its JSON body, validated by `options.schema` if given.
   * @throws what `request()` throws; `WEIR_ERR_UPSTREAM_STATUS` (502, `details.status`) for a status
   *   that is not 2xx, `WEIR_ERR_UPSTREAM_UNAVAILABLE` for 502 and 503, `WEIR_ERR_UPSTREAM_TIMEOUT` for
   *   504; `WEIR_ERR_UPSTREAM_INVALID` for a body that is not JSON or breaks the schema.
   */
  requestJson<T = unknown, S extends StandardSchemaV1 | undefined = undefined>(
    method: string,
    path: string,
    options?: JsonCallOptions<S>,
  ): Promise<JsonResult<S, T>>;
  /** `requestJson('GET', path, options)`. */
  getJson<T = unknown, S extends StandardSchemaV1 | undefined = undefined>(
    path: string,
    options?: JsonCallOptions<S>,
  ): Promise<JsonResult<S, T>>;
  /** `requestJson('POST', path, { ...options, json: data })`. */
  postJson<T = unknown, S extends StandardSchemaV1 | undefined = undefined>(
    path: string,
    data: unknown,
    options?: JsonCallOptions<S>,
  ): Promise<JsonResult<S, T>>;
  /** The state of the circuit breaker of `origin` (`baseUrl`'s by default): `closed` when none is kept. */
  breakerState(origin?: string): BreakerState;
  /** Waits for the calls in flight, then closes every connection. Calls made afterwards reject; calling it again returns the same promise. */
  close(): Promise<void>;
}
