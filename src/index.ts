/**
 * weir: the HTTP core and the concurrency primitives. Data, cache and queue backends have their own
 * subpath entries, so importing `weir` loads no driver.
 * @module
 */

export {
  type Budget,
  budget,
  configureWorkers,
  Event,
  type GatherOptions,
  gather,
  Lock,
  Queue,
  type QueueOptions,
  type Releaser,
  runInWorker,
  Semaphore,
  type SignalOptions,
  shutdownWorkers,
  sleep,
  type Task,
  TaskGroup,
  TimeoutError,
  timeLeft,
  timeout,
  type Work,
  type WorkerFunction,
  type WorkerPoolOptions,
  withinBudget,
  workerStats,
} from './concurrency/index.ts';
export {
  type ErrorCode,
  errorCodes,
  HttpError,
  type HttpErrorOptions,
  isHttpError,
  isWeirError,
  WeirError,
  type WeirErrorOptions,
} from './errors.ts';
export {
  type AddRoute,
  App,
  type AppOptions,
  type Handler,
  type LifecycleHook,
  type RouteOptions,
} from './http/app.ts';
export type { BackgroundOptions, SpawnOptions } from './http/background.ts';
export {
  type CacheControlOptions,
  cacheControl,
  type EtagOptions,
  etag,
  formatCacheControl,
} from './http/caching.ts';
export type { Guard, Middleware, Next, Provides } from './http/compose.ts';
export type { CompressionOptions, Encoding } from './http/compression/settings.ts';
export { type AnyContext, Context } from './http/context.ts';
export type { CookieOptions } from './http/cookies.ts';
export type { TrustDeadline } from './http/deadline.ts';
export type { PathParams } from './http/params.ts';
export type { Admission } from './http/pipeline.ts';
export type { TrustProxy } from './http/proxy.ts';
export {
  type ReadinessCheck,
  type ReadinessOptions,
  type ReadinessReport,
  readiness,
} from './http/readiness.ts';
export {
  html,
  isWeirResponse,
  json,
  type ResponseBody,
  type ResponseHeaders,
  type ResponseInit,
  redirect,
  stream,
  text,
  WeirResponse,
} from './http/response.ts';
export type {
  Jsonified,
  PlainRouteSpec,
  PrefixedRoutes,
  RouteEntry,
  RouteMethod,
  RouteSpec,
  SchemaRouteSpec,
} from './http/route-spec.ts';
export type { CloseOptions, ListenOptions, ServerHandle } from './http/server.ts';
export {
  lastEventId,
  type SseCloseReason,
  type SseEvent,
  type SseOptions,
  type SseSource,
  type SseStream,
  sse,
} from './http/sse.ts';
export { type StaticOptions, serveStatic } from './http/static.ts';
export type { Logger } from './internal/logger.ts';
export type { OverloadStats } from './overload/limiter.ts';
export type { OverloadOptions, Priority } from './overload/options.ts';
