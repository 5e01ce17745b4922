import { availableParallelism } from 'node:os';
import { pathToFileURL } from 'node:url';
import type { Piscina } from 'piscina';
import { invalidOption } from '../errors.ts';
import { needsBudget, withinBudget } from './deadline.ts';
import { workerQueueFull } from './errors.ts';
import { reasonOf } from './signal.ts';
import type { SignalOptions } from './sleep.ts';
import type { WorkerTask } from './worker-entry.ts';

/** Sizing of the shared worker-thread pool. */
export interface WorkerPoolOptions {
  /** Threads in the pool. @default availableParallelism() - 1, at least 1 (the event loop keeps a core) */
  maxThreads?: number;
  /** Tasks waiting for a thread; one more fails at once with `WEIR_ERR_WORKER_QUEUE_FULL` (503). @default 32 × maxThreads */
  maxQueue?: number;
  /** How long an idle thread lives. @default 30000 */
  idleTimeoutMs?: number;
}

/** What runs in the worker: a self-contained function, or a module and export name. */
export type WorkerFunction<A extends unknown[], R> =
  | ((...args: A) => R)
  | URL
  | string
  | { readonly module: URL | string; readonly name: string };

let settings: Required<WorkerPoolOptions> | undefined;
let pool: Promise<Piscina> | undefined;
// Tasks submitted and not settled. The bound is weir's own rather than piscina's, whose queue limit
// shifts while threads are still starting; here it is exactly maxThreads running + maxQueue waiting.
let inFlight = 0;

function resolvedSettings(): Required<WorkerPoolOptions> {
  if (settings === undefined) configureWorkers({});
  return settings!;
}

/**
 * Sets the size of the shared pool. Call it before the first `runInWorker()`; afterwards it throws.
 * @throws WeirError `WEIR_ERR_INVALID_OPTION`
 */
export function configureWorkers(options: WorkerPoolOptions): void {
  if (pool !== undefined)
    throw invalidOption('configureWorkers()', 'called before the first runInWorker()', 'a running pool');
  const maxThreads = options.maxThreads ?? Math.max(1, availableParallelism() - 1);
  if (!Number.isInteger(maxThreads) || maxThreads < 1)
    throw invalidOption('maxThreads', 'an integer ≥ 1', maxThreads);
  const maxQueue = options.maxQueue ?? 32 * maxThreads;
  if (!Number.isInteger(maxQueue) || maxQueue < 0)
    throw invalidOption('maxQueue', 'an integer ≥ 0', maxQueue);
  const idleTimeoutMs = options.idleTimeoutMs ?? 30_000;
  if (!(idleTimeoutMs >= 0)) throw invalidOption('idleTimeoutMs', 'a number ≥ 0', idleTimeoutMs);
  settings = { maxThreads, maxQueue, idleTimeoutMs };
}

function getPool(): Promise<Piscina> {
  if (pool === undefined) {
    const { maxThreads, idleTimeoutMs } = resolvedSettings();
    pool = (async () => {
      const { Piscina } = await import('piscina');
      // Under a TypeScript loader this file is .ts, and so is its sibling; built, both are .js.
      const entry = new URL(
        import.meta.url.endsWith('.ts') ? './worker-entry.ts' : './worker-entry.js',
        import.meta.url,
      );
      return new Piscina({ filename: entry.href, minThreads: 0, maxThreads, idleTimeout: idleTimeoutMs });
    })();
  }
  return pool;
}

function toTask(fn: WorkerFunction<unknown[], unknown>, args: readonly unknown[]): WorkerTask {
  if (typeof fn === 'function') return { source: fn.toString(), args };
  if (fn instanceof URL) return { file: fn.href, args };
  if (typeof fn === 'string') return { file: fn.startsWith('file:') ? fn : pathToFileURL(fn).href, args };
  if (typeof fn === 'object' && fn !== null && 'module' in fn) {
    const file = fn.module instanceof URL ? fn.module.href : pathToFileURL(fn.module).href;
    return { file, name: fn.name, args };
  }
  throw invalidOption('runInWorker() task', 'a function, a module URL or path, or { module, name }', fn);
}

/**
 * Runs CPU-bound work on the shared worker-thread pool, so the event loop keeps serving, like asyncio's
 * `run_in_executor`. `fn` is a self-contained function (its source is sent to the thread: it may not use
 * variables from its surroundings), or a module (URL or path, default export or `{ module, name }`).
 * Arguments and result must be structured-cloneable.
 *
 * Aborting the signal removes a queued task, or stops a running one (its thread is replaced), and
 * rejects with the signal's reason. A full queue rejects at once with `WEIR_ERR_WORKER_QUEUE_FULL`, an
 * `HttpError` 503 with `Retry-After`.
 * @example
 * const digest = await runInWorker(hashChain, [seed, n], { signal: ctx.signal });
 */
export async function runInWorker<A extends unknown[], R>(
  fn: WorkerFunction<A, R>,
  args: A,
  options?: SignalOptions,
): Promise<Awaited<R>> {
  if (needsBudget(options)) {
    return withinBudget(options, (signal) => runInWorker(fn, args, { signal }));
  }
  const task = toTask(fn as WorkerFunction<unknown[], unknown>, args);
  const signal = options?.signal;
  if (signal?.aborted) throw reasonOf(signal);
  const { maxThreads, maxQueue } = resolvedSettings();
  if (inFlight >= maxThreads + maxQueue) throw workerQueueFull(maxQueue);
  inFlight++;
  try {
    const piscina = await getPool();
    return (await piscina.run(task, signal === undefined ? undefined : { signal })) as Awaited<R>;
  } catch (err) {
    if (signal?.aborted) throw reasonOf(signal);
    throw err;
  } finally {
    inFlight--;
  }
}

/** Live numbers of the shared pool (`inFlight` counts running and waiting tasks), for health checks and metrics. */
export async function workerStats(): Promise<{ threads: number; inFlight: number; completed: number }> {
  if (pool === undefined) return { threads: 0, inFlight, completed: 0 };
  const p = await pool;
  return { threads: p.threads.length, inFlight, completed: p.completed };
}

/** Stops the shared pool's threads (running tasks are aborted). A later `runInWorker()` starts a new pool. */
export async function shutdownWorkers(): Promise<void> {
  const current = pool;
  pool = undefined;
  settings = undefined;
  if (current !== undefined) await (await current).destroy();
}
