// Raw node:http with the TechEmpower database tests (logic, SQL and pg calls shared in tfb.mjs; DB_PATH picks
// those calls): the ceiling a framework on node:http and pg can approach. Same headers as weir and fastify.
import { createServer } from 'node:http';
import * as tfb from './tfb.mjs';

const port = Number(process.env.PORT ?? 3000);
const HTML = 'text/html; charset=utf-8';
const JSON_TYPE = 'application/json';

// The Date header, formatted once a second, as in servers/node.mjs.
let date = new Date().toUTCString();
setInterval(() => {
  date = new Date().toUTCString();
}, 1000).unref();

function send(res, status, type, body) {
  res.writeHead(status, {
    'content-type': type,
    'content-length': Buffer.byteLength(body),
    server: 'node',
    date,
  });
  res.end(body);
}

const json = (res, promise) =>
  promise.then(
    (value) => send(res, 200, JSON_TYPE, JSON.stringify(value)),
    (err) => send(res, 500, JSON_TYPE, JSON.stringify({ error: String(err?.message ?? err) })),
  );

/** The `queries` value of a URL's query string (undefined without one). */
function queriesOf(url) {
  const m = /[?&]queries=([^&]*)/.exec(url);
  return tfb.queriesParam(m?.[1]);
}

const server = createServer((req, res) => {
  const url = req.url;
  const q = url.indexOf('?');
  const path = q === -1 ? url : url.slice(0, q);
  if (path === '/db') json(res, tfb.db());
  else if (path === '/queries') json(res, tfb.queries(queriesOf(url)));
  else if (path === '/updates') json(res, tfb.updates(queriesOf(url)));
  else if (path === '/fortunes')
    tfb.fortunes().then(
      (page) => send(res, 200, HTML, page),
      (err) => send(res, 500, JSON_TYPE, JSON.stringify({ error: String(err?.message ?? err) })),
    );
  else {
    res.writeHead(404, { 'content-length': 0, server: 'node', date });
    res.end();
  }
});

server.listen(port, '127.0.0.1', () => {
  console.log(`node:http (db, ${tfb.PATH} path) listening on http://127.0.0.1:${port}`);
});
