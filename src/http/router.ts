import { WeirError } from '../errors.ts';

/**
 * The router maps a path to the routes registered on it, one per method.
 *
 * - Static paths live in a `Map`: one hash lookup, and the match object is built once at registration,
 *   so a static hit allocates nothing.
 * - Paths with `:param` segments or a trailing `*` live in a segment tree. Lookup prefers a static child,
 *   then a param child, then the wildcard, and backtracks, so `/users/me` beats `/users/:id`.
 * - `:name?` registers the path with and without that last segment.
 *
 * The router knows nothing of methods beyond storing them: the app picks the method from
 * {@link PathEntry.methods}, which gives 405 with `Allow` when the path matches and the method does not.
 */

/** The routes registered on one path, one per method. */
export interface PathEntry<R> {
  /** The registered pattern, such as `/users/:id`. */
  readonly pattern: string;
  /** Method (upper case, or `*` for every method) to route. */
  readonly methods: Map<string, R>;
  /** The `Allow` header value, computed when the router is sealed. */
  allow: string;
}

/** A successful lookup. */
export interface Match<R> {
  readonly entry: PathEntry<R>;
  readonly params: Record<string, string>;
}

interface Node<R> {
  readonly statics: Map<string, Node<R>>;
  param: { readonly name: string; readonly node: Node<R> } | undefined;
  wildcard: PathEntry<R> | undefined;
  entry: PathEntry<R> | undefined;
}

const EMPTY_PARAMS: Record<string, string> = Object.freeze(Object.create(null));

function newNode<R>(): Node<R> {
  return { statics: new Map(), param: undefined, wildcard: undefined, entry: undefined };
}

function routeError(pattern: string, why: string): WeirError {
  return new WeirError('WEIR_ERR_ROUTE_INVALID', `Route path ${JSON.stringify(pattern)} ${why}`);
}

/** Splits a pattern with an optional last param into the paths it stands for. */
function expandOptional(pattern: string): string[] {
  const segments = pattern.split('/');
  const optional = segments.findIndex((s) => s.startsWith(':') && s.endsWith('?'));
  if (optional === -1) return [pattern];
  if (optional !== segments.length - 1)
    throw routeError(pattern, 'may only have an optional param as its last segment');
  const withParam = [...segments.slice(0, -1), segments[optional]!.slice(0, -1)].join('/');
  return [segments.slice(0, -1).join('/') || '/', withParam];
}

/** Checks every segment before the tree is touched, so a refused path leaves no trace. */
function validate(segments: readonly string[], pattern: string): void {
  const names = new Set<string>();
  segments.forEach((segment, i) => {
    if (segment === '*') {
      if (i !== segments.length - 1) throw routeError(pattern, 'may only have "*" as its last segment');
    } else if (segment.startsWith(':')) {
      const name = segment.slice(1);
      if (!/^[A-Za-z_$][\w$]*$/.test(name))
        throw routeError(pattern, `has an invalid param name ${JSON.stringify(name)}`);
      if (name === '__proto__') throw routeError(pattern, 'may not name a param "__proto__"');
      if (names.has(name)) throw routeError(pattern, `declares the param "${name}" twice`);
      names.add(name);
    } else if (segment.includes('*') || segment.includes(':')) {
      throw routeError(pattern, `has a segment ${JSON.stringify(segment)} mixing text with ":" or "*"`);
    }
  });
}

/** Method-aware path router with O(1) static lookups. */
export class Router<R> {
  readonly #static = new Map<string, Match<R>>();
  readonly #root: Node<R> = newNode();
  readonly #entries: PathEntry<R>[] = [];

  /** Registers `route` for `method` (or `*`) on `pattern`. */
  add(method: string, pattern: string, route: R): void {
    if (typeof pattern !== 'string' || !pattern.startsWith('/')) {
      throw routeError(String(pattern), 'must be a string starting with "/"');
    }
    for (const path of expandOptional(pattern)) {
      const entry = this.#entry(path, pattern);
      if (entry.methods.has(method)) {
        throw new WeirError(
          'WEIR_ERR_ROUTE_CONFLICT',
          `Route ${method === '*' ? 'ALL' : method} ${JSON.stringify(pattern)} is already registered`,
        );
      }
      entry.methods.set(method, route);
    }
  }

  /** Computes the `Allow` headers; call once after the last `add`. */
  seal(): void {
    for (const entry of this.#entries) {
      // `WS` (a WebSocket route) is no HTTP method: a plain GET there is answered 426.
      const methods = [...entry.methods.keys()].filter((m) => m !== 'WS');
      const allow = new Set(
        methods.includes('*') ? ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE'] : methods,
      );
      if (allow.has('GET')) allow.add('HEAD');
      allow.add('OPTIONS');
      entry.allow = [...allow].join(', ');
    }
  }

  /** Every registered path entry, in registration order. */
  entries(): readonly PathEntry<R>[] {
    return this.#entries;
  }

  /**
   * Finds the entry for a raw path (no query string, starting with `/`, as the app guarantees);
   * `undefined` when nothing matches.
   */
  find(path: string): Match<R> | undefined {
    const hit = this.#static.get(path);
    if (hit !== undefined) return hit;
    if (
      this.#root.statics.size === 0 &&
      this.#root.param === undefined &&
      this.#root.wildcard === undefined
    ) {
      return undefined;
    }
    // A plain object, not Object.create(null): V8 keeps the latter in slow dictionary mode. Param names are
    // identifiers and never "__proto__" (refused at registration), so no key can reach the prototype.
    const params: Record<string, string> = {};
    const entry = this.#walk(this.#root, path, 1, params);
    return entry === undefined ? undefined : { entry, params };
  }

  #walk(
    node: Node<R>,
    path: string,
    start: number,
    params: Record<string, string>,
  ): PathEntry<R> | undefined {
    if (start > path.length) return node.entry;
    let end = path.indexOf('/', start);
    if (end === -1) end = path.length;
    const segment = path.slice(start, end);
    const child = node.statics.get(segment);
    if (child !== undefined) {
      const found = this.#walk(child, path, end + 1, params);
      if (found !== undefined) return found;
    }
    if (node.param !== undefined && segment !== '') {
      const found = this.#walk(node.param.node, path, end + 1, params);
      if (found !== undefined) {
        params[node.param.name] = segment;
        return found;
      }
    }
    if (node.wildcard !== undefined) {
      params['*'] = path.slice(start);
      return node.wildcard;
    }
    return undefined;
  }

  #entry(path: string, pattern: string): PathEntry<R> {
    const isStatic = !path.includes(':') && !path.includes('*');
    if (isStatic) {
      const existing = this.#static.get(path);
      if (existing !== undefined) return existing.entry;
      const entry = this.#newEntry(pattern);
      this.#static.set(path, { entry, params: EMPTY_PARAMS });
      return entry;
    }
    const segments = path.slice(1).split('/');
    validate(segments, pattern);
    let node = this.#root;
    for (const segment of segments) {
      if (segment === '*') {
        node.wildcard ??= this.#newEntry(pattern);
        return node.wildcard;
      }
      if (segment.startsWith(':')) {
        const name = segment.slice(1);
        if (node.param !== undefined && node.param.name !== name) {
          throw routeError(pattern, `names a param "${name}" where another route has "${node.param.name}"`);
        }
        node.param ??= { name, node: newNode() };
        node = node.param.node;
        continue;
      }
      let next = node.statics.get(segment);
      if (next === undefined) {
        next = newNode();
        node.statics.set(segment, next);
      }
      node = next;
    }
    node.entry ??= this.#newEntry(pattern);
    return node.entry;
  }

  #newEntry(pattern: string): PathEntry<R> {
    const entry: PathEntry<R> = { pattern, methods: new Map(), allow: '' };
    this.#entries.push(entry);
    return entry;
  }
}
