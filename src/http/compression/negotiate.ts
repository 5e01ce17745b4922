/**
 * `Accept-Encoding` negotiation (RFC 9110 §12.5.3) for the encodings weir sends: `br` and `gzip`.
 *
 * Inputs: the header as the client sent it (any size, any case, any q-values) and the encodings the app
 * offers, most preferred first. Output: the encoding to send, or `undefined` for identity. Guarantees:
 * one pass over the header, no regular expression, no exception, whatever the header holds; an entry
 * whose q-value is malformed is ignored rather than guessed at.
 */

/** An encoding weir can compress a response with. */
export type Encoding = 'br' | 'gzip';

/** The coding an entry names, among those that matter here (a switch: no prototype key can match). */
function codingOf(name: string): Encoding | '*' | undefined {
  switch (name) {
    case 'br':
      return 'br';
    case 'gzip':
    case 'x-gzip':
      return 'gzip';
    case '*':
      return '*';
    default:
      return undefined;
  }
}

/**
 * A q-value (RFC 9110 §12.4.2: `0`, `0.ddd`, `1`, `1.000`), or -1 when `text` is none: the whole entry is
 * then ignored.
 */
function qvalue(text: string): number {
  const n = text.length;
  if (n === 0 || n > 5) return -1;
  const first = text.charCodeAt(0);
  if (first !== 48 && first !== 49) return -1;
  if (n === 1) return first - 48;
  if (text.charCodeAt(1) !== 46 /* . */) return -1;
  let value = 0;
  let scale = 0.1;
  for (let i = 2; i < n; i++) {
    const d = text.charCodeAt(i) - 48;
    if (d < 0 || d > 9) return -1;
    value += d * scale;
    scale /= 10;
  }
  if (first === 49) return value === 0 ? 1 : -1;
  return value;
}

/** The q-value among an entry's parameters (`;q=0.5`), 1 when it has none, -1 when it is malformed. */
function entryQ(entry: string, semi: number): number {
  if (semi === -1) return 1;
  let q = 1;
  let from = semi + 1;
  while (from <= entry.length) {
    let to = entry.indexOf(';', from);
    if (to === -1) to = entry.length;
    const param = entry.slice(from, to).trim();
    const eq = param.indexOf('=');
    if (eq !== -1 && param.slice(0, eq).trim().toLowerCase() === 'q') q = qvalue(param.slice(eq + 1).trim());
    from = to + 1;
  }
  return q;
}

/**
 * The encoding to send for an `Accept-Encoding` header, among `offered` (most preferred first), or
 * `undefined` for identity. An encoding is acceptable with a q-value above 0, named or through `*`; the
 * highest q wins, and `offered`'s order breaks ties. No header, an empty one, or only unknown encodings
 * mean identity (RFC 9110 §12.5.3: the client then prefers no encoding). Identity is sent even when the
 * client refuses it (`identity;q=0`) and accepts nothing weir offers: a 406 helps no one.
 */
export function negotiateEncoding(header: string, offered: readonly Encoding[]): Encoding | undefined {
  let br = -1;
  let gzip = -1;
  let star = -1;
  let from = 0;
  const length = header.length;
  while (from < length) {
    let to = header.indexOf(',', from);
    if (to === -1) to = length;
    const entry = header.slice(from, to);
    from = to + 1;
    const semi = entry.indexOf(';');
    const name = codingOf((semi === -1 ? entry : entry.slice(0, semi)).trim().toLowerCase());
    if (name === undefined) continue;
    const q = entryQ(entry, semi);
    if (q < 0) continue;
    // A name listed twice keeps its first q-value, as most servers do.
    if (name === 'br') br = br === -1 ? q : br;
    else if (name === 'gzip') gzip = gzip === -1 ? q : gzip;
    else star = star === -1 ? q : star;
  }
  let best: Encoding | undefined;
  let bestQ = 0;
  for (const encoding of offered) {
    let q = encoding === 'br' ? br : gzip;
    if (q === -1) q = star;
    if (q > bestQ) {
      best = encoding;
      bestQ = q;
    }
  }
  return best;
}
