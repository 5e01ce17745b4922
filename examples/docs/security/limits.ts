import { App, HttpError } from 'weir';
import {
  createRateLimiter,
  openRateLimitStore,
  rateLimit,
  rateLimitFields,
  rateLimitRefusal,
  verifyPassword,
} from 'weir/security';

export const app = new App();
// Redis when several processes or instances serve the app; the limits then hold across all of them.
const store = await openRateLimitStore(process.env.RATE_LIMIT_URL);
app.onStop(() => store.close());
const hashes = new Map<string, string>(); // email → password hash; a real app reads its database
export const signUpForTest = (email: string, hash: string) => hashes.set(email, hash);

// Failed logins per account, counted by hand: spent only on a failure, forgotten on a success.
const failures = createRateLimiter({
  name: 'login-failures',
  limit: 5,
  windowMs: 15 * 60_000,
  store,
  onStoreError: 'closed',
});

app.post('/login', rateLimit({ name: 'login', limit: 10, windowMs: 60_000, store }), async (ctx) => {
  const { email, password } = (await ctx.json<{ email?: unknown; password?: unknown } | null>()) ?? {};
  if (typeof email !== 'string' || typeof password !== 'string')
    throw HttpError.badRequest('email and password');
  const left = await failures.peek(email);
  rateLimitFields(ctx, left);
  if (!left.allowed) throw rateLimitRefusal(left); // 429 with Retry-After
  if (!(await verifyPassword(password, hashes.get(email)))) {
    await failures.take(email);
    throw HttpError.unauthorized('Email or password is wrong');
  }
  await failures.reset(email);
  return { ok: true };
});

// Per user rather than per address, and an export costs ten ordinary requests.
app.get(
  '/reports/:id',
  rateLimit({
    name: 'reports',
    limit: 60,
    windowMs: 60_000,
    store,
    key: (ctx) => ctx.headers['x-user-id'] as string | undefined, // no user: not counted here
    cost: (ctx) => (ctx.query.format === 'csv' ? 10 : 1),
  }),
  (ctx) => ({ id: ctx.params.id }),
);
