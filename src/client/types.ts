/**
 * The types of a typed client: from an app's route map (`App<S, R>`'s `R`, see `http/route-spec.ts`), the
 * paths each method takes, the options a call takes, and the responses it resolves to, by status.
 */
import type { App } from '../http/app.ts';
import type { PathParams } from '../http/params.ts';
import type { RouteMethod, RouteSpec } from '../http/route-spec.ts';

/** The route map of an app's type (`typeof app`), or the route map itself. */
export type RoutesOf<A> = A extends App<infer _S, infer R> ? R : A;

type Digit = '0' | '1' | '2' | '3' | '4' | '5' | '6' | '7' | '8' | '9';
type ToNumber<T> = T extends `${infer N extends number}` ? N : never;

/** A success status: 200 to 299. */
export type SuccessStatus = ToNumber<`2${Digit}${Digit}`>;
/** An error status: 400 to 599. */
export type ErrorStatus = ToNumber<`${4 | 5}${Digit}${Digit}`>;

/** The body of an error weir answers with (an `HttpError`, a refused request, a failure): docs/errors.md. */
export interface ErrorBody {
  error: { code: string; message: string; details?: unknown };
}

/**
 * What a call resolves to: one object per status the route may answer, so that testing `status` (or
 * `ok`) narrows `data`.
 */
export interface ClientResponse<Status extends number, Data> {
  /** The response's status. */
  readonly status: Status;
  /** True for a 2xx status. */
  readonly ok: [Status] extends [SuccessStatus] ? true : false;
  /** The response's headers. */
  readonly headers: Headers;
  /**
   * The body: parsed as JSON when the response says it is JSON, else its text; `undefined` when it has
   * none (204, 205, 304, a HEAD request).
   */
  readonly data: Data;
}

type StatusOf<K, Rs> = K extends number ? K : K extends '2XX' ? Exclude<SuccessStatus, keyof Rs> : never;

/**
 * The responses of a route: one per declared status (`'2XX'` stands for the success statuses not
 * declared otherwise), and weir's error body for every error status it does not declare.
 */
export type ResponseOf<Spec extends RouteSpec, M extends RouteMethod = 'get'> =
  | {
      [K in keyof Spec['responses']]-?: ClientResponse<
        StatusOf<K, Spec['responses']>,
        M extends 'head' ? undefined : Spec['responses'][K]
      >;
    }[keyof Spec['responses']]
  | ClientResponse<Exclude<ErrorStatus, keyof Spec['responses']>, M extends 'head' ? undefined : ErrorBody>;

/** A value a path param, a query value or a header takes where its schema takes any string. */
type Wire<T, Extra> = T extends string ? (string extends T ? T | Extra : T) : T;

/** A query value: sent as its text; an array as the name repeated; `undefined` left out. */
export type QueryValue = string | number | boolean;

/** A query without a schema. */
export type QueryInput = { readonly [name: string]: QueryValue | readonly QueryValue[] | undefined };

/** Headers without a schema (lower-case names are the convention; `undefined` is left out). */
export type HeadersInput = { readonly [name: string]: string | undefined };

type QueryOf<Q> = unknown extends Q
  ? QueryInput
  : {
      [K in keyof Q]: Q[K] extends readonly (infer E)[]
        ? readonly Wire<E, number | boolean>[]
        : Wire<Q[K], number | boolean>;
    };

/** The prefix params of a mounted app's route (`app.route('/orgs/:org', sub)`), which its spec lacks. */
type ParamsOf<P extends string, Params> = keyof PathParams<P> extends keyof Params
  ? Params
  : Params & Omit<PathParams<P>, keyof Params>;

/** `{ [key]?: T }` when every key of T is optional (or T has none), else `{ [key]: T }`. */
type Part<Key extends string, T> =
  Record<never, never> extends T ? { readonly [K in Key]?: T } : { readonly [K in Key]: T };

/** Per-call settings, beside the route's inputs. */
export interface CallSettings {
  /** Aborts the call (with the signal's reason). */
  signal?: AbortSignal;
  /** The call's time limit, from sending to the end of the body. @default the client's `timeoutMs` */
  timeoutMs?: number;
}

/** The options of a call to a route: its params, query, headers and body, and per-call settings. */
export type CallOptions<P extends string, Spec extends RouteSpec, M extends RouteMethod> = CallSettings &
  Part<'params', { [K in keyof ParamsOf<P, Spec['params']>]: Wire<ParamsOf<P, Spec['params']>[K], number> }> &
  Part<'query', QueryOf<Spec['query']>> &
  Part<'headers', unknown extends Spec['headers'] ? HeadersInput : Spec['headers'] & HeadersInput> &
  (M extends 'get' | 'head'
    ? unknown
    : unknown extends Spec['body']
      ? { readonly body?: unknown }
      : Part<'body', Spec['body']>);

/** The options argument: optional when nothing in it is required. */
type OptionsArg<O> = Record<never, never> extends O ? [options?: O] : [options: O];

/** The paths that have a route for method `M`. */
export type PathsWith<R, M extends RouteMethod> = {
  [K in keyof R]: M extends keyof R[K] ? K : never;
}[keyof R] &
  string;

type SpecOf<R, P, M extends RouteMethod> = P extends keyof R
  ? M extends keyof R[P]
    ? R[P][M] extends RouteSpec
      ? R[P][M]
      : never
    : never
  : never;

/** HEAD is answered by a GET route unless the path has a HEAD route of its own. */
type HeadSpec<R, P> = P extends PathsWith<R, 'head'> ? SpecOf<R, P, 'head'> : SpecOf<R, P, 'get'>;

/** A call with method `M`: the path (a route's path, as declared), then the options the route takes. */
export type Call<R, M extends RouteMethod> = <P extends PathsWith<R, M>>(
  path: P,
  ...options: OptionsArg<CallOptions<P, SpecOf<R, P, M>, M>>
) => Promise<ResponseOf<SpecOf<R, P, M>, M>>;

type HeadCall<R> = <P extends PathsWith<R, 'head' | 'get'>>(
  path: P,
  ...options: OptionsArg<CallOptions<P, HeadSpec<R, P>, 'head'>>
) => Promise<ResponseOf<HeadSpec<R, P>, 'head'>>;

/** A typed client of the routes `R`: a method per HTTP method, each taking the paths that have it. */
export interface Client<R> {
  readonly get: Call<R, 'get'>;
  readonly post: Call<R, 'post'>;
  readonly put: Call<R, 'put'>;
  readonly patch: Call<R, 'patch'>;
  readonly delete: Call<R, 'delete'>;
  readonly head: HeadCall<R>;
  readonly options: Call<R, 'options'>;
}
