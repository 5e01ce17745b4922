/**
 * The worker side of multi-process mode. `attachWorker()` runs in each worker before the user's code:
 * when that code's server listens, the worker tells the primary it is ready (with its startup info, the
 * backends in use); when the primary says stop, it drains that server (in-flight requests, keep-alive
 * clients, then the app's job consumers and onStop hooks) and exits.
 */
import cluster from 'node:cluster';
import { subscribe } from 'node:diagnostics_channel';
import type { ServerHandle } from '../http/server.ts';
import { isPrimaryMessage, type WorkerMessage } from './messages.ts';

let attached = false;

/**
 * Makes this process a supervised worker, if the primary forked it (`cluster.isWorker`); does nothing
 * otherwise. Call it before the module that calls `listen()` is loaded.
 * @example
 * import { attachWorker } from 'weir/cluster';
 * attachWorker();
 * await import('./main.js');
 */
export function attachWorker(): boolean {
  if (!cluster.isWorker || attached) return cluster.isWorker;
  attached = true;
  const handles: ServerHandle[] = [];
  let stopRequested: number | undefined;
  subscribe('weir:http.listening', (message) => {
    const { handle, startupInfo } = message as {
      handle: ServerHandle;
      startupInfo?: Record<string, unknown>;
    };
    handles.push(handle);
    if (stopRequested !== undefined) {
      stop(stopRequested);
      return;
    }
    const ready: WorkerMessage = { weir: 1, type: 'ready', url: handle.url, info: { ...startupInfo } };
    process.send?.(ready);
  });
  const stop = (timeoutMs: number): void => {
    stopRequested = timeoutMs;
    // Still starting (opening its database, migrating): nothing to drain, and a transaction cut short
    // leaves nothing behind.
    if (handles.length === 0) process.exit(0);
    void Promise.allSettled(handles.map((h) => h.close({ timeoutMs }))).then((results) => {
      const failed = results.filter((r) => r.status === 'rejected');
      for (const r of failed) console.error('weir: worker shutdown failed:', r.reason);
      process.exit(failed.length > 0 ? 1 : 0);
    });
  };
  process.on('message', (message: unknown) => {
    if (isPrimaryMessage(message) && message.type === 'stop') stop(message.timeoutMs);
  });
  return true;
}
