/**
 * The types a route's schemas give its handler: `ctx.params`, `ctx.query`, `ctx.headers` and `ctx.body`
 * as the schemas' outputs, and what the handler may return, checked against the response schemas.
 */
import type { StandardSchemaV1 } from './standard.ts';

/** A route's schemas, each optional: any Standard Schema (zod 4, valibot, arktype, TypeBox…). */
export interface RouteSchema {
  readonly params?: StandardSchemaV1;
  readonly query?: StandardSchemaV1;
  readonly headers?: StandardSchemaV1;
  readonly body?: StandardSchemaV1;
  /** A schema per status the route answers with. */
  readonly response?: { readonly [status: number]: StandardSchemaV1 };
}

type Output<T> = T extends StandardSchemaV1 ? StandardSchemaV1.InferOutput<T> : never;
type Input<T> = T extends StandardSchemaV1 ? StandardSchemaV1.InferInput<T> : never;

/**
 * What a route validates, as `Context`'s third type parameter: each part the schema declares, typed as
 * its schema's output; `responses` maps each declared status to the body it takes (the schema's input).
 */
export type RouteInputs<Sch extends RouteSchema> = {
  [K in 'params' | 'query' | 'headers' | 'body' as Sch[K] extends StandardSchemaV1 ? K : never]: Output<
    Sch[K]
  >;
} & (Sch['response'] extends object
  ? { readonly responses: { [S in keyof Sch['response'] & number]: Input<Sch['response'][S]> } }
  : unknown);

/** The statuses tried, in order, for the success status of a plain return. */
type SuccessStatus<R> = 200 extends keyof R
  ? 200
  : 201 extends keyof R
    ? 201
    : 202 extends keyof R
      ? 202
      : 203 extends keyof R
        ? 203
        : 204 extends keyof R
          ? 204
          : never;

declare const kReply: unique symbol;

/** A response made by `ctx.reply(status, body)`: its status is one the route's schemas declare. */
export interface Reply<Status extends number = number> {
  readonly [kReply]: Status;
}

type Awaitable<T> = T | Promise<T>;

/**
 * What a handler of a route with response schemas may return: the success status's body as a plain
 * value (200, else the first declared 2xx), or `ctx.reply(status, body)` for any declared status.
 * Without response schemas, anything.
 */
export type HandlerReturn<I> = I extends { readonly responses: infer R }
  ? Awaitable<
      (SuccessStatus<R> extends never ? never : R[SuccessStatus<R> & keyof R]) | Reply<keyof R & number>
    >
  : unknown;

/** The responses a route declares, for `ctx.reply()`: `never` when it declares none. */
export type Responses<I> = I extends { readonly responses: infer R } ? R : Record<number, unknown>;
