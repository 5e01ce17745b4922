// fastify 5 serving the overload benchmark's route, GET /overload (see overload-work.mjs), logger off.
// With --under-pressure, @fastify/under-pressure answers 503 + Retry-After while the mean event-loop delay
// of its 1 s sample exceeds OVERLOAD_MAX_ELD_MS (50; see bench/README.md for why); OVERLOAD_MAX_ELU, if
// set, adds a limit on the event loop's utilisation per sample (off by default).
import underPressure from '@fastify/under-pressure';
import Fastify from 'fastify';
import { overloadWork, traceServer } from './overload-work.mjs';

const port = Number(process.env.PORT ?? 3000);
const pressure = process.argv.includes('--under-pressure');

const app = Fastify({ logger: false });
if (pressure) {
  const maxElu = Number(process.env.OVERLOAD_MAX_ELU ?? 0);
  await app.register(underPressure, {
    maxEventLoopDelay: Number(process.env.OVERLOAD_MAX_ELD_MS ?? 50),
    ...(maxElu > 0 ? { maxEventLoopUtilization: maxElu, eventLoopUtilizationMode: 'interval' } : {}),
    retryAfter: 1,
  });
}

app.get('/overload', async (_request, reply) => {
  reply.header('server', 'fastify');
  return overloadWork();
});

traceServer(app.server);
if (pressure && process.env.OVERLOAD_TRACE === '1')
  setInterval(
    () => process.stderr.write(`trace-pressure ${JSON.stringify(app.memoryUsage())}\n`),
    1000,
  ).unref();

await app.listen({ port, host: '127.0.0.1' });
console.log(`fastify${pressure ? ' + under-pressure' : ''} listening on http://127.0.0.1:${port}`);
