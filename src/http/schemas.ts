/**
 * A route's schemas around its handler: before the handler runs, params, query and headers are checked
 * (no body is read for a request that already fails), then the body is read (JSON, or a form) and
 * checked; all issues of a part are reported together. What validated replaces the raw part on `ctx`,
 * coerced and with defaults filled as the schema made it.
 */

import { httpError } from '../errors.ts';
import { type Logger, silentLogger } from '../internal/logger.ts';
import type { RouteSchema } from '../schema/types.ts';
import {
  checkSchemas,
  type InputPart,
  type PartResult,
  type ValidationIssue,
  validatePart,
  validationError,
} from '../schema/validate.ts';
import { type Context, kReplyBody, kSetInput } from './context.ts';
import { isWeirResponse } from './response.ts';

type Run = (ctx: Context) => unknown;

function rawPart(ctx: Context, part: Exclude<InputPart, 'body'>): unknown {
  if (part === 'params') return ctx.params;
  if (part === 'query') return ctx.query;
  return ctx.req.headers;
}

/** The request body for a body schema: a form when it says it is one, JSON otherwise; none as `undefined`. */
async function readBody(ctx: Context): Promise<unknown> {
  const type = ctx.req.headers['content-type'];
  if (
    type === undefined &&
    (ctx.req.headers['content-length'] === '0' || ctx.req.headers['content-length'] === undefined) &&
    ctx.req.headers['transfer-encoding'] === undefined
  ) {
    return undefined;
  }
  if (type !== undefined && /^application\/x-www-form-urlencoded\b/i.test(type)) return ctx.form();
  return ctx.json();
}

function settle(part: InputPart, result: PartResult, ctx: Context, issues: ValidationIssue[]): void {
  if (result.ok) ctx[kSetInput](part, result.value);
  else issues.push(...result.issues);
}

/** What a route's response schema check does on a mismatch (the App's `responseSchemas`). */
export type ResponseCheck = 'error' | 'warn' | 'off';

/** The status a plain return answers with: 200, else the first 2xx the route declares. */
function successStatus(responses: NonNullable<RouteSchema['response']>): number | undefined {
  for (const status of [200, 201, 202, 203, 204]) if (status in responses) return status;
  return undefined;
}

/**
 * Checks what the handler answered against `schema.response`: a `ctx.reply()` by its status, a plain
 * value as the success status's body. Other answers (streams, web Responses, helpers' responses) are not
 * checked. On a mismatch, `error` replaces the answer with a 500; `warn` logs once per status.
 */
function responseChecker(
  responses: NonNullable<RouteSchema['response']>,
  check: ResponseCheck,
  log: Logger,
  route: string,
): (value: unknown) => unknown {
  const success = successStatus(responses);
  const warned = new Set<number>();
  const verdict = (status: number, issues: ValidationIssue[], value: unknown): unknown => {
    if (issues.length === 0) return value;
    const found = issues.slice(0, 20).map(({ path, message }) => ({ path, message }));
    if (check === 'error') {
      // The error handler logs it, issues included (its cause); the client learns only that it failed.
      throw httpError('WEIR_ERR_RESPONSE_SCHEMA', 'The response does not match its schema', undefined, {
        cause: { route, status, issues: found },
      });
    }
    if (!warned.has(status)) {
      warned.add(status);
      log.warn({ route, status, issues: found }, 'a response breaks its schema (logged once per status)');
    }
    return value;
  };
  return (value) => {
    let status: number | undefined;
    let body: unknown;
    if (isWeirResponse(value)) {
      if (!(kReplyBody in value)) return value;
      status = value.status;
      body = (value as unknown as Record<symbol, unknown>)[kReplyBody];
    } else if (
      value instanceof Response ||
      value === undefined ||
      (typeof value !== 'object' &&
        typeof value !== 'string' &&
        typeof value !== 'number' &&
        typeof value !== 'boolean')
    ) {
      return value;
    } else {
      status = success;
      body = value;
    }
    const schema = status === undefined ? undefined : responses[status];
    if (schema === undefined || status === undefined) return value;
    const result = validatePart('body', schema, body);
    const settleWith = (r: PartResult) => verdict(status, r.ok ? [] : r.issues, value);
    return result instanceof Promise ? result.then(settleWith) : settleWith(result);
  };
}

/** Wraps `handler` with the checks `schema` declares; the handler itself unchanged when it declares none. */
export function withSchemas(
  schema: RouteSchema | undefined,
  handler: Run,
  options: { check: ResponseCheck; log: Logger; route: string } = {
    check: 'off',
    log: console as unknown as Logger,
    route: '',
  },
): Run {
  checkSchemas(schema);
  if (schema === undefined) return handler;
  const early = (['params', 'query', 'headers'] as const).filter((part) => schema[part] !== undefined);
  const body = schema.body;
  const verify =
    schema.response === undefined || options.check === 'off'
      ? undefined
      : responseChecker(schema.response, options.check, options.log, options.route);
  const run: Run =
    verify === undefined
      ? handler
      : (ctx) => {
          const value = handler(ctx);
          return value instanceof Promise ? value.then(verify) : verify(value);
        };
  if (early.length === 0 && body === undefined) return run;

  return async function validated(ctx) {
    const issues: ValidationIssue[] = [];
    for (const part of early) {
      const result = validatePart(
        part,
        schema[part] as NonNullable<RouteSchema[typeof part]>,
        rawPart(ctx, part),
      );
      settle(part, result instanceof Promise ? await result : result, ctx, issues);
    }
    if (issues.length > 0) throw validationError(issues);
    if (body !== undefined) {
      const result = validatePart('body', body, await readBody(ctx));
      settle('body', result instanceof Promise ? await result : result, ctx, issues);
      if (issues.length > 0) throw validationError(issues);
    }
    return run(ctx);
  };
}
