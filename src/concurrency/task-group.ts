import { WeirError } from '../errors.ts';
import { budget } from './deadline.ts';
import { linkedController, reasonOf } from './signal.ts';
import type { SignalOptions } from './sleep.ts';

/**
 * Structured concurrency, like asyncio's TaskGroup: children are spawned into the group, leaving the group
 * waits for all of them, and the first failure cancels the siblings through their signal and is rethrown
 * (an `AggregateError` when several children failed). Nothing spawned outlives the group.
 *
 * Children that reject with the group's own cancellation reason are cancelled, not failed.
 * @example
 * await using group = new TaskGroup({ signal: ctx.signal });
 * const user = group.spawn((signal) => loadUser(id, { signal }));
 * const orders = group.spawn((signal) => loadOrders(id, { signal }));
 * // leaving the block waits for both; if one fails the other is aborted and the error is thrown
 */
export class TaskGroup {
  readonly #controller: AbortController;
  readonly #dispose: () => void;
  readonly #running = new Set<Promise<unknown>>();
  readonly #errors: unknown[] = [];
  #closed = false;
  #cancelReason: unknown = undefined;

  /** With a `deadline`, the children are cancelled (`WEIR_ERR_DEADLINE_EXCEEDED`) when it passes. */
  constructor(options?: SignalOptions) {
    const timed = budget(options);
    const { controller, dispose } = linkedController(timed.signal);
    this.#controller = controller;
    this.#dispose = () => {
      dispose();
      timed.release();
    };
  }

  /** Runs a function with a group, and waits for the group when it returns or throws. */
  static async run<T>(body: (group: TaskGroup) => Promise<T> | T, options?: SignalOptions): Promise<T> {
    const group = new TaskGroup(options);
    let result: T;
    try {
      result = await body(group);
    } catch (err) {
      group.cancel(err);
      await group.wait().catch(() => {});
      throw err;
    }
    await group.wait();
    return result;
  }

  /** Aborts when the group cancels its children. */
  get signal(): AbortSignal {
    return this.#controller.signal;
  }

  /** True once the group has been left (`wait()` returned or threw): nothing more can be spawned. */
  get closed(): boolean {
    return this.#closed;
  }

  /** How many children are still running. */
  get size(): number {
    return this.#running.size;
  }

  /**
   * Starts a child. Its promise is returned for its value; a failure is also recorded by the group (so
   * not awaiting the returned promise never leaves an unhandled rejection).
   * @throws WeirError `WEIR_ERR_TASKGROUP_CLOSED` once the group has been left
   */
  spawn<T>(fn: (signal: AbortSignal) => PromiseLike<T> | T): Promise<T> {
    if (this.#closed)
      throw new WeirError('WEIR_ERR_TASKGROUP_CLOSED', 'Cannot spawn into a TaskGroup that has been left');
    const signal = this.#controller.signal;
    const child = (async () => fn(signal))();
    this.#running.add(child);
    child.then(
      () => this.#running.delete(child),
      (err: unknown) => {
        this.#running.delete(child);
        // Rejecting with the group's own abort reason is how a child reports being cancelled.
        if (signal.aborted && err === signal.reason) return;
        this.#errors.push(err);
        this.cancel(err);
      },
    );
    return child;
  }

  /** Cancels every running child through its signal. */
  cancel(reason: unknown = new DOMException('The task group was cancelled', 'AbortError')): void {
    if (this.#controller.signal.aborted) return;
    this.#cancelReason = reason;
    this.#controller.abort(reason);
  }

  /**
   * Waits for every child (including ones spawned while waiting), then closes the group. Rejects with the
   * first failure, an `AggregateError` of all failures when there were several, or the outer signal's
   * reason when that cancelled the group.
   */
  async wait(): Promise<void> {
    while (this.#running.size > 0) await Promise.allSettled([...this.#running]);
    this.#closed = true;
    this.#dispose();
    if (this.#errors.length === 1) throw this.#errors[0];
    if (this.#errors.length > 1)
      throw new AggregateError(this.#errors, `${this.#errors.length} tasks failed`);
    const signal = this.#controller.signal;
    if (signal.aborted && this.#cancelReason === undefined) throw reasonOf(signal);
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.wait();
  }
}
