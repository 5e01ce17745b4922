// A service operators can see: request ids on every response and log line, an access log in a file,
// and Prometheus metrics on a port of their own, with the database, cache and queue it uses.
import { App } from 'weir';
import { openCache } from 'weir/cache';
import { openDatabase } from 'weir/db';
import { accessLog, metrics } from 'weir/observability';
import { openJobQueue } from 'weir/queue';

const db = await openDatabase(process.env.DATABASE_URL ?? 'sqlite::memory:');
const cache = await openCache('memory:');
const emails = await openJobQueue<{ to: string }>('emails', { url: process.env.QUEUE_URL });

// Keep the X-Request-Id of the load balancer in front (10.0.0.0/8); make one for everyone else.
export const app = new App({ requestId: { trust: ['10.0.0.0/8'] } });

export const exporter = metrics(app, {
  path: false,
  port: Number(process.env.METRICS_PORT ?? 9464),
  databases: { main: db },
  caches: { main: cache },
  queues: { emails },
});
const requests = accessLog(app, { to: process.env.ACCESS_LOG ?? 'logs/access.log', sample: 0.5 });
app.onStop(() => requests.close());

app.post('/signup', async (ctx) => {
  const { email } = await ctx.json<{ email: string }>();
  ctx.log.info({ email }, 'signing up'); // the line carries ctx.requestId
  await emails.add({ to: email }, ctx); // so does the job: job.requestId
  return { welcome: email };
});

app.worker(emails, async (job) => {
  await cache.set(`welcomed:${job.data.to}`, job.requestId ?? 'none');
});
app.onStop(() => emails.close());
app.onStop(() => db.close());
