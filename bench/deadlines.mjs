#!/usr/bin/env node
// The cost of deadline propagation: the reference service started as `npm start` starts it, with and
// without DEADLINES=on. With it, GET /db and /queries run under a route deadline (`timeoutMs`, so each
// request arms a timer and gets ctx.deadline) and pass `ctx` to every query (`db.with(ctx)`: each query
// runs under the request's signal and deadline, and a PostgreSQL query is cancelled on the server at it).
// Without it they are the TechEmpower routes as they are, no signal, no deadline.
// Each shape is loaded by wrk (one thread, keep-alive, 64 connections) pinned to core 1, the service
// pinned to core 0 (every thread), --rounds alternating rounds (the order flips each round), --duration s a
// run after a 2 s warm-up; ratios are on ÷ off within a round.
// Every process is stopped by PID; traffic goes to 127.0.0.1 only; each wrk run is bounded in time.
//
//   node bench/deadlines.mjs --database-url postgres://postgres@127.0.0.1:5432/weir_bench
//   node bench/deadlines.mjs --rounds 1 --duration 5            (SQLite in a temporary folder)

import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { pinning } from './lib/cpu.mjs';
import { machineFacts } from './lib/machine.mjs';
import { loadWithCpu, startPinnedService } from './lib/npm-service.mjs';
import { cleanupOnExit } from './lib/processes.mjs';
import { medianOf } from './lib/stats.mjs';

const { values } = parseArgs({
  options: {
    rounds: { type: 'string', default: '3' },
    duration: { type: 'string', default: '10' },
    port: { type: 'string', default: '18183' },
    'database-url': { type: 'string' },
    out: { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  },
});
if (values.help) {
  console.log(`node bench/deadlines.mjs [--rounds N] [--duration S] [--database-url URL] [--out FILE]
  --rounds N            alternating rounds (3)
  --duration S          seconds of each wrk run (10)
  --database-url URL    the service's DATABASE_URL (default: SQLite in a temporary folder)
  --port N              the service's port on 127.0.0.1 (18183)
  --out FILE            also write the Markdown report to FILE`);
  process.exit(0);
}
const rounds = Number(values.rounds);
const duration = Number(values.duration);
const port = Number(values.port);
if (!(rounds >= 1 && rounds <= 10) || !(duration >= 1 && duration <= 60)) {
  console.error('--rounds must be 1…10 and --duration 1…60 seconds');
  process.exit(2);
}
const databaseEnv = values['database-url'] === undefined ? {} : { DATABASE_URL: values['database-url'] };
const engine = values['database-url']?.startsWith('postgres') ? 'PostgreSQL' : 'SQLite';

const pin = pinning();
const SHAPES = [
  { name: 'off', env: {} },
  { name: 'on', env: { DEADLINES: 'on' } },
];
const ROUTES = ['/db', '/queries?queries=20'];

const start = (shape) =>
  startPinnedService({ port, env: { ...databaseEnv, ...shape.env }, pin, label: `deadlines ${shape.name}` });
const load = (path, seconds, pid) => loadWithCpu({ pin, port, path, seconds, pid });

cleanupOnExit();
const results = new Map(); // `${shape}|${path}` → runs, one per round
for (let round = 0; round < rounds; round++) {
  const order = round % 2 === 0 ? SHAPES : [...SHAPES].reverse();
  for (const shape of order) {
    const service = await start(shape);
    try {
      for (const path of ROUTES) {
        await load(path, 2, service.child.pid);
        const r = await load(path, duration, service.child.pid);
        const key = `${shape.name}|${path}`;
        const runs = results.get(key) ?? [];
        runs[round] = r;
        results.set(key, runs);
        console.log(
          `round ${round + 1} deadlines ${shape.name} ${path}: ${Math.round(r.rps)} req/s, p99 ${r.p99}, ${Math.round(r.cpuUsPerRequest)} µs CPU/request`,
        );
      }
    } finally {
      await service.stop();
    }
  }
}

const lines = [];
for (const path of ROUTES) {
  const off = results.get(`off|${path}`);
  const on = results.get(`on|${path}`);
  const ratios = on.map((r, i) => r.rps / off[i].rps);
  const us = (runs) => Math.round(medianOf(runs.map((r) => r.cpuUsPerRequest)));
  const errors = [...on, ...off].reduce((a, r) => a + r.non2xx + r.socketErrors, 0);
  lines.push(
    `| ${path} | ${off.map((r) => Math.round(r.rps)).join(', ')} | ${on.map((r) => Math.round(r.rps)).join(', ')} | ` +
      `${ratios.map((x) => x.toFixed(2)).join(', ')} | **${medianOf(ratios).toFixed(2)}** | ${us(off)} → ${us(on)} | ${errors} |`,
  );
}
const m = machineFacts();
const report = [
  '# The cost of deadline propagation',
  '',
  `Machine: ${m.nproc} × ${m.cpuModel}, ${m.kernel}, Node ${m.node}, ${m.wrk}, commit ${m.commit}. Database: ${engine}.`,
  `Command: \`node bench/deadlines.mjs --rounds ${rounds} --duration ${duration}${engine === 'PostgreSQL' ? ' --database-url postgres://…' : ''}\`: the service as`,
  '`npm start` runs it, pinned to core 0; wrk -t1 -c64 (keep-alive) pinned to core 1; a 2 s warm-up, then',
  `${duration} s a run; rounds alternate which shape goes first. "on" is DEADLINES=on: a route deadline and`,
  '`db.with(ctx)` on every query; "off" passes no signal and has no deadline. PostgreSQL is not pinned: it',
  "shares both cores, so req/s moves with it; the service's CPU per request (all its threads) is the cost itself.",
  '',
  '| route | off req/s per round | on req/s per round | on ÷ off per round | median ratio | service CPU µs per request, off → on | non-2xx + socket errors |',
  '| --- | ---: | ---: | ---: | ---: | ---: | ---: |',
  ...lines,
  '',
].join('\n');
console.log(report);
if (values.out) writeFileSync(values.out, report);
