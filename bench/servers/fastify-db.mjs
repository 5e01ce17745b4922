// fastify 5 with the TechEmpower database tests (logic, SQL and pg calls shared in tfb.mjs, the same pg calls
// as weir's unless DB_PATH says otherwise), logger off, no schemas: the framework is the only difference
// from weir and node-db.mjs.
import Fastify from 'fastify';
import * as tfb from './tfb.mjs';

const port = Number(process.env.PORT ?? 3000);

const app = Fastify({ logger: false });

// fastify sends Content-Length and node:http adds Date; Server is set by hand (see fastify.mjs). Objects and
// arrays go out as fastify's own `application/json; charset=utf-8`, as in fastify.mjs.
app.get('/db', (_request, reply) => {
  reply.header('server', 'fastify');
  return tfb.db();
});

app.get('/queries', (request, reply) => {
  reply.header('server', 'fastify');
  return tfb.queries(tfb.queriesParam(request.query.queries));
});

app.get('/fortunes', (_request, reply) => {
  reply.header('server', 'fastify').header('content-type', 'text/html; charset=utf-8');
  return tfb.fortunes();
});

app.get('/updates', (request, reply) => {
  reply.header('server', 'fastify');
  return tfb.updates(tfb.queriesParam(request.query.queries));
});

await app.listen({ port, host: '127.0.0.1' });
console.log(`fastify (db, ${tfb.PATH} path) listening on http://127.0.0.1:${port}`);
