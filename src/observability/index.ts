/**
 * weir/observability: what an operator sees of a running service. An access log (one line per request,
 * by route pattern) and Prometheus metrics (requests, errors and durations per route, the overload
 * limiter, the process, database pools, caches, job queues, the worker-thread pool), both fed by the
 * HTTP core's `weir:http.request` diagnostics channel, so an app without them pays nothing; and a live
 * dashboard of the same, in the browser. Request ids are the core's own (`ctx.requestId`).
 * @module
 */
export { type AccessLine, type AccessLog, type AccessLogOptions, accessLog } from './access-log.ts';
export {
  type Dashboard,
  type DashboardOptions,
  type DashboardSample,
  dashboard,
} from './dashboard/index.ts';
export { type Metrics, type MetricsOptions, metrics } from './metrics.ts';
export type { MetricSources, PoolStatsSource, QueueSource } from './sources.ts';
