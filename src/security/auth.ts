/**
 * `requireAuth()`: the guard in front of a route. It finds the user in the `Authorization: Bearer` token
 * (an opaque token checked by the app's function, or a JWT verified by jose), or else in the session,
 * and puts it in `ctx.state.user`, typed for the handler. No user: 401 with a `WWW-Authenticate`
 * challenge per accepted scheme; a user without a required role or scope: 403.
 */
import { httpError, invalidOption } from '../errors.ts';
import type { Guard } from '../http/compose.ts';
import type { Context } from '../http/context.ts';
import { describeMiddleware, type MiddlewareDescription, type SecurityScheme } from '../internal/describe.ts';
import { type JwtOptions, jwtVerifier } from './jwt.ts';
import { type AuthUser, sessionOf } from './session.ts';

/** Options of {@link requireAuth}. */
export interface RequireAuthOptions<U extends AuthUser = AuthUser> {
  /**
   * Accept the session's user (`ctx.session.user`, set by `ctx.session.logIn()`). `true` requires the
   * `session()` middleware on the route, and so does the default without `token` or `jwt` (a request
   * on a route it does not wrap fails with `WEIR_ERR_NO_SESSION`). @default true when `session()` wraps
   * the route, else false
   */
  session?: boolean;
  /**
   * Accept opaque bearer tokens: called with the token, returns its user or `undefined` (an unknown
   * or revoked token; so is anything but an object with an `id`). Compare stored tokens by a hash of the
   * token, not the token itself.
   */
  token?: (token: string, ctx: Context) => U | undefined | Promise<U | undefined>;
  /** Accept bearer JWTs, verified with these options (an explicit algorithm allow-list). */
  jwt?: JwtOptions<U>;
  /** The user must have at least one of these roles. */
  roles?: readonly string[];
  /** The user must have every one of these scopes. */
  scopes?: readonly string[];
  /** The `realm` of the `WWW-Authenticate` challenges. @default 'weir' */
  realm?: string;
}

/** `Authorization: Bearer <token68>` (RFC 6750 §2.1); the scheme is case-insensitive. */
const BEARER = /^bearer +([\w.~+/-]+=*) *$/i;
const MAX_TOKEN_LENGTH = 8192;
/** A scope token (RFC 6749 §3.3): printable ASCII but `"` and `\`, so it can sit inside a quoted string. */
const SCOPE_TOKEN = /^[\x21\x23-\x5b\x5d-\x7e]+$/;
const REALM = /^[\w .:/-]{1,64}$/;

type Verify<U> = (token: string, ctx: Context) => Promise<{ user: U | undefined; expired: boolean }>;

/** Whether `list` is an array holding `wanted`; a string is no list (`"superadmin".includes("admin")`). */
function holds(list: unknown, wanted: string): boolean {
  return Array.isArray(list) && list.includes(wanted);
}

/**
 * `value` if it is a user, an object with an `id`; else `undefined`: a lookup's `false`, `null`, `0`, `''`
 * or `{}` names nobody, and must not pass the guard as if it were someone.
 */
function userOf<U extends AuthUser>(value: unknown): U | undefined {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
  const id = (value as { id?: unknown }).id;
  return typeof id === 'string' || typeof id === 'number' || typeof id === 'bigint'
    ? (value as U)
    : undefined;
}

/** What an option error shows of a value: never a string, which may be a token or a secret. */
function shown(value: unknown): unknown {
  return typeof value === 'string' ? '(a string, hidden)' : value;
}

function stringList(name: string, value: unknown): readonly string[] | undefined {
  if (value === undefined) return undefined;
  if (
    !Array.isArray(value) ||
    value.length === 0 ||
    value.some((v) => typeof v !== 'string' || !SCOPE_TOKEN.test(v))
  ) {
    throw invalidOption(
      `requireAuth() ${name}`,
      'a non-empty list of tokens (printable ASCII, no quote or backslash)',
      value,
    );
  }
  return Object.freeze([...value]);
}

function bearerVerifier<U extends AuthUser>(options: RequireAuthOptions<U>): Verify<U> | undefined {
  const { token, jwt } = options;
  if (token !== undefined && typeof token !== 'function') {
    throw invalidOption('requireAuth() token', 'a function (token, ctx) => user | undefined', shown(token));
  }
  const verifyJwt = jwt === undefined ? undefined : jwtVerifier(jwt);
  if (verifyJwt === undefined && token === undefined) return undefined;
  return async (value, ctx) => {
    // A token with two dots is a JWT when JWTs are accepted; anything else goes to the app's function.
    if (verifyJwt !== undefined && (token === undefined || value.split('.').length === 3)) {
      const { user, expired } = await verifyJwt(value);
      return { user: userOf<U>(user), expired };
    }
    if (token === undefined) return { user: undefined, expired: false };
    return { user: userOf<U>(await token(value, ctx)), expired: false };
  };
}

/**
 * Middleware that lets a request through only with an authenticated user, in `ctx.state.user`.
 * @example
 * app.get('/me', requireAuth(), (ctx) => ({ id: ctx.state.user.id }));
 * app.get('/api/me', requireAuth({ jwt: { key: process.env.JWT_SECRET, algorithms: ['HS256'] } }), …);
 * app.delete('/users/:id', requireAuth({ roles: ['admin'] }), …);
 */
export function requireAuth<U extends AuthUser = AuthUser>(
  options: RequireAuthOptions<U> = {},
): Guard<{ user: U }> {
  if (typeof options !== 'object' || options === null) {
    throw invalidOption('requireAuth() options', 'an object', shown(options));
  }
  const verify = bearerVerifier(options);
  const useSession = options.session;
  if (useSession !== undefined && typeof useSession !== 'boolean') {
    throw invalidOption('requireAuth() session', 'a boolean', useSession);
  }
  if (useSession === false && verify === undefined) {
    throw invalidOption('requireAuth()', 'session, token or jwt (some way to authenticate)', options);
  }
  const roles = stringList('roles', options.roles);
  const scopes = stringList('scopes', options.scopes);
  const realm = options.realm ?? 'weir';
  if (typeof realm !== 'string' || !REALM.test(realm)) {
    throw invalidOption('requireAuth() realm', 'up to 64 letters, digits, spaces and . : / - _', realm);
  }

  const challenges = (ctx: Context, error?: string): string => {
    const list: string[] = [];
    if (verify !== undefined) list.push(`Bearer realm="${realm}"${error ?? ''}`);
    if (useSession !== false && (useSession === true || sessionOf(ctx) !== undefined)) {
      list.push(`Cookie realm="${realm}"`);
    }
    return list.join(', ');
  };

  const refuse = (
    ctx: Context,
    code: 'WEIR_ERR_UNAUTHENTICATED' | 'WEIR_ERR_INVALID_TOKEN',
    message: string,
    error?: string,
  ) => httpError(code, message, undefined, { headers: { 'www-authenticate': challenges(ctx, error) } });

  return describeMiddleware(
    async function requireAuth(ctx: Context, next: () => Promise<void>) {
      let user: AuthUser | undefined;
      const header = ctx.req.headers.authorization;
      if (header !== undefined && verify !== undefined && /^bearer /i.test(header)) {
        const match = header.length <= MAX_TOKEN_LENGTH ? BEARER.exec(header) : null;
        const checked = match === null ? undefined : await verify(match[1] as string, ctx);
        if (checked?.user === undefined) {
          const expired = checked?.expired === true;
          throw refuse(
            ctx,
            'WEIR_ERR_INVALID_TOKEN',
            expired ? 'The bearer token has expired' : 'The bearer token is not valid',
            `, error="invalid_token", error_description="${expired ? 'The token expired' : 'The token is not valid'}"`,
          );
        }
        user = checked.user;
      } else if (useSession !== false) {
        // With no bearer scheme either, a route session() does not wrap could never let anyone in: reading
        // ctx.session makes that the WEIR_ERR_NO_SESSION it is, not a 401 with no challenge to answer.
        const current = useSession === true || verify === undefined ? ctx.session : sessionOf(ctx);
        user = userOf(current?.user);
      }
      if (user === undefined)
        throw refuse(ctx, 'WEIR_ERR_UNAUTHENTICATED', 'Log in first: this route needs an authenticated user');
      if (roles !== undefined && !roles.some((role) => holds(user.roles, role))) {
        throw httpError('WEIR_ERR_FORBIDDEN', 'This route needs a role the user does not have', { roles });
      }
      if (scopes !== undefined && !scopes.every((scope) => holds(user.scopes, scope))) {
        throw httpError(
          'WEIR_ERR_FORBIDDEN',
          'This route needs a scope the token does not grant',
          { scopes },
          verify === undefined
            ? undefined
            : {
                headers: {
                  'www-authenticate': `Bearer realm="${realm}", error="insufficient_scope", scope="${scopes.join(' ')}"`,
                },
              },
        );
      }
      (ctx.state as { user?: AuthUser }).user = user;
      await next();
    },
    authDescription(
      verify !== undefined && options.jwt !== undefined,
      verify !== undefined,
      useSession !== false,
      [...(roles ?? []), ...(scopes ?? [])],
    ),
  ) as Guard<{ user: U }>;
}

/** What requireAuth() tells the OpenAPI document: the schemes it accepts (any one), 401 and 403. */
function authDescription(
  jwt: boolean,
  bearer: boolean,
  cookie: boolean,
  roles: string[],
): MiddlewareDescription {
  const schemes: Record<string, SecurityScheme> = {};
  const security: Record<string, string[]>[] = [];
  if (bearer) {
    schemes.bearerAuth = { type: 'http', scheme: 'bearer', ...(jwt && { bearerFormat: 'JWT' }) };
    security.push({ bearerAuth: roles });
  }
  if (cookie) {
    // session() names its cookie; this is the default name, for a document built without it.
    schemes.sessionCookie = { type: 'apiKey', in: 'cookie', name: 'weir_session' };
    security.push({ sessionCookie: roles });
  }
  const responses: Record<number, string> = {
    401: 'Not authenticated (WEIR_ERR_UNAUTHENTICATED), or the bearer token is not valid (WEIR_ERR_INVALID_TOKEN)',
  };
  if (roles.length > 0)
    responses[403] = 'The user lacks a role or scope the route needs (WEIR_ERR_FORBIDDEN)';
  return { schemes, security, responses };
}
