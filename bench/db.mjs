#!/usr/bin/env node
// The TechEmpower database tests: weir's reference service against fastify and raw node:http on PostgreSQL,
// every one of them making the same driver calls per query (pg, as weir's PostgreSQL layer sends them), so
// that the framework is the difference; the same peers on pg's pool.query() for comparison; weir as `npm
// start` runs it, weir with request cancellation on, weir on SQLite, and an experiment: the queries of a
// request pipelined on one connection (postgres.js).
//
//   node bench/db.mjs                     (about 65 minutes; writes bench/RESULTS-db.md)
//   node bench/db.mjs --duration 5 --rounds 1 --routes db,fortunes --servers weir,fastify --out /tmp/db.md
//   node bench/db.mjs --profile updates   (no benchmark: a CPU profile of the weir service on that route)
//
// Routes: /db, /queries?queries=20, /fortunes, /updates?queries=20. Servers: see db/servers.mjs (what each
// one is and its query path: the driver calls of each query). Before any server starts, weir is built as a
// user deploys it: `npm run build` (dist/) and the service compiled by tsc into bench/.build/ (gitignored),
// run with plain `node`; and once as `npm start` builds it (.build/service/<hash>/). Each server one process
// pinned to core 0; wrk (one thread) pinned to core 1; PostgreSQL is not pinned and shares both cores. The
// database weir_bench_tfb is dropped and recreated first, and the weir service migrates (creates and seeds)
// it. Per server: start, check its answers, then per route a discarded warm-up and a measured run, and its
// peak RSS (VmHWM) read at the end of each; rounds (5 by default) rotate the order; ratios between servers
// are medians of per-round ratios with a seeded bootstrap interval (db/report.mjs). Traffic goes to 127.0.0.1
// only.
//
// See bench/README.md.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { pathToFileURL } from 'node:url';
import { pathOfRoute, writeReport } from './db/report.mjs';
import { ALL_ROUTES, ALL_SERVERS, routesOfServer, SERVERS } from './db/servers.mjs';
import {
  answerChecks,
  BENCH_DIR,
  beginRun,
  buildService,
  cleanupOnExit,
  finishRun,
  fmtInt,
  fmtMs,
  fmtPct,
  headerProblems,
  int,
  isWorld,
  list,
  machineFacts,
  measureWrk,
  option,
  parseWrk,
  peakRssMb,
  pgQuery as pgQueryAt,
  pinning,
  prepareServiceDatabase,
  processTicks,
  profileServer,
  ROOT,
  rerenderReport,
  runRounds,
  serviceCommandLine,
  startTfbServer,
  statTicks,
  summarizeProfile,
  versionOf,
  worldsAnswer,
  worldsNotInTable,
  wrkCommand,
} from './lib.mjs';

// ---------------------------------------------------------------------------------------------- options

const runner = serviceCommandLine({
  script: 'db',
  servers: ALL_SERVERS,
  database: 'weir_bench_tfb',
  port: '3110',
  load: {
    // Overrides the runners' default of 3 rounds: the bootstrap interval of a median needs at least 5.
    rounds: option('<n>', 'rounds; ratios are medians of per-round ones', '5', int(1, 20)),
    queries: option('<n>', 'N of /queries and /updates', '20', int(2, 500)),
    routes: option('<list>', `comma list of ${ALL_ROUTES.join(',')}`, undefined, list(ALL_ROUTES), {
      shown: 'all',
    }),
  },
  modes: {
    profile: option(
      '<route>',
      'no run: CPU profile of the weir service (PostgreSQL) on that route (--warmup, --duration)',
    ),
    top: option('<n>', 'functions listed by --profile', '25', int(1, 1000)),
  },
});
const { flags, opts, fail } = runner;

/** The request path of a route. */
const pathOf = (route, queries = opts.queries) => pathOfRoute(route, queries);

/** The routes of --routes that `server` runs. */
const routesOf = (server) => routesOfServer(server, opts.routes);

if (flags.rerender === undefined) {
  const idle = opts.servers.filter((s) => routesOf(s).length === 0);
  if (idle.length > 0) {
    console.log(`bench:db: ${idle.join(', ')} answer none of --routes: left out`);
    opts.servers = opts.servers.filter((s) => !idle.includes(s));
  }
  // The reference service reads no pool size: it opens weir's default of 16 connections.
  const service = opts.servers.filter((s) => SERVERS[s].service);
  if (opts.pool !== 16 && service.length > 0)
    fail(
      `--pool ${opts.pool}: ${service.join(', ')} always open(s) 16 connections; leave them out or keep 16`,
    );
}

// ----------------------------------------------------------------------------------------------- databases

const pgUrl = (database) => `${opts.pg}/${database}`;

const pgQuery = (database, text, values) => pgQueryAt(pgUrl(database), text, values);

/** The DATABASE_URL of a server: PostgreSQL, or the SQLite file (in a folder removed at exit). */
let sqliteDir;
function databaseUrl(server) {
  if (SERVERS[server].engine === 'postgres') return pgUrl(opts.database);
  sqliteDir ??= mkdtempSync(join(tmpdir(), 'weir-bench-tfb-'));
  return `sqlite:${join(sqliteDir, 'tfb.db')}`;
}

/** CPU ticks of every PostgreSQL process (postmaster and backends) and of the whole machine, from /proc. */
const MORE_CPU = { postgres: () => processTicks('postgres'), machine: () => statTicks('cpu')?.busy };

// ------------------------------------------------------------------------------------------------ servers

/** The server process being measured, whose peak RSS record() reads. */
let current;

async function start(server, pin, extraArgs = []) {
  const { label, argv, env, cwd } = SERVERS[server];
  current = await startTfbServer({
    label,
    argv,
    pin,
    port: opts.port,
    env: { DATABASE_URL: databaseUrl(server), DB_POOL: String(opts.pool), ...env },
    extraArgs,
    cwd,
  });
  return current;
}

/** The fortunes page of the first server checked: every other one must send the same bytes. */
let referenceFortunes;

/** The ids of `worlds` answered with two different numbers. */
function twice(worlds) {
  const seen = new Map();
  const found = [];
  for (const w of worlds) {
    if (seen.has(w.id) && seen.get(w.id) !== w.randomNumber)
      found.push(`id ${w.id} answered with ${seen.get(w.id)} and ${w.randomNumber}`);
    seen.set(w.id, w.randomNumber);
  }
  return found;
}

/**
 * Checks one server's answers on every route it runs: headers, JSON shape and count (the `queries` rule included),
 * rows that match the table (PostgreSQL), updates that reach it, one number per id, and the fortunes page,
 * byte for byte the same as the other servers'. Throws naming every problem.
 */
async function check(server) {
  const answers = answerChecks(SERVERS[server].label, opts.port);
  const on = (path) => (inspect) => answers.expect(path, inspect);
  const onPg = SERVERS[server].engine === 'postgres';
  // An id answered twice must carry one number (the table's, on PostgreSQL).
  const inTable = async (worlds) => [
    ...twice(worlds),
    ...(onPg ? await worldsNotInTable(pgUrl(opts.database), worlds) : []),
  ];
  const worlds = (count) => worldsAnswer(count, inTable);

  const routes = routesOf(server);
  if (routes.includes('db'))
    for (let i = 0; i < 5; i++)
      await on('/db')(async (res) => {
        const found = headerProblems(res, /^application\/json/);
        const body = JSON.parse(res.body);
        if (!isWorld(body)) found.push('not { id, randomNumber } within 1…10000');
        else found.push(...(await inTable([body])));
        return found;
      });
  for (const route of ['queries', 'updates'].filter((r) => routes.includes(r))) {
    await on(pathOf(route))(worlds(opts.queries));
    for (const [value, count] of [
      ['1', 1],
      ['0', 1],
      ['foo', 1],
      ['', 1],
      ['501', 500],
    ])
      await on(pathOf(route, value))(worlds(count));
    await on(`/${route}`)(worlds(1));
  }
  if (routes.includes('fortunes'))
    await on('/fortunes')((res) => {
      const found = headerProblems(res, /^text\/html; charset=utf-8$/);
      const rows = res.body.match(/<tr><td>/g)?.length ?? 0;
      if (rows !== 13) found.push(`${rows} fortunes, not 13`);
      if (!res.body.includes('<td>11</td><td>&lt;script&gt;alert(&quot;This should not be displayed'))
        found.push('fortune 11 not escaped');
      if (!res.body.includes('フレームワークのベンチマーク')) found.push('fortune 12 garbled');
      referenceFortunes ??= { server, body: res.body };
      if (res.body !== referenceFortunes.body)
        found.push(`the page differs from ${SERVERS[referenceFortunes.server].label}'s`);
      return found;
    });
  answers.done();
}

/** Recreates the database, which the weir service then migrates (creates and seeds): see lib/service.mjs. */
const prepareDatabases = (pin) => prepareServiceDatabase(runner, () => start('weir', pin));

const wrkArgs = (pin, route, seconds) => wrkCommand(pin, opts, seconds, pathOf(route));

// ---------------------------------------------------------------------------------------------------- main

async function profile(route, pin) {
  if (!ALL_ROUTES.includes(route)) fail(`--profile: unknown route "${route}" (${ALL_ROUTES.join(', ')})`);
  const server = flags.servers === undefined ? 'weir' : opts.servers[0];
  if (SERVERS[server].engine === 'postgres') await prepareDatabases(pin);
  const load = async () => {
    await check(server);
    if (opts.warmup > 0) await measureWrk(wrkArgs(pin, route, opts.warmup), opts.warmup);
    return parseWrk((await measureWrk(wrkArgs(pin, route, opts.duration), opts.duration)).text).rps;
  };
  const { file, rps, log } = await profileServer((nodeArgs) => start(server, pin, nodeArgs), load).catch(
    (err) => fail(err.message),
  );
  if (log) console.log(`${SERVERS[server].label}'s output:\n${log.slice(-2000)}`);
  console.log(`\n${SERVERS[server].label} ${pathOf(route)}: ${fmtInt(rps)} req/s under the profiler`);
  // weir's own code: its build in dist/ (same function names as src/) and the compiled service (bench's
  // build, or npm start's).
  const own = (url) =>
    url.startsWith('dist/') || url.startsWith('bench/.build/') || url.startsWith('.build/');
  console.log(summarizeProfile(file, { top: opts.top, own }));
}

/**
 * Builds the reference service as `npm start` does (scripts/service-build.mjs, into .build/service/<hash>/)
 * once, so that every measured start of weir-start reuses the build, as a user's restarts do. dist/ was just
 * built. Resolves to the build's main.js, relative to the repo root.
 */
async function buildForStart() {
  const { ensureServiceBuild } = await import(pathToFileURL(join(ROOT, 'scripts', 'service-build.mjs')).href);
  const main = await ensureServiceBuild({
    root: ROOT,
    buildWeir: () => fail('dist/ is older than src/ right after `npm run build`'),
  });
  console.log(`bench:db: \`npm start\`'s build of the service: ${relative(ROOT, main)}`);
  return relative(ROOT, main);
}

async function main() {
  if (flags.rerender !== undefined) return rerenderReport(runner, writeReport);
  cleanupOnExit(() => {
    if (sqliteDir) rmSync(sqliteDir, { recursive: true, force: true });
  });
  const pin = pinning();
  buildService(runner);
  const startMain = opts.servers.includes('weir-start') ? await buildForStart() : undefined;
  if (flags.profile !== undefined) return profile(flags.profile, pin);
  const postgres = await prepareDatabases(pin);
  const run = beginRun(runner, {
    facts: {
      ...machineFacts(),
      weir: 'compiled',
      // The peers' query path when no DB_PATH is given: see servers/tfb.mjs.
      peerPath: 'weir',
      startMain,
      fastify: versionOf(BENCH_DIR, 'fastify'),
      pg: versionOf(BENCH_DIR, 'pg'),
      pgRoot: versionOf(ROOT, 'pg'),
      postgresjs: versionOf(BENCH_DIR, 'postgres'),
      sqlite: versionOf(ROOT, 'better-sqlite3'),
      postgres,
    },
    pin,
  });
  const perRound = opts.servers.reduce(
    (sum, s) => sum + routesOf(s).length * (opts.warmup + opts.duration) + 5,
    0,
  );
  console.log(
    `bench:db: ${opts.servers.join(', ')} × ${opts.routes.map((r) => pathOf(r)).join(', ')} × ${opts.rounds} round(s): about ${Math.ceil((opts.rounds * perRound) / 60)} min`,
  );

  const results = Object.fromEntries(
    opts.routes.map((r) => [r, Object.fromEntries(opts.servers.map((s) => [s, []]))]),
  );
  const order = await runRounds(runner, run, {
    beforeStart: () => pgQuery(opts.database, 'VACUUM ANALYZE world'),
    start: (server) => start(server, pin),
    check,
    routesOf,
    pathOf,
    moreCpu: MORE_CPU,
    record(server, route, parsed) {
      // Read while the server still runs, right after its measured run.
      parsed.peakRssMb = peakRssMb(current.child.pid);
      results[route][server].push(parsed);
      console.log(
        `bench:db: round ${parsed.round} ${SERVERS[server].label.padEnd(20)} ${pathOf(route).padEnd(21)} ${fmtInt(parsed.rps).padStart(7)} req/s  p50 ${fmtMs(parsed.p50)} ms  p99 ${fmtMs(parsed.p99)} ms  server ${fmtPct(parsed.cpu.server)}  postgres ${fmtPct(parsed.cpu.postgres)}  machine ${fmtPct(parsed.cpu.machine)}  peak RSS ${parsed.peakRssMb?.toFixed(1) ?? 'n/a'} MB${parsed.socketErrors || parsed.non2xx ? `  (errors: ${parsed.socketErrorText} non-2xx ${parsed.non2xx})` : ''}`,
      );
    },
  });
  finishRun(runner, run, { results, order }, writeReport);
}

await main();
