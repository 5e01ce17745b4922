import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, afterEach, before, describe, it } from 'node:test';
import { SpanKind, SpanStatusCode } from '@opentelemetry/api';
import * as v from 'valibot';
import { App, HttpError } from 'weir';
import { openCache } from 'weir/cache';
import { type Database, openDatabase } from 'weir/db';
import { type Tracing, tracing } from 'weir/observability';
import { type JobQueue, openJobQueue } from 'weir/queue';
import { inject } from 'weir/testing';
import { exporter, isChild, only, parentOf, spans, waitFor } from '../helpers/tracing.ts';

const dir = mkdtempSync(join(tmpdir(), 'weir-tracing-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const TRACE_ID = '0af7651916cd43dd8448eb211c80319c';
const SPAN_ID = 'b7ad6b7169203331';
const TRACEPARENT = `00-${TRACE_ID}-${SPAN_ID}-01`;

describe('tracing: a request that queries the database and adds a job', () => {
  let db: Database;
  let queue: JobQueue<{ id: number }>;
  let app: App;
  let traced: Tracing;
  const handled: number[] = [];

  before(async () => {
    db = await openDatabase(`sqlite:${join(dir, 'app.db')}`);
    await db.execScript(
      'CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT); CREATE TABLE audit (id INTEGER)',
    );
    await db.exec`INSERT INTO users (id, name) VALUES (${7}, ${'ada'})`;
    queue = await openJobQueue<{ id: number }>('emails', {
      url: `sqlite:${join(dir, 'queue.db')}`,
      pollIntervalMs: 5,
    });
    app = new App({ logger: false });
    app.post('/users/:id/welcome', async (ctx) => {
      const id = Number(ctx.params.id);
      const user = await db.with(ctx).one<{ name: string }>`SELECT name FROM users WHERE id = ${id}`;
      await db.transaction(async (tx) => {
        await tx.exec`INSERT INTO audit (id) VALUES (${id})`;
      });
      const added = await queue.add({ id }, ctx);
      return { name: user.name, job: added.id };
    });
    // A body schema and no middleware: weir reads the body by callbacks, and the handler must still run
    // under the request's span.
    app.post('/users/:id/rename', { schema: { body: v.object({ name: v.string() }) } }, async (ctx) => {
      await db.with(ctx).exec`UPDATE users SET name = ${ctx.body.name} WHERE id = ${Number(ctx.params.id)}`;
      return { renamed: true };
    });
    app.worker(queue, async (job) => {
      await db.one`SELECT name FROM users WHERE id = ${job.data.id}`;
      handled.push(job.data.id);
    });
    traced = await tracing(app);
    await app.startWorkers();
  });

  after(async () => {
    await app.stop();
    await traced.close();
    await queue.close();
    await db.close();
  });

  afterEach(() => exporter.reset());

  it('nests the queries of a body-schema route under its server span, over a real socket', async () => {
    const server = createServer(app.handler);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = server.address() as AddressInfo;
      const res = await fetch(`http://127.0.0.1:${port}/users/7/rename`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ name: 'ada' }),
      });
      assert.deepEqual(await res.json(), { renamed: true });
      const all = await waitFor((s) => s.some((x) => x.name === 'POST /users/:id/rename'));
      const request = only(all, 'POST /users/:id/rename');
      const update = all.find((x) => x.name.startsWith('UPDATE'));
      assert.ok(update !== undefined, 'the query has a span');
      assert.ok(isChild(update, request), 'the query nests under the request');
    } finally {
      server.close();
    }
  });

  it('makes a server span, database spans beneath it, a send span, and a process span whose parent is the send span', async () => {
    const res = await inject(app, {
      method: 'POST',
      url: '/users/7/welcome',
      headers: { 'user-agent': 'probe/1' },
    });
    assert.equal(res.status, 200);
    const { job } = res.json<{ job: string }>();
    const all = await waitFor((s) => s.some((x) => x.name === 'process emails'));

    const server = only(all, 'POST /users/:id/welcome');
    assert.equal(server.kind, SpanKind.SERVER);
    assert.equal(parentOf(server), undefined, 'a request with no trace context starts a trace');
    assert.deepEqual(
      {
        method: server.attributes['http.request.method'],
        path: server.attributes['url.path'],
        scheme: server.attributes['url.scheme'],
        route: server.attributes['http.route'],
        status: server.attributes['http.response.status_code'],
        client: server.attributes['client.address'],
        agent: server.attributes['user_agent.original'],
      },
      {
        method: 'POST',
        path: '/users/7/welcome',
        scheme: 'http',
        route: '/users/:id/welcome',
        status: 200,
        client: '127.0.0.1',
        agent: 'probe/1',
      },
    );
    assert.equal(server.status.code, SpanStatusCode.UNSET);

    const selects = all.filter((s) => s.name === 'SELECT');
    const select = selects.find((s) => isChild(s, server));
    assert.ok(select, 'the route’s query is a child of the server span');
    assert.equal(select.kind, SpanKind.CLIENT);
    assert.equal(select.attributes['db.system.name'], 'sqlite');
    assert.equal(select.attributes['db.namespace'], join(dir, 'app.db'));
    assert.equal(select.attributes['db.operation.name'], 'SELECT');
    assert.equal(select.attributes['db.query.text'], 'SELECT name FROM users WHERE id = $1');
    assert.ok(
      !JSON.stringify(all.map((s) => s.attributes)).includes('"ada"'),
      'no parameter or row value reaches a span',
    );

    const transaction = only(all, 'transaction');
    assert.ok(isChild(transaction, server));
    const insert = only(all, 'INSERT');
    assert.ok(isChild(insert, transaction), 'a query inside a transaction nests under it');

    const send = only(all, 'send emails');
    assert.equal(send.kind, SpanKind.PRODUCER);
    assert.ok(isChild(send, server));
    assert.equal(send.attributes['messaging.system'], 'sqlite');
    assert.equal(send.attributes['messaging.destination.name'], 'emails');
    assert.equal(send.attributes['messaging.message.id'], job);

    const process = only(all, 'process emails');
    assert.equal(process.kind, SpanKind.CONSUMER);
    assert.ok(isChild(process, send), 'the job runs under the span that added it');
    assert.equal(process.links[0]?.context.spanId, send.spanContext().spanId);
    assert.equal(process.attributes['messaging.message.id'], job);
    assert.equal(process.attributes['weir.job.attempt'], 1);
    assert.equal(process.attributes['weir.job.outcome'], 'completed');
    const jobQuery = selects.find((s) => isChild(s, process));
    assert.ok(jobQuery, 'the job’s query nests under its process span');

    // The queue's own file (claims, polls, acks) is no one's query.
    assert.ok(!all.some((s) => s.attributes['db.namespace'] === join(dir, 'queue.db')));
    assert.ok(server.endTime[0] > 0 && all.every((s) => s.ended));
  });
});

describe('tracing: the incoming trace context, errors and ignored routes', () => {
  let app: App;
  let traced: Tracing;
  let db: Database;
  const logged: Record<string, unknown>[] = [];

  before(async () => {
    db = await openDatabase('sqlite::memory:');
    const logger = {
      info: (obj: unknown) => logged.push(obj as Record<string, unknown>),
      warn: () => {},
      error: () => {},
      debug: () => {},
      child(bindings: Record<string, unknown>) {
        return { ...this, info: (obj: object) => logged.push({ ...bindings, ...obj }) };
      },
    };
    app = new App({ logger: logger as never });
    app.get('/hello', (ctx) => {
      ctx.log.info({ said: 'hello' });
      return 'hello';
    });
    app.get('/boom', () => {
      throw new Error('the disk is on fire');
    });
    app.get('/gone', () => {
      throw new HttpError(404, 'WEIR_ERR_NOT_FOUND', 'no such thing');
    });
    app.get('/healthz', async () => {
      await db.one`SELECT 1 AS ok`;
      return 'ok';
    });
    traced = await tracing(app, { trust: ['10.0.0.0/8'], ignore: ['/healthz'] });
  });

  after(async () => {
    await traced.close();
    await db.close();
  });

  afterEach(() => exporter.reset());

  it('continues a trusted peer’s trace, and binds the trace and span ids to ctx.log', async () => {
    const res = await inject(app, {
      url: '/hello',
      headers: { traceparent: TRACEPARENT, tracestate: 'vendor=opaque' },
      remoteAddress: '10.1.2.3',
    });
    assert.equal(res.status, 200);
    const server = only(spans(), 'GET /hello');
    assert.equal(server.spanContext().traceId, TRACE_ID);
    assert.equal(parentOf(server), SPAN_ID);
    assert.equal(server.spanContext().traceState?.get('vendor'), 'opaque');
    const line = logged.find((l) => l.said === 'hello');
    assert.equal(line?.traceId, TRACE_ID);
    assert.equal(line?.spanId, server.spanContext().spanId);
  });

  it('only links to an untrusted peer’s context: the span starts a trace of its own', async () => {
    await inject(app, { url: '/hello', headers: { traceparent: TRACEPARENT }, remoteAddress: '203.0.113.9' });
    const server = only(spans(), 'GET /hello');
    assert.notEqual(server.spanContext().traceId, TRACE_ID);
    assert.equal(parentOf(server), undefined);
    assert.deepEqual(
      server.links.map((l) => [l.context.traceId, l.context.spanId]),
      [[TRACE_ID, SPAN_ID]],
    );
  });

  it('ignores malformed and hostile trace contexts: a new trace, no link, no crash', async () => {
    const hostile = [
      `00-${TRACE_ID}-${SPAN_ID}-01${'x'.repeat(10_000)}`,
      `${'0'.repeat(10_000)}`,
      `00-${TRACE_ID}-${SPAN_ID}-01\r\nx-injected: 1`,
      `ff-${TRACE_ID}-${SPAN_ID}-01`,
      `00-${'0'.repeat(32)}-${SPAN_ID}-01`,
      `00-${TRACE_ID}-${'0'.repeat(16)}-01`,
      `00-${TRACE_ID.toUpperCase()}-${SPAN_ID}-01`,
      'not a traceparent',
      '',
    ];
    for (const traceparent of hostile) {
      exporter.reset();
      const res = await inject(app, {
        url: '/hello',
        headers: { traceparent, tracestate: 'a=b'.repeat(5000) },
        remoteAddress: '10.1.2.3',
      });
      assert.equal(res.status, 200, traceparent.slice(0, 40));
      const server = only(spans(), 'GET /hello');
      assert.notEqual(server.spanContext().traceId, TRACE_ID, traceparent.slice(0, 40));
      assert.equal(parentOf(server), undefined);
      assert.equal(server.links.length, 0);
    }
  });

  it('marks a 5xx failed with the thrown error as an exception event, and leaves a 4xx unset', async () => {
    assert.equal((await inject(app, { url: '/boom' })).status, 500);
    const boom = only(spans(), 'GET /boom');
    assert.equal(boom.status.code, SpanStatusCode.ERROR);
    assert.equal(boom.attributes['http.response.status_code'], 500);
    assert.equal(boom.attributes['error.type'], 'Error');
    const event = boom.events.find((e) => e.name === 'exception');
    assert.equal(event?.attributes?.['exception.message'], 'the disk is on fire');

    assert.equal((await inject(app, { url: '/gone' })).status, 404);
    const gone = only(spans(), 'GET /gone');
    assert.equal(gone.status.code, SpanStatusCode.UNSET);
    assert.equal(gone.events.length, 0);

    assert.equal((await inject(app, { url: '/nowhere' })).status, 404);
    const unmatched = only(spans(), 'GET');
    assert.equal(unmatched.attributes['http.route'], undefined);
  });

  it('makes no span for an ignored route, nor for the queries it makes', async () => {
    assert.equal((await inject(app, { url: '/healthz' })).status, 200);
    assert.deepEqual(
      spans().map((s) => s.name),
      [],
    );
    await db.one`SELECT 1 AS ok`;
    assert.deepEqual(
      spans().map((s) => s.name),
      ['SELECT'],
      'outside any request, a query is a trace of its own',
    );
  });
});

describe('tracing: a failing job', () => {
  it('marks each failed attempt’s process span failed, with its attempt number and outcome', async () => {
    const queue = await openJobQueue<{ n: number }>('failing', {
      url: `sqlite:${join(dir, 'failing.db')}`,
      pollIntervalMs: 5,
      attempts: 2,
      backoff: { type: 'fixed', delayMs: 1, jitter: false },
      logger: { error: () => {}, warn: () => {}, info: () => {}, debug: () => {} },
    });
    const app = new App({ logger: false });
    app.post('/jobs', async (ctx) => queue.add({ n: 1 }, ctx));
    app.worker(queue, async () => {
      throw new Error('the mail server refused');
    });
    const traced = await tracing(app);
    await app.startWorkers();
    try {
      exporter.reset();
      await inject(app, { method: 'POST', url: '/jobs' });
      const all = await waitFor((s) => s.filter((x) => x.name === 'process failing').length === 2);
      const send = only(all, 'send failing');
      const attempts = all
        .filter((s) => s.name === 'process failing')
        .sort((a, b) => Number(a.attributes['weir.job.attempt']) - Number(b.attributes['weir.job.attempt']));
      assert.deepEqual(
        attempts.map((s) => [
          s.attributes['weir.job.attempt'],
          s.attributes['weir.job.outcome'],
          s.status.code,
        ]),
        [
          [1, 'retried', SpanStatusCode.ERROR],
          [2, 'dead', SpanStatusCode.ERROR],
        ],
      );
      for (const attempt of attempts) {
        assert.ok(isChild(attempt, send));
        const event = attempt.events.find((e) => e.name === 'exception');
        assert.equal(event?.attributes?.['exception.message'], 'the mail server refused');
      }
    } finally {
      await app.stop();
      await traced.close();
      await queue.close();
    }
  });
});

describe('tracing: the trace context a job carries', () => {
  it('keeps only well-formed fields, and a job stored with a broken context runs untraced by it', async () => {
    const url = `sqlite:${join(dir, 'foreign.db')}`;
    const queue = await openJobQueue<{ n: number }>('foreign', { url, pollIntervalMs: 5 });
    const app = new App({ logger: false });
    const ran: number[] = [];
    app.worker(queue, async (job) => {
      ran.push(job.data.n);
    });
    const traced = await tracing(app);
    try {
      // What another writer of the file might leave: junk, a non-object, values of the wrong type.
      const raw = await openDatabase(url);
      const contexts = [
        '{not json',
        '[1,2]',
        JSON.stringify({ traceparent: 42 }),
        JSON.stringify({ traceparent: `${TRACEPARENT}\n` }),
      ];
      for (const [i, context] of contexts.entries()) {
        await raw.exec`
          INSERT INTO weir_jobs (id, queue, state, data, run_at, max_attempts, created_at, trace_context)
          VALUES (${`foreign-${i}`}, 'foreign', 'waiting', ${JSON.stringify({ n: i })}, 0, 1, 0, ${context})`;
      }
      await raw.close();
      exporter.reset();
      await app.startWorkers();
      const all = await waitFor(
        (s) => s.filter((x) => x.name === 'process foreign').length === contexts.length,
      );
      assert.deepEqual(ran.sort(), [0, 1, 2, 3]);
      const attempts = all.filter((s) => s.name === 'process foreign');
      assert.equal(attempts.length, contexts.length);
      for (const span of attempts) {
        assert.equal(parentOf(span), undefined);
        assert.equal(span.links.length, 0);
        assert.notEqual(span.spanContext().traceId, TRACE_ID);
      }
    } finally {
      await app.stop();
      await traced.close();
      await queue.close();
    }
  });
});

describe('tracing: cache calls', () => {
  it('makes a span per call with hit or miss, and nests what a loader does under its wrap()', async () => {
    const cache = await openCache('memory:', { namespace: 'pages' });
    const db = await openDatabase('sqlite::memory:');
    const app = new App({ logger: false });
    app.get('/page', async (ctx) => {
      const first = await cache.get('page:1', ctx);
      const loaded = await cache.wrap('page:1', async () => (await db.one<{ n: number }>`SELECT 1 AS n`).n);
      const again = await cache.wrap('page:1', async () => 2);
      await cache.set('other', { secret: 'value' });
      const many = await cache.getMany(['page:1', 'nope', 'other']);
      return { first: first ?? null, loaded, again, found: many.filter((v) => v !== undefined).length };
    });
    const traced = await tracing(app);
    try {
      exporter.reset();
      assert.deepEqual((await inject(app, { url: '/page' })).json(), {
        first: null,
        loaded: 1,
        again: 1,
        found: 2,
      });
      const all = spans();
      const server = only(all, 'GET /page');
      const calls = all.filter((s) => s.name.startsWith('cache '));
      assert.deepEqual(
        calls.map((s) => [s.name, s.attributes['weir.cache.hit']]),
        [
          ['cache get', false],
          ['cache wrap', false],
          ['cache wrap', true],
          ['cache set', undefined],
          ['cache getMany', undefined],
        ],
      );
      for (const call of calls) {
        assert.ok(isChild(call, server));
        assert.equal(call.kind, SpanKind.INTERNAL, 'an in-process cache is no remote call');
        assert.equal(call.attributes['weir.cache.backend'], 'memory');
        assert.equal(call.attributes['weir.cache.namespace'], 'pages');
      }
      assert.deepEqual(
        [calls[4]!.attributes['weir.cache.keys'], calls[4]!.attributes['weir.cache.hits']],
        [3, 2],
      );
      assert.ok(isChild(only(all, 'SELECT'), calls[1]!), 'the loader’s query nests under its wrap()');
      const text = JSON.stringify(calls.map((s) => s.attributes));
      assert.ok(!text.includes('page:1') && !text.includes('secret'), 'no key or value reaches a span');
    } finally {
      await traced.close();
      await cache.close();
      await db.close();
    }
  });
});
