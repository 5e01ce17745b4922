import { App, gather } from 'weir';
import { createHttpClient } from 'weir/http-client';

export function createApp(catalogUrl: string) {
  const catalog = createHttpClient({ baseUrl: catalogUrl, retry: { attempts: 2 } });
  const app = new App();
  app.onStop(() => catalog.close());

  // At most 4 calls in flight; the first failure aborts gather's signal, which closes the others.
  // `priority: 'batch'`: under overload, this route is shed before the routes it calls (see below).
  app.get('/bundle', { priority: 'batch', timeoutMs: 2000 }, (ctx) =>
    gather(
      ['a1', 'b2', 'c3', 'd4', 'e5'].map(
        (sku) => (signal: AbortSignal) =>
          catalog.getJson<{ sku: string; cents: number }>(`/prices/${sku}`, {
            signal,
            deadline: ctx.deadline,
          }),
      ),
      { limit: 4, signal: ctx.signal },
    ),
  );
  return app;
}
