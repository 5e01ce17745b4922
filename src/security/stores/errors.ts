/**
 * What the session stores share: the one error they reject with, and the checks of what they are given.
 * A message names the store and the operation, never a key, a record or a password.
 */
import { invalidOption, WeirError } from '../../errors.ts';
import type { SessionRecord } from './store.ts';

/**
 * The error every store operation rejects with when its backend cannot answer: `store` says which store
 * (`the Redis session store at redis://…`), `operation` what it was doing (`read a session`), `reason`
 * a line for the operator that holds no value (the caller picks it). The backend's error is the cause.
 */
export function sessionStoreError(
  store: string,
  operation: string,
  reason: string,
  cause?: unknown,
): WeirError {
  return new WeirError('WEIR_ERR_SESSION_STORE', `${capitalise(store)} could not ${operation}: ${reason}`, {
    cause,
  });
}

/** The error of an operation on a store after its `close()`. */
export function closedError(store: string, operation: string): WeirError {
  return new WeirError('WEIR_ERR_SESSION_STORE', `${capitalise(store)} is closed: cannot ${operation}`);
}

function capitalise(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}

/**
 * Refuses a record no backend could keep as given: `data` must be a string, the times whole epoch
 * milliseconds (SQL keeps them as BIGINT, Redis as a PX in ms).
 */
export function checkRecord(record: SessionRecord): void {
  if (typeof record !== 'object' || record === null) {
    throw invalidOption('A session record', 'an object { data, createdAt, expiresAt }', record);
  }
  if (typeof record.data !== 'string') throw invalidOption('Session record data', 'a string', record.data);
  checkTime('Session record createdAt', record.createdAt);
  checkTime('Session record expiresAt', record.expiresAt);
}

/** Refuses an expiry that is not whole epoch milliseconds. */
export function checkTime(name: string, value: unknown): asserts value is number {
  if (!Number.isSafeInteger(value))
    throw invalidOption(name, 'an integer number of ms since the epoch', value);
}

/** Validates an optional whole-number option: `value ?? fallback`, at least `min`. */
export function integerOption(name: string, value: unknown, fallback: number, min: number): number {
  const chosen = value ?? fallback;
  if (!Number.isSafeInteger(chosen) || (chosen as number) < min) {
    throw invalidOption(name, `an integer ≥ ${min}`, chosen);
  }
  return chosen as number;
}
