/**
 * `idempotency()`: a repeated unsafe request (same `Idempotency-Key`, same method, path and body) runs
 * once and every repeat within the window gets the first response again.
 *
 * Per request with a key: validate the key → read the body (within the route's limit) and fingerprint
 * it → claim the key with `cache.add()` → run the route → keep its response (or release the claim when
 * it failed). A request that finds the key taken gets, by the record it finds:
 * | record                       | same fingerprint             | another fingerprint |
 * | ---------------------------- | ---------------------------- | ------------------- |
 * | running                      | 409 IN_PROGRESS, Retry-After | 422 KEY_REUSED      |
 * | done                         | the first response, replayed | 422 KEY_REUSED      |
 * | unstored (streamed, too big) | 409 NOT_REPLAYABLE           | 422 KEY_REUSED      |
 * The cache is the guarantee: when it does not answer, requests with a key get 503 rather than run
 * unguarded.
 */
import type { Cache } from '../cache/cache.ts';
import { type HttpError, httpError, invalidOption, isWeirError } from '../errors.ts';
import type { Middleware } from '../http/compose.ts';
import type { AnyContext, Context } from '../http/context.ts';
import { WeirResponse } from '../http/response.ts';
import { bufferedResponse } from '../http/response-view.ts';
import { type IdempotencyOptions, type Settings, settle } from './options.ts';
import {
  bodyBytes,
  doneRecord,
  fingerprint,
  type IdempotencyRecord,
  isRecord,
  parseKey,
  replay,
  requestId,
} from './record.ts';

/** Statuses that say "try again" rather than "this is the answer": their claim is released. */
const RETRYABLE = new Set([408, 409, 425, 429]);

const ids = new WeakMap<Context, string>();

/**
 * The identifier of the request's idempotency key once `idempotency()` accepted it, else `undefined`:
 * a hash bound to the scope, method, path and key (never the header's own text), stable across
 * retries and processes. Pass it on to make later steps idempotent too, such as a job queue's
 * `add(data, { idempotencyKey })`.
 */
export function idempotencyKey(ctx: AnyContext): string | undefined {
  return ids.get(ctx as Context);
}

/**
 * Makes unsafe requests that carry an `Idempotency-Key` safe to retry. The first request with a key runs;
 * until it ends, a repeat gets 409 `WEIR_ERR_IDEMPOTENCY_IN_PROGRESS` with `Retry-After`; once it
 * succeeded, every repeat within `windowMs` gets its response again (same status, headers and body, plus
 * `Idempotent-Replayed: true`) without running the route. The same key with another body or query gets
 * 422 `WEIR_ERR_IDEMPOTENCY_KEY_REUSED`. A request whose route threw, or answered 5xx, 408, 409, 425 or
 * 429, releases its key: the retry runs again. Keys live in `cache` (Redis, for several processes).
 * @throws `WEIR_ERR_INVALID_OPTION` for a bad option, or for an in-process cache under several worker
 *   processes (see `allowMemoryWithWorkers`).
 * @example
 * const cache = await openCache(process.env.CACHE_URL);
 * app.post('/payments', idempotency({ cache, scope: (ctx) => ctx.state.user.id }), createPayment);
 */
export function idempotency<S extends object = Record<never, never>>(
  options: IdempotencyOptions<S>,
): Middleware<S> {
  const settings = settle(options);
  let warned = false;
  const warnUnstored = (ctx: Context, reason: string): void => {
    if (warned) return;
    warned = true;
    ctx.log.warn(
      { method: ctx.method, path: ctx.path, reason },
      `idempotency(): a response was not kept for replay (${reason}); its key answers repeats with 409 WEIR_ERR_IDEMPOTENCY_NOT_REPLAYABLE. Further cases are not logged`,
    );
  };

  return async function idempotency(ctx, next) {
    if (!settings.methods.has(ctx.method)) return next();
    const raw = ctx.headers[settings.header];
    if (raw === undefined) {
      if (settings.required) {
        throw httpError(
          'WEIR_ERR_IDEMPOTENCY_KEY_MISSING',
          `This request needs an ${settings.headerName} header`,
        );
      }
      return next();
    }
    const key = parseKey(raw, settings.maxKeyLength);
    if (key === undefined) {
      throw httpError(
        'WEIR_ERR_IDEMPOTENCY_KEY_INVALID',
        `The ${settings.headerName} header must be 1 to ${settings.maxKeyLength} printable ASCII characters`,
        { header: settings.headerName },
      );
    }
    const cache = settings.cache();
    if (cache.status !== 'ready') throw unavailable(settings, undefined);
    const f = fingerprint(ctx, await ctx.buffer());
    const scope = settings.scope === undefined ? '' : settings.scope(ctx);
    if (typeof scope !== 'string') throw invalidOption('idempotency() scope(ctx)', 'a string', scope);
    const id = requestId(scope, ctx.method, ctx.path, key);
    const found = await claim(cache, `idempotency:${id}`, f, settings);
    if (found !== undefined) return found;
    ids.set(ctx, id);
    await next();
    return finish(ctx, cache, `idempotency:${id}`, f, settings, warnUnstored);
  };
}

/**
 * Claims the key for this request: `undefined` once it is ours, else the answer for a duplicate (a
 * replay, or an HttpError thrown).
 */
async function claim(
  cache: Cache,
  name: string,
  f: string,
  settings: Settings,
): Promise<WeirResponse | undefined> {
  const running: IdempotencyRecord = { s: 'running', f };
  // The record can vanish between a failed claim and the read (expired, or released by a failed
  // request): then the claim is tried again, a few times.
  for (let attempt = 0; attempt < 3; attempt++) {
    let claimed: boolean;
    try {
      claimed = await cache.add(name, running, { ttl: settings.lockMs });
    } catch (err) {
      throw isWeirError(err) && err.code === 'WEIR_ERR_CACHE_UNAVAILABLE' ? unavailable(settings, err) : err;
    }
    if (claimed) return undefined;
    const record = await cache.get(name);
    if (record === undefined) {
      if (cache.status !== 'ready') throw unavailable(settings, undefined);
      continue;
    }
    if (!isRecord(record) || record.s === 'running') {
      if (isRecord(record) && record.f !== f) throw reused(settings);
      throw inProgress(settings);
    }
    if (record.f !== f) throw reused(settings);
    if (record.s === 'unstored') {
      throw httpError(
        'WEIR_ERR_IDEMPOTENCY_NOT_REPLAYABLE',
        `A request with this ${settings.headerName} already ran, but its response was not kept; use a new key to run it again`,
      );
    }
    return replay(record);
  }
  throw inProgress(settings);
}

/** After the route: keeps its response for the window, or releases the claim when it failed. */
async function finish(
  ctx: Context,
  cache: Cache,
  name: string,
  f: string,
  settings: Settings,
  warnUnstored: (ctx: Context, reason: string) => void,
): Promise<unknown> {
  const status = ctx.statusCode;
  const failed = ctx.error !== undefined || status >= 500 || RETRYABLE.has(status);
  const response = failed ? undefined : bufferedResponse(ctx);
  const ttl = { ttl: settings.windowMs };
  try {
    if (failed) {
      await cache.delete(name);
      return undefined;
    }
    if (response === undefined || bodyBytes(response) > settings.maxResponseBytes) {
      warnUnstored(
        ctx,
        response === undefined ? 'its body is streamed' : 'its body is over maxResponseBytes',
      );
      await cache.set(name, { s: 'unstored', f, st: status } satisfies IdempotencyRecord, ttl);
      return undefined;
    }
    await cache.set(name, doneRecord(f, response, settings.replayHeaders), ttl);
  } catch (err) {
    // The route's answer stands; the claim expires after lockMs (a cache closed during shutdown).
    ctx.log.error(
      { err, method: ctx.method, path: ctx.path },
      `idempotency(): a key could not be ${failed ? 'released' : 'kept'}; it is held until lockMs passes`,
    );
    return undefined;
  }
  // A plain value was serialised to be kept: it is sent as it is, not serialised again.
  if (response?.serialised) {
    const type = response.headers['content-type'] as string;
    return new WeirResponse(response.body, status, { 'content-type': type });
  }
  return undefined;
}

function inProgress(settings: Settings): HttpError {
  return httpError(
    'WEIR_ERR_IDEMPOTENCY_IN_PROGRESS',
    `A request with this ${settings.headerName} is still running; retry after it ends`,
    undefined,
    { headers: { 'retry-after': String(settings.retryAfterSeconds) } },
  );
}

function reused(settings: Settings): HttpError {
  return httpError(
    'WEIR_ERR_IDEMPOTENCY_KEY_REUSED',
    `This ${settings.headerName} was used for a request with another body; use a new key for a new request`,
  );
}

function unavailable(settings: Settings, cause: unknown): HttpError {
  return httpError(
    'WEIR_ERR_IDEMPOTENCY_UNAVAILABLE',
    `Requests with an ${settings.headerName} cannot be checked right now; retry shortly`,
    undefined,
    { headers: { 'retry-after': String(settings.retryAfterSeconds) }, cause },
  );
}
