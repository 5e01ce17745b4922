import type { IncomingMessage } from 'node:http';
import { createRequire } from 'node:module';
import type { Readable } from 'node:stream';
import type { BusboyFileStream, BusboyInstance } from '@fastify/busboy';
import { type HttpError, httpError, isHttpError } from '../errors.ts';
import type { AnyContext } from '../http/context.ts';
import { UploadStream } from './file-stream.ts';
import {
  MAX_PART_HEADER_BYTES,
  MAX_PART_HEADER_PAIRS,
  type MultipartLimits,
  type ResolvedLimits,
  resolveLimits,
} from './limits.ts';
import { cleanFilename, shownField } from './names.ts';
import { type AllowList, compileAllow, SNIFF_BYTES, safeMediaType, sniffType } from './sniff.ts';

/**
 * `multipart(ctx, options)`: the parts of a `multipart/form-data` body, one at a time, as the client sends
 * them. Wire script: the request is written into the parser as it arrives, paused while the parser (and so
 * the handler reading a file) is behind; fields are yielded whole (each at most `maxFieldBytes`), files as
 * streams, one at a time. The first limit passed, a malformed body, the client leaving, the minimum data
 * rate or the route's deadline fails the current file's stream and the iteration with the same
 * `HttpError`, which carries `Connection: close`: the rest of the body is never read. Nothing is written
 * to disk here (see `saveUploads()`).
 */

/** Options of {@link multipart}: the limits, and the file types to accept. */
export interface MultipartOptions extends MultipartLimits {
  /**
   * The media types files may have (`'image/png'`, or `'image/*'` for every image type), checked against
   * each file's first bytes before its part is yielded; a file of another type, or whose content is not
   * what its `Content-Type` claims, fails the upload with 415 `WEIR_ERR_UPLOAD_TYPE`. Text types, which
   * have no signature, pass by the rule of `docs/uploads.md`. @default no check: `contentType` is the
   * client's claim
   */
  allow?: readonly string[];
}

/** A part without a file name: a form field, held whole. */
export interface FieldPart {
  readonly type: 'field';
  /** The field name as sent (at most `maxFieldNameBytes`). */
  readonly name: string;
  /** The value, decoded as UTF-8 (or the part's charset). */
  readonly value: string;
}

/** A part with a file name: a file, to be read from {@link FilePart.stream}. */
export interface FilePart {
  readonly type: 'file';
  /** The field name as sent (at most `maxFieldNameBytes`). */
  readonly name: string;
  /**
   * The client's file name, cleaned (see `cleanFilename()`): data to show or store, never a path. May be
   * `''`.
   */
  readonly filename: string;
  /**
   * The file's media type: with `allow`, the type its first bytes show (checked); without, the client's
   * claim (`declaredType`).
   */
  readonly contentType: string;
  /** Whether `contentType` was checked against the content (`allow` was given). */
  readonly verified: boolean;
  /** The `Content-Type` the client wrote on the part, lower case; `text/plain` when it wrote none. */
  readonly declaredType: string;
  /** A file name extension for `contentType` when it was checked (`png`, `pdf`, `txt`), else `'bin'`. */
  readonly extension: string;
  /**
   * The file's bytes. Read it to its end (or pipe it) before asking for the next part; one left unread
   * is drained and dropped. It fails with the upload's `HttpError` when a limit is passed or the body
   * breaks off, so a file is never seen as whole when it is not.
   */
  readonly stream: Readable;
}

/** One part of a multipart body. */
export type Part = FieldPart | FilePart;

const CLOSE = { connection: 'close' } as const;
const STREAM_BUFFER_BYTES = 64 * 1024;
const NOOP = (): void => {};

/** The error of a size limit: the limit named, the field named when plain. */
export function tooLarge(limit: keyof MultipartLimits, value: number, field?: string): HttpError {
  const shown = field === undefined ? undefined : shownField(field);
  return httpError(
    'WEIR_ERR_UPLOAD_TOO_LARGE',
    `The upload passes ${limit} (${value} bytes)${shown === undefined ? '' : ` in field "${shown}"`}`,
    shown === undefined ? { limit, limitBytes: value } : { limit, limitBytes: value, field: shown },
    { headers: CLOSE },
  );
}

function tooMany(limit: 'maxFiles' | 'maxFields' | 'maxParts', value: number): HttpError {
  return httpError(
    'WEIR_ERR_UPLOAD_TOO_MANY',
    `The upload has more parts than ${limit} allows (${value})`,
    { limit, max: value },
    { headers: CLOSE },
  );
}

function malformed(reason: string, cause?: unknown): HttpError {
  return httpError('WEIR_ERR_UPLOAD_MALFORMED', `The multipart body is malformed: ${reason}`, undefined, {
    cause,
    headers: CLOSE,
  });
}

function aborted(cause?: unknown): HttpError {
  return httpError(
    'WEIR_ERR_BODY_ABORTED',
    'The client closed the connection before the body ended',
    undefined,
    { cause, headers: CLOSE },
  );
}

/**
 * The parts of the request's `multipart/form-data` body, streamed: fields whole, files as streams, within
 * `options`' limits. Every limit passed, a malformed or truncated body, and the client leaving reject the
 * iteration (and fail the file stream being read) with an `HttpError` a handler can let through.
 *
 * @throws WEIR_ERR_INVALID_OPTION at once for a bad limit or `allow` entry.
 * @throws (while iterating) WEIR_ERR_BODY_UNSUPPORTED_TYPE (415) for a body that is not
 *   `multipart/form-data`; WEIR_ERR_UPLOAD_TOO_LARGE and WEIR_ERR_UPLOAD_TOO_MANY (413);
 *   WEIR_ERR_UPLOAD_TYPE (415); WEIR_ERR_UPLOAD_MALFORMED (400); WEIR_ERR_BODY_ABORTED;
 *   WEIR_ERR_BODY_TOO_SLOW (408).
 * @example
 * app.post('/avatar', async (ctx) => {
 *   for await (const part of multipart(ctx, { allow: ['image/png'], maxFileBytes: 1 << 20 })) {
 *     if (part.type === 'file') await pipeline(part.stream, createWriteStream(`/srv/avatars/${id}.png`));
 *   }
 *   return { ok: true };
 * });
 */
export function multipart(
  ctx: AnyContext,
  options: MultipartOptions = {},
): AsyncGenerator<Part, void, undefined> {
  const limits = resolveLimits(options);
  const allowed = options.allow === undefined ? undefined : compileAllow(options.allow);
  return parts(ctx, limits, allowed);
}

/** The checks of the request head: throws the error that refuses it, before a byte of the body is read. */
function checkHead(req: IncomingMessage, limits: ResolvedLimits): void {
  const type = req.headers['content-type'] ?? '';
  if (!/^multipart\/form-data\s*(;|$)/i.test(type)) {
    const shown = safeMediaType(type.split(';')[0]!.trim().toLowerCase());
    throw httpError(
      'WEIR_ERR_BODY_UNSUPPORTED_TYPE',
      `Expected Content-Type multipart/form-data, received ${shown ?? (type === '' ? 'none' : 'another')}`,
      { expected: 'multipart/form-data' },
      { headers: CLOSE },
    );
  }
  const encoding = req.headers['content-encoding'];
  if (encoding !== undefined && encoding !== 'identity') {
    throw httpError(
      'WEIR_ERR_BODY_UNSUPPORTED_TYPE',
      'A multipart body must be sent uncompressed (no Content-Encoding)',
      undefined,
      { headers: CLOSE },
    );
  }
  const declared = req.headers['content-length'];
  if (declared !== undefined && Number(declared) > limits.maxTotalBytes) {
    throw tooLarge('maxTotalBytes', limits.maxTotalBytes);
  }
}

const require = createRequire(import.meta.url);
/** The parser, loaded by the first multipart body: an app that takes none never reads its files. */
let Busboy: typeof import('@fastify/busboy').Busboy | undefined;

function openParser(req: IncomingMessage, limits: ResolvedLimits): BusboyInstance {
  // Outside the try: a parser that cannot load is weir's fault, not the request's (a 500, not a 400).
  Busboy ??= (require('@fastify/busboy') as typeof import('@fastify/busboy')).Busboy;
  try {
    return Busboy({
      headers: req.headers as { 'content-type': string },
      // weir cleans the name itself (cleanFilename), and a part is a file when it has a file name.
      preservePath: true,
      // Socket reads come in 64 KiB: buffers of that size take one whole, where the 16 KiB defaults pause
      // the request at nearly every chunk.
      highWaterMark: STREAM_BUFFER_BYTES,
      fileHwm: STREAM_BUFFER_BYTES,
      isPartAFile: (_name, _type, filename) => filename !== undefined,
      limits: {
        fileSize: limits.maxFileBytes,
        files: limits.maxFiles,
        fields: limits.maxFields,
        fieldSize: limits.maxFieldBytes,
        parts: limits.maxParts,
        headerPairs: MAX_PART_HEADER_PAIRS,
        headerSize: MAX_PART_HEADER_BYTES,
      },
    });
  } catch (err) {
    throw malformed('the Content-Type has no boundary', err);
  }
}

async function* parts(
  ctx: AnyContext,
  limits: ResolvedLimits,
  allowed: AllowList | undefined,
): AsyncGenerator<Part, void, undefined> {
  const req = ctx.req;
  // Reading `ctx.body` holds the body to the route's minimum data rate.
  if (ctx.body !== req || req.readableDidRead) {
    throw httpError('WEIR_ERR_BODY_CONSUMED', 'The request body was already read before multipart()');
  }
  checkHead(req, limits);
  const parser = openParser(req, limits);
  const ready: Part[] = [];
  /** File parts of an input left empty (an empty file name): skipped when they hold no bytes either. */
  const blank = new WeakSet<FilePart>();
  let failure: HttpError | undefined;
  let finished = false;
  let current: UploadStream | undefined;
  let wake: (() => void) | undefined;
  let total = 0;

  const notify = (): void => {
    const resolve = wake;
    wake = undefined;
    resolve?.();
  };
  const fail = (err: HttpError): void => {
    if (failure !== undefined || finished) return;
    failure = err;
    stop();
    if (current !== undefined && !current.readableEnded) current.destroy(err);
    notify();
  };
  const checkName = (name: string): boolean => {
    if (Buffer.byteLength(name) <= limits.maxFieldNameBytes) return true;
    fail(tooLarge('maxFieldNameBytes', limits.maxFieldNameBytes));
    return false;
  };

  parser.on('field', (name = '', value, _nameTruncated, valueTruncated) => {
    if (failure !== undefined || !checkName(name)) return;
    if (valueTruncated) {
      fail(tooLarge('maxFieldBytes', limits.maxFieldBytes, name));
      return;
    }
    ready.push({ type: 'field', name, value });
    notify();
  });
  parser.on('file', (name = '', source: BusboyFileStream, filename, _encoding, declared) => {
    if (failure !== undefined || !checkName(name)) {
      source.resume();
      return;
    }
    // A file input left empty comes as a part with an empty file name and no bytes: its first byte (or
    // the head the type check reads) tells, and such a part is skipped.
    const stream = new UploadStream(source, allowed === undefined ? (filename === '' ? 1 : 0) : SNIFF_BYTES);
    // The error reaches the handler through its reads and through the iteration; a stream nobody reads
    // yet must not turn it into an uncaught exception.
    stream.on('error', NOOP);
    source.on('limit', () => fail(tooLarge('maxFileBytes', limits.maxFileBytes, name)));
    source.on('error', (err) => fail(malformed('a file part ends before its boundary', err)));
    current = stream;
    const part: FilePart = {
      type: 'file',
      name,
      filename: cleanFilename(filename),
      contentType: declared,
      verified: false,
      declaredType: declared,
      extension: 'bin',
      stream,
    };
    if (filename === '') blank.add(part);
    ready.push(part);
    notify();
  });
  parser.on('filesLimit', () => fail(tooMany('maxFiles', limits.maxFiles)));
  parser.on('fieldsLimit', () => fail(tooMany('maxFields', limits.maxFields)));
  parser.on('partsLimit', () => fail(tooMany('maxParts', limits.maxParts)));
  parser.on('error', (err) => fail(malformed('it ends before its closing boundary', err)));
  parser.on('finish', () => {
    if (failure !== undefined) return;
    finished = true;
    stop();
    notify();
  });

  const onData = (chunk: Buffer): void => {
    total += chunk.length;
    if (total > limits.maxTotalBytes) fail(tooLarge('maxTotalBytes', limits.maxTotalBytes));
    else if (!parser.write(chunk)) req.pause();
  };
  const onDrain = (): void => {
    if (failure === undefined) req.resume();
  };
  const onEnd = (): void => {
    parser.end();
  };
  const onClose = (): void => {
    if (!req.complete) fail(aborted());
  };
  const onError = (err: Error): void => fail(isHttpError(err) ? err : aborted(err));
  const signal = ctx.signal;
  const onAbort = (): void => fail(isHttpError(signal.reason) ? signal.reason : aborted(signal.reason));
  let stopped = false;
  function stop(): void {
    if (stopped) return;
    stopped = true;
    req.off('data', onData);
    req.off('end', onEnd);
    req.off('close', onClose);
    req.off('error', onError);
    parser.off('drain', onDrain);
    signal.removeEventListener('abort', onAbort);
    if (!finished) {
      req.pause();
      // Whatever the parser still says once it is cut off from the body, it says to nobody.
      parser.on('error', NOOP);
      parser.destroy();
    }
  }

  try {
    if (signal.aborted) onAbort();
    else {
      signal.addEventListener('abort', onAbort, { once: true });
      parser.on('drain', onDrain);
      req.on('data', onData);
      req.on('end', onEnd);
      req.on('close', onClose);
      req.on('error', onError);
    }
    for (;;) {
      if (failure !== undefined) throw failure;
      const part = ready.shift();
      if (part === undefined) {
        if (finished) return;
        await new Promise<void>((resolve) => {
          wake = resolve;
        });
        continue;
      }
      if (part.type === 'field') {
        yield part;
        continue;
      }
      const stream = part.stream as UploadStream;
      let checked = part;
      if (allowed !== undefined || blank.has(part)) {
        const head = await stream.head();
        if (head.length === 0 && blank.has(part)) {
          stream.release();
          stream.resume();
          continue;
        }
        if (allowed !== undefined) checked = await check(part, head, allowed);
        stream.release();
      }
      yield checked;
      // The handler asked for the next part: a file it left unread is drained, so the parser goes on.
      if (stream.readableFlowing === null && !stream.destroyed) stream.resume();
    }
  } finally {
    if (!finished && failure === undefined) {
      // The handler left the loop early: the body is not read on, and its connection is not kept.
      failure = aborted();
      stop();
      if (current !== undefined && !current.readableEnded) current.destroy(failure);
    }
    if (!req.complete && !ctx.res.headersSent) ctx.set('connection', 'close');
  }
}

async function check(part: FilePart, head: Buffer, allowed: AllowList): Promise<FilePart> {
  const sniffed = await sniffType(head, part.declaredType, allowed, shownField(part.name));
  return { ...part, contentType: sniffed.type, verified: true, extension: sniffed.ext };
}
