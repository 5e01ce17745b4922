/**
 * Request ids: the one rule for what an id may look like, shared by the HTTP core (which takes or makes
 * one per request) and the queue backends (which carry it with the jobs a request adds), and the
 * generator of new ones.
 */
import { randomBytes } from 'node:crypto';

/** The longest id weir keeps; a longer incoming one is replaced. */
export const MAX_REQUEST_ID_LENGTH = 128;

// Letters, digits and `._:/+=@-`: what UUIDs, ULIDs, base64 and the ids proxies and load balancers make
// are written in, and nothing that can break a header, a log line or a JSON string.
const REQUEST_ID = /^[A-Za-z0-9._:/+=@-]{1,128}$/;

/** Whether `value` is a well-formed request id: 1 to 128 characters of letters, digits and `._:/+=@-`. */
export function isRequestId(value: unknown): value is string {
  return typeof value === 'string' && REQUEST_ID.test(value);
}

/**
 * A generator of ids unique across processes and restarts: a random prefix made once per generator
 * (16 hex digits, 64 bits) and a counter, `9f86d081884c7d65-1`, `9f86d081884c7d65-2`, … in base 36. A
 * string concatenation per id: no random bytes per request.
 */
export function requestIdGenerator(): () => string {
  const prefix = `${randomBytes(8).toString('hex')}-`;
  let next = 0;
  return () => prefix + (++next).toString(36);
}
