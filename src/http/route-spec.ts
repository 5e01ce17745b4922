/**
 * What an app's type records of its routes, for a typed client (weir/client): `App<S, R>`'s `R` maps each
 * path to its methods and each method to a {@link RouteSpec}. Types only: nothing here exists at run time,
 * and nothing is computed until a client asks (a spec's members are resolved lazily by the compiler).
 */
import type { Readable } from 'node:stream';
import type { StandardSchemaV1 } from '../schema/standard.ts';
import type { RouteSchema } from '../schema/types.ts';
import type { PathParams } from './params.ts';
import type { WeirResponse } from './response.ts';

/** A method as the route map names it: `app.get()` adds a `get` route, `app.all()` one of each. */
export type RouteMethod = 'get' | 'post' | 'put' | 'patch' | 'delete' | 'head' | 'options';

/**
 * One route as a caller sees it. `params`, `query`, `headers` and `body` are what the caller sends: its
 * schema's *input* where the route has one; otherwise `params` comes from the path and the other three
 * are `unknown` (not declared). `responses` maps each status to the body the caller receives: the
 * `response` schemas' *outputs*, or, without them, `'2XX'` (any success status, as OpenAPI writes it) to
 * the handler's return value as sent, and `204` to `undefined` when the handler may return nothing.
 */
export interface RouteSpec {
  readonly params: object;
  readonly query: unknown;
  readonly headers: unknown;
  readonly body: unknown;
  readonly responses: object;
}

type Input<T> = T extends StandardSchemaV1 ? StandardSchemaV1.InferInput<T> : unknown;
type Output<T> = T extends StandardSchemaV1 ? StandardSchemaV1.InferOutput<T> : never;

/** The spec of a route with schemas; `T` is what its handler returns (used without `response`). */
export type SchemaRouteSpec<P extends string, Sch extends RouteSchema, T> = {
  readonly params: Sch['params'] extends StandardSchemaV1 ? Input<Sch['params']> : PathParams<P>;
  readonly query: Input<Sch['query']>;
  readonly headers: Input<Sch['headers']>;
  readonly body: Input<Sch['body']>;
  readonly responses: Sch['response'] extends object
    ? { readonly [S in keyof Sch['response'] & number]: Output<Sch['response'][S]> }
    : PlainResponses<T>;
};

/** The spec of a route without schemas: params from the path, responses from what its handler returns. */
export type PlainRouteSpec<P extends string, T> = {
  readonly params: PathParams<P>;
  readonly query: unknown;
  readonly headers: unknown;
  readonly body: unknown;
  readonly responses: PlainResponses<T>;
};

/** `T` without `undefined` and `void` (both extend `void`): what a handler returns when it returns a body. */
type Filled<T> = T extends void ? never : T;

/** What a handler's return value gives a caller: `send.ts`'s table, seen from the other side. */
type PlainResponses<T> = unknown extends T
  ? { readonly '2XX': unknown }
  : [Filled<Awaited<T>>] extends [never]
    ? { readonly 204: undefined }
    : undefined extends Awaited<T>
      ? { readonly '2XX': Sent<Filled<Awaited<T>>>; readonly 204: undefined }
      : { readonly '2XX': Sent<Awaited<T>> };

/** A response object or stream may carry any body: `unknown`. A string is sent as text; the rest as JSON. */
type Sent<T> = T extends WeirResponse | Response | Uint8Array | Readable | ReadableStream
  ? unknown
  : T extends string
    ? T
    : Jsonified<T>;

/**
 * A value after `JSON.stringify` and `JSON.parse`: `toJSON()` applied (a `Date` becomes a string), and
 * functions, symbols and `undefined` dropped from objects (`null` in arrays).
 */
export type Jsonified<T> = unknown extends T
  ? T
  : T extends string | number | boolean | null
    ? T
    : T extends { toJSON(): infer J }
      ? J extends object
        ? unknown
        : J
      : T extends undefined | symbol | bigint | ((...args: never[]) => unknown)
        ? never
        : T extends readonly unknown[]
          ? { -readonly [K in keyof T]: T[K] extends undefined | symbol ? null : Jsonified<T[K]> }
          : { -readonly [K in keyof T as Jsonified<T[K]> extends never ? never : K]: Jsonified<T[K]> };

/** One route in the route map. */
export type RouteEntry<P extends string, M extends RouteMethod, Spec> = {
  readonly [K in P]: { readonly [X in M]: Spec };
};

/** A mounted app's route map, its paths under `prefix` (as `app.route(prefix, sub)` serves them). */
export type PrefixedRoutes<Prefix extends string, R> = {
  readonly [K in keyof R as K extends string ? (K extends '/' ? Prefix : `${Prefix}${K}`) : never]: R[K];
};
