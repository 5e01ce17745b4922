import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import { type HttpError, httpError } from '../errors.ts';

/**
 * The minimum data rate of a request body (see {@link watchBodyRate}): a client that sends its body a few
 * bytes at a time is answered 408 with `Connection: close` rather than holding a connection open.
 */

/**
 * 1 KiB/s: the default minimum data rate of a request body, once its grace period has passed. It is 8
 * kbit/s, under the upstream rate of a GPRS link (the slowest mobile data still in service), so a client on
 * a working network is never cut; and the request timeout (60 s) already asks more of any body over
 * 60 KiB. What it stops is a client holding a connection open with a body it sends a few bytes at a time.
 * Kestrel's default is 240 B/s, Apache mod_reqtimeout's 500 B/s.
 */
export const DEFAULT_MIN_BODY_RATE_BYTES_PER_SECOND = 1024;

/** The default time a body may take to get going before its rate is checked (Kestrel's, too). */
export const DEFAULT_BODY_RATE_GRACE_MS = 5000;

/** How often the rate of a body still arriving is checked. */
const RATE_WINDOW_MS = 1000;

/** The minimum data rate of a request body. Internal. */
export interface BodyRate {
  /** Bytes per second, averaged over the time weir waited on the client; 0 turns the check off. */
  readonly minBytesPerSecond: number;
  /** Time before the first check. */
  readonly graceMs: number;
}

/** No rate check. */
export const NO_BODY_RATE: BodyRate = { minBytesPerSecond: 0, graceMs: 0 };

const CLOSE = { connection: 'close' } as const;
const NOOP = (): void => {};

function tooSlow(minBytesPerSecond: number, bytes: number, activeMs: number): HttpError {
  const seen = Math.floor((bytes * 1000) / activeMs);
  return httpError(
    'WEIR_ERR_BODY_TOO_SLOW',
    `The request body arrived at ${seen} bytes/s, slower than the minimum of ${minBytesPerSecond} bytes/s`,
    { minBytesPerSecond },
    { headers: CLOSE },
  );
}

/** Functions waiting for the end of this round of I/O callbacks; see {@link afterThisRound}. */
let waiting: (() => void)[] = [];

function runWaiting(): void {
  const due = waiting;
  waiting = [];
  for (const fn of due) {
    try {
      fn();
    } catch (err) {
      // Thrown as from its own immediate, without keeping the others from running.
      process.nextTick(() => {
        throw err;
      });
    }
  }
}

/**
 * Runs `fn` once this round of I/O callbacks is over, as `setImmediate` does, but with one immediate for
 * every request that asked in the round (under load, one per event-loop turn rather than one per POST).
 */
function afterThisRound(fn: () => void): void {
  if (waiting.length === 0) setImmediate(runWaiting);
  waiting.push(fn);
}

/**
 * Watches the data rate of the body of `req`, and calls `onTooSlow` once when it falls under `rate`.
 * Returns the function that stops watching (idempotent); watching also stops when the body ends or the
 * request closes.
 *
 * - No timer is armed for a body received with the head (the common small POST: `req.complete` is true
 *   once the packet is parsed; deciding that waits for one `setImmediate`, shared by the requests of
 *   that round of I/O), nor for a request with no body,
 *   the check turned off, or a request with no real socket (`inject()`). Otherwise one interval timer,
 *   unreferenced, ticking every second.
 * - A tick counts its second, and the bytes the socket read in it, only when weir was waiting on the
 *   client throughout: not when the reader paused the stream (`pause()`, as `pipe()` does under
 *   backpressure) during the second, nor when read data waited in the stream for the reader (`for await`
 *   in a slow loop) at either end of it. A handler that reads slowly is not the client's fault.
 *   Counting ticks rather than reading a clock also leaves out a stalled event loop, whose unread bytes
 *   wait in the kernel.
 * - Once the counted time reaches `graceMs`, each tick compares the average since the start (bytes
 *   counted / time counted, as Kestrel's MinRequestBodyDataRate does) with the minimum, so a client with
 *   a burst and a pause is judged on its whole upload, not one bad second.
 * - Bytes are what the socket read (the body's bytes with their chunked framing); nothing runs per chunk.
 */
export function watchBodyRate(
  req: IncomingMessage,
  rate: BodyRate,
  onTooSlow: (err: HttpError) => void,
): () => void {
  if (rate.minBytesPerSecond === 0 || req.complete || !hasBody(req)) return NOOP;
  let stopped = false;
  let disarm: (() => void) | undefined;
  const stop = (): void => {
    if (stopped) return;
    stopped = true;
    disarm?.();
  };
  // Called from a handler, this runs while Node's parser is still inside the packet that carried the
  // head, and Node runs queued ticks and microtasks between the parser's callbacks for it. Once the
  // packet is parsed (after this round of I/O callbacks), `complete` says whether the body was in it;
  // only then is anything more made (the common small POST makes nothing more).
  afterThisRound(() => {
    if (stopped || req.complete || req.readableEnded || req.destroyed) return;
    const socket = req.socket as Socket | null;
    // A request with no real socket (`inject()`) has no bytes read to count.
    if (typeof socket?.bytesRead !== 'number') return;
    disarm = arm(req, socket, rate, stop, onTooSlow);
  });
  return stop;
}

/** Starts the ticks of {@link watchBodyRate} on a body still arriving; returns what stops them. */
function arm(
  req: IncomingMessage,
  socket: Socket,
  rate: BodyRate,
  stop: () => void,
  onTooSlow: (err: HttpError) => void,
): () => void {
  const min = rate.minBytesPerSecond;
  /** The reader paused the stream, and has not resumed it. */
  let paused = false;
  /** The reader held up the body at the last tick or paused it since: this second is not counted. */
  let held = false;
  let last = socket.bytesRead;
  let activeMs = 0;
  let bytes = 0;
  const onPause = (): void => {
    paused = held = true;
  };
  const onResume = (): void => {
    paused = false;
  };
  const checkBodyRate = (): void => {
    const read = socket.bytesRead;
    const got = read - last;
    last = read;
    if (req.readableEnded || req.destroyed) {
      stop();
      return;
    }
    // A second counts only when the reader was waiting at both of its ends and never paused in between.
    const holding = paused || req.readableLength > 0;
    if (held || holding) {
      held = holding;
      return;
    }
    activeMs += RATE_WINDOW_MS;
    bytes += got;
    if (activeMs >= rate.graceMs && bytes * 1000 < min * activeMs) {
      stop();
      onTooSlow(tooSlow(min, bytes, activeMs));
    }
  };
  const timer = setInterval(checkBodyRate, RATE_WINDOW_MS);
  timer.unref();
  req.on('pause', onPause);
  req.on('resume', onResume);
  req.once('end', stop);
  req.once('close', stop);
  return () => {
    clearInterval(timer);
    req.off('pause', onPause);
    req.off('resume', onResume);
    req.off('end', stop);
    req.off('close', stop);
  };
}

/** Whether the request head announces a body (a chunked one, or a `Content-Length` other than 0). */
function hasBody(req: IncomingMessage): boolean {
  const length = req.headers['content-length'];
  return length === undefined ? req.headers['transfer-encoding'] !== undefined : Number(length) !== 0;
}
