#!/usr/bin/env node
// The cost of observability: the reference service started as `npm start` starts it, with its Prometheus
// metrics off (METRICS=off), on (its default), and on with the access log written to a file
// (ACCESS_LOG=<tmp file>). Request ids are on in every shape (they are the core's own, and cannot be
// turned off: the base of every comparison here).
// Each shape is loaded by wrk (one thread, keep-alive, 64 connections) pinned to core 1, the service
// pinned to core 0 (every thread), --rounds rounds (the shapes' order rotates each round), --duration s a
// run after a 2 s warm-up; ratios are shape ÷ off within a round.
// Every process is stopped by PID; traffic goes to 127.0.0.1 only; each wrk run is bounded in time.
//
//   node bench/observability.mjs                      (SQLite in a temporary folder; writes nothing)
//   node bench/observability.mjs --rounds 1 --duration 5 --out /tmp/observability.md

import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
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
    port: { type: 'string', default: '18185' },
    'database-url': { type: 'string' },
    out: { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  },
});
if (values.help) {
  console.log(`node bench/observability.mjs [--rounds N] [--duration S] [--database-url URL] [--out FILE]
  --rounds N            alternating rounds (3)
  --duration S          seconds of each wrk run (10)
  --database-url URL    the service's DATABASE_URL (default: SQLite in a temporary folder)
  --port N              the service's port on 127.0.0.1 (18185)
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
const logDir = mkdtempSync(join(tmpdir(), 'weir-bench-access-'));
const accessFile = join(logDir, 'access.log');
const SHAPES = [
  { name: 'off', env: { METRICS: 'off' } },
  { name: 'metrics', env: {} },
  { name: 'metrics+log', env: { ACCESS_LOG: accessFile } },
];
const ROUTES = ['/plaintext', '/db'];

const start = (shape) =>
  startPinnedService({ port, env: { ...databaseEnv, ...shape.env }, pin, label: shape.name });
const load = (path, seconds, pid) => loadWithCpu({ pin, port, path, seconds, pid });

cleanupOnExit();
const results = new Map(); // `${shape}|${path}` → runs, one per round
for (let round = 0; round < rounds; round++) {
  const order = SHAPES.map((_, i) => SHAPES[(i + round) % SHAPES.length]);
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
          `round ${round + 1} ${shape.name} ${path}: ${Math.round(r.rps)} req/s, p99 ${r.p99}, ${Math.round(r.cpuUsPerRequest)} µs CPU/request`,
        );
      }
    } finally {
      await service.stop();
    }
  }
}

let logBytes = 0;
try {
  logBytes = statSync(accessFile).size;
} catch {}
rmSync(logDir, { recursive: true, force: true });

const lines = [];
for (const path of ROUTES) {
  const off = results.get(`off|${path}`);
  for (const shape of SHAPES.slice(1)) {
    const runs = results.get(`${shape.name}|${path}`);
    const ratios = runs.map((r, i) => r.rps / off[i].rps);
    const us = (rs) => medianOf(rs.map((r) => r.cpuUsPerRequest)).toFixed(1);
    const errors = [...runs, ...off].reduce((a, r) => a + r.non2xx + r.socketErrors, 0);
    lines.push(
      `| ${path} | ${shape.name} | ${off.map((r) => Math.round(r.rps)).join(', ')} | ${runs.map((r) => Math.round(r.rps)).join(', ')} | ` +
        `${ratios.map((x) => x.toFixed(2)).join(', ')} | **${medianOf(ratios).toFixed(2)}** | ${us(off)} → ${us(runs)} | ${errors} |`,
    );
  }
}
const m = machineFacts();
const report = [
  '# The cost of observability: metrics and the access log',
  '',
  `Machine: ${m.nproc} × ${m.cpuModel}, ${m.kernel}, Node ${m.node}, ${m.wrk}, commit ${m.commit}. Database: ${engine}.`,
  `Command: \`node bench/observability.mjs --rounds ${rounds} --duration ${duration}\`: the service as \`npm start\``,
  'runs it, pinned to core 0; wrk -t1 -c64 (keep-alive) pinned to core 1; a 2 s warm-up, then',
  `${duration} s a run; the shapes' order rotates each round. "off" is METRICS=off; "metrics" the service's`,
  'default (`/metrics` served, every request counted); "metrics+log" adds ACCESS_LOG=<file>, one JSON line per',
  `request written asynchronously (${(logBytes / 2 ** 20).toFixed(0)} MiB written in all). Request ids are on in every shape.`,
  '',
  '| route | shape | off req/s per round | shape req/s per round | shape ÷ off per round | median ratio | service CPU µs per request, off → shape | non-2xx + socket errors |',
  '| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |',
  ...lines,
  '',
].join('\n');
console.log(report);
if (values.out) writeFileSync(values.out, report);
