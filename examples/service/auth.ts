/**
 * Login, logout and who-am-I, for the seeded users (alice@example.com / alice-password, …):
 * - `POST /login` with `{"email","password"}` as JSON or a form: 200 `{id, name}` and a session cookie
 *   (a new session id, so an id planted before login is worthless); 401 with one message, after the same
 *   work, whether the email is unknown or the password wrong; 403 for a browser's cross-site request.
 * - `POST /logout`: the session is deleted on the server; 204.
 * - `GET /me`: the session's user, or 401.
 * - `POST /api/tokens` with the same body: a bearer token (a JWT, HS256, 15 minutes), for API clients.
 * - `GET /api/me`: the token's user, or 401.
 * Sessions live in the service's database by default, so every process and every restart sees them.
 */
import { randomBytes } from 'node:crypto';
import { App, type Context, HttpError, type Middleware } from 'weir';
import type { Database } from 'weir/db';
import {
  type AuthUser,
  cors,
  createRateLimiter,
  csrf,
  hashPassword,
  needsRehash,
  type RateLimiter,
  type RateLimitStore,
  rateLimit,
  rateLimitFields,
  rateLimitRefusal,
  requireAuth,
  type SessionStore,
  session,
  signJwt,
  verifyPassword,
} from 'weir/security';

/** The user a session or token names. */
export interface ServiceUser extends AuthUser {
  readonly id: number;
  readonly name: string;
}

export const AUTH = {
  maxEmailLength: 254,
  tokenTtlMs: 15 * 60_000,
  issuer: 'weir-service',
  sessionTtlMs: 86_400_000,
  loginsPerMinute: 10,
  failuresPerAccount: 10,
  failureWindowMs: 15 * 60_000,
};

const INVALID = 'Email or password is wrong';
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching them is the point
const CONTROL = /[\u0000-\u001f\u007f]/;

function badField(field: string, reason: string): HttpError {
  // The value is never echoed: it may be a password typed into the wrong field.
  return HttpError.badRequest(`${field} ${reason}`, { field }, 'INVALID_INPUT');
}

/** `{ email, password }` from a JSON or form body. */
async function credentials(ctx: Context): Promise<{ email: string; password: string }> {
  const type = ctx.headers['content-type'] ?? '';
  const body: unknown = /^application\/x-www-form-urlencoded\b/i.test(type)
    ? await ctx.form()
    : await ctx.json();
  const { email, password } = (typeof body === 'object' && body !== null ? body : {}) as Record<
    string,
    unknown
  >;
  // Bounded after lower-casing, which can lengthen it ('İ' becomes two characters); no control characters
  // (PostgreSQL cannot take a NUL in text: the lookup would fail with a 500).
  const normalised =
    typeof email === 'string' && email.length <= AUTH.maxEmailLength ? email.trim().toLowerCase() : '';
  if (normalised.length === 0 || normalised.length > AUTH.maxEmailLength || CONTROL.test(normalised)) {
    throw badField(
      'email',
      `must be a string of 1 to ${AUTH.maxEmailLength} characters, none a control character`,
    );
  }
  if (typeof password !== 'string' || password.length === 0) {
    throw badField('password', 'must be a non-empty string');
  }
  return { email: normalised, password };
}

/**
 * The user with these credentials, or `undefined`. An unknown email costs the same as a wrong password:
 * one indexed lookup and one scrypt (verifyPassword's stand-in hash).
 */
async function authenticate(
  app: App,
  db: Database,
  ctx: Context,
  failures: RateLimiter,
): Promise<ServiceUser | undefined> {
  const { email, password } = await credentials(ctx);
  // Too many recent failures for this email (known or not: an unknown one is counted alike) → 429.
  const left = await failures.peek(email);
  rateLimitFields(ctx, left);
  if (!left.allowed) throw rateLimitRefusal(left);
  const row = await db.with(ctx).maybeOne<{ id: number; name: string; hash: string }>`
    SELECT id, name, password_hash AS hash FROM users WHERE email = ${email}`;
  if (!(await verifyPassword(password, row?.hash))) {
    await failures.take(email);
    return undefined;
  }
  const user = row as { id: number; name: string; hash: string };
  await failures.reset(email);
  if (needsRehash(user.hash)) {
    // Hashes made with older parameters are replaced after a good login, off the response's path; the
    // WHERE keeps a concurrent password change from being overwritten.
    app.background(
      async () => {
        const fresh = await hashPassword(password);
        await db.exec`UPDATE users SET password_hash = ${fresh} WHERE id = ${user.id} AND password_hash = ${user.hash}`;
      },
      { name: 'password rehash' },
    );
  }
  return { id: Number(user.id), name: user.name };
}

function refused(): HttpError {
  return HttpError.unauthorized(INVALID, undefined, 'INVALID_CREDENTIALS');
}

/** The JWT key: `JWT_SECRET`, or one generated once and kept in the database for every process. */
export async function tokenSecret(db: Database, given: string | undefined): Promise<string> {
  if (given !== undefined && given !== '') return given;
  await db.exec`INSERT INTO service_secrets (name, value) VALUES ('jwt', ${randomBytes(32).toString('base64url')})
    ON CONFLICT (name) DO NOTHING`;
  const row = await db.one<{ value: string }>`SELECT value FROM service_secrets WHERE name = 'jwt'`;
  return row.value;
}

/**
 * Lets through only a logged-in user of the service (a session from POST /login): the guard of pages for
 * its operators, such as the dashboard in production.
 */
export function loggedIn(store: () => SessionStore): Middleware[] {
  return [session({ store, ttlMs: AUTH.sessionTtlMs }), requireAuth<ServiceUser>()];
}

/** Where the routes above look for what they need; the store and secret are opened at start. */
export interface AuthRoutesOptions {
  store: () => SessionStore;
  secret: () => string;
  /** Origins whose pages may call /api/* (CORS); none when empty. */
  corsOrigins: readonly string[];
  /** Where the login limits count. */
  rateLimits: RateLimitStore;
  /** Login attempts per client address per minute, and failures per account per 15 minutes. */
  loginLimits?: { perAddress?: number; failuresPerAccount?: number };
}

/**
 * Adds the routes above. The session routes refuse cross-site requests (csrf()); /api/* is a mounted app
 * with its own CORS policy, which also answers its preflights.
 */
export function addAuthRoutes(app: App, db: Database, options: AuthRoutesOptions): void {
  const { store, secret, corsOrigins, rateLimits } = options;
  const sessions = session({ store, ttlMs: AUTH.sessionTtlMs });
  const sameSite = csrf();
  // Two limits on logins: attempts per client address (one address guessing many accounts), and failures
  // per account (many addresses guessing one). The second fails closed: without its store, no guessing.
  // memory: under several workers counts per process (the limits are then per worker): RATE_LIMIT_URL=redis://…
  const perAddress = rateLimit({
    name: 'login',
    limit: options.loginLimits?.perAddress ?? AUTH.loginsPerMinute,
    windowMs: 60_000,
    store: rateLimits,
    allowMemoryWithWorkers: true,
  });
  const failures = createRateLimiter({
    name: 'login-failures',
    limit: options.loginLimits?.failuresPerAccount ?? AUTH.failuresPerAccount,
    windowMs: AUTH.failureWindowMs,
    store: rateLimits,
    onStoreError: 'closed',
    allowMemoryWithWorkers: true,
  });

  // Logins are the costliest requests here (a scrypt each) and a flood's favourite target: under overload
  // they wait behind, and are shed before, every other request.
  const loginRoute = { priority: 'batch' as const };
  app.post('/login', loginRoute, sessions, sameSite, perAddress, async (ctx) => {
    // Login CSRF: a form on another site could log the visitor in as the attacker. csrf() looks only at
    // requests that carry cookies, and a visitor may have none yet: browsers say where a request comes
    // from in Sec-Fetch-Site; other clients send none and are let through.
    const site = ctx.headers['sec-fetch-site'];
    if (site === 'cross-site' || site === 'same-site') {
      throw HttpError.forbidden('Log in from this site', undefined, 'CROSS_SITE_LOGIN');
    }
    const user = await authenticate(app, db, ctx, failures);
    if (user === undefined) throw refused();
    await ctx.session.logIn(user);
    return { id: user.id, name: user.name };
  });

  app.post('/logout', sessions, sameSite, async (ctx) => {
    await ctx.session.logOut();
    return undefined;
  });

  app.get('/me', sessions, requireAuth<ServiceUser>(), (ctx) => ({
    id: ctx.state.user.id,
    name: ctx.state.user.name,
  }));

  // Bearer-token routes: no cookie is read here, so no CSRF check is needed.
  const api = new App();
  if (corsOrigins.length > 0) {
    api.use(cors({ origin: corsOrigins, headers: ['authorization', 'content-type'], maxAgeSeconds: 600 }));
  }
  api.post('/tokens', loginRoute, perAddress, async (ctx) => {
    const user = await authenticate(app, db, ctx, failures);
    if (user === undefined) throw refused();
    const token = await signJwt(
      { sub: String(user.id), name: user.name },
      {
        key: secret(),
        algorithm: 'HS256',
        issuer: AUTH.issuer,
        audience: AUTH.issuer,
        expiresInMs: AUTH.tokenTtlMs,
      },
    );
    ctx.set('cache-control', 'no-store');
    return { access_token: token, token_type: 'Bearer', expires_in: AUTH.tokenTtlMs / 1000 };
  });

  const bearer = requireAuth<ServiceUser>({
    session: false,
    jwt: {
      key: secret,
      algorithms: ['HS256'],
      issuer: AUTH.issuer,
      audience: AUTH.issuer,
      user: (claims) =>
        typeof claims.sub === 'string' && /^\d{1,15}$/.test(claims.sub) && typeof claims.name === 'string'
          ? { id: Number(claims.sub), name: claims.name }
          : undefined,
    },
  });
  api.get('/me', bearer, (ctx) => ({ id: ctx.state.user.id, name: ctx.state.user.name }));
  app.route('/api', api);
}
