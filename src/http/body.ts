import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import secureJson from 'secure-json-parse';
import { type HttpError, httpError } from '../errors.ts';

/**
 * Request body reading. The size limit is enforced twice: against `Content-Length` before a byte is read,
 * and while streaming (for chunked bodies and lying clients), so an oversized body is refused with 413
 * without being buffered. A body that arrives slower than a minimum rate is refused with 408 (see
 * {@link watchBodyRate}). A refused request is answered with `Connection: close`, so the unread rest of
 * the body is never drained.
 */

/** 1 MiB: the default limit of a request body. */
export const DEFAULT_BODY_LIMIT_BYTES = 1024 * 1024;

/** The default nesting limit of a JSON body: deeper arrays and objects answer 400. */
export const DEFAULT_MAX_JSON_DEPTH = 64;

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

function tooLarge(limitBytes: number, received: string): HttpError {
  return httpError(
    'WEIR_ERR_BODY_TOO_LARGE',
    `Request body is larger than the limit of ${limitBytes} bytes (${received})`,
    { limitBytes },
    { headers: CLOSE },
  );
}

function tooSlow(minBytesPerSecond: number, bytes: number, activeMs: number): HttpError {
  const seen = Math.floor((bytes * 1000) / activeMs);
  return httpError(
    'WEIR_ERR_BODY_TOO_SLOW',
    `The request body arrived at ${seen} bytes/s, slower than the minimum of ${minBytesPerSecond} bytes/s`,
    { minBytesPerSecond },
    { headers: CLOSE },
  );
}

/**
 * Watches the data rate of the body of `req`, and calls `onTooSlow` once when it falls under `rate`.
 * Returns the function that stops watching (idempotent); watching also stops when the body ends or the
 * request closes.
 *
 * - No timer is armed for a body received with the head (the common small POST: `req.complete` is true
 *   once the packet is parsed; deciding that costs one `setImmediate`), nor for a request with no body,
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
  const min = rate.minBytesPerSecond;
  if (min === 0 || req.complete || !hasBody(req)) return NOOP;
  const socket = req.socket as Socket | null;
  if (typeof socket?.bytesRead !== 'number') return NOOP;
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  /** The reader paused the stream, and has not resumed it. */
  let paused = false;
  /** The reader held up the body at the last tick or paused it since: this second is not counted. */
  let held = false;
  let last = 0;
  let activeMs = 0;
  let bytes = 0;
  const onPause = (): void => {
    paused = held = true;
  };
  const onResume = (): void => {
    paused = false;
  };
  const stop = (): void => {
    if (stopped) return;
    stopped = true;
    if (timer === undefined) return;
    clearInterval(timer);
    req.off('pause', onPause);
    req.off('resume', onResume);
    req.off('end', stop);
    req.off('close', stop);
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
  // Called from a handler, this runs while Node's parser is still inside the packet that carried the
  // head, and Node runs queued ticks and microtasks between the parser's callbacks for it. Once the
  // packet is parsed (after this round of I/O callbacks), `complete` says whether the body was in it.
  setImmediate(() => {
    if (stopped || req.complete || req.readableEnded || req.destroyed) return;
    last = socket.bytesRead;
    timer = setInterval(checkBodyRate, RATE_WINDOW_MS);
    timer.unref();
    req.on('pause', onPause);
    req.on('resume', onResume);
    req.once('end', stop);
    req.once('close', stop);
  });
  return stop;
}

/** Whether the request head announces a body (a chunked one, or a `Content-Length` other than 0). */
function hasBody(req: IncomingMessage): boolean {
  const length = req.headers['content-length'];
  return length === undefined ? req.headers['transfer-encoding'] !== undefined : Number(length) !== 0;
}

/**
 * Reads the whole body into one buffer, refusing more than `limitBytes` (413) and a body slower than
 * `rate` (408).
 */
export function readBody(req: IncomingMessage, limitBytes: number, rate = NO_BODY_RATE): Promise<Buffer> {
  const declared = req.headers['content-length'];
  if (declared !== undefined && Number(declared) > limitBytes) {
    return Promise.reject(tooLarge(limitBytes, `Content-Length is ${declared}`));
  }
  const encoding = req.headers['content-encoding'];
  if (encoding !== undefined && encoding !== 'identity') {
    return Promise.reject(
      httpError(
        'WEIR_ERR_BODY_UNSUPPORTED_TYPE',
        `Content-Encoding ${JSON.stringify(encoding)} is not supported; send the body uncompressed`,
        undefined,
        { headers: CLOSE },
      ),
    );
  }
  if (req.readableEnded) return Promise.resolve(Buffer.alloc(0));
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const cleanup = (): void => {
      stopRate();
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
      req.off('close', onClose);
    };
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size > limitBytes) {
        cleanup();
        req.pause();
        reject(tooLarge(limitBytes, `received more than ${limitBytes} bytes`));
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = (): void => {
      cleanup();
      resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size));
    };
    const onError = (err: Error): void => {
      cleanup();
      reject(
        httpError('WEIR_ERR_BODY_ABORTED', 'The request body could not be read', undefined, {
          cause: err,
          headers: CLOSE,
        }),
      );
    };
    const onClose = (): void => {
      cleanup();
      reject(
        httpError(
          'WEIR_ERR_BODY_ABORTED',
          'The client closed the connection before the body ended',
          undefined,
          { headers: CLOSE },
        ),
      );
    };
    const stopRate = watchBodyRate(req, rate, (err) => {
      cleanup();
      req.pause();
      reject(err);
    });
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
    req.on('close', onClose);
  });
}

/** The media type of a `Content-Type` header, lower case, without parameters. */
function mediaType(contentType: string | undefined): string {
  if (contentType === undefined) return '';
  const semi = contentType.indexOf(';');
  return (semi === -1 ? contentType : contentType.slice(0, semi)).trim().toLowerCase();
}

function charsetIsUtf8(contentType: string): boolean {
  const match = /;\s*charset\s*=\s*"?([^";\s]+)/i.exec(contentType);
  return match === null || /^utf-?8$/i.test(match[1]!);
}

/** Throws 415 unless the request's `Content-Type` passes `accept`. */
export function expectType(req: IncomingMessage, expected: string, accept: (type: string) => boolean): void {
  const header = req.headers['content-type'];
  const type = mediaType(header);
  if (!accept(type) || !charsetIsUtf8(header ?? '')) {
    throw httpError(
      'WEIR_ERR_BODY_UNSUPPORTED_TYPE',
      `Expected Content-Type ${expected}, received ${header === undefined ? 'none' : JSON.stringify(header)}`,
      { expected, received: header ?? null },
    );
  }
}

/** `application/json` and every `+json` type. */
export function isJsonType(type: string): boolean {
  return type === 'application/json' || (type.startsWith('application/') && type.endsWith('+json'));
}

/**
 * Parses JSON text safely: prototype-poisoning keys are refused, not silently applied, and arrays and
 * objects nested deeper than `maxDepth` are refused before parsing (400 `WEIR_ERR_BODY_TOO_DEEP`), so a
 * hostile body cannot make a later `JSON.stringify` of it, or any recursive walk, overflow the stack.
 */
export function parseJson(body: string | Buffer, maxDepth = DEFAULT_MAX_JSON_DEPTH): unknown {
  const deep = jsonDepthExceeds(body, maxDepth);
  const text = typeof body === 'string' ? body : body.toString('utf8');
  if (text.trim() === '') {
    throw httpError('WEIR_ERR_BODY_EMPTY', 'Expected a JSON body, but the request body is empty');
  }
  if (deep) {
    throw httpError(
      'WEIR_ERR_BODY_TOO_DEEP',
      `The JSON body nests arrays and objects deeper than the limit of ${maxDepth}`,
      { maxDepth },
    );
  }
  try {
    return secureJson.parse(text, undefined, { protoAction: 'error', constructorAction: 'error' });
  } catch (err) {
    const message = (err as Error).message;
    if (message.includes('forbidden prototype property')) {
      throw httpError(
        'WEIR_ERR_BODY_FORBIDDEN_KEY',
        'The JSON body contains a forbidden "__proto__" or "constructor.prototype" key',
      );
    }
    // V8's message quotes a piece of the body; the client is told where, not shown its own bytes again.
    const position = /at position (\d+)/.exec(message)?.[1];
    throw httpError(
      'WEIR_ERR_BODY_INVALID_JSON',
      position === undefined
        ? 'The request body is not valid JSON'
        : `The request body is not valid JSON (at character ${position})`,
      position === undefined ? undefined : { position: Number(position) },
      { cause: err },
    );
  }
}

/**
 * True when `json` opens more than `maxDepth` arrays and objects at once: one pass, skipping strings. On
 * the bytes of a body (ASCII brackets and quotes never occur inside a UTF-8 multi-byte sequence) it costs
 * about an eighth of the parse; a text shorter than the limit cannot exceed it and is not scanned.
 */
export function jsonDepthExceeds(json: Uint8Array | string, maxDepth: number): boolean {
  if (json.length <= maxDepth) return false;
  return typeof json === 'string' ? textTooDeep(json, maxDepth) : bytesTooDeep(json, maxDepth);
}

// Two copies of one loop, so each stays monomorphic (a shared accessor made the scan three times slower).
function bytesTooDeep(json: Uint8Array, maxDepth: number): boolean {
  const length = json.length;
  let depth = 0;
  for (let i = 0; i < length; i++) {
    const c = json[i]!;
    if (c === 34 /* " */) {
      for (i++; i < length; i++) {
        const d = json[i]!;
        if (d === 92 /* backslash */) i++;
        else if (d === 34) break;
      }
    } else if (c === 91 /* [ */ || c === 123 /* { */) {
      if (++depth > maxDepth) return true;
    } else if (c === 93 /* ] */ || c === 125 /* } */) {
      depth--;
    }
  }
  return false;
}

function textTooDeep(json: string, maxDepth: number): boolean {
  const length = json.length;
  let depth = 0;
  for (let i = 0; i < length; i++) {
    const c = json.charCodeAt(i);
    if (c === 34 /* " */) {
      for (i++; i < length; i++) {
        const d = json.charCodeAt(i);
        if (d === 92 /* backslash */) i++;
        else if (d === 34) break;
      }
    } else if (c === 91 /* [ */ || c === 123 /* { */) {
      if (++depth > maxDepth) return true;
    } else if (c === 93 /* ] */ || c === 125 /* } */) {
      depth--;
    }
  }
  return false;
}

/** Parses an `application/x-www-form-urlencoded` body; repeated names become lists. */
export function parseForm(text: string): Record<string, string | string[]> {
  const form: Record<string, string | string[]> = Object.create(null);
  for (const [name, value] of new URLSearchParams(text)) {
    const previous = form[name];
    if (previous === undefined) form[name] = value;
    else if (typeof previous === 'string') form[name] = [previous, value];
    else previous.push(value);
  }
  return form;
}
