/**
 * `GET /readyz` from a few named checks: 200 while every check passes and the app is not draining, 503
 * otherwise, with a body that names what is not ready and nothing else (the reasons go to the log).
 */
import { invalidOption } from '../errors.ts';
import type { Context } from './context.ts';
import { json, type WeirResponse } from './response.ts';

/** One readiness check: resolves (to anything but `false`) when ready; throws or resolves `false` if not. */
export type ReadinessCheck = (signal: AbortSignal) => unknown;

/** Options of {@link readiness}. */
export interface ReadinessOptions {
  /** How long a check may take before it counts as failed; its signal aborts then. @default 2000 */
  timeoutMs?: number;
}

/** The readiness body: `ok` or `failed` per check, and whether the app is draining. */
export interface ReadinessReport {
  status: 'ready' | 'not ready';
  draining: boolean;
  checks: Record<string, 'ok' | 'failed'>;
}

const noStore = { 'cache-control': 'no-store' };

/**
 * A handler for a load balancer's or orchestrator's readiness probe. `draining` says whether the app is
 * shutting down (pass `() => app.draining`), so that traffic moves away before the app stops accepting.
 * Checks run in parallel, each bounded by `timeoutMs`.
 * @throws WEIR_ERR_INVALID_OPTION when a check is not a function or `timeoutMs` is not positive.
 * @example app.get('/readyz', readiness(() => app.draining, { database: (signal) => db.with({ signal }).one`SELECT 1` }));
 */
export function readiness(
  draining: () => boolean,
  checks: Record<string, ReadinessCheck>,
  options: ReadinessOptions = {},
): (ctx: Context) => Promise<WeirResponse> {
  const timeoutMs = options.timeoutMs ?? 2000;
  if (!Number.isFinite(timeoutMs) || timeoutMs <= 0) {
    throw invalidOption('readiness timeoutMs', 'a positive number of milliseconds', timeoutMs);
  }
  const entries = Object.entries(checks);
  for (const [name, check] of entries) {
    if (typeof check !== 'function') throw invalidOption(`readiness check ${name}`, 'a function', check);
  }
  return async function readinessProbe(ctx) {
    const report: ReadinessReport = { status: 'ready', draining: draining(), checks: {} };
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(new Error(`timed out after ${timeoutMs} ms`)), timeoutMs);
    // One rejection for every check to race against; handled here, so the abort after the probe is quiet.
    const aborted = new Promise<never>((_, reject) => {
      controller.signal.addEventListener('abort', () => reject(controller.signal.reason), { once: true });
    });
    aborted.catch(() => {});
    const run = async ([name, check]: [string, ReadinessCheck]): Promise<readonly [string, boolean]> => {
      try {
        const result = await Promise.race([(async () => check(controller.signal))(), aborted]);
        return [name, result !== false];
      } catch (err) {
        ctx.log.warn({ check: name, err }, 'readiness check failed');
        return [name, false];
      }
    };
    try {
      for (const [name, ok] of await Promise.all(entries.map(run)))
        report.checks[name] = ok ? 'ok' : 'failed';
    } finally {
      clearTimeout(timer);
      controller.abort();
    }
    if (report.draining || Object.values(report.checks).includes('failed')) report.status = 'not ready';
    return json(report, { status: report.status === 'ready' ? 200 : 503, headers: noStore });
  };
}
