import type { IncomingMessage, ServerResponse } from 'node:http';
import { errorBody, type HttpError, httpError, isHttpError } from '../errors.ts';
import type { AppRuntime } from './app-runtime.ts';
import { httpDate } from './date.ts';
import { requestIdOf } from './request-id.ts';
import { lastResort, SERVER } from './send.ts';

/**
 * Admission before routing, and the answer to a request the overload limiter sheds. Admission costs one
 * `undefined` check when it is off. (A route's deadline is deadline.ts.)
 */

/**
 * Decides, before routing and before any body is read, whether a request is served.
 * `admit` returns a function to admit the request (weir calls it once the response is done or the
 * connection is gone), or an `HttpError` to shed it (usually 503 with `Retry-After`).
 */
export interface Admission {
  admit(req: IncomingMessage): (() => void) | HttpError;
}

/** Runs admission; answers the request itself when it is shed. Returns true when admitted. */
export function runAdmission(
  admission: Admission,
  req: IncomingMessage,
  res: ServerResponse,
  runtime: AppRuntime,
): boolean {
  let verdict: (() => void) | HttpError;
  try {
    verdict = admission.admit(req);
  } catch (err) {
    runtime.log.error({ err }, 'admission step threw; admitting the request');
    return true;
  }
  if (typeof verdict === 'function') {
    res.once('close', () => {
      try {
        verdict();
      } catch (err) {
        runtime.log.error({ err }, 'admission release threw');
      }
    });
    return true;
  }
  writeShed(req, res, runtime, isHttpError(verdict) ? verdict : overloaded(1));
  return false;
}

/** The error of a shed request, one per `Retry-After`: a shed must cost microseconds, not a stack trace. */
const overloadedErrors = new Map<number, HttpError>();

function overloaded(retryAfterSeconds: number): HttpError {
  let err = overloadedErrors.get(retryAfterSeconds);
  if (err === undefined) {
    err = httpError('WEIR_ERR_OVERLOADED', 'The server is over capacity; retry later', undefined, {
      headers: { 'retry-after': String(retryAfterSeconds) },
    });
    overloadedErrors.set(retryAfterSeconds, err);
  }
  return err;
}

/** Answers 503 `WEIR_ERR_OVERLOADED` to a request the overload limiter turned away. */
export function shedRequest(
  req: IncomingMessage,
  res: ServerResponse,
  runtime: AppRuntime,
  retryAfterSeconds: number,
): void {
  writeShed(req, res, runtime, overloaded(retryAfterSeconds));
}

/**
 * Writes a shed request's error without running middleware or reading its body; a request with a body
 * is answered with `Connection: close`, so the unread body is never drained.
 */
function writeShed(req: IncomingMessage, res: ServerResponse, runtime: AppRuntime, shed: HttpError): void {
  if (res.headersSent || res.destroyed) return;
  // Named like every other answer (a 5xx body carries the id), at the cost of a string concatenation.
  const requestId = requestIdOf(req, runtime.requestIds);
  const idHeader = runtime.requestIds.header;
  const body = errorBody(shed.code, shed.message, { requestId });
  const hasBody =
    req.headers['content-length'] !== undefined || req.headers['transfer-encoding'] !== undefined;
  try {
    res.writeHead(shed.status, {
      'content-type': 'application/json',
      'content-length': Buffer.byteLength(body),
      date: httpDate(),
      server: SERVER,
      ...(idHeader === undefined ? undefined : { [idHeader]: requestId }),
      ...shed.headers,
      ...(hasBody || runtime.draining ? { connection: 'close' } : undefined),
    });
    res.end(body);
  } catch (err) {
    runtime.log.error({ err }, 'a request was shed with headers that cannot be sent');
    lastResort(res, 503, 'WEIR_ERR_OVERLOADED', 'The server is over capacity');
  }
}
