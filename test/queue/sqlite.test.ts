import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { openDatabase } from 'weir/db';
import { openJobQueue } from 'weir/queue';
import { runQueueSuite } from './conformance.ts';
import { crashTest } from './crash.ts';
import { until } from './suite.ts';

const dir = mkdtempSync(join(tmpdir(), 'weir-queue-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const url = `sqlite:${join(dir, 'queue.db')}` as const;

runQueueSuite(
  'sqlite',
  {
    open: (name, options) => openJobQueue(name, { url, pollIntervalMs: 20, ...options }),
  },
  { skip: false },
);

describe('SQLite job queue specifics', () => {
  test('the default URL is sqlite:./data/queue.db; a bad scheme or name fails clearly', async () => {
    await assert.rejects(openJobQueue('q', { url: 'kafka://h' }), { code: 'WEIR_ERR_JOBS_URL' });
    await assert.rejects(openJobQueue('bad name!', { url }), { code: 'WEIR_ERR_INVALID_OPTION' });
  });

  test('a queue file from before jobTimeoutMs gains its column on open, and its waiting jobs still run', async () => {
    const file = join(dir, 'before-timeouts.db');
    const old = await openDatabase(`sqlite:${file}`);
    await old.execScript(`
      CREATE TABLE weir_jobs (
        seq INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, queue TEXT NOT NULL, state TEXT NOT NULL,
        data TEXT NOT NULL, priority INTEGER NOT NULL DEFAULT 0, run_at INTEGER NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0, max_attempts INTEGER NOT NULL, backoff TEXT,
        lease_until INTEGER, lease_token TEXT, idempotency_key TEXT, idempotency_until INTEGER,
        last_error TEXT, result TEXT, created_at INTEGER NOT NULL, finished_at INTEGER);
      INSERT INTO weir_jobs (id, queue, state, data, run_at, max_attempts, created_at)
      VALUES ('old-1', 'emails', 'waiting', '{"to":"ada@example.com"}', 0, 3, 0);`);
    await old.close();
    const queue = await openJobQueue<{ to: string }>('emails', { url: `sqlite:${file}`, pollIntervalMs: 10 });
    try {
      const seen: string[] = [];
      const consumer = queue.process((job) => {
        seen.push(`${job.id} ${job.data.to}`);
      });
      for (let i = 0; i < 250 && (await queue.get('old-1'))?.state !== 'completed'; i++) await delay(20);
      await consumer.close();
      assert.deepEqual(seen, ['old-1 ada@example.com']);
      const { id } = await queue.add({ to: 'b@example.com' }, { jobTimeoutMs: 1234 });
      assert.equal((await queue.get(id))?.state, 'waiting');
    } finally {
      await queue.close();
    }
  });

  test('a queue file from before request ids gains its column on open: its jobs run and list with none, new ones keep theirs', async () => {
    const file = join(dir, 'before-request-ids.db');
    const old = await openDatabase(`sqlite:${file}`);
    // The table and indexes exactly as the release before request ids made them.
    await old.execScript(`
      CREATE TABLE weir_jobs (
        seq INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, queue TEXT NOT NULL, state TEXT NOT NULL,
        data TEXT NOT NULL, priority INTEGER NOT NULL DEFAULT 0, run_at INTEGER NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0, max_attempts INTEGER NOT NULL, backoff TEXT, timeout_ms INTEGER,
        lease_until INTEGER, lease_token TEXT, idempotency_key TEXT, idempotency_until INTEGER,
        last_error TEXT, result TEXT, created_at INTEGER NOT NULL, finished_at INTEGER);
      CREATE INDEX weir_jobs_ready ON weir_jobs (queue, state, run_at);
      CREATE INDEX weir_jobs_claim ON weir_jobs (queue, priority DESC, run_at, seq)
        WHERE state IN ('waiting', 'failed');
      CREATE INDEX weir_jobs_leases ON weir_jobs (queue, lease_until) WHERE state = 'active';
      CREATE UNIQUE INDEX weir_jobs_idempotency
        ON weir_jobs (queue, idempotency_key) WHERE idempotency_key IS NOT NULL;
      INSERT INTO weir_jobs (id, queue, state, data, run_at, max_attempts, timeout_ms, created_at)
      VALUES ('old-waiting', 'emails', 'waiting', '{"to":"ada@example.com"}', 0, 3, 60000, 0);
      INSERT INTO weir_jobs (id, queue, state, data, run_at, attempts, max_attempts, last_error, created_at, finished_at)
      VALUES ('old-dead', 'emails', 'dead', '{"to":"bob@example.com"}', 0, 3, 3, 'smtp down', 0, 1);`);
    await old.close();
    const queue = await openJobQueue<{ to: string }>('emails', { url: `sqlite:${file}`, pollIntervalMs: 10 });
    try {
      const look = await openDatabase(`sqlite:${file}`);
      const columns = await look.query<{ name: string }>`SELECT name FROM pragma_table_info('weir_jobs')`;
      await look.close();
      assert.deepEqual(
        columns.slice(-2).map((c) => c.name),
        ['request_id', 'trace_context'],
        'the columns were added, last, in the order they came',
      );
      assert.equal((await queue.get('old-waiting'))?.requestId, undefined);
      assert.deepEqual(
        (await queue.dead()).map((job) => [job.id, job.requestId]),
        [['old-dead', undefined]],
      );
      const seen: string[] = [];
      const consumer = queue.process((job) => {
        seen.push(`${job.id} ${job.data.to} ${job.requestId}`);
      });
      await until(async () => (await queue.get('old-waiting'))?.state === 'completed', 5000, 'old job ran');
      const { id } = await queue.add({ to: 'c@example.com' }, { requestId: 'req-after-upgrade' });
      await until(async () => (await queue.get(id))?.state === 'completed', 5000, 'new job ran');
      await consumer.close();
      assert.deepEqual(seen, [
        'old-waiting ada@example.com undefined',
        `${id} c@example.com req-after-upgrade`,
      ]);
      assert.equal((await queue.get(id))?.requestId, 'req-after-upgrade');
      assert.equal(await queue.retryDead('old-dead'), 1, 'an old dead job is re-queued as before');
    } finally {
      await queue.close();
    }
    // Opened again (by a second process, or after a restart), the file is left as it is.
    const again = await openJobQueue('emails', { url: `sqlite:${file}` });
    await again.close();
  });

  test('crash test: 1,000 jobs, the worker is killed with SIGKILL midway, a new one finishes: none lost', async () => {
    await crashTest(url, `crash_${process.pid}`);
    const queue = await openJobQueue(`crash_${process.pid}`, { url });
    try {
      assert.deepEqual(await queue.counts(), { waiting: 0, active: 0, failed: 0, completed: 1000, dead: 0 });
    } finally {
      await queue.close();
    }
  });
});
