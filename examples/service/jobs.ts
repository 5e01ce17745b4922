/**
 * The seed's message-queue strategy: POST /jobs hands a slow "send welcome email" job to a durable queue
 * and answers 202 at once; a worker does the work (here: waits `workMs`, then writes a row), in this
 * process under `npm start`, or in its own under `weir worker`.
 */
import { type App, HttpError, json, sleep } from 'weir';
import type { Database } from 'weir/db';
import { hasJobStatus, type JobQueue } from 'weir/queue';

/** The queue's name and the job it carries. */
export const WELCOME_QUEUE = 'welcome-emails';

export interface WelcomeJob {
  to: string;
  workMs: number;
}

export const JOB_LIMITS = { maxWorkMs: 10_000, defaultWorkMs: 20, maxEmailLength: 254, concurrency: 32 };

const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

function invalid(field: string, reason: string, received: unknown): HttpError {
  return HttpError.badRequest(`${field} ${reason}`, { field, received }, 'INVALID_INPUT');
}

/** Validates `{ "to": "<email>", "workMs": 0…10000 }`. */
export function parseWelcomeJob(body: unknown): WelcomeJob {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw invalid('body', 'must be a JSON object', body === null ? null : typeof body);
  }
  const { to, workMs = JOB_LIMITS.defaultWorkMs } = body as { to?: unknown; workMs?: unknown };
  if (typeof to !== 'string' || to.length > JOB_LIMITS.maxEmailLength || !EMAIL.test(to)) {
    throw invalid('to', 'must be an email address', to ?? null);
  }
  if (
    typeof workMs !== 'number' ||
    !Number.isInteger(workMs) ||
    workMs < 0 ||
    workMs > JOB_LIMITS.maxWorkMs
  ) {
    throw invalid('workMs', `must be an integer from 0 to ${JOB_LIMITS.maxWorkMs}`, workMs);
  }
  return { to, workMs };
}

/** Adds POST /jobs and GET /jobs/:id. */
export function addJobRoutes(app: App, queue: () => JobQueue<WelcomeJob>): void {
  app.post('/jobs', async (ctx) => {
    const job = parseWelcomeJob(await ctx.json());
    const { id } = await queue().add(job, { signal: ctx.signal });
    return json({ id }, { status: 202, headers: { location: `/jobs/${id}` } });
  });

  app.get('/jobs/:id', async (ctx) => {
    const jobs = queue();
    if (!hasJobStatus(jobs)) {
      // A broker keeps no per-job status: its queue does not offer get().
      throw new HttpError(
        501,
        'JOB_STATUS_UNAVAILABLE',
        `The ${jobs.backend} job queue keeps no per-job status; run on the embedded queue (QUEUE_URL=sqlite:…) to follow jobs`,
      );
    }
    const job = await jobs.get(ctx.params.id);
    if (job === undefined) throw HttpError.notFound(`No job ${ctx.params.id}`, undefined, 'JOB_NOT_FOUND');
    return {
      id: job.id,
      state: job.state,
      attempts: job.attempts,
      maxAttempts: job.maxAttempts,
      createdAt: job.createdAt,
      finishedAt: job.finishedAt ?? null,
      lastError: job.lastError ?? null,
      result: job.result ?? null,
    };
  });
}

/** The worker: the "email" is a row, written once per job however often the job is delivered. */
export function welcomeWorker(db: Database) {
  return async (job: { id: string; data: WelcomeJob }, { signal }: { signal: AbortSignal }) => {
    await sleep(job.data.workMs, { signal });
    await db.exec`
      INSERT INTO welcome_emails (job_id, recipient) VALUES (${job.id}, ${job.data.to})
      ON CONFLICT (job_id) DO NOTHING`;
    return { sentTo: job.data.to };
  };
}
