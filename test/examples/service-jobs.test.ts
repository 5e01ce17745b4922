/**
 * The reference service's job routes: POST /jobs answers 202 at once and a worker does the work, in the
 * same process (`listen()`) or in a process of its own (`weir worker`). The service keeps each job's
 * status in its own table, so GET /jobs/:id answers the same on SQLite, RabbitMQ and NATS.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import type { Logger, ServerHandle } from 'weir';
import type { Database } from 'weir/db';
import { type JobQueue, type JobQueueOptions, openJobQueue } from 'weir/queue';
import { createServiceApp } from '../../examples/service/app.ts';
import { openServiceDatabase } from '../../examples/service/database.ts';
import type { JobStatus } from '../../examples/service/job-status.ts';
import { JobStatusTable } from '../../examples/service/job-status.ts';
import { WELCOME_QUEUE, type WelcomeJob } from '../../examples/service/jobs.ts';
import { request, serve } from '../helpers/http.ts';
import { AMQP_URL, amqpSkip, NATS_URL, natsSkip, uniqueNamespace } from '../helpers/services.ts';
import { cuttableProxy } from '../queue/crash.ts';

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

type Status = JobStatus;

/** A logger that keeps what is logged at warn and error. */
function recordingLogger(): Logger & { errors: unknown[]; warnings: unknown[] } {
  const errors: unknown[] = [];
  const warnings: unknown[] = [];
  return {
    errors,
    warnings,
    error: (obj: unknown) => errors.push(obj),
    warn: (obj: unknown) => warnings.push(obj),
    info: () => undefined,
    debug: () => undefined,
  };
}

const post = (handle: ServerHandle, body: unknown) =>
  request(handle, {
    method: 'POST',
    path: '/jobs',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });

/** Polls GET /jobs/:id until the job's state is `final`; resolves with the states seen on the way. */
async function follow(handle: ServerHandle, id: string, final: string, timeoutMs: number) {
  const seen: string[] = [];
  const job = await until(
    async () => {
      const res = await request(handle, { path: `/jobs/${id}` });
      assert.equal(res.status, 200, res.body);
      const status = JSON.parse(res.body) as Status;
      if (seen.at(-1) !== status.state) seen.push(status.state);
      return status.state === final ? status : undefined;
    },
    timeoutMs,
    `job ${final}`,
  );
  return { job, seen };
}

/** `seen` is a subsequence of `order`: a poll may miss a state, never see one out of turn. */
function assertInOrder(seen: string[], order: string[]) {
  let at = 0;
  for (const state of seen) {
    while (at < order.length && order[at] !== state) at++;
    assert.ok(at < order.length, `states ${seen.join(' → ')} follow ${order.join(' → ')}`);
  }
}

interface Backend {
  name: string;
  skip: string | false;
  open(name: string, options?: JobQueueOptions): Promise<JobQueue<WelcomeJob>>;
  /** The queue's URL through `proxy`, for the case where the broker goes away. */
  url?: string;
}

const backends: Backend[] = [
  {
    name: 'sqlite',
    skip: false,
    open: (name, options) =>
      openJobQueue<WelcomeJob>(name, { url: `sqlite:${join(dir, `${name}.db`)}`, ...options }),
  },
  {
    name: 'amqp',
    skip: await amqpSkip(),
    url: AMQP_URL,
    open: (name, options) => openJobQueue<WelcomeJob>(name, { url: AMQP_URL, ...options }),
  },
  {
    name: 'nats',
    skip: await natsSkip(),
    url: NATS_URL,
    open: (name, options) => openJobQueue<WelcomeJob>(name, { url: NATS_URL, ...options }),
  },
];

/** Deletes a broker queue's queues or streams (a SQLite queue's file goes with the test folder). */
async function destroy(queue: JobQueue<WelcomeJob>): Promise<void> {
  const broker = queue as unknown as { destroy?: () => Promise<void> };
  await broker.destroy?.();
}

for (const backend of backends) {
  describe(`reference service: POST /jobs and GET /jobs/:id on ${backend.name}`, {
    skip: backend.skip,
  }, () => {
    const opened: { handle: ServerHandle; queue: JobQueue<WelcomeJob>; db: Database }[] = [];
    const log = recordingLogger();

    /** The service on a fresh database and queue, listening, its worker in the same process. */
    async function service(options: JobQueueOptions = {}) {
      const name = uniqueNamespace(`svc${backend.name}`).replaceAll('-', '_');
      const db = await openServiceDatabase(`sqlite:${join(dir, `${name}-service.db`)}`);
      const queue = await backend.open(name, options);
      const handle = await serve(createServiceApp({ logger: log, db, queue }));
      opened.push({ handle, queue, db });
      return { handle, queue, db };
    }

    after(async () => {
      for (const { handle, queue } of opened) {
        await destroy(queue).catch(() => undefined);
        await handle.close();
      }
    });

    it('POST answers 202 with the id and its Location at once; GET follows the job from queued to completed, with its result', async () => {
      const { handle, db } = await service();
      const started = Date.now();
      const res = await post(handle, { to: 'ada@example.com', workMs: 300 });
      assert.ok(Date.now() - started < 250, 'did not wait for the work');
      assert.equal(res.status, 202);
      const { id } = JSON.parse(res.body) as { id: string };
      assert.equal(res.headers.location, `/jobs/${id}`);
      const { job, seen } = await follow(handle, id, 'completed', 10_000);
      assertInOrder(seen, ['queued', 'running', 'completed']);
      assert.deepEqual(
        { ...job, createdAt: undefined, updatedAt: undefined, finishedAt: undefined },
        {
          id,
          state: 'completed',
          attempts: 1,
          maxAttempts: 3,
          createdAt: undefined,
          updatedAt: undefined,
          finishedAt: undefined,
          lastError: null,
          result: { sentTo: 'ada@example.com' },
        },
      );
      assert.ok(job.createdAt <= job.updatedAt && job.finishedAt === job.updatedAt);
      const row = await db.one<{
        recipient: string;
      }>`SELECT recipient FROM welcome_emails WHERE job_id = ${id}`;
      assert.equal(row.recipient, 'ada@example.com');
      // The same job, asked for in capitals: ids are UUIDs, whatever their case.
      const upper = await request(handle, { path: `/jobs/${id.toUpperCase()}` });
      assert.equal((JSON.parse(upper.body) as Status).id, id);
    });

    it('a job whose every attempt fails ends dead, with its attempts and a generic last error; the error itself goes to the log', async () => {
      // Each attempt may run 300 ms, and the job asks for 5 s: every attempt times out.
      const { handle } = await service({ jobTimeoutMs: 300, backoff: { type: 'fixed', delayMs: 50 } });
      const res = await post(handle, { to: 'grace@example.com', workMs: 5000 });
      assert.equal(res.status, 202);
      const { id } = JSON.parse(res.body) as { id: string };
      const { job, seen } = await follow(handle, id, 'dead', 15_000);
      assertInOrder(seen, ['queued', 'running', 'failed', 'running', 'failed', 'running', 'dead']);
      assert.equal(job.attempts, 3);
      assert.equal(job.maxAttempts, 3);
      assert.equal(job.lastError, 'The attempt ran past its time limit');
      assert.equal(job.result, null);
      assert.equal(job.finishedAt, job.updatedAt);
      const failures = log.warnings.filter((w) => (w as { job?: string }).job === id);
      assert.equal(failures.length, 3, 'each failed attempt logged, with its error');
      assert.equal((failures[0] as { err: { code?: string } }).err.code, 'WEIR_ERR_JOBS_TIMEOUT');
    });

    it('GET /jobs/:id of an unknown id is 404 JOB_NOT_FOUND; a malformed one is 400 naming the field; neither repeats the id', async () => {
      const { handle } = await service();
      const unknown = '0b6f1a6e-9a4e-4c1f-9a1e-5d2d1c0f7e11';
      const res = await request(handle, { path: `/jobs/${unknown}` });
      assert.equal(res.status, 404);
      const error = (JSON.parse(res.body) as { error: { code: string; message: string } }).error;
      assert.equal(error.code, 'JOB_NOT_FOUND');
      assert.ok(!res.body.includes(unknown));
      const hostile: [string, string][] = [
        ['nope', 'nope'],
        ["x' OR '1'='1", "x'%20OR%20'1'%3D'1"],
        ['\r\nSet-Cookie: stolen=1', '%0D%0ASet-Cookie:%20stolen%3D1'],
        ['中文-ø', '%E4%B8%AD%E6%96%87-%C3%B8'],
        ['<script>alert(1)</script>', '%3Cscript%3Ealert(1)%3C%2Fscript%3E'],
        [`${unknown}\n`, `${unknown}%0A`],
        [`${unknown}${unknown}`, `${unknown}${unknown}`],
        ['a'.repeat(4000), 'a'.repeat(4000)],
        ['%zz', '%25zz'],
      ];
      for (const [raw, path] of hostile) {
        const bad = await request(handle, { path: `/jobs/${path}` });
        assert.equal(bad.status, 400, `${JSON.stringify(raw.slice(0, 40))}: ${bad.body.slice(0, 200)}`);
        const body = JSON.parse(bad.body) as {
          error: { code: string; details?: { issues?: { in: string; path: string }[] } };
        };
        assert.equal(body.error.code, 'WEIR_ERR_VALIDATION');
        assert.deepEqual(
          body.error.details?.issues?.map((i) => `${i.in}:${i.path}`),
          ['params:id'],
        );
        assert.ok(!bad.body.includes(raw.slice(0, 16)) && !bad.body.includes(path.slice(0, 16)), bad.body);
      }
      assert.deepEqual(log.errors, [], 'nothing logged as an error');
    });

    it('when the queue cannot take the job, POST answers 503 and leaves no queued row behind', {
      skip: backend.url === undefined && 'the embedded queue has no connection to cut',
    }, async () => {
      const target = new URL(backend.url ?? '');
      const proxy = await cuttableProxy(target);
      const name = uniqueNamespace(`svccut${backend.name}`).replaceAll('-', '_');
      const db = await openServiceDatabase(`sqlite:${join(dir, `${name}-service.db`)}`);
      const queue = await openJobQueue<WelcomeJob>(name, { url: proxy.url(target.protocol) });
      const handle = await serve(createServiceApp({ logger: false, db, queue }));
      try {
        await proxy.close();
        const res = await post(handle, { to: 'lin@example.com', workMs: 0 });
        assert.equal(res.status, 503, res.body);
        assert.equal(res.headers['retry-after'], '5');
        assert.doesNotMatch(res.body, /127\.0\.0\.1|amqp:|nats:/, 'the body names no host');
        assert.equal(
          (JSON.parse(res.body) as { error: { code: string } }).error.code,
          'WEIR_ERR_JOBS_UNAVAILABLE',
        );
        assert.deepEqual(await db.query`SELECT id, state FROM job_status`, []);
      } finally {
        const direct = await backend.open(name);
        await destroy(direct).catch(() => undefined);
        await direct.close();
        await handle.close();
      }
    });
  });
}

describe('reference service: a job stopped by a shutdown', () => {
  it('is given back, its status back to queued with its attempt uncounted, and completes in the next worker', async () => {
    const db = await openServiceDatabase(`sqlite:${join(dir, 'shutdown.db')}`);
    const queue = await openJobQueue<WelcomeJob>('shutdown', {
      url: `sqlite:${join(dir, 'shutdown-queue.db')}`,
    });
    const status = new JobStatusTable(db);
    const { welcomeWorker } = await import('../../examples/service/jobs.ts');
    const worker = welcomeWorker(db, status, recordingLogger());
    try {
      const jobId = '3f0c3ad0-51a7-4b37-8a2c-0d7e4ad3c0de';
      await status.queued(jobId, 3);
      await queue.add({ to: 'ken@example.com', workMs: 1000, jobId }, { attempts: 3 });
      const first = queue.process(worker);
      await until(
        async () => ((await status.get(jobId))?.state === 'running' ? true : undefined),
        5000,
        'running',
      );
      await first.close({ timeoutMs: 50 });
      const back = await status.get(jobId);
      assert.equal(back?.state, 'queued');
      assert.equal(back?.attempts, 1);
      const second = queue.process(worker);
      const done = await until(
        async () => {
          const s = await status.get(jobId);
          return s?.state === 'completed' ? s : undefined;
        },
        10_000,
        'completed',
      );
      await second.close();
      assert.equal(done.attempts, 1, 'the shutdown did not use up an attempt');
    } finally {
      await queue.close();
      await db.close();
    }
  });
});

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
      // Added straight to the queue, without the service's id: known by the queue's.
      const status = new JobStatusTable(db);
      await until(
        async () => {
          const states = await Promise.all(ids.map(async (id) => (await status.get(id))?.state));
          return states.every((state) => state === 'completed') ? true : undefined;
        },
        10_000,
        'every job completed, by its status',
      );
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
      assert.equal((await status.get(id))?.state, 'completed');
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
