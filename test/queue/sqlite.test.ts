import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { openDatabase } from 'weir/db';
import { openJobQueue } from 'weir/queue';
import { spawnTs } from '../helpers/process.ts';
import { runQueueSuite } from './conformance.ts';

const dir = mkdtempSync(join(tmpdir(), 'weir-queue-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const url = `sqlite:${join(dir, 'queue.db')}`;

runQueueSuite(
  'sqlite',
  {
    open: (name, options) => openJobQueue(name, { url, pollIntervalMs: 20, ...options }),
    features: { fifo: true, priority: true, status: true },
  },
  { skip: false },
);

describe('SQLite job queue specifics', () => {
  test('the default URL is sqlite:./data/queue.db; a bad scheme or name fails clearly', async () => {
    await assert.rejects(openJobQueue('q', { url: 'kafka://h' }), { code: 'WEIR_ERR_JOBS_URL' });
    await assert.rejects(openJobQueue('bad name!', { url }), { code: 'WEIR_ERR_INVALID_OPTION' });
  });

  test('crash test: 1,000 jobs, the worker is killed with SIGKILL midway, a new one finishes: none lost', async () => {
    const name = `crash_${process.pid}`;
    const doneDb = join(dir, 'done.db');
    const queue = await openJobQueue<{ n: number }>(name, { url });
    const done = await openDatabase(`sqlite:${doneDb}`);
    await done.execScript('CREATE TABLE IF NOT EXISTS done (n INTEGER NOT NULL)');
    const env = { QUEUE_URL: url, QUEUE_NAME: name, DONE_DB: doneDb, VISIBILITY_MS: '1000', WORK_MS: '5' };
    const fixture = new URL('../fixtures/queue-worker.ts', import.meta.url);
    try {
      for (let n = 0; n < 1000; n++) await queue.add({ n });
      const count = async () => (await done.one<{ c: number }>`SELECT count(DISTINCT n) AS c FROM done`).c;
      const first = spawnTs(fixture, env);
      await first.waitFor(/working/);
      const deadline = Date.now() + 30_000;
      while ((await count()) < 300) {
        assert.ok(Date.now() < deadline, 'the first worker made progress');
        await delay(10);
      }
      first.child.kill('SIGKILL');
      await first.exited();
      const atKill = await count();
      assert.ok(atKill < 1000, `killed midway (${atKill} done)`);
      const counts = await queue.counts();
      assert.ok(counts.active > 0, 'the killed worker held jobs');

      const second = spawnTs(fixture, env);
      try {
        while ((await queue.counts()).completed < 1000) {
          assert.ok(
            Date.now() < deadline + 30_000,
            `all jobs completed (${JSON.stringify(await queue.counts())})`,
          );
          await delay(50);
        }
      } finally {
        second.child.kill('SIGTERM');
        await second.exited();
      }
      assert.equal(await count(), 1000, 'every job ran at least once');
      const runs = (await done.one<{ c: number }>`SELECT count(*) AS c FROM done`).c;
      assert.ok(runs >= 1000);
      assert.deepEqual(await queue.counts(), { waiting: 0, active: 0, failed: 0, completed: 1000, dead: 0 });
    } finally {
      await queue.close();
      await done.close();
    }
  });
});
