/**
 * What a job queue tells a tracer: each `add()` on the `weir:queue.add` tracing channel and each attempt
 * of a job on `weir:queue.process`. weir/observability's tracing subscribes to both; with no subscriber
 * an add or an attempt pays one `hasSubscribers` check. (Metrics read the `weir:queue.job` channel of
 * runner.ts.)
 *
 * The trace context travels with the job: the tracer fills an add's `carrier` when it starts (the
 * fields its propagator writes, `traceparent` …), the backend stores what `traceEntries()` keeps of it
 * (SQLite: a column; RabbitMQ, NATS: message headers), and an attempt's `context` reads it back.
 */
import { tracingChannel } from 'node:diagnostics_channel';
import type { TraceCarrier, TraceGetter } from '../internal/trace.ts';
import type { JobOutcome } from './runner.ts';
import type { Added, Job, JobQueue } from './types.ts';

/** The messaging system of each backend, as traces name it. */
export const MESSAGING_SYSTEM = { sqlite: 'sqlite', amqp: 'rabbitmq', nats: 'nats' } as const;

/** What a trace says of the system a queue runs on. */
export type MessagingSystem = (typeof MESSAGING_SYSTEM)[JobQueue['backend']];

/**
 * One `add()` whose arguments were valid: the context object of the `weir:queue.add` tracing channel.
 * `tracePromise()` publishes it: `start` before anything is stored, `asyncEnd` once the backend has
 * confirmed (`result`) or failed (`error`).
 */
export interface AddRecord {
  readonly system: MessagingSystem;
  readonly queue: string;
  /** The new job's id (a duplicate's is the first job's: see `result`). */
  readonly id: string;
  /** Fields a subscriber writes on `start` for the job to carry (none: the job carries none). */
  readonly carrier: TraceCarrier;
  result?: Added;
  error?: unknown;
}

/**
 * One attempt of a job: the context object of the `weir:queue.process` tracing channel. `start` just
 * before its handler runs (which runs with the subscriber's span active), `end` when the handler has
 * returned, `error` when it threw, `asyncStart` once it has settled, `asyncEnd` once its outcome is
 * recorded (`outcome`).
 */
export interface ProcessRecord {
  readonly system: MessagingSystem;
  readonly queue: string;
  readonly job: Job<unknown>;
  /** The trace context the job carries, read field by field; `undefined`: none. */
  readonly context: TraceGetter | undefined;
  outcome?: JobOutcome;
  error?: unknown;
}

/** `weir:queue.add`: an {@link AddRecord} per job added. */
export const addChannel = tracingChannel<object, AddRecord>('weir:queue.add');

/** `weir:queue.process`: a {@link ProcessRecord} per attempt of a job. */
export const processChannel = tracingChannel<object, ProcessRecord>('weir:queue.process');
