/**
 * The types of `app.get()`, `app.post()` and the other method adders: a handler typed by its path, the
 * app's state, the guards before it (`Provides<G>`) and the route's schemas.
 */
import type { HandlerReturn, RouteInputs, RouteSchema } from '../schema/types.ts';
import type { App } from './app.ts';
import type { Middleware, Provides } from './compose.ts';
import type { Context } from './context.ts';
import type { RouteOptions } from './options.ts';
import type { PlainRouteSpec, RouteEntry, RouteMethod, SchemaRouteSpec } from './route-spec.ts';

/** A route handler: returns the response value (see the table in `send.ts`), or a promise of it. */
export type Handler<P extends string = string, S extends object = Record<never, never>> = (
  ctx: Context<P, S>,
) => unknown;

type Chainable<P extends string, S extends object> = [...Middleware<S>[], Handler<P, S>];

/** A handler of a route with schemas: `ctx` typed from them, its return checked against `response`. */
export type SchemaHandler<
  P extends string,
  S extends object,
  Sch extends RouteSchema,
  T extends HandlerReturn<RouteInputs<Sch>> = HandlerReturn<RouteInputs<Sch>>,
> = (ctx: Context<P, S, RouteInputs<Sch>>) => T;

/** A handler whose return type `T` the route map keeps. */
type Returning<P extends string, S extends object, T> = (ctx: Context<P, S>) => T;

/** Route options with schemas (`Omit` first: intersecting two schema types sends TS into arktype's depths). */
type SchemaRouteOptions<Sch extends RouteSchema> = Omit<RouteOptions, 'schema'> & { schema: Sch };

/** Route options without schemas: their handlers are typed by the path and the app's state alone. */
type PlainRouteOptions = Omit<RouteOptions, 'schema'> & { schema?: undefined };

/**
 * The overloads of `app.get()`, `app.post()` and the other method adders: `M` names the route's method(s)
 * in the route map `R`; each returns the app, typed with the route added (`T`: what the handler returns).
 */
export interface AddRoute<S extends object, R, M extends RouteMethod> {
  // Schemas in the options type the handler (first, so that they win over the untyped forms below).
  <P extends string, Sch extends RouteSchema, T extends HandlerReturn<RouteInputs<Sch>>>(
    path: P,
    options: SchemaRouteOptions<Sch>,
    handler: SchemaHandler<P, S, Sch, T>,
  ): App<S, R & RouteEntry<P, M, SchemaRouteSpec<P, Sch, T>>>;
  <P extends string, Sch extends RouteSchema, G1 extends object, T extends HandlerReturn<RouteInputs<Sch>>>(
    path: P,
    options: SchemaRouteOptions<Sch>,
    m1: Middleware<S> | (Middleware<S> & Provides<G1>),
    handler: SchemaHandler<P, S & G1, Sch, T>,
  ): App<S, R & RouteEntry<P, M, SchemaRouteSpec<P, Sch, T>>>;
  <
    P extends string,
    Sch extends RouteSchema,
    G1 extends object,
    G2 extends object,
    T extends HandlerReturn<RouteInputs<Sch>>,
  >(
    path: P,
    options: SchemaRouteOptions<Sch>,
    m1: Middleware<S> | (Middleware<S> & Provides<G1>),
    m2: Middleware<S> | (Middleware<S> & Provides<G2>),
    handler: SchemaHandler<P, S & G1 & G2, Sch, T>,
  ): App<S, R & RouteEntry<P, M, SchemaRouteSpec<P, Sch, T>>>;
  <P extends string, T>(
    path: P,
    handler: Returning<P, S, T>,
  ): App<S, R & RouteEntry<P, M, PlainRouteSpec<P, T>>>;
  <P extends string, T>(
    path: P,
    options: PlainRouteOptions,
    handler: Returning<P, S, T>,
  ): App<S, R & RouteEntry<P, M, PlainRouteSpec<P, T>>>;
  // A guard (`Provides<G>`) before the handler types what it adds to ctx.state; plain middleware adds nothing.
  <P extends string, G1 extends object, T>(
    path: P,
    m1: Middleware<S> | (Middleware<S> & Provides<G1>),
    handler: Returning<P, S & G1, T>,
  ): App<S, R & RouteEntry<P, M, PlainRouteSpec<P, T>>>;
  <P extends string, G1 extends object, T>(
    path: P,
    options: PlainRouteOptions,
    m1: Middleware<S> | (Middleware<S> & Provides<G1>),
    handler: Returning<P, S & G1, T>,
  ): App<S, R & RouteEntry<P, M, PlainRouteSpec<P, T>>>;
  <P extends string, G1 extends object, G2 extends object, T>(
    path: P,
    m1: Middleware<S> | (Middleware<S> & Provides<G1>),
    m2: Middleware<S> | (Middleware<S> & Provides<G2>),
    handler: Returning<P, S & G1 & G2, T>,
  ): App<S, R & RouteEntry<P, M, PlainRouteSpec<P, T>>>;
  <P extends string, G1 extends object, G2 extends object, T>(
    path: P,
    options: PlainRouteOptions,
    m1: Middleware<S> | (Middleware<S> & Provides<G1>),
    m2: Middleware<S> | (Middleware<S> & Provides<G2>),
    handler: Returning<P, S & G1 & G2, T>,
  ): App<S, R & RouteEntry<P, M, PlainRouteSpec<P, T>>>;
  // Longer chains: the handler's return is not kept (`unknown` responses).
  <P extends string>(
    path: P,
    ...chain: Chainable<P, S>
  ): App<S, R & RouteEntry<P, M, PlainRouteSpec<P, unknown>>>;
  <P extends string>(
    path: P,
    options: PlainRouteOptions,
    ...chain: Chainable<P, S>
  ): App<S, R & RouteEntry<P, M, PlainRouteSpec<P, unknown>>>;
}
