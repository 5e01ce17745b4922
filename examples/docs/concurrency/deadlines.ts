import { App, sleep, timeout } from 'weir';
import { fetchPrice } from './upstream.ts';

export const app = new App();

// A client that leaves aborts ctx.signal: the sleep rejects with its reason and clears its timer.
app.get('/poll', async (ctx) => {
  await sleep(20, { signal: ctx.signal });
  return { ready: true };
});

// Past 50 ms the work's own signal aborts, so it stops, and timeout() rejects with a TimeoutError:
// 503 WEIR_ERR_TIMEOUT if it reaches the client.
app.get('/price/:item', async (ctx) => ({
  price: await timeout((signal) => fetchPrice(ctx.params.item, signal), 50, { signal: ctx.signal }),
}));
