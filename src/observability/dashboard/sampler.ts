/**
 * The dashboard's sampler: one per `dashboard()`, shared by every page that watches it.
 *
 * Inputs: the app's requests (the `weir:http.request` channel, the dashboard's own routes left out), its
 * overload limiter, the process (event loop, memory) and the sources it was given (pools, caches, queues,
 * the worker-thread pool). Outputs: one {@link DashboardSample} per interval, kept in a ring of the last
 * `historySize` and handed to every viewer. Guarantees: it runs only while someone watches: the first
 * viewer subscribes to the channel and starts one unref'd timer, the last one to leave stops both, so an
 * app whose dashboard nobody has open pays nothing per request. Memory is fixed: the ring, one latency
 * histogram and a counter per source.
 */
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { type IntervalHistogram, monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { workerStats } from '../../concurrency/run-in-worker.ts';
import type { AppRuntime } from '../../http/app-runtime.ts';
import { type RequestRecord, requestChannel } from '../../http/observe.ts';
import type { Logger } from '../../internal/logger.ts';
import { type MetricSources, named, readQueueCounts } from '../sources.ts';
import { LatencyHistogram } from './latency.ts';

/** What the dashboard shows at one moment: the JSON of each `sample` event. */
export interface DashboardSample {
  /** When it was taken, in ms since the epoch. */
  t: number;
  /** Responses over the last interval (the dashboard's own aside). */
  requests: number;
  /** Responses of 500 and above over the last interval. */
  serverErrors: number;
  /** Responses per second over the last interval. */
  requestsPerSecond: number;
  /** Responses of 500 and above per second over the last interval. */
  serverErrorsPerSecond: number;
  /** The median request duration over the last interval, in ms; `null` without requests. */
  p50Ms: number | null;
  /** The 99th percentile request duration over the last interval, in ms; `null` without requests. */
  p99Ms: number | null;
  /** The overload limiter now; `null` when the app runs without one (`overload: false`). */
  limiter: {
    /** Requests holding a slot. */
    inFlight: number;
    /** Its current limit on requests at once. */
    limit: number;
    /** Requests waiting for a slot. */
    queued: number;
    /** Requests shed per second over the last interval. */
    shedPerSecond: number;
  } | null;
  /** Share of the last interval the event loop was busy (0…1), and its 99th percentile delay in ms. */
  eventLoop: { utilization: number; lagMs: number };
  /** The process's resident set size and used V8 heap, in bytes. */
  memory: { rssBytes: number; heapUsedBytes: number };
  /** Each database's pool, by the name it was given. */
  databases: Record<string, { inUse: number; open: number; max: number; waiting: number }>;
  /**
   * Each cache's share of lookups served (fresh or stale) over the last interval, `null` without lookups;
   * `degraded` while its backend does not answer.
   */
  caches: Record<string, { hitRatio: number | null; degraded: boolean }>;
  /** Each queue's jobs by state (`waiting`, `active`, …), on backends that count them. */
  queues: Record<string, Record<string, number>>;
  /** The `runInWorker()` pool: its threads, and tasks running or waiting; `null` when not watched. */
  workers: { threads: number; inFlight: number } | null;
}

/** A page watching the dashboard: `send()` takes a sample's JSON, and is false once the page has gone. */
export interface Viewer {
  send(json: string): boolean;
}

/** What a sampler needs to know. */
export interface SamplerSettings {
  readonly intervalMs: number;
  readonly historySize: number;
  readonly maxClients: number;
  readonly runtime: AppRuntime;
  /** The route patterns of the dashboard itself, whose requests are not counted. */
  readonly ownRoutes: ReadonlySet<string>;
  readonly sources: MetricSources;
  readonly log: Logger;
}

/** The event-loop delay histogram's resolution, in ms: its samples include it. */
const LOOP_RESOLUTION_MS = 10;

const round = (value: number, digits = 3): number => {
  const scale = 10 ** digits;
  return Math.round(value * scale) / scale;
};

export class Sampler {
  readonly #settings: SamplerSettings;
  readonly #viewers = new Set<Viewer>();
  /** The last `historySize` samples, oldest first once rotated at `#next`. */
  readonly #ring: DashboardSample[] = [];
  #next = 0;
  #timer: NodeJS.Timeout | undefined;
  #delay: IntervalHistogram | undefined;
  /** The interval being counted: requests, server errors and durations since the last sample. */
  readonly #latency = new LatencyHistogram();
  #requests = 0;
  #serverErrors = 0;
  /** Readings of the last sample, which the next one's rates are taken from. */
  #mark = { at: 0, elu: performance.eventLoopUtilization(), shed: 0, caches: new Map<string, number[]>() };
  #busy = false;
  #closed = false;
  #warned = false;

  constructor(settings: SamplerSettings) {
    this.#settings = settings;
  }

  /** How often it samples, in ms. */
  get intervalMs(): number {
    return this.#settings.intervalMs;
  }

  /** How many samples it keeps. */
  get historySize(): number {
    return this.#settings.historySize;
  }

  /** Pages watching now. */
  get viewers(): number {
    return this.#viewers.size;
  }

  /** True while the timer runs (someone watches). */
  get sampling(): boolean {
    return this.#timer !== undefined;
  }

  /** The samples kept, oldest first. */
  history(): DashboardSample[] {
    return [...this.#ring.slice(this.#next), ...this.#ring.slice(0, this.#next)];
  }

  /**
   * Adds a viewer, starting the sampler for the first; returns how to remove it, or `undefined` when
   * `maxClients` viewers watch already (or the dashboard is closed).
   */
  add(viewer: Viewer): (() => void) | undefined {
    if (this.#closed || this.#viewers.size >= this.#settings.maxClients) return undefined;
    this.#viewers.add(viewer);
    if (this.#viewers.size === 1) this.#start();
    return () => this.#remove(viewer);
  }

  /** Stops sampling and forgets every viewer (the app stops). */
  close(): void {
    this.#closed = true;
    this.#viewers.clear();
    this.#stop();
  }

  #remove(viewer: Viewer): void {
    if (this.#viewers.delete(viewer) && this.#viewers.size === 0) this.#stop();
  }

  readonly #onRequest = (message: unknown): void => {
    const record = message as RequestRecord;
    if (record.runtime !== this.#settings.runtime || this.#settings.ownRoutes.has(record.route)) return;
    this.#requests++;
    if (record.status >= 500) this.#serverErrors++;
    this.#latency.record(record.durationMs);
  };

  #start(): void {
    subscribe(requestChannel.name, this.#onRequest);
    this.#delay = monitorEventLoopDelay({ resolution: LOOP_RESOLUTION_MS });
    this.#delay.enable();
    this.#resetInterval();
    this.#mark = {
      at: performance.now(),
      elu: performance.eventLoopUtilization(),
      shed: this.#settings.runtime.limiter?.stats().shed.total ?? 0,
      caches: this.#cacheCounts(),
    };
    this.#timer = setInterval(() => void this.#tick(), this.#settings.intervalMs);
    this.#timer.unref();
  }

  #stop(): void {
    if (this.#timer === undefined) return;
    unsubscribe(requestChannel.name, this.#onRequest);
    clearInterval(this.#timer);
    this.#timer = undefined;
    this.#delay?.disable();
    this.#delay = undefined;
  }

  #resetInterval(): void {
    this.#requests = 0;
    this.#serverErrors = 0;
    this.#latency.reset();
  }

  async #tick(): Promise<void> {
    // A queue's count that outlasts an interval skips a tick rather than piling reads up.
    if (this.#busy) return;
    this.#busy = true;
    try {
      const sample = await this.#sample();
      if (this.#ring.length < this.#settings.historySize) this.#ring.push(sample);
      else {
        this.#ring[this.#next] = sample;
        this.#next = (this.#next + 1) % this.#settings.historySize;
      }
      // Serialised once for every viewer.
      const json = JSON.stringify(sample);
      for (const viewer of this.#viewers) if (!viewer.send(json)) this.#remove(viewer);
    } catch (err) {
      if (!this.#warned) this.#settings.log.warn({ err }, 'dashboard: a sample failed');
      this.#warned = true;
    } finally {
      this.#busy = false;
    }
  }

  /** Takes a sample: the interval's counts (then starts the next interval), and every reading now. */
  async #sample(): Promise<DashboardSample> {
    const now = performance.now();
    const seconds = Math.max(1e-3, (now - this.#mark.at) / 1000);
    const elu = performance.eventLoopUtilization();
    const limiter = this.#settings.runtime.limiter?.stats();
    const delay = this.#delay;
    const lagMs =
      delay === undefined || delay.count === 0
        ? 0
        : Math.max(0, delay.percentile(99) / 1e6 - LOOP_RESOLUTION_MS);
    delay?.reset();
    const sample: DashboardSample = {
      t: Date.now(),
      requests: this.#requests,
      serverErrors: this.#serverErrors,
      requestsPerSecond: round(this.#requests / seconds, 2),
      serverErrorsPerSecond: round(this.#serverErrors / seconds, 2),
      p50Ms: this.#quantile(0.5),
      p99Ms: this.#quantile(0.99),
      limiter:
        limiter === undefined
          ? null
          : {
              inFlight: limiter.inFlight,
              limit: limiter.limit,
              queued: limiter.queued,
              shedPerSecond: round((limiter.shed.total - this.#mark.shed) / seconds, 2),
            },
      eventLoop: {
        utilization: round(performance.eventLoopUtilization(elu, this.#mark.elu).utilization),
        lagMs: round(lagMs, 1),
      },
      memory: { rssBytes: process.memoryUsage.rss(), heapUsedBytes: process.memoryUsage().heapUsed },
      databases: this.#pools(),
      caches: {},
      queues: {},
      workers: null,
    };
    this.#resetInterval();
    const caches = this.#cacheCounts();
    for (const [name, [served = 0, missed = 0, degraded = 0]] of caches) {
      const [servedBefore = 0, missedBefore = 0] = this.#mark.caches.get(name) ?? [];
      const lookups = served - servedBefore + (missed - missedBefore);
      sample.caches[name] = {
        hitRatio: lookups > 0 ? round((served - servedBefore) / lookups) : null,
        degraded: degraded === 1,
      };
    }
    this.#mark = { at: now, elu, shed: limiter?.shed.total ?? 0, caches };
    const [queues, workers] = await Promise.all([
      readQueueCounts(named(this.#settings.sources.queues)),
      this.#settings.sources.workers === false ? undefined : workerStats().catch(() => undefined),
    ]);
    for (const [name, counts] of queues) sample.queues[name] = counts;
    if (workers !== undefined) sample.workers = { threads: workers.threads, inFlight: workers.inFlight };
    return sample;
  }

  #quantile(q: number): number | null {
    const ms = this.#latency.quantile(q);
    return ms === null ? null : round(ms);
  }

  #pools(): DashboardSample['databases'] {
    const out: DashboardSample['databases'] = {};
    for (const [name, db] of named(this.#settings.sources.databases)) {
      try {
        const { inUse, open, max, waiting } = db.poolStats();
        out[name] = { inUse, open, max, waiting };
      } catch {
        // A closed pool has nothing to show; the others still do.
      }
    }
    return out;
  }

  /** Each cache's counters now: [served (fresh + stale), misses, 1 when degraded]. */
  #cacheCounts(): Map<string, number[]> {
    const out = new Map<string, number[]>();
    for (const [name, cache] of named(this.#settings.sources.caches)) {
      try {
        const stats = cache.stats();
        out.set(name, [stats.hits + stats.stale, stats.misses, stats.status === 'degraded' ? 1 : 0]);
      } catch {
        // As for pools: a cache that cannot say is left out of this sample.
      }
    }
    return out;
  }
}
