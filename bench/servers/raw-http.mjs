// What the raw node:http servers here share (node-db, node-cache, node-pipelined-db, db-http, overload-node): the Date
// header formatted once a second, as weir and node:http's automatic Date do, one writeHead + end for a body
// in memory with the headers every server sends, and TechEmpower's count rule. (servers/node.mjs keeps
// its own, tuned for the plaintext baseline.)

/** The Date header, formatted once a second; a live binding. */
export let date = new Date().toUTCString();
setInterval(() => {
  date = new Date().toUTCString();
}, 1000).unref();

/** Sends `body` with Content-Type `type`, Content-Length, Server `server` and Date. */
export function send(res, status, type, body, server = 'node') {
  res.writeHead(status, {
    'content-type': type,
    'content-length': Buffer.byteLength(body),
    server,
    date,
  });
  res.end(body);
}

/** Sends `value` as JSON, and a promise's value when it settles (a 500 with its message if it fails). */
export function sendJson(res, value, server = 'node') {
  if (typeof value?.then !== 'function') {
    send(res, 200, 'application/json', JSON.stringify(value), server);
    return value;
  }
  return value.then(
    (settled) => send(res, 200, 'application/json', JSON.stringify(settled), server),
    (err) =>
      send(res, 500, 'application/json', JSON.stringify({ error: String(err?.message ?? err) }), server),
  );
}

/** An empty 404. */
export function notFound(res, server = 'node') {
  res.writeHead(404, { 'content-length': 0, server, date });
  res.end();
}

/**
 * The query parameter `name` of `url` by TechEmpower's rule: an integer clamped to 1…500; missing or
 * unparsable → 1.
 */
export function countOf(url, name = 'queries') {
  const m = new RegExp(`[?&]${name}=([^&]*)`).exec(url);
  const n = Number.parseInt(m?.[1] ?? '', 10);
  if (Number.isNaN(n) || n < 1) return 1;
  return n > 500 ? 500 : n;
}
