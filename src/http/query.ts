/** The query string of a request, parsed on first use by `ctx.query`. */

/**
 * A query string as `URLSearchParams` reads it, the first value of each name. A string with no `%` and
 * no `+` needs no decoding: it is split by hand, which costs a fraction of building a URLSearchParams
 * (test/http/query.test.ts checks the two agree).
 */
export function parseQuery(raw: string): Record<string, string | undefined> {
  const query: Record<string, string | undefined> = Object.create(null);
  if (raw === '') return query;
  if (raw.includes('%') || raw.includes('+')) {
    for (const [name, value] of new URLSearchParams(raw)) {
      if (!(name in query)) query[name] = value;
    }
    return query;
  }
  let start = raw.charCodeAt(0) === 63 ? 1 : 0; // a leading '?' is dropped, as URLSearchParams does
  while (start <= raw.length) {
    let end = raw.indexOf('&', start);
    if (end === -1) end = raw.length;
    if (end > start) {
      const eq = raw.indexOf('=', start);
      const name = eq === -1 || eq > end ? raw.slice(start, end) : raw.slice(start, eq);
      if (!(name in query)) query[name] = eq === -1 || eq > end ? '' : raw.slice(eq + 1, end);
    }
    start = end + 1;
  }
  return query;
}
