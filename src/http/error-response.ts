import { errorBody, errorCodes, isHttpError } from '../errors.ts';
import type { AppRuntime } from './app-runtime.ts';
import type { ErrorResult } from './compose.ts';
import type { Context } from './context.ts';
import { WeirResponse } from './response.ts';

/**
 * What a thrown value becomes: the error is recorded on `ctx.error` and turned into its JSON response.
 * Two audiences: the client gets the code and a message it can act on; the operator's log gets the
 * detail. Client errors (4xx) are logged at debug; 503 (load shedding, timeouts) is a warning; other 5xx are
 * errors. weir's own 500s answer "Internal Server Error" only, and a stack appears in a body only with
 * `exposeErrors` (development).
 */
export function errorResponder(runtime: AppRuntime): ErrorResult {
  // Called on every path that answers an error, several of them outside the request listener's own stack
  // (promise callbacks, the route timer), so it never throws: a logger that throws loses its line, not
  // the response, and an error response that cannot be built (details with no JSON form) becomes a 500.
  const log = (level: 'error' | 'warn' | 'debug', obj: unknown, msg: string): void => {
    try {
      runtime.log[level](obj, msg);
    } catch {
      // The response matters more than the line.
    }
  };
  return (ctx: Context, thrown: unknown): unknown => {
    try {
      return respond(runtime, log, ctx, thrown);
    } catch (failure) {
      log(
        'error',
        { err: failure, method: ctx.method, path: ctx.path, requestId: ctx.requestId },
        'the error response could not be built',
      );
      const body = errorBody('WEIR_ERR_INTERNAL', 'Internal Server Error', { requestId: ctx.requestId });
      return new WeirResponse(body, 500, { 'content-type': 'application/json' });
    }
  };
}

function respond(
  runtime: AppRuntime,
  log: (level: 'error' | 'warn' | 'debug', obj: unknown, msg: string) => void,
  ctx: Context,
  thrown: unknown,
): unknown {
  const err = unwrapSuppressed(thrown);
  ctx.error = err;
  if (isHttpError(err)) {
    // The error object carries what the operator needs (a backend's detail, its cause); its
    // enumerable fields never hold request values or secrets.
    const requestId = ctx.requestId;
    if (err.status === 503) {
      log('warn', { err, method: ctx.method, path: ctx.path, requestId }, err.message);
    } else if (err.status >= 500) {
      log('error', { err, method: ctx.method, path: ctx.path, requestId }, err.message);
    } else {
      log('debug', { code: err.code, method: ctx.method, path: ctx.path, requestId }, err.message);
    }
    // A 5xx body names the request, so what a client reports can be found in the log.
    const id = err.status >= 500 ? requestId : undefined;
    const body =
      err.status === 500 && err.code in errorCodes
        ? errorBody(err.code, 'Internal Server Error', { requestId: id })
        : errorBody(err.code, err.message, { details: err.details, requestId: id });
    return new WeirResponse(body, err.status, { 'content-type': 'application/json', ...err.headers });
  }
  if (ctx.res.destroyed) {
    // The client left; whatever the handler threw next (usually an AbortError) has no one to answer.
    log(
      'debug',
      { err, method: ctx.method, path: ctx.path, requestId: ctx.requestId },
      'request ended after the client left',
    );
    return undefined;
  }
  const requestId = ctx.requestId;
  log('error', { err, method: ctx.method, path: ctx.path, requestId }, 'unhandled error in handler');
  const stack = runtime.exposeErrors && err instanceof Error ? err.stack : undefined;
  const body = errorBody('WEIR_ERR_INTERNAL', 'Internal Server Error', { stack, requestId });
  return new WeirResponse(body, 500, { 'content-type': 'application/json' });
}

/**
 * `await using group = new TaskGroup()`: a child's error that the block awaited is thrown again when the
 * group is disposed, and JavaScript wraps the two in a `SuppressedError`. It is one error, answered as
 * itself (a child's 404 stays a 404). Duck-typed: compilers lower `using` with a polyfill of their own.
 */
function unwrapSuppressed(err: unknown): unknown {
  const e = err as { name?: unknown; error?: unknown; suppressed?: unknown } | null;
  return typeof e === 'object' && e !== null && e.name === 'SuppressedError' && e.error === e.suppressed
    ? e.error
    : err;
}
