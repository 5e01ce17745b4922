// fastify 5 with the TechEmpower cached queries test on an in-process Map (tfb-cache.mjs, shared with
// node-cache.mjs), logger off, no schemas: the framework is the only difference from node-cache.mjs.
import Fastify from 'fastify';
import * as tfb from './tfb-cache.mjs';

const port = Number(process.env.PORT ?? 3000);

const app = Fastify({ logger: false });

// fastify sends Content-Length and node:http adds Date; Server is set by hand (see fastify.mjs). The rows
// (an array, or a promise of one on a miss) go out as fastify's own `application/json; charset=utf-8`.
app.get('/cached-queries', (request, reply) => {
  reply.header('server', 'fastify');
  return tfb.cachedQueries(tfb.countParam(request.query.count));
});

app.get('/db', (_request, reply) => {
  reply.header('server', 'fastify');
  return tfb.db();
});

await app.listen({ port, host: '127.0.0.1' });
console.log(`fastify (cached queries, Map) listening on http://127.0.0.1:${port}`);
