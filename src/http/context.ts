import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import { kEnforcesDeadline, timeLeft } from '../concurrency/deadline.ts';
import type { TaskGroup } from '../concurrency/task-group.ts';
import { type HttpError, invalidOption } from '../errors.ts';
import { childLogger, type Logger } from '../internal/logger.ts';
import type { Reply, Responses } from '../schema/types.ts';
import {
  type AppRuntime,
  kAbort,
  kDeferReply,
  kHeaders,
  kNoCompression,
  kReadBody,
  kReplyBody,
  kRuntime,
  kSetDeadline,
  kSetInput,
  kStatus,
  type RouteSettings,
} from './app-runtime.ts';
import { type BodyRate, NO_BODY_RATE, watchBodyRate } from './body-rate.ts';
import { type CookieOptions, parseCookies, serializeCookie, unsignCookie } from './cookies.ts';
import { checkHeader, invalidHeader } from './headers.ts';
import type { PathParams } from './params.ts';
import { type ForwardedClient, forwardedClient, forwardedProtocol } from './proxy.ts';
import { parseQuery } from './query.ts';
import { RequestBody } from './request-body.ts';
import { requestIdOf } from './request-id.ts';
import { requestController, requestTasks } from './request-scope.ts';
import { isWeirResponse, json, WeirResponse } from './response.ts';
import { lastResort } from './send.ts';

/** Per-request state that is created only when asked for. */
interface Lazy<S> {
  query: Record<string, string | undefined> | undefined;
  cookies: Readonly<Record<string, string | undefined>> | undefined;
  state: S | undefined;
  abort: AbortController | undefined;
  reader: RequestBody | undefined;
  client: ForwardedClient | undefined;
  /** The body's rate is watched (by `buffer()` or for `body`): one watch per request. */
  rateWatched: boolean;
  deadline: number | undefined;
  tasks: TaskGroup | undefined;
  log: Logger | undefined;
  /** Validated headers and body, when the route's schemas declare them. */
  headers: unknown;
  body: unknown;
  hasBody: boolean;
}

/** The inputs of a route that validates everything, as `unknown`: see {@link AnyContext}. */
interface AnyInputs {
  readonly params: unknown;
  readonly query: unknown;
  readonly headers: unknown;
  readonly body: unknown;
}

/**
 * Any request's context, whatever its route's schemas made of its parts: what a helper takes that reads
 * only the request, its state and its response (`idempotencyKey(ctx)`, `csrfToken(ctx)`), so that it can
 * be called from every handler.
 */
export type AnyContext = Context<string, object, AnyInputs>;

/**
 * One request and its response. Everything that costs something is computed on first use: the query,
 * cookies, the abort signal, the body.
 *
 * @typeParam P the route's path literal, which types `params`.
 * @typeParam S the shape of `state`, declared on the App.
 * @typeParam I what the route's schemas validate (`RouteInputs`): `params`, `query`, `headers` and `body`
 *   typed as their schemas' outputs, and the statuses `reply()` takes.
 */
export class Context<P extends string = string, S extends object = Record<never, never>, I = unknown> {
  /** Node's request. Reading its body directly bypasses the size limit. */
  readonly req: IncomingMessage;
  /** Node's response. Writing to it directly takes the response out of weir's hands. */
  readonly res: ServerResponse;
  /** The request method, upper case. */
  readonly method: string;
  /** The raw path, without the query string. */
  readonly path: string;
  /** Path params, URL-decoded, typed from the route's path (or, with a params schema, its output). */
  readonly params: I extends { readonly params: infer V } ? V : PathParams<P>;
  /**
   * The value the response will be built from: the handler's return value, replaced by a middleware
   * that returns something else, or the error response when something threw.
   */
  result: unknown = undefined;
  /** What a handler or middleware threw, if anything did; `result` then holds the error response. */
  error: unknown = undefined;

  [kStatus] = 0;
  [kHeaders]: Record<string, string | number | string[]> | undefined = undefined;
  [kDeferReply] = false;
  [kNoCompression] = false;
  readonly [kRuntime]: AppRuntime;

  readonly #rawQuery: string;
  readonly #route: RouteSettings;
  #requestId: string | undefined = undefined;
  // Everything a plain request never touches lives in one object made on first use, so constructing a
  // Context initialises few fields (it is built once per request).
  #lazy: Lazy<S> | undefined = undefined;

  constructor(
    req: IncomingMessage,
    res: ServerResponse,
    method: string,
    path: string,
    rawQuery: string,
    params: Record<string, string>,
    route: RouteSettings,
    runtime: AppRuntime,
  ) {
    this.req = req;
    this.res = res;
    this.method = method;
    this.path = path;
    this.params = params as this['params'];
    this.#rawQuery = rawQuery;
    this.#route = route;
    this[kRuntime] = runtime;
  }

  /** Request headers, names in lower case. */
  /** Request headers, names in lower case (or, with a headers schema, its output). */
  get headers(): I extends { readonly headers: infer V } ? V : IncomingHttpHeaders {
    const validated = this.#lazy?.headers;
    return (validated ?? this.req.headers) as this['headers'];
  }

  /**
   * The client's address. With the app's `trustProxy` set and the peer a trusted proxy, the address
   * `X-Forwarded-For` names past the trusted hops (walked from the right, so entries a client forged on
   * the left are never believed); otherwise the socket's peer address. `''` once the socket is gone.
   */
  get ip(): string {
    return this.#client().ip;
  }

  /**
   * `'https'` or `'http'`: `X-Forwarded-Proto` as the outermost trusted proxy wrote it when the peer is a
   * trusted proxy (see `ip`), otherwise whether the connection itself is TLS.
   */
  get protocol(): 'http' | 'https' {
    const own = (this.req.socket as { encrypted?: boolean } | null)?.encrypted === true ? 'https' : 'http';
    const trust = this[kRuntime].trustProxy;
    if (trust === undefined) return own;
    return forwardedProtocol(own, this.req.headers['x-forwarded-proto'], this.#client().proxies);
  }

  #client(): ForwardedClient {
    const lazy = this.#bag();
    if (lazy.client === undefined) {
      const peer = this.req.socket?.remoteAddress ?? '';
      const trust = this[kRuntime].trustProxy;
      lazy.client =
        trust === undefined
          ? { ip: peer, proxies: 0 }
          : forwardedClient(peer, this.req.headers['x-forwarded-for'], trust);
    }
    return lazy.client;
  }

  #bag(): Lazy<S> {
    this.#lazy ??= {
      query: undefined,
      cookies: undefined,
      state: undefined,
      abort: undefined,
      reader: undefined,
      client: undefined,
      rateWatched: false,
      deadline: undefined,
      tasks: undefined,
      log: undefined,
      headers: undefined,
      body: undefined,
      hasBody: false,
    };
    return this.#lazy;
  }

  /** @internal A request part as the route's schema made it (coerced, defaults filled, unknown keys gone). */
  [kSetInput](part: 'params' | 'query' | 'headers' | 'body', value: unknown): void {
    if (part === 'params') {
      (this as { params: unknown }).params = value;
      return;
    }
    const lazy = this.#bag();
    if (part === 'query') lazy.query = value as Record<string, string | undefined>;
    else if (part === 'headers') lazy.headers = value;
    else {
      lazy.body = value;
      lazy.hasBody = true;
    }
  }

  /** Query parameters; for a repeated name, the first value. See {@link queryAll}. */
  get query(): I extends { readonly query: infer V } ? V : Readonly<Record<string, string | undefined>> {
    const lazy = this.#bag();
    if (lazy.query === undefined) {
      lazy.query = parseQuery(this.#rawQuery);
    }
    return lazy.query as this['query'];
  }

  /** Every value of a query parameter, in order. */
  queryAll(name: string): string[] {
    return this.#rawQuery === '' ? [] : new URLSearchParams(this.#rawQuery).getAll(name);
  }

  /** Request cookies (unsigned values as sent). */
  get cookies(): Readonly<Record<string, string | undefined>> {
    const lazy = this.#bag();
    lazy.cookies ??= parseCookies(this.req.headers.cookie);
    return lazy.cookies;
  }

  /** The value of a signed cookie, or `undefined` when it is missing or its signature does not verify. */
  signedCookie(name: string): string | undefined {
    const raw = this.cookies[name];
    return raw === undefined ? undefined : unsignCookie(name, raw, this[kRuntime].cookieSecrets);
  }

  /** Per-request state, typed by the App's `S`. */
  get state(): S {
    const lazy = this.#bag();
    lazy.state ??= {} as S;
    return lazy.state;
  }

  /**
   * Aborts, once, at the first of:
   * - the client closing the connection before the response has been sent;
   * - the request's {@link deadline} (reason `WEIR_ERR_REQUEST_TIMEOUT` or `WEIR_ERR_DEADLINE_EXCEEDED`);
   * - the response having been sent, or failing (an `AbortError`): work done for this request after
   *   that is work nobody waits for. Start work meant to outlive the request with `app.background()`.
   * - a drain reaching its deadline with the request still running (`WEIR_ERR_SHUTTING_DOWN`).
   * Pass it (or `ctx` itself) to every downstream call.
   */
  get signal(): AbortSignal {
    return this.#controller().signal;
  }

  /**
   * The instant (epoch ms, `Date.now()`'s clock) past which the answer is no longer wanted: the route's
   * `timeoutMs` from arrival, or earlier when a trusted caller asked so (`trustDeadline`);
   * `undefined` without either. `ctx.signal` aborts at it; weir's functions given `ctx` stop at it and
   * start nothing once it has passed.
   */
  get deadline(): number | undefined {
    return this.#lazy?.deadline;
  }

  /** Milliseconds left until {@link deadline} (0 once past), or `Infinity` without one. */
  timeLeft(): number {
    return timeLeft(this.#lazy?.deadline);
  }

  [kSetDeadline](deadline: number): void {
    this.#bag().deadline = deadline;
  }

  /**
   * A {@link TaskGroup} bound to the request: work spawned into it gets the request's signal, so it is
   * cancelled when the response has been sent, the client leaves or the deadline passes; the first
   * failure cancels its siblings. `await ctx.tasks.wait()` to join it before answering; a failure nobody
   * joined is logged once the response is done. Made on first use.
   * @example
   * const user = ctx.tasks.spawn((signal) => db.with({ signal }).one`SELECT …`);
   * const feed = ctx.tasks.spawn((signal) => loadFeed(id, { signal }));
   * return { user: await user, feed: await feed };
   */
  get tasks(): TaskGroup {
    const lazy = this.#bag();
    lazy.tasks ??= requestTasks(this.signal, (err) =>
      this.log.warn({ err, method: this.method, path: this.path }, 'a request task failed'),
    );
    return lazy.tasks;
  }

  /** Aborts {@link signal} with `reason` (used by route timeouts). */
  abort(reason: unknown): void {
    this.#controller().abort(reason);
  }

  #controller(): AbortController {
    const lazy = this.#bag();
    if (lazy.abort !== undefined) return lazy.abort;
    const controller = requestController(this.req, this.res);
    lazy.abort = controller;
    (this.res as { [kAbort]?: AbortController })[kAbort] = controller;
    return controller;
  }

  /**
   * The request's id: the incoming `X-Request-Id` when the app's `requestId.trust` believes the peer and
   * the id is well-formed (1 to 128 characters of letters, digits and `._:/+=@-`), else a new one. It is
   * echoed in the response's `X-Request-Id`, bound to `ctx.log`, put in 5xx error bodies, and kept with
   * the jobs the request adds (`queue.add(data, ctx)`).
   */
  get requestId(): string {
    this.#requestId ??= requestIdOf(this.req, this[kRuntime].requestIds);
    return this.#requestId;
  }

  /** The app's logger, with the request's id on every line (`requestId`); made on first use. */
  get log(): Logger {
    const lazy = this.#bag();
    if (lazy.log === undefined) {
      const runtime = this[kRuntime];
      const traced = runtime.tracer?.logFields(this as unknown as Context);
      lazy.log = childLogger(
        runtime.log,
        traced === undefined ? { requestId: this.requestId } : { requestId: this.requestId, ...traced },
      );
    }
    return lazy.log;
  }

  /**
   * The raw request body stream. Reading it directly bypasses the size limit, not the minimum data rate:
   * a client slower than `minBodyRateBytesPerSecond` is answered 408 `WEIR_ERR_BODY_TOO_SLOW` with
   * `Connection: close`, `signal` aborts with that error, and the stream then fails as the connection
   * closes. Time the handler spends not reading (a paused stream, data waiting in it) does not count.
   */
  get body(): I extends { readonly body: infer V } ? V : IncomingMessage {
    const lazy = this.#bag();
    // With a body schema, the body as it validated (read, parsed and checked before the handler ran).
    if (lazy.hasBody) return lazy.body as this['body'];
    if (!lazy.rateWatched) {
      lazy.rateWatched = true;
      const stop = watchBodyRate(this.req, this.#bodyRate(), (err) => this.#bodyTooSlow(err));
      this.res.once('close', stop);
    }
    return this.req as this['body'];
  }

  /**
   * A response with `status` and a JSON `body`, typed by the route's response schemas: the body must be
   * what the schema for that status takes, and the status one the route declares.
   */
  reply<K extends keyof Responses<I> & number>(status: K, body: Responses<I>[K]): Reply<K> {
    const response =
      status === 204 || status === 304 || this[kDeferReply]
        ? new WeirResponse(undefined, status, {})
        : json(body, status);
    (response as unknown as Record<symbol, unknown>)[kReplyBody] = body;
    return response as unknown as Reply<K>;
  }

  /** Answers 408 for a streamed body that is too slow, aborts `signal`, and fails the handler's stream. */
  #bodyTooSlow(err: HttpError): void {
    const req = this.req;
    this.abort(err);
    this.log.debug({ code: err.code, method: this.method, path: this.path }, err.message);
    lastResort(this.res, err.status, err.code, err.message);
    // Node leaves a request whose response is done on its own when the connection closes: its stream
    // would never end. Fail it with the error once the 408 is out and the connection closed, so a
    // handler still reading (`for await`, `pipeline`) stops.
    if (req.socket === null || req.socket.destroyed) req.destroy(err);
    else req.socket.once('close', () => req.destroy(err));
  }

  #bodyRate(): BodyRate {
    return this.#route.bodyRate ?? this[kRuntime].bodyRate;
  }

  /** The body as bytes, within the route's size limit and minimum data rate. */
  buffer(): Promise<Buffer> {
    return this.#reader().buffer();
  }

  /**
   * The body parsed as JSON. Requires `Content-Type: application/json` (or `+json`); answers 415
   * otherwise, 400 for malformed JSON or prototype-poisoning keys, 413 past the size limit, 408 for a body
   * slower than the minimum data rate.
   * The type parameter is an assertion, not a check: validate what you did not produce.
   */
  json<T = unknown>(): Promise<T> {
    return this.#reader().json() as Promise<T>;
  }

  /**
   * @internal What `json()` or `form()` answers, for a route's body schema, by callbacks: `done` gets the
   * value or the error, and no promise is made. `buffer()`, `json()`, `text()` and `form()` answer
   * afterwards as if the public method had read it.
   */
  [kReadBody](kind: 'json' | 'form', done: (err: unknown, value: unknown) => void): void {
    this.#reader().read(kind, done);
  }

  /** The body as UTF-8 text, whatever its type. */
  text(): Promise<string> {
    return this.#reader().text();
  }

  /** An `application/x-www-form-urlencoded` body; repeated names become lists. 415 for other types. */
  form(): Promise<Record<string, string | string[]>> {
    return this.#reader().form();
  }

  #reader(): RequestBody {
    const lazy = this.#bag();
    lazy.reader ??= new RequestBody(
      this.req,
      this.#route.bodyLimitBytes ?? this[kRuntime].bodyLimitBytes,
      this.#route.maxJsonDepth ?? this[kRuntime].maxJsonDepth,
      () => {
        if (lazy.rateWatched) return NO_BODY_RATE;
        lazy.rateWatched = true;
        return this.#bodyRate();
      },
      this.#route.decompressBodies ?? this[kRuntime].decompressBodies,
    );
    return lazy.reader;
  }

  /**
   * Sets the response status for a handler that returns a plain value. Chainable.
   * @throws WEIR_ERR_INVALID_OPTION unless `code` is an integer from 100 to 599.
   */
  status(code: number): this {
    if (!Number.isInteger(code) || code < 100 || code > 599) {
      throw invalidOption('ctx.status() code', 'an integer from 100 to 599', code);
    }
    this[kStatus] = code;
    return this;
  }

  /** The response status as it stands: explicit, from the result, or the default for the result. */
  get statusCode(): number {
    const result = this.result;
    if (isWeirResponse(result)) return result.status;
    if (this[kStatus] !== 0) return this[kStatus];
    return result === undefined ? 204 : 200;
  }

  /**
   * Sets a response header (name case-insensitive). Chainable.
   * @throws WEIR_ERR_INVALID_HEADER (500) when the name is not an HTTP token or the value holds CR, LF,
   * NUL or a character above U+00FF: validate or encode what you copy from a request.
   */
  set(name: string, value: string | number): this {
    checkHeader(name, value);
    const key = name.toLowerCase();
    // A plain object, which Object.assign copies into the response's headers about 8 times faster than a
    // null-prototype one (0.06 µs against 0.6 µs for three headers); `__proto__`, the one name that would
    // then be special, is no header anyone sends.
    if (key === '__proto__') throw invalidHeader(name);
    this[kHeaders] ??= {};
    this[kHeaders][key] = value;
    return this;
  }

  /**
   * Sends this response uncompressed, whatever its type and size. For responses that carry a secret
   * (a CSRF token, a session-bound value) beside text the request chose (a search term echoed back): an
   * attacker who can make a victim's browser send many such requests can read the secret from the
   * compressed sizes (BREACH). Chainable.
   */
  noCompression(): this {
    this[kNoCompression] = true;
    return this;
  }

  /** Adds a `Set-Cookie` header. Defaults: HttpOnly, SameSite=Lax, Path=/. Chainable. */
  cookie(name: string, value: string, options?: CookieOptions): this {
    const line = serializeCookie(name, value, options, this[kRuntime].cookieSecrets);
    this[kHeaders] ??= {};
    const existing = this[kHeaders]['set-cookie'];
    if (Array.isArray(existing)) existing.push(line);
    else this[kHeaders]['set-cookie'] = [line];
    return this;
  }

  /** Deletes a cookie on the client (same `path` and `domain` as when it was set). Chainable. */
  clearCookie(name: string, options?: Pick<CookieOptions, 'path' | 'domain'>): this {
    return this.cookie(name, '', { ...options, maxAgeSeconds: 0, expires: new Date(0) });
  }
}

// `ctx.signal` aborts at `ctx.deadline` (deadline.ts arms the timer whenever it sets one): weir's functions
// given `ctx` use its signal as it is, with no timer of their own. On the prototype: no cost per request.
Object.defineProperty(Context.prototype, kEnforcesDeadline, { value: true });
