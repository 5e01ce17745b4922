import { needsBudget, withinBudget } from './deadline.ts';
import { onAbort, reasonOf } from './signal.ts';
import type { SignalOptions } from './sleep.ts';

/**
 * A flag that tasks can wait for, like asyncio's Event: `set()` wakes every waiter, `clear()` makes
 * later waiters wait again.
 */
export class Event {
  #set = false;
  readonly #waiters = new Set<() => void>();

  /** Whether the event is set. */
  get isSet(): boolean {
    return this.#set;
  }

  /** Sets the event and wakes everyone waiting. */
  set(): void {
    if (this.#set) return;
    this.#set = true;
    const waiters = [...this.#waiters];
    this.#waiters.clear();
    for (const wake of waiters) wake();
  }

  /** Clears the event. */
  clear(): void {
    this.#set = false;
  }

  /** Resolves when the event is set (at once if it is). Aborting the signal rejects with its reason. */
  wait(options?: SignalOptions): Promise<void> {
    if (this.#set) return Promise.resolve();
    if (needsBudget(options)) return withinBudget(options, (signal) => this.wait({ signal }));
    const signal = options?.signal;
    if (signal?.aborted) return Promise.reject(reasonOf(signal));
    return new Promise<void>((resolve, reject) => {
      const wake = (): void => {
        detach();
        resolve();
      };
      const detach = onAbort(signal, () => {
        this.#waiters.delete(wake);
        reject(reasonOf(signal!));
      });
      this.#waiters.add(wake);
    });
  }
}
