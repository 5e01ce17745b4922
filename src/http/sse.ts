/**
 * Server-Sent Events: `sse(ctx, source)` answers with a `text/event-stream` that runs until the source
 * ends, the client leaves, the client falls too far behind, or the server drains.
 *
 * Inputs: an async iterable, pulled one event at a time and only once the connection has taken what was
 * written (its backpressure is the client's); or a push function, handed an {@link SseStream} to
 * `send()` to whenever it likes (a broadcast).
 * Guarantees:
 * - memory per client is bounded: what the connection has not taken stays in the response's buffer, and
 *   past `maxBufferedBytes` the client is dropped (its connection destroyed), never buffered further;
 * - no value can start a field or an event of its own (see sse-format.ts);
 * - the response holds no overload slot and outlives the route's `timeoutMs`: both concern producing the
 *   answer, which here is the status line;
 * - every way a stream ends (source done, `close()`, client gone, dropped, drain, source failure) goes
 *   through one transition, `#finish`, which runs once: the heartbeat stops, `signal` aborts, the
 *   iterator's `return()` is called, the drain forgets the stream.
 */
import { channel } from 'node:diagnostics_channel';
import { Readable } from 'node:stream';
import { invalidOption } from '../errors.ts';
import type { AnyContext, AppRuntime } from './context.ts';
import { WeirResponse } from './response.ts';
import { formatEvent, lastEventIdOf, type SseEvent } from './sse-format.ts';

export type { SseEvent } from './sse-format.ts';

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
 * The function's own return does not end the stream; `close()` does. A source that throws ends the
 * stream by cutting the connection, and is logged.
 */
export type SseSource = AsyncIterable<SseEvent | string> | ((stream: SseStream) => void | PromiseLike<void>);

/**
 * Why a stream closed: `end` (the source finished, or `close()`), `client` (the client left), `slow` (it
 * fell more than `maxBufferedBytes` behind and was dropped), `shutdown` (the server drains), `error`
 * (the source threw).
 */
export type SseCloseReason = 'end' | 'client' | 'slow' | 'shutdown' | 'error';

/**
 * `weir:http.sse`: `{ type: 'open', ctx }` when a stream starts and `{ type: 'close', ctx, reason }`
 * when it closes, for counting open streams and dropped clients.
 */
export const sseChannel = channel('weir:http.sse');

const DEFAULT_HEARTBEAT_MS = 15_000;
const DEFAULT_MAX_BUFFERED_BYTES = 1024 * 1024;
/** Events an iterable may yield without a turn of the event loop while the client keeps up. */
const BURST = 64;
const HEARTBEAT = ':\n\n';
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

interface Settings {
  readonly heartbeatMs: number;
  readonly maxBufferedBytes: number;
  readonly retryMs: number | undefined;
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

const IDLE = 0;
const OPEN = 1;
const CLOSED = 2;
const NOOP = (): void => {};
const now = (): number => performance.now();

const REASONS: Record<SseCloseReason, string> = {
  end: 'The event stream ended',
  client: 'The client closed the connection',
  slow: 'The client was dropped: it fell too far behind',
  shutdown: 'The server is shutting down',
  error: 'The event source failed',
};

class EventStream implements SseStream {
  readonly lastEventId: string | undefined;
  readonly #ctx: AnyContext;
  readonly #push: ((stream: SseStream) => void | PromiseLike<void>) | undefined;
  readonly #iterator: AsyncIterator<SseEvent | string> | undefined;
  readonly #settings: Settings;
  readonly #controller = new AbortController();
  /** IDLE until send.ts starts it, OPEN while it writes, CLOSED after `#finish`: never back. */
  #state = IDLE;
  #runtime: AppRuntime | undefined;
  #timer: NodeJS.Timeout | undefined;
  /** When the last byte was written, for the heartbeat. */
  #lastWrite = 0;
  /** A `next()` of the iterator is pending: at most one at a time. */
  #pulling = false;
  /** Events pulled since the event loop last turned. */
  #burst = 0;

  constructor(ctx: AnyContext, source: SseSource, settings: Settings) {
    this.#ctx = ctx;
    this.#settings = settings;
    this.lastEventId = lastEventIdOf(ctx.req.headers['last-event-id']);
    if (typeof source === 'function') this.#push = source;
    else this.#iterator = source[Symbol.asyncIterator]();
    // Also when the response never starts (middleware replaced it): the iterator is returned then.
    ctx.res.on('close', this.#onClose);
  }

  get signal(): AbortSignal {
    return this.#controller.signal;
  }

  get closed(): boolean {
    return this.#state === CLOSED;
  }

  get bufferedBytes(): number {
    return this.#state === OPEN ? this.#ctx.res.writableLength : 0;
  }

  send(event: SseEvent | string): boolean {
    if (this.#state !== OPEN) return false;
    return this.#write(formatEvent(event));
  }

  close(): void {
    this.#finish('end');
  }

  /** The response will not be sent (HEAD, replaced by middleware, the client already gone). */
  discard(): void {
    if (this.#state === IDLE) this.#finish('end');
  }

  start(runtime: AppRuntime): void {
    const res = this.#ctx.res;
    if (this.#state !== IDLE) {
      // Closed before it started: end the response that was just begun.
      if (!res.writableEnded) res.end();
      return;
    }
    this.#state = OPEN;
    this.#runtime = runtime;
    if (sseChannel.hasSubscribers) sseChannel.publish({ type: 'open', ctx: this.#ctx });
    if (runtime.draining) {
      this.#finish('shutdown');
      return;
    }
    runtime.streams.add(this.#onShutdown);
    const { retryMs, heartbeatMs } = this.#settings;
    // The status line goes out now, so the client knows the stream is open before the first event.
    if (retryMs === undefined) res.flushHeaders();
    else if (!this.#write(`retry: ${retryMs}\n\n`)) return;
    this.#lastWrite = now();
    if (heartbeatMs > 0) this.#arm(heartbeatMs);
    if (this.#push !== undefined) this.#runPush(this.#push);
    else this.#pull();
  }

  /** Writes `text`; false when the client was dropped for it (or is gone). */
  #write(text: string): boolean {
    const res = this.#ctx.res;
    if (res.destroyed) {
      this.#finish('client');
      return false;
    }
    res.write(text);
    this.#lastWrite = now();
    const buffered = res.writableLength;
    if (buffered > this.#settings.maxBufferedBytes) {
      this.#ctx.log.warn(
        { path: this.#ctx.path, bufferedBytes: buffered, maxBufferedBytes: this.#settings.maxBufferedBytes },
        'SSE client too slow: dropped',
      );
      this.#finish('slow');
      return false;
    }
    return true;
  }

  #runPush(push: (stream: SseStream) => void | PromiseLike<void>): void {
    let result: void | PromiseLike<void>;
    try {
      result = push(this);
    } catch (err) {
      this.#fail(err);
      return;
    }
    if (typeof (result as PromiseLike<void> | undefined)?.then === 'function') {
      (result as PromiseLike<void>).then(undefined, (err: unknown) => this.#fail(err));
    }
  }

  #pull(): void {
    if (this.#pulling || this.#state !== OPEN) return;
    this.#pulling = true;
    let step: Promise<IteratorResult<SseEvent | string>>;
    try {
      step = this.#iterator!.next();
    } catch (err) {
      this.#pulling = false;
      this.#fail(err);
      return;
    }
    Promise.resolve(step).then(this.#onStep, this.#onPullError);
  }

  readonly #onStep = (result: IteratorResult<SseEvent | string>): void => {
    this.#pulling = false;
    if (this.#state !== OPEN) return;
    if (result.done === true) {
      this.#finish('end');
      return;
    }
    let text: string;
    try {
      text = formatEvent(result.value);
    } catch (err) {
      this.#fail(err);
      return;
    }
    if (!this.#write(text)) return;
    const res = this.#ctx.res;
    if (res.writableNeedDrain) {
      res.once('drain', this.#resume);
    } else if (++this.#burst >= BURST) {
      // The kernel may keep taking what a fast client reads: let other work run between bursts.
      this.#burst = 0;
      setImmediate(this.#resume);
    } else {
      this.#pull();
    }
  };

  readonly #resume = (): void => {
    this.#burst = 0;
    this.#pull();
  };

  readonly #onPullError = (err: unknown): void => {
    this.#pulling = false;
    this.#fail(err);
  };

  /** A source that fails while the stream is open: logged, and the connection cut, as for stream(). */
  #fail(err: unknown): void {
    // Once closed, a source failing is the close reaching it (an aborted wait), not a fault.
    if (this.#state !== OPEN) return;
    this.#ctx.log.error({ err, method: this.#ctx.method, path: this.#ctx.path }, 'SSE source failed');
    this.#finish('error');
  }

  #arm(delayMs: number): void {
    this.#timer = setTimeout(this.#beat, delayMs);
    this.#timer.unref();
  }

  readonly #beat = (): void => {
    if (this.#state !== OPEN) return;
    const heartbeatMs = this.#settings.heartbeatMs;
    // Timers fire on the loop's millisecond clock: a tick within 1 ms of the mark counts as the mark.
    const idle = now() - this.#lastWrite;
    if (idle >= heartbeatMs - 1) {
      if (this.#write(HEARTBEAT)) this.#arm(heartbeatMs);
    } else {
      this.#arm(heartbeatMs - idle);
    }
  };

  readonly #onClose = (): void => this.#finish(this.#state === IDLE ? 'end' : 'client');

  readonly #onShutdown = (): void => this.#finish('shutdown');

  /** The one transition to CLOSED. */
  #finish(reason: SseCloseReason): void {
    if (this.#state === CLOSED) return;
    const opened = this.#state === OPEN;
    this.#state = CLOSED;
    clearTimeout(this.#timer);
    this.#runtime?.streams.delete(this.#onShutdown);
    this.#controller.abort(new DOMException(REASONS[reason], 'AbortError'));
    const iterator = this.#iterator;
    if (iterator?.return !== undefined) {
      try {
        // Not awaited: an async generator waiting inside the source returns only once it yields.
        Promise.resolve(iterator.return()).catch(NOOP);
      } catch {
        // A return() that throws has nothing left to release.
      }
    }
    if (!opened) return;
    const res = this.#ctx.res;
    if (reason === 'end' || reason === 'shutdown') {
      // Ended: a drain's sweep then closes the connection as soon as it is quiet, even if the client never
      // takes the rest.
      if (!res.writableEnded && !res.destroyed) res.end();
    } else if (reason !== 'client' && !res.destroyed) {
      res.destroy();
    }
    if (sseChannel.hasSubscribers) sseChannel.publish({ type: 'close', ctx: this.#ctx, reason });
  }
}
