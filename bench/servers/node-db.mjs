// Raw node:http with the TechEmpower database tests (logic, SQL and pg calls shared in tfb.mjs; DB_PATH picks
// those calls): the ceiling a framework on node:http and pg can approach. Same headers as weir and fastify.
import { createServer } from 'node:http';
import { countOf, notFound, send, sendJson } from './raw-http.mjs';
import * as tfb from './tfb.mjs';

const port = Number(process.env.PORT ?? 3000);
const HTML = 'text/html; charset=utf-8';

const server = createServer((req, res) => {
  const url = req.url;
  const q = url.indexOf('?');
  const path = q === -1 ? url : url.slice(0, q);
  if (path === '/db') sendJson(res, tfb.db());
  else if (path === '/queries') sendJson(res, tfb.queries(countOf(url)));
  else if (path === '/updates') sendJson(res, tfb.updates(countOf(url)));
  else if (path === '/fortunes')
    tfb.fortunes().then(
      (page) => send(res, 200, HTML, page),
      (err) => send(res, 500, 'application/json', JSON.stringify({ error: String(err?.message ?? err) })),
    );
  else notFound(res);
});

server.listen(port, '127.0.0.1', () => {
  console.log(`node:http (db, ${tfb.PATH} path) listening on http://127.0.0.1:${port}`);
});
