import { availableParallelism } from 'node:os';

/**
 * The worker count asked for by `--workers` or `WEB_CONCURRENCY`: a positive integer, or `auto` for one
 * per CPU. `undefined` (or an empty string) means single-process mode.
 * @throws RangeError naming the value when it is neither.
 */
export function workerCount(value: string | undefined, source = 'WEB_CONCURRENCY'): number | undefined {
  if (value === undefined || value.trim() === '') return undefined;
  const text = value.trim();
  if (text === 'auto') return availableParallelism();
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1 || n > 1024) {
    throw new RangeError(`${source} must be a whole number of workers (1…1024) or "auto", got "${value}"`);
  }
  return n;
}
