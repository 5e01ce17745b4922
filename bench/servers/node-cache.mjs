// Raw node:http with the TechEmpower cached queries test on an in-process Map (tfb-cache.mjs): the ceiling a
// framework on node:http can approach with its cache in the process. Same headers as weir and fastify.
import { createServer } from 'node:http';
import * as tfb from './tfb-cache.mjs';

const port = Number(process.env.PORT ?? 3000);
const JSON_TYPE = 'application/json';

// The Date header, formatted once a second, as in servers/node.mjs.
let date = new Date().toUTCString();
setInterval(() => {
  date = new Date().toUTCString();
}, 1000).unref();

function send(res, status, body) {
  res.writeHead(status, {
    'content-type': JSON_TYPE,
    'content-length': Buffer.byteLength(body),
    server: 'node',
    date,
  });
  res.end(body);
}

const fail = (res) => (err) => send(res, 500, JSON.stringify({ error: String(err?.message ?? err) }));

/** The `count` value of a URL's query string (undefined without one). */
function countOf(url) {
  const m = /[?&]count=([^&]*)/.exec(url);
  return tfb.countParam(m?.[1]);
}

const server = createServer((req, res) => {
  const url = req.url;
  const q = url.indexOf('?');
  const path = q === -1 ? url : url.slice(0, q);
  if (path === '/cached-queries') {
    const rows = tfb.cachedQueries(countOf(url));
    if (Array.isArray(rows)) send(res, 200, JSON.stringify(rows));
    else rows.then((r) => send(res, 200, JSON.stringify(r)), fail(res));
  } else if (path === '/db') tfb.db().then((w) => send(res, 200, JSON.stringify(w)), fail(res));
  else {
    res.writeHead(404, { 'content-length': 0, server: 'node', date });
    res.end();
  }
});

server.listen(port, '127.0.0.1', () => {
  console.log(`node:http (cached queries, Map) listening on http://127.0.0.1:${port}`);
});
