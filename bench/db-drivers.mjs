#!/usr/bin/env node
// Which PostgreSQL driver for weir's data layer: pg (node-postgres) or postgres (postgres.js)? Both under raw
// node:http (servers/db-http.mjs), so the driver is the only difference, on TechEmpower's /db and
// /queries?queries=20.
//
//   node bench/db-drivers.mjs                    (about 17 minutes; writes bench/RESULTS-db-drivers.md)
//   node bench/db-drivers.mjs --duration 20 --rounds 1 --out /tmp/db.md
//
// Servers: node-pg (pg.Pool), node-pg-clients (plain pg.Clients, round-robin: what pg.Pool itself costs) and
// node-postgresjs, each one process pinned to core 0, 16 connections to PostgreSQL. wrk (one thread) is
// pinned to core 1. PostgreSQL is not pinned: its backends share both cores with them. Per round and route,
// the servers run one after another in a rotated order, each a fresh process: check its answers against the
// table, a discarded warm-up, then one long measured run during which the server's completed-request counter
// is read every --slice seconds, so that a driver that slows down over time shows. The database
// weir_bench_drivers is dropped and recreated first. Traffic goes to 127.0.0.1 only.
//
// See bench/README.md.

import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { writeReport } from './db-drivers/report.mjs';
import {
  ALL_SERVERS,
  DATABASE,
  fmtSlices,
  PIN,
  ROUTES,
  SERVERS,
  WORLD_ROWS,
  wrkArgs,
} from './db-drivers/servers.mjs';
import {
  BENCH_DIR,
  beginRun,
  cleanupOnExit,
  commandLine,
  cpuWindow,
  finishRun,
  fmtInt,
  fmtMs,
  fmtPct,
  get as getFrom,
  HOST,
  have,
  headerProblems,
  int,
  killLive,
  list,
  machineFacts,
  option,
  outOption,
  parseWrk,
  percentOfCore,
  rerenderOption,
  rerenderReport,
  rotation,
  runStep,
  sleep,
  startServer,
  startWrk,
  statTicks,
  stopServer,
  ticks,
} from './lib.mjs';

// ---------------------------------------------------------------------------------------------- options

const runner = {
  ...commandLine({
    name: 'bench:db-drivers',
    usage: 'Usage: node bench/db-drivers.mjs [options]\n',
    columns: [24, 56],
    options: {
      duration: option('<s>', 'measured run per server and route', '60', int(2, 600)),
      slice: option('<s>', 'throughput is sampled every <s> seconds of a run', '10', int(1, 600)),
      warmup: option('<s>', 'discarded warm-up before each measured run (0 = none)', '5', int(0, 600)),
      rounds: option('<n>', 'rounds; the median round is reported', '2', int(1, 20)),
      connections: option('<n>', 'wrk connections', '64', int(1, 1000)),
      'high-connections': option(
        '<n>',
        'one more run of /queries per server at this -c (0 = no)',
        '256',
        int(0, 1000),
      ),
      pool: option('<n>', 'database connections per server (DB_POOL)', '16', int(1, 90)),
      servers: option('<list>', '', undefined, list(ALL_SERVERS), {
        line: `  --servers <list>        comma list of ${ALL_SERVERS.join(',')}               default all`,
      }),
      port: option('<n>', 'port the servers listen on (127.0.0.1)', '3120', int(1024, 65535)),
      out: {
        ...outOption('where the report goes', 'db-drivers'),
        line: '  --out <file>            where the report goes               default bench/RESULTS-db-drivers.md',
      },
      rerender: rerenderOption('a saved summary.json', '<summary>'),
    },
  }),
  script: 'db-drivers',
};
const { flags, opts, fail } = runner;

// -------------------------------------------------------------------------------------------------- set-up

function prepare() {
  if (!have('wrk')) fail('wrk is not installed (`apt-get install wrk`)');
  if (!have('taskset')) fail('taskset (util-linux) is required to pin the server and wrk');
  if (availableParallelism() < 2) fail('needs at least 2 cores: the server gets core 0, wrk core 1');
  if (['pg', 'postgres'].some((name) => !existsSync(join(BENCH_DIR, 'node_modules', name))))
    try {
      runStep(runner.name, 'npm', ['ci'], BENCH_DIR);
    } catch (err) {
      fail(err.message);
    }
}

const version = (name) =>
  JSON.parse(readFileSync(join(BENCH_DIR, 'node_modules', name, 'package.json'), 'utf8')).version;

/**
 * Drops and recreates the database with TechEmpower's `world` table (10,000 rows), and returns what the
 * servers must answer (randomNumber by id) and the PostgreSQL facts for the report.
 */
async function createDatabase() {
  const { default: pg } = await import('pg');
  const connect = async (database) => {
    const client = new pg.Client({ host: HOST, port: 5432, user: 'postgres', database });
    await client.connect();
    return client;
  };
  const admin = await connect('postgres');
  try {
    await admin.query(`DROP DATABASE IF EXISTS ${DATABASE} WITH (FORCE)`);
    await admin.query(`CREATE DATABASE ${DATABASE}`);
  } finally {
    await admin.end();
  }
  const client = await connect(DATABASE);
  try {
    await client.query('CREATE TABLE world (id integer PRIMARY KEY, randomnumber integer NOT NULL)');
    await client.query(
      `INSERT INTO world SELECT i, 1 + floor(random() * ${WORLD_ROWS})::int FROM generate_series(1, ${WORLD_ROWS}) AS i`,
    );
    await client.query('ANALYZE world');
    const { rows } = await client.query('SELECT id, randomnumber FROM world');
    const setting = async (name) => (await client.query(`SHOW ${name}`)).rows[0][name];
    const postgres = {
      version: (await client.query('SELECT version()')).rows[0].version.replace(/ on .*$/, ''),
      maxConnections: await setting('max_connections'),
      sharedBuffers: await setting('shared_buffers'),
    };
    return { truth: new Map(rows.map((r) => [r.id, r.randomnumber])), postgres };
  } finally {
    await client.end();
  }
}

// ------------------------------------------------------------------------------------------------- checks

const get = (path) => getFrom(opts.port, path, 10_000);

function checkWorld(world, truth) {
  if (typeof world !== 'object' || world === null || Array.isArray(world)) return 'not an object';
  const keys = Object.keys(world).sort().join(',');
  if (keys !== 'id,randomNumber') return `keys ${keys}`;
  if (!Number.isInteger(world.id) || !Number.isInteger(world.randomNumber)) return 'not integers';
  if (truth.get(world.id) !== world.randomNumber)
    return `id ${world.id}: randomNumber ${world.randomNumber}, the table has ${truth.get(world.id)}`;
  return undefined;
}

/** One response: status 200, JSON with Server/Date/Content-Length, the body parsed. */
async function fetchJson(name, path) {
  const res = await get(path);
  const problems = headerProblems(res, /^application\/json/);
  if (problems.length > 0) throw new Error(`${name} ${path}: ${problems.join(', ')}: ${res.body}`);
  try {
    return JSON.parse(res.body);
  } catch {
    throw new Error(`${name} ${path}: not JSON: ${res.body}`);
  }
}

/** Checks shape, row count and every row against the table, on both routes and on the edge cases of N. */
async function checkServer(name, truth) {
  const fault = (path, why) => new Error(`${name} ${path} answers wrongly: ${why}`);
  for (let i = 0; i < 20; i++) {
    const why = checkWorld(await fetchJson(name, '/db'), truth);
    if (why) throw fault('/db', why);
  }
  const cases = [
    ['/queries?queries=20', 20],
    ['/queries?queries=1', 1],
    ['/queries?queries=0', 1],
    ['/queries?queries=foo', 1],
    ['/queries', 1],
    ['/queries?queries=501', 500],
  ];
  for (const [path, count] of cases) {
    const body = await fetchJson(name, path);
    if (!Array.isArray(body)) throw fault(path, 'not an array');
    if (body.length !== count) throw fault(path, `${body.length} rows, expected ${count}`);
    for (const world of body) {
      const why = checkWorld(world, truth);
      if (why) throw fault(path, why);
    }
  }
}

// --------------------------------------------------------------------------------------------- sampling

function rssKiB(pid) {
  try {
    const m = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}

/** CPU ticks of every PostgreSQL process (postmaster, backends, background workers), by PID. */
function postgresTicks() {
  const byPid = new Map();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      if (!stat.includes('(postgres)')) continue;
      byPid.set(entry, ticks(`/proc/${entry}/stat`));
    } catch {
      // gone meanwhile
    }
  }
  return byPid;
}

/** The server's counters (from /stats) and the CPU and memory figures of the moment. */
async function sample(serverPid) {
  const stats = await fetchJson('server', '/stats');
  return {
    at: performance.now(),
    completed: stats.completed,
    failed: stats.failed,
    rss: rssKiB(serverPid),
    server: ticks(`/proc/${serverPid}/stat`),
    postgres: postgresTicks(),
    core0: statTicks('cpu0'),
  };
}

/** Throughput, CPU (% of one core) and memory between two samples. */
function between(first, last) {
  const { seconds, pct } = cpuWindow(first, last);
  let pgTicks = 0;
  for (const [pid, t] of last.postgres) pgTicks += t - (first.postgres.get(pid) ?? 0);
  const server = pct('server');
  return {
    seconds,
    rps: (last.completed - first.completed) / seconds,
    failed: last.failed - first.failed,
    rssMiB: last.rss / 1024,
    serverCpu: server,
    postgresCpu: percentOfCore(pgTicks, seconds),
    otherCore0: Math.max(0, pct('core0', 'busy') - server),
    stealCore0: pct('core0', 'steal'),
  };
}

// ------------------------------------------------------------------------------------------------- runs

/**
 * The measured run: wrk for --duration seconds, the server's counters read at its start, every --slice
 * seconds, and when wrk exits (the last slice ends with the load).
 */
async function measure(route, connections, serverPid) {
  const started = performance.now();
  const wrk = startWrk(wrkArgs(opts, ROUTES[route], connections, opts.duration), opts.duration);
  const samples = [await sample(serverPid)];
  let exited = false;
  wrk.done.then(
    () => {
      exited = true;
    },
    () => {
      exited = true;
    },
  );
  for (let k = 1; k * opts.slice < opts.duration; k++) {
    const wait = started + k * opts.slice * 1000 - performance.now();
    if (wait > 0) await sleep(wait);
    if (exited) break;
    samples.push(await sample(serverPid));
  }
  const { command, text } = await wrk.done;
  samples.push(await sample(serverPid));
  const slices = samples.slice(1).map((s, i) => between(samples[i], s));
  return { command, text, slices, whole: between(samples[0], samples.at(-1)) };
}

/** One server, one route: a fresh process, checked, warmed up, measured, checked again, stopped. */
async function runOne({ server, route, connections, round, truth, rawDir }) {
  const name = SERVERS[server].file.replace(/\.mjs$/, '');
  const active = await startServer({
    name,
    argv: [...PIN.server, process.execPath, join('servers', SERVERS[server].file)],
    env: { PORT: String(opts.port), DB_NAME: DATABASE, DB_POOL: String(opts.pool), NODE_ENV: 'production' },
    port: opts.port,
    probe: () => get('/db'),
  });
  const log = () => active.log.join('');
  const base = join(rawDir, `r${round}-${server}-${route}-c${connections}`);
  try {
    await checkServer(name, truth);
    if (opts.warmup > 0) {
      const warm = await startWrk(wrkArgs(opts, ROUTES[route], connections, opts.warmup), opts.warmup).done;
      writeFileSync(`${base}-warmup.txt`, `$ ${warm.command}\n${warm.text}`);
    }
    const m = await measure(route, connections, active.child.pid);
    if (active.isDead()) throw new Error(`${name} died during the run:\n${log()}`);
    await checkServer(name, truth);
    writeFileSync(
      `${base}.txt`,
      `$ ${m.command}\n${m.text}\n# slices: ${JSON.stringify(m.slices)}\n# server log:\n${log()}`,
    );
    return { round, connections, ...parseWrk(m.text), slices: m.slices, whole: m.whole, log: log() };
  } finally {
    await stopServer(active);
  }
}

function logRun(phase, server, r) {
  const errors = r.socketErrors || r.non2xx ? `  errors: ${r.socketErrorText} non-2xx ${r.non2xx}` : '';
  console.log(
    `${runner.name}: r${r.round} ${phase.padEnd(12)} ${SERVERS[server].label.padEnd(28)} ${fmtInt(r.rps).padStart(7)} req/s  p50 ${fmtMs(r.p50)} ms  p99 ${fmtMs(r.p99)} ms  slices ${fmtSlices(r.slices)}  RSS ${fmtInt(r.whole.rssMiB)} MiB  server CPU ${fmtPct(r.whole.serverCpu)}  postgres CPU ${fmtPct(r.whole.postgresCpu)}${errors}`,
  );
}

/** The phases of a run: each route at --connections, then /queries at --high-connections once. */
function phases() {
  const list = [];
  for (let round = 1; round <= opts.rounds; round++)
    for (const route of Object.keys(ROUTES))
      list.push({ phase: route, route, connections: opts.connections, round });
  if (opts.highConnections > 0)
    list.push({
      phase: `queries-c${opts.highConnections}`,
      route: 'queries',
      connections: opts.highConnections,
      round: opts.rounds + 1,
    });
  return list;
}

// -------------------------------------------------------------------------------------------------- main

async function main() {
  if (flags.rerender !== undefined) return rerenderReport(runner, (summary) => writeReport(summary, opts));
  cleanupOnExit();
  prepare();
  const { truth, postgres } = await createDatabase();
  const { commit: _commit, ...machine } = machineFacts();
  const facts = {
    ...machine,
    pg: version('pg'),
    pgPool: version('pg-pool'),
    pgProtocol: version('pg-protocol'),
    postgresjs: version('postgres'),
    postgres,
  };
  const run = beginRun(runner, { facts });
  const list = phases();
  const perRun = opts.warmup + opts.duration + 3;
  console.log(
    `${runner.name}: ${list.length * opts.servers.length} runs of ${opts.warmup} s + ${opts.duration} s: about ${Math.ceil((list.length * opts.servers.length * perRun) / 60)} min`,
  );
  const results = { phaseList: [], byPhase: {}, phaseMeta: {} };
  try {
    for (const ph of list) {
      if (!results.byPhase[ph.phase]) {
        results.byPhase[ph.phase] = {};
        results.phaseMeta[ph.phase] = { route: ph.route, connections: ph.connections };
        results.phaseList.push({ phase: ph.phase, title: `GET ${ROUTES[ph.route]}, -c ${ph.connections}` });
      }
      for (const server of rotation(opts.servers, ph.round)) {
        const r = await runOne({ server, ...ph, truth, rawDir: run.rawDir });
        const runs = results.byPhase[ph.phase];
        runs[server] = [...(runs[server] ?? []), r];
        logRun(ph.phase, server, r);
      }
    }
  } catch (err) {
    killLive();
    fail(err instanceof Error ? err.message : String(err));
  }
  finishRun(runner, run, { results }, (summary) => writeReport(summary, opts));
}

await main();
