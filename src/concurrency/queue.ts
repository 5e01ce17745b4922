import { invalidOption, WeirError } from '../errors.ts';
import { Fifo } from '../internal/fifo.ts';
import { needsBudget, withinBudget } from './deadline.ts';
import { queueClosed } from './errors.ts';
import { onAbort, reasonOf } from './signal.ts';
import type { SignalOptions } from './sleep.ts';

/** Options of a {@link Queue}. */
export interface QueueOptions {
  /** Most items held; `put()` waits while the queue is full. `Infinity` opts out. @default 1000 */
  maxsize?: number;
}

interface Pending<T> {
  readonly settle: (value: T) => void;
  readonly fail: (err: unknown) => void;
  done: boolean;
}

/** A FIFO of waiters that skips the ones that gave up. */
class Waiters<T> {
  readonly #line = new Fifo<Pending<T>>();

  push(waiter: Pending<T>): void {
    this.#line.push(waiter);
  }

  /** The next waiter still waiting, removed from the line; `undefined` if none. */
  shift(): Pending<T> | undefined {
    for (let waiter = this.#line.shift(); waiter !== undefined; waiter = this.#line.shift()) {
      if (!waiter.done) return waiter;
    }
    return undefined;
  }

  failAll(err: unknown): void {
    for (let w = this.shift(); w !== undefined; w = this.shift()) {
      w.done = true;
      w.fail(err);
    }
  }
}

/**
 * A bounded async FIFO queue, like asyncio's Queue: `put()` waits while full, `get()` waits while empty,
 * both in FIFO order and both cancellable; `taskDone()`/`join()` track completion of consumed items;
 * `close()` stops it: waiting putters reject at once, getters drain what is left and then reject with
 * `WEIR_ERR_QUEUE_CLOSED`. It is also an async iterable that ends when the queue is closed and drained.
 * @example
 * const jobs = new Queue<Job>({ maxsize: 100 });
 * await jobs.put(job, { signal });
 * for await (const job of jobs) { await handle(job); jobs.taskDone(); }
 */
export class Queue<T> implements AsyncIterable<T> {
  readonly #maxsize: number;
  readonly #items = new Fifo<T>();
  readonly #getters = new Waiters<T>();
  readonly #putters = new Waiters<void>();
  #unfinished = 0;
  #joiners: (() => void)[] = [];
  #closed = false;

  constructor(options: QueueOptions = {}) {
    const maxsize = options.maxsize ?? 1000;
    if (!(maxsize >= 1) || (maxsize !== Number.POSITIVE_INFINITY && !Number.isInteger(maxsize))) {
      throw invalidOption('Queue maxsize', 'an integer ≥ 1 or Infinity', maxsize);
    }
    this.#maxsize = maxsize;
  }

  /** Items in the queue. */
  get size(): number {
    return this.#items.length;
  }

  /** The bound given at construction. */
  get maxsize(): number {
    return this.#maxsize;
  }

  /** Whether `close()` was called. */
  get closed(): boolean {
    return this.#closed;
  }

  /** Adds an item now, or throws `WEIR_ERR_QUEUE_FULL` / `WEIR_ERR_QUEUE_CLOSED`. */
  putNowait(item: T): void {
    if (this.#closed) throw queueClosed();
    if (this.size >= this.#maxsize)
      throw new WeirError('WEIR_ERR_QUEUE_FULL', `The queue is full (maxsize ${this.#maxsize})`);
    this.#enqueue(item);
  }

  /** Adds an item, waiting while the queue is full. */
  async put(item: T, options?: SignalOptions): Promise<void> {
    if (needsBudget(options)) return withinBudget(options, (signal) => this.put(item, { signal }));
    const signal = options?.signal;
    if (signal?.aborted) throw reasonOf(signal);
    while (!this.#closed && this.size >= this.#maxsize) await this.#wait(this.#putters, signal);
    if (this.#closed) throw queueClosed();
    this.#enqueue(item);
  }

  /** Takes the next item now, or throws `WEIR_ERR_QUEUE_EMPTY` (or `WEIR_ERR_QUEUE_CLOSED` once drained). */
  getNowait(): T {
    if (this.size === 0) {
      if (this.#closed) throw queueClosed();
      throw new WeirError('WEIR_ERR_QUEUE_EMPTY', 'The queue is empty');
    }
    return this.#dequeue();
  }

  /** Takes the next item, waiting while the queue is empty. */
  get(options?: SignalOptions): Promise<T> {
    if (needsBudget(options)) return withinBudget(options, (signal) => this.get({ signal }));
    const signal = options?.signal;
    if (signal?.aborted) return Promise.reject(reasonOf(signal));
    if (this.size > 0) return Promise.resolve(this.#dequeue());
    if (this.#closed) return Promise.reject(queueClosed());
    return this.#wait(this.#getters, signal);
  }

  /** Marks one consumed item as processed; `join()` resolves when every item put has been marked. */
  taskDone(): void {
    if (this.#unfinished === 0)
      throw new WeirError('WEIR_ERR_INVALID_OPTION', 'taskDone() called more times than items were put');
    if (--this.#unfinished === 0) {
      const joiners = this.#joiners;
      this.#joiners = [];
      for (const wake of joiners) wake();
    }
  }

  /** Waits until every item put has been taken and marked with `taskDone()`. */
  join(options?: SignalOptions): Promise<void> {
    if (this.#unfinished === 0) return Promise.resolve();
    if (needsBudget(options)) return withinBudget(options, (signal) => this.join({ signal }));
    const signal = options?.signal;
    if (signal?.aborted) return Promise.reject(reasonOf(signal));
    return new Promise((resolve, reject) => {
      const wake = (): void => {
        detach();
        resolve();
      };
      const detach = onAbort(signal, () => {
        this.#joiners = this.#joiners.filter((w) => w !== wake);
        reject(reasonOf(signal!));
      });
      this.#joiners.push(wake);
    });
  }

  /**
   * Closes the queue: waiting and later `put()`s reject with `WEIR_ERR_QUEUE_CLOSED`; `get()` still returns
   * what is left, then rejects the same way. With `{ drop: true }` what is left is discarded too.
   */
  close(options?: { drop?: boolean }): void {
    if (options?.drop === true) {
      this.#unfinished -= this.size;
      this.#items.clear();
      if (this.#unfinished <= 0) {
        this.#unfinished = 0;
        for (const wake of this.#joiners.splice(0)) wake();
      }
    }
    if (this.#closed) return;
    this.#closed = true;
    this.#putters.failAll(queueClosed());
    if (this.size === 0) this.#getters.failAll(queueClosed());
  }

  async *[Symbol.asyncIterator](): AsyncIterator<T> {
    while (true) {
      try {
        yield await this.get();
      } catch (err) {
        if ((err as WeirError).code === 'WEIR_ERR_QUEUE_CLOSED') return;
        throw err;
      }
    }
  }

  #enqueue(item: T): void {
    this.#unfinished++;
    const getter = this.#getters.shift();
    if (getter !== undefined) {
      getter.done = true;
      getter.settle(item);
      return;
    }
    this.#items.push(item);
  }

  #dequeue(): T {
    // Called only when size > 0.
    const item = this.#items.shift() as T;
    const putter = this.#putters.shift();
    if (putter !== undefined) {
      putter.done = true;
      putter.settle();
    }
    if (this.#closed && this.size === 0) this.#getters.failAll(queueClosed());
    return item;
  }

  #wait<V>(line: Waiters<V>, signal: AbortSignal | undefined): Promise<V> {
    return new Promise<V>((resolve, reject) => {
      const waiter: Pending<V> = {
        settle: (value) => {
          detach();
          resolve(value);
        },
        fail: (err) => {
          detach();
          reject(err);
        },
        done: false,
      };
      const detach = onAbort(signal, () => {
        if (waiter.done) return;
        waiter.done = true;
        reject(reasonOf(signal!));
      });
      line.push(waiter);
    });
  }
}
