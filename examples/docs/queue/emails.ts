import { App, HttpError, isWeirError, json } from 'weir';
import { type Added, type AddOptions, openJobQueue } from 'weir/queue';

export interface Email {
  to: string;
  template: 'welcome' | 'reminder';
}

export const app = new App();

// QUEUE_URL picks the backend: sqlite:./data/queue.db when unset, amqp://user:password@host:5672
// (RabbitMQ) or nats://host:4222 (NATS JetStream). A broker that does not answer fails here, at start-up.
export const emails = await openJobQueue<Email>('emails', {
  attempts: 5, // runs of a job before it is dead
  backoff: { delayMs: 1000, maxDelayMs: 60_000 }, // 1 s, 2 s, 4 s… between attempts, with jitter
  logger: app.log, // where the queue's warnings go (none by default)
});
app.onStop(() => emails.close()); // onStop hooks run after the app's workers have stopped

function address(body: { email?: unknown } | null): string {
  const email = body?.email;
  if (typeof email !== 'string' || email.length > 254 || !/^[^\s@]+@[^\s@]+$/.test(email)) {
    throw HttpError.badRequest('email must be an email address', { field: 'email' });
  }
  return email;
}

// add() resolves once the job is stored durably. A queue that is away rejects it within about 5 s with
// WEIR_ERR_JOBS_UNAVAILABLE: answer 503, and leave the broker's address to the log (the cause).
async function enqueue(email: Email, options: AddOptions): Promise<Added> {
  try {
    return await emails.add(email, options);
  } catch (err) {
    if (!isWeirError(err) || err.code !== 'WEIR_ERR_JOBS_UNAVAILABLE') throw err;
    throw new HttpError(503, err.code, 'The job queue is unavailable; retry shortly', undefined, {
      headers: { 'retry-after': '5' },
      cause: err,
    });
  }
}

// The same idempotencyKey within a day adds nothing: the first job's id comes back, duplicate: true.
app.post('/signups', async (ctx) => {
  const to = address(await ctx.json());
  const { id, duplicate } = await enqueue({ to, template: 'welcome' }, { idempotencyKey: `welcome:${to}` });
  return json({ id, duplicate }, 202);
});

// delay: the job may not run before an hour has passed.
app.post('/reminders', async (ctx) => {
  const to = address(await ctx.json());
  const { id } = await enqueue({ to, template: 'reminder' }, { delay: 3_600_000 });
  return json({ id }, 202);
});

// Stands in for the mail provider.
export const outbox: Email[] = [];

// Runs from listen() (web and workers in one process), or alone with `weir worker ENTRY`.
app.worker(
  emails,
  async (job, { signal }) => {
    signal.throwIfAborted(); // a real worker passes the signal to its mail client
    outbox.push(job.data);
  },
  { concurrency: 8 },
);
