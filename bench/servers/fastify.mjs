// fastify 5: the reference framework, logger off, no schemas (plain TechEmpower-style handlers).
import Fastify from 'fastify';

const port = Number(process.env.PORT ?? 3000);

const app = Fastify({ logger: false });

// fastify sends Content-Length itself, and node:http adds Date (its own once-a-second cached value,
// `res.sendDate`), but nobody adds Server: TechEmpower requires it, and weir and the node:http baseline
// send it, so the handlers set it.
app.get('/plaintext', (_request, reply) => {
  reply.header('server', 'fastify').header('content-type', 'text/plain; charset=utf-8');
  return 'Hello, World!';
});

app.get('/json', (_request, reply) => {
  reply.header('server', 'fastify');
  return { message: 'Hello, World!' };
});

await app.listen({ port, host: '127.0.0.1' });
console.log(`fastify listening on http://127.0.0.1:${port}`);
