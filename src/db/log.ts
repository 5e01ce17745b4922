/** The database's own logger, and the checks of the options every engine shares. */
import { invalidOption } from '../errors.ts';
import { defaultLogger, type Logger, silentLogger } from '../internal/logger.ts';
import type { EngineOptions } from './database.ts';

/** The shared options, checked: a wrong value fails `openDatabase()` before it connects. */
export interface EngineSettings {
  readonly log: Logger;
  readonly maxWaiting: number;
  readonly acquireTimeoutMs: number;
}

export function engineSettings(options: EngineOptions): EngineSettings {
  const maxWaiting = options.maxWaiting ?? 10_000;
  if (!(maxWaiting === Number.POSITIVE_INFINITY || (Number.isInteger(maxWaiting) && maxWaiting >= 0))) {
    throw invalidOption('maxWaiting', 'an integer ≥ 0 (or Infinity)', maxWaiting);
  }
  const acquireTimeoutMs = options.acquireTimeoutMs ?? 10_000;
  if (!(typeof acquireTimeoutMs === 'number' && acquireTimeoutMs > 0)) {
    throw invalidOption('acquireTimeoutMs', 'a number of milliseconds > 0 (or Infinity)', acquireTimeoutMs);
  }
  const log = options.logger === false ? silentLogger : (options.logger ?? defaultLogger('weir.db'));
  return { log, maxWaiting, acquireTimeoutMs };
}

/** `host:port` of a database URL, for log lines (never the password). */
export function hostOf(url: string): string {
  try {
    const { hostname, port } = new URL(url);
    return hostname === '' ? url : `${hostname}:${port || '5432'}`;
  } catch {
    return '(unparsable URL)';
  }
}
