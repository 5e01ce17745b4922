/**
 * The checks that narrow a {@link JobQueue} to a capability's methods. They read the backend's own
 * declaration (`capabilities`) and check that the methods are there, so a user-supplied queue that
 * declares what it lacks is not believed.
 */
import type { DeadLetters, JobQueue, JobStatus } from './types.ts';

/**
 * True when `queue` keeps every job's state, and narrows it to {@link JobStatus} (`get()`, `counts()`).
 * @example
 * if (hasJobStatus(queue)) return (await queue.get(id)) ?? notFound();
 * throw new HttpError(501, 'JOB_STATUS_UNAVAILABLE', `${queue.backend} keeps no job status`);
 */
export function hasJobStatus<T>(queue: JobQueue<T>): queue is JobQueue<T> & JobStatus<T> {
  const candidate = queue as Partial<JobStatus<T>> & JobQueue<T>;
  return (
    candidate.capabilities?.status === true &&
    typeof candidate.get === 'function' &&
    typeof candidate.counts === 'function'
  );
}

/**
 * True when `queue` keeps a dead-letter list, and narrows it to {@link DeadLetters} (`dead()`,
 * `retryDead()`).
 * @example
 * if (hasDeadLetters(queue)) await queue.retryDead();
 */
export function hasDeadLetters<T>(queue: JobQueue<T>): queue is JobQueue<T> & DeadLetters<T> {
  const candidate = queue as Partial<DeadLetters<T>> & JobQueue<T>;
  return (
    candidate.capabilities?.deadLetters === true &&
    typeof candidate.dead === 'function' &&
    typeof candidate.retryDead === 'function'
  );
}
