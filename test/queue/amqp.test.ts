import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { hasDeadLetters, openJobQueue } from 'weir/queue';
import { delayBucket } from '../../src/queue/amqp.ts';
import { amqpNames } from '../../src/queue/names.ts';
import { AMQP_URL, amqpSkip, uniqueNamespace } from '../helpers/services.ts';
import { amqpConsumers, amqpDepth, amqpPublish, amqpQueue } from './brokers.ts';
import { runQueueSuite } from './conformance.ts';
import { brokerAwayTest, connectionDropTest, consumerDropTest, crashTest, cuttableProxy } from './crash.ts';
import { until } from './suite.ts';

const skip = await amqpSkip();

/** Deletes the queue's queues on the broker. */
async function destroy(queue: unknown): Promise<void> {
  await (queue as { destroy(): Promise<void> }).destroy();
}

runQueueSuite(
  'amqp',
  {
    open: (name, options) => openJobQueue(name, { url: AMQP_URL, ...options }),
    cleanup: destroy,
  },
  { skip },
);

describe('RabbitMQ job queue specifics', { skip }, () => {
  test('an unreachable broker fails the open with one line, password masked', async () => {
    await assert.rejects(
      openJobQueue('q', { url: 'amqp://weir:hunter2@127.0.0.1:1' }),
      (err: Error & { code?: string }) => {
        assert.equal(err.code, 'WEIR_ERR_JOBS_UNAVAILABLE');
        assert.doesNotMatch(err.message, /hunter2/);
        return true;
      },
    );
  });

  test('an idempotency key is a marker queue that expires with the window, and destroy() removes it', async () => {
    const name = uniqueNamespace('amqpkeys');
    const queue = await openJobQueue<number>(name, { url: AMQP_URL, idempotencyWindowMs: 60_000 });
    const marker = amqpNames(name).key('order-1');
    try {
      const first = await queue.add(1, { idempotencyKey: 'order-1' });
      assert.deepEqual(await queue.add(2, { idempotencyKey: 'order-1' }), { id: first.id, duplicate: true });
      assert.equal(await amqpDepth(marker), 1, 'the marker holds the first job id');
    } finally {
      await destroy(queue);
      await queue.close();
    }
    assert.equal(await amqpDepth(marker), undefined, 'destroy() removed the marker');
    for (const bad of [0, -1, 1.5, Number.NaN, '60000']) {
      await assert.rejects(openJobQueue('q', { url: AMQP_URL, idempotencyWindowMs: bad as number }), {
        code: 'WEIR_ERR_INVALID_OPTION',
      });
    }
  });

  test('an add whose job the broker refuses after its key was recorded frees the key: a retry adds the job', async () => {
    const name = uniqueNamespace('amqpkeyfree');
    const queue = await openJobQueue<number>(name, { url: AMQP_URL });
    // A queue of the delay bucket's name with other arguments: declaring weir's makes the broker refuse
    // the job (PRECONDITION_FAILED) after its idempotency key was recorded.
    const delayQueue = amqpNames(name).delay(delayBucket(60_000));
    await amqpQueue(delayQueue, { durable: false });
    try {
      await assert.rejects(queue.add(1, { idempotencyKey: 'order-9', delay: 60_000 }), {
        code: 'WEIR_ERR_JOBS_UNAVAILABLE',
      });
      assert.equal(await amqpDepth(amqpNames(name).key('order-9')), undefined, 'the marker was removed');
      const retry = await queue.add(1, { idempotencyKey: 'order-9' });
      assert.equal(retry.duplicate, false);
      assert.equal(await amqpDepth(`weir.${name}`), 1, 'the retried job is stored');
      assert.deepEqual(await queue.add(1, { idempotencyKey: 'order-9' }), { id: retry.id, duplicate: true });
    } finally {
      await amqpQueue(delayQueue, 'remove');
      await destroy(queue);
      await queue.close();
    }
  });

  test('destroy() removes the delay queues it declared, also once a consumer has started', async () => {
    const name = uniqueNamespace('amqpdelays');
    const queue = await openJobQueue<number>(name, { url: AMQP_URL });
    const delayQueue = amqpNames(name).delay(delayBucket(60_000));
    try {
      await queue.add(1, { delay: 60_000 });
      // A consumer's channel declares the queue's queues again, as a channel made after a reconnect does.
      const consumer = queue.process(() => undefined);
      await until(async () => (await amqpConsumers(`weir.${name}`)) === 1, 5000, 'the consumer started');
      await consumer.close();
      assert.equal(await amqpDepth(delayQueue), 1, 'the delayed job waits in its delay queue');
    } finally {
      await destroy(queue);
      await queue.close();
    }
    assert.equal(await amqpDepth(delayQueue), undefined, 'destroy() removed the delay queue');
  });

  test('a message another producer published with a request id header that is not one is run and listed dead with none', async () => {
    const name = uniqueNamespace('amqpforeign');
    const queue = await openJobQueue<string>(name, { url: AMQP_URL, attempts: 1 });
    const names = amqpNames(name);
    const values: [string, unknown][] = [
      ['too long', 'x'.repeat(300)],
      ['a newline', 'req-1\nX-Injected: 1'],
      ['CR/LF', 'req-1\r\n'],
      ['empty', ''],
      ['a space', 'req 1'],
      ['non-ASCII', 'réq-1'],
      ['a number', 42],
      ['a boolean', true],
      ['bytes', Buffer.from('req-bytes')],
      ['a table', { id: 'req-1' }],
      ['an array', ['req-1']],
      ['well-formed', 'req-foreign-1'],
    ];
    try {
      assert.ok(hasDeadLetters(queue));
      await amqpPublish(
        [names.main, names.dead].flatMap((target) =>
          values.map(([label, value]) => ({
            queue: target,
            content: JSON.stringify(label),
            headers: { 'x-weir-request-id': value },
          })),
        ),
      );
      const seen = new Map<string, string | undefined>();
      const consumer = queue.process((job) => {
        seen.set(job.data, job.requestId);
      });
      await until(() => seen.size === values.length, 5000, 'every foreign job ran');
      await consumer.close();
      const expected = new Map(values.map(([label]) => [label, undefined as string | undefined]));
      expected.set('well-formed', 'req-foreign-1');
      assert.deepEqual(seen, expected);
      const dead = await queue.dead();
      assert.deepEqual(new Map(dead.map((job) => [job.data, job.requestId])), expected);
    } finally {
      await destroy(queue);
      await queue.close();
    }
  });

  test('crash test: 1,000 jobs, the worker is killed with SIGKILL midway, a new one finishes: none lost', async () => {
    await crashTest(AMQP_URL, uniqueNamespace('amqpcrash'), destroy, async (name) => {
      return (await amqpDepth(`weir.${name}`)) ?? Number.NaN;
    });
  });

  test('a publisher whose connection is cut loses no confirmed job', async () => {
    await connectionDropTest(AMQP_URL, uniqueNamespace('amqpdrop'), destroy);
  });

  test('a consumer whose connection is cut reconnects and runs every job', async () => {
    await consumerDropTest(AMQP_URL, uniqueNamespace('amqpcdrop'), destroy);
  });

  test('with the connection just cut, an add that declares a queue first (a key, a new delay) rejects with WEIR_ERR_JOBS_UNAVAILABLE', async () => {
    const name = uniqueNamespace('amqpdeclare');
    const target = new URL(AMQP_URL);
    const proxy = await cuttableProxy(target);
    // A marker that reached the broker after all expires within a minute.
    const queue = await openJobQueue<number>(name, {
      url: proxy.url(target.protocol),
      idempotencyWindowMs: 60_000,
    });
    try {
      await queue.add(0);
      // The publisher channel is still there when the next add takes it: its declaration fails.
      await proxy.close();
      await assert.rejects(queue.add(1, { idempotencyKey: 'order-1' }), {
        code: 'WEIR_ERR_JOBS_UNAVAILABLE',
      });
      await assert.rejects(queue.add(2, { delay: 60_000 }), { code: 'WEIR_ERR_JOBS_UNAVAILABLE' });
    } finally {
      await queue.close();
      const direct = await openJobQueue(name, { url: AMQP_URL });
      await destroy(direct);
      await direct.close();
    }
  });

  test('with the broker gone, adds reject with WEIR_ERR_JOBS_UNAVAILABLE and the consumer and queue still close', async () => {
    await brokerAwayTest(AMQP_URL, uniqueNamespace('amqpaway'), destroy);
  });
});
