// weir with a CPU-heavy route, for bench/compute.mjs: is /plaintext still fast while /compute runs?
//
//   COMPUTE_MODE=worker  /compute counts primes on weir's worker pool (runInWorker), like the reference
//                        service's /compute (examples/service/app.ts); the event loop stays free
//   COMPUTE_MODE=inline  the same computation called directly in the handler, on the event loop
//
// Imported from the compiled build (run `npm run build` at the repo root first).
import { App, runInWorker, shutdownWorkers } from '../../dist/index.js';

const port = Number(process.env.PORT ?? 3000);
const mode = process.env.COMPUTE_MODE ?? 'worker';
if (mode !== 'worker' && mode !== 'inline')
  throw new Error(`COMPUTE_MODE must be worker or inline, not ${mode}`);

/** The primes ≤ n, by a sieve of Eratosthenes: examples/service/compute.ts; n = 1,000,000 is ~10–20 ms. */
function countPrimes(n) {
  if (n < 2) return 0;
  const composite = new Uint8Array(n + 1);
  let count = 0;
  for (let i = 2; i <= n; i++) {
    if (composite[i] === 0) {
      count++;
      for (let j = i * i; j <= n; j += i) composite[j] = 1;
    }
  }
  return count;
}

// The worker pool keeps weir's defaults (no configureWorkers()): availableParallelism() - 1 threads, so 1
// on a 2-core machine, and 32 waiting tasks per thread; one more is refused with a 503.

/** n from the query, 1,000,000 by default, bounded like the reference service's (1 … 10,000,000). */
function param(ctx) {
  const n = Number(ctx.query.n ?? 1_000_000);
  return Number.isInteger(n) && n >= 1 && n <= 10_000_000 ? n : 1_000_000;
}

const app = new App({ logger: false });
app.get('/plaintext', () => 'Hello, World!');
if (mode === 'worker') {
  app.get('/compute', async (ctx) => {
    const n = param(ctx);
    return { n, primes: await runInWorker(countPrimes, [n], { signal: ctx.signal }), mode };
  });
} else {
  app.get('/compute', (ctx) => {
    const n = param(ctx);
    return { n, primes: countPrimes(n), mode };
  });
}

await app.listen({ port, host: '127.0.0.1', signals: false });
process.once('SIGTERM', () => {
  void shutdownWorkers().finally(() => process.exit(0));
});
console.log(`weir-compute (${mode}) listening on http://127.0.0.1:${port}`);
