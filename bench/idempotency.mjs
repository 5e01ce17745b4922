#!/usr/bin/env node

// The cost of idempotency() on a POST route: servers/weir-idempotency.mjs (weir from dist/, one process
// pinned to core 0) answers POST /orders (read a small JSON body, answer 201 with an id and a Location)
//   without       no idempotency();
//   memory        behind idempotency() on CACHE_URL=memory:;
//   redis         behind idempotency() on CACHE_URL=redis://… (--redis);
// each loaded by wrk (one thread, keep-alive, pinned to core 1, --connections) with a Lua script that
// sends every request with an Idempotency-Key header: a new key per request (`unique`, the realistic case:
// every request claims a key, runs, and stores its response) or one of 100 keys (`repeated`: after the
// first few, every request is a replay, and a few at the start are concurrent duplicates, 409). The route
// without idempotency() gets the same requests, headers included. --rounds rounds (the variants' order
// rotated), --duration s a run after a 2 s warm-up with keys of its own. Each variant is a fresh process;
// its namespace in Redis is cleared when it stops. Reported: req/s per round and ÷ `without` in the same
// round, p50/p99 of the middle round, non-2xx and socket errors. Traffic goes to 127.0.0.1 only; every
// process is stopped by PID; each wrk run is bounded in time.
//
//   npm run bench:idempotency                          (about 3 minutes; writes bench/RESULTS-idempotency.md)
//   node bench/idempotency.mjs --rounds 1 --duration 5 --out /tmp/idempotency.md

import { writeFileSync } from 'node:fs';
import { runStep } from './lib/common.mjs';
import { pinning } from './lib/cpu.mjs';
import { loadAverage, waitForQuiet } from './lib/machine.mjs';
import { wrkFigures } from './lib/npm-service.mjs';
import { get, runBounded, send, startServer, stopServer, wrkCommand } from './lib/processes.mjs';
import { hideCredentials } from './lib/redis.mjs';
import { luaScripts, requireWrk, rotatedRounds, routeCostCommandLine } from './lib/route-cost.mjs';
import {
  machineLine,
  middleRun,
  ratiosText,
  rpsPerRound,
  setupLines,
  total,
} from './lib/route-cost-report.mjs';

const { values, rounds, duration, connections, port, waitOthers } = routeCostCommandLine({
  script: 'idempotency',
  port: '18183',
  redisHelp: 'the Redis of the redis variants',
  width: 18,
});
requireWrk('bench:idempotency');

const VARIANTS = [
  { name: 'without', label: 'no idempotency()', cache: undefined, keys: 'unique' },
  { name: 'memory', label: 'idempotency(), memory:', cache: 'memory:', keys: 'unique' },
  { name: 'memory-repeated', label: 'idempotency(), memory:', cache: 'memory:', keys: 'repeated' },
  { name: 'redis', label: 'idempotency(), Redis', cache: values.redis, keys: 'unique' },
  { name: 'redis-repeated', label: 'idempotency(), Redis', cache: values.redis, keys: 'repeated' },
];
const BODY = '{"item":"book","quantity":1}';

const writeScript = luaScripts('idempotency');

/** A wrk script that POSTs BODY with a key per request (`unique`) or one of 100 (`repeated`), under `prefix`. */
function script(keys, prefix) {
  const key = keys === 'unique' ? 'counter' : '(counter % 100)';
  return writeScript(
    `local counter = 0
request = function()
  counter = counter + 1
  return wrk.format("POST", "/orders", { ["Content-Type"] = "application/json", ["Idempotency-Key"] = "${prefix}-" .. ${key} }, '${BODY}')
end
`,
  );
}

/** One POST of BODY with a key; resolves to { status, replayed }. */
async function probe(key) {
  const res = await send(port, '/orders', {
    method: 'POST',
    headers: { 'idempotency-key': key },
    body: BODY,
  });
  return { status: res.status, replayed: res.headers['idempotent-replayed'] === 'true' };
}

/** How many requests the server's overload limiter has shed so far. */
async function shedCount() {
  const res = await get(port, '/bench-stats');
  return JSON.parse(res.body).shed;
}

const pin = pinning();
const run = Date.now().toString(36);

async function start(variant, round) {
  const namespace = `bench-idem-${run}-${round}-${variant.name}`;
  const env = { PORT: String(port), NODE_ENV: 'production', CACHE_NAMESPACE: namespace };
  if (variant.cache !== undefined) env.CACHE_URL = variant.cache;
  const server = await startServer({
    name: variant.name,
    argv: [...pin.server, process.execPath, 'servers/weir-idempotency.mjs'],
    env,
    port,
    probe: async () => {
      const first = await probe(`${namespace}-probe`);
      const second = await probe(`${namespace}-probe`);
      if (first.status !== 201 || second.status !== 201) throw new Error(`answered ${first.status}`);
      if (second.replayed !== (variant.cache !== undefined)) throw new Error('replay not as expected');
    },
  });
  return server;
}

async function load(variant, prefix, seconds) {
  const args = wrkCommand(pin, { connections, port }, seconds, '/orders', script(variant.keys, prefix));
  const { text } = await runBounded(args, seconds, 'wrk').done;
  return wrkFigures(text);
}

runStep('bench:idempotency', 'npm', ['run', 'build', '--silent']);
let quiet = 'no other bench runner or test run was seen';
try {
  await waitForQuiet({ name: 'bench:idempotency', seconds: waitOthers });
} catch (err) {
  quiet = `it ran anyway, ${err.message}`;
}
const load0 = loadAverage();
const started = Date.now();
const results = await rotatedRounds(rounds, VARIANTS, async (variant, round) => {
  const server = await start(variant, round);
  try {
    await load(variant, `${run}-${round}-warm`, 2);
    const before = await shedCount();
    const r = await load(variant, `${run}-${round}-run`, duration);
    r.shed = (await shedCount()) - before;
    console.log(
      `round ${round + 1} ${variant.name}: ${Math.round(r.rps)} req/s, p99 ${r.p99}, non-2xx ${r.non2xx} (shed ${r.shed}), socket errors ${r.socketErrors}`,
    );
    return r;
  } finally {
    await stopServer(server);
  }
});

const base = results.get('without');
const rows = VARIANTS.map((variant) => {
  const runs = results.get(variant.name);
  const mid = middleRun(runs);
  return (
    `| ${variant.label} | ${variant.keys} | ${rpsPerRound(runs)} | ` +
    `${variant.name === 'without' ? '1' : ratiosText(runs, base, false)} | ${mid.p50} | ${mid.p99} | ` +
    `${total(runs, 'non2xx')} (${total(runs, 'shed')} shed) | ${total(runs, 'socketErrors')} |`
  );
});

const report = [
  '# The cost of idempotency() on a POST route',
  '',
  `${machineLine()} The`,
  'machine is shared: other work ran beside the benchmark, so absolute figures move from round to round;',
  'compare the ratios, each taken against `without` in the same round.',
  `Load average before the run: ${load0} (${quiet}); the run took ${Math.round((Date.now() - started) / 1000)} s.`,
  `Command: \`node bench/idempotency.mjs --rounds ${rounds} --duration ${duration} --connections ${connections}\``,
  ...setupLines('weir-idempotency.mjs', pin, { connections, duration }, ';'),
  `Redis ${hideCredentials(values.redis)}, not pinned).`,
  '',
  'Every request is `POST /orders` with a 28-byte JSON body and an `Idempotency-Key`: a new key per request',
  '(`unique`: each request claims its key in the cache, runs, and stores its response: one `add` and one',
  '`set`) or one of 100 keys (`repeated`: a replay, one `add` and one `get`; the few 409s at the start are',
  'concurrent duplicates). On memory:, unique keys also evict the oldest of the cache’s 10,000 entries.',
  '',
  '| route | keys | req/s per round | ÷ without, per round | p50 (middle round) | p99 (middle round) | non-2xx (of which shed by the overload limiter) | socket errors |',
  '| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |',
  ...rows,
  '',
].join('\n');
console.log(report);
writeFileSync(values.out, report);
