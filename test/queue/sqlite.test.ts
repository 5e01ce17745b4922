import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { openJobQueue } from 'weir/queue';
import { runQueueSuite } from './conformance.ts';
import { crashTest } from './crash.ts';

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
