import { WeirError } from '../errors.ts';
import type { Context } from './context.ts';
import { discard } from './send.ts';

/** Continues to the next middleware, or the handler. Never rejects: errors become `ctx.error`. */
export type Next = () => Promise<void>;

/**
 * Onion middleware. Code before `await next()` runs on the way in, code after it on the way out, where
 * `ctx.result` holds what will be sent (the handler's value, or the error response) and `ctx.error` what
 * was thrown. Returning a value other than `undefined` replaces `ctx.result`; returning without calling
 * `next()` short-circuits the route.
 */
export type Middleware<S extends object = Record<never, never>> = (
  ctx: Context<string, S>,
  next: Next,
) => unknown;

declare const kProvides: unique symbol;

/** Marks middleware that, once it calls `next()`, guarantees `A` on `ctx.state` (a type, no runtime cost). */
export interface Provides<A extends object> {
  readonly [kProvides]?: A;
}

/**
 * Middleware that adds typed state for what follows it on a route: `app.get('/me', requireAuth(), (ctx)
 * => ctx.state.user)` gives the handler `ctx.state.user` with no `App<State>` declaration.
 */
export type Guard<A extends object, S extends object = Record<never, never>> = Middleware<S> & Provides<A>;

/** Turns a thrown value into the response to send, and records it on `ctx.error`. */
export type ErrorResult = (ctx: Context, err: unknown) => unknown;

/** A route's chain as one function: returns the value to send, or a promise of it. */
export type Chain = (ctx: Context) => unknown;

/** Called once with what to send, or with what was thrown (`failed`). */
export type Done = (failed: boolean, value: unknown) => void;

/**
 * A chain's other form, on a chain that reads a body before its handler (a body schema): the answer
 * goes to `done`, so a request whose steps are all synchronous callbacks makes no promise. Only the
 * chain of a route without middleware keeps it (middleware awaits `next()`).
 */
export const kCallbackChain = Symbol('weir.callback-chain');
export type CallbackChain = (ctx: Context, done: Done) => void;

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (
    typeof value === 'object' && value !== null && typeof (value as { then?: unknown }).then === 'function'
  );
}

const RESOLVED = Promise.resolve();

/**
 * Composes middleware around a handler, once per route at start-up. With no middleware the handler is
 * returned as it is, so a synchronous handler's value goes out without a promise.
 */
export function compose(
  middleware: readonly Middleware<object>[],
  handler: Chain,
  onError: ErrorResult,
): Chain {
  if (middleware.length === 0) return handler;
  const count = middleware.length;

  // The result an error replaces will not be sent: a stream or file in it is released now.
  const failed = (ctx: Context, err: unknown): void => {
    discard(ctx.result);
    ctx.result = onError(ctx, err);
  };

  const settle = (ctx: Context, value: unknown, replaceOnlyIfDefined: boolean): Promise<void> => {
    if (isThenable(value)) {
      return Promise.resolve(value).then(
        (v) => {
          if (!replaceOnlyIfDefined || v !== undefined) ctx.result = v;
        },
        (err: unknown) => {
          failed(ctx, err);
        },
      );
    }
    if (!replaceOnlyIfDefined || value !== undefined) ctx.result = value;
    return RESOLVED;
  };

  return function composed(ctx: Context): Promise<unknown> {
    let last = -1;
    const dispatch = (i: number): Promise<void> => {
      if (i <= last) {
        return Promise.reject(
          new WeirError('WEIR_ERR_NEXT_TWICE', 'A middleware called next() more than once'),
        );
      }
      last = i;
      try {
        if (i === count) return settle(ctx, handler(ctx), false);
        return settle(
          ctx,
          middleware[i]!(ctx, () => dispatch(i + 1)),
          true,
        );
      } catch (err) {
        failed(ctx, err);
        return RESOLVED;
      }
    };
    return dispatch(0).then(() => ctx.result);
  };
}

export { isThenable };
