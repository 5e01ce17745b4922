/**
 * A request's id: the incoming `X-Request-Id` when the peer is trusted and the id well-formed, else a new
 * one; echoed in the response, bound to `ctx.log`, put in 5xx bodies, and carried with the jobs the
 * request adds (`queue.add(data, ctx)`).
 */
import type { IncomingMessage } from 'node:http';
import { isIP } from 'node:net';
import { invalidOption } from '../errors.ts';
import { isRequestId, requestIdGenerator } from '../internal/request-id.ts';
import { compileTrustProxy } from './proxy.ts';

/** The `requestId` option of an App. */
export interface RequestIdOptions {
  /**
   * The header an incoming id is read from (when `trust` allows) and the id is echoed in; `false`: none
   * read, none echoed (`ctx.requestId` still names the request in logs and jobs). @default 'x-request-id'
   */
  header?: string | false;
  /**
   * Whose incoming ids to keep: `true` every peer (set it only when clients reach the app through your
   * own proxies or services), or their addresses and CIDR ranges (`['10.0.0.0/8', '::1']`). An id kept
   * must be 1 to 128 characters of letters, digits and `._:/+=@-`; any other is replaced by a new one.
   * @default false (every request gets a new id)
   */
  trust?: boolean | readonly string[];
  /**
   * Makes a new id. Its ids must follow the rule above; one that does not is replaced by weir's own.
   * @default a random 64-bit prefix per process and a counter: `9f86d081884c7d65-1a`
   */
  generate?: () => string;
}

/** The compiled option: what a request needs. Internal. */
export interface RequestIds {
  /** The header, lower case; `undefined`: none. */
  readonly header: string | undefined;
  readonly trusted: ((peer: string) => boolean) | undefined;
  readonly generate: () => string;
}

const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,64}$/;

/** Compiles the `requestId` option. @throws WEIR_ERR_INVALID_OPTION naming the bad part. */
export function compileRequestIds(option: RequestIdOptions | false | undefined): RequestIds {
  const fallback = requestIdGenerator();
  if (option === false) return { header: undefined, trusted: undefined, generate: fallback };
  if (option !== undefined && (typeof option !== 'object' || option === null)) {
    throw invalidOption('requestId', 'an object of options or false', option);
  }
  const { header = 'x-request-id', trust = false, generate } = option ?? {};
  if (header !== false && (typeof header !== 'string' || !HEADER_NAME.test(header))) {
    throw invalidOption('requestId.header', 'a header name or false', header);
  }
  if (generate !== undefined && typeof generate !== 'function') {
    throw invalidOption('requestId.generate', 'a function', generate);
  }
  let trusted: RequestIds['trusted'];
  if (trust === true) {
    trusted = () => true;
  } else if (trust !== false) {
    if (!Array.isArray(trust) || trust.length === 0) {
      throw invalidOption(
        'requestId.trust',
        'a boolean or a non-empty list of addresses and CIDR ranges',
        trust,
      );
    }
    const inRange = compileTrustProxy(trust) as (address: string, hop: number) => boolean;
    trusted = (peer) => isIP(peer) !== 0 && inRange(peer, 0);
  }
  return {
    header: header === false ? undefined : header.toLowerCase(),
    trusted,
    generate:
      generate === undefined
        ? fallback
        : () => {
            const id = generate();
            return isRequestId(id) ? id : fallback();
          },
  };
}

/** The id of `req`: its trusted, well-formed incoming one, else a new one. */
export function requestIdOf(req: IncomingMessage, ids: RequestIds): string {
  if (ids.trusted !== undefined && ids.header !== undefined) {
    const incoming = req.headers[ids.header];
    if (isRequestId(incoming) && ids.trusted(req.socket?.remoteAddress ?? '')) return incoming;
  }
  return ids.generate();
}
