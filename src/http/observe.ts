/**
 * What the HTTP core tells observers: one message per request on the `weir:http.request` diagnostics
 * channel once its response has closed (sent, or the client gone). weir/observability's access log and
 * metrics subscribe to it; with no subscriber a request pays one `hasSubscribers` check and nothing else.
 *
 * A tracer (weir/observability's `tracing()`) also installs a {@link RequestTracer} on the app's runtime:
 * told of each request as its context is made, it runs the route's chain with the request's span
 * active. Without one, a request pays one `undefined` check.
 */
import { channel } from 'node:diagnostics_channel';
import type { AppRuntime } from './app-runtime.ts';
import type { Chain } from './compose.ts';
import type { Context } from './context.ts';

/** The route of a request no route matched (a 404, or one refused before routing). */
export const UNMATCHED = '(unmatched)';

/** A request whose response has closed. */
export interface RequestRecord {
  /** The request's context: its method, id (`requestId`), client address (`ip`), … */
  readonly ctx: Context;
  /** The route's pattern as registered (`/users/:id`), never the raw path; `(unmatched)` for none. */
  readonly route: string;
  /** The status sent; for a client that left first, the status that was set (200 if none). */
  readonly status: number;
  /** From the request's arrival (before any wait for an overload slot) to the response's close. */
  readonly durationMs: number;
  /** Bytes handed to the connection for this response: status line, headers and body. */
  readonly bytes: number;
  /** False when the connection closed before the whole response was handed over. */
  readonly completed: boolean;
  /** The app's runtime, which tells the apps of one process apart. Internal. */
  readonly runtime: AppRuntime;
}

/** `weir:http.request`: a {@link RequestRecord} per request, when its response closes. */
export const requestChannel = channel('weir:http.request');

/** Publishes `ctx`'s record when its response closes. Call only while the channel has subscribers. */
export function observeRequest(ctx: Context, route: string, arrived: number, runtime: AppRuntime): void {
  const socket = ctx.req.socket;
  const before = socket?.bytesWritten ?? 0;
  // The peer's address is read from the OS once per connection; read it now, while the socket is open.
  void socket?.remoteAddress;
  const res = ctx.res;
  // `on`, not `once`: a response closes once, and `once` would wrap the listener in two more objects.
  res.on('close', () => {
    const bytes = socket === null ? 0 : socket.bytesWritten - before;
    publishRequest(ctx, route, res.statusCode, arrived, bytes, res.writableFinished, runtime);
  });
}

/** Publishes one request's record (see {@link observeRequest}; an accepted WebSocket upgrade's 101). */
export function publishRequest(
  ctx: Context,
  route: string,
  status: number,
  arrived: number,
  bytes: number,
  completed: boolean,
  runtime: AppRuntime,
): void {
  const record: RequestRecord = {
    ctx,
    route,
    status,
    durationMs: performance.now() - arrived,
    bytes,
    completed,
    runtime,
  };
  requestChannel.publish(record);
}

/** What a tracer installs on an app's runtime (`runtime.tracer`). Internal. */
export interface RequestTracer {
  /**
   * A request's context was made (routed, or refused before routing): `route` is its pattern or
   * `(unmatched)`, `arrived` when it arrived (`performance.now()`). Its end comes on `weir:http.request`.
   */
  start(ctx: Context, route: string, arrived: number): void;
  /** Runs the route's chain for `ctx`, with the request's span as the active context. */
  run(ctx: Context, chain: Chain): unknown;
  /** What `ctx.log` binds besides the request id (the trace and span ids); `undefined` for nothing. */
  logFields(ctx: Context): Record<string, string> | undefined;
}
