/**
 * The reference service's /_dashboard: open in development, only for a logged-in user when NODE_ENV is
 * production, fed by the service's own database, cache and queue; off unless asked for (entry.ts asks,
 * unless DASHBOARD=off).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import type { DashboardSample } from 'weir/observability';
import { openJobQueue } from 'weir/queue';
import { createServiceApp } from '../../examples/service/app.ts';
import { openServiceDatabase } from '../../examples/service/database.ts';
import { WELCOME_QUEUE, type WelcomeJob } from '../../examples/service/jobs.ts';
import { openEventStream } from '../helpers/event-stream.ts';
import { request, serve } from '../helpers/http.ts';

const dir = mkdtempSync(join(tmpdir(), 'weir-service-dashboard-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** Starts the service with NODE_ENV set to `env` while it is built. */
async function start(name: string, env: string | undefined, dashboard = true) {
  const db = await openServiceDatabase(`sqlite:${join(dir, `${name}.db`)}`);
  const queue = await openJobQueue<WelcomeJob>(WELCOME_QUEUE, {
    url: `sqlite:${join(dir, `${name}-queue.db`)}`,
  });
  const before = process.env.NODE_ENV;
  if (env === undefined) delete process.env.NODE_ENV;
  else process.env.NODE_ENV = env;
  try {
    return await serve(createServiceApp({ logger: false, db, queue, dashboard }));
  } finally {
    if (before === undefined) delete process.env.NODE_ENV;
    else process.env.NODE_ENV = before;
  }
}

describe('reference service: /_dashboard', () => {
  it('is open in development, with the service’s pool, cache and queue', async () => {
    const handle = await start('dev', undefined);
    try {
      assert.equal((await request(handle, { path: '/_dashboard' })).status, 200);
      const stream = await openEventStream(handle.port, '/_dashboard/events');
      try {
        assert.equal((await stream.next()).type, 'history');
        await request(handle, { path: '/db' });
        const event = await stream.next(5000);
        assert.equal(event.type, 'sample');
        const sample = JSON.parse(event.data) as DashboardSample;
        assert.deepEqual(Object.keys(sample.databases), ['main']);
        assert.deepEqual(Object.keys(sample.caches), ['main']);
        assert.equal(typeof sample.queues[WELCOME_QUEUE]?.waiting, 'number');
        assert.notEqual(sample.limiter, null);
      } finally {
        stream.close();
      }
    } finally {
      await handle.close();
    }
  });

  it('asks for a logged-in user in production', async () => {
    const handle = await start('prod', 'production');
    try {
      assert.equal((await request(handle, { path: '/_dashboard' })).status, 401);
      const anonymous = await openEventStream(handle.port, '/_dashboard/events');
      assert.equal(anonymous.status, 401);
      const login = await request(handle, {
        method: 'POST',
        path: '/login',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ email: 'alice@example.com', password: 'alice-password' }),
      });
      assert.equal(login.status, 200);
      const cookie = (login.headers['set-cookie'] ?? []).find((l) => l.startsWith('weir_session='));
      assert.ok(cookie, 'a session cookie');
      const session = cookie.split(';')[0]!;
      assert.equal(
        (await request(handle, { path: '/_dashboard', headers: { cookie: session } })).status,
        200,
      );
      const stream = await openEventStream(handle.port, '/_dashboard/events', { cookie: session });
      try {
        assert.equal(stream.status, 200);
        assert.equal((await stream.next()).type, 'history');
      } finally {
        stream.close();
      }
    } finally {
      await handle.close();
    }
  });

  it('is not there unless asked for', async () => {
    const handle = await start('off', undefined, false);
    try {
      assert.equal((await request(handle, { path: '/_dashboard' })).status, 404);
    } finally {
      await handle.close();
    }
  });
});
