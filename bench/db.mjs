#!/usr/bin/env node
// The TechEmpower database tests: weir's reference service vs fastify and raw node:http on PostgreSQL (the
// same driver, pg, and the same SQL and logic: the framework is the difference), plus weir on SQLite.
//
//   node bench/db.mjs                     (about 17 minutes; writes bench/RESULTS-db.md)
//   node bench/db.mjs --duration 5 --rounds 1 --routes db,fortunes --servers weir,fastify --out /tmp/db.md
//   node bench/db.mjs --profile updates   (no benchmark: a CPU profile of the weir service on that route)
//
// Routes: /db, /queries?queries=20, /fortunes, /updates?queries=20. Servers: `weir` (the reference service,
// examples/service, compiled: see buildService() in lib/service.mjs; on PostgreSQL), `fastify`
// (servers/fastify-db.mjs), `node` (servers/node-db.mjs), `weir-sqlite` (the same service on a SQLite file in a temporary folder). Before any
// server starts, weir is built as a user deploys it: `npm run build` (dist/) and the service compiled by tsc
// into bench/.build/ (gitignored), run with plain `node`. Each one process pinned to core 0; wrk (one
// thread) pinned to core 1; PostgreSQL is not pinned and shares both cores. The database weir_bench_tfb is
// dropped and recreated first, and the weir service migrates (creates and seeds) it. Per server: start, check
// its answers, then per route a discarded warm-up and a measured run; rounds rotate the order. Traffic goes to
// 127.0.0.1 only.
//
// See bench/README.md.

import { mkdtempSync, rmSync } from 'node:fs';
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
  fmtMs,
  fmtPct,
  fmtRatio,
  fmtRatios,
  HOST,
  headerProblems,
  int,
  isWorld,
  list,
  machineAndCommand,
  machineFacts,
  markdown,
  maxCpu,
  measureWrk,
  median,
  medianRound,
  option,
  otherCpu,
  pairedRatios,
  parseWrk,
  pgQuery as pgQueryAt,
  pinning,
  prepareServiceDatabase,
  processTicks,
  profileServer,
  ROOT,
  rerenderReport,
  roundsOrder,
  runRounds,
  runsTable,
  SERVICE_ARGV,
  SERVICE_BUILD,
  serviceCommandLine,
  startTfbServer,
  statTicks,
  summarizeProfile,
  versionOf,
  worldsAnswer,
  worldsNotInTable,
  wrkCaveats,
  wrkCommand,
} from './lib.mjs';

// weir runs as compiled JavaScript under plain node, as in production (no tsx, no --conditions): see
// buildService() in lib/service.mjs.
const WEIR_ARGV = SERVICE_ARGV;
const SERVERS = {
  weir: { label: 'weir', argv: WEIR_ARGV, engine: 'postgres' },
  fastify: { label: 'fastify', argv: [join(BENCH_DIR, 'servers/fastify-db.mjs')], engine: 'postgres' },
  node: { label: 'node:http', argv: [join(BENCH_DIR, 'servers/node-db.mjs')], engine: 'postgres' },
  'weir-sqlite': { label: 'weir-sqlite', argv: WEIR_ARGV, engine: 'sqlite' },
};
const ALL_SERVERS = Object.keys(SERVERS);
const ALL_ROUTES = ['db', 'queries', 'fortunes', 'updates'];

// ---------------------------------------------------------------------------------------------- options

const runner = serviceCommandLine({
  script: 'db',
  servers: ALL_SERVERS,
  database: 'weir_bench_tfb',
  port: '3110',
  load: {
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
const pathOf = (route, queries = opts.queries) =>
  route === 'queries' || route === 'updates' ? `/${route}?queries=${queries}` : `/${route}`;

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

function start(server, pin, extraArgs = []) {
  return startTfbServer({
    label: SERVERS[server].label,
    argv: SERVERS[server].argv,
    pin,
    port: opts.port,
    env: { DATABASE_URL: databaseUrl(server), DB_POOL: String(opts.pool) },
    extraArgs,
  });
}

/** The fortunes page of the first server checked: every other one must send the same bytes. */
let referenceFortunes;

/**
 * Checks one server's answers on every route: headers, JSON shape and count (the `queries` rule included),
 * rows that match the table (PostgreSQL), updates that reach it, and the fortunes page, byte for byte the
 * same as the other servers'. Throws naming every problem.
 */
async function check(server) {
  const answers = answerChecks(SERVERS[server].label, opts.port);
  const on = (path) => (inspect) => answers.expect(path, inspect);
  const onPg = SERVERS[server].engine === 'postgres';
  const inTable = async (worlds) => (onPg ? worldsNotInTable(pgUrl(opts.database), worlds) : []);
  const worlds = (count) => worldsAnswer(count, inTable);

  if (opts.routes.includes('db'))
    for (let i = 0; i < 5; i++)
      await on('/db')(async (res) => {
        const found = headerProblems(res, /^application\/json/);
        const body = JSON.parse(res.body);
        if (!isWorld(body)) found.push('not { id, randomNumber } within 1…10000');
        else found.push(...(await inTable([body])));
        return found;
      });
  for (const route of ['queries', 'updates'].filter((r) => opts.routes.includes(r))) {
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
  if (opts.routes.includes('fortunes'))
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

// ------------------------------------------------------------------------------------------------- report

function writeReport(summary) {
  const { facts, results, order, pin, rawDir } = summary;
  // Runs from before weir was compiled for this bench (their summary.json has no facts.weir) ran it from
  // source through tsx: --rerender describes them as they ran.
  const compiled = facts.weir === 'compiled';
  const L = (s) => SERVERS[s].label;
  const has = (s) => opts.servers.includes(s);
  const med = (route, s) => medianRound(results[route][s]);
  const pairs = [
    ['weir', 'fastify'],
    ['weir', 'node'],
    ['weir-sqlite', 'weir'],
  ].filter(([a, b]) => has(a) && has(b));
  const perRound = (route, a, b) => pairedRatios(results[route][a], results[route][b]);
  const { p, table, lines, write } = markdown('bench:db');
  // CPU of everything else on the machine; a PostgreSQL figure below 0 means another client's backend exited
  // during the run.
  const other = (c) => otherCpu(c, ['postgres']);
  // Every measured run, [what ran, its result], route by route.
  const runs = opts.routes.flatMap((route) =>
    opts.servers.flatMap((s) => results[route][s].map((r) => [`${L(s)} ${pathOf(route)}`, r])),
  );
  const all = runs.map(([, r]) => r);
  // Called on the lower of two readings: the median rounds' ratio and the median per-round ratio.
  const verdict = (route) => {
    const r = med(route, 'weir').rps / med(route, 'fastify').rps;
    const rr = perRound(route, 'weir', 'fastify');
    const low = Math.min(r, median(rr));
    const call =
      low >= 1
        ? 'at or above fastify'
        : low >= 0.95
          ? 'within 5 % of fastify'
          : '**more than 5 % behind fastify**';
    return `\`${pathOf(route)}\`: weir is ${call} (${fmtRatio(r)} median rounds, ${fmtRatio(median(rr))} median per-round ratio; per round ${fmtRatios(rr)})`;
  };
  const disturbed = runs
    .filter(([, r]) => (other(r.cpu) ?? 0) >= 15 || (r.cpu?.postgres ?? 0) < 0)
    .map(
      ([what, r]) =>
        `${what} round ${r.round} (other ${fmtPct(other(r.cpu))}, PostgreSQL ${fmtPct(r.cpu.postgres)})`,
    );

  lines([
    '# weir database benchmark results (TechEmpower database tests)',
    '',
    'Generated by `bench/db.mjs`; do not edit by hand, re-run it. See `bench/README.md`.',
    '',
    '## Summary',
    '',
    `req/s of the median round per server (${opts.rounds} round(s), ${opts.duration} s measured each, wrk -c ${opts.connections}); ratios of those medians, and in brackets the median of the per-round ratios.`,
    '',
  ]);
  table(
    [
      ['route', (route) => `\`${pathOf(route)}\``, '---'],
      ...opts.servers.map((s) => [L(s), (route) => fmtInt(med(route, s).rps)]),
      ...pairs.map(([a, b]) => [
        `${L(a)} ÷ ${L(b)}`,
        (route) =>
          `${fmtRatio(med(route, a).rps / med(route, b).rps)} (${fmtRatio(median(perRound(route, a, b)))})`,
      ]),
    ],
    opts.routes,
  );
  p();
  if (has('weir') && has('fastify'))
    lines([`**Target weir ≥ fastify:** ${opts.routes.map(verdict).join('; ')}.`, '']);

  machineAndCommand(p, summary, {
    tools: [
      ['fastify', facts.fastify],
      [
        'pg (node-postgres)',
        `${facts.pg} (bench/node_modules, for fastify and node:http); ${facts.pgRoot} (root node_modules, for weir)`,
      ],
      ['PostgreSQL', `${facts.postgres} on 127.0.0.1:5432, not pinned (shares both cores)`],
      ['better-sqlite3', facts.sqlite],
    ],
    weir: compiled
      ? SERVICE_BUILD
      : 'the reference service from source: `node --conditions=weir-source --import tsx examples/service/main.ts`',
  });
  commandsRun(
    p,
    pin,
    opts,
    `node <server>   # PORT=${opts.port} HOST=${HOST} NODE_ENV=production DATABASE_URL=… DB_POOL=${opts.pool}`,
  );
  lines([
    '## Method',
    '',
    `- Servers: **weir** = the reference service, examples/service/main.ts (${compiled ? 'compiled by tsc, run with plain `node`' : 'from source, through tsx'}; its own \`techempower.ts\` routes, weir's \`pg\` pool of ${opts.pool} with named prepared statements) on PostgreSQL; **fastify** = \`servers/fastify-db.mjs\` (fastify ${facts.fastify}, logger off, no schemas) and **node:http** = \`servers/node-db.mjs\` (a bare \`createServer\` listener), both running the same SQL and logic from \`servers/tfb.mjs\` (a \`pg.Pool\` with weir's settings, max ${opts.pool}, named prepared statements, \`Promise.all\` for concurrent reads, one \`UPDATE … FROM unnest()\` per /updates with sorted, deduplicated ids); **weir-sqlite** = the weir service on a SQLite file (better-sqlite3, synchronous, in a temporary folder).`,
    `- The database \`${opts.database}\` is dropped, recreated and migrated by the weir service before the run (10,000 world rows, 12 fortunes). Before each server starts, \`VACUUM ANALYZE world\` clears the dead rows the previous server's /updates left.`,
    `- Each server is **one Node process** ${pin.pinned ? 'pinned to **core 0**' : '(unpinned)'}; the load generator is **wrk, one thread, ${opts.connections} connections**, ${pin.pinned ? 'pinned to **core 1**' : 'unpinned'}; **PostgreSQL is not pinned** and its backends run on both cores.`,
    `- Per server: start it, **check its answers** (status, content type, \`Server\`/\`Date\`/\`Content-Length\`; JSON shape and row count for /queries and /updates, with N = ${opts.queries}, 1, 0, foo, empty, 501 and none; on PostgreSQL the rows returned by /db and /queries match the table and the rows /updates returns are in the table afterwards; the fortunes page byte for byte identical across servers), then per route a **${opts.warmup} s warm-up** (discarded) and a **${opts.duration} s measured run**; then stop it (SIGTERM by PID). A fresh process per server and round.`,
    `- **${opts.rounds} round(s)**, the server order rotated every round (${roundsOrder(order, L)}). Reported: the median round by req/s with its p50/p99 (wrk \`--latency\`), and CPU from /proc over the measured run: the server process, all PostgreSQL processes, and the whole machine (of ${facts.nproc * 100} %).`,
    '',
  ]);

  const errors = ({ socketErrors: e, non2xx: n }) => (e || n ? `${e} socket, ${n} non-2xx` : '0');
  const ratioCols = [
    ['fastify', 'fastify'],
    ['node', 'node:http'],
  ].filter(([s]) => has(s));
  for (const route of opts.routes) {
    lines([`## \`${pathOf(route)}\``, '']);
    table(
      [
        ['server', (s) => L(s), '---'],
        ['req/s', (s) => fmtInt(med(route, s).rps)],
        ['p50 ms', (s) => fmtMs(med(route, s).p50)],
        ['p99 ms', (s) => fmtMs(med(route, s).p99)],
        ['server CPU', (s) => fmtPct(med(route, s).cpu?.server)],
        ['PostgreSQL CPU', (s) => fmtPct(med(route, s).cpu?.postgres)],
        ['machine CPU', (s) => fmtPct(med(route, s).cpu?.machine)],
        ['errors', (s) => errors(med(route, s))],
        ...ratioCols.map(([o, l]) => [`÷ ${l}`, (s) => fmtRatio(med(route, s).rps / med(route, o).rps)]),
      ],
      opts.servers,
    );
    p();
    if (pairs.length > 0)
      lines([
        `Per-round ratios of req/s: ${pairs.map(([a, b]) => `${L(a)} ÷ ${L(b)} ${fmtRatios(perRound(route, a, b))}`).join('; ')}.`,
        '',
      ]);
    lines(['<details><summary>every round</summary>', '']);
    runsTable(
      table,
      { lead: ['server'], processes: [['PostgreSQL CPU', 'postgres']], other },
      opts.servers.flatMap((s) => results[route][s].map((r) => [[L(s)], r])),
    );
    lines(['', '</details>', '']);
  }

  lines([
    '## Caveats',
    '',
    `- **PostgreSQL shares the ${facts.nproc} cores with the server and wrk.** The server has core 0 and wrk core 1 to themselves only as far as taskset goes: PostgreSQL's backends run wherever the kernel puts them, so a server that makes PostgreSQL work harder (or is itself busier) takes CPU from everyone. The whole machine was up to ${fmtPct(maxCpu(all, 'machine'))} of ${facts.nproc * 100} % busy, PostgreSQL up to ${fmtPct(maxCpu(all, 'postgres'))} of one core: with the database on the same two cores, a faster server also leaves PostgreSQL less CPU, which flattens the differences between servers. These numbers rank the stacks on this box; they are not TechEmpower's, which run the database on its own machine.`,
    compiled
      ? "- weir is the whole reference service (every route of examples/service registered, not only these four, and whatever it opens at start besides the database), compiled by tsc and run with plain `node`, as fastify's and node:http's .mjs files are; those two have the four routes only. weir's TechEmpower routes (examples/service/techempower.ts) run the same SQL on a pool with the same settings, through weir's database layer: each query a tagged template (`db.one`, `db.query`, `db.exec`) turned once per call site into a named prepared statement, run on pg's callback API without a cancellation signal (these point lookups are not cancelled one by one; POST /db is the route that shows cancellation), `one()` checking it got exactly one row, a failed query translated into weir's typed errors; /queries and /updates fan out with `gather()` (no limit) instead of `Promise.all`; the handlers return values that weir serialises (JSON, or `html()` for /fortunes). That is part of the framework cost under test."
      : "- weir is the whole reference service, run from source through tsx's loader (TypeScript compiled by esbuild once, at load; its `keepNames` helper `__name()` still runs each time a closure is created, about 2 % of the CPU on /queries, which a `tsc` build in dist/ would not pay); fastify and node:http are .mjs files with the four routes only. weir's routes also do what the others do not: a cancellation signal on every /queries and /updates query (`db.with(ctx)`), `gather()` instead of `Promise.all`, weir's typed-error mapping around each query. That is part of the framework cost under test.",
    '- fastify sends `application/json; charset=utf-8` (its default, as in servers/fastify.mjs); weir and node:http send `application/json`. The `Date` header is a once-a-second cached string everywhere.',
    '- /updates writes to the same 10,000 rows from up to 64 requests at once; sorted ids keep concurrent updates from deadlocking. Dead rows accumulate during a run (VACUUM runs between servers), so /updates drifts a little within a run; rotation spreads that evenly.',
    disturbed.length > 0 &&
      `- **Other load**: in ${disturbed.length} measured run(s) something besides the server, wrk and PostgreSQL took 15 % of a core or more, or other PostgreSQL clients came and went (a negative PostgreSQL figure): ${disturbed.join('; ')}. The median round keeps a single disturbed round out of the tables; the per-round ratios show it.`,
  ]);
  wrkCaveats(p, runs);
  lines([
    '',
    `Raw wrk outputs (warm-ups included) are in \`${relative(BENCH_DIR, rawDir)}/\` (gitignored).`,
    '',
  ]);
  write(opts.out);
}

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
  // weir's own code: its build in dist/ (same function names as src/) and the compiled service.
  const own = (url) => url.startsWith('dist/') || url.startsWith('bench/.build/');
  console.log(summarizeProfile(file, { top: opts.top, own }));
}

async function main() {
  if (flags.rerender !== undefined) return rerenderReport(runner, writeReport);
  cleanupOnExit(() => {
    if (sqliteDir) rmSync(sqliteDir, { recursive: true, force: true });
  });
  const pin = pinning();
  buildService(runner);
  if (flags.profile !== undefined) return profile(flags.profile, pin);
  const postgres = await prepareDatabases(pin);
  const run = beginRun(runner, {
    facts: {
      ...machineFacts(),
      weir: 'compiled',
      fastify: versionOf(BENCH_DIR, 'fastify'),
      pg: versionOf(BENCH_DIR, 'pg'),
      pgRoot: versionOf(ROOT, 'pg'),
      sqlite: versionOf(ROOT, 'better-sqlite3'),
      postgres,
    },
    pin,
  });
  const minutes = Math.ceil(
    (opts.rounds * opts.servers.length * (opts.routes.length * (opts.warmup + opts.duration) + 5)) / 60,
  );
  console.log(
    `bench:db: ${opts.servers.join(', ')} × ${opts.routes.map((r) => pathOf(r)).join(', ')} × ${opts.rounds} round(s): about ${minutes} min`,
  );

  const results = Object.fromEntries(
    opts.routes.map((r) => [r, Object.fromEntries(opts.servers.map((s) => [s, []]))]),
  );
  const order = await runRounds(runner, run, {
    beforeStart: () => pgQuery(opts.database, 'VACUUM ANALYZE world'),
    start: (server) => start(server, pin),
    check,
    routesOf: () => opts.routes,
    pathOf,
    moreCpu: MORE_CPU,
    record(server, route, parsed) {
      results[route][server].push(parsed);
      console.log(
        `bench:db: round ${parsed.round} ${SERVERS[server].label.padEnd(11)} ${pathOf(route).padEnd(21)} ${fmtInt(parsed.rps).padStart(7)} req/s  p50 ${fmtMs(parsed.p50)} ms  p99 ${fmtMs(parsed.p99)} ms  server ${fmtPct(parsed.cpu.server)}  postgres ${fmtPct(parsed.cpu.postgres)}  machine ${fmtPct(parsed.cpu.machine)}${parsed.socketErrors || parsed.non2xx ? `  (errors: ${parsed.socketErrorText} non-2xx ${parsed.non2xx})` : ''}`,
      );
    },
  });
  finishRun(runner, run, { results, order }, writeReport);
}

await main();
