/**
 * Metrics of the backends an app is given, read when Prometheus scrapes: database pools, caches, job
 * queues and the worker-thread pool. Each is named by the key it is given under (`{ main: db }` →
 * `database="main"`), so an app with two caches tells them apart.
 */
import type { Registry } from 'prom-client';
import type { Cache } from '../cache/cache.ts';
import { workerStats } from '../concurrency/run-in-worker.ts';
import { type AcquireRecord, acquireChannel } from '../db/observe.ts';
import { invalidOption } from '../errors.ts';
import { jobChannel } from '../queue/runner.ts';
import { Histogram2, KeyedCounter, pulled, type Sample } from './collectors.ts';

/** The buckets of connection acquisitions, in seconds: 0 (at once) … 5 s. */
const ACQUIRE_BUCKETS = [0.0001, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5];

/** The buckets of job durations, in seconds: 10 ms … 10 min. */
const JOB_BUCKETS = [0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300, 600];

/** A channel subscription the metrics hold until they close. */
export interface Subscription {
  readonly channel: string;
  readonly listener: (message: unknown) => void;
}

/** What the metrics read of a database: `db.poolStats()` (weir/db). */
export interface PoolStatsSource {
  poolStats(): {
    readonly max: number;
    readonly open: number;
    readonly inUse: number;
    readonly waiting: number;
  };
}

/** What the metrics read of a job queue: its counts by state, when the backend keeps them. */
export interface QueueSource {
  readonly name: string;
  counts?: () => Promise<Record<string, number>>;
}

/** The backends to report, each under a name. */
export interface MetricSources {
  /** Databases (weir/db): pool size, connections open and in use, queries waiting. */
  databases?: Readonly<Record<string, PoolStatsSource>>;
  /** Caches (weir/cache): hits, misses, stale values served, loads, errors, and whether degraded. */
  caches?: Readonly<Record<string, Pick<Cache, 'stats'>>>;
  /** Job queues (weir/queue): jobs by state, on backends that count them (SQLite). */
  queues?: Readonly<Record<string, QueueSource>>;
  /** The worker-thread pool of `runInWorker()`: threads, tasks in flight, tasks completed. @default true */
  workers?: boolean;
}

/** The entries of one kind of source, each with its name (none when the kind is not given). */
export function named<T>(record: Readonly<Record<string, T>> | undefined): [string, T][] {
  return record === undefined ? [] : Object.entries(record);
}

/**
 * Every queue's job counts by state, on backends that keep them. A queue whose backend counts nothing is
 * left out, and so is one whose count fails this time (a dropped connection): the others still report.
 */
export async function readQueueCounts(
  queues: readonly [string, QueueSource][],
): Promise<[string, Record<string, number>][]> {
  const read = await Promise.all(
    queues.map(async ([name, q]): Promise<[string, Record<string, number>] | undefined> => {
      if (typeof q.counts !== 'function') return undefined;
      try {
        return [name, await q.counts()];
      } catch {
        return undefined;
      }
    }),
  );
  return read.filter((entry) => entry !== undefined);
}

/**
 * Checks the sources an observer is given: each database has `poolStats()`, each cache `stats()`, each
 * queue a `name`, so a wrong object fails at start-up rather than on the first read.
 * @throws WEIR_ERR_INVALID_OPTION naming the source at fault.
 */
export function checkSources(sources: MetricSources, owner: string): void {
  const check = (kind: keyof MetricSources, member: string, isOk: (value: unknown) => boolean) => {
    const record = sources[kind];
    if (record === undefined) return;
    if (typeof record !== 'object' || record === null) {
      throw invalidOption(`${owner} ${kind}`, 'an object of named sources', record);
    }
    for (const [name, value] of Object.entries(record)) {
      if (!isOk(value)) throw invalidOption(`${owner} ${kind}.${name}`, `an object with ${member}`, value);
    }
  };
  const method = (key: string) => (value: unknown) =>
    typeof value === 'object' &&
    value !== null &&
    typeof (value as Record<string, unknown>)[key] === 'function';
  check('databases', 'poolStats()', method('poolStats'));
  check('caches', 'stats()', method('stats'));
  check(
    'queues',
    'a name',
    (value) => typeof value === 'object' && value !== null && typeof (value as QueueSource).name === 'string',
  );
  if (sources.workers !== undefined && typeof sources.workers !== 'boolean') {
    throw invalidOption(`${owner} workers`, 'a boolean', sources.workers);
  }
}

/**
 * Registers the metrics of `sources` in `registry`, and of the job attempts this process runs (from the
 * `weir:queue.job` channel); returns the subscriptions to hold.
 */
export function sourceMetrics(registry: Registry, prefix: string, sources: MetricSources): Subscription[] {
  const databases = named(sources.databases);
  if (databases.length > 0) {
    const pool = (name: string, help: string, field: 'max' | 'open' | 'inUse' | 'waiting'): void =>
      pulled(registry, `${prefix}db_pool_${name}`, help, 'gauge', () =>
        databases.map(([database, db]) => ({ labels: { database }, value: db.poolStats()[field] })),
      );
    pool('max', 'Most connections the pool opens.', 'max');
    pool('open', 'Connections open now, busy or idle.', 'open');
    pool('in_use', 'Connections running a query or transaction now.', 'inUse');
    pool('waiting', 'Queries waiting for a connection now.', 'waiting');
  }

  const caches = named(sources.caches);
  if (caches.length > 0) {
    const counter = (
      name: string,
      help: string,
      field: 'hits' | 'misses' | 'stale' | 'loads' | 'errors',
    ): void =>
      pulled(registry, `${prefix}cache_${name}_total`, help, 'counter', () =>
        caches.map(([cache, c]) => ({ labels: { cache }, value: c.stats()[field] })),
      );
    counter('hits', 'Fresh values served.', 'hits');
    counter('misses', 'Lookups that found nothing fresh.', 'misses');
    counter('stale', 'Stale values served while a refresh ran.', 'stale');
    counter('loads', 'Loader calls, after single-flight.', 'loads');
    counter('errors', 'Backend operations that failed (treated as misses).', 'errors');
    pulled(
      registry,
      `${prefix}cache_degraded`,
      '1 while the cache’s backend does not answer, else 0.',
      'gauge',
      () =>
        caches.map(([cache, c]) => ({ labels: { cache }, value: c.stats().status === 'degraded' ? 1 : 0 })),
    );
  }

  const queues = named(sources.queues);
  if (queues.length > 0) {
    pulled(
      registry,
      `${prefix}queue_jobs`,
      'Jobs by state, on backends that count them.',
      'gauge',
      async () => {
        const out: Sample[] = [];
        for (const [queue, counts] of await readQueueCounts(queues)) {
          for (const [state, value] of Object.entries(counts)) out.push({ labels: { queue, state }, value });
        }
        return out;
      },
    );
  }

  if (sources.workers !== false) {
    const worker = (
      name: string,
      help: string,
      type: 'gauge' | 'counter',
      field: 'threads' | 'inFlight' | 'completed',
    ) =>
      pulled(registry, `${prefix}${name}`, help, type, async () => [
        { labels: {}, value: (await workerStats())[field] },
      ]);
    worker('worker_threads', 'Threads of the runInWorker() pool.', 'gauge', 'threads');
    worker('worker_tasks_in_flight', 'runInWorker() tasks running or waiting.', 'gauge', 'inFlight');
    worker('worker_tasks_completed_total', 'runInWorker() tasks completed.', 'counter', 'completed');
  }

  return [
    { channel: String(jobChannel.name), listener: jobMetrics(registry, prefix) },
    { channel: String(acquireChannel.name), listener: acquireMetrics(registry, prefix) },
  ];
}

/** Connection acquisitions by driver and outcome (acquired, refused), and how long each waited. */
function acquireMetrics(registry: Registry, prefix: string): (message: unknown) => void {
  const waits = new Histogram2(
    registry,
    `${prefix}db_acquire_seconds`,
    'Time from asking for a database connection to getting it (acquired) or being refused (refused: maxWaiting full, acquireTimeoutMs, a deadline).',
    ['driver', 'outcome'],
    ACQUIRE_BUCKETS,
  );
  return (message) => {
    const record = message as AcquireRecord;
    waits.observe(record.driver, record.ok ? 'acquired' : 'refused', record.waitedMs / 1000);
  };
}

/** Job attempts by queue: running now, finished by outcome, and their durations. */
function jobMetrics(registry: Registry, prefix: string): (message: unknown) => void {
  const running = new Map<string, number>();
  const finished = new KeyedCounter(
    registry,
    `${prefix}queue_attempts_total`,
    'Job attempts finished, by queue and outcome (completed, retried, dead, timed-out, released, unrecorded).',
    ['queue', 'outcome'],
  );
  const durations = new Histogram2(
    registry,
    `${prefix}queue_attempt_duration_seconds`,
    'Time from a job attempt’s start to its recorded outcome, by queue and outcome.',
    ['queue', 'outcome'],
    JOB_BUCKETS,
  );
  pulled(registry, `${prefix}queue_attempts_running`, 'Job attempts running now, by queue.', 'gauge', () =>
    [...running].map(([queue, value]) => ({ labels: { queue }, value })),
  );
  return (message) => {
    const event = message as { type: 'start' | 'end'; queue: string; outcome?: string; durationMs?: number };
    if (event.type === 'start') {
      running.set(event.queue, (running.get(event.queue) ?? 0) + 1);
      return;
    }
    running.set(event.queue, Math.max(0, (running.get(event.queue) ?? 0) - 1));
    const outcome = event.outcome ?? 'unrecorded';
    finished.inc([event.queue, outcome]);
    durations.observe(event.queue, outcome, (event.durationMs ?? 0) / 1000);
  };
}
