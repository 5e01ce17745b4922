/**
 * Whether this process is one of several serving the same app: a worker forked by weir's supervisor
 * (`weir serve --workers`, `WEB_CONCURRENCY`), which sets `WEIR_WORKER_SLOT`, or any `node:cluster`
 * worker (pm2's cluster mode, a hand-written primary). What lives in one process's memory (an in-process
 * cache, a lock) is then not shared with the others.
 */
import cluster from 'node:cluster';

export function underWorkers(): boolean {
  return process.env.WEIR_WORKER_SLOT !== undefined || cluster.isWorker;
}
