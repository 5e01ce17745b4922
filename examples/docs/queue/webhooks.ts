import { App, HttpError } from 'weir';
import { hasDeadLetters, hasJobStatus, openJobQueue } from 'weir/queue';

export interface Hook {
  endpoint: string;
  event: string;
}

export const app = new App();
export const webhooks = await openJobQueue<Hook>('webhooks', {
  attempts: 3,
  backoff: { type: 'fixed', delayMs: 100 },
  logger: app.log,
});
app.onStop(() => webhooks.close());

// Stands in for the receivers: an endpoint in `down` fails every delivery.
export const receivers = { down: new Set<string>(), received: [] as Hook[] };
app.worker(webhooks, (job) => {
  if (receivers.down.has(job.data.endpoint)) throw new Error(`${job.data.endpoint} answered 503`);
  receivers.received.push(job.data);
});

// What this backend keeps beyond add(), process() and close(): { status, deadLetters, priority }.
app.get('/admin/queue', () => ({ backend: webhooks.backend, capabilities: webhooks.capabilities }));

// Job status is a capability: SQLite keeps every job's state; RabbitMQ and NATS forget a job once it
// is done. hasJobStatus() narrows the type: without it, get() and counts() do not compile.
app.get('/admin/jobs/:id', async (ctx) => {
  if (!hasJobStatus(webhooks)) {
    throw new HttpError(501, 'NO_JOB_STATUS', `The ${webhooks.backend} queue keeps no job status`);
  }
  const job = await webhooks.get(ctx.params.id);
  if (job === undefined) throw HttpError.notFound('No job has this id');
  return job; // state, attempts, maxAttempts, runAt, finishedAt, lastError, result…
});

app.get('/admin/counts', async () => {
  if (!hasJobStatus(webhooks)) {
    throw new HttpError(501, 'NO_JOB_STATUS', `The ${webhooks.backend} queue keeps no job status`);
  }
  return webhooks.counts(); // { waiting, active, failed, completed, dead }
});

// Dead letters: every backend keeps them. A job is dead once its last attempt failed.
app.get('/admin/dead', async () => {
  if (!hasDeadLetters(webhooks)) throw new HttpError(501, 'NO_DEAD_LETTERS', 'No dead-letter list');
  return webhooks.dead({ limit: 100 }); // oldest first: data, attempts, lastError, finishedAt…
});

// Once the receiver is back: put one dead job back, or all, with its attempts reset.
app.post('/admin/dead/retry', async (ctx) => {
  if (!hasDeadLetters(webhooks)) throw new HttpError(501, 'NO_DEAD_LETTERS', 'No dead-letter list');
  const { id } = ctx.query;
  if (id !== undefined && !/^[\w-]{1,100}$/.test(id)) {
    throw HttpError.badRequest('id must be a job id', { field: 'id' });
  }
  return { requeued: await webhooks.retryDead(id) };
});
