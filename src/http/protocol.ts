import type { IncomingMessage } from 'node:http';
import { type HttpError, httpError } from '../errors.ts';

/**
 * What weir refuses before routing, in one place (RFC 9112):
 *
 * | request                                   | answer                                        |
 * | ----------------------------------------- | --------------------------------------------- |
 * | a version other than HTTP/1.0 or 1.1      | 505 `WEIR_ERR_HTTP_VERSION`, connection closed |
 * | HTTP/1.1 without `Host`                   | 400 `WEIR_ERR_BAD_REQUEST` (§3.2: MUST)         |
 * | `OPTIONS *`                               | 204 with the server's `Allow`                  |
 * | another method with `*`                   | 400                                            |
 * | absolute form `http://host/path?q`        | served as `/path?q` (§3.2.2: MUST accept)       |
 * | any other target that is not a path       | 400                                            |
 *
 * `CONNECT` never reaches the app: the server answers it (see server.ts).
 */

/** A refusal before routing: the error to answer with. */
export function checkRequest(req: IncomingMessage): HttpError | undefined {
  if (req.httpVersionMajor !== 1 || (req.httpVersionMinor !== 0 && req.httpVersionMinor !== 1)) {
    return httpError('WEIR_ERR_HTTP_VERSION', 'Only HTTP/1.0 and HTTP/1.1 are supported', undefined, {
      headers: { connection: 'close' },
    });
  }
  if (req.httpVersionMinor === 1 && req.headers.host === undefined) {
    return httpError('WEIR_ERR_BAD_REQUEST', 'An HTTP/1.1 request must carry a Host header');
  }
  return undefined;
}

/** The outcome of reading a request target that does not start with "/". */
export type Target = { readonly url: string } | { readonly asterisk: true } | { readonly error: HttpError };

/** Reads a request target that is not in origin form. */
export function readTarget(target: string, method: string): Target {
  if (target === '*') {
    if (method === 'OPTIONS') return { asterisk: true };
    return {
      error: httpError(
        'WEIR_ERR_BAD_REQUEST',
        `The request target "*" is only valid with OPTIONS, not ${method}`,
      ),
    };
  }
  if (/^https?:\/\//i.test(target)) {
    try {
      const url = new URL(target);
      return { url: url.pathname + url.search };
    } catch {
      // falls through to the refusal
    }
  }
  return {
    error: httpError(
      'WEIR_ERR_BAD_REQUEST',
      'The request target must be a path starting with "/" or an absolute URL',
    ),
  };
}
