import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { SpanKind } from '@opentelemetry/api';
import { App } from 'weir';
import { createHttpClient } from 'weir/http-client';
import { tracing } from 'weir/observability';
import { exporter, isChild, only, waitFor } from '../helpers/tracing.ts';

afterEach(() => exporter.reset());

describe('http-client: traced by tracing()', { timeout: 20_000 }, () => {
  it("makes a client span per attempt under the request's span, and the called server continues the trace", async () => {
    const backend = new App({ logger: false });
    let calls = 0;
    backend.get('/prices/:sku', (ctx) => {
      calls++;
      if (calls === 1) {
        ctx.status(503);
        ctx.set('retry-after', '0');
        return 'busy';
      }
      return { sku: ctx.params.sku, cents: 250 };
    });
    const backendTracing = await tracing(backend, { trust: ['127.0.0.1', '::1'] });
    const b = await backend.listen({ host: '127.0.0.1', port: 0, signals: false });
    const prices = createHttpClient({ baseUrl: b.url });
    const front = new App({ logger: false });
    front.get('/quote', (ctx) => prices.getJson('/prices/a1', { ctx, query: { token: 'secret' } }));
    const frontTracing = await tracing(front);
    const f = await front.listen({ host: '127.0.0.1', port: 0, signals: false });
    try {
      const res = await fetch(`${f.url}/quote`);
      assert.deepEqual(await res.json(), { sku: 'a1', cents: 250 });
      const all = await waitFor((s) => s.filter((x) => x.name === 'GET /prices/:sku').length === 2);
      const quote = only(all, 'GET /quote');
      const attempts = all.filter((s) => s.kind === SpanKind.CLIENT && s.name === 'GET' && isChild(s, quote));
      assert.deepEqual(
        attempts.map((s) => s.attributes['http.response.status_code']),
        [503, 200],
      );
      const port = Number(new URL(b.url).port);
      assert.equal(attempts[1]!.attributes['url.full'], `http://127.0.0.1:${port}/prices/a1`);
      const served = all.filter((s) => s.name === 'GET /prices/:sku');
      assert.ok(
        served.every((s) => attempts.some((a) => isChild(s, a))),
        'each attempt is continued',
      );
    } finally {
      await f.close();
      await b.close();
      await prices.close();
      await frontTracing.close();
      await backendTracing.close();
    }
  });
});
