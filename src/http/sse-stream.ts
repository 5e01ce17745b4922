/**
 * One Server-Sent Events stream on its response, from start to close.
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
import type { AppRuntime } from './app-runtime.ts';
import type { AnyContext } from './context.ts';
import type { SseCloseReason, SseSource, SseStream } from './sse.ts';
import { formatEvent, lastEventIdOf, type SseEvent } from './sse-format.ts';

/**
 * `weir:http.sse`: `{ type: 'open', ctx }` when a stream starts and `{ type: 'close', ctx, reason }`
 * when it closes, for counting open streams and dropped clients.
 */
export const sseChannel = channel('weir:http.sse');

/** The validated options of one stream. */
export interface Settings {
  readonly heartbeatMs: number;
  readonly maxBufferedBytes: number;
  readonly retryMs: number | undefined;
}

/** Events an iterable may yield without a turn of the event loop while the client keeps up. */
const BURST = 64;
const HEARTBEAT = ':\n\n';
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

/** The stream a push source is handed; send.ts starts it through its body (sse.ts `SseBody`). */
export class EventStream implements SseStream {
  readonly lastEventId: string | undefined;
  readonly #ctx: AnyContext;
  readonly #push: ((stream: SseStream) => unknown) | undefined;
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
    // Gone, or ended by the server (the drain's deadline): 'close' is on its way.
    if (res.destroyed || res.writableEnded) {
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

  #runPush(push: (stream: SseStream) => unknown): void {
    let result: unknown;
    try {
      result = push(this);
    } catch (err) {
      this.#fail(err);
      return;
    }
    if (typeof (result as PromiseLike<unknown> | undefined)?.then === 'function') {
      (result as PromiseLike<unknown>).then(undefined, (err: unknown) => this.#fail(err));
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
      // Small events may not fill the response's buffer for a long while: let other work run meanwhile.
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
