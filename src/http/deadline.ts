/**
 * A request's deadline: the instant (epoch ms) its answer is no longer wanted. It comes from the route's
 * `timeoutMs` and, from callers the app trusts (`trustDeadline`), from the request itself:
 * `X-Request-Deadline` (an absolute epoch-milliseconds instant) or gRPC's `grpc-timeout` (a relative
 * duration, `100m` for 100 ms). The earliest wins. At the deadline `ctx.signal` aborts and, unless the
 * response has started, the client gets 503; a request whose deadline has already passed when it arrives
 * is answered 503 at once, its handler never run.
 */
import type { IncomingHttpHeaders } from 'node:http';
import { isIP } from 'node:net';
import { type HttpError, httpError, invalidOption } from '../errors.ts';
import { type AppRuntime, kSetDeadline } from './app-runtime.ts';
import type { ErrorResult } from './compose.ts';
import type { Context } from './context.ts';
import { compileTrustProxy } from './proxy.ts';
import { deliver } from './send.ts';

/**
 * Whose deadline headers to believe: `true` for every peer (only when clients reach the app through
 * callers that set them, never directly), or the callers' addresses and CIDR ranges. `false`: none.
 */
export type TrustDeadline = boolean | readonly string[];

/** A compiled {@link TrustDeadline}: whether a peer's deadline headers are believed. */
export type DeadlineTrustFn = (peer: string) => boolean;

/** Compiles the `trustDeadline` option. @throws WEIR_ERR_INVALID_OPTION for a malformed one. */
export function compileTrustDeadline(option: TrustDeadline | undefined): DeadlineTrustFn | undefined {
  if (option === undefined || option === false) return undefined;
  if (option === true) return () => true;
  if (!Array.isArray(option) || option.length === 0) {
    throw invalidOption(
      'trustDeadline',
      'a boolean or a non-empty list of addresses and CIDR ranges',
      option,
    );
  }
  const trusted = compileTrustProxy(option) as (address: string, hop: number) => boolean;
  return (peer) => isIP(peer) !== 0 && trusted(peer, 0);
}

/** The longest relative deadline honoured; a later one is no deadline (a timer cannot be armed past it). */
const MAX_TIMER_MS = 2_147_483_647;

const GRPC_UNITS: Readonly<Record<string, number>> = {
  H: 3_600_000,
  M: 60_000,
  S: 1000,
  m: 1,
  u: 0.001,
  n: 0.000_001,
};

/**
 * The deadline the request's headers ask for, at `now`: an epoch-ms instant, `undefined` when they ask for
 * none (or for one too far off to arm a timer for), or a 400 naming the malformed header. The value is
 * never echoed: it came from the client.
 */
export function headerDeadline(headers: IncomingHttpHeaders, now: number): number | undefined | HttpError {
  let deadline: number | undefined;
  const absolute = headers['x-request-deadline'];
  if (absolute !== undefined) {
    if (typeof absolute !== 'string' || !/^\d{1,16}$/.test(absolute)) {
      return badDeadline('X-Request-Deadline', 'an instant in milliseconds since the epoch');
    }
    const at = Number(absolute);
    if (at - now <= MAX_TIMER_MS) deadline = at;
  }
  const relative = headers['grpc-timeout'];
  if (relative !== undefined) {
    const match = typeof relative === 'string' ? /^(\d{1,8})([HMSmun])$/.exec(relative) : null;
    if (match === null) {
      return badDeadline('grpc-timeout', 'at most 8 digits and a unit (H, M, S, m, u, n), such as 100m');
    }
    const ms = Number(match[1]) * (GRPC_UNITS[match[2] as string] as number);
    if (ms <= MAX_TIMER_MS) deadline = Math.min(deadline ?? Number.POSITIVE_INFINITY, now + ms);
  }
  return deadline;
}

function badDeadline(header: string, expected: string): HttpError {
  return httpError('WEIR_ERR_BAD_DEADLINE', `The ${header} header is malformed: expected ${expected}`);
}

/**
 * Sets the request's deadline from the route's `timeoutMs` and, when trusted, its headers; arms the timer
 * that aborts `ctx.signal` and answers 503 at it. Returns false when the request has been answered already
 * (a malformed trusted header: 400; a deadline already past: 503), so the route must not run.
 */
export function armDeadline(
  ctx: Context,
  timeoutMs: number | undefined,
  runtime: AppRuntime,
  errorResult: ErrorResult,
): boolean {
  const now = Date.now();
  let deadline = timeoutMs === undefined ? Number.POSITIVE_INFINITY : now + timeoutMs;
  let fromHeader = false;
  const trust = runtime.trustDeadline;
  if (trust?.(ctx.req.socket?.remoteAddress ?? '')) {
    const asked = headerDeadline(ctx.req.headers, now);
    if (typeof asked === 'object') {
      deliver(ctx, errorResult(ctx, asked), errorResult);
      return false;
    }
    if (asked !== undefined && asked < deadline) {
      deadline = asked;
      fromHeader = true;
    }
  }
  if (deadline === Number.POSITIVE_INFINITY) return true;
  const passed = (): HttpError =>
    fromHeader
      ? httpError('WEIR_ERR_DEADLINE_EXCEEDED', "The request's deadline passed before it was answered")
      : httpError('WEIR_ERR_REQUEST_TIMEOUT', `The request did not complete within ${timeoutMs} ms`);
  ctx[kSetDeadline](deadline);
  if (deadline <= now) {
    const err = passed();
    ctx.abort(err);
    deliver(ctx, errorResult(ctx, err), errorResult);
    return false;
  }
  const timer = setTimeout(() => {
    const err = passed();
    ctx.abort(err);
    if (!ctx.res.headersSent && !ctx.res.destroyed) deliver(ctx, errorResult(ctx, err), errorResult);
  }, deadline - now);
  // 'close' follows 'finish' at once, and also ends a response that never finished.
  ctx.res.once('close', () => clearTimeout(timer));
  return true;
}
