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
    void Promise.allSettled(handles.map((h) => h.close({ timeoutMs }))).then(async (results) => {
      const failed = results.filter((r) => r.status === 'rejected');
      for (const r of failed) console.error('weir: worker shutdown failed:', r.reason);
      await primaryCaughtUp();
      process.exit(failed.length > 0 ? 1 : 0);
    });
  };
  process.on('message', (message: unknown) => {
    if (isPrimaryMessage(message) && message.type === 'stop') stop(message.timeoutMs);
  });
  return true;
}

/** How long a stopped worker waits for the primary's answer before it exits all the same. */
const CAUGHT_UP_TIMEOUT_MS = 2000;

/**
 * Resolves once every connection the primary handed this worker has arrived. Under round-robin the
 * primary accepts connections and sends each one to a worker over IPC; a server's `close()` tells it to
 * stop, but one it sent before reading that is still on its way, and a worker that exits before reading
 * it leaves the primary holding the connection open for good: its client waits for an answer that never
 * comes (with 16 clients opening a connection per request, one request hung so in 6 of 7 runs of 3
 * reloads). Node answers such a late connection "not accepted", and the primary hands it to another
 * worker; messages arrive in order, so once the primary answers a message this worker sends after its
 * close, every such connection has been handed back. Bounded: a primary that does not answer does not
 * hold the exit.
 */
function primaryCaughtUp(): Promise<void> {
  return new Promise((resolve) => {
    if (!process.connected || process.send === undefined) {
      resolve();
      return;
    }
    const done = (): void => {
      clearTimeout(timer);
      process.off('message', onMessage);
      resolve();
    };
    const onMessage = (message: unknown): void => {
      if (isPrimaryMessage(message) && message.type === 'closed') done();
    };
    const timer = setTimeout(done, CAUGHT_UP_TIMEOUT_MS);
    process.on('message', onMessage);
    const closed: WorkerMessage = { weir: 1, type: 'closed' };
    process.send(closed, undefined, undefined, (err: Error | null) => {
      if (err !== null) done();
    });
  });
}
