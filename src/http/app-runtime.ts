/**
 * What a request's {@link Context} shares with the rest of weir's HTTP layer: the app's runtime, a route's
 * settings, and the symbol keys of the response state that send.ts and the dispatcher read (not exported
 * from the package). context.ts re-exports all of it.
 */

import type { Logger } from '../internal/logger.ts';
import type { OverloadLimiter } from '../overload/limiter.ts';
import type { BodyRate } from './body-rate.ts';
import type { CompressionSettings } from './compression/settings.ts';
import type { DeadlineTrustFn } from './deadline.ts';
import type { RequestTracer } from './observe.ts';
import type { TrustFn } from './proxy.ts';
import type { RequestIds } from './request-id.ts';

/** What every request of an app shares. Internal. */
export interface AppRuntime {
  readonly log: Logger;
  readonly cookieSecrets: readonly string[];
  readonly exposeErrors: boolean;
  readonly bodyLimitBytes: number;
  readonly maxJsonDepth: number;
  readonly bodyRate: BodyRate;
  /** The compiled `trustProxy` option; `undefined` believes no forwarding header. */
  readonly trustProxy: TrustFn | undefined;
  /** True while a server of the app drains: responses then carry `Connection: close`. */
  draining: boolean;
  /**
   * The open responses that run until closed (`sse()`), each as the function that ends it: a drain calls
   * them all at once rather than waiting for them until its deadline.
   */
  readonly streams: Set<() => void>;
  /** The overload limiter, unless the app turned it off. */
  readonly limiter: OverloadLimiter | undefined;
  /** The compiled `trustDeadline` option; `undefined` believes no deadline header. */
  readonly trustDeadline: DeadlineTrustFn | undefined;
  /** The compiled `requestId` option. */
  readonly requestIds: RequestIds;
  /** Set while weir/observability's `tracing()` traces the app's requests. */
  tracer: RequestTracer | undefined;
  /** The compiled `compression` option; `undefined` when the app turned it off. */
  readonly compression: CompressionSettings | undefined;
  /** The app's `decompressBodies` option. */
  readonly decompressBodies: boolean;
}

/** Per-route settings a request needs. Internal. */
export interface RouteSettings {
  readonly bodyLimitBytes: number | undefined;
  readonly maxJsonDepth: number | undefined;
  /** The route's minimum body rate, merged with the app's when the route sets either part. */
  readonly bodyRate: BodyRate | undefined;
  /** The route's `decompressBodies`, when it sets one. */
  readonly decompressBodies?: boolean | undefined;
}

// Response state is read by send.ts, so it lives on symbol keys rather than #fields; the symbols are
// not exported from the package.
export const kStatus = Symbol('weir.status');
export const kHeaders = Symbol('weir.headers');
export const kRuntime = Symbol('weir.runtime');
/**
 * The request's AbortController, kept on its response once `ctx.signal` has been read, so the server can
 * abort the requests still running at the drain deadline. Requests that never read the signal pay nothing.
 */
export const kAbort = Symbol('weir.abort');
/** Sets a request's deadline (see deadline.ts, which also arms its timer). */
export const kSetDeadline = Symbol('weir.setDeadline');
/** Set by `ctx.noCompression()`: the response is sent uncompressed. */
export const kNoCompression = Symbol('weir.no-compression');

/** On a response made by `ctx.reply()`: the body as given, for the response schema's check. */
export const kReplyBody = Symbol('weir.reply-body');

/** Set on a route with response schemas: `reply()` leaves its body to the schemas' check and serialiser. */
export const kDeferReply = Symbol('weir.defer-reply');

/** Sets a validated request part (the route's schemas ran): what `ctx.params` … `ctx.body` then answer. */
export const kSetInput = Symbol('weir.set-input');

/** Reads the body for a route's body schema: `json()` or `form()` with no promise chained per step. */
export const kReadBody = Symbol('weir.read-body');
