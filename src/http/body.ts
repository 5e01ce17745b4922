import type { IncomingMessage } from 'node:http';
import secureJson from 'secure-json-parse';
import { type HttpError, httpError } from '../errors.ts';
import { type BodyRate, NO_BODY_RATE, watchBodyRate } from './body-rate.ts';
import { collectDecompressed, requestDecompressor } from './compression/request.ts';

/**
 * Request body reading. The size limit is enforced twice: against `Content-Length` before a byte is read,
 * and while streaming (for chunked bodies and lying clients), so an oversized body is refused with 413
 * without being buffered. A body that arrives slower than a minimum rate is refused with 408 (see
 * body-rate.ts). A refused request is answered with `Connection: close`, so the unread rest of
 * the body is never drained.
 */

/** 1 MiB: the default limit of a request body. */
export const DEFAULT_BODY_LIMIT_BYTES = 1024 * 1024;

/** The default nesting limit of a JSON body: deeper arrays and objects answer 400. */
export const DEFAULT_MAX_JSON_DEPTH = 64;

const CLOSE = { connection: 'close' } as const;

function tooLarge(limitBytes: number, received: string): HttpError {
  return httpError(
    'WEIR_ERR_BODY_TOO_LARGE',
    `Request body is larger than the limit of ${limitBytes} bytes (${received})`,
    { limitBytes },
    { headers: CLOSE },
  );
}

/** The error of a request stream that failed (`err`) or closed before its body ended. */
function aborted(err: Error | undefined): HttpError {
  return err === undefined
    ? httpError(
        'WEIR_ERR_BODY_ABORTED',
        'The client closed the connection before the body ended',
        undefined,
        {
          headers: CLOSE,
        },
      )
    : httpError('WEIR_ERR_BODY_ABORTED', 'The request body could not be read', undefined, {
        cause: err,
        headers: CLOSE,
      });
}

/** Called once: with the whole body, or with the error that ended its reading. */
export type BodyCallback = (err: HttpError | undefined, body: Buffer | undefined) => void;

/**
 * Reads the whole body into one buffer, refusing more than `limitBytes` (413) and a body slower than
 * `rate` (408).
 */
export function readBody(
  req: IncomingMessage,
  limitBytes: number,
  rate = NO_BODY_RATE,
  decompress = false,
): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    collectBody(req, limitBytes, rate, decompress, (err, body) => {
      if (err === undefined) resolve(body!);
      else reject(err);
    });
  });
}

/**
 * {@link readBody} with a callback, which may be called before this returns (a refusal decided from the
 * head, a body that has already ended): the form for callers that chain no promise of their own. With
 * `decompress`, a gzip, deflate or br body is decompressed, the limit holding for what it inflates to.
 */
export function collectBody(
  req: IncomingMessage,
  limitBytes: number,
  rate: BodyRate,
  decompress: boolean,
  done: BodyCallback,
): void {
  const declared = req.headers['content-length'];
  if (declared !== undefined && Number(declared) > limitBytes) {
    done(tooLarge(limitBytes, `Content-Length is ${declared}`), undefined);
    return;
  }
  const encoding = req.headers['content-encoding'];
  if (encoding !== undefined && encoding !== 'identity') {
    const inflate = decompress ? requestDecompressor(encoding) : undefined;
    if (inflate !== undefined) {
      let stopRate = (): void => {};
      const cancel = collectDecompressed(
        req,
        inflate,
        limitBytes,
        (received) => tooLarge(limitBytes, received),
        aborted,
        (err, body) => {
          stopRate();
          done(err, body);
        },
      );
      stopRate = watchBodyRate(req, rate, cancel);
      return;
    }
    done(
      httpError(
        'WEIR_ERR_BODY_UNSUPPORTED_TYPE',
        decompress
          ? `Content-Encoding ${JSON.stringify(encoding)} is not supported; send gzip, deflate, br or no encoding`
          : `Content-Encoding ${JSON.stringify(encoding)} is not supported; send the body uncompressed`,
        undefined,
        { headers: CLOSE },
      ),
      undefined,
    );
    return;
  }
  if (req.readableEnded) {
    done(undefined, Buffer.alloc(0));
    return;
  }
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
      done(tooLarge(limitBytes, `received more than ${limitBytes} bytes`), undefined);
      return;
    }
    chunks.push(chunk);
  };
  const onEnd = (): void => {
    cleanup();
    done(undefined, chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size));
  };
  const onError = (err: Error): void => {
    cleanup();
    done(aborted(err), undefined);
  };
  const onClose = (): void => {
    cleanup();
    done(aborted(undefined), undefined);
  };
  const stopRate = watchBodyRate(req, rate, (err) => {
    cleanup();
    req.pause();
    done(err, undefined);
  });
  req.on('data', onData);
  req.on('end', onEnd);
  req.on('error', onError);
  req.on('close', onClose);
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
  // The type exactly as expected, with no parameters (what most clients send): nothing to parse.
  if (header === expected && accept(expected)) return;
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
 * One pass over the body finds both: a body with no string that is, or may decode to, `__proto__` or
 * `constructor` (one spelled with an escape) is parsed by `JSON.parse` alone; any other goes through
 * secure-json-parse, which decides.
 */
export function parseJson(body: string | Buffer, maxDepth = DEFAULT_MAX_JSON_DEPTH): unknown {
  const scan = typeof body === 'string' ? scanText(body, maxDepth) : scanBytes(body, maxDepth);
  let text = typeof body === 'string' ? body : body.toString('utf8');
  // A byte order mark before the text is not part of it (secure-json-parse drops it too).
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  if (text.trim() === '') {
    throw httpError('WEIR_ERR_BODY_EMPTY', 'Expected a JSON body, but the request body is empty');
  }
  if (scan === TOO_DEEP) {
    throw httpError(
      'WEIR_ERR_BODY_TOO_DEEP',
      `The JSON body nests arrays and objects deeper than the limit of ${maxDepth}`,
      { maxDepth },
    );
  }
  try {
    return scan === SUSPECT
      ? secureJson.parse(text, undefined, { protoAction: 'error', constructorAction: 'error' })
      : JSON.parse(text);
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

/** What a pass over JSON found: nothing to refuse, nesting over the limit, or a string to look at. */
const FINE = 0;
const TOO_DEEP = 1;
const SUSPECT = 2;

// `__proto__` and `constructor`, the two keys secure-json-parse looks at, as character codes.
const PROTO = [95, 95, 112, 114, 111, 116, 111, 95, 95];
const CONSTRUCTOR = [99, 111, 110, 115, 116, 114, 117, 99, 116, 111, 114];

/**
 * One pass over JSON bytes, skipping strings: `TOO_DEEP` at the first array or object past `maxDepth`;
 * else `SUSPECT` when a string holds an escape or is `__proto__` or `constructor` as it stands (so
 * that, decoded, it may be one of them), `FINE` otherwise. On the bytes of a body this is sound (ASCII
 * brackets, quotes and backslashes never occur inside a UTF-8 multi-byte sequence) and costs a fraction
 * of the parse. Two copies of one loop (this and {@link scanText}), so each stays monomorphic: a shared
 * accessor made the scan three times slower.
 */
function scanBytes(json: Uint8Array, maxDepth: number): number {
  const length = json.length;
  let depth = 0;
  let suspect = false;
  for (let i = 0; i < length; i++) {
    const c = json[i]!;
    if (c === 34 /* " */) {
      const start = i + 1;
      for (i++; i < length; i++) {
        const d = json[i]!;
        if (d === 92 /* backslash */) {
          suspect = true;
          i++;
        } else if (d === 34) break;
      }
      if (!suspect) {
        const n = i - start;
        const word = n === 9 ? PROTO : n === 11 ? CONSTRUCTOR : undefined;
        if (word !== undefined && json[start] === word[0]) {
          let k = 1;
          while (k < n && json[start + k] === word[k]) k++;
          suspect = k === n;
        }
      }
    } else if (c === 91 /* [ */ || c === 123 /* { */) {
      if (++depth > maxDepth) return TOO_DEEP;
    } else if (c === 93 /* ] */ || c === 125 /* } */) {
      depth--;
    }
  }
  return suspect ? SUSPECT : FINE;
}

function scanText(json: string, maxDepth: number): number {
  const length = json.length;
  let depth = 0;
  let suspect = false;
  for (let i = 0; i < length; i++) {
    const c = json.charCodeAt(i);
    if (c === 34 /* " */) {
      const start = i + 1;
      for (i++; i < length; i++) {
        const d = json.charCodeAt(i);
        if (d === 92 /* backslash */) {
          suspect = true;
          i++;
        } else if (d === 34) break;
      }
      if (!suspect) {
        const n = i - start;
        const word = n === 9 ? PROTO : n === 11 ? CONSTRUCTOR : undefined;
        if (word !== undefined && json.charCodeAt(start) === word[0]) {
          let k = 1;
          while (k < n && json.charCodeAt(start + k) === word[k]) k++;
          suspect = k === n;
        }
      }
    } else if (c === 91 /* [ */ || c === 123 /* { */) {
      if (++depth > maxDepth) return TOO_DEEP;
    } else if (c === 93 /* ] */ || c === 125 /* } */) {
      depth--;
    }
  }
  return suspect ? SUSPECT : FINE;
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
