import { App, HttpError, json } from 'weir';
import { hasJobStatus, openJobQueue } from 'weir/queue';

interface Invoice {
  orderId: string;
  email: string;
}

// QUEUE_URL picks the backend: sqlite:./data/queue.db when unset (durable, shared by several
// processes), amqp://guest:guest@127.0.0.1:5672 (RabbitMQ) or nats://127.0.0.1:4222 (JetStream).
export const invoices = await openJobQueue<Invoice>('invoices', { attempts: 5 });

export const app = new App();
app.onStop(() => invoices.close());

// Answer at once; the work happens in a worker. The same orderId twice enqueues one job.
app.post('/orders/:id/invoice', async (ctx) => {
  const { email } = (await ctx.json<{ email?: unknown } | null>()) ?? {};
  if (typeof email !== 'string' || !email.includes('@'))
    throw HttpError.badRequest('email must be an address');
  const { id } = await invoices.add(
    { orderId: ctx.params.id, email },
    { idempotencyKey: `invoice:${ctx.params.id}`, backoff: { delayMs: 2000 } },
  );
  return json({ id }, { status: 202, headers: { location: `/jobs/${id}` } });
});

// A job's status is a capability: SQLite keeps it, a broker forgets a job once it is done.
app.get('/jobs/:id', async (ctx) => {
  if (!hasJobStatus(invoices)) throw new HttpError(501, 'NO_JOB_STATUS', `${invoices.backend} keeps none`);
  return (await invoices.get(ctx.params.id)) ?? null;
});

// Runs with `listen()` (web and workers in one process) or alone with `weir worker ENTRY`. A throw is
// retried with exponential backoff and jitter, 5 attempts, then dead-lettered; the signal aborts when the
// app stops and the job is still running past the shutdown deadline (it is then delivered again).
export const sent: string[] = [];
app.worker(
  invoices,
  async (job, { signal }) => {
    signal.throwIfAborted(); // a real worker passes `signal` to its HTTP client or database
    sent.push(`${job.data.orderId} → ${job.data.email}`);
    return { sent: true };
  },
  { concurrency: 8 },
);
