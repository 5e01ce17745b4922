import { App, sleep } from 'weir';
import { openDatabase } from 'weir/db';
import { type JobHandler, openJobQueue } from 'weir/queue';

export interface Order {
  orderId: string;
}

export const app = new App();
export const db = await openDatabase(process.env.DATABASE_URL);
app.onStop(() => db.close());
await db.execScript('CREATE TABLE IF NOT EXISTS invoice (order_id TEXT PRIMARY KEY, pdf TEXT NOT NULL)');

export const invoices = await openJobQueue<Order>('invoices', {
  attempts: 4,
  backoff: { type: 'exponential', delayMs: 200, maxDelayMs: 30_000 }, // then dead, with its last error
  jobTimeoutMs: 60_000, // one attempt may run a minute; add() can give a job its own
  logger: app.log,
});
app.onStop(() => invoices.close()); // hooks run in reverse: the queue closes before the database

// Stands in for a PDF service: each render takes latencyMs, and the next `failures` renders fail.
export const pdfService = { latencyMs: 5, failures: 0 };
async function renderPdf(orderId: string, signal: AbortSignal): Promise<string> {
  await sleep(pdfService.latencyMs, { signal }); // rejects with signal.reason as soon as it aborts
  if (pdfService.failures > 0) {
    pdfService.failures--;
    throw new Error('the PDF service answered 502');
  }
  return `%PDF invoice for order ${orderId}`;
}

// job: id, queue, data, attempt (1 on the first run), maxAttempts, createdAt, requestId (of the request
// that added it, if any). The signal aborts past jobTimeoutMs (reason WEIR_ERR_JOBS_TIMEOUT) and at
// shutdown past its deadline (WEIR_ERR_JOBS_CLOSED).
export const renderInvoice: JobHandler<Order> = async (job, { signal }) => {
  // A throw (or a rejection) fails the attempt: the job runs again after its backoff.
  const pdf = await renderPdf(job.data.orderId, signal);
  // At least once: a job whose worker died, or whose outcome was lost, runs again, perhaps alongside
  // itself. So each write is idempotent: a second run of the same order changes nothing.
  await db.exec`
    INSERT INTO invoice (order_id, pdf) VALUES (${job.data.orderId}, ${pdf})
    ON CONFLICT (order_id) DO NOTHING`;
  return { orderId: job.data.orderId, attempt: job.attempt }; // kept as the job's result (SQLite)
};

app.worker(invoices, renderInvoice, { concurrency: 4 });
