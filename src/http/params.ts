/**
 * Path parameters typed from the path literal: in `/users/:id` the `id` param is a `string`, in
 * `/users/:id?` it is `string | undefined`, and a trailing `*` gives a `'*'` param holding the rest of
 * the path. Reading a param the path does not declare does not compile.
 */

type Segments<P extends string> = P extends `${infer Head}/${infer Tail}` ? Head | Segments<Tail> : P;

type RequiredName<S> = S extends `:${string}?`
  ? never
  : S extends `:${infer Name}`
    ? Name
    : S extends '*'
      ? '*'
      : never;

type OptionalName<S> = S extends `:${infer Name}?` ? Name : never;

type Simplify<T> = { [K in keyof T]: T[K] } & {};

/**
 * The params object of a route path.
 * @example
 * type P = PathParams<'/orgs/:org/repos/:repo?'>; // { org: string; repo?: string }
 */
export type PathParams<P extends string> = string extends P
  ? Readonly<Record<string, string | undefined>>
  : Simplify<
      Readonly<{ [K in RequiredName<Segments<P>>]: string } & { [K in OptionalName<Segments<P>>]?: string }>
    >;
