import assert from 'node:assert/strict';
import { channel } from 'node:diagnostics_channel';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, afterEach, describe, it } from 'node:test';
import { App, HttpError, type ServerHandle, sleep } from 'weir';
import { openCache } from 'weir/cache';
import { openDatabase } from 'weir/db';
import { type DashboardSample, dashboard } from 'weir/observability';
import { openJobQueue } from 'weir/queue';
import { requireAuth } from 'weir/security';
import { type EventStream, openEventStream } from '../helpers/event-stream.ts';
import { request, serve } from '../helpers/http.ts';

const dir = mkdtempSync(join(tmpdir(), 'weir-dashboard-'));
after(() => rmSync(dir, { recursive: true, force: true }));

interface History {
  intervalMs: number;
  historySize: number;
  pid: number;
  samples: DashboardSample[];
}

/** The next event of `stream`, which must be of type `type`, parsed. */
async function expectEvent<T>(stream: EventStream, type: string): Promise<T> {
  const event = await stream.next();
  assert.equal(event.type, type);
  return JSON.parse(event.data) as T;
}

/** Reads samples until `done` holds for the ones read (at most 100 samples, 10 s). */
async function samplesUntil(
  stream: EventStream,
  done: (samples: DashboardSample[]) => boolean,
): Promise<DashboardSample[]> {
  const samples: DashboardSample[] = [];
  const until = Date.now() + 10_000;
  while (!done(samples)) {
    assert.ok(samples.length < 100 && Date.now() < until, `not after ${samples.length} samples`);
    samples.push(await expectEvent<DashboardSample>(stream, 'sample'));
  }
  return samples;
}

const sum = (samples: DashboardSample[], key: 'requests' | 'serverErrors') =>
  samples.reduce((total, s) => total + s[key], 0);

/** Runs `fn` with NODE_ENV set to `value`, then puts it back. */
function withNodeEnv<T>(value: string | undefined, fn: () => T): T {
  const before = process.env.NODE_ENV;
  if (value === undefined) delete process.env.NODE_ENV;
  else process.env.NODE_ENV = value;
  try {
    return fn();
  } finally {
    if (before === undefined) delete process.env.NODE_ENV;
    else process.env.NODE_ENV = before;
  }
}

describe('dashboard', () => {
  const open: { streams: EventStream[]; handles: ServerHandle[] } = { streams: [], handles: [] };
  afterEach(async () => {
    for (const stream of open.streams.splice(0)) stream.close();
    for (const handle of open.handles.splice(0)) await handle.close({ timeoutMs: 2000 });
  });
  const start = async (app: App) => {
    const handle = await serve(app);
    open.handles.push(handle);
    return handle;
  };
  const watch = async (handle: ServerHandle, headers?: Record<string, string>) => {
    const stream = await openEventStream(handle.port, '/_dashboard/events', headers);
    open.streams.push(stream);
    return stream;
  };

  it('sends the samples kept, then one per interval counting the requests, 5xx and latencies', async () => {
    const app = new App({ logger: false });
    const d = withNodeEnv(undefined, () => dashboard(app, { intervalMs: 100 }));
    app.get('/ok', () => 'ok');
    app.get('/boom', () => {
      throw new HttpError(500, 'BOOM', 'failed');
    });
    const handle = await start(app);
    const stream = await watch(handle);
    assert.equal(stream.status, 200);
    assert.match(String(stream.headers['content-type']), /^text\/event-stream/);
    const history = await expectEvent<History>(stream, 'history');
    assert.deepEqual(
      { intervalMs: history.intervalMs, historySize: history.historySize, pid: history.pid },
      { intervalMs: 100, historySize: 120, pid: process.pid },
    );
    assert.ok(Array.isArray(history.samples));

    for (let i = 0; i < 50; i++) assert.equal((await request(handle, { path: '/ok' })).status, 200);
    for (let i = 0; i < 5; i++) assert.equal((await request(handle, { path: '/boom' })).status, 500);
    // The page and its files are the dashboard's own requests: never counted.
    assert.equal((await request(handle, { path: '/_dashboard' })).status, 200);
    const samples = await samplesUntil(stream, (s) => sum(s, 'requests') >= 55);
    await samplesUntil(stream, (s) => s.length >= 2);
    assert.equal(sum(samples, 'requests'), 55);
    assert.equal(sum(samples, 'serverErrors'), 5);
    const busy = samples.filter((s) => s.requests > 0);
    for (const s of busy) {
      assert.ok(s.requestsPerSecond > 0, JSON.stringify(s));
      assert.ok(s.p50Ms !== null && s.p99Ms !== null && s.p50Ms > 0 && s.p99Ms >= s.p50Ms, JSON.stringify(s));
    }
    assert.ok(samples.some((s) => s.serverErrorsPerSecond > 0));
    const last = samples.at(-1)!;
    assert.ok(last.t > Date.now() - 60_000 && last.t <= Date.now());
    assert.ok(last.limiter !== null && last.limiter.limit > 0 && last.limiter.shedPerSecond === 0);
    assert.ok(last.eventLoop.utilization >= 0 && last.eventLoop.utilization <= 1);
    assert.ok(last.eventLoop.lagMs >= 0);
    assert.ok(last.memory.rssBytes > 1e6 && last.memory.heapUsedBytes > 1e5);
    assert.deepEqual([last.databases, last.caches, last.queues], [{}, {}, {}]);
    assert.ok(last.workers !== null && last.workers.threads >= 0);
    // Samples without requests say so, rather than a made-up latency.
    const idle = await samplesUntil(stream, (s) => s.some((x) => x.requests === 0));
    assert.deepEqual([idle.at(-1)!.p50Ms, idle.at(-1)!.p99Ms], [null, null]);
    assert.ok(d.history().length >= samples.length);
  });

  it('reports the pools, caches and queues it is given, by name', async () => {
    const db = await openDatabase('sqlite::memory:');
    const cache = await openCache('memory:');
    const queue = await openJobQueue<{ n: number }>('emails', { url: `sqlite:${join(dir, 'queue.db')}` });
    const app = new App({ logger: false, overload: false });
    app.onStop(() => queue.close());
    app.onStop(() => cache.close());
    app.onStop(() => db.close());
    dashboard(app, {
      intervalMs: 100,
      guard: false,
      databases: { main: db },
      caches: { pages: cache },
      queues: { emails: queue },
    });
    const handle = await start(app);
    const stream = await watch(handle);
    await expectEvent<History>(stream, 'history');
    await cache.set('a', 1);
    for (const key of ['a', 'a', 'a', 'b']) await cache.get(key);
    for (let n = 0; n < 3; n++) await queue.add({ n });
    const samples = await samplesUntil(stream, (s) =>
      s.some((x) => x.caches.pages?.hitRatio !== null && x.queues.emails?.waiting === 3),
    );
    const seen = samples.find((x) => x.caches.pages?.hitRatio !== null)!;
    assert.deepEqual(seen.caches.pages, { hitRatio: 0.75, degraded: false });
    const last = samples.at(-1)!;
    assert.equal(last.queues.emails?.waiting, 3);
    const pool = last.databases.main!;
    assert.ok(pool.max >= 1 && pool.inUse === 0 && pool.waiting === 0, JSON.stringify(pool));
    assert.equal(last.limiter, null, 'overload: false has no limiter');
  });

  it('gives a page that connects later the samples kept, at most historySize', async () => {
    const app = new App({ logger: false });
    const d = dashboard(app, { intervalMs: 100, historySize: 3, guard: false });
    const handle = await start(app);
    const first = await watch(handle);
    await expectEvent<History>(first, 'history');
    await samplesUntil(first, (s) => s.length >= 4);
    const second = await watch(handle);
    const history = await expectEvent<History>(second, 'history');
    assert.equal(history.samples.length, 3);
    const times = history.samples.map((s) => s.t);
    assert.deepEqual(
      times,
      [...times].sort((a, b) => a - b),
      'oldest first',
    );
    assert.equal(d.history().length, 3);
  });

  it('samples only while a page watches: no timer and no subscription before the first or after the last', async () => {
    const requests = channel('weir:http.request');
    const app = new App({ logger: false });
    const d = dashboard(app, { intervalMs: 100, guard: false });
    const handle = await start(app);
    assert.equal(d.sampling, false);
    assert.equal(requests.hasSubscribers, false, 'an unwatched dashboard costs requests nothing');
    const a = await watch(handle);
    const b = await watch(handle);
    await expectEvent<History>(a, 'history');
    await expectEvent<History>(b, 'history');
    await samplesUntil(a, (s) => s.length >= 1);
    assert.deepEqual([d.sampling, d.clients, requests.hasSubscribers], [true, 2, true]);
    a.close();
    for (let i = 0; i < 200 && d.clients > 1; i++) await sleep(10);
    assert.deepEqual([d.sampling, d.clients], [true, 1], 'one page still watches');
    // b has had the sample a saw too: one more, taken after a left.
    await samplesUntil(b, (s) => s.length >= 2);
    b.close();
    for (let i = 0; i < 200 && d.clients > 0; i++) await sleep(10);
    assert.deepEqual([d.sampling, d.clients, requests.hasSubscribers], [false, 0, false]);
    // And again, for a page that comes back.
    const c = await watch(handle);
    const history = await expectEvent<History>(c, 'history');
    assert.ok(history.samples.length >= 2);
    assert.equal(d.sampling, true);
  });

  it('answers 503 WEIR_ERR_DASHBOARD_FULL past maxClients, and takes a page again once one leaves', async () => {
    const app = new App({ logger: false });
    const d = dashboard(app, { intervalMs: 100, guard: false, maxClients: 2 });
    const handle = await start(app);
    const a = await watch(handle);
    await watch(handle);
    const refused = await watch(handle);
    assert.equal(refused.status, 503);
    assert.equal(refused.headers['retry-after'], '5');
    assert.equal(
      (JSON.parse(await refused.body()) as { error: { code: string } }).error.code,
      'WEIR_ERR_DASHBOARD_FULL',
    );
    assert.equal(d.clients, 2);
    a.close();
    for (let i = 0; i < 200 && d.clients > 1; i++) await sleep(10);
    const again = await watch(handle);
    assert.equal(again.status, 200);
    await expectEvent<History>(again, 'history');
  });

  it('runs its guard before the page, its files and its stream: 401 without credentials', async () => {
    const app = new App({ logger: false });
    const guard = requireAuth({
      session: false,
      token: (token) => (token === 'operator-token' ? { id: 'operator' } : undefined),
    });
    withNodeEnv('production', () => dashboard(app, { intervalMs: 100, guard }));
    const handle = await start(app);
    const page = await request(handle, { path: '/_dashboard' });
    assert.equal(page.status, 401);
    const authorized = { authorization: 'Bearer operator-token' };
    const ok = await request(handle, { path: '/_dashboard', headers: authorized });
    assert.equal(ok.status, 200);
    const files = [...ok.body.matchAll(/(?:href|src)="\.\/_dashboard(\/[^"]+)"/g)].map((m) => m[1]!);
    assert.equal(files.length, 4, ok.body);
    for (const file of files) {
      assert.equal((await request(handle, { path: `/_dashboard${file}` })).status, 401, file);
      assert.equal((await request(handle, { path: `/_dashboard${file}`, headers: authorized })).status, 200);
    }
    const anonymous = await watch(handle);
    assert.equal(anonymous.status, 401);
    assert.equal(
      (JSON.parse(await anonymous.body()) as { error: { code: string } }).error.code,
      'WEIR_ERR_UNAUTHENTICATED',
    );
    const wrong = await watch(handle, { authorization: 'Bearer guessed' });
    assert.equal(wrong.status, 401);
    const operator = await watch(handle, authorized);
    assert.equal(operator.status, 200);
    await expectEvent<History>(operator, 'history');
  });

  it('refuses to start unguarded in production, in one line; guard: false serves it anyway', async () => {
    withNodeEnv('production', () => {
      assert.throws(
        () => dashboard(new App({ logger: false })),
        (err: Error & { code?: string }) => {
          assert.equal(err.code, 'WEIR_ERR_DASHBOARD_UNGUARDED');
          assert.doesNotMatch(err.message, /\n/);
          assert.match(err.message, /guard: requireAuth\(\)/);
          return true;
        },
      );
    });
    const app = new App({ logger: false });
    withNodeEnv('production', () => dashboard(app, { guard: false }));
    const handle = await start(app);
    assert.equal((await request(handle, { path: '/_dashboard' })).status, 200);
  });

  it('serves a page under a strict CSP whose files come from the app, cached as immutable', async () => {
    const app = new App({ logger: false });
    dashboard(app, { guard: false, path: '/ops/live', title: 'Orders <live>' });
    app.get('/openapi.json', () => app.openapi({ info: { title: 't', version: '1' } }));
    const handle = await start(app);
    const page = await request(handle, { path: '/ops/live' });
    assert.equal(page.status, 200);
    assert.match(String(page.headers['content-type']), /^text\/html/);
    assert.equal(page.headers['cache-control'], 'no-cache');
    const csp = String(page.headers['content-security-policy']);
    for (const directive of [
      "default-src 'none'",
      "script-src 'self'",
      "connect-src 'self'",
      "frame-ancestors 'none'",
    ])
      assert.ok(csp.includes(directive), csp);
    assert.ok(page.body.includes('<title>Orders &lt;live&gt;</title>'));
    assert.doesNotMatch(page.body, /<script>|<style>|style="|https?:/, 'nothing inline, nothing remote');
    assert.ok(page.body.includes('data-events="./live/events"'));
    const uplotDir = join(createRequire(import.meta.url).resolve('uplot/package.json'), '../dist');
    const files = [...page.body.matchAll(/(?:href|src)="\.\/live(\/[^"]+)"/g)].map((m) => m[1]!);
    assert.equal(files.length, 4);
    for (const file of files) {
      const res = await request(handle, { path: `/ops/live${file}` });
      assert.equal(res.status, 200, file);
      assert.equal(res.headers['cache-control'], 'public, max-age=31536000, immutable');
      assert.match(
        String(res.headers['content-type']),
        file.endsWith('.js') ? /^text\/javascript/ : /^text\/css/,
      );
      if (file.startsWith('/uplot-')) {
        const source = file.endsWith('.js') ? 'uPlot.iife.min.js' : 'uPlot.min.css';
        assert.equal(res.body, readFileSync(join(uplotDir, source), 'utf8'));
      }
      const etag = String(res.headers.etag);
      const again = await request(handle, { path: `/ops/live${file}`, headers: { 'if-none-match': etag } });
      assert.equal(again.status, 304);
    }
    const document = JSON.parse((await request(handle, { path: '/openapi.json' })).body) as {
      paths: Record<string, unknown>;
    };
    assert.deepEqual(Object.keys(document.paths), ['/openapi.json'], 'hidden from the OpenAPI document');
  });

  it('is never shed by the overload limiter', async () => {
    const app = new App({
      logger: false,
      overload: { initialLimit: 1, minLimit: 1, maxLimit: 1, maxQueue: 1, queueTimeoutMs: 50 },
    });
    dashboard(app, { intervalMs: 100, guard: false });
    let release!: () => void;
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    app.get('/hold', () => held.then(() => 'done'));
    const handle = await start(app);
    const holding = [
      request(handle, { path: '/hold' }),
      request(handle, { path: '/hold' }),
      request(handle, { path: '/hold' }),
    ];
    try {
      const stream = await watch(handle);
      assert.equal(stream.status, 200);
      await expectEvent<History>(stream, 'history');
      assert.equal((await request(handle, { path: '/_dashboard' })).status, 200);
    } finally {
      release();
      await Promise.all(holding);
    }
  });

  it('checks its options at once', () => {
    const app = new App({ logger: false });
    for (const options of [
      { path: 'no-slash' },
      { path: '/a/:param' },
      { path: '/trailing/' },
      { intervalMs: 10 },
      { historySize: 0 },
      { maxClients: 1.5 },
      { guard: 'open' },
      { guard: [] },
      { databases: { main: {} } },
      { caches: { main: { stats: 1 } } },
      { queues: { main: null } },
      { title: 42 },
    ]) {
      assert.throws(
        () => dashboard(app, options as never),
        { code: 'WEIR_ERR_INVALID_OPTION' },
        JSON.stringify(options),
      );
    }
  });
});
