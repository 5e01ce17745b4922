/**
 * What the primary and its workers say to each other over the cluster's IPC channel: one discriminated
 * union per direction. Every message carries `weir: 1`, so messages a user's own code sends on the same
 * channel are left alone.
 */

/**
 * Set to `1` in a worker's environment by a primary whose scheduling is `reuseport`: the worker's
 * `listen()` binds the port itself, with SO_REUSEPORT, instead of asking the primary for its socket.
 */
export const REUSEPORT_ENV = 'WEIR_WORKER_REUSEPORT';

/** Worker → primary. */
export type WorkerMessage =
  /** The worker's server listens: it takes traffic from now on. `info` is its startup info (backends). */
  | { weir: 1; type: 'ready'; url: string; info: Record<string, unknown> }
  /** The worker's servers are closed and drained; the primary answers with its own `closed`. */
  | { weir: 1; type: 'closed' };

/** Primary → worker. */
export type PrimaryMessage =
  /** Drain (HTTP and job consumers) within `timeoutMs`, then exit 0. */
  | { weir: 1; type: 'stop'; timeoutMs: number }
  /**
   * The answer to the worker's `closed`: every connection the primary handed it before is in its channel
   * ahead of this message (see worker.ts), so it may exit.
   */
  | { weir: 1; type: 'closed' };

export function isWorkerMessage(value: unknown): value is WorkerMessage {
  return typeof value === 'object' && value !== null && (value as { weir?: unknown }).weir === 1;
}

export function isPrimaryMessage(value: unknown): value is PrimaryMessage {
  return typeof value === 'object' && value !== null && (value as { weir?: unknown }).weir === 1;
}
