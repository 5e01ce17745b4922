import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { headers } from '@nats-io/transport-node';
import { hasDeadLetters, openJobQueue } from 'weir/queue';
import { NATS_URL, natsSkip, uniqueNamespace } from '../helpers/services.ts';
import { natsBacklog, natsStreams, withJetStream } from './brokers.ts';
import { runQueueSuite } from './conformance.ts';
import { brokerAwayTest, connectionDropTest, consumerDropTest, crashTest } from './crash.ts';
import { until } from './suite.ts';

const skip = await natsSkip();

/** Deletes the queue's streams on the server. */
async function destroy(queue: unknown): Promise<void> {
  await (queue as { destroy(): Promise<void> }).destroy();
}

runQueueSuite(
  'nats',
  {
    open: (name, options) => openJobQueue(name, { url: NATS_URL, ...options }),
    cleanup: destroy,
  },
  { skip },
);

describe('NATS job queue specifics', { skip }, () => {
  test('an unreachable server fails the open with one line, password masked', async () => {
    await assert.rejects(
      openJobQueue('q', { url: 'nats://weir:hunter2@127.0.0.1:1' }),
      (err: Error & { code?: string }) => {
        assert.equal(err.code, 'WEIR_ERR_JOBS_UNAVAILABLE');
        assert.doesNotMatch(err.message, /hunter2/);
        return true;
      },
    );
  });

  test("dead letters an earlier weir kept in WEIR_<name>_DEAD move to the queue's own stream on open", async () => {
    const name = uniqueNamespace('natslegacy').replaceAll('-', '_');
    const died = Date.parse('2025-01-02T03:04:05Z');
    await withJetStream(async (jsm, js) => {
      await jsm.streams.add({
        name: `WEIR_${name}_DEAD`,
        subjects: [`weir.dead.${name}`],
        storage: 'memory',
      });
      for (const n of [1, 2]) {
        const h = headers();
        h.set('Weir-Job-Id', `old-${n}`);
        h.set('Weir-Max-Attempts', '3');
        h.set('Weir-Attempts', '3');
        h.set('Weir-Created', String(died - 1000));
        h.set('Weir-Last-Error', `error ${n}`);
        await js.publish(`weir.dead.${name}`, new TextEncoder().encode(JSON.stringify({ n })), {
          headers: h,
        });
      }
    });
    const queue = await openJobQueue<{ n: number }>(name, { url: NATS_URL });
    try {
      assert.ok(hasDeadLetters(queue));
      const dead = await queue.dead();
      assert.deepEqual(
        dead.map((job) => [job.id, job.data, job.attempts, job.lastError]),
        [
          ['old-1', { n: 1 }, 3, 'error 1'],
          ['old-2', { n: 2 }, 3, 'error 2'],
        ],
      );
      assert.ok(dead.every((job) => job.finishedAt !== undefined && job.finishedAt.getTime() < Date.now()));
      assert.ok(!(await natsStreams()).includes(`WEIR_${name}_DEAD`), 'the old stream is gone');
      assert.equal(await queue.retryDead('old-2'), 1, 'a moved job is found by its id');
      assert.deepEqual(
        (await queue.dead()).map((job) => job.id),
        ['old-1'],
      );
    } finally {
      await destroy(queue);
      await queue.close();
    }
  });

  test("a stream of the queue's name with other subjects is refused with WEIR_ERR_JOBS_NAME_TAKEN, and left as it was", async () => {
    const name = uniqueNamespace('natstaken').replaceAll('-', '_');
    await withJetStream((jsm) =>
      jsm.streams.add({ name: `WEIR_${name}`, subjects: [`elsewhere.${name}`], storage: 'memory' }),
    );
    try {
      await assert.rejects(openJobQueue(name, { url: NATS_URL }), { code: 'WEIR_ERR_JOBS_NAME_TAKEN' });
      const subjects = await withJetStream(
        async (jsm) => (await jsm.streams.info(`WEIR_${name}`)).config.subjects,
      );
      assert.deepEqual(subjects, [`elsewhere.${name}`]);
    } finally {
      await withJetStream((jsm) => jsm.streams.delete(`WEIR_${name}`));
    }
  });

  test("a queue named x_DEAD opened while an earlier weir's dead letters of x are in WEIR_x_DEAD does not take them over", async () => {
    const name = uniqueNamespace('natsdeadname').replaceAll('-', '_');
    await withJetStream((jsm) =>
      jsm.streams.add({ name: `WEIR_${name}_DEAD`, subjects: [`weir.dead.${name}`], storage: 'memory' }),
    );
    try {
      await assert.rejects(openJobQueue(`${name}_DEAD`, { url: NATS_URL }), {
        code: 'WEIR_ERR_JOBS_NAME_TAKEN',
      });
      const x = await openJobQueue(name, { url: NATS_URL });
      await x.close();
      const other = await openJobQueue(`${name}_DEAD`, { url: NATS_URL });
      await destroy(other);
      await other.close();
      const reopened = await openJobQueue(name, { url: NATS_URL });
      await destroy(reopened);
      await reopened.close();
    } finally {
      await withJetStream((jsm) => jsm.streams.delete(`WEIR_${name}_DEAD`).catch(() => false));
    }
  });

  test('a message another producer published with a request id header that is not one is run and listed dead with none', async () => {
    const name = uniqueNamespace('natsforeign').replaceAll('-', '_');
    const queue = await openJobQueue<string>(name, { url: NATS_URL, attempts: 1 });
    // NATS headers cannot hold CR or LF (they end a header line), so no value here has them.
    const values: [string, string | undefined][] = [
      ['too long', 'x'.repeat(300)],
      ['a space', 'req 1'],
      ['non-ASCII', 'réq-1'],
      ['markup', '<script>alert(1)</script>'],
      ['a quote', 'req"1'],
      ['absent', undefined],
      ['well-formed', 'req-foreign-1'],
    ];
    try {
      assert.ok(hasDeadLetters(queue));
      await withJetStream(async (_jsm, js) => {
        for (const [n, [label, value]] of values.entries()) {
          const h = headers();
          if (value !== undefined) h.set('Weir-Request-Id', value);
          const data = new TextEncoder().encode(JSON.stringify(label));
          await js.publish(`weir.jobs.${name}`, data, { headers: h });
          const dead = headers();
          dead.set('Weir-Job-Id', `foreign-${n}`);
          if (value !== undefined) dead.set('Weir-Request-Id', value);
          await js.publish(`weir.dead.${name}.foreign-${n}`, data, { headers: dead });
        }
      });
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
    await crashTest(NATS_URL, uniqueNamespace('natscrash').replaceAll('-', '_'), destroy, (name) =>
      natsBacklog(`WEIR_${name}`),
    );
  });

  test('a publisher whose connection is cut loses no confirmed job', async () => {
    await connectionDropTest(NATS_URL, uniqueNamespace('natsdrop').replaceAll('-', '_'), destroy);
  });

  test('a consumer whose connection is cut reconnects and runs every job', async () => {
    await consumerDropTest(NATS_URL, uniqueNamespace('natscdrop').replaceAll('-', '_'), destroy);
  });

  test('with the broker gone, adds reject with WEIR_ERR_JOBS_UNAVAILABLE and the consumer and queue still close', async () => {
    await brokerAwayTest(NATS_URL, uniqueNamespace('natsaway').replaceAll('-', '_'), destroy);
  });
});
