#!/usr/bin/env node
// The TechEmpower database tests: weir's reference service vs fastify and raw node:http on PostgreSQL (the
// same driver, pg, and the same SQL and logic: the framework is the difference), plus weir on SQLite.
//
//   node bench/db.mjs                     (about 17 minutes; writes bench/RESULTS-db.md)
//   node bench/db.mjs --duration 5 --rounds 1 --routes db,fortunes --servers weir,fastify --out /tmp/db.md
//   node bench/db.mjs --profile updates   (no benchmark: a CPU profile of the weir service on that route)
//
// Routes: /db, /queries?queries=20, /fortunes, /updates?queries=20. Servers: `weir` (the reference service,
// examples/service, compiled: see buildWeir(); on PostgreSQL), `fastify` (servers/fastify-db.mjs), `node`
// (servers/node-db.mjs), `weir-sqlite` (the same service on a SQLite file in a temporary folder). Before any
// server starts, weir is built as a user deploys it: `npm run build` (dist/) and the service compiled by tsc
// into bench/.build/ (gitignored), run with plain `node`. Each one process pinned to core 0; wrk (one
// thread) pinned to core 1; PostgreSQL is not pinned and shares both cores. The database weir_bench_tfb is
// dropped and recreated first, and the weir service migrates (creates and seeds) it. Per server: start, check
// its answers, then per route a discarded warm-up and a measured run; rounds rotate the order. Traffic goes to
// 127.0.0.1 only.
//
// See bench/README.md.

import { spawnSync } from 'node:child_process';
import {
  cpSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import pg from 'pg';
import {
  BENCH_DIR,
  cleanupOnExit,
  fmtInt,
  fmtMs,
  fmtPct,
  fmtRatio,
  get,
  HOST,
  have,
  invocation,
  killLive,
  machineAndCommand,
  machineFacts,
  markdown,
  measureWrk,
  median,
  medianRound,
  parseWrk,
  pinning,
  ROOT,
  readSummary,
  rotation,
  startServer,
  statTicks,
  stopServer,
  summarizeProfile,
  ticks,
} from './lib.mjs';

// weir runs as compiled JavaScript under plain node, as in production (no tsx, no --conditions): see buildWeir().
const BUILD_DIR = join(BENCH_DIR, '.build');
const SERVICE_DIR = join(BUILD_DIR, 'service');
const WEIR_ARGV = [join(SERVICE_DIR, 'main.js')];
const SERVERS = {
  weir: { label: 'weir', argv: WEIR_ARGV, engine: 'postgres' },
  fastify: { label: 'fastify', argv: [join(BENCH_DIR, 'servers/fastify-db.mjs')], engine: 'postgres' },
  node: { label: 'node:http', argv: [join(BENCH_DIR, 'servers/node-db.mjs')], engine: 'postgres' },
  'weir-sqlite': { label: 'weir-sqlite', argv: WEIR_ARGV, engine: 'sqlite' },
};
const ALL_SERVERS = Object.keys(SERVERS);
const ALL_ROUTES = ['db', 'queries', 'fortunes', 'updates'];
const WORLD_SIZE = 10_000;

// ---------------------------------------------------------------------------------------------- options

const HELP = `Usage: node bench/db.mjs [options]

  --duration <s>      measured run per server/route, seconds         default 15
  --warmup <s>        discarded warm-up before it (0 = none)         default 5
  --connections <n>   wrk connections (-c)                           default 64
  --rounds <n>        rounds; the median round is reported           default 3
  --queries <n>       N of /queries and /updates                     default 20
  --routes <list>     comma list of ${ALL_ROUTES.join(',')}      default all
  --servers <list>    comma list of ${ALL_SERVERS.join(',')}  default all
  --pool <n>          PostgreSQL connections per server (DB_POOL)    default 16 (weir's default)
  --pg <url>          PostgreSQL server, without a database          default postgres://postgres@127.0.0.1:5432
  --database <name>   database, dropped and recreated                default weir_bench_tfb
  --port <n>          port the servers listen on (127.0.0.1)         default 3110
  --out <file>        the report                                     default bench/RESULTS-db.md
  --rerender <file>   no run: rewrite the report from a run's results/raw/db-<timestamp>/summary.json
  --profile <route>   no run: CPU profile of the weir service (PostgreSQL) on that route (--warmup, --duration)
  --top <n>           functions listed by --profile                  default 25
  -h, --help
`;

const { values: flags } = parseArgs({
  options: {
    duration: { type: 'string', default: '15' },
    warmup: { type: 'string', default: '5' },
    connections: { type: 'string', default: '64' },
    rounds: { type: 'string', default: '3' },
    queries: { type: 'string', default: '20' },
    routes: { type: 'string' },
    servers: { type: 'string' },
    pool: { type: 'string', default: '16' },
    pg: { type: 'string', default: 'postgres://postgres@127.0.0.1:5432' },
    database: { type: 'string', default: 'weir_bench_tfb' },
    port: { type: 'string', default: '3110' },
    out: { type: 'string', default: join(BENCH_DIR, 'RESULTS-db.md') },
    rerender: { type: 'string' },
    profile: { type: 'string' },
    top: { type: 'string', default: '25' },
    help: { type: 'boolean', short: 'h' },
  },
  strict: true,
});
if (flags.help) {
  process.stdout.write(HELP);
  process.exit(0);
}

function fail(message) {
  console.error(`bench:db: ${message}`);
  process.exit(1);
}

function int(name, min, max) {
  const n = Number(flags[name]);
  if (!Number.isInteger(n) || n < min || n > max) fail(`--${name} must be an integer from ${min} to ${max}`);
  return n;
}

function list(name, all) {
  if (flags[name] === undefined) return [...all];
  const picked = flags[name].split(',').map((s) => s.trim());
  for (const item of picked) if (!all.includes(item)) fail(`unknown ${name} "${item}" (${all.join(', ')})`);
  return all.filter((item) => picked.includes(item));
}

const opts = {
  duration: int('duration', 1, 600),
  warmup: int('warmup', 0, 600),
  connections: int('connections', 1, 10_000),
  rounds: int('rounds', 1, 20),
  queries: int('queries', 2, 500),
  routes: list('routes', ALL_ROUTES),
  servers: list('servers', ALL_SERVERS),
  pool: int('pool', 1, 1000),
  pg: flags.pg.replace(/\/+$/, ''),
  database: flags.database,
  port: int('port', 1024, 65535),
  out: flags.out,
};
if (!/^[a-z_][a-z0-9_]*$/.test(opts.database)) fail('--database must be a plain lower-case identifier');
if (!/^postgres(ql)?:\/\/[^/]*(127\.0\.0\.1|localhost)(:\d+)?$/.test(opts.pg))
  fail('--pg must be a postgres:// URL on 127.0.0.1 or localhost, without a database');

/** The request path of a route. */
const pathOf = (route, queries = opts.queries) =>
  route === 'queries' || route === 'updates' ? `/${route}?queries=${queries}` : `/${route}`;

// ----------------------------------------------------------------------------------------------- databases

const pgUrl = (database) => `${opts.pg}/${database}`;

async function pgQuery(database, text, values) {
  const client = new pg.Client({ connectionString: pgUrl(database) });
  await client.connect();
  try {
    return await client.query(text, values);
  } finally {
    await client.end();
  }
}

/** The DATABASE_URL of a server: PostgreSQL, or the SQLite file (in a folder removed at exit). */
let sqliteDir;
function databaseUrl(server) {
  if (SERVERS[server].engine === 'postgres') return pgUrl(opts.database);
  sqliteDir ??= mkdtempSync(join(tmpdir(), 'weir-bench-tfb-'));
  return `sqlite:${join(sqliteDir, 'tfb.db')}`;
}

/** CPU ticks of every PostgreSQL process (postmaster and backends), from /proc. */
function postgresTicks() {
  let sum = 0;
  for (const pid of readdirSync('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      if (stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')')) === 'postgres')
        sum += ticks(`/proc/${pid}/stat`) ?? 0;
    } catch {
      // gone
    }
  }
  return sum;
}

const MORE_CPU = { postgres: postgresTicks, machine: () => statTicks('cpu')?.busy };

// ------------------------------------------------------------------------------------------------ build

function runStep(command, args) {
  const shown = [command, ...args].map((a) => (a.startsWith('/') ? relative(ROOT, a) : a)).join(' ');
  console.log(`bench:db: $ ${shown}`);
  const result = spawnSync(command, args, { cwd: ROOT, stdio: 'inherit' });
  if (result.status !== 0) fail(`\`${shown}\` failed (${result.status ?? result.signal})`);
}

/**
 * Builds weir as a user deploys it: weir itself with `npm run build` (tsc -p tsconfig.build.json → dist/),
 * and the reference service (examples/service) compiled by tsc into bench/.build/service/ with the root
 * tsconfig's options (`./app.ts` imports become `./app.js`) but without the `weir-source` condition. Its
 * `import 'weir'` and `'weir/db'` must reach dist/: bench/ is a package of its own (bench/package.json,
 * "weir-bench"), so weir's self-reference does not work from there; bench/.build/node_modules/weir links to
 * the repo root instead, as `npm install` of a local weir would, and Node resolves it to dist/ through the
 * package's exports. The migrations and static files the service finds next to its modules
 * (database.ts's MIGRATIONS_DIR, app.ts's public/) are copied beside the compiled files. Checked here:
 * every weir entry point the compiled service imports (`weir`, `weir/db`, …) resolves to dist/.
 */
function buildWeir() {
  runStep('npm', ['run', 'build', '--silent']);
  rmSync(BUILD_DIR, { recursive: true, force: true });
  mkdirSync(join(BUILD_DIR, 'node_modules'), { recursive: true });
  const json = (file, value) => writeFileSync(join(BUILD_DIR, file), `${JSON.stringify(value, null, 2)}\n`);
  json('package.json', { private: true, type: 'module' });
  json('tsconfig.json', {
    extends: '../../tsconfig.json',
    compilerOptions: {
      noEmit: false,
      rootDir: '../../examples/service',
      outDir: 'service',
      customConditions: [],
      declaration: false,
    },
    include: ['../../examples/service'],
  });
  symlinkSync(
    relative(join(BUILD_DIR, 'node_modules'), ROOT),
    join(BUILD_DIR, 'node_modules', 'weir'),
    'dir',
  );
  runStep(join(ROOT, 'node_modules', '.bin', 'tsc'), ['-p', join(BUILD_DIR, 'tsconfig.json')]);
  for (const dir of ['migrations', 'public'])
    cpSync(join(ROOT, 'examples', 'service', dir), join(SERVICE_DIR, dir), { recursive: true });
  // Every weir entry point the compiled service imports (`weir`, `weir/db`, …) must reach dist/, by Node's
  // own ESM resolver from a module in the service's folder, with no --conditions, as the server runs.
  const specifiers = new Set(['weir', 'weir/db']);
  for (const file of readdirSync(SERVICE_DIR).filter((f) => f.endsWith('.js')))
    for (const m of readFileSync(join(SERVICE_DIR, file), 'utf8').matchAll(
      /from\s*['"](weir(?:\/[\w-]+)*)['"]/g,
    ))
      specifiers.add(m[1]);
  const resolved = spawnSync(
    process.execPath,
    [
      '--input-type=module',
      '-e',
      `console.log(JSON.stringify(${JSON.stringify([...specifiers])}.map((s) => import.meta.resolve(s))))`,
    ],
    { cwd: SERVICE_DIR, encoding: 'utf8' },
  );
  let found;
  try {
    found = JSON.parse(resolved.stdout).map((url) => relative(ROOT, fileURLToPath(url)));
  } catch {
    fail(
      `cannot resolve ${[...specifiers].join(', ')} from ${relative(ROOT, SERVICE_DIR)}:\n${resolved.stderr}`,
    );
  }
  const shown = [...specifiers].map((s, i) => `${s} → ${found[i]}`).join(', ');
  if (found.some((file) => !file.startsWith(`dist${sep}`)))
    fail(`from ${relative(ROOT, SERVICE_DIR)}, not every weir import resolves to dist/: ${shown}`);
  console.log(`bench:db: the compiled service imports weir from dist/: ${shown}`);
}

// ------------------------------------------------------------------------------------------------ servers

function start(server, pin, extraArgs = []) {
  const log = [];
  return startServer({
    name: `${SERVERS[server].label} server`,
    argv: [...pin.server, process.execPath, ...extraArgs, ...SERVERS[server].argv],
    env: {
      PORT: String(opts.port),
      HOST,
      NODE_ENV: 'production',
      DATABASE_URL: databaseUrl(server),
      DB_POOL: String(opts.pool),
    },
    port: opts.port,
    probe: async () => {
      const res = await get(opts.port, '/db', 5000);
      if (res.status !== 200) throw new Error(`status ${res.status}`);
    },
    log,
  });
}

/** What is wrong with a response: status, content type, the TechEmpower headers, Content-Length. */
function headerProblems(res, type) {
  const problems = [];
  if (res.status !== 200) problems.push(`status ${res.status}`);
  if (!type.test(res.headers['content-type'] ?? ''))
    problems.push(`content-type ${res.headers['content-type']}`);
  for (const header of ['server', 'date', 'content-length'])
    if (!res.headers[header]) problems.push(`no ${header} header`);
  if (Number(res.headers['content-length']) !== Buffer.byteLength(res.body))
    problems.push(`content-length ${res.headers['content-length']} for ${Buffer.byteLength(res.body)} bytes`);
  return problems;
}

const isWorld = (w) =>
  w !== null &&
  typeof w === 'object' &&
  Object.keys(w).sort().join() === 'id,randomNumber' &&
  Number.isInteger(w.id) &&
  w.id >= 1 &&
  w.id <= WORLD_SIZE &&
  Number.isInteger(w.randomNumber) &&
  w.randomNumber >= 1 &&
  w.randomNumber <= WORLD_SIZE;

/** The fortunes page of the first server checked: every other one must send the same bytes. */
let referenceFortunes;

/**
 * Checks one server's answers on every route: headers, JSON shape and count (the `queries` rule included),
 * rows that match the table (PostgreSQL), updates that reach it, and the fortunes page, byte for byte the
 * same as the other servers'. Throws naming every problem.
 */
async function check(server) {
  const problems = [];
  const on = (path) => async (fn) => {
    const res = await get(opts.port, path, 10_000);
    try {
      const found = await fn(res);
      if (found.length > 0) problems.push(`${path}: ${found.join(', ')}`);
    } catch (err) {
      problems.push(`${path}: ${err.message} (body ${JSON.stringify(res.body.slice(0, 200))})`);
    }
  };
  const onPg = SERVERS[server].engine === 'postgres';
  const inTable = async (worlds) => {
    if (!onPg) return [];
    const { rows } = await pgQuery(opts.database, 'SELECT id, randomnumber FROM world WHERE id = ANY($1)', [
      worlds.map((w) => w.id),
    ]);
    const table = new Map(rows.map((r) => [r.id, r.randomnumber]));
    const last = new Map(worlds.map((w) => [w.id, w.randomNumber])); // an id drawn twice: its last value
    return [...last]
      .filter(([id, n]) => table.get(id) !== n)
      .map(([id, n]) => `id ${id}: ${n}, table ${table.get(id)}`);
  };
  const worlds = (count) => async (res) => {
    const found = headerProblems(res, /^application\/json/);
    const body = JSON.parse(res.body);
    if (!Array.isArray(body)) return [...found, 'not an array'];
    if (body.length !== count) found.push(`${body.length} rows, not ${count}`);
    if (!body.every(isWorld)) found.push('a row is not { id, randomNumber } within 1…10000');
    found.push(...(await inTable(body)));
    return found;
  };

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
  if (problems.length > 0)
    throw new Error(`${SERVERS[server].label} fails the checks:\n  ${problems.join('\n  ')}`);
}

/** Drops and recreates the database, then lets the weir service create and seed it (its migrations). */
async function prepareDatabases(pin) {
  if (!have('wrk')) fail('wrk is required (apt-get install wrk)');
  if (!have('taskset')) fail('taskset (util-linux) is required');
  const version = (await pgQuery('postgres', 'SHOW server_version')).rows[0].server_version;
  await pgQuery('postgres', `DROP DATABASE IF EXISTS ${opts.database} WITH (FORCE)`);
  await pgQuery('postgres', `CREATE DATABASE ${opts.database}`);
  console.log(
    `bench:db: recreated ${opts.database} on PostgreSQL ${version}; migrating it with the weir service`,
  );
  const weir = await start('weir', pin);
  await stopServer(weir);
  const { rows } = await pgQuery(
    opts.database,
    'SELECT (SELECT count(*) FROM world) AS w, (SELECT count(*) FROM fortune) AS f',
  );
  if (Number(rows[0].w) !== WORLD_SIZE || Number(rows[0].f) !== 12)
    fail(`after migration: ${rows[0].w} world rows and ${rows[0].f} fortunes, not ${WORLD_SIZE} and 12`);
  return version;
}

// ---------------------------------------------------------------------------------------------------- wrk

const wrkArgs = (pin, route, seconds) => [
  ...pin.wrk,
  'wrk',
  '-t1',
  `-c${opts.connections}`,
  `-d${seconds}s`,
  '--latency',
  `http://${HOST}:${opts.port}${pathOf(route)}`,
];

// ------------------------------------------------------------------------------------------------- report

const versionOf = (dir, name) => {
  try {
    return JSON.parse(readFileSync(join(dir, 'node_modules', name, 'package.json'), 'utf8')).version;
  } catch {
    return 'n/a';
  }
};

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
  // a ÷ b round by round: the two ran minutes apart at most, so these cancel slow drift of the machine.
  const perRound = (route, a, b) =>
    results[route][a].map((x) => x.rps / results[route][b].find((y) => y.round === x.round).rps);
  const { p, row, write } = markdown('bench:db');
  // CPU of everything else on the machine (other processes, kernel work charged to no process, the runner);
  // a PostgreSQL figure below 0 means another client's backend exited during the run.
  const otherCpu = (c) =>
    c?.machine === undefined
      ? undefined
      : Math.max(0, c.machine - (c.server ?? 0) - (c.wrk ?? 0) - Math.max(0, c.postgres ?? 0));

  p('# weir database benchmark results (TechEmpower database tests)');
  p();
  p('Generated by `bench/db.mjs`; do not edit by hand, re-run it. See `bench/README.md`.');
  p();
  p('## Summary');
  p();
  p(
    `req/s of the median round per server (${opts.rounds} round(s), ${opts.duration} s measured each, wrk -c ${opts.connections}); ratios of those medians, and in brackets the median of the per-round ratios.`,
  );
  p();
  row(['route', ...opts.servers.map(L), ...pairs.map(([a, b]) => `${L(a)} ÷ ${L(b)}`)]);
  row(['---', ...opts.servers.map(() => '---:'), ...pairs.map(() => '---:')]);
  for (const route of opts.routes)
    row([
      `\`${pathOf(route)}\``,
      ...opts.servers.map((s) => fmtInt(med(route, s).rps)),
      ...pairs.map(
        ([a, b]) =>
          `${fmtRatio(med(route, a).rps / med(route, b).rps)} (${fmtRatio(median(perRound(route, a, b)))})`,
      ),
    ]);
  p();
  if (has('weir') && has('fastify')) {
    const verdicts = opts.routes.map((route) => {
      const r = med(route, 'weir').rps / med(route, 'fastify').rps;
      const rr = perRound(route, 'weir', 'fastify');
      // Called on the lower of two readings: the median rounds' ratio and the median per-round ratio.
      const low = Math.min(r, median(rr));
      const call =
        low >= 1
          ? 'at or above fastify'
          : low >= 0.95
            ? 'within 5 % of fastify'
            : '**more than 5 % behind fastify**';
      return `\`${pathOf(route)}\`: weir is ${call} (${fmtRatio(r)} median rounds, ${fmtRatio(median(rr))} median per-round ratio; per round ${rr.map((x) => x.toFixed(2)).join(', ')})`;
    });
    p(`**Target weir ≥ fastify:** ${verdicts.join('; ')}.`);
    p();
  }

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
      ? 'the reference service compiled as for production: `npm run build` (dist/), examples/service compiled by `tsc` into bench/.build/service/ (its `weir`, `weir/db`, … imports resolved to dist/), run as `node bench/.build/service/main.js`'
      : 'the reference service from source: `node --conditions=weir-source --import tsx examples/service/main.ts`',
  });
  p('which ran, per server and route:');
  p();
  p('```sh');
  p(
    `${pin.server.join(' ')} node <server>   # PORT=${opts.port} HOST=${HOST} NODE_ENV=production DATABASE_URL=… DB_POOL=${opts.pool}`.trim(),
  );
  p(`${wrkArgs(pin, '<route>', opts.warmup).join(' ').replace('/<route>', '<path>')}   # warm-up, discarded`);
  p(`${wrkArgs(pin, '<route>', opts.duration).join(' ').replace('/<route>', '<path>')}   # measured`);
  p('```');
  p();
  p('## Method');
  p();
  p(
    `- Servers: **weir** = the reference service, examples/service/main.ts (${compiled ? 'compiled by tsc, run with plain `node`' : 'from source, through tsx'}; its own \`techempower.ts\` routes, weir's \`pg\` pool of ${opts.pool} with named prepared statements) on PostgreSQL; **fastify** = \`servers/fastify-db.mjs\` (fastify ${facts.fastify}, logger off, no schemas) and **node:http** = \`servers/node-db.mjs\` (a bare \`createServer\` listener), both running the same SQL and logic from \`servers/tfb.mjs\` (a \`pg.Pool\` with weir's settings, max ${opts.pool}, named prepared statements, \`Promise.all\` for concurrent reads, one \`UPDATE … FROM unnest()\` per /updates with sorted, deduplicated ids); **weir-sqlite** = the weir service on a SQLite file (better-sqlite3, synchronous, in a temporary folder).`,
  );
  p(
    `- The database \`${opts.database}\` is dropped, recreated and migrated by the weir service before the run (10,000 world rows, 12 fortunes). Before each server starts, \`VACUUM ANALYZE world\` clears the dead rows the previous server's /updates left.`,
  );
  p(
    `- Each server is **one Node process** ${pin.pinned ? 'pinned to **core 0**' : '(unpinned)'}; the load generator is **wrk, one thread, ${opts.connections} connections**, ${pin.pinned ? 'pinned to **core 1**' : 'unpinned'}; **PostgreSQL is not pinned** and its backends run on both cores.`,
  );
  p(
    `- Per server: start it, **check its answers** (status, content type, \`Server\`/\`Date\`/\`Content-Length\`; JSON shape and row count for /queries and /updates, with N = ${opts.queries}, 1, 0, foo, empty, 501 and none; on PostgreSQL the rows returned by /db and /queries match the table and the rows /updates returns are in the table afterwards; the fortunes page byte for byte identical across servers), then per route a **${opts.warmup} s warm-up** (discarded) and a **${opts.duration} s measured run**; then stop it (SIGTERM by PID). A fresh process per server and round.`,
  );
  p(
    `- **${opts.rounds} round(s)**, the server order rotated every round (${order.map((o, i) => `round ${i + 1}: ${o.map(L).join(' → ')}`).join('; ')}). Reported: the median round by req/s with its p50/p99 (wrk \`--latency\`), and CPU from /proc over the measured run: the server process, all PostgreSQL processes, and the whole machine (of ${facts.nproc * 100} %).`,
  );
  p();

  for (const route of opts.routes) {
    p(`## \`${pathOf(route)}\``);
    p();
    const ratioCols = [
      ['fastify', 'fastify'],
      ['node', 'node:http'],
    ].filter(([s]) => has(s));
    row([
      'server',
      'req/s',
      'p50 ms',
      'p99 ms',
      'server CPU',
      'PostgreSQL CPU',
      'machine CPU',
      'errors',
      ...ratioCols.map(([, l]) => `÷ ${l}`),
    ]);
    row(['---', '---:', '---:', '---:', '---:', '---:', '---:', '---:', ...ratioCols.map(() => '---:')]);
    for (const s of opts.servers) {
      const m = med(route, s);
      const c = m.cpu ?? {};
      row([
        L(s),
        fmtInt(m.rps),
        fmtMs(m.p50),
        fmtMs(m.p99),
        fmtPct(c.server),
        fmtPct(c.postgres),
        fmtPct(c.machine),
        m.socketErrors || m.non2xx ? `${m.socketErrors} socket, ${m.non2xx} non-2xx` : '0',
        ...ratioCols.map(([o]) => fmtRatio(m.rps / med(route, o).rps)),
      ]);
    }
    p();
    if (pairs.length > 0) {
      p(
        `Per-round ratios of req/s: ${pairs
          .map(
            ([a, b]) =>
              `${L(a)} ÷ ${L(b)} ${perRound(route, a, b)
                .map((r) => r.toFixed(2))
                .join(', ')}`,
          )
          .join('; ')}.`,
      );
      p();
    }
    p('<details><summary>every round</summary>');
    p();
    row([
      'server',
      'round',
      'req/s',
      'p50 ms',
      'p99 ms',
      'server CPU',
      'PostgreSQL CPU',
      'wrk CPU',
      'other CPU',
      'machine CPU',
      'socket errors',
      'non-2xx',
    ]);
    row(['---', ...Array(11).fill('---:')]);
    for (const s of opts.servers)
      for (const r of results[route][s]) {
        const c = r.cpu ?? {};
        row([
          L(s),
          r.round,
          fmtInt(r.rps),
          fmtMs(r.p50),
          fmtMs(r.p99),
          fmtPct(c.server),
          fmtPct(c.postgres),
          fmtPct(c.wrk),
          fmtPct(otherCpu(c)),
          fmtPct(c.machine),
          r.socketErrors,
          r.non2xx,
        ]);
      }
    p();
    p('</details>');
    p();
  }

  const errors = opts.routes.flatMap((route) =>
    opts.servers.flatMap((s) =>
      results[route][s]
        .filter((r) => r.socketErrors > 0 || r.non2xx > 0)
        .map((r) => `${L(s)} ${pathOf(route)} round ${r.round}: ${r.socketErrorText} non-2xx ${r.non2xx}`),
    ),
  );
  const all = opts.routes.flatMap((route) => opts.servers.flatMap((s) => results[route][s]));
  const maxOf = (key) => Math.max(...all.map((r) => r.cpu?.[key] ?? 0));
  p('## Caveats');
  p();
  p(
    `- **PostgreSQL shares the ${facts.nproc} cores with the server and wrk.** The server has core 0 and wrk core 1 to themselves only as far as taskset goes: PostgreSQL's backends run wherever the kernel puts them, so a server that makes PostgreSQL work harder (or is itself busier) takes CPU from everyone. The whole machine was up to ${fmtPct(maxOf('machine'))} of ${facts.nproc * 100} % busy, PostgreSQL up to ${fmtPct(maxOf('postgres'))} of one core: with the database on the same two cores, a faster server also leaves PostgreSQL less CPU, which flattens the differences between servers. These numbers rank the stacks on this box; they are not TechEmpower's, which run the database on its own machine.`,
  );
  p(
    compiled
      ? "- weir is the whole reference service (every route of examples/service registered, not only these four, and whatever it opens at start besides the database), compiled by tsc and run with plain `node`, as fastify's and node:http's .mjs files are; those two have the four routes only. weir's TechEmpower routes (examples/service/techempower.ts) run the same SQL on a pool with the same settings, through weir's database layer: each query a tagged template (`db.one`, `db.query`, `db.exec`) turned once per call site into a named prepared statement, run on pg's callback API without a cancellation signal (these point lookups are not cancelled one by one; POST /db is the route that shows cancellation), `one()` checking it got exactly one row, a failed query translated into weir's typed errors; /queries and /updates fan out with `gather()` (no limit) instead of `Promise.all`; the handlers return values that weir serialises (JSON, or `html()` for /fortunes). That is part of the framework cost under test."
      : "- weir is the whole reference service, run from source through tsx's loader (TypeScript compiled by esbuild once, at load; its `keepNames` helper `__name()` still runs each time a closure is created, about 2 % of the CPU on /queries, which a `tsc` build in dist/ would not pay); fastify and node:http are .mjs files with the four routes only. weir's routes also do what the others do not: a cancellation signal on every /queries and /updates query (`db.with(ctx)`), `gather()` instead of `Promise.all`, weir's typed-error mapping around each query. That is part of the framework cost under test.",
  );
  p(
    '- fastify sends `application/json; charset=utf-8` (its default, as in servers/fastify.mjs); weir and node:http send `application/json`. The `Date` header is a once-a-second cached string everywhere.',
  );
  p(
    '- /updates writes to the same 10,000 rows from up to 64 requests at once; sorted ids keep concurrent updates from deadlocking. Dead rows accumulate during a run (VACUUM runs between servers), so /updates drifts a little within a run; rotation spreads that evenly.',
  );
  const disturbed = opts.routes.flatMap((route) =>
    opts.servers.flatMap((s) =>
      results[route][s]
        .filter((r) => (otherCpu(r.cpu) ?? 0) >= 15 || (r.cpu?.postgres ?? 0) < 0)
        .map(
          (r) =>
            `${L(s)} ${pathOf(route)} round ${r.round} (other ${fmtPct(otherCpu(r.cpu))}, PostgreSQL ${fmtPct(r.cpu.postgres)})`,
        ),
    ),
  );
  if (disturbed.length > 0)
    p(
      `- **Other load**: in ${disturbed.length} measured run(s) something besides the server, wrk and PostgreSQL took 15 % of a core or more, or other PostgreSQL clients came and went (a negative PostgreSQL figure): ${disturbed.join('; ')}. The median round keeps a single disturbed round out of the tables; the per-round ratios show it.`,
    );
  p(
    errors.length > 0
      ? `- **wrk reported errors**: ${errors.join('; ')}.`
      : '- wrk reported no socket errors and no non-2xx responses in any measured run.',
  );
  p(`- wrk used at most ${fmtPct(maxOf('wrk'))} of its core.`);
  p();
  p(`Raw wrk outputs (warm-ups included) are in \`${relative(BENCH_DIR, rawDir)}/\` (gitignored).`);
  p();
  write(opts.out);
}

// ---------------------------------------------------------------------------------------------------- main

async function profile(route, pin) {
  if (!ALL_ROUTES.includes(route)) fail(`--profile: unknown route "${route}" (${ALL_ROUTES.join(', ')})`);
  const server = flags.servers === undefined ? 'weir' : opts.servers[0];
  if (SERVERS[server].engine === 'postgres') await prepareDatabases(pin);
  const dir = join(BENCH_DIR, 'results', 'raw', 'profiles');
  mkdirSync(dir, { recursive: true });
  const before = new Set(readdirSync(dir));
  // SIGTERM → process.exit(0), so that --cpu-prof writes its file (a signal death writes nothing).
  const onTerm = `data:text/javascript,process.on('SIGTERM',()=>process.exit(0))`;
  const active = await start(server, pin, ['--cpu-prof', `--cpu-prof-dir=${dir}`, '--import', onTerm]);
  let rps;
  try {
    await check(server);
    if (opts.warmup > 0) await measureWrk(wrkArgs(pin, route, opts.warmup), opts.warmup);
    rps = parseWrk((await measureWrk(wrkArgs(pin, route, opts.duration), opts.duration)).text).rps;
  } finally {
    await stopServer(active);
  }
  // One file per thread (a worker pool, had one started, would write its own); the main thread's has the
  // lowest thread id.
  const file = readdirSync(dir)
    .filter((f) => f.endsWith('.cpuprofile') && !before.has(f))
    .sort((a, b) => Number(a.split('.').at(-3)) - Number(b.split('.').at(-3)))[0];
  if (!file) fail('no .cpuprofile was written');
  const output = active.log.join('').trim();
  if (output) console.log(`${SERVERS[server].label}'s output:\n${output.slice(-2000)}`);
  console.log(`\n${SERVERS[server].label} ${pathOf(route)}: ${fmtInt(rps)} req/s under the profiler`);
  console.log(
    // weir's own code: its build in dist/ (same function names as src/) and the compiled service.
    summarizeProfile(join(dir, file), {
      top: int('top', 1, 1000),
      own: (url) => url.startsWith('dist/') || url.startsWith('bench/.build/'),
    }),
  );
}

async function main() {
  if (flags.rerender !== undefined) {
    const summary = readSummary(flags.rerender);
    Object.assign(opts, summary.opts, { out: opts.out });
    writeReport(summary);
    return console.log(`bench:db: rewrote ${opts.out} from ${flags.rerender}`);
  }
  cleanupOnExit(() => {
    if (sqliteDir) rmSync(sqliteDir, { recursive: true, force: true });
  });
  const pin = pinning();
  buildWeir();
  if (flags.profile !== undefined) return profile(flags.profile, pin);
  const command = invocation(import.meta.url, 'bench:db');
  const postgres = await prepareDatabases(pin);
  const facts = {
    ...machineFacts(),
    weir: 'compiled',
    fastify: versionOf(BENCH_DIR, 'fastify'),
    pg: versionOf(BENCH_DIR, 'pg'),
    pgRoot: versionOf(ROOT, 'pg'),
    sqlite: versionOf(ROOT, 'better-sqlite3'),
    postgres,
  };
  const startedAt = new Date();
  const rawDir = join(BENCH_DIR, 'results', 'raw', `db-${startedAt.toISOString().replace(/[:.]/g, '-')}`);
  mkdirSync(rawDir, { recursive: true });
  const loadBefore = loadavg();
  const minutes = Math.ceil(
    (opts.rounds * opts.servers.length * (opts.routes.length * (opts.warmup + opts.duration) + 5)) / 60,
  );
  console.log(
    `bench:db: ${opts.servers.join(', ')} × ${opts.routes.map((r) => pathOf(r)).join(', ')} × ${opts.rounds} round(s): about ${minutes} min`,
  );

  const results = Object.fromEntries(
    opts.routes.map((r) => [r, Object.fromEntries(opts.servers.map((s) => [s, []]))]),
  );
  const order = [];
  try {
    for (let round = 1; round <= opts.rounds; round++) {
      const servers = rotation(opts.servers, round);
      order.push(servers);
      for (const server of servers) {
        await pgQuery(opts.database, 'VACUUM ANALYZE world');
        const active = await start(server, pin);
        try {
          await check(server);
          for (const route of opts.routes) {
            const base = join(rawDir, `r${round}-${server}-${route}`);
            if (opts.warmup > 0) {
              const warm = await measureWrk(wrkArgs(pin, route, opts.warmup), opts.warmup);
              writeFileSync(`${base}-warmup.txt`, `$ ${warm.command}\n${warm.text}`);
            }
            const run = await measureWrk(
              wrkArgs(pin, route, opts.duration),
              opts.duration,
              active.child.pid,
              MORE_CPU,
            );
            writeFileSync(
              `${base}.txt`,
              `$ ${run.command}\n${run.text}\n# CPU, % of one core: ${JSON.stringify(run.cpu)}\n`,
            );
            if (active.isDead()) throw new Error(`${server} died during the run:\n${active.log.join('')}`);
            const parsed = { round, ...parseWrk(run.text), cpu: run.cpu ?? {} };
            results[route][server].push(parsed);
            console.log(
              `bench:db: round ${round} ${SERVERS[server].label.padEnd(11)} ${pathOf(route).padEnd(21)} ${fmtInt(parsed.rps).padStart(7)} req/s  p50 ${fmtMs(parsed.p50)} ms  p99 ${fmtMs(parsed.p99)} ms  server ${fmtPct(parsed.cpu.server)}  postgres ${fmtPct(parsed.cpu.postgres)}  machine ${fmtPct(parsed.cpu.machine)}${parsed.socketErrors || parsed.non2xx ? `  (errors: ${parsed.socketErrorText} non-2xx ${parsed.non2xx})` : ''}`,
            );
          }
        } finally {
          await stopServer(active);
        }
      }
    }
  } catch (err) {
    killLive();
    fail(err instanceof Error ? err.message : String(err));
  }
  const summary = {
    opts,
    facts,
    startedAt,
    finishedAt: new Date(),
    results,
    order,
    pin,
    loadBefore,
    rawDir,
    command,
  };
  writeFileSync(join(rawDir, 'summary.json'), JSON.stringify(summary, null, 2));
  writeReport(summary);
  console.log(`bench:db: wrote ${relative(process.cwd(), opts.out)} and ${relative(process.cwd(), rawDir)}/`);
  console.log(readFileSync(opts.out, 'utf8'));
}

await main();
