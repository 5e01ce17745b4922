/**
 * weir/queue: durable job queues with acks, retries with backoff, a dead-letter list and graceful
 * consumers, picked by URL. Importing it loads no driver.
 * @module
 */

export type { JobQueueOptions } from './base.ts';
export { hasDeadLetters, hasJobStatus } from './capabilities.ts';
export { DEFAULT_QUEUE_URL, type OpenJobQueueOptions, openJobQueue } from './open.ts';
export { type JobOutcome, jobChannel } from './runner.ts';
export type { SqliteJobQueue } from './sqlite.ts';
export type {
  Added,
  AddOptions,
  BackoffOptions,
  Consumer,
  DeadJob,
  DeadLetters,
  DeadListOptions,
  Job,
  JobCounts,
  JobHandler,
  JobInfo,
  JobQueue,
  JobQueueCapabilities,
  JobState,
  JobStatus,
  ProcessOptions,
} from './types.ts';
