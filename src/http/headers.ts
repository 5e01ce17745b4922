import { type HttpError, httpError } from '../errors.ts';

/**
 * Response header checks. Node's `writeHead` throws on a header it cannot put on the wire; a value copied
 * from a request (`?v=a%0Ab`, a character above U+00FF) would make it throw, so weir checks where headers
 * are set (`ctx.set`) and, for headers built elsewhere (response helpers, web `Response`), finds the
 * culprit only after `writeHead` has refused them, which costs the hot path nothing.
 */

// RFC 9110 §5.1 token, and the field-value bytes Node accepts (HTAB, visible ASCII, obs-text).
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const INVALID_VALUE = /[^\t\x20-\x7e\x80-\xff]/;

/** True when `name` is an HTTP token (a valid header name). */
export function isHeaderName(name: unknown): name is string {
  return typeof name === 'string' && TOKEN.test(name);
}

/** True when `value` can be written as a header value (numbers always can). */
export function isHeaderValue(value: unknown): boolean {
  if (typeof value === 'number') return true;
  if (typeof value === 'string') return !INVALID_VALUE.test(value);
  if (Array.isArray(value)) return value.every((v) => typeof v === 'string' && !INVALID_VALUE.test(v));
  return false;
}

/**
 * The 500 for a header weir cannot send. The message names the header, never its value: the value is
 * usually request data, and it is not echoed to the client or the log. A name that is itself invalid is
 * not repeated either.
 */
export function invalidHeader(name: string, cause?: unknown): HttpError {
  const valid = isHeaderName(name);
  return httpError(
    'WEIR_ERR_INVALID_HEADER',
    valid
      ? `The response header "${name.toLowerCase()}" has a value that cannot be sent`
      : 'A response header has a name that cannot be sent',
    valid ? { header: name.toLowerCase() } : undefined,
    { cause },
  );
}

/** Throws {@link invalidHeader} unless `name: value` can be sent. */
export function checkHeader(name: string, value: unknown): void {
  if (!isHeaderName(name) || !isHeaderValue(value)) throw invalidHeader(String(name));
}

/** The first header of `headers` that cannot be sent, if any. */
export function findInvalidHeader(headers: Iterable<[string, unknown]>): string | undefined {
  for (const [name, value] of headers) {
    if (!isHeaderName(name) || !isHeaderValue(value)) return name;
  }
  return undefined;
}

/** Removes the headers that cannot be sent from `headers` (in place). */
export function dropInvalidHeaders(headers: Record<string, unknown>): void {
  for (const name of Object.keys(headers)) {
    if (!isHeaderName(name) || !isHeaderValue(headers[name])) delete headers[name];
  }
}
