// The overload benchmark's route, shared by its peer servers (overload-node.mjs, overload-fastify.mjs),
// as examples/service/app.ts serves GET /overload: a 1 ms wait (a downstream call), then 0.2 ms of CPU
// (a busy loop on process.hrtime), then {"message":"Hello, World!"}. And the opt-in trace of the
// investigation of new connections under overload (OVERLOAD_TRACE=1), off in every measured run.

import { performance } from 'node:perf_hooks';
import { setTimeout as wait } from 'node:timers/promises';

/** The wait and the CPU of one request; resolves to the body's object. */
export async function overloadWork() {
  await wait(1);
  const until = process.hrtime.bigint() + 200_000n;
  while (process.hrtime.bigint() < until) {
    // burn CPU
  }
  return { message: 'Hello, World!' };
}

/** Wall-clock ms with a fraction: comparable across the processes of one machine. */
const now = () => performance.timeOrigin + performance.now();

/**
 * With OVERLOAD_TRACE=1, traces `server` (a node:http server) on stderr: once a second the connections
 * accepted so far, open now, closed, and the requests answered; and for each request that carries an
 * `x-probe` header (the prober's), one line with the time its connection was accepted, its request
 * reached the handler and its response was finished (wall-clock ms). Costs nothing when off.
 */
export function traceServer(server) {
  if (process.env.OVERLOAD_TRACE !== '1') return;
  let accepted = 0;
  let closed = 0;
  let answered = 0;
  const acceptedAt = new WeakMap();
  server.on('connection', (socket) => {
    accepted++;
    acceptedAt.set(socket, now());
    socket.once('close', () => closed++);
  });
  server.on('request', (req, res) => {
    const probe = req.headers['x-probe'];
    const handlerAt = now();
    res.once('finish', () => {
      answered++;
      if (probe === undefined) return;
      const line = { probe, acceptedAt: acceptedAt.get(req.socket), handlerAt, finishedAt: now() };
      process.stderr.write(`trace-probe ${JSON.stringify(line)}\n`);
    });
  });
  setInterval(() => {
    const line = { at: now(), accepted, open: accepted - closed, closed, answered };
    process.stderr.write(`trace-tick ${JSON.stringify(line)}\n`);
  }, 1000).unref();
}
