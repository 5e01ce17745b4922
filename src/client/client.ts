/**
 * `createClient()`: calls a weir app over `fetch`, typed by the app's route map. Each call
 *   - fills the route's params (each encoded into one segment), adds the query, merges the headers, and
 *     sends `body` as JSON (a `URLSearchParams` or `FormData` as a form);
 *   - runs under a time limit and the caller's signals, from sending until the body has been read;
 *   - resolves to `{ status, ok, headers, data }` for any status the server answers with, and rejects
 *     only when there is no response to give: bad arguments (before any request), a network failure, the
 *     time limit, an abort, or a body that claims to be JSON and is not.
 */
import { invalidOption, isWeirError, WeirError } from '../errors.ts';
import type { RouteMethod } from '../http/route-spec.ts';
import type { Client, HeadersInput, RoutesOf } from './types.ts';
import { basePrefix, fillPath, queryString } from './url.ts';

/** Options of {@link createClient}. */
export interface ClientOptions {
  /** The `fetch` to call (a wrapper that logs or retries, a test double). @default globalThis.fetch */
  fetch?: (url: string, init: RequestInit) => Promise<Response>;
  /**
   * Headers sent with every call; a call's own headers win. A function is called for each call (a
   * bearer token that changes).
   */
  headers?: HeadersInput | (() => HeadersInput);
  /** Aborts every call made with the client, with the signal's reason. */
  signal?: AbortSignal;
  /**
   * Each call's time limit in ms, from sending until its body has been read; a call may set its own.
   * `Infinity` sets none (the server or the network may then keep a call waiting for ever).
   * @default 30_000
   */
  timeoutMs?: number;
  /** `fetch`'s credentials mode: `'include'` sends cookies to another origin from a browser. @default fetch's */
  credentials?: 'omit' | 'same-origin' | 'include';
}

/** What a call is given at run time (the types of `Client` say more). */
interface CallInput {
  params?: Readonly<Record<string, unknown>>;
  query?: Readonly<Record<string, unknown>>;
  headers?: HeadersInput;
  body?: unknown;
  signal?: AbortSignal;
  timeoutMs?: number;
}

/** The default of `timeoutMs`. */
export const DEFAULT_TIMEOUT_MS = 30_000;

function checkTimeout(name: string, value: unknown): number {
  if (typeof value !== 'number' || !(value > 0)) throw invalidOption(name, 'a number of ms > 0', value);
  return value;
}

const JSON_TYPE = /^application\/(?:[\w.+-]+\+)?json\s*(?:;|$)/i;

/**
 * A typed client of a weir app: `createClient<typeof app>(baseUrl)`, where `app` is the chain of the app's
 * routes (`new App().get(…).post(…)`) or an app carrying them (`app.route()` carries a mounted app's).
 * The paths each method takes, the params, query, headers and body of each call, and the body of each
 * response by status are checked at compile time.
 * @throws WeirError `WEIR_ERR_INVALID_OPTION` for a `baseUrl` that is not an http(s) URL or a path, or a
 *   bad option.
 * @example
 * const api = createClient<typeof app>('http://127.0.0.1:8080');
 * const res = await api.get('/users/:id', { params: { id: 7 } });
 * if (res.status === 200) console.log(res.data.name);
 */
export function createClient<A>(baseUrl: string | URL, options: ClientOptions = {}): Client<RoutesOf<A>> {
  const prefix = basePrefix(baseUrl);
  const fetchFn = options.fetch ?? globalThis.fetch;
  if (typeof fetchFn !== 'function') throw invalidOption('createClient() fetch', 'a function', fetchFn);
  const defaults = options.headers;
  if (defaults !== undefined && typeof defaults !== 'function' && typeof defaults !== 'object') {
    throw invalidOption('createClient() headers', 'an object or a function', defaults);
  }
  const timeoutMs = checkTimeout('createClient() timeoutMs', options.timeoutMs ?? DEFAULT_TIMEOUT_MS);
  const shared = options.signal;
  const credentials = options.credentials;

  async function call(method: string, route: string, input: CallInput = {}) {
    const url = prefix + fillPath(route, input.params) + queryString(route, input.query);
    const where = `${method} ${prefix}${route}`;
    const headers = mergeHeaders(typeof defaults === 'function' ? defaults() : defaults, input.headers);
    const body = encodeBody(where, method, input.body, headers);
    const limitMs = checkTimeout(`${where} timeoutMs`, input.timeoutMs ?? timeoutMs);
    const signals = [shared, input.signal].filter((s) => s !== undefined);
    for (const signal of signals) if (signal.aborted) throw signal.reason;

    const controller = new AbortController();
    const onAbort = (event: Event) => controller.abort((event.target as AbortSignal).reason);
    for (const signal of signals) signal.addEventListener('abort', onAbort, { once: true });
    let timedOut = false;
    const timer = Number.isFinite(limitMs)
      ? setTimeout(() => {
          timedOut = true;
          controller.abort();
        }, limitMs)
      : undefined;
    try {
      const init: RequestInit = { method, headers, body, signal: controller.signal };
      if (credentials !== undefined) init.credentials = credentials;
      const res = await fetchFn(url, init);
      const data = await readData(where, method, res);
      return { status: res.status, ok: res.ok, headers: res.headers, data };
    } catch (err) {
      if (timedOut) {
        throw new WeirError('WEIR_ERR_CLIENT_TIMEOUT', `${where} did not answer within ${limitMs} ms`);
      }
      const aborted = signals.find((s) => s.aborted);
      if (aborted !== undefined) throw aborted.reason;
      if (isWeirError(err)) throw err;
      throw new WeirError('WEIR_ERR_CLIENT_NETWORK', `${where} failed: ${reasonOf(err)}`, { cause: err });
    } finally {
      clearTimeout(timer);
      for (const signal of signals) signal.removeEventListener('abort', onAbort);
    }
  }

  const adder = (method: string) => (route: string, input?: CallInput) => call(method, route, input);
  const methods: Record<RouteMethod, unknown> = {
    get: adder('GET'),
    post: adder('POST'),
    put: adder('PUT'),
    patch: adder('PATCH'),
    delete: adder('DELETE'),
    head: adder('HEAD'),
    options: adder('OPTIONS'),
  };
  return Object.freeze(methods) as unknown as Client<RoutesOf<A>>;
}

function mergeHeaders(
  defaults: HeadersInput | undefined,
  own: HeadersInput | undefined,
): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const source of [defaults, own]) {
    if (source === undefined) continue;
    for (const [name, value] of Object.entries(source)) {
      if (value !== undefined) headers[name.toLowerCase()] = value;
    }
  }
  return headers;
}

/** The request body: a form as it is, anything else as JSON (with its Content-Type, unless given). */
function encodeBody(
  where: string,
  method: string,
  body: unknown,
  headers: Record<string, string>,
): string | URLSearchParams | FormData | undefined {
  if (body === undefined) return undefined;
  if (method === 'GET' || method === 'HEAD') {
    throw new WeirError('WEIR_ERR_INVALID_OPTION', `${where} cannot send a body (${method} has none)`);
  }
  if (body instanceof URLSearchParams || (typeof FormData === 'function' && body instanceof FormData)) {
    return body;
  }
  let text: string;
  try {
    text = JSON.stringify(body);
  } catch (err) {
    throw new WeirError('WEIR_ERR_INVALID_OPTION', `${where} body has no JSON form: ${reasonOf(err)}`, {
      cause: err,
    });
  }
  headers['content-type'] ??= 'application/json';
  return text;
}

/** The body: none for HEAD, 204, 205 and 304; JSON when the response says so; else text. */
async function readData(where: string, method: string, res: Response): Promise<unknown> {
  if (method === 'HEAD' || res.status === 204 || res.status === 205 || res.status === 304) {
    await res.body?.cancel();
    return undefined;
  }
  const text = await res.text();
  if (!JSON_TYPE.test(res.headers.get('content-type') ?? '')) return text;
  if (text === '') return undefined;
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new WeirError(
      'WEIR_ERR_CLIENT_RESPONSE',
      `${where} answered ${res.status} with a JSON Content-Type and a body that is not JSON: ${reasonOf(err)}`,
      { cause: err },
    );
  }
}

/** What went wrong, as fetch tells it: undici's `TypeError: fetch failed` holds the reason in `cause`. */
function reasonOf(err: unknown): string {
  const cause = (err as { cause?: unknown } | undefined)?.cause;
  const inner = cause instanceof Error ? cause : err;
  return inner instanceof Error ? inner.message : String(inner);
}
