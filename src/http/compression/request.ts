/**
 * Decompression of request bodies (`decompressBodies`), for body.ts.
 *
 * Inputs: the request stream, its `Content-Encoding`, the body limit. Output: the decompressed body, or
 * one error. Guarantees: the limit holds for the *decompressed* bytes, and inflating stops the moment it
 * passes, so a small body that inflates to gigabytes (a zip bomb) costs at most the limit in memory and
 * about its time in CPU; the compressed bytes are held to the same limit; the zlib stream is destroyed
 * on every path that does not end it.
 */
import type { IncomingMessage } from 'node:http';
import type { Transform } from 'node:stream';
import { createBrotliDecompress, createGunzip, createInflate } from 'node:zlib';
import { type HttpError, httpError } from '../../errors.ts';

const CLOSE = { connection: 'close' } as const;

/** The zlib stream for a `Content-Encoding` value, or `undefined` when weir does not decompress it. */
export function requestDecompressor(encoding: string): Transform | undefined {
  switch (encoding.trim().toLowerCase()) {
    case 'gzip':
    case 'x-gzip':
      return createGunzip();
    case 'deflate':
      return createInflate();
    case 'br':
      return createBrotliDecompress();
    default:
      return undefined;
  }
}

/** What a body reader does with a failure or the whole decompressed body. */
export type Collected = (err: HttpError | undefined, body: Buffer | undefined) => void;

/**
 * Pipes `req` through `inflate` and collects at most `limitBytes` of its output. `tooLarge` builds the
 * 413 and `aborted` the error of a request stream that fails or closes early; `done` is called once.
 * Returns the function that stops everything with an error the caller found (a body too slow).
 */
export function collectDecompressed(
  req: IncomingMessage,
  inflate: Transform,
  limitBytes: number,
  tooLarge: (received: string) => HttpError,
  aborted: (err: Error | undefined) => HttpError,
  done: Collected,
): (err: HttpError) => void {
  const chunks: Buffer[] = [];
  let size = 0;
  let received = 0;
  let finished = false;
  const cleanup = (): void => {
    req.off('data', onData);
    req.off('end', onEnd);
    req.off('error', onError);
    req.off('close', onClose);
    inflate.off('data', onOutput);
    inflate.off('end', onOutputEnd);
    inflate.off('error', onCorrupt);
    inflate.off('drain', resume);
  };
  const finish = (err: HttpError | undefined, body: Buffer | undefined): void => {
    if (finished) return;
    finished = true;
    cleanup();
    if (err !== undefined) {
      // The refused rest is never read: the response closes the connection.
      req.pause();
      inflate.destroy();
    }
    done(err, body);
  };
  const resume = (): void => {
    req.resume();
  };
  const onData = (chunk: Buffer): void => {
    received += chunk.length;
    if (received > limitBytes) {
      finish(tooLarge(`received more than ${limitBytes} compressed bytes`), undefined);
      return;
    }
    // Backpressure: the request waits while the inflater has not taken what it was given.
    if (!inflate.write(chunk)) {
      req.pause();
      inflate.once('drain', resume);
    }
  };
  const onEnd = (): void => {
    inflate.end();
  };
  const onError = (err: Error): void => finish(aborted(err), undefined);
  const onClose = (): void => {
    if (!req.readableEnded) finish(aborted(undefined), undefined);
  };
  const onOutput = (chunk: Buffer): void => {
    size += chunk.length;
    if (size > limitBytes) {
      finish(tooLarge(`more than ${limitBytes} bytes once decompressed`), undefined);
      return;
    }
    chunks.push(chunk);
  };
  const onOutputEnd = (): void =>
    finish(undefined, chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size));
  const onCorrupt = (err: Error): void => {
    finish(
      httpError(
        'WEIR_ERR_BODY_BAD_ENCODING',
        `The request body is not valid ${String(req.headers['content-encoding']).trim().toLowerCase()} data`,
        undefined,
        { cause: err, headers: CLOSE },
      ),
      undefined,
    );
  };
  inflate.on('data', onOutput);
  inflate.on('end', onOutputEnd);
  inflate.on('error', onCorrupt);
  req.on('data', onData);
  req.on('end', onEnd);
  req.on('error', onError);
  req.on('close', onClose);
  if (req.readableEnded) inflate.end();
  return (err) => finish(err, undefined);
}
