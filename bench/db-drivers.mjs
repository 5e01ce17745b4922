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

import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism, loadavg } from 'node:os';
import { join, relative } from 'node:path';
import { parseArgs } from 'node:util';
import {
  BENCH_DIR,
  cleanupOnExit,
  clockTicks,
  flagReaders,
  fmtInt,
  fmtMs,
  fmtPct,
  fmtRatio,
  get as getFrom,
  HOST,
  have,
  invocation,
  killLive,
  machineAndCommand,
  machineFacts,
  markdown,
  median,
  medianRound,
  parseWrk,
  readSummary,
  rotation,
  sleep,
  startServer,
  startWrk,
  statTicks,
  stopServer,
  ticks,
} from './lib.mjs';

const SERVERS = {
  pg: { file: 'node-pg.mjs', label: 'pg (Pool)' },
  'pg-clients': { file: 'node-pg-clients.mjs', label: 'pg (16 Clients, round-robin)' },
  postgresjs: { file: 'node-postgresjs.mjs', label: 'postgres.js' },
};
const ALL_SERVERS = Object.keys(SERVERS);
const ROUTES = { db: '/db', queries: '/queries?queries=20' };
const DATABASE = 'weir_bench_drivers';
const WORLD_ROWS = 10_000;

// ---------------------------------------------------------------------------------------------- options

const HELP = `Usage: node bench/db-drivers.mjs [options]

  --duration <s>          measured run per server and route                       default 60
  --slice <s>             throughput is sampled every <s> seconds of a run        default 10
  --warmup <s>            discarded warm-up before each measured run (0 = none)   default 5
  --rounds <n>            rounds; the median round is reported                    default 2
  --connections <n>       wrk connections                                         default 64
  --high-connections <n>  one more run of /queries per server at this -c (0 = no) default 256
  --pool <n>              database connections per server (DB_POOL)               default 16
  --servers <list>        comma list of ${ALL_SERVERS.join(',')}               default all
  --port <n>              port the servers listen on (127.0.0.1)                  default 3120
  --out <file>            where the report goes               default bench/RESULTS-db-drivers.md
  --rerender <summary>    no run: rewrite the report from a saved summary.json
  -h, --help
`;

const { values: flags } = parseArgs({
  options: {
    duration: { type: 'string', default: '60' },
    slice: { type: 'string', default: '10' },
    warmup: { type: 'string', default: '5' },
    rounds: { type: 'string', default: '2' },
    connections: { type: 'string', default: '64' },
    'high-connections': { type: 'string', default: '256' },
    pool: { type: 'string', default: '16' },
    servers: { type: 'string' },
    port: { type: 'string', default: '3120' },
    out: { type: 'string' },
    rerender: { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  },
  strict: true,
});
if (flags.help) {
  process.stdout.write(HELP);
  process.exit(0);
}

const { fail, int, list } = flagReaders('bench:db', flags);

const opts = {
  duration: int('duration', 2, 600),
  slice: int('slice', 1, 600),
  warmup: int('warmup', 0, 600),
  rounds: int('rounds', 1, 20),
  connections: int('connections', 1, 1000),
  highConnections: int('high-connections', 0, 1000),
  pool: int('pool', 1, 90),
  servers: list('servers', ALL_SERVERS),
  port: int('port', 1024, 65535),
  out: flags.out ?? join(BENCH_DIR, 'RESULTS-db-drivers.md'),
};

// -------------------------------------------------------------------------------------------------- set-up

function prepare() {
  if (!have('wrk')) fail('wrk is not installed (`apt-get install wrk`)');
  if (!have('taskset')) fail('taskset (util-linux) is required to pin the server and wrk');
  if (availableParallelism() < 2) fail('needs at least 2 cores: the server gets core 0, wrk core 1');
  const missing = ['pg', 'postgres'].some((name) => !existsSync(join(BENCH_DIR, 'node_modules', name)));
  if (missing) {
    console.log('bench:db: $ npm ci   (in bench/)');
    const result = spawnSync('npm', ['ci'], { cwd: BENCH_DIR, stdio: 'inherit' });
    if (result.status !== 0) fail('`npm ci` in bench/ failed');
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
  const problems = [];
  if (res.status !== 200) problems.push(`status ${res.status}`);
  if (!/^application\/json/.test(res.headers['content-type'] ?? ''))
    problems.push(`content-type ${res.headers['content-type']}`);
  for (const header of ['server', 'date', 'content-length'])
    if (!res.headers[header]) problems.push(`no ${header} header`);
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
  const seconds = (last.at - first.at) / 1000;
  const pct = (n) => (n / clockTicks() / seconds) * 100;
  let pgTicks = 0;
  for (const [pid, t] of last.postgres) pgTicks += t - (first.postgres.get(pid) ?? 0);
  const server = pct(last.server - first.server);
  return {
    seconds,
    rps: (last.completed - first.completed) / seconds,
    failed: last.failed - first.failed,
    rssMiB: last.rss / 1024,
    serverCpu: server,
    postgresCpu: pct(pgTicks),
    otherCore0: Math.max(0, pct(last.core0.busy - first.core0.busy) - server),
    stealCore0: pct(last.core0.steal - first.core0.steal),
  };
}

// ------------------------------------------------------------------------------------------------- runs

const SERVER_PIN = ['taskset', '-c', '0'];
const WRK_PIN = ['taskset', '-c', '1'];

const wrkArgs = (path, connections, seconds) => [
  ...WRK_PIN,
  'wrk',
  '-t1',
  `-c${connections}`,
  `-d${seconds}s`,
  '--latency',
  `http://${HOST}:${opts.port}${path}`,
];

/**
 * The measured run: wrk for --duration seconds, the server's counters read at its start, every --slice
 * seconds, and when wrk exits (the last slice ends with the load).
 */
async function measure(route, connections, serverPid) {
  const started = performance.now();
  const wrk = startWrk(wrkArgs(ROUTES[route], connections, opts.duration), opts.duration);
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
  const log = [];
  const name = SERVERS[server].file.replace(/\.mjs$/, '');
  const active = await startServer({
    name,
    argv: [...SERVER_PIN, process.execPath, join('servers', SERVERS[server].file)],
    env: { PORT: String(opts.port), DB_NAME: DATABASE, DB_POOL: String(opts.pool), NODE_ENV: 'production' },
    port: opts.port,
    probe: () => get('/db'),
    log,
  });
  const base = join(rawDir, `r${round}-${server}-${route}-c${connections}`);
  try {
    await checkServer(name, truth);
    if (opts.warmup > 0) {
      const warm = await startWrk(wrkArgs(ROUTES[route], connections, opts.warmup), opts.warmup).done;
      writeFileSync(`${base}-warmup.txt`, `$ ${warm.command}\n${warm.text}`);
    }
    const m = await measure(route, connections, active.child.pid);
    if (active.isDead()) throw new Error(`${name} died during the run:\n${log.join('')}`);
    await checkServer(name, truth);
    writeFileSync(
      `${base}.txt`,
      `$ ${m.command}\n${m.text}\n# slices: ${JSON.stringify(m.slices)}\n# server log:\n${log.join('')}`,
    );
    return { round, connections, ...parseWrk(m.text), slices: m.slices, whole: m.whole, log: log.join('') };
  } finally {
    await stopServer(active);
  }
}

const fmtSlices = (slices) => slices.map((s) => fmtInt(s.rps)).join(' · ');

function logRun(phase, server, r) {
  const errors = r.socketErrors || r.non2xx ? `  errors: ${r.socketErrorText} non-2xx ${r.non2xx}` : '';
  console.log(
    `bench:db: r${r.round} ${phase.padEnd(12)} ${SERVERS[server].label.padEnd(28)} ${fmtInt(r.rps).padStart(7)} req/s  p50 ${fmtMs(r.p50)} ms  p99 ${fmtMs(r.p99)} ms  slices ${fmtSlices(r.slices)}  RSS ${fmtInt(r.whole.rssMiB)} MiB  server CPU ${fmtPct(r.whole.serverCpu)}  postgres CPU ${fmtPct(r.whole.postgresCpu)}${errors}`,
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

// ------------------------------------------------------------------------------------------------ report

const lastOverFirst = (r) => r.slices.at(-1).rps / r.slices[0].rps;

/** Ratios of req/s between two servers, run by run (the same round: minutes apart at most). */
function pairedRatios(runs, a, b) {
  if (!runs[a] || !runs[b]) return [];
  return runs[a]
    .map((x) => [x, runs[b].find((y) => y.round === x.round)])
    .filter(([, y]) => y)
    .map(([x, y]) => x.rps / y.rps);
}

const PAIRS = [
  ['pg', 'postgresjs', 'pg ÷ postgres.js'],
  ['pg-clients', 'postgresjs', 'pg clients ÷ postgres.js'],
  ['pg-clients', 'pg', 'pg clients ÷ pg Pool'],
];

function phaseTable(p, row, runs, phase) {
  const labelOf = (s) => SERVERS[s].label;
  const present = opts.servers.filter((s) => runs[s]?.length);
  const ref = runs.postgresjs?.length ? medianRound(runs.postgresjs) : undefined;
  row([
    'server',
    'req/s',
    'p50 ms',
    'p99 ms',
    `req/s per ${opts.slice} s slice`,
    'last ÷ first slice',
    'RSS at end',
    'errors',
    '÷ postgres.js',
  ]);
  row(['---', '---:', '---:', '---:', '---', '---:', '---:', '---:', '---:']);
  for (const s of present) {
    const m = medianRound(runs[s]);
    const errors = m.socketErrors + m.non2xx + m.whole.failed;
    row([
      labelOf(s),
      fmtInt(m.rps),
      fmtMs(m.p50),
      fmtMs(m.p99),
      fmtSlices(m.slices),
      fmtRatio(lastOverFirst(m)),
      `${fmtInt(m.whole.rssMiB)} MiB`,
      String(errors),
      ref ? fmtRatio(m.rps / ref.rps) : 'n/a',
    ]);
  }
  p();
  const paired = PAIRS.map(([a, b, label]) => [label, pairedRatios(runs, a, b)]).filter(([, r]) => r.length);
  if (paired.length > 0 && phase.connections === opts.connections) {
    p(
      `Per-round ratios of req/s: ${paired.map(([label, r]) => `${label} ${r.map((x) => x.toFixed(2)).join(', ')}`).join('; ')}.`,
    );
    p();
  }
}

function everyRun(p, runs) {
  p('<details><summary>every run</summary>');
  p();
  p(
    '| server | round | req/s | p50 ms | p99 ms | slices | RSS MiB | server CPU | postgres CPU | other on core 0 | steal core 0 | socket errors | non-2xx | 500s |',
  );
  p('| --- | ---: | ---: | ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
  for (const s of opts.servers)
    for (const r of runs[s] ?? [])
      p(
        `| ${SERVERS[s].label} | ${r.round} | ${fmtInt(r.rps)} | ${fmtMs(r.p50)} | ${fmtMs(r.p99)} | ${fmtSlices(r.slices)} | ${r.slices.map((x) => fmtInt(x.rssMiB)).join(' · ')} | ${fmtPct(r.whole.serverCpu)} | ${fmtPct(r.whole.postgresCpu)} | ${fmtPct(r.whole.otherCore0)} | ${fmtPct(r.whole.stealCore0)} | ${r.socketErrors} | ${r.non2xx} | ${r.whole.failed} |`,
      );
  p();
  p('</details>');
  p();
}

/** A driver holds up when no run's last slice is 10 % or more below its first. */
function verdict(results) {
  const lines = [];
  for (const { phase, title } of results.phaseList) {
    const runs = results.byPhase[phase];
    const pgToJs = pairedRatios(runs, 'pg', 'postgresjs');
    if (pgToJs.length > 0) {
      const faster = pgToJs.every((r) => r > 1)
        ? 'pg is faster'
        : pgToJs.every((r) => r < 1)
          ? 'postgres.js is faster'
          : 'neither is clearly faster';
      lines.push(
        `${title}: ${faster} (pg ÷ postgres.js per round: ${pgToJs.map((r) => r.toFixed(2)).join(', ')}).`,
      );
    }
    const poolVsClients = pairedRatios(runs, 'pg-clients', 'pg');
    if (poolVsClients.length > 0)
      lines.push(
        `${title}: pg clients round-robin ÷ pg.Pool per round: ${poolVsClients.map((r) => r.toFixed(2)).join(', ')}.`,
      );
    for (const s of opts.servers) {
      const drops = (runs[s] ?? []).filter((r) => lastOverFirst(r) < 0.9);
      if (drops.length > 0)
        lines.push(
          `${title}: **${SERVERS[s].label} slowed down during the run** in ${drops.length} of ${runs[s].length} run(s) (last ÷ first slice ${drops.map((r) => lastOverFirst(r).toFixed(2)).join(', ')}).`,
        );
    }
  }
  return lines;
}

const medianRatio = (runs, a, b) => median(pairedRatios(runs, a, b));

/** Whether the installed postgres.js still has the Queue that grows under sustained load (see conclusion()). */
function postgresjsQueueGrows() {
  try {
    const source = readFileSync(join(BENCH_DIR, 'node_modules', 'postgres', 'src', 'queue.js'), 'utf8');
    return source.includes('xs.indexOf(x)') && source.includes('xs[index - 1] = undefined');
  } catch {
    return false;
  }
}

function conclusion(p, results) {
  const main = results.phaseList.filter(
    ({ phase }) => results.phaseMeta[phase].connections === opts.connections,
  );
  const high = results.phaseList.filter(
    ({ phase }) => results.phaseMeta[phase].connections !== opts.connections,
  );
  const ratioText = (list, a, b) =>
    list
      .map(
        ({ phase, title }) =>
          `${title.replace(/, -c \d+$/, '')} ${fmtRatio(medianRatio(results.byPhase[phase], a, b))}`,
      )
      .join(', ');
  const perRound = main.flatMap(({ phase }) => pairedRatios(results.byPhase[phase], 'pg', 'postgresjs'));
  if (perRound.length === 0) return;
  const driver = perRound.every((r) => r > 1)
    ? 'pg'
    : perRound.every((r) => r < 1)
      ? 'postgres.js'
      : undefined;
  const drops = [...main, ...high].flatMap(({ phase }) =>
    (results.byPhase[phase].postgresjs ?? []).map(lastOverFirst),
  );
  const degrades = drops.some((r) => r < 0.9);
  p('## Conclusion');
  p();
  p(
    `- **${driver ? `Use ${driver}` : 'No clear winner'}.** At -c ${opts.connections}, req/s of pg (Pool) ÷ postgres.js (median of per-round ratios): ${ratioText(main, 'pg', 'postgresjs')}; ${driver ? 'every round on the same side' : 'the rounds disagree'}.${degrades ? ` postgres.js also lost throughput while the load lasted (last ÷ first slice down to ${fmtRatio(Math.min(...drops))}), so a short run flatters it.` : ''}`,
  );
  if (high.length > 0) {
    const stalled = high.flatMap(({ phase }) =>
      opts.servers
        .flatMap((s) => (results.byPhase[phase][s] ?? []).map((r) => [s, r]))
        .filter(([, r]) => r.socketErrors > 0)
        .map(([s, r]) => `${SERVERS[s].label} ${fmtInt(r.socketErrors)} (${r.socketErrorText})`),
    );
    p(
      `- At -c ${opts.highConnections} on /queries (one run each), pg (Pool) ÷ postgres.js: ${ratioText(high, 'pg', 'postgresjs')}; the table's slices and p99 show how each copes with the long queue.${stalled.length > 0 ? ` wrk counted socket errors there: ${stalled.join('; ')}; a timeout is a request left without an answer for 2 s (wrk's default), so some requests starve even where p99 looks fine.` : ''}`,
    );
  }
  const pool = main.flatMap(({ phase }) => pairedRatios(results.byPhase[phase], 'pg-clients', 'pg'));
  if (pool.length > 0) {
    const call = pool.every((r) => r >= 1.05)
      ? "round-robin clients were faster in every round: that is what pg.Pool's acquire/release costs. Still, they rely on pg.Client's own query queue, which pg 8.x deprecates (a DeprecationWarning on the first queued query) and pg 9 removes, and a slow query holds up everything queued behind it on its client, where the Pool gives the next query to whichever connection frees first."
      : pool.every((r) => r <= 0.95)
        ? 'the Pool was faster in every round: its acquire/release costs less than queueing on fixed clients.'
        : "no consistent difference (the rounds and routes disagree, or stay within ±5 %): pg.Pool's acquire/release does not cost anything that shows here. Keep the Pool; round-robin clients also rely on pg.Client's own query queue, which pg 8.x deprecates and pg 9 removes.";
    p(
      `- **pg.Pool vs round-robin clients** (clients ÷ Pool: ${ratioText(main, 'pg-clients', 'pg')}): ${call}`,
    );
  }
  if (degrades && postgresjsQueueGrows())
    p(
      "- **Why postgres.js slows down**: its internal `Queue` (`node_modules/postgres/src/queue.js`) leaves an `undefined` slot behind on every `shift()` and only resets its array once the queue is empty, while `remove()` is a linear `indexOf` over that array. Under sustained saturation the connections' `busy` queue is shifted and pushed once per query and never becomes empty, so the array grows by one slot per query and every query pays a scan of it. When this benchmark was written, a CPU profile of the postgres.js server on /queries put about half of its time in `remove`, and an instrumented copy of the queue reached ~200,000 slots (16 of them live) after 15 s. It recovers only when the load stops long enough for the queue to drain.",
    );
  p();
}

function writeReport(summary) {
  const { facts, results, startedAt, finishedAt, loadBefore, command, rawDir } = summary;
  const { p, row, write } = markdown('bench:db');
  p('# PostgreSQL drivers: pg vs postgres.js');
  p();
  p(
    'Generated by `bench/db-drivers.mjs`; do not edit by hand, re-run it. See `bench/README.md` for what is measured and how.',
  );
  p();
  machineAndCommand(
    p,
    { facts, startedAt, finishedAt, loadBefore, command },
    {
      weir: null,
      tools: [
        [
          'pg',
          `${facts.pg} (pg-pool ${facts.pgPool}, pg-protocol ${facts.pgProtocol}; pure JS, no pg-native)`,
        ],
        ['postgres (postgres.js)', facts.postgresjs],
        [
          'PostgreSQL',
          `${facts.postgres.version}, 127.0.0.1:5432, max_connections ${facts.postgres.maxConnections}, shared_buffers ${facts.postgres.sharedBuffers}`,
        ],
      ],
    },
  );
  p('which ran, per server, route and round:');
  p();
  p('```sh');
  p(
    `PORT=${opts.port} DB_NAME=${DATABASE} DB_POOL=${opts.pool} taskset -c 0 node servers/<node-pg|node-pg-clients|node-postgresjs>.mjs   # in bench/`,
  );
  if (opts.warmup > 0)
    p(`${wrkArgs('/<route>', opts.connections, opts.warmup).join(' ')}   # warm-up, discarded`);
  p(`${wrkArgs('/<route>', opts.connections, opts.duration).join(' ')}   # measured`);
  p('```');
  p();
  p('## Method');
  p();
  p(
    `- Three raw \`node:http\` servers sharing one HTTP layer ([servers/db-http.mjs](servers/db-http.mjs)): only the driver differs. \`GET /db\`: one random row, \`SELECT id, randomnumber AS "randomNumber" FROM world WHERE id = $1\`, as a JSON object. \`GET /queries?queries=20\`: 20 random rows fetched concurrently (\`Promise.all\`), as a JSON array (N clamped to 1..500, unparsable → 1). ${opts.pool} database connections per server.`,
  );
  p(
    "  - **pg (Pool)**: `pg.Pool({ max })`, `pool.query({ name: 'world', text, values })` (a named prepared statement).",
  );
  p(
    "  - **pg (16 Clients, round-robin)**: the same statement on plain `pg.Client`s, each query sent to the next client in turn (a client queues queries and runs them one at a time): what `pg.Pool`'s acquire/release costs.",
  );
  p('  - **postgres.js**: `postgres({ max, prepare: true })`, the tagged template `sql`...``.');
  p(
    `- Database \`${DATABASE}\`, dropped and recreated at the start: \`world(id integer primary key, randomnumber integer not null)\`, ${fmtInt(WORLD_ROWS)} rows, randomnumber random in 1..${fmtInt(WORLD_ROWS)}, analysed.`,
  );
  p(
    `- Each run: a fresh server process pinned to **core 0**; its answers checked against the table (20 × /db, and /queries with N = 20, 1, 0, foo, none, 501: shape, row count, every row's value, JSON type, \`Server\`/\`Date\`/\`Content-Length\`); a **${opts.warmup} s warm-up** (discarded); a **${opts.duration} s measured run** with wrk (**one thread, ${opts.connections} connections, pinned to core 1**); the answers checked again; the server stopped by PID. During the measured run the runner reads the server's completed-request counter (\`/stats\`), its RSS, its CPU and all PostgreSQL processes' CPU every ${opts.slice} s: the per-slice req/s show whether a driver slows down over a sustained run.`,
  );
  p(
    `- **${opts.rounds} round(s)**; within a round each route runs the servers back to back in an order rotated every round, so noise on the machine falls on all of them alike. Reported per route: the **median run** by req/s (for two rounds the lower one), its p50/p99 from wrk's \`--latency\`, its slices and its RSS at the end; ratios divide req/s. The per-round ratios (servers that ran minutes apart) are the fairer comparison.${opts.highConnections > 0 ? ` Then once more /queries per server at **-c ${opts.highConnections}** (${opts.highConnections} × 20 = ${fmtInt(opts.highConnections * 20)} queries in flight on ${opts.pool} connections) to see how each behaves with a long queue.` : ''}`,
  );
  p();
  for (const { phase, title } of results.phaseList) {
    p(`## ${title}`);
    p();
    phaseTable(p, row, results.byPhase[phase], results.phaseMeta[phase]);
    everyRun(p, results.byPhase[phase]);
  }
  conclusion(p, results);
  p('## Verdict (computed)');
  p();
  for (const line of verdict(results)) p(`- ${line}`);
  p();
  p('## Caveats');
  p();
  const allRuns = results.phaseList.flatMap(({ phase }) =>
    opts.servers.flatMap((s) => results.byPhase[phase][s] ?? []),
  );
  const pgCpu = allRuns.map((r) => r.whole.postgresCpu);
  p(
    `- **PostgreSQL is not pinned**: its backends ran on both cores, next to the server (core 0) and wrk (core 1), and used ${fmtPct(Math.min(...pgCpu))}–${fmtPct(Math.max(...pgCpu))} of a core per run (the "postgres CPU" column). On ${facts.nproc} cores the database, the server and wrk compete, so the absolute numbers are far below a real deployment, and CPU that PostgreSQL does not use is left to the server and wrk.`,
  );
  p(
    '- Loopback, one Node process per server, no cluster mode. The table fits in shared_buffers, so this measures the driver and the protocol, not the disk.',
  );
  const busy = allRuns.filter((r) => r.whole.stealCore0 >= 10);
  p(
    busy.length > 0
      ? `- The hypervisor took 10 % or more of core 0 in ${busy.length} run(s); see the steal column.`
      : '- No run lost 10 % or more of core 0 to the hypervisor (steal).',
  );
  const crowded = results.phaseList.flatMap(({ phase, title }) =>
    opts.servers.flatMap((s) =>
      (results.byPhase[phase][s] ?? [])
        .filter((r) => r.whole.otherCore0 >= 20)
        .map((r) => `${SERVERS[s].label} on ${title}, round ${r.round} (${fmtPct(r.whole.otherCore0)})`),
    ),
  );
  if (crowded.length > 0)
    p(
      `- Other processes took 20 % or more of core 0 from the server in ${crowded.length} run(s): ${crowded.join('; ')}. This counts PostgreSQL's own backends when the scheduler put them on core 0, as well as anything else running on the machine; those runs understate that server.`,
    );
  const errors = allRuns.filter((r) => r.socketErrors || r.non2xx || r.whole.failed);
  p(
    errors.length > 0
      ? `- **Errors** in ${errors.length} run(s): see the socket errors / non-2xx / 500s columns.`
      : '- No socket errors, non-2xx responses or failed queries in any measured run; every server answered correctly before and after each run.',
  );
  const warnings = [
    ...new Set(
      allRuns.flatMap((r) =>
        r.log
          .split('\n')
          .filter((l) => /warning|error/i.test(l) && !/^\(Use/.test(l))
          .map((l) => l.replace(/^\(node:\d+\) /, '').trim()),
      ),
    ),
  ];
  if (warnings.length > 0) p(`- Server output: ${warnings.map((w) => `\`${w}\``).join('; ')}.`);
  p();
  p(`Raw wrk outputs and slices: \`${relative(BENCH_DIR, rawDir)}/\` (gitignored).`);
  p();
  write(opts.out);
}

// -------------------------------------------------------------------------------------------------- main

async function main() {
  if (flags.rerender !== undefined) {
    const summary = readSummary(flags.rerender);
    Object.assign(opts, summary.opts, { out: opts.out });
    writeReport(summary);
    console.log(`bench:db: rewrote ${relative(process.cwd(), opts.out)}`);
    return;
  }
  const command = invocation(import.meta.url, 'bench:db');
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
  const startedAt = new Date();
  const rawDir = join(
    BENCH_DIR,
    'results',
    'raw',
    `db-drivers-${startedAt.toISOString().replace(/[:.]/g, '-')}`,
  );
  mkdirSync(rawDir, { recursive: true });
  const loadBefore = loadavg();

  const list = phases();
  const perRun = opts.warmup + opts.duration + 3;
  console.log(
    `bench:db: ${list.length * opts.servers.length} runs of ${opts.warmup} s + ${opts.duration} s: about ${Math.ceil((list.length * opts.servers.length * perRun) / 60)} min`,
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
        const r = await runOne({ server, ...ph, truth, rawDir });
        const runs = results.byPhase[ph.phase];
        runs[server] = [...(runs[server] ?? []), r];
        logRun(ph.phase, server, r);
      }
    }
  } catch (err) {
    killLive();
    fail(err instanceof Error ? err.message : String(err));
  }
  const finishedAt = new Date();
  const summary = { opts, facts, startedAt, finishedAt, loadBefore, command, rawDir, results };
  writeFileSync(join(rawDir, 'summary.json'), JSON.stringify(summary, null, 2));
  writeReport(summary);
  console.log(`bench:db: wrote ${relative(process.cwd(), opts.out)} and ${relative(process.cwd(), rawDir)}/`);
}

await main();
