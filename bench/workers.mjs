#!/usr/bin/env node
// One process against N workers: the reference service started as `npm start` starts it (node
// scripts/start.mjs; SQLite files in a temporary folder, CACHE_URL=memory:) in three shapes:
//   1 process            WEB_CONCURRENCY unset (no primary, weir/cluster not loaded);
//   2 workers, rr        WEB_CONCURRENCY=2, the default: the primary accepts and hands out connections;
//   2 workers, kernel    WEB_CONCURRENCY=2 WEIR_SCHEDULING=none: the workers accept from the shared socket.
// Each is loaded by wrk (one thread, keep-alive) on GET /plaintext, /json and /db, --rounds alternating
// rounds (the shapes' order rotates each round), --duration seconds a run after a 2 s warm-up. This machine
// has two cores, and wrk shares them with the workers: nothing is pinned, and the table gives each
// process's CPU use (% of one core) so a shape that was starved can be told from one that is slow.
// Every process is stopped by PID; traffic goes to 127.0.0.1 only; each wrk run is bounded in time.
//
//   node bench/workers.mjs                         (about 7 minutes with the defaults)
//   node bench/workers.mjs --rounds 1 --duration 5 --out /tmp/workers.md

import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { HOST, sleep } from './lib/common.mjs';
import { percentOfCore, ticks } from './lib/cpu.mjs';
import { machineFacts } from './lib/machine.mjs';
import { startNpmService, wrkFigures } from './lib/npm-service.mjs';
import { cleanupOnExit, get, runBounded } from './lib/processes.mjs';
import { medianOf } from './lib/stats.mjs';

const { values } = parseArgs({
  options: {
    rounds: { type: 'string', default: '3' },
    duration: { type: 'string', default: '10' },
    port: { type: 'string', default: '18182' },
    out: { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  },
});
if (values.help) {
  console.log(`node bench/workers.mjs [--rounds N] [--duration S] [--port N] [--out FILE]
  --rounds N     alternating rounds (3)
  --duration S   seconds of each wrk run (10)
  --port N       the service's port on 127.0.0.1 (18182)
  --out FILE     also write the Markdown report to FILE`);
  process.exit(0);
}
const rounds = Number(values.rounds);
const duration = Number(values.duration);
const port = Number(values.port);
if (!(rounds >= 1 && rounds <= 10) || !(duration >= 1 && duration <= 60)) {
  console.error('--rounds must be 1…10 and --duration 1…60 seconds');
  process.exit(2);
}

const SHAPES = [
  { name: '1 process', env: {} },
  { name: '2 workers, rr', env: { WEB_CONCURRENCY: '2' } },
  { name: '2 workers, kernel', env: { WEB_CONCURRENCY: '2', WEIR_SCHEDULING: 'none' } },
];
const ROUTES = [
  { path: '/plaintext', connections: 256 },
  { path: '/json', connections: 256 },
  { path: '/db', connections: 64 },
];

/** The pids whose parent is `pid` (the workers of a primary). */
function childrenOf(pid) {
  const found = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === pid) found.push(Number(entry));
    } catch {
      // gone
    }
  }
  return found;
}

/** Starts one shape and waits until it serves; resolves to { pids: { primary?, workers[] }, stop() }. */
async function start(shape) {
  const service = startNpmService({ port, env: shape.env });
  // The primary prints its line once every worker listens; one process answers as soon as it listens.
  const serving = async () =>
    shape.env.WEB_CONCURRENCY
      ? /weir: serving /.test(service.output())
      : (await get(port, '/json').catch(() => undefined))?.status === 200;
  try {
    await service.waitFor(serving, 120_000);
  } catch (err) {
    await service.stop();
    throw new Error(`${shape.name} did not start: ${err.message}`);
  }
  const pid = service.child.pid;
  const workers = shape.env.WEB_CONCURRENCY ? childrenOf(pid) : [pid];
  return { pids: { primary: shape.env.WEB_CONCURRENCY ? pid : undefined, workers }, stop: service.stop };
}

/** One wrk run: req/s, non-2xx, socket errors, p99, and CPU % of one core per process over the run. */
async function load(route, seconds, pids) {
  const args = [
    'wrk',
    '-t1',
    `-c${route.connections}`,
    `-d${seconds}s`,
    '--latency',
    `http://${HOST}:${port}${route.path}`,
  ];
  const run = runBounded(args, seconds, 'wrk');
  const sample = () => ({
    at: performance.now(),
    primary: pids.primary === undefined ? 0 : (ticks(`/proc/${pids.primary}/stat`) ?? 0),
    workers: pids.workers.map((p) => ticks(`/proc/${p}/stat`) ?? 0),
    wrk: ticks(`/proc/${run.child.pid}/stat`) ?? 0,
  });
  await sleep(500);
  const first = sample();
  let last = first;
  const timer = setInterval(() => {
    if (run.child.exitCode === null) last = sample();
  }, 500);
  const { text } = await run.done;
  clearInterval(timer);
  const secs = (last.at - first.at) / 1000;
  const pct = (a, b) => (secs > 0 ? percentOfCore(b - a, secs) : 0);
  const { rps, non2xx, socketErrors, p99 } = wrkFigures(text);
  return {
    rps,
    non2xx,
    socketErrors,
    p99,
    cpu: {
      primary: pids.primary === undefined ? undefined : pct(first.primary, last.primary),
      workers: first.workers.map((t, i) => pct(t, last.workers[i])),
      wrk: pct(first.wrk, last.wrk),
    },
  };
}

cleanupOnExit(); // a runner that fails leaves no service behind
const results = new Map(); // `${shape}|${path}` → runs
for (let round = 0; round < rounds; round++) {
  const order = SHAPES.map((_, i) => SHAPES[(i + round) % SHAPES.length]);
  for (const shape of order) {
    const server = await start(shape);
    try {
      for (const route of ROUTES) {
        await load(route, 2, server.pids); // warm-up
        const r = await load(route, duration, server.pids);
        const key = `${shape.name}|${route.path}`;
        results.set(key, [...(results.get(key) ?? []), r]);
        console.log(
          `round ${round + 1} ${shape.name} ${route.path}: ${Math.round(r.rps)} req/s, non-2xx ${r.non2xx}, socket errors ${r.socketErrors}`,
        );
      }
    } finally {
      await server.stop();
    }
  }
}

const pctText = (n) => `${Math.round(n)}`;
const lines = [];
for (const route of ROUTES) {
  const base = results.get(`1 process|${route.path}`);
  for (const shape of SHAPES) {
    const runs = results.get(`${shape.name}|${route.path}`);
    const rps = medianOf(runs.map((r) => r.rps));
    const ratios = runs.map((r, i) => (r.rps / base[i].rps).toFixed(2)).join(', ');
    const mid = runs.find((r) => r.rps === rps) ?? runs[0];
    const cpu = mid.cpu;
    lines.push(
      `| ${route.path} (c${route.connections}) | ${shape.name} | ${runs.map((r) => Math.round(r.rps)).join(', ')} | ` +
        `${shape.name === '1 process' ? '1' : ratios} | ${runs.reduce((a, r) => a + r.non2xx + r.socketErrors, 0)} | ${mid.p99} | ` +
        `${pids(cpu)} | ${pctText(cpu.wrk)} |`,
    );
  }
}
function pids(cpu) {
  const w = cpu.workers.map(pctText).join(' + ');
  return cpu.primary === undefined ? w : `${pctText(cpu.primary)} / ${w}`;
}

const m = machineFacts();
const report = [
  '# One process against two workers',
  '',
  `Machine: ${m.nproc} × ${m.cpuModel}, ${m.kernel}, Node ${m.node}, ${m.wrk}, commit ${m.commit}.`,
  `Command: \`node bench/workers.mjs --rounds ${rounds} --duration ${duration}\` (wrk -t1, keep-alive, ${duration} s a`,
  'run after a 2 s warm-up; the service as `npm start` runs it, on SQLite). Nothing is pinned: wrk shares the',
  "two cores with the workers, so two workers cannot reach twice one process's rate here; CPU is % of one",
  'core over the run (primary / each worker; the middle round by req/s).',
  '',
  '| route | shape | req/s per round | ÷ 1 process, per round | non-2xx + socket errors | p99 (middle round) | CPU: primary / workers | CPU: wrk |',
  '| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |',
  ...lines,
  '',
].join('\n');
console.log(report);
if (values.out) writeFileSync(values.out, report);
