import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { App, HttpError, sleep } from 'weir';
import { openCache } from 'weir/cache';
import { metrics } from 'weir/observability';
import { deferred, request, serve } from '../helpers/http.ts';
import { parsePrometheus, sample } from '../helpers/prometheus.ts';

/** The `_bucket`, `_sum` and `_count` lines of a histogram series whose labels include `labels`. */
function histogram(text: string, name: string, labels: Record<string, string>) {
  const lines = text.split('\n').filter((l) => {
    if (!l.startsWith(`${name}_`)) return false;
    return Object.entries(labels).every(([k, v]) => l.includes(`${k}="${v}"`));
  });
  const value = (l: string) => Number(l.slice(l.lastIndexOf(' ') + 1));
  const buckets = lines
    .filter((l) => l.startsWith(`${name}_bucket`))
    .map((l) => ({ le: /le="([^"]+)"/.exec(l)![1]!, value: value(l) }));
  const count = lines.find((l) => l.startsWith(`${name}_count`));
  const sum = lines.find((l) => l.startsWith(`${name}_sum`));
  return {
    buckets,
    count: count === undefined ? undefined : value(count),
    sum: sum === undefined ? undefined : value(sum),
  };
}

/** Runs `fn` with a GET helper against `app` served on an ephemeral port. */
async function request404Free(app: App, fn: (get: (path: string) => Promise<unknown>) => Promise<void>) {
  const handle = await serve(app);
  try {
    await fn((path) => request(handle, { path }));
  } finally {
    await handle.close();
  }
}

describe('metrics', () => {
  it('counts requests, errors and durations by route pattern, never by raw path', async () => {
    const app = new App({ logger: false });
    const m = metrics(app);
    app.get('/users/:id', (ctx) => ({ id: ctx.params.id }));
    app.get('/boom', () => {
      throw new Error('failed');
    });
    app.get('/slow', async () => {
      await sleep(30);
      return 'done';
    });
    const handle = await serve(app);
    try {
      for (const id of ['7', '8', 'secret-token-abc'])
        await request(handle, { path: `/users/${id}?q=hidden` });
      await request(handle, { path: '/boom' });
      await request(handle, { path: '/slow' });
      await request(handle, { path: '/nope/private-path' });
      await request(handle, { path: '/users/9', method: 'DELETE' });
      const res = await request(handle, { path: '/metrics' });
      assert.equal(res.status, 200);
      assert.match(String(res.headers['content-type']), /^text\/plain; version=0\.0\.4/);
      assert.equal(res.headers['cache-control'], 'no-store');
      const text = res.body;
      const families = parsePrometheus(text);
      const total = 'weir_http_requests_total';
      assert.equal(families.get(total)?.type, 'COUNTER');
      assert.equal(sample(families, total, { method: 'GET', route: '/users/:id', status: '200' }), 3);
      assert.equal(sample(families, total, { method: 'GET', route: '/boom', status: '500' }), 1);
      assert.equal(sample(families, total, { method: 'GET', route: '(unmatched)', status: '404' }), 1);
      assert.equal(sample(families, total, { method: 'DELETE', route: '/users/:id', status: '405' }), 1);
      assert.equal(
        sample(families, 'weir_http_request_errors_total', { route: '/boom', code: 'WEIR_ERR_INTERNAL' }),
        1,
      );
      assert.equal(sample(families, 'weir_http_request_errors_total', { route: '/users/:id' }), undefined);
      for (const leaked of ['secret-token', 'private-path', 'hidden', '/users/7']) {
        assert.ok(!text.includes(leaked), `${leaked} reached the metrics`);
      }
      const users = histogram(text, 'weir_http_request_duration_seconds', {
        route: '/users/:id',
        method: 'GET',
      });
      assert.equal(users.count, 3);
      assert.equal(users.buckets.at(-1)?.le, '+Inf');
      assert.equal(users.buckets.at(-1)?.value, 3);
      for (let i = 1; i < users.buckets.length; i++) {
        assert.ok(
          Number(users.buckets[i]!.value) >= Number(users.buckets[i - 1]!.value),
          'buckets are cumulative',
        );
      }
      const slow = histogram(text, 'weir_http_request_duration_seconds', { route: '/slow' });
      // A 30 ms timer can end a little sooner than 30 ms after the request arrived (Node counts its delay
      // from the event loop's time, taken when the loop turn began), and later by any amount on a busy
      // machine: the duration is past 25 ms, in whichever bucket holds it.
      assert.ok(slow.sum! > 0.025, `the 30 ms route took ${slow.sum} s`);
      assert.equal(slow.buckets.find((b) => b.le === '0.025')?.value, 0, 'not under 25 ms');
      assert.equal(slow.count, 1);
      // The one observation is counted from the first bucket whose bound holds it, and in none before.
      const first = slow.buckets.findIndex((b) => b.value === 1);
      assert.ok(
        Number(slow.buckets[first]!.le) >= slow.sum!,
        `${slow.sum} s counted under ${slow.buckets[first]!.le}`,
      );
      assert.ok(
        first === 0 || Number(slow.buckets[first - 1]!.le) < slow.sum!,
        'counted in the bucket that holds it',
      );
      // The scrape itself is counted once it has closed.
      const again = parsePrometheus((await request(handle, { path: '/metrics' })).body);
      assert.equal(sample(again, total, { route: '/metrics', status: '200' }), 1);
      assert.ok(m.registry.getSingleMetric('weir_http_requests_total') !== undefined);
    } finally {
      await handle.close();
    }
  });

  it('reports the process: heap, CPU, event-loop delay and utilisation', async () => {
    const app = new App({ logger: false });
    const m = metrics(app);
    await app.ready();
    // The CPU counters count from when metrics() was called: spend some (20 ms at most), so that they
    // cannot read 0 as they did when the scrape came within a millisecond.
    const until = performance.now() + 20;
    while (performance.now() < until) {
      // busy on purpose
    }
    const families = parsePrometheus(await m.text());
    // Every assert.ok has its message: without one, Node builds it by parsing this file, which took
    // 70 s under tsx when one failed.
    const heap = sample(families, 'nodejs_heap_size_used_bytes') ?? 0;
    assert.ok(heap > 1_000_000, `heap ${heap}`);
    const cpu = sample(families, 'process_cpu_seconds_total') ?? -1;
    assert.ok(cpu > 0, `CPU ${cpu} s`);
    assert.ok(families.has('nodejs_eventloop_lag_p99_seconds'), 'the event-loop lag family');
    const elu = sample(families, 'weir_event_loop_utilization');
    assert.ok(elu !== undefined && elu >= 0 && elu <= 1, `utilisation ${elu}`);
    await app.stop();
  });

  it('serves /metrics past a full limiter, and the limiter’s metrics move under a bounded load', async () => {
    const app = new App({
      logger: false,
      overload: { minLimit: 1, maxLimit: 1, initialLimit: 1, maxQueue: 1, queueTimeoutMs: 5000 },
    });
    metrics(app);
    const { promise: gate, resolve: release } = deferred();
    app.get('/work', async () => {
      await gate;
      return 'done';
    });
    const handle = await serve(app);
    try {
      const burst = Array.from({ length: 6 }, () => request(handle, { path: '/work' }));
      await sleep(50);
      const during = parsePrometheus((await request(handle, { path: '/metrics' })).body);
      assert.equal(sample(during, 'weir_overload_limit'), 1);
      assert.equal(sample(during, 'weir_http_in_flight'), 1, 'one request holds the one slot');
      assert.equal(sample(during, 'weir_overload_queued'), 1, 'one waits');
      assert.equal(sample(during, 'weir_overload_shed_total', { priority: 'normal' }), 4, 'the rest shed');
      assert.equal(sample(during, 'weir_overload_shedding'), 1);
      release();
      const statuses = (await Promise.all(burst)).map((r) => r.status).sort();
      assert.deepEqual(statuses, [200, 200, 503, 503, 503, 503]);
      const after = parsePrometheus((await request(handle, { path: '/metrics' })).body);
      assert.equal(sample(after, 'weir_http_in_flight'), 0);
      assert.equal(sample(after, 'weir_overload_queued'), 0);
      assert.equal(sample(after, 'weir_http_requests_total', { route: '/work', status: '200' }), 2);
      // The one that waited came on a connection of its own: an idle client's.
      assert.equal(sample(after, 'weir_overload_waited_total', { client: 'idle' }), 1);
      assert.equal(sample(after, 'weir_overload_waited_total', { client: 'looping' }), 0);
    } finally {
      release();
      await handle.close();
    }
  });

  it('serves the metrics on a port of their own, closed when the app stops', async () => {
    const app = new App({ logger: false });
    const m = metrics(app, { path: false, port: 0 });
    app.get('/', () => 'home');
    const handle = await serve(app);
    const url = m.url;
    assert.match(String(url), /^http:\/\/127\.0\.0\.1:\d+\/metrics$/);
    try {
      assert.equal((await request(handle, { path: '/metrics' })).status, 404, 'not on the app');
      await request(handle, { path: '/' });
      const res = await fetch(url!);
      assert.equal(res.status, 200);
      assert.equal(sample(parsePrometheus(await res.text()), 'weir_http_requests_total', { route: '/' }), 1);
      assert.equal((await fetch(url!.replace('/metrics', '/other'))).status, 404);
    } finally {
      await handle.close();
    }
    await assert.rejects(fetch(url!), 'the port is closed with the app');
  });

  it('reports caches and the worker pool, and keeps two apps of one process apart', async () => {
    const cache = await openCache('memory:');
    const a = new App({ logger: false });
    const b = new App({ logger: false });
    const ma = metrics(a, { caches: { pages: cache } });
    const mb = metrics(b);
    a.get('/page', async () => (await cache.wrap('home', async () => 'loaded', { ttl: 60_000 })) as string);
    b.get('/page', () => 'b');
    const ha = await serve(a);
    const hb = await serve(b);
    try {
      for (let i = 0; i < 3; i++) await request(ha, { path: '/page' });
      await request(hb, { path: '/page' });
      const fa = parsePrometheus(await ma.text());
      assert.equal(sample(fa, 'weir_cache_misses_total', { cache: 'pages' }), 1);
      assert.equal(sample(fa, 'weir_cache_hits_total', { cache: 'pages' }), 2);
      assert.equal(sample(fa, 'weir_cache_loads_total', { cache: 'pages' }), 1);
      assert.equal(sample(fa, 'weir_cache_degraded', { cache: 'pages' }), 0);
      assert.ok(fa.has('weir_worker_threads'));
      assert.equal(sample(fa, 'weir_http_requests_total', { route: '/page' }), 3);
      assert.equal(
        sample(parsePrometheus(await mb.text()), 'weir_http_requests_total', { route: '/page' }),
        1,
      );
    } finally {
      await ha.close();
      await hb.close();
      await cache.close();
    }
  });

  it('keeps error codes bounded: malformed ones are WEIR_ERR_INTERNAL, and past 32 per route, OTHER', async () => {
    const app = new App({ logger: false });
    const m = metrics(app);
    app.get('/fail/:n', (ctx) => {
      throw new HttpError(503, ctx.params.n === 'x' ? 'bad code"}' : `CODE_${ctx.params.n}`, 'no');
    });
    await request404Free(app, async (get) => {
      await get('/fail/x');
      for (let n = 0; n < 40; n++) await get(`/fail/${n}`);
    });
    const families = parsePrometheus(await m.text());
    const codes = families.get('weir_http_request_errors_total')!.metrics.map((s) => s.labels!.code!);
    assert.equal(codes.length, 33);
    // The malformed code first (as WEIR_ERR_INTERNAL), then 31 codes kept, then 9 past the bound.
    const errors = (code: string) => sample(families, 'weir_http_request_errors_total', { code });
    assert.equal(errors('WEIR_ERR_INTERNAL'), 1);
    assert.equal(errors('CODE_30'), 1);
    assert.equal(errors('CODE_31'), undefined);
    assert.equal(errors('OTHER'), 9);
    assert.ok(!codes.some((c) => c.includes('"')));
  });

  it('refuses malformed options, naming them', () => {
    const cases: [object, RegExp][] = [
      [{ prefix: '9bad' }, /prefix/],
      [{ buckets: [0.1, 0.05] }, /buckets/],
      [{ buckets: [] }, /buckets/],
      [{ path: 'metrics' }, /path/],
      [{ port: 70000 }, /port/],
    ];
    for (const [options, named] of cases) {
      assert.throws(
        () => metrics(new App({ logger: false }), options),
        (err: Error & { code?: string }) => err.code === 'WEIR_ERR_INVALID_OPTION' && named.test(err.message),
        JSON.stringify(options),
      );
    }
  });
});
