// Type-level tests of request ids and weir/observability: `tsc --noEmit` (run by `npm test`) fails if any
// of these stops holding.
import { App } from 'weir';
import { openCache } from 'weir/cache';
import { openDatabase } from 'weir/db';
import {
  type AccessLine,
  accessLog,
  type Dashboard,
  type DashboardSample,
  dashboard,
  type Metrics,
  metrics,
  type Tracing,
  type TracingOptions,
  tracing,
} from 'weir/observability';
import { openJobQueue } from 'weir/queue';
import { openSessionStore, requireAuth, session } from 'weir/security';

type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
function expectType<T extends true>(_ok: T): void {}

export async function requestIds(): Promise<void> {
  const app = new App({ requestId: { header: 'request-id', trust: ['10.0.0.0/8'], generate: () => 'id' } });
  new App({ requestId: false });
  // @ts-expect-error: trust takes a boolean or addresses, not a hop count
  new App({ requestId: { trust: 1 } });
  app.get('/', (ctx) => {
    expectType<Equal<typeof ctx.requestId, string>>(true);
    ctx.log.info({ step: 1 }, 'logged with the request id');
    return ctx.requestId;
  });
}

export async function observability(): Promise<void> {
  const app = new App();
  const db = await openDatabase('sqlite::memory:');
  const cache = await openCache('memory:');
  const queue = await openJobQueue<{ to: string }>('emails');
  // Any weir database, cache and queue is a source.
  const m = metrics(app, { databases: { main: db }, caches: { main: cache }, queues: { emails: queue } });
  expectType<Equal<typeof m, Metrics>>(true);
  expectType<Equal<typeof m.url, string | undefined>>(true);
  // @ts-expect-error: a database is something with poolStats()
  metrics(app, { databases: { main: cache } });
  const log = accessLog(app, { to: 'logs/access.log', sample: 0.1 });
  expectType<Equal<typeof log.dropped, number>>(true);
  // @ts-expect-error: sample is a share, a number
  accessLog(app, { sample: '10%' });
  const line: AccessLine = {
    method: 'GET',
    route: '/users/:id',
    status: 200,
    durationMs: 1.5,
    bytes: 120,
    ip: '127.0.0.1',
    requestId: 'a-1',
  };
  expectType<Equal<typeof line.completed, false | undefined>>(true);
  // Jobs carry the request id: a request's ctx is an add() option.
  app.post('/send', async (ctx) => (await queue.add({ to: 'a@example.com' }, ctx)).id);
}

export async function tracingTypes(): Promise<void> {
  const { trace } = await import('@opentelemetry/api');
  const app = new App();
  // An OpenTelemetry Tracer is what `tracer` takes, though weir's types do not name the package.
  const handle = await tracing(app, {
    tracer: trace.getTracer('shop'),
    trust: ['10.0.0.0/8'],
    ignore: ['/healthz'],
    spans: { cache: false },
    maxQueryTextLength: 512,
  });
  expectType<Equal<typeof handle, Tracing>>(true);
  expectType<Equal<ReturnType<Tracing['close']>, Promise<void>>>(true);
  const options: TracingOptions = { trust: true };
  await tracing(app, options);
  // @ts-expect-error: trust takes a boolean or addresses, not a hop count
  await tracing(app, { trust: 1 });
  // @ts-expect-error: a tracer is something with startSpan()
  await tracing(app, { tracer: {} });
  // @ts-expect-error: spans are switched on and off, not configured
  await tracing(app, { spans: { db: 'yes' } });
}

export async function liveDashboard(): Promise<void> {
  const app = new App();
  const db = await openDatabase('sqlite::memory:');
  const cache = await openCache('memory:');
  const store = await openSessionStore(db);
  const d = dashboard(app, {
    guard: [session({ store }), requireAuth({ roles: ['ops'] })],
    databases: { main: db },
    caches: { main: cache },
    intervalMs: 1000,
  });
  expectType<Equal<typeof d, Dashboard>>(true);
  expectType<Equal<typeof d.clients, number>>(true);
  expectType<Equal<ReturnType<typeof d.history>, DashboardSample[]>>(true);
  dashboard(app, { guard: requireAuth() });
  dashboard(app, { guard: false });
  // @ts-expect-error: a guard is middleware (or a list of it), or false; true would mean nothing
  dashboard(app, { guard: true });
  // @ts-expect-error: a cache is something with stats()
  dashboard(app, { caches: { main: db } });
  const sample = d.history()[0];
  if (sample !== undefined) {
    expectType<Equal<typeof sample.p99Ms, number | null>>(true);
    expectType<Equal<typeof sample.limiter, DashboardSample['limiter']>>(true);
  }
}
