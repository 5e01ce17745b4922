/**
 * The JobQueue conformance suite: every backend runs it, on queues of its own that it removes after. The
 * core runs everywhere; a capability's tests run where the queue declares it (`queue.capabilities`), and
 * skip, saying so, where it does not.
 */
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { hasDeadLetters, type JobQueue, type OpenJobQueueOptions } from 'weir/queue';
import { uniqueNamespace } from '../helpers/services.ts';
import { capabilityCases } from './conformance-capabilities.ts';
import { leaseCases } from './conformance-leases.ts';
import { requestIdCases } from './conformance-request-ids.ts';
import { timeoutCases } from './conformance-timeouts.ts';
import { type QueueTarget, type SuiteContext, until } from './suite.ts';

export type { QueueTarget } from './suite.ts';

export function runQueueSuite(name: string, target: QueueTarget, options: { skip: string | false }): void {
  describe(`JobQueue conformance: ${name}`, { skip: options.skip }, () => {
    const queues: JobQueue<unknown>[] = [];
    const open = async <T>(extra: OpenJobQueueOptions = {}, queueName?: string): Promise<JobQueue<T>> => {
      const queue = await target.open<T>(queueName ?? uniqueNamespace(name).replaceAll('-', '_'), extra);
      queues.push(queue as JobQueue<unknown>);
      return queue;
    };
    const suite: SuiteContext = { name, target, open };
    after(async () => {
      for (const queue of queues) {
        await target.cleanup?.(queue).catch(() => undefined);
        await queue.close();
      }
    });

    test('a job added is run once with its data and attempt 1', async () => {
      const queue = await open<{ to: string }>();
      const { id, duplicate } = await queue.add({ to: 'ada@example.com' });
      assert.equal(typeof id, 'string');
      assert.equal(duplicate, false);
      const seen: unknown[] = [];
      const consumer = queue.process(async (job) => {
        seen.push({ id: job.id, data: job.data, attempt: job.attempt, queue: job.queue });
        return { sent: true };
      });
      await until(() => seen.length === 1, 5000, 'the job ran');
      assert.deepEqual(seen[0], { id, data: { to: 'ada@example.com' }, attempt: 1, queue: queue.name });
      await consumer.close();
      assert.equal(consumer.processed, 1);
    });

    test('with concurrency 1, jobs run in the order they were added', async () => {
      const queue = await open<number>();
      for (let i = 0; i < 20; i++) await queue.add(i);
      const order: number[] = [];
      const consumer = queue.process((job) => {
        order.push(job.data);
      });
      await until(() => order.length === 20, 5000, 'all ran');
      await consumer.close();
      assert.deepEqual(
        order,
        Array.from({ length: 20 }, (_, i) => i),
      );
    });

    test('priority: higher runs first where declared; elsewhere it is checked, then ignored (order added)', async () => {
      const queue = await open<string>();
      await queue.add('low');
      await queue.add('high', { priority: 9 });
      await queue.add('mid', { priority: 5 });
      const order: string[] = [];
      const consumer = queue.process((job) => {
        order.push(job.data);
      });
      await until(() => order.length === 3, 5000, 'all ran');
      await consumer.close();
      assert.deepEqual(order, queue.capabilities.priority ? ['high', 'mid', 'low'] : ['low', 'high', 'mid']);
      await assert.rejects(queue.add('bad', { priority: 10 }), { code: 'WEIR_ERR_INVALID_OPTION' });
    });

    test('a failing job is retried with backoff, and completes when an attempt succeeds', async () => {
      const queue = await open<string>();
      const runs: number[] = [];
      await queue.add('flaky', { attempts: 3, backoff: { type: 'fixed', delayMs: 150, jitter: false } });
      const consumer = queue.process((job) => {
        runs.push(Date.now());
        if (job.attempt < 3) throw new Error(`attempt ${job.attempt} failed`);
        return 'ok';
      });
      await until(() => runs.length === 3, 5000, 'three attempts');
      await consumer.close();
      for (let i = 1; i < runs.length; i++) {
        const gap = (runs[i] as number) - (runs[i - 1] as number);
        assert.ok(gap >= 140, `attempt ${i + 1} came ${gap} ms after the one before, backoff is 150 ms`);
      }
    });

    test('exponential backoff grows', async () => {
      const queue = await open<string>();
      const runs: number[] = [];
      await queue.add('x', { attempts: 4, backoff: { delayMs: 60, jitter: false } });
      const consumer = queue.process(() => {
        runs.push(Date.now());
        throw new Error('no');
      });
      await until(() => runs.length === 4, 5000, 'four attempts');
      await consumer.close();
      const gaps = runs.slice(1).map((t, i) => t - (runs[i] as number));
      assert.ok(
        (gaps[0] as number) >= 55 && (gaps[1] as number) >= 115 && (gaps[2] as number) >= 235,
        `gaps ${gaps}`,
      );
    });

    test('a second add with the same idempotencyKey adds nothing', async () => {
      const queue = await open<string>();
      const first = await queue.add('a', { idempotencyKey: 'order-42' });
      const second = await queue.add('b', { idempotencyKey: 'order-42' });
      const other = await queue.add('c', { idempotencyKey: 'order-43' });
      assert.equal(second.id, first.id);
      assert.equal(second.duplicate, true);
      assert.notEqual(other.id, first.id);
      const ran: string[] = [];
      const consumer = queue.process((job) => {
        ran.push(job.data);
      });
      await until(() => ran.length === 2, 5000, 'two jobs');
      await delay(100);
      await consumer.close();
      assert.deepEqual(ran.sort(), ['a', 'c']);
    });

    test('an add whose deadline has passed adds nothing', async () => {
      const queue = await open<string>();
      await assert.rejects(queue.add('late', { deadline: Date.now() - 1 }), {
        code: 'WEIR_ERR_DEADLINE_EXCEEDED',
      });
      await queue.add('in time', { deadline: Date.now() + 10_000 });
      const ran: string[] = [];
      const consumer = queue.process((job) => {
        ran.push(job.data);
      });
      await until(() => ran.length === 1, 5000, 'one job');
      await delay(100);
      await consumer.close();
      assert.deepEqual(ran, ['in time']);
    });

    test('a delayed job does not run before its delay', async () => {
      const queue = await open<string>();
      const added = Date.now();
      await queue.add('later', { delay: 300 });
      let ranAt = 0;
      const consumer = queue.process(() => {
        ranAt = Date.now();
      });
      await until(() => ranAt > 0, 5000, 'the delayed job ran');
      await consumer.close();
      assert.ok(ranAt - added >= 290, `ran after ${ranAt - added} ms`);
    });

    test('concurrency bounds the jobs running at once', async () => {
      const queue = await open<number>();
      for (let i = 0; i < 24; i++) await queue.add(i);
      let now = 0;
      let peak = 0;
      let done = 0;
      const consumer = queue.process(
        async () => {
          now++;
          peak = Math.max(peak, now);
          await delay(30);
          now--;
          done++;
        },
        { concurrency: 4 },
      );
      await until(() => done === 24, 10_000, 'all done');
      await consumer.close();
      assert.equal(peak, 4);
    });

    test('close() lets running jobs finish; past its deadline they are aborted and run again elsewhere', async () => {
      const queue = await open<string>();
      await queue.add('quick');
      let finished = false;
      const first = queue.process(async () => {
        await delay(150);
        finished = true;
      });
      await until(() => first.running === 1, 5000, 'started');
      await first.close({ timeoutMs: 2000 });
      assert.equal(finished, true, 'the running job was waited for');

      const { id } = await queue.add('stuck');
      let aborted = false;
      const second = queue.process(
        (_job, { signal }) =>
          new Promise((_resolve, reject) => {
            signal.addEventListener('abort', () => {
              aborted = true;
              reject(signal.reason);
            });
          }),
      );
      await until(() => second.running === 1, 5000, 'started');
      await second.close({ timeoutMs: 50 });
      assert.equal(aborted, true);
      const attempts: number[] = [];
      const third = queue.process((job) => {
        if (job.id === id) attempts.push(job.attempt);
      });
      await until(() => attempts.length === 1, 5000, 'redelivered');
      await third.close();
      assert.deepEqual(attempts, [1], 'an aborted shutdown does not use up an attempt');
    });

    capabilityCases(suite);
    timeoutCases(suite);
    leaseCases(suite);
    requestIdCases(suite);

    test('names map to queues of their own: "x", "x_DEAD", "x-dead" and "x_dead" share no job and no dead letter', async () => {
      const base = uniqueNamespace(name).replaceAll('-', '_');
      // x first, with a dead job: on NATS its dead letters were once the stream x_DEAD's jobs took over.
      const x = await open<string>({}, base);
      await x.add('x', { attempts: 1 });
      const failing = x.process(() => {
        throw new Error('x fails');
      });
      if (hasDeadLetters(x)) await until(async () => (await x.dead()).length === 1, 5000, 'x died');
      else await until(() => failing.processed === 1, 5000, 'x ran');
      await failing.close();
      const others = [`${base}_DEAD`, `${base}-dead`, `${base}_dead`];
      const seen = new Map<string, string[]>();
      const consumers = [];
      for (const other of others) {
        const queue = await open<string>({}, other);
        await queue.add(other);
        seen.set(other, []);
        consumers.push(queue.process((job) => void seen.get(other)?.push(`${job.queue}:${job.data}`)));
        if (hasDeadLetters(queue)) assert.deepEqual(await queue.dead(), [], `${other} has no dead letters`);
      }
      await until(() => [...seen.values()].every((jobs) => jobs.length >= 1), 5000, 'each ran its job');
      await delay(100);
      await Promise.all(consumers.map((consumer) => consumer.close()));
      for (const other of others) assert.deepEqual(seen.get(other), [`${other}:${other}`]);
      if (hasDeadLetters(x))
        assert.deepEqual(
          (await x.dead()).map((job) => job.data),
          ['x'],
        );
    });

    test('a name is 1 to 100 letters, digits, "_" or "-": ".", wildcards, spaces, CR/LF and the rest are refused', async () => {
      const hostile: unknown[] = [
        'x.dead',
        'a.b',
        '',
        '-x',
        '_x',
        'a b',
        'a\r\nb',
        'a*',
        'a>',
        'é',
        '😀',
        'a/b',
        'x'.repeat(101),
        'x'.repeat(1_000_000),
        42,
        null,
        { name: 'x' },
      ];
      for (const bad of hostile) {
        await assert.rejects(
          target.open(bad as string),
          (err: Error & { code?: string }) => {
            assert.equal(err.code, 'WEIR_ERR_INVALID_OPTION');
            assert.ok(err.message.length < 400, 'the message does not echo a huge name');
            assert.doesNotMatch(err.message, /\r|\n/);
            return true;
          },
          JSON.stringify(bad)?.slice(0, 40),
        );
      }
      await assert.rejects(target.open('x.dead'), /"\." is weir's separator/);
      const longest = await open({}, `${uniqueNamespace('n').replaceAll('-', '_')}`.padEnd(100, 'z'));
      assert.equal(longest.name.length, 100);
    });

    test('bad input fails with clear codes', async () => {
      const queue = await open<unknown>({ maxDataBytes: 100 });
      await assert.rejects(queue.add({ n: 1n }), { code: 'WEIR_ERR_JOBS_DATA' });
      await assert.rejects(queue.add('x'.repeat(200)), { code: 'WEIR_ERR_JOBS_DATA' });
      await assert.rejects(queue.add(undefined), { code: 'WEIR_ERR_JOBS_DATA' });
      await assert.rejects(queue.add(1, { attempts: 0 }), { code: 'WEIR_ERR_INVALID_OPTION' });
      await assert.rejects(queue.add(1, { delay: -1 }), { code: 'WEIR_ERR_INVALID_OPTION' });
      await assert.rejects(queue.add(1, { priority: 10 }), { code: 'WEIR_ERR_INVALID_OPTION' });
      for (const jobTimeoutMs of [0, -1, 1.5, 2 ** 31, Number.POSITIVE_INFINITY, '5m' as unknown as number]) {
        await assert.rejects(queue.add(1, { jobTimeoutMs }), { code: 'WEIR_ERR_INVALID_OPTION' });
      }
      assert.throws(() => queue.process(() => undefined, { concurrency: 0 }), {
        code: 'WEIR_ERR_INVALID_OPTION',
      });
      const badOptions: OpenJobQueueOptions[] = [
        { attempts: 0 },
        { maxDataBytes: -1 },
        { idempotencyWindowMs: Number.NaN },
        { visibilityTimeoutMs: 1.5 },
        { visibilityTimeoutMs: 2 ** 31 },
        { backoff: { delayMs: -1 } },
        { idempotencyWindowMs: '1d' as unknown as number },
        { jobTimeoutMs: 0 },
        { jobTimeoutMs: 2 ** 31 },
      ];
      for (const bad of badOptions) {
        // Refused before connecting: a connection left open would keep this test process alive.
        await assert.rejects(target.open('q', bad), { code: 'WEIR_ERR_INVALID_OPTION' }, JSON.stringify(bad));
      }
      const closing = await open<number>();
      await closing.close();
      await assert.rejects(closing.add(1), { code: 'WEIR_ERR_JOBS_CLOSED' });
    });
  });
}
