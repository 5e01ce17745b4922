import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, afterEach, before, describe, it } from 'node:test';
import { SpanKind, SpanStatusCode } from '@opentelemetry/api';
import { App } from 'weir';
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
    await db.execScript('CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT); CREATE TABLE audit (id INTEGER)');
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

  it('makes a server span, database spans beneath it, a send span, and a process span whose parent is the send span', async () => {
    const res = await inject(app, { method: 'POST', url: '/users/7/welcome', headers: { 'user-agent': 'probe/1' } });
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
