// Raw node:http with the TechEmpower cached queries test on an in-process Map (tfb-cache.mjs): the ceiling a
// framework on node:http can approach with its cache in the process. Same headers as weir and fastify.
import { createServer } from 'node:http';
import { countOf, notFound, sendJson } from './raw-http.mjs';
import * as tfb from './tfb-cache.mjs';

const port = Number(process.env.PORT ?? 3000);
const server = createServer((req, res) => {
  const url = req.url;
  const q = url.indexOf('?');
  const path = q === -1 ? url : url.slice(0, q);
  if (path === '/cached-queries') {
    // Warm, the rows themselves (no promise); a promise while some are loading.
    sendJson(res, tfb.cachedQueries(countOf(url, 'count')));
  } else if (path === '/db') sendJson(res, tfb.db());
  else notFound(res);
});

server.listen(port, '127.0.0.1', () => {
  console.log(`node:http (cached queries, Map) listening on http://127.0.0.1:${port}`);
});
