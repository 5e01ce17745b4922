/**
 * Every error weir throws extends {@link WeirError}. Match on `code`, not on `instanceof` alone: the
 * `instanceof` checks below hold across duplicate copies of the package because they test a
 * `Symbol.for` brand, but a `code` is the documented contract.
 *
 * The registry {@link errorCodes} lists every code weir itself produces; `docs/errors.md` documents each
 * one, and a test keeps the two in step; it is in error-codes.ts, re-exported here.
 */

import { type ErrorCode, errorCodes } from './error-codes.ts';

export { type ErrorCode, errorCodes } from './error-codes.ts';

const kWeirError = Symbol.for('weir.error');
const kHttpError = Symbol.for('weir.http-error');

/** Options common to every weir error. */
export interface WeirErrorOptions {
  /** The underlying error, if any. */
  cause?: unknown;
}

/**
 * The base of every error weir throws.
 * @example
 * try { await work() } catch (err) { if (isWeirError(err) && err.code === 'WEIR_ERR_BODY_TOO_LARGE') … }
 */
export class WeirError extends Error {
  /** A stable, documented identifier: match on it rather than on the message. */
  readonly code: string;

  constructor(code: string, message: string, options?: WeirErrorOptions) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    Object.defineProperty(this, kWeirError, { value: true });
  }

  override get name(): string {
    return this.constructor.name;
  }

  static override [Symbol.hasInstance](value: unknown): boolean {
    return (
      isWeirError(value) && (this === WeirError || Function.prototype[Symbol.hasInstance].call(this, value))
    );
  }
}

/** Options of an {@link HttpError}. */
export interface HttpErrorOptions extends WeirErrorOptions {
  /** Response headers to send with the error, such as `Allow` or `Retry-After`. */
  headers?: Readonly<Record<string, string>>;
}

/**
 * An error that becomes an HTTP response: `status`, and a JSON body
 * `{"error":{"code","message","details"?}}`.
 * @example
 * app.get('/users/:id', (ctx) => {
 *   throw new HttpError(404, 'USER_NOT_FOUND', `No user with id ${ctx.params.id}`);
 * });
 */
export class HttpError extends WeirError {
  /** The HTTP status code, 400…599. */
  readonly status: number;
  /** Structured detail for the client, such as which field failed validation and why. */
  readonly details: unknown;
  /** Headers to send with the response. */
  readonly headers: Readonly<Record<string, string>> | undefined;

  constructor(status: number, code: string, message: string, details?: unknown, options?: HttpErrorOptions) {
    super(code, message, options);
    if (!Number.isInteger(status) || status < 400 || status > 599) {
      throw new WeirError(
        'WEIR_ERR_INVALID_OPTION',
        `HttpError status must be an integer from 400 to 599, received ${String(status)} (${typeof status})`,
      );
    }
    this.status = status;
    this.details = details;
    this.headers = options?.headers;
    Object.defineProperty(this, kHttpError, { value: true });
  }

  static override [Symbol.hasInstance](value: unknown): boolean {
    return (
      isHttpError(value) && (this === HttpError || Function.prototype[Symbol.hasInstance].call(this, value))
    );
  }

  /** 400 Bad Request. */
  static badRequest(message = 'Bad Request', details?: unknown, code = 'BAD_REQUEST'): HttpError {
    return new HttpError(400, code, message, details);
  }
  /** 401 Unauthorized. */
  static unauthorized(message = 'Unauthorized', details?: unknown, code = 'UNAUTHORIZED'): HttpError {
    return new HttpError(401, code, message, details);
  }
  /** 403 Forbidden. */
  static forbidden(message = 'Forbidden', details?: unknown, code = 'FORBIDDEN'): HttpError {
    return new HttpError(403, code, message, details);
  }
  /** 404 Not Found. */
  static notFound(message = 'Not Found', details?: unknown, code = 'NOT_FOUND'): HttpError {
    return new HttpError(404, code, message, details);
  }
  /** 409 Conflict. */
  static conflict(message = 'Conflict', details?: unknown, code = 'CONFLICT'): HttpError {
    return new HttpError(409, code, message, details);
  }
  /** 422 Unprocessable Content. */
  static unprocessable(
    message = 'Unprocessable Content',
    details?: unknown,
    code = 'UNPROCESSABLE',
  ): HttpError {
    return new HttpError(422, code, message, details);
  }
  /** 503 Service Unavailable, with `Retry-After` when `retryAfterSeconds` is given. */
  static unavailable(
    message = 'Service Unavailable',
    retryAfterSeconds?: number,
    code = 'UNAVAILABLE',
  ): HttpError {
    const headers =
      retryAfterSeconds === undefined ? undefined : { 'retry-after': String(retryAfterSeconds) };
    return new HttpError(503, code, message, undefined, { headers });
  }
}

/** True for any error weir threw, whichever copy of the package threw it. */
export function isWeirError(value: unknown): value is WeirError {
  return (
    typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[kWeirError] === true
  );
}

/** True for any {@link HttpError}, whichever copy of the package threw it. */
export function isHttpError(value: unknown): value is HttpError {
  return (
    typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[kHttpError] === true
  );
}

/**
 * The JSON body every error response carries: `{"error":{"code","message","details"?}}`. The one
 * definition of that wire shape, for responses built with a Context and for those written before one exists.
 */
export function errorBody(
  code: string,
  message: string,
  extra?: { details?: unknown; stack?: string; requestId?: string },
): string {
  const error: Record<string, unknown> = { code, message };
  if (extra?.details !== undefined) error.details = extra.details;
  if (extra?.requestId !== undefined) error.requestId = extra.requestId;
  if (extra?.stack !== undefined) error.stack = extra.stack;
  return JSON.stringify({ error });
}

/** Builds a framework-produced {@link HttpError} whose code and status come from the registry. */
export function httpError(
  code: ErrorCode,
  message: string,
  details?: unknown,
  options?: HttpErrorOptions,
): HttpError {
  return new HttpError(errorCodes[code].status, code, message, details, options);
}

/** Builds a programmer-error {@link WeirError} for a bad option: names it, what was expected, what came. */
export function invalidOption(name: string, expected: string, received: unknown): WeirError {
  return new WeirError(
    'WEIR_ERR_INVALID_OPTION',
    `${name} must be ${expected}, received ${describe(received)}`,
  );
}

/** `42 (number)`, `"abc" (string)`: how messages show a received value. */
export function describe(value: unknown): string {
  if (typeof value === 'string') return `${JSON.stringify(value)} (string)`;
  if (value === null) return 'null';
  if (typeof value === 'object') return `${Array.isArray(value) ? 'an array' : 'an object'}`;
  return `${String(value)} (${typeof value})`;
}
