/**
 * The JobQueue conformance suite: every backend runs it, on queues of its own that it removes after. The
 * core runs everywhere; a capability's tests run where the queue declares it (`queue.capabilities`), and
 * skip, saying so, where it does not.
 */
import assert from 'node:assert/strict';
import { after, describe, type TestContext, test } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { hasDeadLetters, hasJobStatus, type JobQueue, type OpenJobQueueOptions } from 'weir/queue';
import { uniqueNamespace } from '../helpers/services.ts';

export interface QueueTarget {
  open<T>(name: string, options?: OpenJobQueueOptions): Promise<JobQueue<T>>;
  /** Removes what a queue left on the server (streams, queues), before it is closed. */
  cleanup?(queue: JobQueue<unknown>): Promise<void>;
}

async function until(
  condition: () => boolean | Promise<boolean>,
  timeoutMs: number,
  what: string,
): Promise<void> {
  const start = Date.now();
  while (!(await condition())) {
    if (Date.now() - start > timeoutMs) assert.fail(`${what}: not within ${timeoutMs} ms`);
    await delay(10);
  }
}

/** Marks the test skipped: the queue does not declare `capability`, so it offers none of its methods. */
function skipWithout(t: TestContext, capability: string): void {
  t.skip(`the backend does not declare the ${capability} capability`);
}

export function runQueueSuite(name: string, target: QueueTarget, options: { skip: string | false }): void {
  describe(`JobQueue conformance: ${name}`, { skip: options.skip }, () => {
    const queues: JobQueue<unknown>[] = [];
    const open = async <T>(extra: OpenJobQueueOptions = {}, queueName?: string): Promise<JobQueue<T>> => {
      const queue = await target.open<T>(queueName ?? uniqueNamespace(name).replaceAll('-', '_'), extra);
      queues.push(queue as JobQueue<unknown>);
      return queue;
    };
    after(async () => {
      for (const queue of queues) {
        await target.cleanup?.(queue).catch(() => undefined);
        await queue.close();
      }
    });

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

    test('jobTimeoutMs: past it, a handler that honours its signal is aborted and the attempt fails', async () => {
      const queue = await open<string>();
      // A job with the queue's 5 minutes runs first, so the short deadline comes after a longer one.
      await queue.add('long');
      const { id } = await queue.add('slow', { jobTimeoutMs: 100, attempts: 1 });
      const reasons: unknown[] = [];
      let finishLong!: () => void;
      const consumer = queue.process(
        (job, { signal }) =>
          new Promise<void>((resolve, reject) => {
            if (job.data === 'long') finishLong = resolve;
            signal.addEventListener('abort', () => {
              reasons.push(`${job.data} ${(signal.reason as { code?: string }).code}`);
              reject(new Error('stopped: aborted'));
            });
          }),
        { concurrency: 2 },
      );
      await until(() => reasons.length === 1, 5000, 'aborted');
      assert.deepEqual(reasons, ['slow WEIR_ERR_JOBS_TIMEOUT']);
      if (hasDeadLetters(queue)) {
        await until(async () => (await queue.dead()).length === 1, 5000, 'dead-lettered');
        const [dead] = await queue.dead();
        assert.equal(dead?.id, id);
        assert.match(dead?.lastError ?? '', /ran past its jobTimeoutMs \(100 ms\)/);
      }
      if (hasJobStatus(queue)) assert.equal((await queue.get(id))?.state, 'dead');
      finishLong();
      await until(() => consumer.processed === 2, 5000, 'the long job completed');
      await consumer.close();
      assert.deepEqual(reasons, ['slow WEIR_ERR_JOBS_TIMEOUT'], 'the long job was not aborted');
    });

    test('jobTimeoutMs: a handler that hangs, ignoring its signal, ends dead after maxAttempts, logged once per attempt', async () => {
      const warnings: { obj: unknown; msg?: string }[] = [];
      const logger = {
        error() {},
        info() {},
        debug() {},
        warn(obj: unknown, msg?: string) {
          warnings.push({ obj, msg });
        },
      };
      // Leases renewed every 100 ms: a warning repeated per renewal would show below.
      const queue = await open<string>({ jobTimeoutMs: 100, visibilityTimeoutMs: 300, logger });
      const { id } = await queue.add('hangs', { attempts: 2, backoff: { type: 'fixed', delayMs: 10 } });
      const attempts: number[] = [];
      const hung: (() => void)[] = [];
      const consumer = queue.process(
        (job) =>
          new Promise<string>((resolve) => {
            attempts.push(job.attempt);
            hung.push(() => resolve('finished late'));
          }),
        { concurrency: 2 },
      );
      await until(() => attempts.length === 2, 5000, 'a second attempt while the first still hangs');
      if (hasDeadLetters(queue)) {
        await until(async () => (await queue.dead()).length === 1, 5000, 'dead after two timeouts');
        const [dead] = await queue.dead();
        assert.equal(dead?.id, id);
        assert.equal(dead?.attempts, 2);
        assert.match(dead?.lastError ?? '', /jobTimeoutMs/);
      }
      await until(() => warnings.length === 2, 5000, 'each ignored abort logged');
      await delay(500);
      assert.equal(warnings.length, 2, 'logged once per hung attempt, not again');
      assert.deepEqual(
        warnings.map((w) => (w.obj as { job: string; attempt: number }).attempt),
        [1, 2],
      );
      assert.ok(warnings.every((w) => (w.obj as { job: string }).job === id));
      assert.match(warnings[0]?.msg ?? '', /ignored its abort signal/);
      assert.deepEqual(attempts, [1, 2], 'no third attempt');
      assert.equal(consumer.running, 2, 'the hung handlers still hold their slots');
      for (const finish of hung) finish();
      await until(() => consumer.running === 0, 5000, 'slots freed once the handlers returned');
      // What they returned late is not recorded: the job stays dead.
      if (hasDeadLetters(queue)) assert.equal((await queue.dead()).length, 1);
      if (hasJobStatus(queue)) assert.equal((await queue.get(id))?.state, 'dead');
      await consumer.close();
    });

    test('jobTimeoutMs: a handler that ignores its signal keeps its concurrency slot until it returns', async () => {
      const warned: unknown[] = [];
      const logger = { error() {}, info() {}, debug() {}, warn: (obj: unknown) => void warned.push(obj) };
      const queue = await open<string>({ jobTimeoutMs: 100, logger });
      await queue.add('a', { attempts: 1 });
      await queue.add('b', { attempts: 1 });
      const started: string[] = [];
      let release!: () => void;
      const consumer = queue.process((job) => {
        started.push(job.data);
        if (job.data === 'a') return new Promise<void>((resolve) => (release = resolve));
        return undefined;
      });
      await until(() => warned.length === 1, 5000, 'a timed out and its handler was reported');
      assert.deepEqual(started, ['a'], 'b waits: a still holds the only slot');
      assert.equal(consumer.running, 1);
      release();
      await until(() => started.length === 2, 5000, 'b ran once a returned');
      assert.deepEqual(started, ['a', 'b']);
      await consumer.close();
    });

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
