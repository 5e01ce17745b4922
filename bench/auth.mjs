#!/usr/bin/env node

// The cost of session() + requireAuth() on a GET route: servers/weir-auth.mjs (weir from dist/, one
// process pinned to core 0) answers GET /me with { id, name } of one user
//   without        no middleware;
//   memory         behind session({ store }) on memory: and requireAuth();
//   redis          the same on Redis (--redis), keys under a prefix of this run;
//   redis-rolling  as redis with touchAfterMs: 0 (a store write and a Set-Cookie per request);
//   jwt            behind requireAuth({ jwt }) (HS256), no session: the token is verified once, then found in
//                  the verified-token cache; jwt-uncached: cacheSize 0, the signature checked every time;
// each loaded by wrk (one thread, keep-alive, pinned to core 1, --connections). The runner logs in once
// (POST /login) before the load, so every request carries a live session cookie and a valid bearer JWT:
// the same two headers for every variant (a random id in place of the cookie where there is no session),
// so requests are the same size, and each variant reads the one it uses. The default touchAfterMs (60 s)
// is kept in memory and redis: a run is shorter than that after login, so it writes nothing to the
// store; a request costs one read (a Redis GET). --rounds rounds (the variants' order rotated),
// --duration s a run after a 2 s warm-up. Each variant is a fresh process. Reported: req/s per round and
// ÷ `without` in the same round, p50/p99 of the middle round, the server's CPU per request (and
// redis-server's, and Redis commands per request, counted over every client of that Redis), non-2xx and
// socket errors, and what else used the cores. Before the run and each variant it waits (--wait-others s
// at most) while another bench runner or a test run runs. Traffic goes to 127.0.0.1 only; every process
// is stopped by PID; each wrk run is bounded in time; the Redis keys of the run are removed at the end.
// --profile VARIANT profiles that variant instead (node --cpu-prof, one run) and prints where its time
// goes.
//
//   npm run bench:auth                                  (about 3 minutes; writes bench/RESULTS-auth.md)
//   node bench/auth.mjs --rounds 1 --duration 5 --out /tmp/auth.md
//   node bench/auth.mjs --profile redis --duration 10

import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { runStep } from './lib/common.mjs';
import { pinning } from './lib/cpu.mjs';
import { loadAverage } from './lib/machine.mjs';
import { send as sendTo, startServer, stopServer, wrkCommand } from './lib/processes.mjs';
import { printProfile } from './lib/profile.mjs';
import { hideCredentials, runnerRedis } from './lib/redis.mjs';
import {
  costOfRun,
  luaScripts,
  quietWaits,
  requireWrk,
  rotatedRounds,
  routeCostCommandLine,
} from './lib/route-cost.mjs';
import {
  addedOver,
  fmt,
  machineLine,
  medianBy,
  middleRun,
  ratiosText,
  redisCells,
  rpsPerRound,
  runLine,
  setupLines,
  sharesAndErrors,
  waitLines,
} from './lib/route-cost-report.mjs';

const VARIANTS = [
  { name: 'without', label: 'no middleware', session: false, redis: false },
  { name: 'memory', label: '`session()` (memory:) + `requireAuth()`', session: true, redis: false },
  { name: 'redis', label: '`session()` (Redis) + `requireAuth()`', session: true, redis: true },
  {
    name: 'redis-rolling',
    label: '`session()` (Redis, `touchAfterMs: 0`) + `requireAuth()`',
    session: true,
    redis: true,
  },
  { name: 'jwt', label: '`requireAuth({ jwt })`, HS256 (a token seen before)', session: false, redis: false },
  {
    name: 'jwt-uncached',
    label: '`requireAuth({ jwt: { cacheSize: 0 } })`, HS256 (verified every time)',
    session: false,
    redis: false,
  },
];

const names = VARIANTS.map((v) => v.name).join(', ');
// --duration 30 at most: under 60 s from login to the end of a run, so that the default touchAfterMs never
// fires.
const { values, rounds, duration, connections, port, waitOthers } = routeCostCommandLine({
  script: 'auth',
  port: '18185',
  redisHelp: 'the Redis of the redis variants',
  own: {
    profile: {
      arg: 'VARIANT',
      help: `profile one variant (${names}) and print a summary; no report`,
      after: 'wait-others',
    },
  },
});
const profiled = values.profile === undefined ? undefined : VARIANTS.find((v) => v.name === values.profile);
if (values.profile !== undefined && profiled === undefined) {
  console.error(`--profile must be one of ${names}`);
  process.exit(2);
}
requireWrk('bench:auth');

const writeScript = luaScripts('auth');

/** A wrk script: GET /me with `headers`, built once by wrk (no Lua per request). */
function script(headers) {
  const lines = Object.entries(headers).map(([name, value]) => `wrk.headers["${name}"] = "${value}"`);
  return writeScript(`wrk.method = "GET"\n${lines.join('\n')}\n`);
}

/** One request to the server, without keep-alive: { status, headers, body }. */
const send = (method, path, headers) => sendTo(port, path, { method, headers });

const redis = runnerRedis(values.redis);

const pin = pinning();
const run = `bench-auth:${Date.now().toString(36)}${randomBytes(3).toString('hex')}:`;
const ME = '{"id":1,"name":"Alice"}';

/**
 * Starts `variant` (with `nodeArgs` before the server file), logs in and checks the route: 200 and the
 * user with the credentials, 401 without them (200 for `without`). Resolves to { server, headers }.
 */
async function start(variant, round, nodeArgs = []) {
  const server = await startServer({
    name: variant.name,
    argv: [...pin.server, process.execPath, ...nodeArgs, 'servers/weir-auth.mjs'],
    env: {
      PORT: String(port),
      NODE_ENV: 'production',
      AUTH_VARIANT: variant.name,
      SESSION_URL: values.redis,
      SESSION_PREFIX: `${run}${round}:${variant.name}:`,
    },
    port,
    probe: async () => {
      const { status } = await send('GET', '/me');
      if (status !== 200 && status !== 401) throw new Error(`answered ${status}`);
    },
  });
  try {
    const login = await send('POST', '/login');
    if (login.status !== 200) throw new Error(`POST /login answered ${login.status}: ${login.body}`);
    const { token } = JSON.parse(login.body);
    const set = (login.headers['set-cookie'] ?? []).find((c) => c.startsWith('weir_session='));
    if (variant.session !== (set !== undefined)) throw new Error(`login cookie: ${set ?? 'none'}`);
    // Where nothing reads the cookie, a random id of the same shape keeps the request the same size.
    const cookie = set?.split(';')[0] ?? `weir_session=${randomBytes(32).toString('base64url')}`;
    const headers = { Cookie: cookie, Authorization: `Bearer ${token}` };
    const me = await send('GET', '/me', headers);
    if (me.status !== 200 || me.body !== ME) throw new Error(`GET /me answered ${me.status}: ${me.body}`);
    const anonymous = await send('GET', '/me');
    if (anonymous.status !== (variant.name === 'without' ? 200 : 401))
      throw new Error(`GET /me without credentials answered ${anonymous.status}`);
    return { server, headers };
  } catch (err) {
    await stopServer(server);
    throw new Error(`${variant.name}: ${err.message}\n${server.log.join('')}`);
  }
}

/** One wrk run of `variant` with what its requests cost (see costOfRun()). */
const load = (variant, server, headers, seconds) =>
  costOfRun(
    wrkCommand(pin, { connections, port }, seconds, '/me', script(headers)),
    seconds,
    server.child.pid,
    variant.redis ? redis : undefined,
  );

if (profiled !== undefined) {
  runStep('bench:auth', 'npm', ['run', 'build', '--silent']);
  let headers;
  try {
    await printProfile(
      profiled.name,
      async (nodeArgs) => {
        const started = await start(profiled, 'profile', nodeArgs);
        headers = started.headers;
        return started.server;
      },
      async (server) => (await load(profiled, server, headers, duration)).rps,
    );
  } finally {
    if (profiled.redis) await redis.unlinkKeys(`${run}*`);
    redis.disconnect();
  }
  process.exit(0);
}

runStep('bench:auth', 'npm', ['run', 'build', '--silent']);
// Checked before the wait: a Redis that does not answer fails the run now, not after the first rounds.
const redisVersion = await redis.version();
// Before the run and again before each variant: waits while another bench runner or a test run runs.
const quiet = quietWaits('bench:auth', waitOthers);
await quiet.wait();
const load0 = loadAverage();
const started = Date.now();
let results; // variant name → runs, one per round
let keysLeft = 0;
try {
  results = await rotatedRounds(rounds, VARIANTS, async (variant, round) => {
    await quiet.wait();
    const { server, headers } = await start(variant, round);
    try {
      await load(variant, server, headers, 2);
      const r = await load(variant, server, headers, duration);
      console.log(runLine(round, variant.name, r, { pct: Math.round }));
      return r;
    } finally {
      await stopServer(server);
    }
  });
} finally {
  if (VARIANTS.some((v) => v.redis)) keysLeft = await redis.unlinkKeys(`${run}*`);
  redis.disconnect();
}
console.log(`bench:auth: removed ${keysLeft} Redis keys under ${run}`);

const base = results.get('without');
// A share that could not be sampled reads NaN here, where the other runners write '?'.
const pct = (x) => (x === undefined ? '?' : Math.round(x));
const rows = VARIANTS.map((variant) => {
  const runs = results.get(variant.name);
  const mid = middleRun(runs);
  const without = variant.name === 'without';
  return (
    `| ${variant.label} | ${rpsPerRound(runs)} | ${without ? '1' : ratiosText(runs, base)} | ${mid.p50} | ${mid.p99} | ` +
    `${fmt(medianBy(runs, 'cpuUs'))}${without ? '' : ` (+${fmt(addedOver(runs, base, 'cpuUs'))})`} | ${redisCells(variant, runs)} | ` +
    sharesAndErrors(runs, mid, pct)
  );
});

const report = [
  '# The cost of session() + requireAuth() on a GET route',
  '',
  machineLine(redisVersion),
  'The machine is shared: other work may run beside the benchmark, so absolute figures move from round to',
  'round; compare the ratios, each taken against `without` in the same round.',
  ...waitLines(load0, started, quiet),
  `Command: \`node bench/auth.mjs --rounds ${rounds} --duration ${duration} --connections ${connections}\``,
  ...setupLines('weir-auth.mjs', pin, { connections, duration }, ';'),
  `Redis ${hideCredentials(values.redis)}, not pinned; its keys under a prefix of the run, ${keysLeft} removed at the end).`,
  '',
  'Every request is `GET /me` with the same two headers, `Cookie: weir_session=<43-character id>` and',
  '`Authorization: Bearer <HS256 JWT>`, from one login before the load; the answer is',
  '`{"id":1,"name":"Alice"}`. The session variants read the cookie (a SHA-256 of the id, a store read,',
  'a JSON parse of the record) and keep the default `touchAfterMs` (60 s): a run ends within a minute of',
  'login, so they write nothing to the store and send no `Set-Cookie`. `touchAfterMs: 0` re-stores the',
  "session's expiry on every request (a Lua script in Redis: one GET and one SET) and re-sends its cookie.",
  'The JWT variant verifies the token with jose; `without` reads neither header.',
  '',
  "CPU is the server process's (all threads) over the measured run, per request; `+` is the median over",
  "rounds of the difference to `without` in the same round. Redis's CPU and commands are redis-server's",
  "totals over the run per request, whoever sent them (this runner's two INFO calls included). The CPU",
  "shares are in % of one core: the server's and wrk's in the middle round, and the most that anything else",
  'used of core 0 (the server’s) and core 1 (wrk’s) in any round: Redis (unpinned), whatever else ran on',
  'the machine, and kernel work charged to no process (softirq: loopback delivery of the traffic).',
  '',
  '| route | req/s per round | ÷ without, per round | p50 (middle round) | p99 (middle round) | server CPU µs per request (+ over without) | redis-server CPU µs per request | Redis commands per request | server / wrk CPU % | others’ CPU % on core 0 / core 1 | non-2xx | socket errors |',
  '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
  ...rows,
  '',
].join('\n');
console.log(report);
writeFileSync(values.out, report);
