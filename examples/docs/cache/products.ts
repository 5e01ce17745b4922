import { App, HttpError, sleep } from 'weir';
import { openCache } from 'weir/cache';

export const cache = await openCache(process.env.CACHE_URL, { namespace: 'catalog' });
export const app = new App();
app.onStop(() => cache.close());

// Stands in for the database: slow to read, the source of truth.
export const database = { reads: 0, prices: new Map([['apple', 120]]) };
async function readPrice(id: string, signal: AbortSignal): Promise<{ id: string; cents: number }> {
  database.reads++;
  await sleep(20, { signal });
  const cents = database.prices.get(id);
  if (cents === undefined) throw HttpError.notFound(`No product ${id}`);
  return { id, cents };
}

function productId(id: string): string {
  if (!/^[a-z]{1,32}$/.test(id)) throw HttpError.badRequest('Product ids are 1 to 32 lowercase letters');
  return id;
}

// Concurrent misses of a key run the loader once; its signal aborts only when every waiting caller has
// gone. Fresh for 30 s; for 5 minutes more the stale price is answered at once while one background load
// refreshes it. A loader's error reaches every waiting caller and is never cached.
app.get('/products/:id', (ctx) => {
  const id = productId(ctx.params.id);
  return cache.wrap(`product:${id}`, ({ signal }) => readPrice(id, signal), {
    ttl: 30_000,
    staleWhileRevalidate: 300_000,
    signal: ctx.signal,
  });
});

// Write to the source of truth, then invalidate: on tiered+redis:// every process drops its copy too.
app.put('/products/:id', async (ctx) => {
  const id = productId(ctx.params.id);
  const { cents } = (await ctx.json<{ cents?: unknown } | null>()) ?? {};
  if (!Number.isSafeInteger(cents) || (cents as number) < 0) {
    throw HttpError.badRequest('cents must be a whole number ≥ 0', { field: 'cents' });
  }
  database.prices.set(id, cents as number);
  await cache.delete(`product:${id}`);
  return { id, cents };
});

// After a bulk change, drop every key under catalog:product: at once.
app.post('/products/reindex', async () => {
  await cache.clear('product');
  return undefined;
});
