/**
 * weir/queue's public shapes: the same on every backend. What differs by backend (job status, priority)
 * is said where it differs.
 */
import type { SignalOptions } from '../concurrency/sleep.ts';

/**
 * Where a job is:
 * - `waiting`: ready to run, or due later (`delay`);
 * - `active`: a worker holds it;
 * - `failed`: an attempt failed, and it waits for its next (after the backoff);
 * - `completed`: its handler resolved;
 * - `dead`: every attempt failed; it stays in the dead-letter list until re-queued.
 */
export type JobState = 'waiting' | 'active' | 'failed' | 'completed' | 'dead';

/** How long to wait before attempt n + 1 after attempt n failed. */
export interface BackoffOptions {
  /** `exponential`: delayMs × 2^(n−1); `fixed`: delayMs each time. @default 'exponential' */
  type?: 'exponential' | 'fixed';
  /** @default 1000 */
  delayMs?: number;
  /** The longest wait. @default 3_600_000 (an hour) */
  maxDelayMs?: number;
  /** Spreads each wait over [½, 1] of itself, so that jobs that failed together do not retry together. @default true */
  jitter?: boolean;
}

/** Options of one job; those not given come from the queue's options. */
export interface AddOptions extends SignalOptions {
  /** Milliseconds before the job may run. @default 0 */
  delay?: number;
  /** How many times the handler may run before the job is dead. @default 3 */
  attempts?: number;
  backoff?: BackoffOptions;
  /** Higher runs first among ready jobs (0…9). @default 0 */
  priority?: number;
  /**
   * A second add with the same key, while the first is known (within `idempotencyWindowMs`), adds nothing
   * and answers the first job's id with `duplicate: true`.
   */
  idempotencyKey?: string;
}

/** What `add()` answers. */
export interface Added {
  readonly id: string;
  /** True when an earlier job with the same `idempotencyKey` was found and nothing was added. */
  readonly duplicate: boolean;
}

/** A job as its handler sees it. */
export interface Job<T = unknown> {
  readonly id: string;
  readonly queue: string;
  readonly data: T;
  /** 1 on the first run. */
  readonly attempt: number;
  readonly maxAttempts: number;
  readonly createdAt: Date;
}

/** Runs one job. Resolving completes it (its value is kept as `result`); throwing fails the attempt. */
export type JobHandler<T = unknown> = (job: Job<T>, context: { readonly signal: AbortSignal }) => unknown;

/** Options of `process()`. */
export interface ProcessOptions extends SignalOptions {
  /** Jobs run at once by this consumer. @default 1 */
  concurrency?: number;
  /**
   * On close (or when `signal` aborts), how long running jobs get to finish before their signals abort
   * and they are left for redelivery. @default 10_000
   */
  shutdownTimeoutMs?: number;
}

/** A running consumer. */
export interface Consumer {
  /** Jobs running now. */
  readonly running: number;
  /** Jobs this consumer has finished, completed or not. */
  readonly processed: number;
  /**
   * Stops taking jobs, waits for the running ones up to `timeoutMs` (default: `shutdownTimeoutMs`), then
   * aborts their signals and leaves them for redelivery.
   */
  close(options?: { timeoutMs?: number }): Promise<void>;
  /** Resolves when the consumer has stopped, by `close()` or by its signal. */
  readonly closed: Promise<void>;
}

/** A job as the queue knows it. */
export interface JobInfo<T = unknown> {
  readonly id: string;
  readonly queue: string;
  readonly state: JobState;
  readonly data: T;
  /** Runs so far, this one included when `active`. */
  readonly attempts: number;
  readonly maxAttempts: number;
  readonly priority: number;
  readonly createdAt: Date;
  /** When it runs next (`waiting`, `failed`), or ran last. */
  readonly runAt: Date;
  readonly finishedAt: Date | undefined;
  /** The last attempt's error message (`failed`, `dead`). */
  readonly lastError: string | undefined;
  /** What the handler resolved with (`completed`). */
  readonly result: unknown;
}

/** Jobs per state. */
export type JobCounts = Record<JobState, number>;

/** A durable job queue, picked by {@link openJobQueue}'s URL. */
export interface JobQueue<T = unknown> {
  readonly name: string;
  readonly backend: 'sqlite' | 'amqp' | 'nats';
  /** The URL it was opened with, password masked. */
  readonly url: string;
  /** Stores a job durably, then resolves (a commit, a publisher confirm, a stream ack). */
  add(data: T, options?: AddOptions): Promise<Added>;
  /** Runs `handler` for each job, `concurrency` at a time, until closed. */
  process(handler: JobHandler<T>, options?: ProcessOptions): Consumer;
  /** A job's state, or `undefined` when it is unknown (or completed long enough ago to be purged). */
  get(id: string): Promise<JobInfo<T> | undefined>;
  counts(): Promise<JobCounts>;
  /** The dead-letter list, oldest first. */
  dead(options?: { limit?: number }): Promise<JobInfo<T>[]>;
  /** Puts dead jobs back (one by id, or all), with their attempts reset; resolves with how many. */
  retryDead(id?: string): Promise<number>;
  /** Stops this queue's consumers (gracefully) and closes its connection. */
  close(): Promise<void>;
}
