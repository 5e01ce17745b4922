/**
 * weir/observability: what an operator sees of a running service. An access log (one line per request,
 * by route pattern), Prometheus metrics (requests, errors and durations per route, the overload
 * limiter, the process, database pools, caches, job queues, the worker-thread pool), OpenTelemetry
 * traces (a span per request, query, cache call, job and outgoing HTTP call) and a live dashboard in the
 * browser, all fed by weir's diagnostics channels, so an app without them pays nothing. Request ids are
 * the core's own (`ctx.requestId`).
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
export {
  type TracedSpans,
  type TracerLike,
  type Tracing,
  type TracingOptions,
  tracing,
} from './tracing/tracing.ts';
