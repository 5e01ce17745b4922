/**
 * The reference service's job routes: POST /jobs answers 202 at once and a worker does the work, in the
 * same process (`listen()`) or in a process of its own (`weir worker`).
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import type { ServerHandle } from 'weir';
import type { Database } from 'weir/db';
import { openJobQueue } from 'weir/queue';
import { createServiceApp } from '../../examples/service/app.ts';
import { openServiceDatabase } from '../../examples/service/database.ts';
import { WELCOME_QUEUE, type WelcomeJob } from '../../examples/service/jobs.ts';
import { request, serve } from '../helpers/http.ts';
import { AMQP_URL, amqpSkip, NATS_URL, natsSkip, uniqueNamespace } from '../helpers/services.ts';

const dir = mkdtempSync(join(tmpdir(), 'weir-jobs-'));
after(() => rmSync(dir, { recursive: true, force: true }));

async function until<T>(probe: () => Promise<T | undefined>, timeoutMs: number, what: string): Promise<T> {
  const start = Date.now();
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() - start > timeoutMs) assert.fail(`${what}: not within ${timeoutMs} ms`);
    await delay(20);
  }
}

describe('reference service: POST /jobs and its worker, in one process', () => {
  let handle: ServerHandle;
  let db: Database;
  before(async () => {
    db = await openServiceDatabase(`sqlite:${join(dir, 'one.db')}`);
    const queue = await openJobQueue<WelcomeJob>(WELCOME_QUEUE, {
      url: `sqlite:${join(dir, 'one-queue.db')}`,
    });
    handle = await serve(createServiceApp({ logger: false, db, queue }));
  });
  after(() => handle.close());

  const post = (body: unknown) =>
    request(handle, {
      method: 'POST',
      path: '/jobs',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });

  it('answers 202 with the id and a Location at once; the worker completes the job and writes its row', async () => {
    const started = Date.now();
    const res = await post({ to: 'ada@example.com', workMs: 300 });
    assert.ok(Date.now() - started < 250, 'did not wait for the work');
    assert.equal(res.status, 202);
    const { id } = JSON.parse(res.body) as { id: string };
    assert.equal(res.headers.location, `/jobs/${id}`);
    const job = await until(
      async () => {
        const r = JSON.parse((await request(handle, { path: `/jobs/${id}` })).body) as { state: string };
        return r.state === 'completed' ? r : undefined;
      },
      5000,
      'completed',
    );
    assert.deepEqual(
      { ...job, createdAt: undefined, finishedAt: undefined },
      {
        id,
        state: 'completed',
        attempts: 1,
        maxAttempts: 3,
        createdAt: undefined,
        finishedAt: undefined,
        lastError: null,
        result: { sentTo: 'ada@example.com' },
      },
    );
    const row = await db.one<{
      recipient: string;
    }>`SELECT recipient FROM welcome_emails WHERE job_id = ${id}`;
    assert.equal(row.recipient, 'ada@example.com');
  });

  it('workMs defaults to 20; bad bodies are 400 naming the field', async () => {
    assert.equal((await post({ to: 'b@example.org' })).status, 202);
    const cases: [unknown, string][] = [
      [{}, 'to'],
      [{ to: 'not-an-email' }, 'to'],
      [{ to: `${'x'.repeat(250)}@example.com` }, 'to'],
      [{ to: 'a@b.co', workMs: -1 }, 'workMs'],
      [{ to: 'a@b.co', workMs: 10_001 }, 'workMs'],
      [{ to: 'a@b.co', workMs: 1.5 }, 'workMs'],
      [{ to: 'a@b.co', workMs: '20' }, 'workMs'],
      [[1], 'body'],
      ['text', 'body'],
    ];
    for (const [body, field] of cases) {
      const res = await post(body);
      assert.equal(res.status, 400, JSON.stringify(body));
      const error = (JSON.parse(res.body) as { error: { code: string; details: { field: string } } }).error;
      assert.equal(error.code, 'INVALID_INPUT');
      assert.equal(error.details.field, field);
    }
    const notJson = await request(handle, {
      method: 'POST',
      path: '/jobs',
      headers: { 'content-type': 'application/json' },
      body: '{',
    });
    assert.equal(notJson.status, 400);
  });

  it('GET /jobs/:id of an unknown job is 404', async () => {
    const res = await request(handle, { path: '/jobs/nope' });
    assert.equal(res.status, 404);
    assert.equal((JSON.parse(res.body) as { error: { code: string } }).error.code, 'JOB_NOT_FOUND');
  });
});

for (const [backend, url, skip] of [
  ['amqp', AMQP_URL, await amqpSkip()],
  ['nats', NATS_URL, await natsSkip()],
] as const) {
  describe(`reference service: POST /jobs on ${backend}`, { skip }, () => {
    it('the job reaches the worker through the broker; GET /jobs/:id says the broker keeps no status', async () => {
      const db = await openServiceDatabase(`sqlite:${join(dir, `${backend}.db`)}`);
      const queue = await openJobQueue<WelcomeJob>(uniqueNamespace(`svc${backend}`).replaceAll('-', '_'), {
        url,
      });
      const handle = await serve(createServiceApp({ logger: false, db, queue }));
      try {
        const res = await request(handle, {
          method: 'POST',
          path: '/jobs',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ to: 'grace@example.com', workMs: 0 }),
        });
        assert.equal(res.status, 202);
        const { id } = JSON.parse(res.body) as { id: string };
        await until(
          async () =>
            (await db.maybeOne`SELECT 1 AS ok FROM welcome_emails WHERE job_id = ${id}`) ?? undefined,
          10_000,
          'the worker wrote the row',
        );
        const status = await request(handle, { path: `/jobs/${id}` });
        assert.equal(status.status, 501);
        assert.equal(
          (JSON.parse(status.body) as { error: { code: string } }).error.code,
          'JOB_STATUS_UNAVAILABLE',
        );
      } finally {
        await (queue as unknown as { destroy(): Promise<void> }).destroy();
        await handle.close();
      }
    });
  });
}

describe('weir worker: the service worker in a process of its own', () => {
  it('runs the jobs another process adds, and stops gracefully on SIGTERM', async () => {
    const dbUrl = `sqlite:${join(dir, 'apart.db')}`;
    const queueUrl = `sqlite:${join(dir, 'apart-queue.db')}` as const;
    const db = await openServiceDatabase(dbUrl);
    const queue = await openJobQueue<WelcomeJob>(WELCOME_QUEUE, { url: queueUrl });
    const child = spawn(
      process.execPath,
      [
        '--conditions=weir-source',
        '--import',
        'tsx',
        new URL('../../scripts/weir.mjs', import.meta.url).pathname,
        'worker',
        new URL('../../examples/service/entry.ts', import.meta.url).pathname,
      ],
      {
        env: { ...process.env, DATABASE_URL: dbUrl, QUEUE_URL: queueUrl, LOG_LEVEL: 'silent' },
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    let out = '';
    child.stdout.on('data', (c: Buffer) => {
      out += c.toString();
    });
    const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
    try {
      const ids: string[] = [];
      for (let i = 0; i < 20; i++) ids.push((await queue.add({ to: `u${i}@example.com`, workMs: 10 })).id);
      await until(
        async () =>
          (await db.one<{ n: number }>`SELECT count(*) AS n FROM welcome_emails`).n === 20 ? true : undefined,
        20_000,
        'the worker process sent all 20',
      );
      assert.match(out, /running the workers of .*entry\.ts: welcome-emails×32/);
      // A long job is running when SIGTERM comes: the worker lets it finish, then exits 0.
      const { id } = await queue.add({ to: 'slow@example.com', workMs: 500 });
      await until(
        async () => ((await queue.get(id))?.state === 'active' ? true : undefined),
        5000,
        'started',
      );
      child.kill('SIGTERM');
      assert.equal(await exited, 0);
      assert.equal((await queue.get(id))?.state, 'completed');
    } finally {
      child.kill('SIGKILL');
      await queue.close();
      await db.close();
    }
  });

  it('an entry without workers is one line and exit code 1', async () => {
    const { run } = await import('../../src/cli/main.ts');
    const err: string[] = [];
    const code = await run(['worker', new URL('../fixtures/cli-app.ts', import.meta.url).pathname], {
      out: () => undefined,
      err: (l) => err.push(l),
    });
    assert.equal(code, 1);
    assert.match(err[0] ?? '', /registers no worker/);
  });
});

describe('App workers', () => {
  it('start with listen() or startWorkers(), not with inject(); stop() lets running jobs finish before onStop hooks', async () => {
    const { App } = await import('weir');
    const { inject } = await import('weir/testing');
    const queue = await openJobQueue<number>('app_workers', {
      url: `sqlite:${join(dir, 'app.db')}`,
      pollIntervalMs: 10,
    });
    const order: string[] = [];
    const app = new App({ logger: false });
    app.get('/', () => 'ok');
    app.worker(
      queue,
      async (job) => {
        order.push(`start ${job.data}`);
        await delay(200);
        order.push(`end ${job.data}`);
      },
      { concurrency: 2 },
    );
    app.onStop(() => {
      order.push('onStop');
      return queue.close();
    });
    assert.deepEqual(app.workers(), ['app_workers×2']);
    await queue.add(1);
    assert.equal((await inject(app, { url: '/' })).body, 'ok');
    await delay(100);
    assert.deepEqual(order, [], 'inject() starts no worker');
    await app.startWorkers();
    await until(async () => (order.length > 0 ? true : undefined), 5000, 'the worker started');
    await app.stop();
    assert.deepEqual(order, ['start 1', 'end 1', 'onStop']);
  });
});
