/**
 * `weir/idempotency`: `Idempotency-Key` for unsafe requests. A repeated request runs once; its repeats
 * within the window get the first response again. Keys are kept in a weir cache (Redis, so that every
 * process and instance sees them).
 * @module
 */
export { idempotency, idempotencyKey } from './idempotency.ts';
export type { IdempotencyOptions } from './options.ts';
