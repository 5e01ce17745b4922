/**
 * The reference service as an ENTRY for the `weir` command: opens what it needs from the environment
 * (DATABASE_URL, CACHE_URL, QUEUE_URL; SESSION_URL, RATE_LIMIT_URL, JWT_SECRET, CORS_ORIGINS; TRUST_PROXY,
 * TRUST_REQUEST_ID and INSTANCE_ID when it runs behind a load balancer; TRUST_DEADLINE for callers whose deadline headers to believe;
 * UPLOAD_DIR and UPLOAD_QUOTA_BYTES for POST /upload;
 * OVERLOAD=off to turn the overload limiter off and DEADLINES=on to serve /db and /queries under deadlines,
 * for comparison; METRICS=off, METRICS_PORT, ACCESS_LOG, ACCESS_LOG_SAMPLE and DASHBOARD=off for what
 * operators see) and
 * exports the App without serving it.
 * `weir worker examples/service/entry.ts` runs its welcome-email worker alone (`npm run worker`).
 */
import cluster from 'node:cluster';
import { availableParallelism } from 'node:os';
import { openCache } from 'weir/cache';
import { accessLog, metrics } from 'weir/observability';
import { openJobQueue } from 'weir/queue';
import { openRateLimitStore, openSessionStore } from 'weir/security';
import { createServiceApp } from './app.ts';
import { openServiceDatabase } from './database.ts';
import { WELCOME_QUEUE, type WelcomeJob } from './jobs.ts';

const db = await openServiceDatabase(process.env.DATABASE_URL);
// A Redis that is down does not stop the start: the cache runs degraded and recovers by itself.
const cache = await openCache(process.env.CACHE_URL);
const queue = await openJobQueue<WelcomeJob>(WELCOME_QUEUE, { url: process.env.QUEUE_URL });
// Login sessions: in the service's database unless SESSION_URL names another store (redis://…, memory:).
const sessions = process.env.SESSION_URL ? await openSessionStore(process.env.SESSION_URL) : undefined;
// Login rate limits: in this process unless RATE_LIMIT_URL=redis://… (then across processes and instances).
const rateLimits = await openRateLimitStore(process.env.RATE_LIMIT_URL);

/** TRUST_PROXY: a hop count (`1`) or a comma-separated list of proxy addresses and CIDR ranges. */
function trustProxy(value: string | undefined): number | string[] | undefined {
  if (value === undefined || value.trim() === '') return undefined;
  return /^\d+$/.test(value.trim()) ? Number(value) : value.split(',').map((entry) => entry.trim());
}

/**
 * TRUST_REQUEST_ID: `true`, `false`, or the addresses and CIDR ranges whose `X-Request-Id` to keep; unset,
 * the proxies TRUST_PROXY lists by address (the balancer that sets X-Forwarded-For sets the id too).
 */
function trustRequestId(
  value: string | undefined,
  proxies: number | string[] | undefined,
): boolean | string[] {
  if (value !== undefined && value.trim() !== '') {
    if (value.trim() === 'true' || value.trim() === 'false') return value.trim() === 'true';
    return value.split(',').map((entry) => entry.trim());
  }
  return Array.isArray(proxies) ? proxies : false;
}

/** TRUST_DEADLINE: `true`, or a comma-separated list of caller addresses and CIDR ranges. */
function trustDeadline(value: string | undefined): boolean | string[] | undefined {
  if (value === undefined || value.trim() === '') return undefined;
  return value.trim() === 'true' ? true : value.split(',').map((entry) => entry.trim());
}

/** WEB_CONCURRENCY as a count of processes: an integer, or `auto` for one per CPU. */
function workerShares(value: string | undefined): number {
  if (value?.trim() === 'auto') return availableParallelism();
  const count = Number(value);
  return Number.isSafeInteger(count) && count >= 1 ? count : 1;
}

const proxies = trustProxy(process.env.TRUST_PROXY);
export const app = createServiceApp({
  db,
  cache,
  queue,
  trustProxy: proxies,
  requestId: { trust: trustRequestId(process.env.TRUST_REQUEST_ID, proxies) },
  instanceId: process.env.INSTANCE_ID || undefined,
  trustDeadline: trustDeadline(process.env.TRUST_DEADLINE),
  deadlines: process.env.DEADLINES === 'on',
  jwtSecret: process.env.JWT_SECRET || undefined,
  sessions,
  rateLimits,
  corsOrigins: (process.env.CORS_ORIGINS ?? '')
    .split(',')
    .map((origin) => origin.trim())
    .filter(Boolean),
  ...(process.env.OVERLOAD === 'off' ? { overload: false as const } : {}),
  // The live dashboard on /_dashboard, with the same sources as the metrics below; in production, for
  // logged-in users only. With several workers, each serves its own (the page names its process).
  dashboard: process.env.DASHBOARD !== 'off',
  // POST /upload: images and PDFs into UPLOAD_DIR, within UPLOAD_QUOTA_BYTES, shared out between the
  // worker processes (WEB_CONCURRENCY) so that together they keep within it.
  uploads: {
    dir: process.env.UPLOAD_DIR || './data/uploads',
    quotaBytes: process.env.UPLOAD_QUOTA_BYTES ? Number(process.env.UPLOAD_QUOTA_BYTES) : undefined,
    shares: cluster.isWorker ? workerShares(process.env.WEB_CONCURRENCY) : 1,
  },
});
// Prometheus metrics on /metrics, or with METRICS_PORT=9464 on a port of their own (not the app's);
// METRICS=off for none. In a worker of several (WEB_CONCURRENCY), the primary serves them all, summed,
// on METRICS_PORT: a worker serves none of its own, which a scrape through the shared port would mistake
// for the whole service's.
if (process.env.METRICS !== 'off') {
  const port = process.env.METRICS_PORT ? Number(process.env.METRICS_PORT) : undefined;
  metrics(app, {
    ...(cluster.isWorker
      ? { path: false as const }
      : port === undefined
        ? {}
        : { path: false as const, port }),
    databases: { main: db },
    caches: { main: cache },
    queues: { [WELCOME_QUEUE]: queue },
  });
}
// ACCESS_LOG=path/to/file (JSON lines) or ACCESS_LOG=on (the app's log); ACCESS_LOG_SAMPLE=0.1 keeps a
// tenth of the lines (5xx always).
if (process.env.ACCESS_LOG) {
  const to = process.env.ACCESS_LOG === 'on' ? undefined : process.env.ACCESS_LOG;
  const sample = process.env.ACCESS_LOG_SAMPLE ? Number(process.env.ACCESS_LOG_SAMPLE) : undefined;
  const log = accessLog(app, { to, sample });
  app.onStop(() => log.close());
}

/** What the service runs on, for its startup line (each `url` has its password redacted). */
export const backends = {
  database: db.url,
  cache: cache.url,
  queue: queue.url,
  sessions: sessions?.url ?? db.url,
  rateLimits: rateLimits.url,
};
export default app;
