/**
 * weir/client against the reference service on a real socket, typed by its `ServiceApi`: the routes with
 * schemas, called as a user of the service would.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import type { ServerHandle } from 'weir';
import { createClient } from 'weir/client';
import { openJobQueue } from 'weir/queue';
import { createServiceApp, type ServiceApi } from '../../examples/service/app.ts';
import { openServiceDatabase } from '../../examples/service/database.ts';
import type { WelcomeJob } from '../../examples/service/jobs.ts';
import { serve } from '../helpers/http.ts';

const dir = mkdtempSync(join(tmpdir(), 'weir-client-service-'));
let handle: ServerHandle;
before(async () => {
  const db = await openServiceDatabase(`sqlite:${join(dir, 'service.db')}`);
  const queue = await openJobQueue<WelcomeJob>('client_welcome', { url: `sqlite:${join(dir, 'queue.db')}` });
  handle = await serve(createServiceApp({ logger: false, db, queue }));
});
after(async () => {
  await handle?.close();
  rmSync(dir, { recursive: true, force: true });
});

const api = () => createClient<ServiceApi>(`http://127.0.0.1:${handle.port}`, { timeoutMs: 10_000 });

describe('weir/client against the reference service', () => {
  it('POST /db looks up worlds by id', async () => {
    const res = await api().post('/db', { body: { ids: [1, 2, 10_000] } });
    assert.equal(res.status, 200);
    if (!res.ok) return;
    assert.deepEqual(
      res.data.map((world) => world.id),
      [1, 2, 10_000],
    );
    assert.ok(res.data.every((world) => Number.isInteger(world.randomNumber)));
  });

  it("POST /db answers a body that breaks the schema with weir's validation error", async () => {
    const res = await api().post('/db', { body: { ids: [] } });
    assert.equal(res.status, 400);
    if (res.ok) return;
    assert.equal(res.data.error.code, 'WEIR_ERR_VALIDATION');
  });

  it('GET /users pages through users, numbers sent as query text', async () => {
    const res = await api().get('/users', { query: { limit: 2, offset: 0 } });
    assert.equal(res.status, 200);
    if (!res.ok) return;
    assert.equal(res.data.limit, 2);
    assert.ok(res.data.users.length <= 2);
    for (const user of res.data.users) {
      assert.equal(typeof user.email, 'string');
      assert.equal('passwordHash' in user, false);
    }
  });

  it('GET /compute and GET /sleep take their numbers from the query', async () => {
    const computed = await api().get('/compute', { query: { n: 100 } });
    assert.deepEqual(computed.data, { n: 100, primes: 25 });
    const slept = await api().get('/sleep', { query: { ms: 1 } });
    assert.deepEqual(slept.data, { slept: 1 });
    const refused = await api().get('/sleep', { query: { ms: 'soon' } });
    assert.equal(refused.status, 400);
  });

  it('POST /jobs queues a job that GET /jobs/:id follows to completion', async () => {
    const client = api();
    const queued = await client.post('/jobs', { body: { to: 'ada@example.com', workMs: 0 } });
    assert.equal(queued.status, 202);
    const { id } = queued.data as { id: string };
    assert.equal(queued.headers.get('location'), `/jobs/${id}`);
    let state = '';
    for (let i = 0; i < 200 && state !== 'completed'; i++) {
      const res = await client.get('/jobs/:id', { params: { id } });
      assert.equal(res.status, 200);
      if (res.status === 200) state = res.data.state;
      if (state !== 'completed') await delay(25);
    }
    assert.equal(state, 'completed');
    const missing = await client.get('/jobs/:id', { params: { id: '00000000-0000-4000-8000-000000000000' } });
    assert.equal(missing.status, 404);
    if (missing.status === 404) assert.equal(missing.data.error.code, 'JOB_NOT_FOUND');
  });
});
