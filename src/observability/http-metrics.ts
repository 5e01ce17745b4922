/**
 * The HTTP and overload metrics of one app: requests, errors and durations per route pattern and method,
 * counted from the `weir:http.request` channel; in-flight, the limit, the queue and sheds read from the
 * overload limiter when Prometheus scrapes.
 */
import type { Registry } from 'prom-client';
import type { AppRuntime } from '../http/app-runtime.ts';
import type { RequestRecord } from '../http/observe.ts';
import { bucketOf, histogramSamples, pulled, type Sample } from './collectors.ts';

/** The default buckets of request durations, in seconds: 1 ms … 10 s. */
export const DURATION_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** What one route and method have seen. */
interface RouteSeries {
  readonly labels: Record<string, string>;
  readonly counts: Float64Array;
  sum: number;
  count: number;
  /** Responses per status. */
  readonly statuses: Map<number, number>;
  /** Responses of 500 and above per error code (`ctx.error`'s, or `WEIR_ERR_INTERNAL`). */
  readonly errors: Map<string, number>;
}

// An error code reaches a label only in this form: bounded, and nothing a client wrote.
const CODE = /^[A-Z][A-Z0-9_]{0,63}$/;
/** Distinct codes one route and method keep; past them, `OTHER` (codes made per request cannot grow the series). */
const MAX_CODES = 32;

function errorCode(error: unknown): string {
  const code = (error as { code?: unknown } | null | undefined)?.code;
  return typeof code === 'string' && CODE.test(code) ? code : 'WEIR_ERR_INTERNAL';
}

/** Counts requests of one app's runtime; returns the channel listener. */
export function httpMetrics(
  registry: Registry,
  prefix: string,
  runtime: AppRuntime,
  buckets: readonly number[],
): (message: unknown) => void {
  const bounds = Float64Array.from(buckets);
  const routes = new Map<string, Map<string, RouteSeries>>();

  const onRequest = (message: unknown): void => {
    const record = message as RequestRecord;
    if (record.runtime !== runtime) return;
    const method = record.ctx.method;
    let byMethod = routes.get(record.route);
    if (byMethod === undefined) {
      byMethod = new Map();
      routes.set(record.route, byMethod);
    }
    let series = byMethod.get(method);
    if (series === undefined) {
      series = {
        labels: { method, route: record.route },
        counts: new Float64Array(bounds.length),
        sum: 0,
        count: 0,
        statuses: new Map(),
        errors: new Map(),
      };
      byMethod.set(method, series);
    }
    const seconds = record.durationMs / 1000;
    const i = bucketOf(bounds, seconds);
    if (i < bounds.length) series.counts[i]!++;
    series.sum += seconds;
    series.count++;
    const status = record.status;
    series.statuses.set(status, (series.statuses.get(status) ?? 0) + 1);
    if (status >= 500) {
      let code = errorCode(record.ctx.error);
      if (!series.errors.has(code) && series.errors.size >= MAX_CODES) code = 'OTHER';
      series.errors.set(code, (series.errors.get(code) ?? 0) + 1);
    }
  };

  const each = (visit: (series: RouteSeries) => void): void => {
    for (const byMethod of routes.values()) for (const series of byMethod.values()) visit(series);
  };
  /** A counter of each series' `counts` (statuses or error codes), under the label `label`. */
  const countsBy = (
    name: string,
    help: string,
    label: string,
    counts: (s: RouteSeries) => Map<unknown, number>,
  ) =>
    pulled(registry, `${prefix}${name}`, help, 'counter', () => {
      const out: Sample[] = [];
      each((s) => {
        for (const [key, value] of counts(s))
          out.push({ labels: { ...s.labels, [label]: String(key) }, value });
      });
      return out;
    });
  countsBy(
    'http_requests_total',
    'Responses by route pattern, method and status.',
    'status',
    (s) => s.statuses,
  );
  countsBy(
    'http_request_errors_total',
    'Responses of 500 and above by route pattern, method and error code.',
    'code',
    (s) => s.errors,
  );
  const durations = `${prefix}http_request_duration_seconds`;
  pulled(
    registry,
    durations,
    'Time from a request’s arrival to its response’s close, by route pattern and method.',
    'histogram',
    () => {
      const out: Sample[] = [];
      each((s) => histogramSamples(out, durations, bounds, s));
      return out;
    },
  );

  const limiter = runtime.limiter;
  if (limiter !== undefined) {
    const gauge = (name: string, help: string, read: () => number): void =>
      pulled(registry, `${prefix}${name}`, help, 'gauge', () => [{ labels: {}, value: read() }]);
    gauge('http_in_flight', 'Requests holding a slot of the overload limiter now.', () => limiter.inFlight);
    gauge(
      'overload_limit',
      'The overload limiter’s current limit on requests at once.',
      () => limiter.stats().limit,
    );
    gauge('overload_queued', 'Requests waiting for a slot now.', () => limiter.stats().queued);
    gauge('overload_shedding', '1 while the limiter sheds requests, else 0.', () =>
      limiter.stats().shedding ? 1 : 0,
    );
    pulled(registry, `${prefix}overload_shed_total`, 'Requests shed, by priority class.', 'counter', () =>
      Object.entries(limiter.stats().shed.byPriority).map(([priority, value]) => ({
        labels: { priority },
        value,
      })),
    );
    pulled(registry, `${prefix}overload_admitted_total`, 'Requests the limiter let run.', 'counter', () => [
      { labels: {}, value: limiter.stats().admitted },
    ]);
    pulled(
      registry,
      `${prefix}overload_waited_total`,
      'Requests that waited for a slot and got one, by whether their client was idle (served ahead), looping, or retrying at once after a 503 (served behind).',
      'counter',
      () => {
        const { waited, waitedIdle, waitedRetry } = limiter.stats();
        return [
          { labels: { client: 'idle' }, value: waitedIdle },
          { labels: { client: 'looping' }, value: waited - waitedIdle - waitedRetry },
          { labels: { client: 'retry' }, value: waitedRetry },
        ];
      },
    );
  }
  return onRequest;
}
