/**
 * The conformance cases of jobTimeoutMs: a hung handler does not hold its job for ever.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { hasDeadLetters, hasJobStatus } from 'weir/queue';
import { type SuiteContext, until } from './suite.ts';

export function timeoutCases(suite: SuiteContext): void {
  const { open } = suite;

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
        // The failed first attempt is logged too (as any failed attempt is): these are the others.
        if (!/attempt failed/.test(msg ?? '')) warnings.push({ obj, msg });
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
}
