#!/usr/bin/env node
// The TechEmpower "cached queries" test on weir's reference service, on three cache backends: the same
// compiled service (see buildService() in lib/service.mjs) with CACHE_URL `memory:` (weir-memory),
// `redis://…` (weir-redis) and `tiered+redis://…` (weir-tiered), each on PostgreSQL, against the uncached
// `/queries?queries=20` of the same service as the baseline. Beside them: the service started as
// `npm start` starts it (weir-start: `node scripts/start.mjs`, CACHE_URL `memory:`), and two peers that keep
// the rows in a plain in-process Map, raw node:http (node-map) and fastify (fastify-map), sharing
// servers/tfb-cache.mjs.
//
//   node bench/cache.mjs                  (about 10 minutes; writes bench/RESULTS-cache.md)
//   node bench/cache.mjs --rounds 1 --duration 5 --servers weir-memory,weir-redis --out /tmp/cache.md
//
// Each server one process pinned to core 0; wrk (one thread) pinned to core 1; PostgreSQL and Redis are not
// pinned. The database weir_bench_cache is dropped and recreated first and the service migrates it; the job
// queue (QUEUE_URL) is a SQLite file in a temporary folder. The service's cache namespace is weir's default,
// `weir`: before each server starts, the runner deletes the keys `weir:world:*` from Redis (SCAN + UNLINK,
// never FLUSHALL), so every server starts with a cold cache, and the warm-up fills it. Per round, rotated
// order: per server start, check its answers, then a discarded warm-up and a measured run of
// /cached-queries?count=20 (and of /queries?queries=20 on weir-memory); the server's peak RSS (VmHWM) is
// read as each measured run ends. Traffic goes to 127.0.0.1 only.
//
// See bench/README.md.

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import {
  answerChecks,
  BENCH_DIR,
  beginRun,
  buildService,
  cleanupOnExit,
  commandsRun,
  finishRun,
  fmtInt,
  fmtMiB,
  fmtMs,
  fmtPct,
  fmtRatio,
  fmtRatios,
  HOST,
  int,
  machineAndCommand,
  machineFacts,
  markdown,
  maxCpu,
  median,
  medianRound,
  NPM_START_ARGV,
  NPM_START_BUILD,
  option,
  otherCpu,
  pairedRatios,
  pinning,
  prepareNpmStart,
  prepareServiceDatabase,
  processTicks,
  ROOT,
  rerenderReport,
  roundsOrder,
  runRounds,
  runsTable,
  SERVICE_ARGV,
  SERVICE_BUILD,
  serverWarnings,
  serviceCommandLine,
  startTfbServer,
  statTicks,
  url,
  versionOf,
  warningsCaveat,
  worldsAnswer,
  worldsNotInTable,
  wrkCaveats,
} from './lib.mjs';

const ALL_SERVERS = ['weir-memory', 'weir-redis', 'weir-tiered', 'weir-start', 'node-map', 'fastify-map'];
/** The peers with a Map, and what weir is held against: its ratio ÷ node:http+Map, and peak RSS ÷ its. */
const PEERS = ['node-map', 'fastify-map'];
const TARGET = { rps: 0.9, rss: 1.25 };
/** The service's cache keys of World rows: its namespace (weir's default, `weir`), then `world:<id>`. */
const WORLD_KEYS = 'weir:world:*';
/** Redis runs its commands on one thread: a CPU figure this high (% of one core) means it may set the pace. */
const REDIS_BUSY = 90;

// ---------------------------------------------------------------------------------------------- options

const runner = serviceCommandLine({
  script: 'cache',
  servers: ALL_SERVERS,
  database: 'weir_bench_cache',
  port: '3120',
  load: { count: option('<n>', 'N of /cached-queries?count=N and /queries', '20', int(2, 500)) },
  stores: { redis: option('<url>', 'Redis server, without a database', 'redis://127.0.0.1:6379', url) },
  notes:
    '\nThe uncached /queries?queries=N runs once per round, on weir-memory (on the first weir server given without it).\n',
});
const { flags, opts, fail } = runner;
if (!/^redis:\/\/(127\.0\.0\.1|localhost)(:\d+)?$/.test(opts.redis))
  fail('--redis must be a redis:// URL on 127.0.0.1 or localhost, without a database');

/**
 * Each server: the same compiled service, CACHE_URL differing; the service as `npm start` runs it; the
 * peers (`peer`), each its own script in bench/servers/ with its rows in a Map.
 */
const serversOf = (o) => ({
  'weir-memory': { label: 'weir-memory', cacheUrl: 'memory:', redis: false, argv: SERVICE_ARGV },
  'weir-redis': { label: 'weir-redis', cacheUrl: o.redis, redis: true, argv: SERVICE_ARGV },
  'weir-tiered': { label: 'weir-tiered', cacheUrl: `tiered+${o.redis}`, redis: true, argv: SERVICE_ARGV },
  'weir-start': {
    label: 'weir (npm start)',
    cacheUrl: 'memory:',
    redis: false,
    argv: NPM_START_ARGV,
    cwd: ROOT,
  },
  'node-map': { label: 'node:http+Map', redis: false, argv: ['servers/node-cache.mjs'], peer: true },
  'fastify-map': { label: 'fastify+Map', redis: false, argv: ['servers/fastify-cache.mjs'], peer: true },
});
let SERVERS = serversOf(opts);
/** The server that also runs the uncached baseline: weir-memory, or the first weir server without it. */
const baselineOf = (servers) =>
  servers.includes('weir-memory') ? 'weir-memory' : servers.find((s) => !SERVERS[s].peer);
if (flags.rerender === undefined && baselineOf(opts.servers) === undefined)
  fail('--servers needs a weir server: the uncached /queries baseline runs on one');

/** The request path of a route: `cached` (/cached-queries) or `queries` (the uncached baseline). */
const pathOf = (route, n = opts.count) =>
  route === 'cached' ? `/cached-queries?count=${n}` : `/queries?queries=${n}`;

/** The routes a server runs: /cached-queries, and on the baseline server /queries after it. */
const routesOf = (server) => (server === baselineOf(opts.servers) ? ['cached', 'queries'] : ['cached']);

// ----------------------------------------------------------------------------------------------- stores

const pgUrl = (database) => `${opts.pg}/${database}`;

/** The queue's SQLite file (QUEUE_URL), in a folder removed at exit. */
let queueDir;
function queueUrl() {
  queueDir ??= mkdtempSync(join(tmpdir(), 'weir-bench-cache-'));
  return `sqlite:${join(queueDir, 'queue.db')}`;
}

/** CPU ticks of PostgreSQL (all its processes), of Redis (redis-server) and of the whole machine. */
const MORE_CPU = {
  postgres: () => processTicks('postgres'),
  redis: () => processTicks('redis-server'),
  machine: () => statTicks('cpu')?.busy,
};

/** The runner's own Redis connection (ioredis, from the root's node_modules), for SCAN, UNLINK and INFO. */
let redisClient;
async function redis() {
  if (redisClient === undefined) {
    const { Redis } = await import('ioredis');
    redisClient = new Redis(opts.redis, { lazyConnect: true, maxRetriesPerRequest: 1, connectTimeout: 3000 });
    redisClient.on('error', () => {}); // a failed command rejects; the event alone must not crash the runner
    await redisClient.connect();
  }
  return redisClient;
}

/** Calls `each(keys)` for every batch of keys matching WORLD_KEYS (SCAN, bounded); resolves to their count. */
async function scanWorldKeys(each) {
  const client = await redis();
  let cursor = '0';
  let seen = 0;
  for (let i = 0; i < 100_000; i++) {
    const [next, keys] = await client.scan(cursor, 'MATCH', WORLD_KEYS, 'COUNT', 1000);
    seen += keys.length;
    if (keys.length > 0) await each?.(keys);
    cursor = next;
    if (cursor === '0') return seen;
  }
  throw new Error(`SCAN MATCH ${WORLD_KEYS} did not finish within 100,000 calls`);
}

/** Deletes the service's World keys (only those) with SCAN + UNLINK; resolves to how many there were. */
async function unlinkWorldKeys() {
  const client = await redis();
  return scanWorldKeys((keys) => client.unlink(...keys));
}

/** Counters of Redis's INFO stats that the report uses. */
async function redisStats() {
  const text = await (await redis()).info('stats');
  const field = (name) => Number(new RegExp(`^${name}:(\\d+)`, 'm').exec(text)?.[1]);
  return {
    commands: field('total_commands_processed'),
    hits: field('keyspace_hits'),
    misses: field('keyspace_misses'),
  };
}

// ------------------------------------------------------------------------------------------------ servers

function start(server, pin) {
  const { label, argv, cwd, peer, cacheUrl } = SERVERS[server];
  const database = { DATABASE_URL: pgUrl(opts.database), DB_POOL: String(opts.pool) };
  return startTfbServer({
    label,
    argv,
    cwd,
    pin,
    port: opts.port,
    env: peer ? database : { ...database, CACHE_URL: cacheUrl, QUEUE_URL: queueUrl() },
  });
}

/**
 * Checks a server's answers: /cached-queries?count=N (N = --count, 0 → 1 row, 501 → 500 rows, twice so
 * that the second one is mostly served from the cache, foo → 1 row) and, on the baseline server,
 * /queries?queries=N: status, content type, the TechEmpower headers, a JSON array of the right length of
 * { id, randomNumber } with ids in 1…10000, every row equal to the table's (nothing writes to it in this
 * bench, so a cached row must be too). Then that the cache is where CACHE_URL says: the runner emptied
 * `weir:world:*` before the start, so on Redis the check's rows are there now, and with `memory:` none is.
 * Throws naming every problem.
 */
async function check(server) {
  const answers = answerChecks(SERVERS[server].label, opts.port);
  const rows = (path, count) =>
    answers.expect(
      path,
      worldsAnswer(count, (worlds) => worldsNotInTable(pgUrl(opts.database), worlds)),
    );
  for (const [n, count] of [
    [opts.count, opts.count],
    [0, 1],
    [501, 500],
    [501, 500],
    ['foo', 1],
  ])
    await rows(pathOf('cached', n), count);
  if (routesOf(server).includes('queries')) await rows(pathOf('queries'), opts.count);
  const keys = await scanWorldKeys();
  if (SERVERS[server].redis && keys === 0)
    answers.add(
      `no ${WORLD_KEYS} key in Redis after the check: is CACHE_URL=${SERVERS[server].cacheUrl} used?`,
    );
  if (!SERVERS[server].redis && keys > 0)
    answers.add(
      `${keys} ${WORLD_KEYS} keys in Redis after the check, with ${SERVERS[server].peer ? 'a Map' : 'CACHE_URL=memory:'}`,
    );
  answers.done();
}

// ------------------------------------------------------------------------------------------------- report

function writeReport(summary) {
  const { facts, results, order, pin, rawDir } = summary;
  const L = (s) => SERVERS[s].label;
  const base = baselineOf(opts.servers);
  const baseline = medianRound(results.queries[base]);
  const med = (s) => medianRound(results.cached[s]);
  // cached ÷ uncached round by round: the two ran within a minute or two of each other.
  const perRound = (s) => pairedRatios(results.cached[s], results.queries[base]);
  // Every measured run, [server, route, its result]: the baseline's first.
  const runs = [
    ...results.queries[base].map((r) => [base, 'queries', r]),
    ...opts.servers.flatMap((s) => results.cached[s].map((r) => [s, 'cached', r])),
  ];
  const all = runs.map(([, , r]) => r);
  const named = runs.map(([s, route, r]) => [`${L(s)} ${pathOf(route)}`, r]);
  const other = (c) => otherCpu(c, ['postgres', 'redis']);
  const redisServers = opts.servers.filter((s) => SERVERS[s].redis);
  const redisRuns = redisServers.flatMap((s) => results.cached[s]);
  const busyRedis = named
    .filter(([, r]) => (r.cpu?.redis ?? 0) >= REDIS_BUSY)
    .map(([what, r]) => `${what} round ${r.round} (${fmtPct(r.cpu.redis)})`);
  const disturbed = named
    .filter(([, r]) => (other(r.cpu) ?? 0) >= 15)
    .map(([what, r]) => `${what} round ${r.round} (other ${fmtPct(other(r.cpu))})`);
  const { p, table, lines, write } = markdown('bench:cache');
  const has = (...servers) => servers.some((s) => opts.servers.includes(s));

  lines([
    '# weir cache benchmark results (TechEmpower cached queries)',
    '',
    'Generated by `bench/cache.mjs`; do not edit by hand, re-run it. See `bench/README.md`.',
    '',
    '## Summary',
    '',
    `req/s of the median round (${opts.rounds} round(s), ${opts.duration} s measured each after a ${opts.warmup} s warm-up that fills the cache, wrk -c ${opts.connections}), its p50/p99, CPU over the measured run in % of one core, and the server's peak RSS (VmHWM from /proc as the measured run ended). The last column is req/s ÷ the uncached \`${pathOf('queries')}\`'s (run on ${L(base)}): of the median rounds, and in brackets the median of the per-round ratios.`,
    '',
  ]);
  // The baseline's median round, then each server's: [server, route, median round, ratio].
  table(
    [
      ['server', ([s]) => L(s), '---'],
      [
        'CACHE_URL',
        ([s]) => (SERVERS[s].peer ? 'a `Map` in the process' : `\`${SERVERS[s].cacheUrl}\``),
        '---',
      ],
      ['route', ([, route]) => `\`${pathOf(route)}\``, '---'],
      ['req/s', ([, , m]) => fmtInt(m.rps)],
      ['p50 ms', ([, , m]) => fmtMs(m.p50)],
      ['p99 ms', ([, , m]) => fmtMs(m.p99)],
      ['server CPU', ([, , m]) => fmtPct(m.cpu?.server)],
      ['Redis CPU', ([, , m]) => fmtPct(m.cpu?.redis)],
      ['PostgreSQL CPU', ([, , m]) => fmtPct(m.cpu?.postgres)],
      ['peak RSS MiB', ([, , m]) => fmtMiB(m.peakRssMiB)],
      ['÷ uncached /queries', ([, , , ratio]) => ratio],
    ],
    [
      [base, 'queries', baseline, '1.00× (uncached)'],
      ...opts.servers.map((s) => [
        s,
        'cached',
        med(s),
        `${fmtRatio(med(s).rps / baseline.rps)} (${fmtRatio(median(perRound(s)))})`,
      ]),
    ],
  );
  lines([
    '',
    `Per-round ratios of req/s, cached ÷ uncached: ${opts.servers.map((s) => `${L(s)} ${fmtRatios(perRound(s))}`).join('; ')}.`,
    '',
  ]);
  peersSection({ p, table, lines }, results);
  if (redisServers.length > 0) {
    lines([
      "Redis during the measured runs of the median round (from Redis's `INFO stats`, read just before wrk started and just after it ended; keys counted with SCAN after the run):",
      '',
    ]);
    const redisOf = (s) => med(s).redis ?? {};
    table(
      [
        ['server', L, '---'],
        [
          'Redis commands/s',
          (s) => fmtInt(redisOf(s).commands === undefined ? undefined : redisOf(s).commands / opts.duration),
        ],
        ['keyspace hits', (s) => fmtInt(redisOf(s).hits)],
        ['keyspace misses', (s) => fmtInt(redisOf(s).misses)],
        ['hit rate', (s) => hitRate(redisOf(s))],
        [`${WORLD_KEYS} keys`, (s) => fmtInt(redisOf(s).keys)],
      ],
      redisServers,
    );
    p();
  }

  machineAndCommand(p, summary, {
    tools: [
      ['pg (node-postgres)', `${facts.pgRoot} (root node_modules, for weir)`],
      ['ioredis', `${facts.ioredis} (root node_modules, for weir and for the runner's SCAN/UNLINK/INFO)`],
      ['PostgreSQL', `${facts.postgres} on 127.0.0.1:5432, not pinned (shares both cores)`],
      ['Redis', `${facts.redis} on ${opts.redis.replace(/^redis:\/\//, '')}, not pinned (shares both cores)`],
    ],
    weir: SERVICE_BUILD,
    more: [
      has('weir-start') && ['weir (npm start)', NPM_START_BUILD],
      has(...PEERS) && ['fastify', `${facts.fastify} (bench/node_modules)`],
      has(...PEERS) && ['pg for the Map peers', `${facts.pgBench} (bench/node_modules)`],
    ].filter(Boolean),
  });
  commandsRun(p, pin, opts, serverCommands(pin));
  lines([
    '## Method',
    '',
    `- Servers: the reference service, examples/service/main.ts, compiled by tsc and run with plain \`node\` (weir's \`pg\` pool of ${opts.pool} on the PostgreSQL database \`${opts.database}\`, the job queue on a SQLite file in a temporary folder), started three ways that differ only in \`CACHE_URL\`: **weir-memory** \`memory:\` (in-process LRU, 10,000 entries by default: the whole table fits), **weir-redis** \`${opts.redis}\` and **weir-tiered** \`tiered+${opts.redis}\` (an in-process L1 in front of Redis, kept coherent by invalidation messages over Redis pub/sub).`,
    has('weir-start') &&
      `- **weir (npm start)**: the same service started as its users start it, \`node scripts/start.mjs\` in the repo root with \`CACHE_URL=memory:\` and the others' environment: weir from dist/, bundled with the service by scripts/service-build.mjs into .build/service/<hash of its sources and dist/>/ (made before the run, as a first \`npm start\` would). The npm process itself is left out (\`bench/startup.mjs\` measures what it adds to a start).`,
    has(...PEERS) &&
      `- **node:http+Map** and **fastify+Map** (servers/node-cache.mjs and servers/fastify-cache.mjs, one module for both, servers/tfb-cache.mjs): the rows in a plain \`Map\` (id → row) in the server process, filled as requests ask, as the TechEmpower rules allow. A miss reads the row with weir's SQL, \`SELECT id, randomnumber AS "randomNumber" FROM world WHERE id = $1\`, by \`pool.query({ name: 'world', text, values: [id] })\` (a named prepared statement, as weir sends it) on a \`pg.Pool\` of ${opts.pool} with weir's settings; concurrent misses of one id share one query. No TTL, no bound: the 10,000 rows fit. A request whose rows are all in the Map answers the shared row objects, serialised by \`JSON.stringify\` (node:http) or fastify's default serializer, with no promise; fastify 5, logger off, no schema; both send \`Server\`, \`Date\` and \`Content-Length\`, and pass the same checks as weir.`,
    `- \`${pathOf('cached')}\` (examples/service/techempower.ts): ${opts.count} random ids in 1…10,000, one \`cache.getMany()\` for all their keys (\`world:<id>\`, one MGET on Redis), then \`cache.wrap()\` per miss (single-flight, on Redis a short lock, then the row read from PostgreSQL and stored with a 60 s TTL). With \`tiered+redis:\` the getMany looks in the in-process L1 first and asks Redis (MGET) only for the keys L1 lacks, so once L1 holds the table Redis sees almost nothing. \`${pathOf('queries')}\` is the uncached baseline: ${opts.count} single-row queries per request, run once per round on ${L(base)} (it does not touch the cache, so the backend does not matter to it).`,
    `- The database \`${opts.database}\` is dropped, recreated and migrated by the service before the run (10,000 world rows); nothing writes to it afterwards, so every cached row must equal the table's. Before each server starts, the runner deletes the service's World keys from Redis, \`${WORLD_KEYS}\` (the service's namespace is weir's default \`weir\`, not one of the runner's choosing), with SCAN + UNLINK; nothing else in Redis is touched (never FLUSHALL). Every server therefore starts with a cold cache, and its ${opts.warmup} s warm-up fills it; at 60 s, the TTL outlasts the warm-up and the measured run together, so the measured run is (nearly) all hits.`,
    `- Each server is **one Node process** ${pin.pinned ? 'pinned to **core 0**' : '(unpinned)'}; the load generator is **wrk, one thread, ${opts.connections} connections**, ${pin.pinned ? 'pinned to **core 1**' : 'unpinned'}; **PostgreSQL and Redis are not pinned** and run on both cores.`,
    `- Per server: empty \`${WORLD_KEYS}\`, start it, **check its answers** (status, content type, \`Server\`/\`Date\`/\`Content-Length\`; a JSON array of { id, randomNumber } with ids in 1…10,000 and values equal to the table's: count=${opts.count} → ${opts.count} rows, count=0 → 1, count=501 → 500 (twice, the second mostly from the cache), count=foo → 1; on ${L(base)} also \`${pathOf('queries')}\`; then that the rows are in Redis for the Redis backends and not there with \`memory:\`), then per route a **${opts.warmup} s warm-up** (discarded) and a **${opts.duration} s measured run**; then stop it (SIGTERM by PID). A fresh process per server and round.`,
    `- **${opts.rounds} round(s)**, the server order rotated every round (${roundsOrder(order, L)}). Reported: the median round by req/s with its p50/p99 (wrk \`--latency\`), and CPU from /proc over the measured run: the server process, all redis-server and all PostgreSQL processes (% of one core), and the whole machine (of ${facts.nproc * 100} %).`,
    '',
    '## Every round',
    '',
  ]);
  runsTable(
    table,
    {
      lead: ['server', 'route'],
      processes: [
        ['Redis CPU', 'redis'],
        ['PostgreSQL CPU', 'postgres'],
      ],
      other,
      rss: true,
    },
    runs.map(([s, route, r]) => [[L(s), `\`${pathOf(route)}\``], r]),
  );
  lines([
    '',
    '## Caveats',
    '',
    `- **PostgreSQL and Redis share the ${facts.nproc} cores with the server and wrk.** The server has core 0 and wrk core 1 to themselves only as far as taskset goes: redis-server and PostgreSQL's backends run wherever the kernel puts them, so CPU that Redis uses is partly taken from the server's core. The whole machine was up to ${fmtPct(maxCpu(all, 'machine'))} of ${facts.nproc * 100} % busy.`,
    redisRuns.length === 0
      ? '- No Redis backend was measured.'
      : busyRedis.length > 0
        ? `- **Redis near saturation**: redis-server used ${REDIS_BUSY} % of one core or more (it executes commands on one thread) in ${busyRedis.join('; ')}: there Redis, not weir, may set the pace.`
        : `- Redis used at most ${fmtPct(maxCpu(redisRuns, 'redis'))} of one core in any measured run (its commands execute on one thread), below the ${REDIS_BUSY} % that would mark it as a possible bottleneck.`,
    has(...PEERS) &&
      "- weir's `memory:` cache is an LRU of 10,000 entries whose rows expire after 60 s, read through `cache.getMany()`; the Map peers have neither bound nor expiry and look rows up with one `Map.get()` each, so they do less per hit: the ratio against them is what weir's cache layer costs on top of the bare minimum.",
    "- The cache namespace is weir's default `weir` (the service passes no namespace to `openCache()`), so the keys are `weir:world:<id>` (and, while a row loads, the lock `weir-lock:weir:world:<id>`, 5 s TTL) in the Redis database of `CACHE_URL`: another weir service with the default namespace on the same Redis would share, and lose, these keys. The runner deletes `weir:world:*` only, never FLUSHALL; tiered's invalidation channel is `weir-invalidate:weir`.",
    `- /cached-queries draws ${opts.count} random ids per request from 10,000, so after the warm-up nearly every key is present and the measured run is a test of the cache's read path (one getMany per request, rows deserialised per request), not of loading. The uncached baseline runs ${opts.count} PostgreSQL queries per request, so the ratio says how much of /queries' cost the cache takes away on this box, with PostgreSQL on the same two cores. The service also runs its welcome-email worker, which polls its (empty) SQLite queue every 100 ms.`,
    disturbed.length > 0 &&
      `- **Other load**: in ${disturbed.length} measured run(s) something besides the server, wrk, Redis and PostgreSQL took 15 % of a core or more: ${disturbed.join('; ')}. The median round keeps a single disturbed round out of the summary; the per-round ratios show it.`,
  ]);
  warningsCaveat(p, summary.warnings, {
    some: '- **The servers logged warnings or errors** (a cache that degrades to uncached loads says so)',
    none: '- No server logged a warning or an error (a Redis cache that became unavailable, and so ran its loaders uncached, would have).',
  });
  wrkCaveats(p, named);
  lines([
    '',
    `Raw wrk outputs (warm-ups included) and server logs are in \`${relative(BENCH_DIR, rawDir)}/\` (gitignored).`,
    '',
  ]);
  write(opts.out);
}

/**
 * The summary's part on the peers: every in-process server of the run (the weir servers on `memory:` and
 * the Map peers) with its req/s and peak RSS over each peer's, of the median rounds (and, in brackets, the
 * median of the per-round ratios), then whether each weir server meets the targets against node:http+Map:
 * req/s at least TARGET.rps times its, peak RSS at most TARGET.rss times its.
 */
function peersSection({ lines, table }, results) {
  const peers = PEERS.filter((s) => opts.servers.includes(s));
  if (peers.length === 0) return;
  const L = (s) => SERVERS[s].label;
  const inProcess = opts.servers.filter((s) => SERVERS[s].peer || SERVERS[s].cacheUrl === 'memory:');
  const weirs = inProcess.filter((s) => !SERVERS[s].peer);
  const med = (s) => medianRound(results.cached[s]);
  const paired = (s, peer) => pairedRatios(results.cached[s], results.cached[peer]);
  const rssRatio = (s, peer) => med(s).peakRssMiB / med(peer).peakRssMiB;
  lines([
    `### weir against a \`Map\``,
    '',
    `\`${pathOf('cached')}\` on the servers that keep the rows in the process: weir's reference service on \`CACHE_URL=memory:\` and the peers that hold them in a plain \`Map\` (the same pg calls on a miss; see Method). req/s and peak RSS over each peer's, of the median rounds, and in brackets the median of the per-round ratios.`,
    '',
  ]);
  table(
    [
      ['server', L, '---'],
      ['req/s', (s) => fmtInt(med(s).rps)],
      ...peers.map((peer) => [
        `req/s ÷ ${L(peer)}`,
        (s) => `${fmtRatio(med(s).rps / med(peer).rps)} (${fmtRatio(median(paired(s, peer)))})`,
      ]),
      ['peak RSS MiB', (s) => fmtMiB(med(s).peakRssMiB)],
      ...peers.map((peer) => [`peak RSS ÷ ${L(peer)}`, (s) => fmtRatio(rssRatio(s, peer))]),
    ],
    inProcess,
  );
  lines([
    '',
    weirs.length > 0 &&
      `Per-round ratios of req/s: ${weirs.flatMap((s) => peers.map((peer) => `${L(s)} ÷ ${L(peer)} ${fmtRatios(paired(s, peer))}`)).join('; ')}.`,
    '',
  ]);
  if (!peers.includes('node-map') || weirs.length === 0) return;
  const met = (ok) => (ok ? 'met' : '**not met**');
  lines([
    ...weirs.map((s) => {
      const r = med(s).rps / med('node-map').rps;
      const m = rssRatio(s, 'node-map');
      return `- ${L(s)}: req/s ${fmtRatio(r)} node:http+Map's (median of per-round ratios ${fmtRatio(median(paired(s, 'node-map')))}), target ≥ ${TARGET.rps}×: ${met(r >= TARGET.rps)}; peak RSS ${fmtMiB(med(s).peakRssMiB)} MiB, ${fmtRatio(m)} node:http+Map's, target ≤ ${TARGET.rss}×: ${Number.isFinite(m) ? met(m <= TARGET.rss) : 'n/a'}.`;
    }),
    '',
  ]);
}

/** The report's server command lines, for the servers of the run, after commandsRun()'s pinning. */
function serverCommands(pin) {
  const env = `PORT=${opts.port} HOST=${HOST} NODE_ENV=production DATABASE_URL=${pgUrl(opts.database)} DB_POOL=${opts.pool}`;
  const service = opts.servers.filter((s) => SERVERS[s].argv === SERVICE_ARGV);
  const commands = [
    service.length > 0 &&
      `node bench/.build/service/main.js   # ${env} CACHE_URL=<${service.map((s) => SERVERS[s].cacheUrl).join(' | ')}> QUEUE_URL=sqlite:<tmp>/queue.db`,
    opts.servers.includes('weir-start') &&
      `node scripts/start.mjs   # in the repo root; ${env} CACHE_URL=memory: QUEUE_URL=sqlite:<tmp>/queue.db`,
    ...PEERS.filter((s) => opts.servers.includes(s)).map(
      (s) => `node ${SERVERS[s].argv[0]}   # in bench/; ${env}`,
    ),
  ].filter(Boolean);
  // commandsRun() pins the first line; the others are pinned here.
  return commands.map((c, i) => (i === 0 ? c : `${pin.server.join(' ')} ${c}`.trim())).join('\n');
}

/** The share of Redis's keyspace lookups that hit, as `99.50 %`. */
const hitRate = ({ hits, misses }) =>
  hits + misses > 0 ? `${((hits / (hits + misses)) * 100).toFixed(2)} %` : 'n/a';

// ---------------------------------------------------------------------------------------------------- main

async function main() {
  if (flags.rerender !== undefined)
    return rerenderReport(runner, (summary) => {
      SERVERS = serversOf(opts);
      writeReport(summary);
    });
  cleanupOnExit(() => {
    redisClient?.disconnect();
    if (queueDir) rmSync(queueDir, { recursive: true, force: true });
  });
  const pin = pinning();
  buildService(runner);
  if (opts.servers.includes('weir-start')) await prepareNpmStart(runner);
  let redisVersion;
  try {
    redisVersion = /^redis_version:(\S+)/m.exec(await (await redis()).info('server'))?.[1];
  } catch (err) {
    fail(`cannot reach Redis at ${opts.redis}: ${err.message}`);
  }
  const postgres = await prepareServiceDatabase(runner, () => start(baselineOf(opts.servers), pin));
  const run = beginRun(runner, {
    facts: {
      ...machineFacts(),
      weir: 'compiled',
      pgRoot: versionOf(ROOT, 'pg'),
      pgBench: versionOf(BENCH_DIR, 'pg'),
      fastify: versionOf(BENCH_DIR, 'fastify'),
      ioredis: versionOf(ROOT, 'ioredis'),
      postgres,
      redis: redisVersion,
    },
    pin,
  });
  const runsPerRound = opts.servers.length + 1;
  const minutes = Math.ceil(
    (opts.rounds * (runsPerRound * (opts.warmup + opts.duration) + 5 * opts.servers.length)) / 60,
  );
  console.log(
    `bench:cache: ${opts.servers.join(', ')} × ${pathOf('cached')}, and ${pathOf('queries')} on ${baselineOf(opts.servers)}, × ${opts.rounds} round(s): about ${minutes} min`,
  );

  const results = {
    cached: Object.fromEntries(opts.servers.map((s) => [s, []])),
    queries: { [baselineOf(opts.servers)]: [] },
  };
  const warnings = {};
  const order = await runRounds(runner, run, {
    async beforeStart() {
      const removed = await unlinkWorldKeys();
      if (removed > 0) console.log(`bench:cache: unlinked ${fmtInt(removed)} ${WORLD_KEYS} keys`);
    },
    start: (server) => start(server, pin),
    check,
    routesOf,
    pathOf,
    moreCpu: MORE_CPU,
    // Redis's INFO stats over the measured run, and the World keys in Redis after it.
    counters: {
      key: 'redis',
      title: 'Redis',
      read: redisStats,
      change: async (server, before, after) => ({
        commands: after.commands - before.commands,
        hits: after.hits - before.hits,
        misses: after.misses - before.misses,
        keys: SERVERS[server].redis ? await scanWorldKeys() : undefined,
      }),
    },
    record(server, route, parsed) {
      (route === 'cached' ? results.cached : results.queries)[server].push(parsed);
      console.log(
        `bench:cache: round ${parsed.round} ${SERVERS[server].label.padEnd(16)} ${pathOf(route).padEnd(24)} ${fmtInt(parsed.rps).padStart(7)} req/s  p50 ${fmtMs(parsed.p50)} ms  p99 ${fmtMs(parsed.p99)} ms  server ${fmtPct(parsed.cpu.server)}  redis ${fmtPct(parsed.cpu.redis)}  postgres ${fmtPct(parsed.cpu.postgres)}  machine ${fmtPct(parsed.cpu.machine)}  peak RSS ${fmtMiB(parsed.peakRssMiB)} MiB${SERVERS[server].redis ? `  redis hits ${fmtInt(parsed.redis.hits)} misses ${fmtInt(parsed.redis.misses)} keys ${fmtInt(parsed.redis.keys)}` : ''}${parsed.socketErrors || parsed.non2xx ? `  (errors: ${parsed.socketErrorText} non-2xx ${parsed.non2xx})` : ''}`,
      );
    },
    afterStop(server, round, active) {
      writeFileSync(join(run.rawDir, `r${round}-${server}-server.log`), active.log.join(''));
      warnings[`${SERVERS[server].label} round ${round}`] = serverWarnings(active.log.join(''));
    },
  });
  try {
    const removed = await unlinkWorldKeys();
    console.log(`bench:cache: done; unlinked the ${fmtInt(removed)} ${WORLD_KEYS} keys left in Redis`);
  } catch (err) {
    fail(err instanceof Error ? err.message : String(err));
  }
  await redisClient?.quit();
  redisClient = undefined;
  finishRun(runner, run, { results, warnings, order }, writeReport);
}

await main();
