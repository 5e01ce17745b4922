/**
 * Server-Sent Events: `sse(ctx, source)` answers with a `text/event-stream` that runs until the source
 * ends, the client leaves, the client falls too far behind, or the server drains. The public face: the
 * types, the options and the response; sse-stream.ts writes the stream, sse-format.ts its events.
 */
import { Readable } from 'node:stream';
import { invalidOption } from '../errors.ts';
import type { AppRuntime } from './app-runtime.ts';
import type { AnyContext } from './context.ts';
import { WeirResponse } from './response.ts';
import { lastEventIdOf, type SseEvent } from './sse-format.ts';
import { EventStream, type Settings } from './sse-stream.ts';

export type { SseEvent } from './sse-format.ts';
export { sseChannel } from './sse-stream.ts';

/** Options of {@link sse}. */
export interface SseOptions {
  /**
   * A comment line (`:`) goes out when nothing was written for this long, so proxies and load balancers
   * that close idle connections keep the stream open. `0`: none. @default 15000
   */
  heartbeatMs?: number;
  /**
   * Bytes written that the client has not taken yet (beyond what the kernel holds) past which the client
   * is dropped as too slow: its connection is destroyed. An event larger than this can drop a client that
   * is merely behind. @default 1048576 (1 MiB)
   */
  maxBufferedBytes?: number;
  /** Sent once, first, as `retry:`: how long the browser waits before reconnecting, in ms. */
  retryMs?: number;
}

/** The open end of an SSE response, as a push source gets it. */
export interface SseStream {
  /**
   * Writes an event (a string is an event with that data); false once the stream is closed (the client
   * left, was dropped as too slow, the server is shutting down, or `close()` was called), when the event
   * is not sent. A client that stops reading is dropped by the send that leaves more than
   * `maxBufferedBytes` waiting for it.
   * @throws TypeError for an event that cannot be written safely (see {@link SseEvent}).
   */
  send(event: SseEvent | string): boolean;
  /**
   * The request's `Last-Event-ID` (the id of the last event the client saw before it reconnected), or
   * `undefined` when absent, longer than 1024 characters, or holding CR, LF or NUL.
   */
  readonly lastEventId: string | undefined;
  /** Aborts when the stream closes, whatever the reason: stop the work that feeds it. */
  readonly signal: AbortSignal;
  /** True once the stream is closed. */
  readonly closed: boolean;
  /** Bytes written that the connection has not taken yet. */
  readonly bufferedBytes: number;
  /** Ends the stream cleanly once what was sent has gone out. Idempotent. */
  close(): void;
}

/**
 * What feeds an SSE response: an async iterable, pulled as the client reads (its iterator's `return()`
 * is called when the stream closes first), or a push function, called once when the response starts.
 * The function's return does not end the stream (`close()` does); a promise it returns is watched for a
 * rejection. A source that throws or rejects ends the stream by cutting the connection, and is logged.
 */
export type SseSource = AsyncIterable<SseEvent | string> | ((stream: SseStream) => unknown);

/**
 * Why a stream closed: `end` (the source finished, or `close()`), `client` (the client left), `slow` (it
 * fell more than `maxBufferedBytes` behind and was dropped), `shutdown` (the server drains), `error`
 * (the source threw).
 */
export type SseCloseReason = 'end' | 'client' | 'slow' | 'shutdown' | 'error';

const DEFAULT_HEARTBEAT_MS = 15_000;
const DEFAULT_MAX_BUFFERED_BYTES = 1024 * 1024;
const HEADERS = {
  'content-type': 'text/event-stream; charset=utf-8',
  // no-transform: intermediaries must not compress (and so buffer) the stream.
  'cache-control': 'no-cache, no-transform',
  // nginx buffers proxied responses unless told not to.
  'x-accel-buffering': 'no',
} as const;

/**
 * A Server-Sent Events response. Return it from the handler; it is written as events come, with
 * heartbeats while idle, until the source ends, the client leaves or is dropped as too slow, or the
 * server drains (each open stream then ends at once, and shutdown does not wait for it).
 * @example
 * app.get('/ticks', (ctx) => sse(ctx, async function* () {
 *   for (let i = 0; ; i++) { yield { id: String(i), data: { i } }; await sleep(1000, { signal: ctx.signal }); }
 * }()));
 * @example
 * app.get('/news', (ctx) => sse(ctx, (stream) => {
 *   subscribers.add(stream);
 *   stream.signal.addEventListener('abort', () => subscribers.delete(stream));
 * }));
 * @throws WEIR_ERR_INVALID_OPTION for a source that is neither, or a malformed option.
 */
export function sse(ctx: AnyContext, source: SseSource, options: SseOptions = {}): WeirResponse {
  const iterable = typeof source !== 'function';
  if (iterable && typeof (source as Partial<AsyncIterable<unknown>>)?.[Symbol.asyncIterator] !== 'function') {
    throw invalidOption('sse() source', 'an async iterable or a function', source);
  }
  const stream = new EventStream(ctx, source, settings(options));
  return new WeirResponse(new SseBody(stream), 200, { ...HEADERS });
}

function settings(options: SseOptions): Settings {
  const { heartbeatMs = DEFAULT_HEARTBEAT_MS, maxBufferedBytes = DEFAULT_MAX_BUFFERED_BYTES } = options;
  const retryMs = options.retryMs;
  // setTimeout's limit: a longer heartbeat would fire at once.
  if (!Number.isSafeInteger(heartbeatMs) || heartbeatMs < 0 || heartbeatMs > 2_147_483_647) {
    throw invalidOption('sse() heartbeatMs', 'an integer number of ms, 0 or more', heartbeatMs);
  }
  if (!Number.isSafeInteger(maxBufferedBytes) || maxBufferedBytes <= 0) {
    throw invalidOption('sse() maxBufferedBytes', 'a positive integer', maxBufferedBytes);
  }
  if (retryMs !== undefined && (!Number.isSafeInteger(retryMs) || retryMs < 0)) {
    throw invalidOption('sse() retryMs', 'an integer number of ms, 0 or more', retryMs);
  }
  return { heartbeatMs, maxBufferedBytes, retryMs };
}

/**
 * The request's `Last-Event-ID`: the id of the last event the client saw before it reconnected, or
 * `undefined` when absent, longer than 1024 characters, or holding CR, LF or NUL. For an async-iterable
 * source, which is made before the stream (a push source reads `stream.lastEventId`).
 * @example app.get('/feed', (ctx) => sse(ctx, feedAfter(lastEventId(ctx))));
 */
export function lastEventId(ctx: AnyContext): string | undefined {
  return lastEventIdOf(ctx.req.headers['last-event-id']);
}

/** Starts a stream on its response: called by send.ts once the status line and headers are written. */
export const kStart = Symbol('weir.sse.start');

/**
 * The body of an `sse()` response. A `Readable` by type only, so every path that handles a response body
 * knows it (HEAD and a discarded response destroy it, which closes the stream); send.ts starts it on the
 * response itself rather than piping it.
 */
export class SseBody extends Readable {
  readonly #stream: EventStream;

  constructor(stream: EventStream) {
    super();
    this.#stream = stream;
  }

  override _read(): void {
    this.destroy(new TypeError('An sse() body is written by weir to its own response; it cannot be read'));
  }

  override _destroy(err: Error | null, callback: (err?: Error | null) => void): void {
    this.#stream.discard();
    callback(err);
  }

  [kStart](runtime: AppRuntime): void {
    this.#stream.start(runtime);
  }
}
