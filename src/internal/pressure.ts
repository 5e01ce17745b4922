/**
 * The process's overload state, shared by what serves and what works in the background: the HTTP
 * overload limiter raises it while it sheds requests, and background loops (job consumers) take no new
 * work while it is raised, so the capacity left goes to the requests being served. One per process, even
 * with several copies of weir loaded (keyed by `Symbol.for`).
 */

class Pressure {
  #raised = false;
  #waiters = new Set<() => void>();

  /** True while some part of the process sheds load. */
  get raised(): boolean {
    return this.#raised;
  }

  /** Raises or lowers the state; lowering wakes every waiter. */
  set(raised: boolean): void {
    if (raised === this.#raised) return;
    this.#raised = raised;
    if (raised) return;
    const waiters = [...this.#waiters];
    this.#waiters.clear();
    for (const wake of waiters) wake();
  }

  /** Resolves at once when the state is lowered, else when it is next lowered or `signal` aborts. */
  calm(signal?: AbortSignal): Promise<void> {
    if (!this.#raised || signal?.aborted) return Promise.resolve();
    return new Promise((resolve) => {
      const wake = (): void => {
        this.#waiters.delete(wake);
        signal?.removeEventListener('abort', wake);
        resolve();
      };
      this.#waiters.add(wake);
      signal?.addEventListener('abort', wake, { once: true });
    });
  }
}

const key = Symbol.for('weir.pressure');
const registry = globalThis as { [key]?: Pressure };

/** The process's overload state. */
registry[key] ??= new Pressure();
export const pressure: Pressure = registry[key];
