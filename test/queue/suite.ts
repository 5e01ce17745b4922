/**
 * What the conformance cases share: the queue a case opens (removed after the suite), and waiting for an
 * outcome with a deadline.
 */
import assert from 'node:assert/strict';
import type { TestContext } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import type { JobQueue, OpenJobQueueOptions } from 'weir/queue';

export interface QueueTarget {
  open<T>(name: string, options?: OpenJobQueueOptions): Promise<JobQueue<T>>;
  /** Removes what a queue left on the server (streams, queues), before it is closed. */
  cleanup?(queue: JobQueue<unknown>): Promise<void>;
}

export interface SuiteContext {
  /** The suite's label, the backend's name. */
  readonly name: string;
  readonly target: QueueTarget;
  /** Opens a queue of a fresh name (or `queueName`), removed after the suite. */
  open<T>(extra?: OpenJobQueueOptions, queueName?: string): Promise<JobQueue<T>>;
}

/** Waits until `condition` holds, failing with `what` past `timeoutMs`. */
export async function until(
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
export function skipWithout(t: TestContext, capability: string): void {
  t.skip(`the backend does not declare the ${capability} capability`);
}
