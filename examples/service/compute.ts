/**
 * CPU-bound work for `GET /compute`: counts the primes ≤ n with a sieve of Eratosthenes. Work grows
 * with n (about n·log log n); n = 1,000,000 takes roughly 10–20 ms on one core. Self-contained (no
 * outside variables) so `runInWorker` can ship it to a worker thread.
 */
export function countPrimes(n: number): number {
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
