/**
 * weir/queue's public shapes. {@link JobQueue} is what every backend keeps; what only some keep (a job's
 * status, a dead-letter list, priorities) is a capability a backend declares in `capabilities`, and the
 * methods that come with it exist only on the backends that declare it ({@link JobStatus},
 * {@link DeadLetters}; narrow with `hasJobStatus()` and `hasDeadLetters()`).
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
  /**
   * Past it, nothing is added (`WEIR_ERR_DEADLINE_EXCEEDED`). An add already under way when it passes is
   * not abandoned: whether the backend kept the job would then be unknown. Pass a request's `ctx`.
   */
  deadline?: number;
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
  /**
   * How long one attempt may run: past it the handler's signal aborts (reason `WEIR_ERR_JOBS_TIMEOUT`)
   * and the attempt counts as failed. At most 2,147,483,647 (about 24.8 days).
   * @default the queue's `jobTimeoutMs` (5 minutes)
   */
  jobTimeoutMs?: number;
  /**
   * The id of the request that adds the job (pass `ctx`): kept with the job, on `job.requestId`, in the
   * queue's log lines about it. 1 to 128 letters, digits and `._:/+=@-` (`isRequestId()`'s rule);
   * another value is refused (`WEIR_ERR_INVALID_OPTION`). @default none
   */
  requestId?: string;
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
  /** The id of the request that added it (`requestId` of `add()`), or `undefined` when it has none. */
  readonly requestId: string | undefined;
}

/**
 * Runs one job. Resolving completes it (its value is kept as `result`); throwing fails the attempt.
 * `signal` aborts when the attempt runs past its `jobTimeoutMs` (the attempt then counts as failed,
 * whatever the handler does next) or when the consumer closes past its deadline (the job is given back).
 */
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
  /**
   * Take no new job while the process sheds HTTP requests (weir's overload limiter), so the capacity left
   * goes to the requests; running jobs go on, and taking resumes once shedding stops. `false` keeps
   * taking jobs whatever the load. @default true
   */
  yieldToRequests?: boolean;
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
  /** The id of the request that added it, or `undefined` when it has none. */
  readonly requestId: string | undefined;
}

/** Jobs per state. */
export type JobCounts = Record<JobState, number>;

/** A job in the dead-letter list: what every backend that keeps one records. */
export interface DeadJob<T = unknown> {
  readonly id: string;
  readonly queue: string;
  readonly data: T;
  /** Attempts it had; the last one failed. */
  readonly attempts: number;
  readonly maxAttempts: number;
  readonly createdAt: Date;
  /** When it was dead-lettered; `undefined` for a job an earlier weir dead-lettered on a broker. */
  readonly finishedAt: Date | undefined;
  /** The last attempt's error message. */
  readonly lastError: string | undefined;
  /**
   * The id of the request that added it, or `undefined` when it has none (or, on a broker, a message
   * someone other than weir published carries none that is well-formed).
   */
  readonly requestId: string | undefined;
}

/** Options of {@link DeadLetters.dead}. */
export interface DeadListOptions {
  /** The most jobs to read. @default 100 */
  limit?: number;
}

/**
 * What a backend keeps beyond the core, so what it offers: each `true` comes with methods, and a backend
 * that cannot keep a thing says `false` and does not have them.
 */
export interface JobQueueCapabilities {
  /**
   * Every job's state is kept, so {@link JobStatus} (`get(id)`, `counts()`) is offered. SQLite: yes;
   * RabbitMQ, NATS: no (a broker forgets a job once it is acknowledged, and does not tell a waiting job
   * from one waiting for its retry).
   */
  readonly status: boolean;
  /** A dead-letter list is kept, so {@link DeadLetters} (`dead()`, `retryDead()`) is offered. All three. */
  readonly deadLetters: boolean;
  /** `priority` orders ready jobs. SQLite, RabbitMQ: yes; NATS: no (it is checked, then ignored). */
  readonly priority: boolean;
}

/** The capability `status`: the queue knows every job's state. */
export interface JobStatus<T = unknown> {
  /** A job's state, or `undefined` when it is unknown (or completed long enough ago to be purged). */
  get(id: string): Promise<JobInfo<T> | undefined>;
  /** Jobs per state. */
  counts(): Promise<JobCounts>;
}

/** The capability `deadLetters`: jobs that failed every attempt are kept, and can be put back. */
export interface DeadLetters<T = unknown> {
  /** The dead-letter list, oldest first. */
  dead(options?: DeadListOptions): Promise<DeadJob<T>[]>;
  /** Puts dead jobs back (one by id, or all), with their attempts reset; resolves with how many. */
  retryDead(id?: string): Promise<number>;
}

/**
 * A durable job queue, picked by `openJobQueue()`'s URL: what every backend keeps. The rest is in
 * `capabilities`; `hasJobStatus(queue)` and `hasDeadLetters(queue)` narrow the type to the methods that
 * come with it.
 */
export interface JobQueue<T = unknown> {
  readonly name: string;
  readonly backend: 'sqlite' | 'amqp' | 'nats';
  /** The URL it was opened with, password masked. */
  readonly url: string;
  /** What this backend keeps beyond the core. */
  readonly capabilities: JobQueueCapabilities;
  /** Stores a job durably, then resolves (a commit, a publisher confirm, a stream ack). */
  add(data: T, options?: AddOptions): Promise<Added>;
  /** Runs `handler` for each job, `concurrency` at a time, until closed. */
  process(handler: JobHandler<T>, options?: ProcessOptions): Consumer;
  /** Stops this queue's consumers (gracefully) and closes its connection. */
  close(): Promise<void>;
}
