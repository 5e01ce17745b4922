#!/usr/bin/env node

// The cost of weir's browser and abuse protection on a route: servers/weir-protection.mjs (weir from
// dist/, one process pinned to core 0) answers GET /items (a small JSON array) or GET /page (a small HTML
// page)
//   without           GET /items, no middleware;
//   noop              GET /items behind one async middleware that only awaits next();
//   rate-memory       behind rateLimit() on memory:, keyed by the client's address (one key for all);
//   rate-memory-keys  the same keyed by X-Client, which takes 10,000 values in turn;
//   rate-redis        rateLimit() on Redis (--redis), by address, keys under a prefix of this run;
//   headers+cors      securityHeaders() + cors() with the request's Origin allowed;
//   without-html      GET /page, no middleware (the baseline of headers-html);
//   headers-html      GET /page behind securityHeaders(), a CSP nonce per request in the page and policy;
// each loaded by wrk (one thread, keep-alive, pinned to core 1, --connections). The limit (1e9 a day) is
// never reached: the check is measured, not 429s. Every request of every variant carries the same two
// headers, `Origin: https://app.example.com` and `X-Client: client-NNNN` (one of 10,000, from 10,000
// requests wrk builds once and sends in turn), so requests are the same size and wrk does the same work.
// --rounds rounds (the variants' order rotated), --duration s a run after a 2 s warm-up. Each variant is a
// fresh process. Reported: req/s per round and ÷ the baseline (`without`, `without-html` for headers-html)
// in the same round, p50/p99 of the middle round, the server's CPU per request and the added CPU over the
// baseline, redis-server's CPU and Redis commands per request (counted over every client of that Redis),
// non-2xx and socket errors, and what else used the cores. Before the run and each variant it waits
// (--wait-others s at most) while another bench runner or a test run runs. Traffic goes to 127.0.0.1
// only; every process is stopped by PID; each wrk run is bounded in time; the Redis keys of the run are
// removed at the end. --profile VARIANT profiles that variant instead (node --cpu-prof, one run) and
// prints where its time goes.
//
//   npm run bench:protection                            (about 5 minutes; writes bench/RESULTS-protection.md)
//   node bench/protection.mjs --rounds 1 --duration 5 --out /tmp/protection.md
//   node bench/protection.mjs --variants rate-redis --rounds 1   (and its baseline, without)
//   node bench/protection.mjs --profile headers-html --duration 10

import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { runStep } from './lib/common.mjs';
import { pinning } from './lib/cpu.mjs';
import { loadAverage, waitForQuiet } from './lib/machine.mjs';
import { send, startServer, stopServer, wrkCommand } from './lib/processes.mjs';
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

// name, the report's label, the path, the baseline (in the same round), the groups of headers its
// middleware writes (see WRITTEN), and whether it uses Redis.
const ALL = [
  ['without', 'no middleware', '/items'],
  ['noop', 'one no-op middleware (`await next()`)', '/items', 'without'],
  ['rate-memory', '`rateLimit()`, memory:, one key', '/items', 'without', 'rate'],
  ['rate-memory-keys', '`rateLimit()`, memory:, 10,000 keys', '/items', 'without', 'rate'],
  ['rate-redis', '`rateLimit()`, Redis, one key', '/items', 'without', 'rate', true],
  ['headers+cors', '`securityHeaders()` + `cors()`', '/items', 'without', 'headers cors'],
  ['without-html', 'HTML page, no middleware', '/page', 'without'],
  ['headers-html', 'HTML page, `securityHeaders()`, CSP nonce', '/page', 'without-html', 'headers document'],
].map(([name, label, path, base, writes = '', redis = false]) => ({
  name,
  label,
  path,
  base,
  writes: writes.split(' '),
  redis,
}));

const names = ALL.map((v) => v.name).join(', ');
const { values, rounds, duration, connections, port, waitOthers } = routeCostCommandLine({
  script: 'protection',
  port: '18186',
  redisHelp: 'the Redis of rate-redis',
  maxDuration: 60,
  own: {
    variants: { arg: 'A,B', help: `only these (${names}) and their baselines (all)`, after: 'redis' },
    profile: {
      arg: 'VARIANT',
      help: 'profile one variant and print a summary; no report',
      after: 'wait-others',
    },
  },
});
const byName = new Map(ALL.map((v) => [v.name, v]));
const chosen = (values.variants ?? values.profile ?? names).split(',').map((s) => s.trim());
const unknown = chosen.filter((n) => !byName.has(n));
if (unknown.length > 0) {
  console.error(`unknown variant ${unknown.join(', ')}: expected ${names}`);
  process.exit(2);
}
// A variant brings its baseline, and the baseline's own (headers-html → without-html → without).
const wanted = new Set();
const want = (n) => {
  wanted.add(n);
  const base = byName.get(n).base;
  if (base !== undefined) want(base);
};
for (const n of chosen) want(n);
const VARIANTS = ALL.filter((v) => wanted.has(v.name));
requireWrk('bench:protection');

const writeScript = luaScripts('protection');
const CLIENTS = 10_000;
const ORIGIN = 'https://app.example.com';
const client = (i) => `client-${String(i).padStart(4, '0')}`;

/**
 * A wrk script for GET `path`: 10,000 requests built once (in init) that differ only in X-Client, sent in
 * turn; per request, wrk's Lua only picks the next one.
 */
function script(path) {
  return writeScript(
    `local requests = {}
local n = 0
init = function(args)
  for i = 0, ${CLIENTS - 1} do
    requests[i + 1] = wrk.format("GET", "${path}", { ["Origin"] = "${ORIGIN}", ["X-Client"] = string.format("client-%04d", i) })
  end
end
request = function()
  n = n % ${CLIENTS} + 1
  return requests[n]
end
`,
    `${path.slice(1)}.lua`,
  );
}

/** One GET to the server, without keep-alive: { status, headers, rawHeaders, body }. */
const get = (path, headers) => send(port, path, { headers });

const redis = runnerRedis(values.redis);

const ITEMS =
  '[{"id":1,"name":"apple","price":120},{"id":2,"name":"pear","price":95},{"id":3,"name":"plum","price":60}]';
const NONCE = /<style nonce="([A-Za-z0-9+/=]{24})">/;
/** The headers each group of middleware writes (a value or a pattern); a variant without the group has none. */
const WRITTEN = {
  rate: { 'ratelimit-policy': '"default";q=1000000000;w=86400', ratelimit: /^"default";r=\d+;t=\d+$/ },
  headers: {
    'x-content-type-options': 'nosniff',
    'referrer-policy': 'strict-origin-when-cross-origin',
    'cross-origin-resource-policy': 'same-origin',
  },
  cors: { 'access-control-allow-origin': ORIGIN, vary: 'Origin' },
  document: {
    'content-security-policy': /'nonce-[A-Za-z0-9+/=]{24}'/,
    'cross-origin-opener-policy': 'same-origin',
    'x-frame-options': 'SAMEORIGIN',
  },
};

/**
 * What is wrong with two answers of `variant` to the benchmark's headers: the status and body, and that
 * exactly the headers its middleware writes are there (so that a variant measures what it says).
 */
function answerProblems(variant, first, second) {
  const problems = [];
  if (first.status !== 200 || second.status !== 200)
    problems.push(`status ${first.status}, ${second.status}`);
  if (variant.path === '/items' && first.body !== ITEMS) problems.push(`body ${first.body.slice(0, 80)}`);
  for (const [group, headers] of Object.entries(WRITTEN))
    for (const [name, value] of Object.entries(headers)) {
      const got = first.headers[name];
      const ok = !variant.writes.includes(group)
        ? got === undefined
        : typeof value === 'string'
          ? got === value
          : value.test(got ?? '');
      if (!ok) problems.push(`${name}: ${got ?? '(none)'}`);
    }
  if (variant.path === '/page') {
    const [a, b] = [NONCE.exec(first.body)?.[1], NONCE.exec(second.body)?.[1]];
    if (a === undefined) problems.push('no nonce in the page');
    else if (variant.writes.includes('document')) {
      if (a === b) problems.push('the same nonce twice');
      if (!first.headers['content-security-policy']?.includes(`'nonce-${a}'`))
        problems.push("the page's nonce is not the policy's");
    }
  }
  return problems;
}

const pin = pinning();
const run = `bench-protection:${Date.now().toString(36)}${randomBytes(3).toString('hex')}:`;
const uses = (predicate) => VARIANTS.some(predicate);

/**
 * Starts `variant` (with `nodeArgs` before the server file) and checks its answers to the benchmark's
 * headers (answerProblems()). Resolves to { server, bytes }
 * (the size of one response, head and body).
 */
async function start(variant, round, nodeArgs = []) {
  const server = await startServer({
    name: variant.name,
    argv: [...pin.server, process.execPath, ...nodeArgs, 'servers/weir-protection.mjs'],
    env: {
      PORT: String(port),
      NODE_ENV: 'production',
      PROTECTION_VARIANT: variant.name,
      RATE_URL: values.redis,
      RATE_PREFIX: `${run}${round}:`,
    },
    port,
    probe: async () => {
      const { status } = await get(variant.path);
      if (status !== 200) throw new Error(`answered ${status}`);
    },
  });
  try {
    const ask = () => get(variant.path, { origin: ORIGIN, 'x-client': client(7) });
    const [first, second] = [await ask(), await ask()];
    const problems = answerProblems(variant, first, second);
    if (problems.length > 0) throw new Error(`unexpected answer: ${problems.join('; ')}`);
    // Each name is followed by ': ', each value by CRLF.
    const head = first.rawHeaders.reduce((n, s) => n + s.length + 2, 0);
    return { server, bytes: 'HTTP/1.1 200 OK\r\n'.length + head + 2 + Buffer.byteLength(first.body) };
  } catch (err) {
    await stopServer(server);
    throw new Error(`${variant.name}: ${err.message}\n${server.log.join('')}`);
  }
}

/** One wrk run of `variant` with what its requests cost (see costOfRun()). */
const load = (variant, server, seconds) =>
  costOfRun(
    wrkCommand(pin, { connections, port }, seconds, variant.path, script(variant.path)),
    seconds,
    server.child.pid,
    variant.redis ? redis : undefined,
  );

if (values.profile !== undefined) {
  const profiled = byName.get(values.profile);
  await waitForQuiet({ name: 'bench:protection', seconds: waitOthers });
  runStep('bench:protection', 'npm', ['run', 'build', '--silent']);
  try {
    await printProfile(
      profiled.name,
      async (nodeArgs) => (await start(profiled, 'profile', nodeArgs)).server,
      async (server) => (await load(profiled, server, duration)).rps,
    );
  } finally {
    if (profiled.redis) await redis.unlinkKeys(`${run}*`);
    redis.disconnect();
  }
  process.exit(0);
}

// Checked before the wait: a Redis that does not answer fails the run now, not after the first rounds.
const redisVersion = uses((v) => v.redis) ? await redis.version() : undefined;
// Before the run and again before each variant: waits while another bench runner or a test run runs.
const quiet = quietWaits('bench:protection', waitOthers);
await quiet.wait();
// Built after the wait: a build is CPU that another runner's measurement would feel.
runStep('bench:protection', 'npm', ['run', 'build', '--silent']);
const load0 = loadAverage();
const started = Date.now();
let results; // variant name → runs, one per round
const sizes = new Map(); // variant name → bytes of one response
let keysLeft = 0;
try {
  results = await rotatedRounds(rounds, VARIANTS, async (variant, round) => {
    await quiet.wait();
    const { server, bytes } = await start(variant, round);
    sizes.set(variant.name, bytes);
    try {
      await load(variant, server, 2);
      const r = await load(variant, server, duration);
      console.log(runLine(round, variant.name, r, { user: true }));
      return r;
    } finally {
      await stopServer(server);
    }
  });
} finally {
  if (uses((v) => v.redis)) keysLeft = await redis.unlinkKeys(`${run}*`);
  redis.disconnect();
}
if (uses((v) => v.redis)) console.log(`bench:protection: removed ${keysLeft} Redis keys under ${run}`);

const signed = (x) => `${x >= 0 ? '+' : ''}${fmt(x)}`;
const rows = VARIANTS.map((variant) => {
  const runs = results.get(variant.name);
  const base = variant.base === undefined ? undefined : results.get(variant.base);
  const mid = middleRun(runs);
  const cpu = `${fmt(medianBy(runs, 'cpuUs'))} (${fmt(medianBy(runs, 'userUs'))})`;
  const added =
    base && `**${signed(addedOver(runs, base, 'cpuUs'))}** (${signed(addedOver(runs, base, 'userUs'))})`;
  return (
    `| ${variant.label} | ${variant.base ?? '–'} | ${rpsPerRound(runs)} | ${base ? ratiosText(runs, base) : '1'} | ` +
    `${mid.p50} | ${mid.p99} | ${cpu} | ${added ?? '–'} | ${redisCells(variant, runs)} | ${sizes.get(variant.name)} | ` +
    sharesAndErrors(runs, mid)
  );
});

const report = [
  '# The cost of rateLimit(), securityHeaders() and cors() on a route',
  '',
  machineLine(redisVersion),
  'The machine is shared: other work may run beside the benchmark, so absolute figures move from round to',
  'round; compare the ratios, each taken against the baseline in the same round, and above all the added',
  'CPU per request.',
  ...waitLines(load0, started, quiet),
  `Command: \`node bench/protection.mjs${process.argv.length > 2 ? ` ${process.argv.slice(2).join(' ')}` : ''}\``,
  ...setupLines('weir-protection.mjs', pin, { connections, duration }, `, ${rounds} rounds with`),
  `the order of the variants rotated, each variant a fresh process${redisVersion ? `; Redis ${hideCredentials(values.redis)}, not pinned; its keys under a prefix of the run, ${keysLeft} removed at the end` : ''}).`,
  '',
  `Every request carries the same two headers, \`Origin: ${ORIGIN}\` and \`X-Client: client-NNNN\`, NNNN`,
  `going through ${CLIENTS.toLocaleString('en-US')} values in turn (wrk builds the ${CLIENTS.toLocaleString('en-US')} requests once). \`GET /items\` answers a JSON`,
  'array of three items; `GET /page` an HTML page of 314 bytes with an inline style and script, each with a',
  'nonce (`cspNonce(ctx)` behind `securityHeaders()`, a fixed string of the same length without it).',
  'The middleware goes on with `app.use()`. The rate limits allow 1,000,000,000 requests a day, so',
  'every request is checked and allowed and no 429 is sent; with one key it is the client address, which',
  "all wrk connections share; with 10,000 keys the X-Client header. The request's `Origin` is the one",
  '`cors()` allows, so it writes `Access-Control-Allow-Origin` and `Vary: Origin`; on the JSON route',
  '`securityHeaders()` writes its three headers for every response and skips the document ones (CSP,',
  "COOP, X-Frame-Options); on the HTML page it writes those too, the CSP with the request's nonce.",
  '`headers-html` is measured against `without-html`, the same page without middleware; every other',
  'variant against `without` (`without-html` too, to show what the page itself costs).',
  '',
  "CPU is the server process's (all threads, user and system time) over the measured run, per request,",
  'and in brackets its user time alone (JavaScript and the native code it calls; the system time is mostly',
  'the loopback TCP path). The added CPU is the median over rounds of the difference to the baseline in',
  "the same round. Redis's CPU and commands are redis-server's totals over the run per request, whoever",
  "sent them (this runner's two INFO calls included). Response bytes: status line, headers and body of one",
  "answer. The CPU shares are in % of one core: the server's and wrk's in the middle round, and the most",
  "that anything else used of core 0 (the server's) and core 1 (wrk's) in any round: Redis (unpinned),",
  'whatever else ran on the machine, and kernel work charged to no process (softirq: loopback delivery of',
  'the traffic).',
  '',
  '| route | baseline | req/s per round | ÷ baseline, per round | p50 (middle round) | p99 (middle round) | server CPU µs per request (of it user) | added CPU µs per request (of it user) | redis-server CPU µs per request | Redis commands per request | response bytes | server / wrk CPU % | others’ CPU % on core 0 / core 1 | non-2xx | socket errors |',
  '| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
  ...rows,
  '',
].join('\n');
console.log(report);
writeFileSync(values.out, report);
