/**
 * `weir/cluster`: multi-process mode. A primary that supervises N workers sharing one port (crash restart,
 * rolling reload, graceful stop), and the worker side that reports readiness and drains on request.
 * `weir serve ENTRY --workers N` uses both; use them directly for a custom entry script.
 */
export type { PrimaryMetricsOptions } from './primary-metrics.ts';
export type { Primary, PrimaryOptions } from './primary-options.ts';
export type { Scheduling } from './scheduling.ts';
export { startPrimary } from './supervisor.ts';
export { attachWorker } from './worker.ts';
export { webConcurrency, workerCount } from './workers.ts';
