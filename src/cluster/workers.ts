import { availableParallelism } from 'node:os';
import { invalidOption } from '../errors.ts';

/**
 * The worker count asked for by `--workers` or `WEB_CONCURRENCY`: a positive integer, or `auto` for one
 * per CPU. `undefined` (or an empty string) means single-process mode.
 * @throws `WEIR_ERR_INVALID_OPTION` naming the source and the value when it is neither.
 */
export function workerCount(value: string | undefined, source = 'WEB_CONCURRENCY'): number | undefined {
  if (value === undefined || value.trim() === '') return undefined;
  const text = value.trim();
  if (text === 'auto') return availableParallelism();
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1 || n > 1024) {
    throw invalidOption(source, 'a whole number of workers (1…1024) or "auto"', value);
  }
  return n;
}

/**
 * `WEB_CONCURRENCY` as `npm start` and `weir serve` read it: unset, empty or `1` is one process with no
 * primary (the usual meaning of 1 on platforms that set it); 2 or more, or `auto` on a machine with
 * several CPUs, is that many workers under a primary. `--workers 1` asks for a supervised single worker.
 * @throws `WEIR_ERR_INVALID_OPTION` as {@link workerCount} does.
 */
export function webConcurrency(value: string | undefined): number | undefined {
  const count = workerCount(value);
  return count === 1 ? undefined : count;
}
