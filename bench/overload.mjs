#!/usr/bin/env node
// Overload: GET /overload (a 1 ms wait, then 0.2 ms of CPU; see examples/service/app.ts) far past what one
// process can serve, on every server, each one process pinned to core 0:
//   weir        the reference service as `npm start` runs it (node scripts/start.mjs; SQLite files in a
//               temporary folder, CACHE_URL=memory:), its adaptive concurrency limit on (the default);
//   weir-off    the same with OVERLOAD=off (the limit turned off);
//   weir-workers  the same in the multi-process mode, WEB_CONCURRENCY=2: the primary accepts connections
//               and hands them to two workers in turn; all three pinned to core 0;
//   fastify     fastify 5 (servers/overload-fastify.mjs);
//   fastify-up  the same with @fastify/under-pressure (servers/overload-fastify.mjs --under-pressure);
//   node        raw node:http (servers/overload-node.mjs).
// Per server (fresh process, a discarded --warmup at 64 connections) and per load (--loads, 64 and 2,000
// connections): wrk pinned to core 1 with one thread per connection, so that weir bench's Lua script
// records latency per status (a 503 never hides among the 200s), for --duration s; beside it, in a process
// of their own (overload/prober.mjs, on core 1), two probers at --rate requests a second: a new connection
// per request, and one kept-alive connection opened before the load. Reported: goodput (2xx/s), p50/p99/max
// of 2xx answers, 503s, other non-2xx, socket errors and time-outs, per prober what was answered and how
// fast; the server's accept queue and the machine's ListenOverflows. Target (weir): goodput at 2,000 ≥ 0.9
// × at 64, and the p99 of 2xx answers at 2,000 ≤ 5 × at 64 for wrk and for each prober.
// Every process is stopped by PID; traffic goes to 127.0.0.1 only; every run is bounded in time.
//
//   npm run bench:overload                                  (about 8 minutes with the defaults)
//   node bench/overload.mjs --duration 5 --servers node,weir --out /tmp/overload.md
//
// See bench/README.md.

import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  BENCH_DIR,
  beginRun,
  cleanupOnExit,
  commandLine,
  eachRound,
  finishRun,
  fmtInt,
  fmtMs,
  get,
  HOST,
  have,
  int,
  list,
  machineFacts,
  NPM_START_ARGV,
  option,
  outOption,
  pinning,
  prepareNpmStart,
  ROOT,
  rerenderOption,
  rerenderReport,
  sleep,
  startServer,
  stopServer,
  versionOf,
  waitForQuiet,
} from './lib.mjs';
import { fdLimits, measure, warmUp, withFdLimit, writeRecordScript } from './overload/load.mjs';
import { SERVERS, writeReport } from './overload/report.mjs';

const runner = {
  ...commandLine({
    name: 'bench:overload',
    usage: 'Usage: node bench/overload.mjs [options]     (or: npm run bench:overload -- [options])\n',
    columns: [22, 58],
    options: {
      duration: option('<s>', 'seconds of each measured run', '30', int(3, 120)),
      warmup: option('<s>', 'discarded warm-up at 64 connections (0: none)', '2', int(0, 60)),
      loads: option('<list>', 'comma list of connection counts', '64,2000', (v, flag, r) =>
        v.split(',').map((n) => int(1, 5000)(n.trim(), flag, r)),
      ),
      rounds: option('<n>', "rounds, the servers' order rotated", '1', int(1, 10)),
      servers: option('<list>', '', undefined, list(Object.keys(SERVERS)), {
        line: `  --servers <list>      ${`comma list of ${Object.keys(SERVERS).join(',')}`.padEnd(57)} default all`,
      }),
      rate: option('<n>', "each prober's requests a second", '5', int(1, 50)),
      timeout: option('<s>', "a request's time-out, for wrk and the probers", '30', int(1, 120)),
      port: option('<n>', 'port the servers listen on (127.0.0.1)', '3150', int(1024, 65535)),
      'wait-others': option('<s>', 'longest wait for another bench runner or test run', '600', int(0, 3600)),
      out: outOption('the report', 'overload'),
      rerender: rerenderOption("a run's results/raw/overload-<timestamp>/summary.json"),
    },
  }),
  script: 'overload',
};
const { flags, opts, fail } = runner;

/** The service's SQLite files live here for the whole run; removed at exit. */
let data;

/** How server `key` is started: its argv after node, its working folder and its environment. */
function serverCommand(key) {
  const base = { PORT: String(opts.port), HOST, NODE_ENV: 'production' };
  if (key === 'weir' || key === 'weir-off' || key === 'weir-workers')
    return {
      args: NPM_START_ARGV,
      cwd: ROOT,
      env: {
        ...base,
        LOG_LEVEL: 'warn',
        CACHE_URL: 'memory:',
        DATABASE_URL: `sqlite:${join(data, 'weir.db')}`,
        QUEUE_URL: `sqlite:${join(data, 'queue.db')}`,
        ...(key === 'weir-off' ? { OVERLOAD: 'off' } : {}),
        ...(key === 'weir-workers' ? { WEB_CONCURRENCY: '2' } : {}),
      },
    };
  const file = join(BENCH_DIR, 'servers', key === 'node' ? 'overload-node.mjs' : 'overload-fastify.mjs');
  return { args: [file, ...(key === 'fastify-up' ? ['--under-pressure'] : [])], cwd: BENCH_DIR, env: base };
}

/** Starts server `key` pinned with `pin.server`; resolves once GET /overload answers as it must. */
async function start(key, pin) {
  const { args, cwd, env } = serverCommand(key);
  const need = Math.max(...opts.loads) + 512;
  return startServer({
    name: SERVERS[key],
    argv: [...pin.server, ...withFdLimit([process.execPath, ...args], need)],
    cwd,
    env,
    port: opts.port,
    probe: async () => {
      const res = await get(opts.port, '/overload', 5000);
      if (res.status !== 200 || res.body !== '{"message":"Hello, World!"}')
        throw new Error(`GET /overload: ${res.status} ${res.body.slice(0, 200)}`);
    },
  });
}

async function main() {
  if (flags.rerender !== undefined) return rerenderReport(runner, writeReport);
  cleanupOnExit(() => {
    if (data) rmSync(data, { recursive: true, force: true });
  });
  if (process.platform !== 'linux') fail('needs Linux (/proc)');
  if (!have('wrk')) fail('wrk is required (apt-get install wrk)');
  if (!have('taskset')) fail('taskset (util-linux) is required');
  const need = 2 * Math.max(...opts.loads) + 256;
  if (fdLimits().hard < need)
    fail(`${need} open files are needed; the hard limit (ulimit -Hn) is ${fdLimits().hard}`);
  if (opts.servers.some((s) => s.startsWith('weir'))) await prepareNpmStart(runner);
  let waitedSeconds = 0;
  try {
    if (opts.waitOthers > 0)
      waitedSeconds = await waitForQuiet({ name: runner.name, seconds: opts.waitOthers });
  } catch (err) {
    fail(err.message);
  }
  data = mkdtempSync(join(tmpdir(), 'weir-overload-bench-'));
  const pin = pinning();
  const facts = {
    ...machineFacts(),
    fastify: versionOf(BENCH_DIR, 'fastify'),
    underPressure: versionOf(BENCH_DIR, '@fastify/under-pressure'),
    libuv: process.versions.uv,
    somaxconn: readSysctl('net/core/somaxconn'),
    synBacklog: readSysctl('net/ipv4/tcp_max_syn_backlog'),
    syncookies: readSysctl('net/ipv4/tcp_syncookies'),
    fdLimit: fdLimits().soft,
  };
  const run = beginRun(runner, { facts, pin });
  const record = writeRecordScript(run.rawDir);
  const results = [];
  const order = await eachRound(runner, opts.servers, async (key, round) => {
    const server = await start(key, pin);
    try {
      if (opts.warmup > 0) await warmUp({ pin, opts, connections: 64, seconds: opts.warmup });
      for (const connections of opts.loads) {
        await sleep(1000); // the previous run's connections close
        const r = await measure({
          pin,
          opts,
          record,
          serverPid: server.child.pid,
          connections,
          base: join(run.rawDir, `r${round}-${key}-c${connections}`),
        });
        if (server.isDead()) throw new Error(`${SERVERS[key]} died during the run:\n${server.log.join('')}`);
        results.push({ round, server: key, connections, ...r });
        console.log(
          `bench:overload: round ${round} ${SERVERS[key]} c${connections}: ${fmtInt(r.wrk.goodput)} 2xx/s, p99 ${fmtMs(r.wrk.p99)} ms, 503 ${fmtInt(r.wrk.s503)}; fresh ${r.fresh.answeredDuringLoad}/${r.fresh.sent} answered in the load, p99 ${fmtMs(r.fresh.p99)} ms; keep-alive p99 ${fmtMs(r.keepAlive.p99)} ms`,
        );
      }
    } finally {
      await stopServer(server);
    }
  });
  finishRun(runner, run, { results, order, waitedSeconds }, writeReport);
}

/** A value of /proc/sys (`net/core/somaxconn`), or 'n/a'. */
function readSysctl(path) {
  try {
    return readFileSync(join('/proc/sys', path), 'utf8').trim();
  } catch {
    return 'n/a';
  }
}

await main();
