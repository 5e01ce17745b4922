/**
 * A route's schemas around its handler: before the handler runs, params, query and headers are checked
 * (no body is read for a request that already fails), then the body is read (JSON, or a form) and
 * checked; all issues of a part are reported together. What validated replaces the raw part on `ctx`,
 * coerced and with defaults filled as the schema made it.
 */

import { httpError } from '../errors.ts';
import type { Logger } from '../internal/logger.ts';
import type { Serializer } from '../schema/serialize.ts';
import { compileSerializer } from '../schema/serialize.ts';
import { kCheckAnswer, type StandardSchemaV1 } from '../schema/standard.ts';
import type { RouteSchema } from '../schema/types.ts';
import {
  addFailure,
  checkSchemas,
  type Failures,
  type InputPart,
  noFailures,
  type PartResult,
  safeMessage,
  type ValidationIssue,
  validatePart,
  validationError,
} from '../schema/validate.ts';
import { kDeferReply, kReadBody, kReplyBody, kSetInput, kStatus } from './app-runtime.ts';
import { type CallbackChain, type Done, isThenable, kCallbackChain } from './compose.ts';
import type { Context } from './context.ts';
import { isWeirResponse, WeirResponse } from './response.ts';
import { jsonText } from './send.ts';

const JSON_TYPE = 'application/json';

type Run = (ctx: Context) => unknown;

/**
 * The part as its schema gets it: a copy, so that a validator that works in place (ajv's defaults and
 * coercion) changes neither the request's own headers, which weir and middleware read after, nor the
 * params object the router shares between requests of a static path, nor the query an error handler or a
 * log sees when the part is refused. The body is parsed for its schema alone.
 */
function rawPart(ctx: Context, part: Exclude<InputPart, 'body'>): unknown {
  if (part === 'params') return { ...(ctx.params as object) };
  // Without a prototype, as parsed: a query may name `constructor` or `__proto__`.
  if (part === 'query') return Object.assign(Object.create(null), ctx.query);
  const headers = { ...ctx.req.headers };
  // The one header Node keeps as a list: copied too, or a coercing validator would rewrite its items.
  const cookies = headers['set-cookie'];
  if (cookies !== undefined) headers['set-cookie'] = [...cookies];
  return headers;
}

const FORM_TYPE = /^application\/x-www-form-urlencoded\b/i;

/**
 * Reads the request body for a body schema and hands it to `done`: a form when it says it is one, JSON
 * otherwise; `undefined` at once for a request without a body (then nothing is read).
 */
function readBody(ctx: Context, done: (err: unknown, value: unknown) => void): void {
  const headers = ctx.req.headers;
  const type = headers['content-type'];
  if (type === undefined) {
    const length = headers['content-length'];
    if ((length === '0' || length === undefined) && headers['transfer-encoding'] === undefined) {
      done(undefined, undefined);
      return;
    }
  } else if (type !== JSON_TYPE && FORM_TYPE.test(type)) {
    ctx[kReadBody]('form', done);
    return;
  }
  ctx[kReadBody]('json', done);
}

/** Hands `value`, or the promise's outcome, to `done`. */
function settleInto(value: unknown, done: Done): void {
  if (isThenable(value)) {
    value.then(
      (v) => done(false, v),
      (err: unknown) => done(true, err),
    );
  } else {
    done(false, value);
  }
}

function settle(part: InputPart, result: PartResult, ctx: Context, failures: Failures): void {
  if (result.ok) ctx[kSetInput](part, result.value);
  else addFailure(failures, result);
}

/** What a route's response schema check does on a mismatch (the App's `responseSchemas`). */
export type ResponseCheck = 'error' | 'warn' | 'off';

/** The status a plain return answers with: 200, else the first 2xx the route declares. */
function successStatus(responses: NonNullable<RouteSchema['response']>): number | undefined {
  for (const status of [200, 201, 202, 203, 204]) if (status in responses) return status;
  return undefined;
}

interface ResponseEntry {
  readonly schema: StandardSchemaV1;
  /** The compiled serialiser of the schema's JSON Schema; `undefined`: `JSON.stringify`. */
  readonly serialize: Serializer | undefined;
  /** `serialize` writes the declared keys only. */
  readonly declaredOnly: boolean;
}

type Finish = (ctx: Context, value: unknown) => unknown;

/** 204 and 304 answers carry no body: nothing to check or serialise. */
const bodiless = (status: number) => status === 204 || status === 304;

/**
 * What the handler answered, checked against `schema.response` and serialised: a `ctx.reply()` by its
 * status, a plain value as the success status's body (or `ctx.status`'s, when set). What validated is
 * what is sent (unknown keys the schema strips are gone, defaults filled), written by the status's
 * compiled serialiser when it has one. Other answers (strings, streams, web Responses, helpers'
 * responses) go out as they are. On a mismatch, `error` replaces the answer with a 500; `warn` logs once
 * per status and sends the value as it was, through `JSON.stringify`.
 */
function responseStage(
  responses: NonNullable<RouteSchema['response']>,
  check: ResponseCheck,
  log: Logger,
  route: string,
): Finish {
  const success = successStatus(responses);
  const entries = new Map<number, ResponseEntry>();
  for (const [key, schema] of Object.entries(responses)) {
    const status = Number(key);
    // A check that leaves the answer as it is (weir/schema/typebox) removes no undeclared key itself: used
    // only when a compiled serialiser writes the answer, with declared keys only.
    const answerCheck = (schema as { [kCheckAnswer]?: StandardSchemaV1 })[kCheckAnswer];
    // An unchecked value ('off') is written with declared keys only: never more than the schema names.
    let serialize: Serializer | undefined;
    let checkWith = schema;
    const declaredOnly = check === 'off' || answerCheck !== undefined;
    if (!bodiless(status)) {
      const compiled = compileSerializer(schema, { undeclared: declaredOnly ? 'drop' : 'keep' });
      if ('reason' in compiled) {
        log.debug({ route, status, reason: compiled.reason }, 'response written by JSON.stringify');
      } else {
        serialize = compiled.serialize;
        if (answerCheck !== undefined) checkWith = answerCheck;
      }
    }
    entries.set(status, { schema: checkWith, serialize, declaredOnly });
  }
  const warned = new Set<string>();
  const warnOnce = (key: string, fields: object, message: string) => {
    if (warned.has(key)) return;
    warned.add(key);
    log.warn({ route, ...fields }, message);
  };
  const respond = (status: number, body: unknown, serialize: Serializer | undefined): WeirResponse => {
    if (bodiless(status)) return new WeirResponse(undefined, status, {});
    let text: string | undefined;
    if (serialize !== undefined) {
      try {
        text = serialize(body);
      } catch (err) {
        // Only reachable with responseSchemas 'off': an unchecked value the compiled writer refuses (a
        // required key missing). Not written another way, which could send keys the schema leaves out.
        throw httpError('WEIR_ERR_RESPONSE_SCHEMA', 'The response does not match its schema', undefined, {
          cause: { route, status, reason: safeMessage((err as Error).message) },
        });
      }
    }
    text ??= jsonText(body);
    return new WeirResponse(text, status, { 'content-type': JSON_TYPE });
  };
  const mismatch = (status: number, issues: ValidationIssue[]) => {
    const found = issues.slice(0, 20).map(({ path, message }) => ({ path, message }));
    if (check === 'error') {
      // The error handler logs it, issues included (its cause); the client learns only that it failed.
      throw httpError('WEIR_ERR_RESPONSE_SCHEMA', 'The response does not match its schema', undefined, {
        cause: { route, status, issues: found },
      });
    }
    warnOnce(
      `check ${status}`,
      { status, issues: found },
      'a response breaks its schema (logged once per status)',
    );
  };
  // What a checked answer sends: `text`, a string the handler returned, as it is; else the JSON body.
  const checked = (
    r: PartResult,
    status: number,
    body: unknown,
    text: unknown,
    entry: ResponseEntry,
  ): unknown => {
    if (!r.ok) {
      mismatch(status, r.issues);
      if (text !== undefined) return text;
      // Sent as it was ('warn'), but through a declared-keys-only writer when there is one, so that a
      // mismatch never sends a key the schema leaves out; else (or when it cannot write the value) JSON.
      if (entry.declaredOnly && entry.serialize !== undefined) {
        try {
          return respond(status, body, entry.serialize);
        } catch {
          // written below
        }
      }
      return respond(status, body, undefined);
    }
    return text ?? respond(status, r.value, entry.serialize);
  };
  return (ctx, value) => {
    ctx[kDeferReply] = false;
    let status: number | undefined;
    let body: unknown;
    let reply = false;
    if (isWeirResponse(value)) {
      if (!(kReplyBody in value)) return value;
      status = value.status;
      body = (value as unknown as Record<symbol, unknown>)[kReplyBody];
      reply = true;
    } else if (
      value === undefined ||
      value === null ||
      value instanceof Response ||
      (typeof value !== 'object' &&
        typeof value !== 'string' &&
        typeof value !== 'number' &&
        typeof value !== 'boolean')
    ) {
      return value;
    } else {
      status = ctx[kStatus] || success;
      body = value;
    }
    const entry = status === undefined ? undefined : entries.get(status);
    if (status === undefined || entry === undefined) {
      return reply ? respond((value as WeirResponse).status, body, undefined) : value;
    }
    // A string goes out as text, as from any route: checked, not serialised.
    const text = typeof body === 'string' && !reply;
    if (check === 'off') return text ? value : respond(status, body, entry.serialize);
    const result = validatePart('body', entry.schema, body);
    return result instanceof Promise
      ? result.then((r) => checked(r, status, body, text ? value : undefined, entry))
      : checked(result, status, body, text ? value : undefined, entry);
  };
}

/** Wraps `handler` with the checks `schema` declares; the handler itself unchanged when it declares none. */
export function withSchemas(
  schema: RouteSchema | undefined,
  handler: Run,
  options: { check: ResponseCheck; allIssuesMaxNodes: number; log: Logger; route: string },
): Run {
  checkSchemas(schema);
  if (schema === undefined) return handler;
  const early = (['params', 'query', 'headers'] as const).filter((part) => schema[part] !== undefined);
  const body = schema.body;
  const finish =
    schema.response === undefined
      ? undefined
      : responseStage(schema.response, options.check, options.log, options.route);
  const run: Run =
    finish === undefined
      ? handler
      : (ctx) => {
          // While the handler runs, ctx.reply() leaves the body to finish(), which checks and
          // serialises it once; after, a reply (from middleware) is whole again.
          ctx[kDeferReply] = true;
          let value: unknown;
          try {
            value = handler(ctx);
          } catch (err) {
            ctx[kDeferReply] = false;
            throw err;
          }
          if (!(value instanceof Promise)) return finish(ctx, value);
          return value.then(
            (v) => finish(ctx, v),
            (err: unknown) => {
              ctx[kDeferReply] = false;
              throw err;
            },
          );
        };
  if (early.length === 0 && body === undefined) return run;

  const check = (ctx: Context, part: (typeof early)[number]) =>
    validatePart(
      part,
      schema[part] as NonNullable<RouteSchema[typeof part]>,
      rawPart(ctx, part),
      options.allIssuesMaxNodes,
    );
  const afterBody = (ctx: Context, result: PartResult): unknown => {
    if (!result.ok) {
      const failures = noFailures();
      addFailure(failures, result);
      throw validationError(failures);
    }
    ctx[kSetInput]('body', result.value);
    return run(ctx);
  };
  const checkBody = (ctx: Context, value: unknown): unknown => {
    const result = validatePart('body', body!, value, options.allIssuesMaxNodes);
    return result instanceof Promise ? result.then((r) => afterBody(ctx, r)) : afterBody(ctx, result);
  };
  // The body is read by callbacks, and the check and the handler continue from one promise made here,
  // in the request's async context: the body's events come in the socket's, and what an
  // AsyncLocalStorage holds (a tracer's span, the app's own) must be the request's for the handler.
  // (Binding the callback with AsyncResource instead cost twice the request: measured.)
  const bodyThen = (ctx: Context, done: Done): void => {
    let failure: unknown;
    let value: unknown;
    new Promise<void>((resolve) => {
      readBody(ctx, (err, body) => {
        failure = err;
        value = body;
        resolve();
      });
    }).then(() => {
      if (failure !== undefined) {
        done(true, failure);
        return;
      }
      let result: unknown;
      try {
        result = checkBody(ctx, value);
      } catch (thrown) {
        done(true, thrown);
        return;
      }
      settleInto(result, done);
    });
  };
  // Behind middleware, which awaits the chain: one promise.
  const withBody = (ctx: Context): Promise<unknown> =>
    new Promise((resolve, reject) =>
      bodyThen(ctx, (failed, value) => (failed ? reject(value) : resolve(value))),
    );
  // A validator that answered with a promise: the rest of the parts are awaited in turn.
  const afterAsync = async (
    ctx: Context,
    from: number,
    pending: Promise<PartResult>,
    failures: Failures,
  ): Promise<unknown> => {
    settle(early[from]!, await pending, ctx, failures);
    for (let i = from + 1; i < early.length; i++) {
      const result = check(ctx, early[i]!);
      settle(early[i]!, result instanceof Promise ? await result : result, ctx, failures);
    }
    if (failures.total > 0) throw validationError(failures);
    return body === undefined ? run(ctx) : withBody(ctx);
  };

  // Synchronous while the validators are (most are): a route without a body costs no promise here.
  function validated(ctx: Context): unknown {
    const failures = noFailures();
    for (let i = 0; i < early.length; i++) {
      const result = check(ctx, early[i]!);
      if (result instanceof Promise) return afterAsync(ctx, i, result, failures);
      settle(early[i]!, result, ctx, failures);
    }
    if (failures.total > 0) throw validationError(failures);
    return body === undefined ? run(ctx) : withBody(ctx);
  }
  if (body === undefined) return validated;
  // A route with a body and no middleware answers through `done`, with no promise of weir's own.
  const callback: CallbackChain = (ctx, done) => {
    const failures = noFailures();
    for (let i = 0; i < early.length; i++) {
      const result = check(ctx, early[i]!);
      if (result instanceof Promise) {
        settleInto(afterAsync(ctx, i, result, failures), done);
        return;
      }
      settle(early[i]!, result, ctx, failures);
    }
    if (failures.total > 0) done(true, validationError(failures));
    else bodyThen(ctx, done);
  };
  return Object.assign(validated, { [kCallbackChain]: callback });
}
