/**
 * Work meant to outlive the request that started it (a confirmation e-mail, a cache warm-up): `ctx.tasks`
 * is cancelled with its response, `app.background()` is not. The app tracks each task: a failure is
 * logged, never an unhandled rejection; at stop the app waits for the running ones (up to
 * `stopTimeoutMs`), then aborts their signal and stops waiting. The number running at once is bounded: past
 * `maxTasks` a new one is refused with 503 `WEIR_ERR_BACKGROUND_FULL`, so that a burst of requests cannot
 * pile up unbounded work behind their answers. For work that must survive a crash, enqueue a job instead.
 */
import { scopedController } from '../concurrency/signal.ts';
import { httpError, invalidOption } from '../errors.ts';
import type { Logger } from '../internal/logger.ts';

/** Options of `app.background()` as a whole: `new App({ background })`. */
export interface BackgroundOptions {
  /** Most background tasks running at once; past it `app.background()` throws 503. @default 1000 */
  maxTasks?: number;
  /** How long the app's stop waits for running background tasks before aborting them. @default 10000 */
  stopTimeoutMs?: number;
}

/** Options of one background task. */
export interface SpawnOptions {
  /** Names the task in the log line of its failure. */
  name?: string;
}

const DEFAULT_MAX_TASKS = 1000;
const DEFAULT_STOP_TIMEOUT_MS = 10_000;

export class Background {
  readonly #log: Logger;
  readonly #maxTasks: number;
  readonly #stopTimeoutMs: number;
  readonly #controller = scopedController();
  readonly #running = new Set<Promise<unknown>>();
  #stopping = false;

  constructor(log: Logger, options: BackgroundOptions = {}) {
    const { maxTasks = DEFAULT_MAX_TASKS, stopTimeoutMs = DEFAULT_STOP_TIMEOUT_MS } = options;
    if (!Number.isSafeInteger(maxTasks) || maxTasks < 1) {
      throw invalidOption('background maxTasks', 'an integer ≥ 1', maxTasks);
    }
    if (!Number.isSafeInteger(stopTimeoutMs) || stopTimeoutMs < 0) {
      throw invalidOption('background stopTimeoutMs', 'a non-negative integer', stopTimeoutMs);
    }
    this.#log = log;
    this.#maxTasks = maxTasks;
    this.#stopTimeoutMs = stopTimeoutMs;
  }

  /** Background tasks running now. */
  get size(): number {
    return this.#running.size;
  }

  /**
   * Starts `fn` with a signal that aborts only when the app stops past `stopTimeoutMs`; resolves with its
   * result (awaiting it is optional: a failure is logged either way).
   * @throws HttpError 503 `WEIR_ERR_BACKGROUND_FULL` past `maxTasks`, or once the app is stopping.
   */
  spawn<T>(fn: (signal: AbortSignal) => PromiseLike<T> | T, options?: SpawnOptions): Promise<T> {
    if (typeof fn !== 'function') throw invalidOption('background() task', 'a function', fn);
    if (this.#stopping) {
      throw httpError('WEIR_ERR_BACKGROUND_FULL', 'The app is stopping: it starts no background task');
    }
    if (this.#running.size >= this.#maxTasks) {
      throw httpError(
        'WEIR_ERR_BACKGROUND_FULL',
        `${this.#maxTasks} background tasks are already running`,
        undefined,
        { headers: { 'retry-after': '1' } },
      );
    }
    const signal = this.#controller.signal;
    const task = (async () => fn(signal))();
    this.#running.add(task);
    task.then(
      () => this.#running.delete(task),
      (err: unknown) => {
        this.#running.delete(task);
        if (signal.aborted && err === signal.reason) return;
        this.#log.error({ err, task: options?.name }, 'a background task failed');
      },
    );
    return task;
  }

  /** Refuses new tasks, waits for the running ones up to `stopTimeoutMs`, then aborts the rest. */
  async stop(): Promise<void> {
    this.#stopping = true;
    if (this.#running.size === 0) return;
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<'late'>((resolve) => {
      timer = setTimeout(() => resolve('late'), this.#stopTimeoutMs);
    });
    const settled = Promise.allSettled([...this.#running]);
    const outcome = await Promise.race([settled, late]);
    clearTimeout(timer);
    if (outcome !== 'late') return;
    this.#log.warn(
      { running: this.#running.size, stopTimeoutMs: this.#stopTimeoutMs },
      'background tasks still running at stop: aborting them',
    );
    this.#controller.abort(
      httpError('WEIR_ERR_SHUTTING_DOWN', 'The app stopped before the background task finished'),
    );
    // A task that honours its signal ends now; one that does not is left behind, not waited for.
    await Promise.race([settled, new Promise((resolve) => setTimeout(resolve, 100).unref())]);
  }
}
