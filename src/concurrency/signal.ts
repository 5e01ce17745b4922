/**
 * Internal helpers for AbortSignal plumbing. Every listener added here is removed again when the
 * operation settles, so a long-lived signal (a server's, a worker's) does not accumulate listeners.
 */

import { setMaxListeners } from 'node:events';

/**
 * A controller whose signal may carry any number of listeners. weir's signals are scoped to one request
 * or one `gather()`, and every listener weir adds is removed when its operation settles, so many at once
 * is normal (20 concurrent queries, 20 listeners), not a leak. Node's default limit of 10 would print a
 * MaxListenersExceededWarning, with a captured stack, once per signal: on every request, which under load
 * costs more than the work itself.
 */
export function scopedController(): AbortController {
  const controller = new AbortController();
  setMaxListeners(0, controller.signal);
  return controller;
}

/** The reason a signal aborted with, as something worth rejecting with. */
export function reasonOf(signal: AbortSignal): unknown {
  return signal.reason ?? new DOMException('This operation was aborted', 'AbortError');
}

/**
 * Calls `onAbort` once if `signal` aborts; returns the function that detaches the listener. With no
 * signal it does nothing.
 */
export function onAbort(signal: AbortSignal | undefined, listener: () => void): () => void {
  if (signal === undefined) return noop;
  signal.addEventListener('abort', listener, { once: true });
  return () => signal.removeEventListener('abort', listener);
}

export function noop(): void {}

/** A controller that aborts when `parent` does (with the same reason); `dispose()` unlinks it. */
export function linkedController(parent: AbortSignal | undefined): {
  controller: AbortController;
  dispose: () => void;
} {
  const controller = scopedController();
  if (parent === undefined) return { controller, dispose: noop };
  if (parent.aborted) {
    controller.abort(reasonOf(parent));
    return { controller, dispose: noop };
  }
  const dispose = onAbort(parent, () => controller.abort(reasonOf(parent)));
  return { controller, dispose };
}

// One 'abort' listener per signal, fanning out to a Set of hooks: adding and removing a hook is a Set
// operation, where addEventListener/removeEventListener on an EventTarget allocate and scan. For paths
// that subscribe once per operation, many operations per signal (a query per row of a request).
const hooks = new WeakMap<AbortSignal, Set<() => void>>();

/**
 * Calls `hook` once if `signal` aborts; returns the function that unsubscribes it. The signal keeps one
 * listener for its lifetime, however many hooks come and go.
 */
export function abortHook(signal: AbortSignal, hook: () => void): () => void {
  let set = hooks.get(signal);
  if (set === undefined) {
    const created = new Set<() => void>();
    set = created;
    hooks.set(signal, created);
    signal.addEventListener(
      'abort',
      () => {
        for (const fn of created) fn();
        created.clear();
      },
      { once: true },
    );
  }
  const live = set;
  live.add(hook);
  return () => {
    live.delete(hook);
  };
}
