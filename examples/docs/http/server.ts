import { App, sleep } from 'weir';

export const app = new App();
app.get('/', () => 'ok');

// A route deadline: at 100 ms ctx.signal aborts (stopping the work) and the client gets 503.
app.get('/report', { timeoutMs: 100 }, async (ctx) => {
  await sleep(60_000, { signal: ctx.signal }); // stands in for a slow query
  return 'never sent';
});

// Runs after the drain, in reverse order of registration: close the database, the cache, the queues.
app.onStop(() => app.log.info('closing what the app opened'));

// Each limit below is the default, spelled out.
await app.listen({
  port: Number(process.env.PORT ?? 8080),
  host: process.env.HOST ?? '127.0.0.1',
  maxHeaderSizeBytes: 16 * 1024, // a larger request head is answered 431
  headersTimeoutMs: 30_000, // a client slower to send its head gets 408
  requestTimeoutMs: 60_000, // …and one slower to send the whole request
  keepAliveTimeoutMs: 65_000, // idle connections outlive a load balancer's 60 s
  shutdownTimeoutMs: 10_000, // on SIGTERM: drain for 10 s, then 503 and close
});
