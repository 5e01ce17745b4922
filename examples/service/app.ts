/**
 * The reference service: every route weir's README promises, built only from weir's public API.
 * `main.ts` starts it; tests import `createServiceApp()` and run it in-process or on a real socket.
 */
import { fileURLToPath } from 'node:url';
import {
  App,
  type AppOptions,
  cacheControl,
  etag,
  gather,
  HttpError,
  readiness,
  runInWorker,
  serveStatic,
  shutdownWorkers,
  sleep,
  WeirError,
} from 'weir';
import { type Cache, openCache } from 'weir/cache';
import type { RoutesOf } from 'weir/client';
import type { Database } from 'weir/db';
import { dashboard } from 'weir/observability';
import type { JobQueue } from 'weir/queue';
import {
  MemoryRateLimitStore,
  openSessionStore,
  type RateLimitStore,
  type SessionStore,
  securityHeaders,
} from 'weir/security';
import { addAggregateRoute } from './aggregate.ts';
import { addAuthRoutes, loggedIn, tokenSecret } from './auth.ts';
import { countPrimes } from './compute.ts';
import { addApiDocs } from './docs.ts';
import { JobStatusTable } from './job-status.ts';
import { addJobRoutes, JOB_LIMITS, sweepJobStatus, type WelcomeJob, welcomeWorker } from './jobs.ts';
import { addReportRoute } from './report.ts';
import { ComputeQuery, LIMITS, LookupBody, SleepQuery, UsersQuery } from './schemas.ts';
import { addTechEmpowerRoutes, type World } from './techempower.ts';
import { addUploadRoute, type UploadSettings } from './uploads.ts';

const publicDir = fileURLToPath(new URL('./public', import.meta.url));

export { LIMITS } from './schemas.ts';

/** Options of the reference service: the app's own, and the database it serves from. */
export interface ServiceOptions extends AppOptions {
  /** An open database with the service's schema (see `openServiceDatabase()`); closed when the app stops. */
  db: Database;
  /** The cache (see `openCache()`); closed when the app stops. @default a private in-process one, opened at start */
  cache?: Cache;
  /**
   * The welcome-email job queue (see `openJobQueue()`): with it, POST /jobs and GET /jobs/:id, and the
   * worker that runs the jobs (started by `listen()`, or alone by `weir worker`); closed when the app stops.
   */
  queue?: JobQueue<WelcomeJob>;
  /**
   * How long the status of a job that ended (completed or dead) stays readable by GET /jobs/:id.
   * @default 604_800_000 (a week)
   */
  jobStatusRetentionMs?: number;
  /**
   * A name for this instance, sent in an `X-Instance-Id` header on every response, so that requests can
   * be followed across instances behind a load balancer (letters, digits, `.`, `_`, `-`; at most 64).
   * @default none, and no header
   */
  instanceId?: string;
  /**
   * Serve GET /db and /queries under a route deadline, every query given `ctx` (DEADLINES=on), instead
   * of the TechEmpower routes as their rules have them: what bench/deadlines.mjs measures the cost of.
   * @default false
   */
  deadlines?: boolean;
  /**
   * Where login sessions live (see `openSessionStore()`); closed when the app stops.
   * @default the service's database, so every process and every restart sees them
   */
  sessions?: SessionStore;
  /**
   * The key that signs and verifies the bearer tokens of POST /api/tokens and GET /api/me (JWT_SECRET),
   * at least 32 bytes. @default one generated once and kept in the database (table service_secrets)
   */
  jwtSecret?: string;
  /** Origins whose pages may call /api/* with CORS (CORS_ORIGINS, comma-separated). @default none */
  corsOrigins?: readonly string[];
  /**
   * Where the login rate limits count (see `openRateLimitStore()`, RATE_LIMIT_URL); closed when the app
   * stops. Use Redis with several processes or instances. @default a private in-process store
   */
  rateLimits?: RateLimitStore;
  /**
   * The login limits: attempts per client address per minute, failures per account per 15 minutes.
   * @default { perAddress: 10, failuresPerAccount: 10 }
   */
  loginLimits?: { perAddress?: number; failuresPerAccount?: number };
  /**
   * Serve the live dashboard at /_dashboard (DASHBOARD=off for none): the requests, the overload
   * limiter, the database pool, the cache and the job queue, over Server-Sent Events. Open to anyone who
   * reaches the service in development; with NODE_ENV=production, only to a logged-in user (a session
   * from POST /login). @default false
   */
  dashboard?: boolean;
  /**
   * Where POST /upload stores images and PDFs, and the quota of that folder (UPLOAD_DIR,
   * UPLOAD_QUOTA_BYTES). @default none: without it, POST /upload answers 404
   */
  uploads?: UploadSettings;
}

/** A row of GET /users: never the password hash. */
export interface UserRow {
  id: number;
  name: string;
  email: string;
  /** ISO 8601 text on SQLite, a `Date` on PostgreSQL: an ISO 8601 string once sent as JSON either way. */
  createdAt: string | Date;
}

/**
 * The service's routes that have schemas, with what they take and answer, for a typed client:
 * `createClient<ServiceApi>(url)` (weir/client). POST /jobs and GET /jobs/:id answer 404 when the
 * service runs without a queue.
 */
export type ServiceApi = RoutesOf<ReturnType<typeof createServiceApp>> &
  RoutesOf<ReturnType<typeof addJobRoutes>> &
  RoutesOf<ReturnType<typeof addReportRoute>>;

/** Builds the reference service; its type carries the routes of {@link ServiceApi} that it adds itself. */
export function createServiceApp(options: ServiceOptions) {
  const {
    db,
    cache: given,
    queue,
    jobStatusRetentionMs,
    instanceId,
    deadlines,
    sessions: givenSessions,
    jwtSecret,
    corsOrigins = [],
    rateLimits = new MemoryRateLimitStore(),
    loginLimits,
    dashboard: withDashboard = false,
    uploads,
    ...appOptions
  } = options;
  if (instanceId !== undefined && !/^[\w.-]{1,64}$/.test(instanceId)) {
    throw new WeirError(
      'WEIR_ERR_INVALID_OPTION',
      `instanceId (INSTANCE_ID) must be 1 to 64 letters, digits, ".", "_" or "-", received ${JSON.stringify(instanceId)}`,
    );
  }
  const retentionMs = jobStatusRetentionMs ?? JOB_LIMITS.statusRetentionMs;
  if (!Number.isInteger(retentionMs) || retentionMs < 1) {
    throw new WeirError(
      'WEIR_ERR_INVALID_OPTION',
      `jobStatusRetentionMs must be an integer number of ms ≥ 1, received ${String(retentionMs)}`,
    );
  }
  const app = new App(appOptions);
  if (instanceId !== undefined) {
    app.use(async function instanceHeader(ctx, next) {
      ctx.set('x-instance-id', instanceId);
      await next();
    });
  }
  let opened = given;
  const cache = (): Cache => opened as Cache;
  app.onStart(async () => {
    opened ??= await openCache('memory:');
  });
  app.onStop(() => db.close());
  app.onStop(() => opened?.close());
  let sessions = givenSessions;
  let secret: string | undefined;
  app.onStart(async () => {
    sessions ??= await openSessionStore(db);
    secret = await tokenSecret(db, jwtSecret);
    if (Buffer.byteLength(secret) < 32) {
      throw new WeirError('WEIR_ERR_INVALID_OPTION', 'jwtSecret (JWT_SECRET) must be at least 32 bytes long');
    }
  });
  app.onStop(() => sessions?.close());
  app.onStop(() => rateLimits.close());
  if (queue !== undefined) {
    const status = new JobStatusTable(db);
    app.onStop(() => queue.close());
    addJobRoutes(app, () => queue, status, cache);
    app.worker(queue, welcomeWorker(db, status, app.log), { concurrency: JOB_LIMITS.concurrency });
    sweepJobStatus(app, status, retentionMs);
  }
  app.onStop(() => shutdownWorkers());

  app.get('/', () => 'Hello, World');
  app.get('/hello/:name', (ctx) => `Hello, ${ctx.params.name}`);

  // TechEmpower "plaintext" and "json": a fresh string / object per request, serialised per request.
  app.get('/plaintext', () => 'Hello, World!');
  app.get('/json', () => ({ message: 'Hello, World!' }));

  // The overload benchmark's route: a 1 ms wait (a downstream call) and 0.2 ms of CPU per request, so the
  // process saturates at a few thousand requests a second.
  app.get('/overload', async () => {
    await sleep(1);
    const until = process.hrtime.bigint() + 200_000n;
    while (process.hrtime.bigint() < until) {
      // burn CPU
    }
    return { message: 'Hello, World!' };
  });

  // Liveness: 200 while the process serves at all. Readiness: 200 while the database answers and the
  // app is not draining, else 503 naming what is not ready. The cache is not checked: with Redis away it
  // runs degraded (loaders run) and the service still answers.
  // Neither is ever shed by the overload limiter: a probe that got a 503 under load would take the
  // instance out of rotation (or restart it) just when it is busiest.
  app.get('/healthz', { shed: false, hidden: true }, () => ({
    status: 'ok',
    uptimeSeconds: Math.round(process.uptime()),
  }));
  app.get(
    '/readyz',
    { shed: false, hidden: true },
    readiness(() => app.draining, {
      database: (signal) => db.with({ signal }).one`SELECT 1 AS ok`,
    }),
  );

  app.post('/echo', async (ctx) => {
    const body = await ctx.json();
    if (body === null)
      throw HttpError.badRequest('Send a JSON value other than null', undefined, 'ECHO_NULL');
    return body;
  });

  // Security headers (CSP, frame-ancestors, nosniff…) on the routes that serve HTML pages; the JSON and
  // plaintext routes skip the middleware altogether.
  const pageHeaders = securityHeaders();
  app.get('/static/*', pageHeaders, serveStatic(publicDir));

  // A WebSocket echo, used by the page /static/ws.html: small messages, a small send buffer (a client
  // that stops reading is closed with 1013), same-origin pages only (the default).
  app.ws('/ws', { maxMessageBytes: 64 * 1024, maxBufferedBytes: 256 * 1024 }, async (socket) => {
    for await (const message of socket) socket.send(message);
  });

  addTechEmpowerRoutes(app, db, cache, { deadlines, pageHeaders });
  addAuthRoutes(app, db, {
    store: () => sessions as SessionStore,
    secret: () => secret as string,
    corsOrigins,
    rateLimits,
    loginLimits,
  });
  addReportRoute(app, db);
  addAggregateRoute(app);
  if (uploads !== undefined) addUploadRoute(app, uploads);
  if (withDashboard) {
    dashboard(app, {
      guard: process.env.NODE_ENV === 'production' ? loggedIn(() => sessions as SessionStore) : undefined,
      databases: { main: db },
      // The cache may be opened at start: read through the accessor.
      caches: { main: { stats: () => cache().stats() } },
      queues: queue === undefined ? {} : { [queue.name]: queue },
    });
  }

  // The routes below are one chain, so that the app's type carries them (see ServiceApi).
  const typed = app
    // Concurrent lookups: at most 16 in flight; if the client leaves, the running ones are cancelled on
    // the database server and the rest never start.
    .post('/db', { schema: { body: LookupBody } }, (ctx) => {
      return gather(
        ctx.body.ids.map(
          (id) => (signal: AbortSignal) =>
            db.with({ signal })
              .one<World>`SELECT id, randomnumber AS "randomNumber" FROM world WHERE id = ${id}`,
        ),
        { limit: LIMITS.lookupConcurrency, signal: ctx.signal },
      );
    })

    // A bounded page of users; the password hash never leaves the database.
    .get('/users', { schema: { query: UsersQuery } }, async (ctx) => {
      const { limit, offset } = ctx.query;
      const users = await db.with(ctx).query<UserRow>`
        SELECT id, name, email, created_at AS "createdAt" FROM users ORDER BY id LIMIT ${limit} OFFSET ${offset}`;
      return { users, limit, offset };
    })

    // CPU-heavy work on the worker pool: /plaintext stays fast meanwhile; a full pool answers 503.
    .get('/compute', { schema: { query: ComputeQuery } }, async (ctx) => {
      const { n } = ctx.query;
      const primes = await runInWorker(countPrimes, [n], { signal: ctx.signal });
      return { n, primes };
    })

    // Computed once, kept 60 s in the cache (concurrent first requests share one computation), and
    // marked so that browsers and a CDN keep it too and revalidate it with its ETag.
    .get('/cached', cacheControl({ public: true, maxAgeSeconds: 60 }), etag(), (ctx) =>
      cache().wrap(
        'cached-example',
        async ({ signal }) => ({
          primesBelowOneMillion: await runInWorker(countPrimes, [1_000_000], { signal }),
          computedAt: new Date().toISOString(),
        }),
        { ttl: 60_000, signal: ctx.signal },
      ),
    )

    // Waits, and stops waiting the moment the client goes away.
    .get('/sleep', { schema: { query: SleepQuery } }, async (ctx) => {
      const { ms } = ctx.query;
      try {
        await sleep(ms, { signal: ctx.signal });
      } catch (err) {
        ctx.log.info({ ms }, 'sleep cancelled: the client left');
        throw err;
      }
      return { slept: ms };
    });

  addApiDocs(app);
  return typed;
}
