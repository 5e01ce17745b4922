/**
 * A route's schemas around its handler: before the handler runs, params, query and headers are checked
 * (no body is read for a request that already fails), then the body is read (JSON, or a form) and
 * checked; all issues of a part are reported together. What validated replaces the raw part on `ctx`,
 * coerced and with defaults filled as the schema made it.
 */
import type { RouteSchema } from '../schema/types.ts';
import {
  checkSchemas,
  type InputPart,
  type PartResult,
  type ValidationIssue,
  validatePart,
  validationError,
} from '../schema/validate.ts';
import { type Context, kSetInput } from './context.ts';

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

/** Wraps `handler` with the checks `schema` declares; the handler itself unchanged when it declares none. */
export function withSchemas(schema: RouteSchema | undefined, handler: Run): Run {
  checkSchemas(schema);
  if (schema === undefined) return handler;
  const early = (['params', 'query', 'headers'] as const).filter((part) => schema[part] !== undefined);
  const body = schema.body;
  if (early.length === 0 && body === undefined) return handler;

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
    return handler(ctx);
  };
}
