#!/usr/bin/env node
// CPU profile of one benchmark server under wrk load: where does a request's time go?
//
//   node bench/profile.mjs                          (weir, /json, 3 s warm-up + 10 s profiled)
//   node bench/profile.mjs --server fastify --route plaintext --duration 5 --top 30
//
// Runs the server pinned to core 0 with `node --cpu-prof`, loads it with wrk pinned to core 1 (127.0.0.1
// only), stops it, and prints the functions with the most self time, then weir's own functions (files
// under dist/) by self and total time. The .cpuprofile lands in bench/results/raw/profiles/ (gitignored);
// open it in Chrome DevTools (Performance tab) or VS Code for the flame graph. Build weir first
// (`npm run build`, or `npm run bench` does it).

import { join } from 'node:path';
import {
  commandLine,
  HOST,
  int,
  option,
  profileServer,
  runBounded,
  startServer,
  summarizeProfile,
} from './lib.mjs';

const oneOf =
  (all) =>
  (value, flag, { fail }) =>
    all.includes(value) ? value : fail(`unknown --${flag} ${value}`);
const { opts, fail } = commandLine({
  name: 'bench:profile',
  usage: 'Usage: node bench/profile.mjs [options]\n',
  columns: [20, 47],
  options: {
    server: option('<name>', 'weir, fastify or node', 'weir', oneOf(['weir', 'fastify', 'node'])),
    route: option('<name>', 'plaintext or json', 'json', oneOf(['plaintext', 'json'])),
    duration: option('<s>', 'profiled run, seconds', '10', int(1, 600)),
    warmup: option('<s>', 'discarded warm-up before it (0 = none)', '3', int(0, 600)),
    connections: option('<n>', 'wrk connections (-c)', '64', int(1, 10_000)),
    port: option('<n>', 'port the server listens on (127.0.0.1)', '3190', int(1024, 65535)),
    top: option('<n>', 'functions listed by self time', '25', int(1, 1000)),
  },
});
const { server, route, port } = opts;

/** wrk pinned to core 1 for `seconds`; resolves to its req/s as it printed them. */
async function wrk(seconds) {
  const args = ['taskset', '-c', '1', 'wrk', '-t1', `-c${opts.connections}`, `-d${seconds}s`];
  const { text } = await runBounded([...args, `http://${HOST}:${port}/${route}`], seconds, 'wrk').done;
  return /Requests\/sec:\s+([\d.]+)/.exec(text)?.[1];
}

const start = (nodeArgs) =>
  startServer({
    name: server,
    argv: ['taskset', '-c', '0', process.execPath, ...nodeArgs, join('servers', `${server}.mjs`)],
    env: { PORT: String(port), NODE_ENV: 'production' },
    port,
    probe: async () => {},
  });
const { file, rps, log } = await profileServer(start, async () => {
  if (opts.warmup > 0) await wrk(opts.warmup);
  return wrk(opts.duration);
}).catch((err) => fail(err.message));
if (log) console.log(log);
console.log(`\n${server} /${route}: ${rps} req/s under the profiler`);
console.log(summarizeProfile(file, { top: opts.top, own: (url) => url.startsWith('dist/') }));
