/**
 * weir/queue: durable job queues with acks, retries with backoff, a dead-letter list and graceful
 * consumers, picked by URL. Importing it loads no driver.
 * @module
 */

export type { JobQueueOptions } from './base.ts';
export { DEFAULT_QUEUE_URL, type OpenJobQueueOptions, openJobQueue } from './open.ts';
export type {
  Added,
  AddOptions,
  BackoffOptions,
  Consumer,
  Job,
  JobCounts,
  JobHandler,
  JobInfo,
  JobQueue,
  JobState,
  ProcessOptions,
} from './types.ts';
