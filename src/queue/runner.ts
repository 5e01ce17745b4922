/**
 * The consumer loop every backend shares: take up to `concurrency` jobs, run the handler, then complete,
 * retry (with backoff) or bury each; on close, stop taking, let running jobs finish until the deadline,
 * then abort them and leave them for redelivery. Backends supply deliveries through a {@link Source}.
 */

import { scopedController } from '../concurrency/signal.ts';
import { sleep } from '../concurrency/sleep.ts';
import { invalidOption, WeirError } from '../errors.ts';
import type { Logger } from '../http/context.ts';
import { type Backoff, backoffDelay } from './backoff.ts';
import type { Consumer, Job, JobHandler, ProcessOptions } from './types.ts';

/** One job handed to this process, and what can become of it. */
export interface Delivery {
  readonly job: Job<unknown>;
  readonly backoff: Backoff;
  complete(result: unknown): Promise<void>;
  /** Fails this attempt; the job runs again after `delayMs`. */
  retry(error: string, delayMs: number): Promise<void>;
  /** Fails the job for good: it goes to the dead-letter list. */
  bury(error: string): Promise<void>;
  /** Gives the job back, unrun: this attempt does not count. */
  release(): Promise<void>;
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

/** How long an ignored abort is waited for before the job is given back anyway. */
const ABORT_GRACE_MS = 1000;

function messageOf(err: unknown): string {
  if (err instanceof Error) return err.message || err.name;
  return String(err);
}

export function startConsumer(
  source: Source,
  handler: JobHandler<unknown>,
  options: ProcessOptions,
  log: Logger,
  onClosed: (consumer: Consumer) => void,
): Consumer {
  const concurrency = options.concurrency ?? 1;
  if (!Number.isInteger(concurrency) || concurrency < 1) {
    throw invalidOption('process() concurrency', 'an integer ≥ 1', concurrency);
  }
  if (typeof handler !== 'function') throw invalidOption('process() handler', 'a function', handler);
  const shutdownTimeoutMs = options.shutdownTimeoutMs ?? 10_000;

  const taking = scopedController();
  const jobs = scopedController();
  const running = new Map<Delivery, Promise<void>>();
  const abandoned = new Set<Delivery>();
  let processed = 0;
  let slotFreed: (() => void) | undefined;
  let closing: Promise<void> | undefined;

  async function run(delivery: Delivery): Promise<void> {
    const { job } = delivery;
    try {
      if (job.attempt > job.maxAttempts) {
        await delivery.bury('its worker stopped during the last attempt (lease expired)');
        return;
      }
      let outcome: { ok: true; value: unknown } | { ok: false; err: unknown };
      try {
        outcome = { ok: true, value: await handler(job, { signal: jobs.signal }) };
      } catch (err) {
        outcome = { ok: false, err };
      }
      if (abandoned.has(delivery)) return;
      if (outcome.ok) {
        await delivery.complete(outcome.value);
      } else if (jobs.signal.aborted) {
        await delivery.release();
      } else if (job.attempt < job.maxAttempts) {
        await delivery.retry(messageOf(outcome.err), backoffDelay(delivery.backoff, job.attempt));
      } else {
        await delivery.bury(messageOf(outcome.err));
      }
    } catch (err) {
      // The queue could not record the outcome; the job's lease runs out and it is delivered again.
      log.error({ err, queue: job.queue, job: job.id }, 'job queue: could not record a job outcome');
    } finally {
      running.delete(delivery);
      processed++;
      slotFreed?.();
    }
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
      for (const delivery of deliveries) running.set(delivery, run(delivery));
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
        const all = () => Promise.allSettled([...running.values()]);
        let timer: NodeJS.Timeout | undefined;
        const deadline = new Promise<void>((resolve) => {
          timer = setTimeout(resolve, timeoutMs);
        });
        await Promise.race([all(), deadline]);
        clearTimeout(timer);
        if (running.size > 0) {
          jobs.abort(new WeirError('WEIR_ERR_JOBS_CLOSED', 'The consumer closed before this job finished'));
          await Promise.race([all(), sleep(ABORT_GRACE_MS)]);
          // Handlers that ignore their signal: their jobs go back now; what they do later is not recorded.
          await Promise.allSettled(
            [...running.keys()].map((delivery) => {
              abandoned.add(delivery);
              return delivery.release();
            }),
          );
        }
        if (extender !== undefined) clearInterval(extender);
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
