// The idempotency benchmark's server (see bench/idempotency.mjs), from the compiled build (run `npm run
// build` at the repo root first). POST /orders reads a JSON body and answers 201 with a fresh id and a
// Location; GET /bench-stats counts the requests the overload limiter shed. With CACHE_URL set, behind idempotency() on that cache (keys kept WINDOW_MS, 120 s, so that
// what a run leaves in Redis expires soon; the namespace CACHE_NAMESPACE is cleared on SIGTERM).
import { randomUUID } from 'node:crypto';
import { subscribe } from 'node:diagnostics_channel';
import { openCache } from '../../dist/cache/index.js';
import { idempotency } from '../../dist/idempotency/index.js';
import { App, json } from '../../dist/index.js';

const port = Number(process.env.PORT ?? 3000);
const app = new App({ logger: false });

// Requests the overload limiter turned away (503 WEIR_ERR_OVERLOADED), for the report: GET /bench-stats.
let shed = 0;
subscribe('weir:overload', (event) => {
  if (event.type === 'shed') shed++;
});
app.get('/bench-stats', { shed: false }, () => ({ shed }));

const order = async (ctx) => {
  const body = await ctx.json();
  const id = randomUUID();
  return json({ id, item: body?.item }, { status: 201, headers: { location: `/orders/${id}` } });
};

let cache;
if (process.env.CACHE_URL) {
  cache = await openCache(process.env.CACHE_URL, { namespace: process.env.CACHE_NAMESPACE, logger: false });
  if (cache.status !== 'ready') throw new Error(`${cache.url} does not answer`);
  app.post('/orders', idempotency({ cache, windowMs: Number(process.env.WINDOW_MS ?? 120_000) }), order);
} else {
  app.post('/orders', order);
}

const handle = await app.listen({ port, host: '127.0.0.1', signals: false });
console.log(
  `weir listening on http://127.0.0.1:${port} (${cache ? `idempotency() on ${cache.url}` : 'no idempotency()'})`,
);
process.once('SIGTERM', async () => {
  await handle.close();
  if (cache !== undefined) {
    await cache.clear();
    await cache.close();
  }
  process.exit(0);
});
