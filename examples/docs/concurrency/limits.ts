import { App, HttpError, Lock, Semaphore, sleep } from 'weir';
import { fetchPrice } from './upstream.ts';

export const app = new App();

// A read-modify-write across an await: without the lock two buyers could take the last item.
let stock = 10;
const stockLock = new Lock();
app.post('/buy', async (ctx) => {
  using _held = await stockLock.acquire({ signal: ctx.signal }); // released however the block ends
  const left = stock;
  await sleep(1, { signal: ctx.signal }); // stands in for a query
  if (left === 0) throw HttpError.conflict('Sold out');
  stock = left - 1;
  return { left: stock };
});

// At most 2 calls to the upstream at once and 50 waiting; one more is refused at once with 503
// WEIR_ERR_SEMAPHORE_FULL. A waiter whose client leaves withdraws from the line.
export const upstreamSlots = new Semaphore(2, { maxWaiting: 50 });
app.get('/price/:item', (ctx) =>
  upstreamSlots.run(() => fetchPrice(ctx.params.item, ctx.signal), { signal: ctx.signal }),
);
