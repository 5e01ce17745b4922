/**
 * The URL of a call: the route's path with its params filled in, each one encoded so that it stays one
 * segment whatever it holds, then the query.
 */
import { describe, invalidOption, WeirError } from '../errors.ts';

/**
 * The base URL's prefix: an absolute http(s) URL without its trailing `/` (`http://host:8080/api`), or a
 * path (`/api`, or `''`) for a client in a browser page calling its own origin.
 * @throws WeirError `WEIR_ERR_INVALID_OPTION` for anything else, or a URL with a query or fragment.
 */
export function basePrefix(baseUrl: unknown): string {
  const expected = 'an http(s) URL, or a path starting with "/", with no query or fragment';
  const text = baseUrl instanceof URL ? baseUrl.href : baseUrl;
  if (typeof text !== 'string') throw invalidOption('createClient() baseUrl', expected, baseUrl);
  if (text === '' || text.startsWith('/')) {
    if (/[?#]/.test(text) || text.startsWith('//')) {
      throw invalidOption('createClient() baseUrl', expected, baseUrl);
    }
    return text.replace(/\/+$/, '');
  }
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw invalidOption('createClient() baseUrl', expected, baseUrl);
  }
  if ((url.protocol !== 'http:' && url.protocol !== 'https:') || url.search !== '' || url.hash !== '') {
    throw invalidOption('createClient() baseUrl', expected, baseUrl);
  }
  return `${url.origin}${url.pathname.replace(/\/+$/, '')}`;
}

function badParam(route: string, name: string, reason: string): WeirError {
  return new WeirError('WEIR_ERR_INVALID_OPTION', `Param "${name}" of ${route} ${reason}`);
}

/** One param's segment: `encodeURIComponent`, and never a segment that a URL parser would remove. */
function segment(route: string, name: string, value: unknown): string {
  if (typeof value === 'number' ? !Number.isFinite(value) : typeof value !== 'string') {
    throw badParam(route, name, `must be a string or a finite number, received ${describe(value)}`);
  }
  const text = String(value);
  // "", "." and ".." (however encoded: URL parsers decode %2e) would drop or climb a segment.
  if (text === '' || text === '.' || text === '..') {
    throw badParam(route, name, `cannot be ${JSON.stringify(text)}: it would change the path`);
  }
  try {
    return encodeURIComponent(text);
  } catch {
    throw badParam(route, name, 'has a lone surrogate, which has no UTF-8 form');
  }
}

/**
 * Fills the params of `route` (`/users/:id`, `/files/*`, `/a/:b?`) from `params`.
 * @throws WeirError `WEIR_ERR_INVALID_OPTION` when a required param is missing, or one has a value that is
 *   not a string or a finite number, that is empty, `.` or `..`, or that has a lone surrogate.
 */
export function fillPath(route: string, params: Readonly<Record<string, unknown>> | undefined): string {
  if (!route.includes(':') && !route.includes('*')) return route;
  const parts: string[] = [];
  for (const part of route.split('/')) {
    if (part.startsWith(':')) {
      const optional = part.endsWith('?');
      const name = part.slice(1, optional ? -1 : undefined);
      const value = params?.[name];
      if (value === undefined) {
        if (optional) continue;
        throw badParam(route, name, 'is missing');
      }
      parts.push(segment(route, name, value));
    } else if (part === '*') {
      const value = params?.['*'];
      if (value === undefined) throw badParam(route, '*', 'is missing');
      if (typeof value !== 'string') {
        throw badParam(route, '*', `must be a string, received ${describe(value)}`);
      }
      // The rest of the path: its "/" stay separators, and each piece between them is a segment.
      parts.push(
        value === ''
          ? ''
          : value
              .split('/')
              .map((piece) => segment(route, '*', piece))
              .join('/'),
      );
    } else {
      parts.push(part);
    }
  }
  return parts.join('/');
}

/**
 * The query string (with its `?`), or `''`: an array repeats the name, `undefined` is left out.
 * @throws WeirError `WEIR_ERR_INVALID_OPTION` for a value that is not a string, number or boolean.
 */
export function queryString(route: string, query: Readonly<Record<string, unknown>> | undefined): string {
  if (query === undefined) return '';
  const search = new URLSearchParams();
  const add = (name: string, value: unknown) => {
    if (value === undefined) return;
    if (typeof value !== 'string' && typeof value !== 'number' && typeof value !== 'boolean') {
      throw new WeirError(
        'WEIR_ERR_INVALID_OPTION',
        `Query "${name}" of ${route} must be a string, number or boolean (or an array of them), received ${describe(value)}`,
      );
    }
    search.append(name, String(value));
  };
  for (const [name, value] of Object.entries(query)) {
    if (Array.isArray(value)) for (const item of value) add(name, item);
    else add(name, value);
  }
  const text = search.toString();
  return text === '' ? '' : `?${text}`;
}
