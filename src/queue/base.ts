/**
 * What every backend's job queue shares: its settings, the checks `add()` makes before anything is
 * stored, its consumers (the loop in `runner.ts`), and closing them before the connection.
 */
import { randomUUID } from 'node:crypto';
import { deadlineExceeded, timeLeft } from '../concurrency/deadline.ts';
import { reasonOf } from '../concurrency/signal.ts';
import type { SqliteOptions } from '../db/sqlite.ts';
import { invalidOption, WeirError } from '../errors.ts';
import type { Logger } from '../internal/logger.ts';
import { isRequestId, MAX_REQUEST_ID_LENGTH } from '../internal/request-id.ts';
import { traceEntries } from '../internal/trace.ts';
import { type Backoff, DEFAULT_BACKOFF, settleBackoff } from './backoff.ts';
import { type AddRecord, addChannel, MESSAGING_SYSTEM } from './observe.ts';
import { type Source, startConsumer } from './runner.ts';
import type {
  Added,
  AddOptions,
  Consumer,
  DeadListOptions,
  JobHandler,
  JobQueue,
  JobQueueCapabilities,
  ProcessOptions,
} from './types.ts';

/** Options of a job queue; the per-job ones are the defaults of `add()`. */
export interface JobQueueOptions extends SqliteOptions {
  /** @default 3 */
  attempts?: number;
  backoff?: AddOptions['backoff'];
  /** How long a second add with the same `idempotencyKey` is a no-op. @default 86_400_000 (a day) */
  idempotencyWindowMs?: number;
  /** The largest job data, as JSON. @default 1 MiB */
  maxDataBytes?: number;
  /** Where warnings go. @default none */
  logger?: Logger;
  /**
   * How long one attempt of a job may run (a job's own `jobTimeoutMs` wins): past it the handler's signal
   * aborts and the attempt counts as failed, so a job that keeps hanging ends in the dead letters. At
   * most 2,147,483,647. @default 300_000 (5 minutes)
   */
  jobTimeoutMs?: number;
  /** SQLite: how long a worker holds a job before it counts as gone (renewed while it runs). @default 30_000 */
  visibilityTimeoutMs?: number;
  /** SQLite: how often an idle worker looks for jobs other processes added. @default 100 */
  pollIntervalMs?: number;
  /** SQLite: how long completed jobs stay visible to `get()`. @default 86_400_000 (a day) */
  keepCompletedMs?: number;
  /** SQLite: `full` survives power loss; `normal` only a crash of the process, but adds faster. @default 'full' */
  durability?: 'full' | 'normal';
}

export function checkAttempts(value: unknown, name: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1) {
    throw invalidOption(name, 'an integer ≥ 1', value);
  }
  return value;
}

/** A job's own jobTimeoutMs as a backend stored it, or `fallback` when it has none (or a broken one). */
export function storedTimeout(value: unknown, fallback: number): number {
  const n = Number(value);
  return value !== undefined && value !== null && Number.isInteger(n) && n >= 1 && n <= MAX_TIMER_MS
    ? n
    : fallback;
}

/** A whole number (of milliseconds, or bytes) from 1 to `max`. */
export function checkDuration(value: unknown, name: string, max: number, unit = 'ms'): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > max) {
    throw invalidOption(name, `an integer number of ${unit} from 1 to ${max}`, value);
  }
  return value;
}

export function checkPriority(value: unknown): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > 9) {
    throw invalidOption('add() priority', 'an integer from 0 to 9', value);
  }
  return value;
}

export function checkDelay(value: unknown): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
    throw invalidOption('add() delay', 'a number of ms ≥ 0', value);
  }
  return value;
}

/** `add()`'s `requestId`, checked: `undefined` (none) or a well-formed id. */
export function checkRequestId(value: unknown): string | undefined {
  if (value === undefined || isRequestId(value)) return value;
  // A long value is shown cut: the message names it, it does not carry it.
  const shown =
    typeof value === 'string' && value.length > MAX_REQUEST_ID_LENGTH
      ? `${value.slice(0, MAX_REQUEST_ID_LENGTH)}…`
      : value;
  throw invalidOption(
    'add() requestId',
    `1 to ${MAX_REQUEST_ID_LENGTH} letters, digits or "._:/+=@-" (pass a request's ctx, or its ctx.requestId)`,
    shown,
  );
}

/**
 * A request id a backend read back (a broker's header, which anyone may publish): itself when well-formed,
 * else `undefined`, so a foreign or broken value never reaches a handler or a log line.
 */
export function storedRequestId(value: unknown): string | undefined {
  return isRequestId(value) ? value : undefined;
}

/** The job's data as JSON, within `max` bytes. */
export function serializeData(data: unknown, max: number, queue: string): string {
  let text: string | undefined;
  try {
    text = JSON.stringify(data);
  } catch (err) {
    throw new WeirError(
      'WEIR_ERR_JOBS_DATA',
      `Job data for queue "${queue}" is not JSON: ${(err as Error).message}`,
      {
        cause: err,
      },
    );
  }
  if (text === undefined) {
    throw new WeirError(
      'WEIR_ERR_JOBS_DATA',
      `Job data for queue "${queue}" is ${typeof data}, which has no JSON form`,
    );
  }
  if (text.length > max || Buffer.byteLength(text) > max) {
    throw new WeirError(
      'WEIR_ERR_JOBS_DATA',
      `Job data for queue "${queue}" is ${Buffer.byteLength(text)} bytes as JSON, over maxDataBytes (${max})`,
    );
  }
  return text;
}

/** The backend is away, or did not confirm: 503, retry shortly. */
export function unavailable(url: string, reason: string, cause?: unknown): WeirError {
  return new WeirError('WEIR_ERR_JOBS_UNAVAILABLE', `Job queue ${url} is unavailable: ${reason}`, { cause });
}

/** For `loadPackage()`: the backend's client package is not installed. */
export function driverMissing(message: string, cause: unknown): Error {
  return new WeirError('WEIR_ERR_JOBS_DRIVER_MISSING', message, { cause });
}

/** The settings every backend reads from {@link JobQueueOptions}, checked. */
export interface QueueSettings {
  readonly attempts: number;
  readonly backoff: Backoff;
  readonly maxData: number;
  readonly idempotencyWindow: number;
  readonly visibility: number;
  readonly jobTimeout: number;
}

/**
 * Checks a queue's options; `openJobQueue()` calls it before it connects, so that a bad option fails
 * synchronously and leaves no connection behind.
 * @throws `WEIR_ERR_INVALID_OPTION`
 */
export function settleQueueOptions(options: JobQueueOptions): QueueSettings {
  return {
    attempts: checkAttempts(options.attempts ?? 3, 'Job queue attempts'),
    backoff: settleBackoff(options.backoff, DEFAULT_BACKOFF),
    maxData: checkDuration(options.maxDataBytes ?? 1024 * 1024, 'Job queue maxDataBytes', 2 ** 30, 'bytes'),
    idempotencyWindow: checkDuration(
      options.idempotencyWindowMs ?? 86_400_000,
      'Job queue idempotencyWindowMs',
      Number.MAX_SAFE_INTEGER,
    ),
    visibility: checkDuration(
      options.visibilityTimeoutMs ?? 30_000,
      'Job queue visibilityTimeoutMs',
      MAX_TIMER_MS,
    ),
    jobTimeout: checkDuration(options.jobTimeoutMs ?? 300_000, 'Job queue jobTimeoutMs', MAX_TIMER_MS),
  };
}

/** The longest wait a Node timer keeps (longer ones fire at once). */
export const MAX_TIMER_MS = 2_147_483_647;

/** The most dead jobs one `dead()` reads: a broker hands them over one by one, held in memory. */
const MAX_DEAD_LIMIT = 10_000;

/** The arguments of one `add()`, checked. */
export interface PreparedAdd {
  readonly id: string;
  /** The data as JSON. */
  readonly text: string;
  readonly attempts: number;
  readonly priority: number;
  readonly delay: number;
  /** The job's own backoff, when it has one. */
  readonly backoff: Backoff | undefined;
  /** The job's own jobTimeoutMs, when it has one. */
  readonly timeout: number | undefined;
  readonly key: string | undefined;
  /** The id of the request that adds the job, when it has one. */
  readonly requestId: string | undefined;
  /** The trace context the job carries (`traceparent` …), while a tracer listens and the add is traced. */
  trace: [string, string][] | undefined;
}

export abstract class BaseJobQueue<T> implements JobQueue<T> {
  readonly name: string;
  readonly url: string;
  abstract readonly backend: JobQueue['backend'];
  abstract readonly capabilities: JobQueueCapabilities;
  protected readonly attempts: number;
  protected readonly backoff: Backoff;
  protected readonly maxData: number;
  protected readonly idempotencyWindow: number;
  protected readonly visibility: number;
  /** The queue's jobTimeoutMs: a job without its own gets it from the queue that runs it. */
  protected readonly jobTimeout: number;
  protected readonly log: Logger;
  readonly #consumers = new Set<Consumer>();
  #closing: Promise<void> | undefined;

  constructor(name: string, url: string, options: JobQueueOptions, log: Logger) {
    this.name = name;
    this.url = url;
    const settings = settleQueueOptions(options);
    this.attempts = settings.attempts;
    this.backoff = settings.backoff;
    this.maxData = settings.maxData;
    this.idempotencyWindow = settings.idempotencyWindow;
    this.visibility = settings.visibility;
    this.jobTimeout = settings.jobTimeout;
    this.log = log;
  }

  protected checkOpen(): void {
    if (this.#closing !== undefined) {
      throw new WeirError('WEIR_ERR_JOBS_CLOSED', `Job queue "${this.name}" is closed`);
    }
  }

  /** Checks `add()`'s arguments, before anything is stored. */
  protected prepareAdd(data: T, options: AddOptions): PreparedAdd {
    this.checkOpen();
    if (options.signal?.aborted) throw reasonOf(options.signal);
    if (options.deadline !== undefined && timeLeft(options.deadline) === 0) throw deadlineExceeded();
    const key = options.idempotencyKey;
    if (key !== undefined && (typeof key !== 'string' || key === '')) {
      throw invalidOption('add() idempotencyKey', 'a non-empty string', key);
    }
    return {
      id: randomUUID(),
      text: serializeData(data, this.maxData, this.name),
      attempts: checkAttempts(options.attempts ?? this.attempts, 'add() attempts'),
      priority: checkPriority(options.priority ?? 0),
      delay: checkDelay(options.delay ?? 0),
      backoff: options.backoff === undefined ? undefined : settleBackoff(options.backoff, this.backoff),
      timeout:
        options.jobTimeoutMs === undefined
          ? undefined
          : checkDuration(options.jobTimeoutMs, 'add() jobTimeoutMs', MAX_TIMER_MS),
      key,
      requestId: checkRequestId(options.requestId),
      trace: undefined,
    };
  }

  /**
   * Stores a job durably, then resolves (a commit, a publisher confirm, a stream ack). Traced, the
   * tracer's span is the `start` of the `weir:queue.add` channel, and the job carries its context.
   */
  async add(data: T, options: AddOptions = {}): Promise<Added> {
    const prepared = this.prepareAdd(data, options);
    if (!addChannel.start.hasSubscribers) return this.enqueue(prepared);
    const record: AddRecord = {
      system: MESSAGING_SYSTEM[this.backend],
      queue: this.name,
      id: prepared.id,
      carrier: {},
    };
    return addChannel.tracePromise(() => {
      prepared.trace = traceEntries(record.carrier);
      return this.enqueue(prepared);
    }, record);
  }

  /** Stores the job `add()` checked. */
  protected abstract enqueue(job: PreparedAdd): Promise<Added>;

  /** Where this backend's consumers take their jobs from. */
  protected abstract source(options: ProcessOptions): Source;

  /** Closes the connection, once the consumers have stopped. */
  protected abstract closeBackend(): Promise<void>;

  process(handler: JobHandler<T>, options: ProcessOptions = {}): Consumer {
    this.checkOpen();
    const consumer = startConsumer(
      this.source(options),
      handler as JobHandler<unknown>,
      options,
      this.log,
      (c) => this.#consumers.delete(c),
      MESSAGING_SYSTEM[this.backend],
    );
    this.#consumers.add(consumer);
    return consumer;
  }

  /** The `limit` of `dead()`, checked. */
  protected deadLimit(options: DeadListOptions): number {
    this.checkOpen();
    const limit = options.limit ?? 100;
    if (!Number.isInteger(limit) || limit < 1 || limit > MAX_DEAD_LIMIT) {
      throw invalidOption('dead() limit', `an integer from 1 to ${MAX_DEAD_LIMIT}`, limit);
    }
    return limit;
  }

  close(): Promise<void> {
    this.#closing ??= (async () => {
      await Promise.all([...this.#consumers].map((consumer) => consumer.close()));
      await this.closeBackend();
    })();
    return this.#closing;
  }
}
