/**
 * The seed's message-queue strategy: POST /jobs hands a slow "send welcome email" job to a durable queue
 * and answers 202 at once; a worker does the work (here: waits `workMs`, then writes a row), in this
 * process under `npm start`, or in its own under `weir worker`. The service keeps each job's status in
 * its own table (`job-status.ts`), so GET /jobs/:id answers on every queue backend, brokers included.
 */

import { createHash, randomUUID } from 'node:crypto';
import * as v from 'valibot';
import { type App, HttpError, isWeirError, json, type Logger, sleep } from 'weir';
import type { Cache } from 'weir/cache';
import type { Database } from 'weir/db';
import { idempotency, idempotencyKey } from 'weir/idempotency';
import type { Job, JobHandler, JobQueue } from 'weir/queue';
import type { JobRun, JobStatusTable } from './job-status.ts';

/** The queue's name and the job it carries. */
export const WELCOME_QUEUE = 'welcome-emails';

export interface WelcomeJob {
  to: string;
  workMs: number;
  /**
   * The service's id of the job: its `job_status` row and the id GET /jobs/:id takes. A job added to
   * the queue without one (by another producer) is known by the queue's id.
   */
  jobId?: string;
}

export const JOB_LIMITS = {
  maxWorkMs: 10_000,
  defaultWorkMs: 20,
  maxEmailLength: 254,
  concurrency: 32,
  /** Runs of a welcome email before it is dead. */
  attempts: 3,
  /** What a 503 asks a client to wait when the queue is away. */
  retryAfterSeconds: 5,
  /** How long the status of an ended job (completed or dead) is kept: a week. */
  statusRetentionMs: 7 * 86_400_000,
};

const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;
/** The ids the service hands out (and the queues make): UUIDs. */
const JOB_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

const EMAIL_REASON = 'must be an email address';
const WORK_REASON = `must be an integer from 0 to ${JOB_LIMITS.maxWorkMs}`;

/** POST /jobs: `{ "to": "<email>", "workMs": 0…10000 }`. */
export const WelcomeBody = v.object({
  to: v.pipe(
    v.string(EMAIL_REASON),
    v.maxLength(JOB_LIMITS.maxEmailLength, EMAIL_REASON),
    v.regex(EMAIL, EMAIL_REASON),
  ),
  workMs: v.optional(
    v.pipe(
      v.number(WORK_REASON),
      v.integer(WORK_REASON),
      v.minValue(0, WORK_REASON),
      v.maxValue(JOB_LIMITS.maxWorkMs, WORK_REASON),
    ),
    JOB_LIMITS.defaultWorkMs,
  ),
});

/** GET /jobs/:id: a job id (a UUID), lower-cased. */
export const JobParams = v.object({
  id: v.pipe(v.string(), v.regex(JOB_ID, 'must be a job id (a UUID)'), v.toLowerCase()),
});

/**
 * The job id of a request with an idempotency key: a UUID (version 8, RFC 9562) made from it, so that
 * every retry of the request names the same job.
 */
export function jobIdFor(key: string): string {
  const hex = createHash('sha256').update(`welcome-job:${key}`).digest('hex');
  const variant = ((Number.parseInt(hex[16]!, 16) & 0x3) | 0x8).toString(16);
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-8${hex.slice(13, 16)}-${variant}${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}

/**
 * Adds POST /jobs and GET /jobs/:id. POST /jobs takes an `Idempotency-Key`: the same key and body again
 * answer the same 202 and job id, and add no second job; the same key with another body answers 422.
 */
export function addJobRoutes(
  app: App,
  queue: () => JobQueue<WelcomeJob>,
  status: JobStatusTable,
  cache: () => Cache,
) {
  // Keys are kept in the app's cache: on Redis, every process and instance shares them. On memory:
  // under several workers (WEB_CONCURRENCY), each process keeps its own, which idempotency() refuses
  // unless told: here the queue is the second guard, since a retry sent to another process names the
  // same job id and queue key, and the queue adds nothing for a key it already has. What is lost there is
  // only the 409 and 422 across processes.
  const guard = idempotency({ cache, allowMemoryWithWorkers: true });
  // One chain, so that the returned app's type carries both routes (the service's ServiceApi).
  return app
    .post('/jobs', { schema: { body: WelcomeBody } }, guard, async (ctx) => {
      const job: WelcomeJob = ctx.body;
      const key = idempotencyKey(ctx);
      // The row first, so that the job's Location answers from the moment the client learns it; the
      // worker may start the job before add() even resolves, and finds the row there.
      const id = key === undefined ? randomUUID() : jobIdFor(key);
      await status.queued(id, JOB_LIMITS.attempts);
      try {
        await queue().add(
          { ...job, jobId: id },
          {
            attempts: JOB_LIMITS.attempts,
            signal: ctx.signal,
            requestId: ctx.requestId,
            idempotencyKey: key,
          },
        );
      } catch (err) {
        // The client is told the job failed, so the row goes too.
        await status.forget(id).catch((forgetError: unknown) => {
          ctx.log.error({ err: forgetError, job: id }, 'the row of a job the queue refused was not removed');
        });
        throw queueFailure(err);
      }
      return json({ id }, { status: 202, headers: { location: `/jobs/${id}` } });
    })
    .get('/jobs/:id', { schema: { params: JobParams } }, async (ctx) => {
      const job = await status.get(ctx.params.id, ctx.signal);
      if (job === undefined) throw HttpError.notFound('No job has this id', undefined, 'JOB_NOT_FOUND');
      return job;
    });
}

/**
 * A queue that is away is a 503 the client may retry; its error (which names the queue's host) stays
 * in the log, as the response's cause.
 */
function queueFailure(err: unknown): unknown {
  if (!isWeirError(err) || err.code !== 'WEIR_ERR_JOBS_UNAVAILABLE') return err;
  return new HttpError(503, err.code, 'The job queue is unavailable; retry shortly', undefined, {
    headers: { 'retry-after': String(JOB_LIMITS.retryAfterSeconds) },
    cause: err,
  });
}

/** What a client is told of a failed attempt: its kind, never the error's own text. */
function publicFailure(err: unknown): string {
  return isWeirError(err) && err.code === 'WEIR_ERR_JOBS_TIMEOUT'
    ? 'The attempt ran past its time limit'
    : 'The attempt failed';
}

/**
 * Wraps a job handler so that each run is recorded in `status`: its start, then its result, or its
 * failure (the error itself goes to the log), or the job given back at shutdown.
 */
export function withJobStatus<T extends { jobId?: string }>(
  status: JobStatusTable,
  log: Logger,
  handler: JobHandler<T>,
): JobHandler<T> {
  return async (job: Job<T>, context) => {
    const run: JobRun = {
      id: job.data.jobId ?? job.id,
      attempt: job.attempt,
      maxAttempts: job.maxAttempts,
      createdAt: job.createdAt,
    };
    await status.running(run);
    let result: unknown;
    try {
      result = await handler(job, context);
    } catch (err) {
      const reason = context.signal.aborted ? (context.signal.reason as { code?: unknown }) : undefined;
      if (reason?.code === 'WEIR_ERR_JOBS_CLOSED') {
        // Shutting down: the queue gives the job back, and this attempt does not count.
        await status.givenBack(run);
      } else {
        log.warn({ err, job: run.id, attempt: run.attempt }, 'job attempt failed');
        await status.failed(run, publicFailure(reason ?? err));
      }
      throw err;
    }
    await status.completed(run, result);
    return result;
  };
}

/**
 * Deletes the status of jobs that ended (completed or dead) more than `retentionMs` ago: at start, then
 * hourly while the app runs, so that the table does not grow for ever.
 */
export function sweepJobStatus(app: App, status: JobStatusTable, retentionMs: number): void {
  let timer: NodeJS.Timeout | undefined;
  const sweep = () =>
    status.purge(new Date(Date.now() - retentionMs)).catch((err: unknown) => {
      app.log.warn({ err }, 'could not delete the status of old jobs');
    });
  app.onStart(async () => {
    await sweep();
    timer = setInterval(sweep, 3_600_000);
    timer.unref();
  });
  app.onStop(() => clearInterval(timer));
}

/** The worker: the "email" is a row, written once per job however often the job is delivered. */
export function welcomeWorker(db: Database, status: JobStatusTable, log: Logger): JobHandler<WelcomeJob> {
  return withJobStatus<WelcomeJob>(status, log, async (job, { signal }) => {
    await sleep(job.data.workMs, { signal });
    await db.exec`
      INSERT INTO welcome_emails (job_id, recipient) VALUES (${job.data.jobId ?? job.id}, ${job.data.to})
      ON CONFLICT (job_id) DO NOTHING`;
    return { sentTo: job.data.to };
  });
}
