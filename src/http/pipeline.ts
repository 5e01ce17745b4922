import type { IncomingMessage, ServerResponse } from 'node:http';
import { errorBody, type HttpError, httpError, isHttpError } from '../errors.ts';
import type { ErrorResult } from './compose.ts';
import type { AppRuntime, Context } from './context.ts';
import { httpDate } from './date.ts';
import { deliver, lastResort, SERVER } from './send.ts';

/**
 * The two optional steps of the request pipeline around the route: admission before routing, and a
 * per-route deadline. Each costs one `undefined` check when it is off.
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
  const shed = isHttpError(verdict)
    ? verdict
    : httpError('WEIR_ERR_OVERLOADED', 'The server is over capacity');
  const body = errorBody(shed.code, shed.message);
  const hasBody =
    req.headers['content-length'] !== undefined || req.headers['transfer-encoding'] !== undefined;
  try {
    res.writeHead(shed.status, {
      'content-type': 'application/json',
      'content-length': Buffer.byteLength(body),
      date: httpDate(),
      server: SERVER,
      ...shed.headers,
      // A shed request's body is not worth reading: close instead of draining it.
      ...(hasBody || runtime.draining ? { connection: 'close' } : undefined),
    });
    res.end(body);
  } catch (err) {
    runtime.log.error({ err }, 'the admission step shed a request with headers that cannot be sent');
    lastResort(res, 503, 'WEIR_ERR_OVERLOADED', 'The server is over capacity');
  }
  return false;
}

/** Aborts `ctx.signal` and answers 503 when the route's deadline passes before the response starts. */
export function armTimeout(ctx: Context, timeoutMs: number, errorResult: ErrorResult): void {
  const timer = setTimeout(() => {
    const err = httpError('WEIR_ERR_REQUEST_TIMEOUT', `The request did not complete within ${timeoutMs} ms`);
    ctx.abort(err);
    if (!ctx.res.headersSent && !ctx.res.destroyed) deliver(ctx, errorResult(ctx, err), errorResult);
  }, timeoutMs);
  const clear = (): void => clearTimeout(timer);
  ctx.res.once('finish', clear);
  ctx.res.once('close', clear);
}
