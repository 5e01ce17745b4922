import assert from 'node:assert/strict';
import { after, afterEach, before, describe, it } from 'node:test';
import { headers as natsHeaders } from '@nats-io/transport-node';
import { SpanKind, SpanStatusCode } from '@opentelemetry/api';
import { App } from 'weir';
import { openCache } from 'weir/cache';
import { openDatabase } from 'weir/db';
import { tracing } from 'weir/observability';
import { type JobQueue, openJobQueue } from 'weir/queue';
import { inject } from 'weir/testing';
import {
  AMQP_URL,
  amqpSkip,
  freshPostgresDatabase,
  NATS_URL,
  natsSkip,
  postgresSkip,
  REDIS_URL,
  redisSkip,
  uniqueNamespace,
} from '../helpers/services.ts';
import { exporter, isChild, only, parentOf, spans, waitFor } from '../helpers/tracing.ts';
import { amqpPublish, withJetStream } from '../queue/brokers.ts';

const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';
const SPAN_ID = '00f067aa0ba902b7';

afterEach(() => exporter.reset());

describe('tracing: fetch() inside a handler', () => {
  it('makes a client span and sends its context, which a server that trusts the caller continues', async () => {
    const backend = new App({ logger: false });
    backend.get('/prices/:sku', (ctx) => ({ sku: ctx.params.sku, cents: 250 }));
    const front = new App({ logger: false });
    let backendUrl = '';
    front.get('/quote', async () => {
      const res = await fetch(`${backendUrl}/prices/a1?token=secret`, { headers: { 'x-caller': 'front' } });
      return res.json();
    });
    const frontTracing = await tracing(front);
    const backendTracing = await tracing(backend, { trust: ['127.0.0.1', '::1'] });
    const b = await backend.listen({ host: '127.0.0.1', port: 0, signals: false });
    const f = await front.listen({ host: '127.0.0.1', port: 0, signals: false });
    backendUrl = b.url;
    try {
      const res = await fetch(`${f.url}/quote`);
      assert.deepEqual(await res.json(), { sku: 'a1', cents: 250 });
      const all = await waitFor((s) => s.some((x) => x.name === 'GET /quote'));
      const quote = only(all, 'GET /quote');
      const client = all.find((s) => s.kind === SpanKind.CLIENT && s.name === 'GET' && isChild(s, quote));
      assert.ok(client, 'the fetch is a client span under the request that made it');
      const port = Number(new URL(b.url).port);
      assert.deepEqual(
        {
          method: client.attributes['http.request.method'],
          address: client.attributes['server.address'],
          port: client.attributes['server.port'],
          url: client.attributes['url.full'],
          status: client.attributes['http.response.status_code'],
        },
        {
          method: 'GET',
          address: '127.0.0.1',
          port,
          url: `http://127.0.0.1:${port}/prices/a1`,
          status: 200,
        },
      );
      const price = only(all, 'GET /prices/:sku');
      assert.ok(isChild(price, client), 'the called server continues the caller’s trace');
      assert.equal(price.attributes['server.port'], port);
      // The test's own fetch of /quote is a client span too, and a root: nothing was active.
      const outer = all.find(
        (s) => s.kind === SpanKind.CLIENT && s.attributes['url.full'] === `${f.url}/quote`,
      );
      assert.ok(outer && parentOf(outer) === undefined);
      assert.ok(!isChild(quote, outer), 'the front trusts no one: it only links to the caller');
      assert.equal(quote.links[0]?.context.spanId, outer.spanContext().spanId);
    } finally {
      await f.close();
      await b.close();
      await frontTracing.close();
      await backendTracing.close();
    }
  });

  it('fails a client span on a refused connection, recording the error', async () => {
    const app = new App({ logger: false });
    app.get('/call', async () => {
      try {
        await fetch('http://127.0.0.1:39999/');
        return 'answered';
      } catch {
        return 'refused';
      }
    });
    const traced = await tracing(app);
    try {
      assert.equal((await inject(app, { url: '/call' })).body, 'refused');
      const all = await waitFor((s) => s.some((x) => x.kind === SpanKind.CLIENT));
      const client = all.find((s) => s.kind === SpanKind.CLIENT);
      assert.equal(client?.status.code, SpanStatusCode.ERROR);
      assert.equal(client?.attributes['error.type'], 'ECONNREFUSED');
      assert.ok(isChild(client!, only(all, 'GET /call')));
    } finally {
      await traced.close();
    }
  });
});

describe('tracing: PostgreSQL', async () => {
  const skip = await postgresSkip();
  it('names the database, its server and the SQL (never a value or the password)', { skip }, async () => {
    const fresh = await freshPostgresDatabase('tracing');
    const db = await openDatabase(fresh.url);
    const app = new App({ logger: false });
    app.get('/n/:n', async (ctx) => db.with(ctx).one`SELECT ${Number(ctx.params.n)}::int + 1 AS n`);
    const traced = await tracing(app);
    try {
      assert.deepEqual((await inject(app, { url: '/n/41' })).json(), { n: 42 });
      const all = spans();
      const query = only(all, 'SELECT');
      const url = new URL(fresh.url);
      assert.ok(isChild(query, only(all, 'GET /n/:n')));
      assert.deepEqual(query.attributes, {
        'db.system.name': 'postgresql',
        'db.namespace': url.pathname.slice(1),
        'server.address': url.hostname,
        'server.port': Number(url.port || 5432),
        'db.operation.name': 'SELECT',
        'db.query.text': 'SELECT $1::int + 1 AS n',
      });
      // The fresh database's random name may itself hold "41": look everywhere else.
      const { 'db.namespace': _name, ...rest } = query.attributes;
      assert.ok(!JSON.stringify(rest).includes('41'), 'the bound value reached a span attribute');
    } finally {
      await traced.close();
      await db.close();
      await fresh.drop();
    }
  });
});

/** A request adds a job to `queue`; the job's process span must be the send span's child. */
async function acrossAJob(queue: JobQueue<{ n: number }>, system: string): Promise<void> {
  const app = new App({ logger: false });
  const ran: number[] = [];
  app.post('/jobs', async (ctx) => queue.add({ n: 1 }, ctx));
  app.worker(queue, async (job) => {
    ran.push(job.data.n);
  });
  const traced = await tracing(app);
  await app.startWorkers();
  try {
    assert.equal((await inject(app, { method: 'POST', url: '/jobs' })).status, 200);
    const all = await waitFor((s) => s.some((x) => x.name === `process ${queue.name}`), 10_000);
    const send = only(all, `send ${queue.name}`);
    const process = only(all, `process ${queue.name}`);
    assert.ok(isChild(send, only(all, 'POST /jobs')));
    assert.ok(isChild(process, send), 'the trace context travelled with the job');
    assert.equal(process.attributes['messaging.system'], system);
    assert.equal(send.attributes['messaging.system'], system);
    assert.equal(process.attributes['messaging.message.id'], send.attributes['messaging.message.id']);
    assert.deepEqual(ran, [1]);
  } finally {
    await app.stop();
    await traced.close();
  }
}

/** Jobs another producer published (an OpenTelemetry-instrumented one, a broken one) run under their context, or none. */
async function foreignJobs(
  queue: JobQueue<{ n: number }>,
  publish: (messages: { n: number; traceparent: unknown }[]) => Promise<void>,
): Promise<void> {
  const app = new App({ logger: false });
  app.worker(queue, async () => {});
  const traced = await tracing(app);
  try {
    await publish([
      { n: 1, traceparent: `00-${TRACE_ID}-${SPAN_ID}-01` },
      { n: 2, traceparent: `00-${TRACE_ID}-${SPAN_ID}-01\r\nx: y` },
      { n: 3, traceparent: 'x'.repeat(9000) },
    ]);
    await app.startWorkers();
    const all = await waitFor(
      (s) => s.filter((x) => x.name === `process ${queue.name}`).length === 3,
      10_000,
    );
    const attempts = all.filter((s) => s.name === `process ${queue.name}`);
    assert.equal(attempts.length, 3);
    const continued = attempts.filter((s) => s.spanContext().traceId === TRACE_ID);
    assert.equal(continued.length, 1, 'the well-formed context is continued');
    assert.equal(parentOf(continued[0]!), SPAN_ID);
    assert.equal(attempts.filter((s) => parentOf(s) === undefined).length, 2, 'the broken ones are ignored');
  } finally {
    await app.stop();
    await traced.close();
  }
}

describe('tracing: RabbitMQ', async () => {
  const skip = await amqpSkip();
  let queue: JobQueue<{ n: number }>;
  before(async () => {
    if (!skip) queue = await openJobQueue(uniqueNamespace('tracing'), { url: AMQP_URL });
  });
  after(async () => {
    if (skip) return;
    await (queue as unknown as { destroy(): Promise<void> }).destroy();
    await queue.close();
  });

  it('carries the trace context from the request to the job in message headers', { skip }, () =>
    acrossAJob(queue, 'rabbitmq'),
  );

  it('continues a foreign producer’s traceparent header, and ignores a malformed one', { skip }, () =>
    foreignJobs(queue, (messages) =>
      amqpPublish(
        messages.map(({ n, traceparent }) => ({
          queue: `weir.${queue.name}`,
          content: JSON.stringify({ n }),
          headers: { traceparent },
        })),
      ),
    ),
  );
});

describe('tracing: NATS', async () => {
  const skip = await natsSkip();
  let queue: JobQueue<{ n: number }>;
  before(async () => {
    if (!skip) queue = await openJobQueue(uniqueNamespace('tracing').replace(/-/g, '_'), { url: NATS_URL });
  });
  after(async () => {
    if (skip) return;
    await (queue as unknown as { destroy(): Promise<void> }).destroy();
    await queue.close();
  });

  it('carries the trace context from the request to the job in message headers', { skip }, () =>
    acrossAJob(queue, 'nats'),
  );

  it('continues a foreign producer’s traceparent header, and ignores a malformed one', { skip }, () =>
    foreignJobs(queue, (messages) =>
      withJetStream(async (_jsm, js) => {
        for (const { n, traceparent } of messages) {
          const h = natsHeaders();
          // NATS refuses CR and LF in a header: the broken one breaks with a character outside ASCII.
          h.set('traceparent', String(traceparent).replace(/[\r\n]/g, 'é'));
          await js.publish(`weir.jobs.${queue.name}`, new TextEncoder().encode(JSON.stringify({ n })), {
            headers: h,
          });
        }
      }),
    ),
  );
});

describe('tracing: Redis', async () => {
  const skip = await redisSkip();
  it('makes client spans of cache calls, naming the backend and namespace, never a key', {
    skip,
  }, async () => {
    const namespace = uniqueNamespace('tracing');
    const cache = await openCache(REDIS_URL, { namespace });
    const app = new App({ logger: false });
    app.get('/n', async () => cache.wrap('user:42', () => 42));
    const traced = await tracing(app);
    try {
      exporter.reset();
      assert.equal((await inject(app, { url: '/n' })).body, '42');
      assert.equal((await inject(app, { url: '/n' })).body, '42');
      const wraps = spans().filter((s) => s.name === 'cache wrap');
      assert.deepEqual(
        wraps.map((s) => [s.kind, s.attributes['weir.cache.backend'], s.attributes['weir.cache.hit']]),
        [
          [SpanKind.CLIENT, 'redis', false],
          [SpanKind.CLIENT, 'redis', true],
        ],
      );
      assert.equal(wraps[0]!.attributes['weir.cache.namespace'], namespace);
      assert.ok(!JSON.stringify(wraps.map((s) => s.attributes)).includes('user:42'));
    } finally {
      await traced.close();
      await cache.clear();
      await cache.close();
    }
  });
});
