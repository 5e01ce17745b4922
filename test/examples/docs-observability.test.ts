import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { sleep } from 'weir';
import { openEventStream } from '../helpers/event-stream.ts';
import { parsePrometheus, sample } from '../helpers/prometheus.ts';

const dir = mkdtempSync(join(tmpdir(), 'weir-docs-observe-'));
after(() => rmSync(dir, { recursive: true, force: true }));

describe('docs/observability.md', () => {
  it('serves metrics on their own port, logs requests to a file, and passes the request id to the job', async () => {
    process.env.METRICS_PORT = '0';
    process.env.ACCESS_LOG = join(dir, 'access.log');
    process.env.QUEUE_URL = `sqlite:${join(dir, 'queue.db')}`;
    const { app, exporter } = await import('../../examples/docs/observability/service.ts');
    const handle = await app.listen({ port: 0, signals: false });
    try {
      const res = await fetch(`${handle.url}/signup`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-request-id': 'from-the-internet' },
        body: JSON.stringify({ email: 'ada@example.com' }),
      });
      assert.deepEqual(await res.json(), { welcome: 'ada@example.com' });
      const id = res.headers.get('x-request-id');
      assert.notEqual(id, 'from-the-internet', '127.0.0.1 is not a trusted peer');
      let families = parsePrometheus(await (await fetch(exporter.url!)).text());
      for (let i = 0; i < 300; i++) {
        if (sample(families, 'weir_queue_attempts_total', { queue: 'emails', outcome: 'completed' }) === 1)
          break;
        await sleep(20);
        families = parsePrometheus(await (await fetch(exporter.url!)).text());
      }
      assert.equal(
        sample(families, 'weir_queue_attempts_total', { queue: 'emails', outcome: 'completed' }),
        1,
      );
      assert.equal(sample(families, 'weir_http_requests_total', { route: '/signup', status: '200' }), 1);
      assert.equal((await fetch(`${handle.url}/metrics`)).status, 404, 'not on the app’s port');
    } finally {
      await handle.close();
    }
    // A sample of 0.5 may skip the one line; the file exists and every line it has is well-formed.
    const lines = readFileSync(join(dir, 'access.log'), 'utf8').split('\n').filter(Boolean);
    for (const line of lines) {
      assert.ok(['/signup', '(unmatched)'].includes((JSON.parse(line) as { route: string }).route), line);
    }
  });

  it('traces a request, its query and its job with OpenTelemetry', async () => {
    process.env.QUEUE_URL = `sqlite:${join(dir, 'traced-queue.db')}`;
    const { app, exporter } = await import('../../examples/docs/observability/tracing.ts');
    const handle = await app.listen({ port: 0, signals: false });
    try {
      assert.equal((await fetch(`${handle.url}/healthz`)).status, 200);
      const res = await fetch(`${handle.url}/orders`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ sku: 'tea' }),
      });
      assert.deepEqual(await res.json(), { id: 1 });
      for (let i = 0; i < 300 && !exporter.getFinishedSpans().some((s) => s.name === 'process emails'); i++) {
        await sleep(20);
      }
    } finally {
      await handle.close();
    }
    const spans = exporter.getFinishedSpans();
    const byName = (name: string) => spans.find((s) => s.name === name);
    const order = byName('POST /orders');
    const send = byName('send emails');
    const process_ = byName('process emails');
    assert.ok(order && send && process_, spans.map((s) => s.name).join(', '));
    assert.equal(byName('INSERT')?.parentSpanContext?.spanId, order.spanContext().spanId);
    assert.equal(send.parentSpanContext?.spanId, order.spanContext().spanId);
    assert.equal(process_.parentSpanContext?.spanId, send.spanContext().spanId);
    assert.equal(byName('SELECT')?.parentSpanContext?.spanId, process_.spanContext().spanId);
    assert.equal(byName('GET /healthz'), undefined, 'ignored');
  });

  it('serves the dashboard only to logged-in users with the ops role', async () => {
    process.env.QUEUE_URL = `sqlite:${join(dir, 'dashboard-queue.db')}`;
    const { app, sessions, live } = await import('../../examples/docs/observability/dashboard.ts');
    // The example's app logs users in elsewhere; this stands in for its login.
    app.post('/test-login', sessions, async (ctx) => {
      await ctx.session.logIn({ id: 1, roles: ctx.query.role === 'ops' ? ['ops'] : ['member'] });
      return { ok: true };
    });
    const handle = await app.listen({ port: 0, signals: false });
    try {
      const login = async (role: string) => {
        const res = await fetch(`${handle.url}/test-login?role=${role}`, { method: 'POST' });
        return String(res.headers.get('set-cookie')).split(';')[0]!;
      };
      assert.equal((await fetch(`${handle.url}/_dashboard`)).status, 401);
      const member = await login('member');
      assert.equal((await fetch(`${handle.url}/_dashboard`, { headers: { cookie: member } })).status, 403);
      const ops = await login('ops');
      const page = await fetch(`${handle.url}/_dashboard`, { headers: { cookie: ops } });
      assert.equal(page.status, 200);
      assert.match(await page.text(), /<main id="dashboard"/);
      const stream = await openEventStream(handle.port, '/_dashboard/events', { cookie: ops });
      try {
        assert.equal(stream.status, 200);
        assert.equal((await stream.next()).type, 'history');
        const event = await stream.next(5000);
        assert.equal(event.type, 'sample');
        const tick = JSON.parse(event.data) as {
          databases: Record<string, unknown>;
          caches: Record<string, unknown>;
          queues: Record<string, { waiting?: number }>;
        };
        assert.deepEqual(Object.keys(tick.databases), ['main']);
        assert.deepEqual(Object.keys(tick.caches), ['main']);
        assert.equal(tick.queues.emails?.waiting, 0);
        assert.equal(live.clients, 1);
      } finally {
        stream.close();
      }
    } finally {
      await handle.close();
    }
  });
});
