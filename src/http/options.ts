/**
 * The options of an App and of its routes, with their checks: the one place their bounds are declared.
 */

import { invalidOption } from '../errors.ts';
import type { Logger } from '../internal/logger.ts';
import { type OverloadOptions, type Priority, priorityOf } from '../overload/options.ts';
import type { RouteSchema } from '../schema/types.ts';
import type { BackgroundOptions } from './background.ts';
import type { CompressionOptions } from './compression/settings.ts';
import type { TrustDeadline } from './deadline.ts';
import type { TrustProxy } from './proxy.ts';
import type { RequestIdOptions } from './request-id.ts';

/** Options of an {@link App}. */
export interface AppOptions {
  /**
   * Where logs go: a pino logger (or anything with its `error/warn/info/debug`), or `false` for none.
   * @default pino at level `LOG_LEVEL` (default `info`) on stdout
   */
  logger?: Logger | false;
  /** Largest request body `ctx.json()`, `text()`, `form()` and `buffer()` accept. @default 1048576 (1 MiB) */
  bodyLimitBytes?: number;
  /** Deepest nesting of arrays and objects `ctx.json()` accepts; deeper answers 400. @default 64 */
  maxJsonDepth?: number;
  /**
   * Slowest a request body may arrive once `bodyRateGraceMs` has passed, averaged over the time weir
   * waits on the client (not the time a handler spends not reading `ctx.body`); slower answers 408
   * `WEIR_ERR_BODY_TOO_SLOW` and closes the connection. `0` turns the check off. @default 1024 (1 KiB/s)
   */
  minBodyRateBytesPerSecond?: number;
  /** How long a body may take to get going before `minBodyRateBytesPerSecond` is checked. @default 5000 */
  bodyRateGraceMs?: number;
  /** Secrets for signed cookies, newest first: signs with the first, verifies with any. Each ≥ 16 chars. */
  cookieSecrets?: string | readonly string[];
  /** Put stack traces in 500 bodies. @default process.env.NODE_ENV === 'development' */
  exposeErrors?: boolean;
  /**
   * The proxies in front of the app whose `X-Forwarded-For` and `X-Forwarded-Proto` to believe, for
   * `ctx.ip` and `ctx.protocol`: a hop count (`1`: one proxy, such as nginx, talks to the app), or the
   * proxies' addresses and CIDR ranges (`['127.0.0.1/32', '::1', '10.0.0.0/8']`). Set it only when
   * clients cannot reach the app but through those proxies.
   * @default false (the headers are ignored: `ctx.ip` is the peer address)
   * @throws WEIR_ERR_INVALID_OPTION for `true`, a negative count or a malformed address.
   */
  trustProxy?: TrustProxy;
  /**
   * The overload limiter (weir/overload): an adaptive limit on requests running at once, a short queue
   * for the rest, and a fast 503 with `Retry-After` for what cannot be served in time. Its knobs, or
   * `false` to turn it off. @default on, with the defaults of {@link OverloadOptions}
   */
  overload?: OverloadOptions | false;
  /**
   * Whose deadline headers to believe: `X-Request-Deadline` (epoch ms) and `grpc-timeout` (`100m`).
   * `true` believes every peer: set it only when clients reach the app through callers that set them
   * (a gateway, your own services), never directly. Or the callers' addresses and CIDR ranges. A believed
   * deadline earlier than the route's `timeoutMs` becomes `ctx.deadline`; a malformed one answers 400
   * `WEIR_ERR_BAD_DEADLINE`, one already past answers 503 without running the handler.
   * @default false (the headers are ignored)
   */
  trustDeadline?: TrustDeadline;
  /** Bounds of `app.background()`: tasks running at once, and how long stop waits for them. */
  background?: BackgroundOptions;
  /**
   * What happens when a route's response breaks its `schema.response`: `'error'` answers 500
   * `WEIR_ERR_RESPONSE_SCHEMA` instead (the body is never sent), `'warn'` sends it and logs the issues once
   * per route and status, `'off'` does not check. @default 'error' when NODE_ENV is development or test,
   * else 'warn'
   */
  responseSchemas?: 'error' | 'warn' | 'off';
  /**
   * The largest request part, in values (objects, arrays and what is in them), for which a 400
   * `WEIR_ERR_VALIDATION` lists every issue. A larger part that breaks its schema gets its first issue
   * only (`details.partial`), with validators that can stop there (valibot, `weir/schema/typebox`): a large
   * hostile body would otherwise cost an issue per element. 0: always the first issue only. @default 2000
   */
  allIssuesMaxNodes?: number;
  /**
   * Each request's id (`ctx.requestId`): which header it is read from and echoed in, whose incoming ids
   * to keep, how new ones are made. `false`: no header read or echoed. @default a new id per request,
   * echoed in `X-Request-Id`; incoming ids are not kept
   */
  requestId?: RequestIdOptions | false;
  /**
   * Response compression: bodies of text, JSON, XML, JavaScript and SVG of at least `thresholdBytes` are
   * sent with brotli or gzip when the request's `Accept-Encoding` takes them, with
   * `Vary: Accept-Encoding` and an ETag of their own. `false` turns it off: when a proxy in front of the
   * app compresses, or to leave the CPU to the handlers. See docs/compression.md (and BREACH there).
   * @default on, with the defaults of {@link CompressionOptions}
   */
  compression?: CompressionOptions | false;
  /**
   * Accept request bodies sent with `Content-Encoding: gzip`, `deflate` or `br`: `ctx.json()`, `text()`,
   * `form()` and `buffer()` decompress them as they arrive, holding the *decompressed* size to
   * `bodyLimitBytes` (413 as soon as it passes, however small the compressed body). Corrupt data answers
   * 400. When off, a compressed body answers 415. @default false
   */
  decompressBodies?: boolean;
}

/** Options of one route. */
export interface RouteOptions {
  /** Overrides the app's `bodyLimitBytes` for this route. */
  bodyLimitBytes?: number;
  /** Overrides the app's `maxJsonDepth` for this route. */
  maxJsonDepth?: number;
  /** Overrides the app's `minBodyRateBytesPerSecond` for this route (`0`: no minimum). */
  minBodyRateBytesPerSecond?: number;
  /** Overrides the app's `bodyRateGraceMs` for this route. */
  bodyRateGraceMs?: number;
  /** Overrides the app's `decompressBodies` for this route. */
  decompressBodies?: boolean;
  /**
   * A deadline for the whole response: when it passes, `ctx.signal` aborts and the client gets 503
   * `WEIR_ERR_REQUEST_TIMEOUT` (unless the response has started). Off by default.
   */
  timeoutMs?: number;
  /** Its class under overload: lower classes are shed first. @default 'normal' */
  priority?: Priority;
  /** `false`: never limited nor shed by the overload limiter (health checks, metrics). @default true */
  shed?: boolean;
  /**
   * Standard Schemas (zod, valibot, arktype, …) for the request's `params`, `query`, `headers` and `body`,
   * checked before the handler runs (400 `WEIR_ERR_VALIDATION` listing each issue), and `response` bodies
   * by status; the handler's `ctx` and its return are typed from them.
   */
  schema?: RouteSchema;
  /** The operation's one-line summary in the OpenAPI document (`app.openapi()`). */
  summary?: string;
  /** The operation's description in the OpenAPI document (Markdown). */
  description?: string;
  /** Groups for the OpenAPI document and its docs page. */
  tags?: readonly string[];
  /** The operation's id in the OpenAPI document. @default the method and the path, as `getUsersById` */
  operationId?: string;
  /** Marks the operation deprecated in the OpenAPI document. */
  deprecated?: boolean;
  /** Leaves the route out of the OpenAPI document (health checks, the docs page itself). */
  hidden?: boolean;
}

function checkLimit(name: string, value: number | undefined, min = 0): void {
  if (value !== undefined && (!Number.isSafeInteger(value) || value < min)) {
    throw invalidOption(name, min === 0 ? 'a non-negative integer' : `an integer ≥ ${min}`, value);
  }
}

/** Checks the bounds of `new App(options)`. @throws `WEIR_ERR_INVALID_OPTION` naming the first bad one. */
export function checkAppOptions(options: AppOptions): void {
  if (options.responseSchemas !== undefined && !['error', 'warn', 'off'].includes(options.responseSchemas)) {
    throw invalidOption('responseSchemas', "'error', 'warn' or 'off'", options.responseSchemas);
  }
  checkLimit('bodyLimitBytes', options.bodyLimitBytes);
  checkLimit('allIssuesMaxNodes', options.allIssuesMaxNodes);
  checkLimit('maxJsonDepth', options.maxJsonDepth, 1);
  checkLimit('minBodyRateBytesPerSecond', options.minBodyRateBytesPerSecond);
  checkLimit('bodyRateGraceMs', options.bodyRateGraceMs);
  if (options.decompressBodies !== undefined && typeof options.decompressBodies !== 'boolean') {
    throw invalidOption('decompressBodies', 'a boolean', options.decompressBodies);
  }
}

/** Checks a route's options. @throws `WEIR_ERR_INVALID_OPTION` naming the first bad one. */
export function checkRouteOptions(options: RouteOptions): void {
  checkLimit('route bodyLimitBytes', options.bodyLimitBytes);
  checkLimit('route maxJsonDepth', options.maxJsonDepth, 1);
  checkLimit('route minBodyRateBytesPerSecond', options.minBodyRateBytesPerSecond);
  checkLimit('route bodyRateGraceMs', options.bodyRateGraceMs);
  if (options.timeoutMs !== undefined && (!Number.isFinite(options.timeoutMs) || options.timeoutMs <= 0)) {
    throw invalidOption('route timeoutMs', 'a positive number of milliseconds', options.timeoutMs);
  }
  if (options.priority !== undefined) priorityOf(options.priority, 'route priority');
  for (const key of ['shed', 'deprecated', 'hidden', 'decompressBodies'] as const) {
    if (options[key] !== undefined && typeof options[key] !== 'boolean') {
      throw invalidOption(`route ${key}`, 'a boolean', options[key]);
    }
  }
  for (const key of ['summary', 'description', 'operationId'] as const) {
    if (options[key] !== undefined && typeof options[key] !== 'string') {
      throw invalidOption(`route ${key}`, 'a string', options[key]);
    }
  }
  if (options.operationId !== undefined && !/^[A-Za-z_][\w.-]{0,127}$/.test(options.operationId)) {
    throw invalidOption('route operationId', 'letters, digits and _ . - (at most 128)', options.operationId);
  }
  if (
    options.tags !== undefined &&
    (!Array.isArray(options.tags) || options.tags.some((tag) => typeof tag !== 'string' || tag === ''))
  ) {
    throw invalidOption('route tags', 'a list of non-empty strings', options.tags);
  }
}
