import { App, cacheControl, etag, sleep } from 'weir';
import { openCache } from 'weir/cache';

// CACHE_URL picks the backend: memory: when unset, redis://host:6379, or tiered+redis://host:6379.
const cache = await openCache(process.env.CACHE_URL, { namespace: 'shop' });

export const app = new App();
app.onStop(() => cache.close());

export const upstream = { calls: 0 };
async function loadPrices(signal: AbortSignal): Promise<Record<string, number>> {
  upstream.calls++;
  await sleep(50, { signal }); // a slow upstream call
  return { apple: 1.2, pear: 0.9 };
}

// 1,000 concurrent misses run loadPrices once. After 30 s the stale prices are served at once for up
// to 5 more minutes while one background call refreshes them. A Redis outage only means more loads.
app.get(
  '/prices',
  cacheControl({ public: true, maxAgeSeconds: 30 }), // browsers and a CDN may keep it 30 s…
  etag(), // …then revalidate: an unchanged body is a 304 with no body
  (ctx) =>
    cache.wrap('prices', ({ signal }) => loadPrices(signal), {
      ttl: 30_000,
      staleWhileRevalidate: 300_000,
      signal: ctx.signal,
    }),
);

// Writes invalidate: every process of a tiered cache drops its in-process copy too.
app.post('/prices/refresh', async () => {
  await cache.delete('prices');
  return { refreshed: true };
});
