/**
 * The conformance cases of leases: a job's lease runs out only when its worker is gone, never while a
 * live worker holds the job (running, or arrived and waiting to start), so a slow or short-leased worker
 * neither runs a job twice nor uses up its attempts.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { hasDeadLetters, hasJobStatus } from 'weir/queue';
import { type SuiteContext, until } from './suite.ts';

/** A lease shorter than a broker's pull wait (JetStream's is at least a second). */
const SHORT_LEASE_MS = 300;

export function leaseCases(suite: SuiteContext): void {
  const { open } = suite;

  test('a live worker with free slots runs each job once, at attempt 1, however short the lease: none dead-lettered', async () => {
    const queue = await open<number>({ visibilityTimeoutMs: SHORT_LEASE_MS });
    // Fewer jobs than slots: a worker that waited to fill its slots before starting them would hold
    // them past their lease, and get them again counted as a second attempt (here, past the last).
    for (const n of [1, 2]) await queue.add(n, { attempts: 1 });
    const runs: string[] = [];
    const consumer = queue.process(
      (job) => {
        runs.push(`${job.data}#${job.attempt}`);
      },
      { concurrency: 8 },
    );
    await until(() => runs.length === 2, 5000, 'both jobs ran');
    // Time for a lapsed lease to bring a job back: several leases, and a broker's pull wait.
    await delay(SHORT_LEASE_MS * 3 + 1000);
    await consumer.close();
    assert.deepEqual(runs.sort(), ['1#1', '2#1'], 'each ran once, at attempt 1');
    if (hasDeadLetters(queue)) assert.deepEqual(await queue.dead(), []);
    if (hasJobStatus(queue)) assert.deepEqual(await queue.counts(), { ...zero, completed: 2 });
  });

  test('a job that arrives while its consumer closes is given back unrun, its attempt not counted', async () => {
    const queue = await open<string>({ visibilityTimeoutMs: SHORT_LEASE_MS });
    const ran: string[] = [];
    const first = queue.process(
      (job) => {
        ran.push(`first ${job.data}`);
      },
      { concurrency: 4 },
    );
    // Idle, so it is waiting for jobs (a broker: a pull request is open) when it closes.
    await delay(200);
    const closing = first.close();
    await queue.add('late', { attempts: 1 });
    await closing;
    const attempts: string[] = [];
    const second = queue.process((job) => {
      attempts.push(`${job.data}#${job.attempt}`);
    });
    await until(() => ran.length + attempts.length >= 1, 5000, 'the late job ran');
    await delay(SHORT_LEASE_MS * 3 + 1000);
    await second.close();
    assert.deepEqual([...ran, ...attempts], ['late#1'], 'run once, by the second consumer, at attempt 1');
    if (hasDeadLetters(queue)) assert.deepEqual(await queue.dead(), []);
  });
}

const zero = { waiting: 0, active: 0, failed: 0, completed: 0, dead: 0 };
