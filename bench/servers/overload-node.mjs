// Raw node:http serving the overload benchmark's route, GET /overload (see overload-work.mjs): what every
// Node framework is built on, with node:http's defaults (listen backlog 511, no limit of requests per
// socket). BACKLOG=n listens with another backlog (for the investigation; unset in measured runs).
import { createServer } from 'node:http';
import { overloadWork, traceServer } from './overload-work.mjs';

const port = Number(process.env.PORT ?? 3000);

let date = new Date().toUTCString();
setInterval(() => {
  date = new Date().toUTCString();
}, 1000).unref();

const server = createServer(async (req, res) => {
  if (req.url !== '/overload') {
    res.writeHead(404, { 'content-length': 0, server: 'node', date });
    res.end();
    return;
  }
  const body = JSON.stringify(await overloadWork());
  res.writeHead(200, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(body),
    server: 'node',
    date,
  });
  res.end(body);
});
traceServer(server);

const backlog = process.env.BACKLOG ? Number(process.env.BACKLOG) : undefined;
server.listen({ port, host: '127.0.0.1', backlog }, () => {
  console.log(`node:http listening on http://127.0.0.1:${port}`);
});
