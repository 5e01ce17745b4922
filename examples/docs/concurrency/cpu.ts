import { App, HttpError, runInWorker } from 'weir';

export const app = new App();

// Sent to a worker thread as source text: it may use nothing from outside its own body.
function countPrimes(limit: number): number {
  let count = 0;
  for (let n = 2; n < limit; n++) {
    let prime = true;
    for (let d = 2; d * d <= n && prime; d++) prime = n % d !== 0;
    if (prime) count++;
  }
  return count;
}

// The event loop keeps serving meanwhile. A client that leaves stops the task (its thread is ended);
// a saturated pool answers 503 WEIR_ERR_WORKER_QUEUE_FULL with Retry-After.
app.get('/primes/:limit', async (ctx) => {
  const limit = Number(ctx.params.limit);
  if (!/^\d{1,8}$/.test(ctx.params.limit) || limit < 2 || limit > 10_000_000) {
    throw HttpError.badRequest('limit must be an integer from 2 to 10000000', { field: 'limit' });
  }
  return { limit, primes: await runInWorker(countPrimes, [limit], { signal: ctx.signal }) };
});
