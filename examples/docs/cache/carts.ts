import { App, HttpError } from 'weir';
import { openCache } from 'weir/cache';

// CACHE_URL picks the backend: memory: when unset, redis://host:6379/0, or tiered+redis://host:6379/0.
export const cache = await openCache(process.env.CACHE_URL, {
  namespace: 'shop', // every key is stored as shop:<key>
  defaultTtl: 60_000, // how long a value stays fresh when set() or wrap() give no ttl, in ms
  maxEntries: 10_000, // bounds of the in-process store (memory:, and the L1 of tiered+redis:)
  maxBytes: 64 * 1024 * 1024,
});

export const app = new App();
app.onStop(() => cache.close());

function cartKey(id: string): string {
  if (!/^[\w-]{1,64}$/.test(id)) {
    throw HttpError.badRequest('A cart id is 1 to 64 letters, digits, _ or -', { field: 'id' });
  }
  return `cart:${id}`;
}

app.put('/carts/:id', async (ctx) => {
  const items = await ctx.json<unknown>();
  if (!Array.isArray(items) || items.length > 100 || items.some((i) => typeof i !== 'string')) {
    throw HttpError.badRequest('A cart is a list of at most 100 strings');
  }
  await cache.set(cartKey(ctx.params.id), items, { ttl: 30 * 60_000 });
  return undefined;
});

// A miss is undefined. What a hit returns is read-only: on memory: every caller shares one frozen value.
app.get('/carts/:id', async (ctx) => (await cache.get<string[]>(cartKey(ctx.params.id))) ?? []);

// Several keys in one round trip, undefined for each miss.
app.get('/carts', async (ctx) => {
  const keys = ctx.queryAll('id').slice(0, 100).map(cartKey);
  return (await cache.getMany<string[]>(keys)).map((items) => items ?? []);
});

app.delete('/carts/:id', async (ctx) => ({ deleted: await cache.delete(cartKey(ctx.params.id)) }));

// For a health check: "ready", or "degraded" while Redis does not answer; hits, misses, loads, errors.
app.get('/healthz/cache', () => cache.stats());
