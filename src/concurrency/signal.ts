/**
 * Internal helpers for AbortSignal plumbing. Every listener added here is removed again when the
 * operation settles, so a long-lived signal (a server's, a worker's) does not accumulate listeners.
 */

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
  const controller = new AbortController();
  if (parent === undefined) return { controller, dispose: noop };
  if (parent.aborted) {
    controller.abort(reasonOf(parent));
    return { controller, dispose: noop };
  }
  const dispose = onAbort(parent, () => controller.abort(reasonOf(parent)));
  return { controller, dispose };
}
