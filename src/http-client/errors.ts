/**
 * The errors of weir/http-client. Two audiences, as everywhere in weir: the message and `details` (the
 * upstream's status, never its body) are what a client of the weir app may see when a handler lets the
 * error through; the origin and the underlying error (`cause`) are for the operator's log.
 */
import { type ErrorCode, type HttpError, httpError } from '../errors.ts';

/** The error codes weir/http-client rejects with. */
export type UpstreamErrorCode = Extract<
  ErrorCode,
  | 'WEIR_ERR_UPSTREAM_TIMEOUT'
  | 'WEIR_ERR_UPSTREAM_UNAVAILABLE'
  | 'WEIR_ERR_UPSTREAM_STATUS'
  | 'WEIR_ERR_UPSTREAM_TOO_LARGE'
  | 'WEIR_ERR_UPSTREAM_INVALID'
>;

/** An error of weir/http-client: an {@link HttpError} with the origin it concerns. */
export type UpstreamError = HttpError & {
  readonly code: UpstreamErrorCode;
  /** The upstream's origin (`http://host:port`), for the operator's log. */
  readonly origin: string;
};

export function upstreamError(
  code: UpstreamErrorCode,
  message: string,
  origin: string,
  extra: { status?: number; cause?: unknown } = {},
): UpstreamError {
  const details = extra.status === undefined ? undefined : { status: extra.status };
  const err = httpError(code, message, details, { cause: extra.cause }) as UpstreamError;
  Object.defineProperty(err, 'origin', { value: origin, enumerable: true });
  return err;
}

/** undici's codes for a time limit that passed. */
const TIMEOUTS = new Set(['UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT']);
/** Codes of errors that are the caller's fault, not the upstream's: rethrown as they are. */
const MISUSE = new Set(['UND_ERR_INVALID_ARG', 'UND_ERR_NOT_SUPPORTED', 'ERR_INVALID_ARG_TYPE']);
/** Failures that happen before the request can have reached the upstream's application. */
const NOT_SENT = new Set([
  'ECONNREFUSED',
  'UND_ERR_CONNECT_TIMEOUT',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
]);
/** Losing the connection before any byte of the response. */
const LOST = new Set(['ECONNRESET', 'EPIPE', 'UND_ERR_SOCKET']);

function codeOf(err: unknown): string {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : '';
}

/** A rejection of undici, as the error the call rejects with, and whether a retry may cure it. */
export function fromUndici(
  err: unknown,
  origin: string,
  beforeResponse: boolean,
): { error: unknown; retryable: boolean; counts: boolean } {
  const code = codeOf(err);
  if (MISUSE.has(code)) return { error: err, retryable: false, counts: false };
  if (TIMEOUTS.has(code)) {
    const what =
      code === 'UND_ERR_CONNECT_TIMEOUT'
        ? 'accept a connection'
        : code === 'UND_ERR_HEADERS_TIMEOUT'
          ? 'send its response headers'
          : 'send its response body';
    return {
      error: upstreamError('WEIR_ERR_UPSTREAM_TIMEOUT', `The upstream did not ${what} in time`, origin, {
        cause: err,
      }),
      retryable: code === 'UND_ERR_CONNECT_TIMEOUT',
      counts: true,
    };
  }
  const message = NOT_SENT.has(code)
    ? 'The upstream could not be reached'
    : 'The upstream closed the connection before the response was complete';
  return {
    error: upstreamError('WEIR_ERR_UPSTREAM_UNAVAILABLE', message, origin, { cause: err }),
    retryable: NOT_SENT.has(code) || (beforeResponse && LOST.has(code)),
    counts: true,
  };
}

/** The error of a JSON call whose response status is not 2xx. */
export function statusError(status: number, origin: string): UpstreamError {
  if (status === 502 || status === 503) {
    return upstreamError('WEIR_ERR_UPSTREAM_UNAVAILABLE', `The upstream answered ${status}`, origin, {
      status,
    });
  }
  if (status === 504) {
    return upstreamError('WEIR_ERR_UPSTREAM_TIMEOUT', 'The upstream answered 504', origin, { status });
  }
  return upstreamError('WEIR_ERR_UPSTREAM_STATUS', `The upstream answered ${status}`, origin, { status });
}
