/**
 * What a middleware tells the OpenAPI document about the routes it wraps: the security schemes it
 * accepts (`requireAuth()`: a bearer token, the session cookie) and the answers it may give instead of the
 * handler (401, 403, 429). Kept on the function under a registered symbol, so that copies of weir agree.
 */

/** An OpenAPI security scheme object (`type: 'http' | 'apiKey' | …`). */
export type SecurityScheme = Readonly<Record<string, unknown>>;

export interface MiddlewareDescription {
  /** Schemes by name, for `components.securitySchemes`. The first middleware to name one wins. */
  readonly schemes?: Readonly<Record<string, SecurityScheme>>;
  /** The alternatives a request may use (`[{ bearerAuth: [] }, { sessionCookie: [] }]`). */
  readonly security?: readonly Readonly<Record<string, readonly string[]>>[];
  /** Statuses the middleware may answer with, and why, as weir's error shape. */
  readonly responses?: Readonly<Record<number, string>>;
}

const kDescribe = Symbol.for('weir.describe');

/** Attaches `description` to `fn` and returns it. */
export function describeMiddleware<F extends (...args: never[]) => unknown>(
  fn: F,
  description: MiddlewareDescription,
): F {
  Object.defineProperty(fn, kDescribe, { value: description });
  return fn;
}

/** What `fn` says about itself, if anything. */
export function descriptionOf(fn: unknown): MiddlewareDescription | undefined {
  return typeof fn === 'function' ? (fn as { [kDescribe]?: MiddlewareDescription })[kDescribe] : undefined;
}
