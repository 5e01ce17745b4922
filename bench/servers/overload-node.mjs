// Raw node:http serving the overload benchmark's route, GET /overload (see overload-work.mjs): what every
// Node framework is built on, with node:http's defaults (listen backlog 511, no limit of requests per
// socket). BACKLOG=n listens with another backlog (for the investigation; unset in measured runs).
import { createServer } from 'node:http';
import { overloadWork, traceServer } from './overload-work.mjs';
import { notFound, sendJson } from './raw-http.mjs';

const port = Number(process.env.PORT ?? 3000);

const server = createServer((req, res) => {
  if (req.url !== '/overload') notFound(res);
  else sendJson(res, overloadWork());
});
traceServer(server);

const backlog = process.env.BACKLOG ? Number(process.env.BACKLOG) : undefined;
server.listen({ port, host: '127.0.0.1', backlog }, () => {
  console.log(`node:http listening on http://127.0.0.1:${port}`);
});
