/**
 * `createHttpClient()`: calls other HTTP services through one undici `Agent` (a connection pool per
 * origin, `connections` sockets at most, kept alive). A call
 *   - runs under the caller's signal and deadline (or its request's, when given `ctx`) and the client's
 *     `totalMs`, whichever ends first: the upstream request is destroyed when one of them fires;
 *   - retries what is safe to retry (see `RetryOptions`), never past its deadline;
 *   - goes through the origin's circuit breaker, which fails it at once while the origin is failing;
 *   - resolves to the whole response, whatever its status, its body read within `maxBodyBytes`.
 * The JSON helpers reject on a status that is not 2xx, and validate the body with a schema if given one.
 */
import { Agent } from 'undici';
import { budget } from '../concurrency/deadline.ts';
import { linkedController, reasonOf } from '../concurrency/signal.ts';
import { sleep } from '../concurrency/sleep.ts';
import { invalidOption, isHttpError } from '../errors.ts';
import { isStandardSchema, type StandardSchemaV1 } from '../schema/standard.ts';
import { formatPath, safeMessage } from '../schema/validate.ts';
import { Breaker, type BreakerState, type Outcome } from './breaker.ts';
import { fromUndici, statusError, upstreamError } from './errors.ts';
import {
  type HttpClientOptions,
  type HttpClientSettings,
  httpClientSettings,
  type RetrySettings,
  retrySettings,
  type TimeoutSettings,
  timeoutSettings,
} from './options.ts';
import { type BodyStream, readBody, type UpstreamResponse } from './response.ts';
import { parseRetryAfter, repeatable, retryableStatus, retryWait } from './retry.ts';
import { payloadOf, scopeOf, type Target, targetOf } from './target.ts';
import type { CallOptions, HttpClient, JsonCallOptions, JsonResult } from './types.ts';

/** What one attempt came to: a response to resolve with, or the wait before the next attempt. */
type AttemptResult = UpstreamResponse | { readonly retryInMs: number };

/** One call's settled settings. */
interface Call {
  readonly method: string;
  readonly target: Target;
  readonly headers: Record<string, string>;
  readonly body: string | Uint8Array | undefined;
  readonly timeouts: TimeoutSettings;
  readonly retry: RetrySettings;
  readonly canRepeat: boolean;
  readonly endsAt: number;
  readonly signal: AbortSignal;
  /** Whether `reason` is the one the call's own `totalMs` timer aborted with (a timeout the breaker counts). */
  readonly expired: (reason: unknown) => boolean;
}

const METHOD = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
// A timer of more than 2^31 - 1 ms fires at once: such a limit is none.
const MAX_TIMER = 2_147_483_647;
const undiciMs = (ms: number): number => (ms === Number.POSITIVE_INFINITY ? 0 : ms);

class UndiciHttpClient implements HttpClient {
  readonly #s: HttpClientSettings;
  readonly #agent: Agent;
  readonly #breakers = new Map<string, Breaker>();
  #closing: Promise<void> | undefined = undefined;

  constructor(settings: HttpClientSettings) {
    this.#s = settings;
    this.#agent = new Agent({
      connections: settings.connections,
      keepAliveTimeout: settings.keepAliveMs,
      keepAliveMaxTimeout: settings.keepAliveMs,
      headersTimeout: undiciMs(settings.timeouts.headersMs),
      bodyTimeout: undiciMs(settings.timeouts.bodyMs),
      connect: { timeout: undiciMs(settings.timeouts.connectMs) },
    });
  }

  get(path: string, options?: CallOptions) {
    return this.request('GET', path, options);
  }
  head(path: string, options?: CallOptions) {
    return this.request('HEAD', path, options);
  }
  post(path: string, options?: CallOptions) {
    return this.request('POST', path, options);
  }
  put(path: string, options?: CallOptions) {
    return this.request('PUT', path, options);
  }
  patch(path: string, options?: CallOptions) {
    return this.request('PATCH', path, options);
  }
  delete(path: string, options?: CallOptions) {
    return this.request('DELETE', path, options);
  }
  getJson<T, S extends StandardSchemaV1 | undefined>(path: string, options?: JsonCallOptions<S>) {
    return this.requestJson<T, S>('GET', path, options);
  }
  postJson<T, S extends StandardSchemaV1 | undefined>(
    path: string,
    data: unknown,
    options?: JsonCallOptions<S>,
  ) {
    return this.requestJson<T, S>('POST', path, { ...options, json: data } as JsonCallOptions<S>);
  }

  breakerState(origin?: string): BreakerState {
    const key = origin === undefined ? this.#s.base?.origin : new URL(origin).origin;
    return (key === undefined ? undefined : this.#breakers.get(key))?.state ?? 'closed';
  }

  close(): Promise<void> {
    this.#closing ??= this.#agent.close();
    return this.#closing;
  }

  async requestJson<T, S extends StandardSchemaV1 | undefined>(
    method: string,
    path: string,
    options: JsonCallOptions<S> = {},
  ): Promise<JsonResult<S, T>> {
    const schema = options.schema;
    if (schema !== undefined && !isStandardSchema(schema)) {
      throw invalidOption('http-client schema', 'a Standard Schema (valibot, zod, arktype …)', schema);
    }
    const hasAccept = Object.keys(options.headers ?? {}).some((name) => name.toLowerCase() === 'accept');
    const headers = hasAccept ? options.headers : { accept: 'application/json', ...options.headers };
    const res = await this.request(method, path, { ...options, headers });
    if (!res.ok) throw statusError(res.status, res.origin);
    const data = res.status === 204 || res.body.length === 0 ? undefined : res.json();
    if (schema === undefined) return data as JsonResult<S, T>;
    let result = schema['~standard'].validate(data);
    if (result instanceof Promise) result = await result;
    if (result.issues === undefined) return result.value as JsonResult<S, T>;
    // The issues name the schema's paths and the validator's words (values cut): the operator's log
    // gets them through the cause; the client of this app gets the count.
    const issues = result.issues
      .slice(0, 20)
      .map((i) => `${formatPath(i.path) || '(root)'}: ${safeMessage(i.message)}`);
    const count = result.issues.length;
    throw upstreamError(
      'WEIR_ERR_UPSTREAM_INVALID',
      `The upstream's response breaks the schema (${count} issue${count === 1 ? '' : 's'})`,
      res.origin,
      { cause: new Error(issues.join('; ')) },
    );
  }

  async request(method: string, path: string, options: CallOptions = {}): Promise<UpstreamResponse> {
    if (typeof method !== 'string' || !METHOD.test(method)) {
      throw invalidOption('http-client method', 'an HTTP method token', method);
    }
    const upper = method.toUpperCase();
    const target = targetOf(this.#s.base, path, options.query);
    if (this.#closing !== undefined) {
      throw upstreamError('WEIR_ERR_UPSTREAM_UNAVAILABLE', 'The HTTP client is closed', target.origin);
    }
    const scope = scopeOf(options);
    const timeouts = timeoutSettings(options.timeouts, this.#s.timeouts, 'http-client timeouts');
    const retry = retrySettings(options.retry, this.#s.retry, 'http-client retry');
    const { headers, body } = payloadOf(this.#s.headers, options);
    const caller = budget(scope);
    const { controller, dispose } = linkedController(caller.signal);
    const start = Date.now();
    // Made when the timer fires, not per call: an error captures a stack, which costs more than a call.
    let expired: unknown;
    const timer =
      timeouts.totalMs > MAX_TIMER
        ? undefined
        : setTimeout(() => {
            expired = upstreamError(
              'WEIR_ERR_UPSTREAM_TIMEOUT',
              `The upstream did not answer within totalMs (${timeouts.totalMs})`,
              target.origin,
            );
            controller.abort(expired);
          }, timeouts.totalMs);
    try {
      if (controller.signal.aborted) throw reasonOf(controller.signal);
      const call: Call = {
        method: upper,
        target,
        headers,
        body,
        timeouts,
        retry,
        canRepeat: repeatable(upper, headers),
        endsAt: Math.min(start + timeouts.totalMs, scope?.deadline ?? Number.POSITIVE_INFINITY),
        signal: controller.signal,
        expired: (reason) => reason !== undefined && reason === expired,
      };
      for (let n = 1; ; n++) {
        const result = await this.#attempt(call, n);
        if (!('retryInMs' in result)) return result;
        await sleep(result.retryInMs, { signal: call.signal });
      }
    } finally {
      clearTimeout(timer);
      dispose();
      caller.release();
    }
  }

  /** Attempt `n` of `call`, through the origin's breaker. */
  async #attempt(call: Call, n: number): Promise<AttemptResult> {
    const breaker = this.#breakerOf(call.target.origin);
    const admitted = breaker === undefined ? true : breaker.admit();
    if (admitted === false) {
      throw upstreamError(
        'WEIR_ERR_UPSTREAM_UNAVAILABLE',
        "The upstream's circuit breaker is open",
        call.target.origin,
      );
    }
    let outcome: Outcome = 'ignored';
    let beforeResponse = true;
    try {
      const res = await this.#agent.request({
        origin: call.target.origin,
        path: call.target.path,
        method: call.method as 'GET',
        headers: call.headers,
        body: call.body,
        signal: call.signal,
        headersTimeout: undiciMs(call.timeouts.headersMs),
        bodyTimeout: undiciMs(call.timeouts.bodyMs),
      });
      beforeResponse = false;
      const status = res.statusCode;
      outcome = status >= 500 ? 'failure' : 'success';
      const body = res.body as unknown as BodyStream;
      if (retryableStatus(status)) {
        const failed = {
          retryable: true,
          retryAfterMs: parseRetryAfter(res.headers['retry-after'], Date.now()),
        };
        const wait = retryWait(n, failed, call.retry, call.canRepeat, call.endsAt, Date.now());
        if (wait !== undefined) {
          await body.dump({ limit: 65_536, signal: call.signal });
          return { retryInMs: wait };
        }
      }
      return await readBody(status, res.headers, body, this.#s.maxBodyBytes, call.target.origin);
    } catch (err) {
      if (call.signal.aborted) {
        const reason = reasonOf(call.signal);
        outcome = call.expired(reason) ? 'failure' : 'ignored';
        throw reason;
      }
      if (isHttpError(err)) throw err;
      const mapped = fromUndici(err, call.target.origin, beforeResponse);
      outcome = mapped.counts ? 'failure' : 'ignored';
      const wait = retryWait(
        n,
        { retryable: mapped.retryable, retryAfterMs: undefined },
        call.retry,
        call.canRepeat,
        call.endsAt,
        Date.now(),
      );
      if (wait === undefined) throw mapped.error;
      return { retryInMs: wait };
    } finally {
      breaker?.record(outcome, admitted === 'probe');
    }
  }

  #breakerOf(origin: string): Breaker | undefined {
    const settings = this.#s.breaker;
    if (settings === false) return undefined;
    let breaker = this.#breakers.get(origin);
    if (breaker === undefined) {
      breaker = new Breaker(settings);
      this.#breakers.set(origin, breaker);
    }
    return breaker;
  }
}

/**
 * Makes a client of other HTTP services, on undici: pooled keep-alive connections per origin, time
 * limits, retries with backoff, a circuit breaker per origin, cancellation by the caller's request.
 * @throws `WEIR_ERR_INVALID_OPTION` for a bad option.
 * @example
 * const users = createHttpClient({ baseUrl: 'http://users.internal:8080' });
 * app.get('/me/profile', (ctx) => users.getJson('/users/7', { ctx, schema: User }));
 * app.onStop(() => users.close());
 */
export function createHttpClient(options: HttpClientOptions = {}): HttpClient {
  return new UndiciHttpClient(httpClientSettings(options));
}
