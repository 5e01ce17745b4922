import { randomUUID } from 'node:crypto';
import { App, HttpError, json } from 'weir';
import { openCache } from 'weir/cache';
import { idempotency, idempotencyKey } from 'weir/idempotency';
import { openJobQueue } from 'weir/queue';

type State = { accountId: string };
export const app = new App<State>();

// Keys live in the cache. With more than one process or instance, CACHE_URL must be redis://… (or
// tiered+redis://…): memory: under several workers refuses to start unless allowMemoryWithWorkers.
const cache = await openCache(process.env.CACHE_URL);
export const receipts = await openJobQueue<{ paymentId: string }>('receipts', { url: process.env.QUEUE_URL });
app.onStop(() => receipts.close());
app.onStop(() => cache.close());

// Who asks: a real app reads its session here. The same key from two accounts names two requests.
app.use(async (ctx, next) => {
  const account = ctx.headers['x-account'];
  if (typeof account !== 'string' || !/^\w{1,32}$/.test(account))
    throw HttpError.unauthorized('Log in first');
  ctx.state.accountId = account;
  await next();
});

const once = idempotency<State>({
  cache,
  required: true, // a POST without Idempotency-Key is a 400
  scope: (ctx) => ctx.state.accountId,
  windowMs: 24 * 3_600_000, // repeats within a day get the first response
});

/** The side effect that must happen once per key. */
export const charges: { paymentId: string; amount: number }[] = [];

app.post('/payments', once, async (ctx) => {
  const { amount } = (await ctx.json<{ amount?: unknown } | null>()) ?? {};
  if (typeof amount !== 'number' || !Number.isInteger(amount) || amount <= 0) {
    throw HttpError.badRequest('amount must be a positive integer', { field: 'amount' });
  }
  const paymentId = `pay_${randomUUID()}`;
  charges.push({ paymentId, amount });
  // The same key makes the follow-up job idempotent too: a second add with it adds nothing.
  await receipts.add({ paymentId }, { idempotencyKey: idempotencyKey(ctx) });
  return json({ paymentId, amount }, { status: 201, headers: { location: `/payments/${paymentId}` } });
});
