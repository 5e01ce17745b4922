import { invalidOption } from '../errors.ts';
import type { BackoffOptions } from './types.ts';

/** The settled form of {@link BackoffOptions}. */
export type Backoff = Required<BackoffOptions>;

export const DEFAULT_BACKOFF: Backoff = {
  type: 'exponential',
  delayMs: 1000,
  maxDelayMs: 3_600_000,
  jitter: true,
};

/** Validates `options` over `base`. */
export function settleBackoff(options: BackoffOptions | undefined, base: Backoff = DEFAULT_BACKOFF): Backoff {
  if (options === undefined) return base;
  const settled = { ...base, ...options };
  if (settled.type !== 'exponential' && settled.type !== 'fixed') {
    throw invalidOption('backoff.type', '"exponential" or "fixed"', settled.type);
  }
  for (const name of ['delayMs', 'maxDelayMs'] as const) {
    const value = settled[name];
    if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
      throw invalidOption(`backoff.${name}`, 'a number of ms ≥ 0', value);
    }
  }
  return settled;
}

/** Milliseconds to wait after failed attempt `attempt` (1-based). */
export function backoffDelay(backoff: Backoff, attempt: number, random: () => number = Math.random): number {
  const raw =
    backoff.type === 'fixed'
      ? backoff.delayMs
      : backoff.delayMs * 2 ** Math.min(Math.max(attempt - 1, 0), 40);
  const capped = Math.min(raw, backoff.maxDelayMs);
  return Math.round(backoff.jitter ? capped * (0.5 + random() * 0.5) : capped);
}
