/**
 * The consumer loop every backend shares: take up to `concurrency` jobs, run the handler, then complete,
 * retry (with backoff) or bury each; on close, stop taking, let running jobs finish until the deadline,
 * then abort them and leave them for redelivery. Backends supply deliveries through a {@link Source}.
 * While the process sheds HTTP requests (internal/pressure.ts), it takes no new job.
 *
 * A job that runs past its `jobTimeoutMs` has its signal aborted and its attempt recorded as failed at
 * once (retried after its backoff, or dead-lettered after its last attempt), and its lease is no longer
 * renewed, so a handler that hangs cannot hold its job for ever. A handler that ignores the abort keeps
 * its concurrency slot until it returns (its outcome is then dropped), and is logged once: meanwhile the
 * job may run again elsewhere, which at-least-once delivery allows.
 */

import { channel } from 'node:diagnostics_channel';
import { scopedController } from '../concurrency/signal.ts';
import { sleep } from '../concurrency/sleep.ts';
import { invalidOption, WeirError } from '../errors.ts';
import type { Logger } from '../internal/logger.ts';
import { pressure } from '../internal/pressure.ts';
import { runInside, type TraceGetter } from '../internal/trace.ts';
import { type Backoff, backoffDelay } from './backoff.ts';
import { type MessagingSystem, type ProcessRecord, processChannel } from './observe.ts';
import { Deadlines, JobContext, RunningJob } from './running-job.ts';
import type { Consumer, Job, JobHandler, ProcessOptions } from './types.ts';

/** One job handed to this process, and what can become of it. */
export interface Delivery {
  readonly job: Job<unknown>;
  readonly backoff: Backoff;
  /** How long this attempt may run. */
  readonly timeoutMs: number;
  complete(result: unknown): Promise<void>;
  /** Fails this attempt; the job runs again after `delayMs`. */
  retry(error: string, delayMs: number): Promise<void>;
  /** Fails the job for good: it goes to the dead-letter list. */
  bury(error: string): Promise<void>;
  /** Gives the job back, unrun: this attempt does not count. */
  release(): Promise<void>;
  /** The trace context the job carries, read only while a tracer listens; absent: none. */
  readonly trace?: () => TraceGetter | undefined;
}

export interface Source {
  /** Up to `max` deliveries; waits while there are none, until `signal` aborts. */
  take(max: number, signal: AbortSignal): Promise<Delivery[]>;
  /** Renews the leases of running deliveries, every `extendEveryMs`. */
  extend?(deliveries: readonly Delivery[]): Promise<void>;
  readonly extendEveryMs?: number;
  /** Called once the consumer has stopped and its running jobs are settled or given back. */
  close?(): Promise<void>;
}

/**
 * How long a handler has to return after its signal aborted: at close, before its job is given back
 * anyway; past its jobTimeoutMs, before it is logged as ignoring its signal.
 */
const ABORT_GRACE_MS = 1000;

/** How an attempt ended, as the `weir:queue.job` channel reports it. */
export type JobOutcome = 'completed' | 'retried' | 'dead' | 'timed-out' | 'released' | 'unrecorded';

/**
 * `weir:queue.job`: `{ type: 'start', queue }` when an attempt starts, and `{ type: 'end', queue, outcome,
 * durationMs }` once its outcome is recorded (`timed-out`: past its jobTimeoutMs, retried or dead;
 * `released`: given back at close; `unrecorded`: the backend could not record it). Published only while
 * someone subscribes (weir/observability's metrics).
 */
export const jobChannel = channel('weir:queue.job');

function messageOf(err: unknown): string {
  if (err instanceof Error) return err.message || err.name;
  return String(err);
}

/**
 * What the queue's log lines say of a job: its queue, its id and, when it has one, the id of the request
 * that added it, so that a request can be followed to its job's failures.
 */
function about(job: Job<unknown>): { queue: string; job: string; requestId?: string } {
  return job.requestId === undefined
    ? { queue: job.queue, job: job.id }
    : { queue: job.queue, job: job.id, requestId: job.requestId };
}

export function startConsumer(
  source: Source,
  handler: JobHandler<unknown>,
  options: ProcessOptions,
  log: Logger,
  onClosed: (consumer: Consumer) => void,
  system: MessagingSystem,
): Consumer {
  const concurrency = options.concurrency ?? 1;
  if (!Number.isInteger(concurrency) || concurrency < 1) {
    throw invalidOption('process() concurrency', 'an integer ≥ 1', concurrency);
  }
  if (typeof handler !== 'function') throw invalidOption('process() handler', 'a function', handler);
  const shutdownTimeoutMs = options.shutdownTimeoutMs ?? 10_000;
  const yieldToRequests = options.yieldToRequests ?? true;

  const taking = scopedController();
  const running = new Map<Delivery, RunningJob>();
  let stopping = false;
  let processed = 0;
  let slotFreed: (() => void) | undefined;
  let closing: Promise<void> | undefined;
  const deadlines = new Deadlines(() => running.values(), timedOut);
  /** Outcomes of timed-out jobs being recorded while their handlers still run: close() waits for them. */
  const recordings = new Set<Promise<void>>();

  /**
   * Records the failure of an attempt: retried after its backoff (logged as a warning), or dead after its
   * last (logged as an error).
   */
  async function fail(delivery: Delivery, err: unknown): Promise<JobOutcome> {
    const { job } = delivery;
    const { attempt, maxAttempts } = job;
    if (attempt < maxAttempts) {
      const retryInMs = backoffDelay(delivery.backoff, attempt);
      await delivery.retry(messageOf(err), retryInMs);
      log.warn(
        { ...about(job), attempt, maxAttempts, retryInMs, err },
        'job queue: a job attempt failed; it runs again after its backoff',
      );
      return 'retried';
    }
    await bury(delivery, err);
    return 'dead';
  }

  async function bury(delivery: Delivery, err: unknown): Promise<void> {
    const { job } = delivery;
    await delivery.bury(messageOf(err));
    log.error(
      { ...about(job), attempt: job.attempt, maxAttempts: job.maxAttempts, err },
      'job queue: a job failed its last attempt and is dead-lettered',
    );
  }

  async function run(entry: RunningJob): Promise<void> {
    const { delivery } = entry;
    const { job } = delivery;
    const started = jobChannel.hasSubscribers ? performance.now() : -1;
    let recorded: JobOutcome = 'unrecorded';
    let traced: ProcessRecord | undefined;
    if (started >= 0) jobChannel.publish({ type: 'start', queue: job.queue });
    try {
      if (job.attempt > job.maxAttempts) {
        await bury(delivery, new Error('its worker stopped during the last attempt (lease expired)'));
        recorded = 'dead';
        return;
      }
      deadlines.start(entry, delivery.timeoutMs);
      traced = processChannel.start.hasSubscribers
        ? { system, queue: job.queue, job, context: delivery.trace?.() }
        : undefined;
      let outcome: { ok: true; value: unknown } | { ok: false; err: unknown };
      try {
        outcome = { ok: true, value: await attempt(job, entry, traced) };
      } catch (err) {
        outcome = { ok: false, err };
        if (traced !== undefined) {
          traced.error = err;
          processChannel.error.publish(traced);
        }
      }
      if (traced !== undefined) processChannel.asyncStart.publish(traced);
      entry.finished();
      // Past its deadline, or given back at close: the outcome was recorded then, or is not ours to record.
      if (entry.state !== 'running') {
        recorded = entry.state === 'timed-out' ? 'timed-out' : 'released';
        return;
      }
      if (outcome.ok) {
        await delivery.complete(outcome.value);
        recorded = 'completed';
      } else if (stopping && entry.aborted) {
        await delivery.release();
        recorded = 'released';
      } else {
        recorded = await fail(delivery, outcome.err);
      }
    } catch (err) {
      // The queue could not record the outcome; the job's lease runs out and it is delivered again.
      log.error({ ...about(job), err }, 'job queue: could not record a job outcome');
    } finally {
      if (traced !== undefined) {
        traced.outcome = recorded;
        processChannel.asyncEnd.publish(traced);
      }
      if (started >= 0) {
        jobChannel.publish({
          type: 'end',
          queue: job.queue,
          outcome: recorded,
          durationMs: performance.now() - started,
        });
      }
      entry.finished();
      running.delete(delivery);
      processed++;
      slotFreed?.();
    }
  }

  /** Calls the handler; traced, inside the attempt's span, with `start` and `end` published around. */
  function attempt(job: Job<unknown>, entry: RunningJob, traced: ProcessRecord | undefined): unknown {
    if (traced === undefined) return handler(job, new JobContext(entry));
    processChannel.start.publish(traced);
    try {
      return runInside(traced, () => handler(job, new JobContext(entry)));
    } finally {
      processChannel.end.publish(traced);
    }
  }

  function timedOut(entry: RunningJob): void {
    if (entry.state !== 'running') return;
    entry.state = 'timed-out';
    const { delivery } = entry;
    const { job } = delivery;
    const reason = new WeirError(
      'WEIR_ERR_JOBS_TIMEOUT',
      `Job ${job.id} of queue "${job.queue}" ran past its jobTimeoutMs (${delivery.timeoutMs} ms)`,
    );
    entry.abort(reason);
    entry.watchAbort(ABORT_GRACE_MS, ignored);
    const recording: Promise<void> = fail(delivery, reason)
      .then(() => undefined)
      .catch((err: unknown) => {
        log.error({ ...about(job), err }, 'job queue: could not record a job outcome');
      })
      .finally(() => recordings.delete(recording));
    recordings.add(recording);
  }

  function ignored(entry: RunningJob): void {
    const { job, timeoutMs } = entry.delivery;
    log.warn(
      { ...about(job), attempt: job.attempt, jobTimeoutMs: timeoutMs },
      'job queue: a handler ignored its abort signal past jobTimeoutMs; it keeps its concurrency slot until it returns, and its job may run again meanwhile',
    );
  }

  const loop = (async () => {
    let failures = 0;
    while (!taking.signal.aborted) {
      const free = concurrency - running.size;
      if (free <= 0) {
        await new Promise<void>((resolve) => {
          slotFreed = resolve;
        });
        slotFreed = undefined;
        continue;
      }
      if (yieldToRequests && pressure.raised) {
        await pressure.calm(taking.signal);
        continue;
      }
      let deliveries: Delivery[];
      try {
        deliveries = await source.take(free, taking.signal);
        failures = 0;
      } catch (err) {
        if (taking.signal.aborted) break;
        failures++;
        if (failures === 1) log.warn({ err }, 'job queue: cannot take jobs; retrying with backoff');
        await sleep(Math.min(100 * 2 ** failures, 5000), { signal: taking.signal }).catch(() => undefined);
        continue;
      }
      for (const delivery of deliveries) {
        const entry = new RunningJob(delivery);
        running.set(delivery, entry);
        entry.done = run(entry);
      }
    }
  })();

  const extender =
    source.extend === undefined
      ? undefined
      : setInterval(() => {
          if (running.size > 0) {
            source.extend?.([...running.keys()]).catch((err: unknown) => {
              log.warn({ err }, 'job queue: could not renew job leases');
            });
          }
        }, source.extendEveryMs ?? 10_000);
  extender?.unref();

  let resolveClosed!: () => void;
  const closed = new Promise<void>((resolve) => {
    resolveClosed = resolve;
  });

  const consumer: Consumer = {
    get running() {
      return running.size;
    },
    get processed() {
      return processed;
    },
    closed,
    close(closeOptions) {
      closing ??= (async () => {
        const timeoutMs = closeOptions?.timeoutMs ?? shutdownTimeoutMs;
        taking.abort(new WeirError('WEIR_ERR_JOBS_CLOSED', 'The consumer is closing'));
        slotFreed?.();
        await loop;
        const all = () => Promise.allSettled([...running.values()].map((entry) => entry.done));
        let timer: NodeJS.Timeout | undefined;
        const deadline = new Promise<void>((resolve) => {
          timer = setTimeout(resolve, timeoutMs);
        });
        await Promise.race([all(), deadline]);
        clearTimeout(timer);
        if (running.size > 0) {
          stopping = true;
          const reason = new WeirError(
            'WEIR_ERR_JOBS_CLOSED',
            'The consumer closed before this job finished',
          );
          for (const entry of running.values()) if (entry.state === 'running') entry.abort(reason);
          await Promise.race([all(), sleep(ABORT_GRACE_MS)]);
          // Handlers that ignore their signal: their jobs go back now; what they do later is not recorded.
          await Promise.allSettled(
            [...running.values()]
              .filter((entry) => entry.state === 'running')
              .map((entry) => {
                entry.state = 'abandoned';
                entry.finished();
                return entry.delivery.release();
              }),
          );
        }
        if (extender !== undefined) clearInterval(extender);
        deadlines.stop();
        await Promise.allSettled([...recordings]);
        await source
          .close?.()
          .catch((err: unknown) => log.warn({ err }, 'job queue: closing a consumer failed'));
        onClosed(consumer);
        resolveClosed();
      })();
      return closing;
    },
  };
  if (options.signal !== undefined) {
    if (options.signal.aborted) void consumer.close();
    else options.signal.addEventListener('abort', () => void consumer.close(), { once: true });
  }
  return consumer;
}
