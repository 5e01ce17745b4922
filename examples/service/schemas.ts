/**
 * The reference service's request schemas (valibot, the validator weir's docs recommend: the cheapest of
 * zod, valibot and arktype in bench/RESULTS-validators.md). Query strings arrive as strings: each numeric
 * parameter parses its digits and then checks the range.
 */
import * as v from 'valibot';
import { WORLD_SIZE } from './techempower.ts';

/** Bounds of the query and body parameters. */
export const LIMITS = {
  maxIds: 500,
  maxComputeN: 10_000_000,
  maxSleepMs: 30_000,
  lookupConcurrency: 16,
  maxUsersPage: 100,
  maxUsersOffset: 1_000_000,
};

/** A query parameter: an integer from `min` to `max` written in digits, `fallback` when absent. */
export function intQuery(min: number, max: number, fallback: number) {
  return v.optional(
    v.pipe(
      v.string(),
      v.regex(/^\d{1,10}$/, `must be an integer from ${min} to ${max}`),
      v.transform(Number),
      v.minValue(min, `must be an integer from ${min} to ${max}`),
      v.maxValue(max, `must be an integer from ${min} to ${max}`),
    ),
    String(fallback),
  );
}

/** POST /db: `{ "ids": [1…10000, …] }`, 1 to 500 ids. */
export const LookupBody = v.object({
  ids: v.pipe(
    v.array(
      v.pipe(
        v.number(),
        v.integer(`must hold integers from 1 to ${WORLD_SIZE}`),
        v.minValue(1, `must hold integers from 1 to ${WORLD_SIZE}`),
        v.maxValue(WORLD_SIZE, `must hold integers from 1 to ${WORLD_SIZE}`),
      ),
    ),
    v.minLength(1, `must hold 1 to ${LIMITS.maxIds} ids`),
    v.maxLength(LIMITS.maxIds, `must hold 1 to ${LIMITS.maxIds} ids`),
  ),
});

/** GET /users */
export const UsersQuery = v.object({
  limit: intQuery(1, LIMITS.maxUsersPage, 20),
  offset: intQuery(0, LIMITS.maxUsersOffset, 0),
});

/** GET /compute */
export const ComputeQuery = v.object({ n: intQuery(1, LIMITS.maxComputeN, 1_000_000) });

/** GET /sleep */
export const SleepQuery = v.object({ ms: intQuery(0, LIMITS.maxSleepMs, 100) });
