import { App, gather, sleep } from 'weir';
import { openDatabase } from 'weir/db';

// An in-memory database for the example; `DATABASE_URL` in a real service.
export const db = await openDatabase('sqlite::memory:');
await db.execScript('CREATE TABLE orders (id INTEGER PRIMARY KEY, total INTEGER)');
await db.exec`INSERT INTO orders (id, total) VALUES (${1}, ${42})`;

// Believe X-Request-Deadline / grpc-timeout only from the gateway in front of the service.
export const app = new App({ trustDeadline: ['127.0.0.1', '::1'] });

// A 2 s budget for the whole request: ctx.deadline, ctx.signal and everything given ctx share it.
app.get('/orders/:id', { timeoutMs: 2000 }, async (ctx) => {
  const id = Number(ctx.params.id);
  const order = await db.with(ctx).one<{
    id: number;
    total: number;
  }>`SELECT id, total FROM orders WHERE id = ${id}`;
  // Too little time left for the optional part: answer without it.
  if (ctx.timeLeft() < 100) return { order };
  const [shipping, offers] = await gather(
    [(signal) => quote(order, signal), (signal) => recommendations(order, signal)],
    ctx, // its signal and its deadline
  );
  return { order, shipping, offers };
});

// Request tasks: both start at once; whichever is still running when the response goes out is cancelled.
app.get('/dashboard', async (ctx) => {
  const orders = ctx.tasks.spawn((signal) => db.with({ signal }).query`SELECT id, total FROM orders`);
  ctx.tasks.spawn((signal) => warmCache(signal)); // nice to have, not awaited: cancelled with the response
  return { orders: await orders };
});

// Work meant to outlive the request: tracked by the app, awaited (up to a bound) when it stops.
export const sent: number[] = [];
app.post('/orders/:id/receipt', (ctx) => {
  const id = Number(ctx.params.id);
  app.background(
    async (signal) => {
      await sleep(50, { signal }); // sending the e-mail
      sent.push(id);
    },
    { name: 'receipt mail' },
  );
  return { queued: id };
});

async function quote(order: { total: number }, signal: AbortSignal): Promise<number> {
  await sleep(5, { signal });
  return order.total > 40 ? 0 : 5;
}

async function recommendations(_order: unknown, signal: AbortSignal): Promise<string[]> {
  await sleep(5, { signal });
  return ['gift wrap'];
}

async function warmCache(signal: AbortSignal): Promise<void> {
  await sleep(10_000, { signal });
}
