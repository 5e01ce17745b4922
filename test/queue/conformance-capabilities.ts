/**
 * The conformance cases of the capabilities: each runs where the queue declares its capability, and
 * skips, saying so, where it does not.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { hasDeadLetters, hasJobStatus } from 'weir/queue';
import { type SuiteContext, skipWithout, until } from './suite.ts';

export function capabilityCases(suite: SuiteContext): void {
  const { open } = suite;

  test('each capability it declares comes with its methods; one it does not declare, has none', async () => {
    const queue = await open();
    const { capabilities } = queue;
    for (const key of ['status', 'deadLetters', 'priority'] as const) {
      assert.equal(typeof capabilities[key], 'boolean', key);
    }
    const has = (method: string) =>
      typeof (queue as unknown as Record<string, unknown>)[method] === 'function';
    assert.equal(has('get') && has('counts'), capabilities.status);
    assert.equal(has('get') || has('counts'), capabilities.status, 'no half of the status capability');
    assert.equal(has('dead') && has('retryDead'), capabilities.deadLetters);
    assert.equal(has('dead') || has('retryDead'), capabilities.deadLetters);
    assert.equal(hasJobStatus(queue), capabilities.status);
    assert.equal(hasDeadLetters(queue), capabilities.deadLetters);
  });

  test('status: a completed job keeps its result and is counted; an unknown id is undefined', async (t) => {
    const queue = await open<{ to: string }>();
    if (!hasJobStatus(queue)) return skipWithout(t, 'status');
    const { id } = await queue.add({ to: 'ada@example.com' });
    assert.equal((await queue.get(id))?.state, 'waiting');
    const consumer = queue.process(async () => ({ sent: true }));
    await until(async () => (await queue.get(id))?.state === 'completed', 5000, 'completed');
    await consumer.close();
    const job = await queue.get(id);
    assert.deepEqual(job?.result, { sent: true });
    assert.equal(job?.attempts, 1);
    assert.deepEqual(await queue.counts(), { waiting: 0, active: 0, failed: 0, completed: 1, dead: 0 });
    assert.equal(await queue.get('no-such-id'), undefined);
    assert.equal(await queue.get('\r\n😀'.repeat(1000)), undefined);
  });

  test('dead letters: a job that fails every attempt is listed dead, and can be re-queued', async (t) => {
    const queue = await open<{ n: number }>();
    if (!hasDeadLetters(queue)) return skipWithout(t, 'deadLetters');
    let healthy = false;
    const before = Date.now();
    const { id } = await queue.add({ n: 1 }, { attempts: 2, backoff: { type: 'fixed', delayMs: 10 } });
    let runs = 0;
    const consumer = queue.process(() => {
      runs++;
      if (!healthy) throw new Error('smtp down');
      return 'sent';
    });
    await until(async () => (await queue.dead()).length === 1, 5000, 'dead-lettered');
    assert.equal(runs, 2);
    const [dead] = await queue.dead();
    assert.equal(dead?.id, id);
    assert.equal(dead?.queue, queue.name);
    assert.equal(dead?.lastError, 'smtp down');
    assert.deepEqual(dead?.data, { n: 1 });
    assert.equal(dead?.attempts, 2);
    assert.equal(dead?.maxAttempts, 2);
    assert.ok(dead.createdAt.getTime() >= before - 1000, 'createdAt is when it was added');
    assert.ok(dead.finishedAt !== undefined, 'the time it died is recorded');
    assert.ok(dead.finishedAt.getTime() >= dead.createdAt.getTime(), 'it died after it was added');
    if (hasJobStatus(queue)) {
      assert.equal((await queue.get(id))?.state, 'dead');
      assert.equal((await queue.counts()).dead, 1);
    }
    assert.equal(await queue.retryDead('no-such-id'), 0);
    healthy = true;
    assert.equal(await queue.retryDead(id), 1);
    await until(() => runs === 3, 5000, 'ran again');
    await until(async () => (await queue.dead()).length === 0, 2000, 'left the dead list');
    await consumer.close();
  });

  test('dead letters: dead() reads oldest first up to its limit; retryDead() puts back all', async (t) => {
    const queue = await open<number>();
    if (!hasDeadLetters(queue)) return skipWithout(t, 'deadLetters');
    for (let n = 0; n < 5; n++) await queue.add(n, { attempts: 1 });
    const consumer = queue.process(
      (job) => {
        throw new Error(`no ${job.data}`);
      },
      { concurrency: 1 },
    );
    await until(async () => (await queue.dead()).length === 5, 5000, 'all dead');
    await consumer.close();
    assert.deepEqual(
      (await queue.dead({ limit: 3 })).map((job) => job.data),
      [0, 1, 2],
    );
    assert.deepEqual(
      (await queue.dead()).map((job) => job.data),
      [0, 1, 2, 3, 4],
      'reading took nothing out',
    );
    for (const limit of [0, -1, 1.5, 10_001, Number.NaN, '3' as unknown as number]) {
      await assert.rejects(queue.dead({ limit }), { code: 'WEIR_ERR_INVALID_OPTION' }, String(limit));
    }
    for (const hostile of ['', '*', '>', 'a.b', 'x\r\ny', '😀'.repeat(500)]) {
      assert.equal(await queue.retryDead(hostile), 0, JSON.stringify(hostile));
    }
    assert.equal(await queue.retryDead(), 5);
    assert.deepEqual(await queue.dead(), []);
    const ran: number[] = [];
    const again = queue.process((job) => {
      ran.push(job.data);
    });
    await until(() => ran.length === 5, 5000, 're-queued jobs ran');
    await again.close();
    assert.deepEqual(ran, [0, 1, 2, 3, 4]);
  });
}
