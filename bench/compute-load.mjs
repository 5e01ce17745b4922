#!/usr/bin/env node
// Background load for bench/compute.mjs: GET /compute?n=<n> at a fixed rate (open loop) for a bounded
// time, over keep-alive connections to 127.0.0.1, with at most --max-outstanding requests in flight (a
// tick that finds them all busy sends nothing and is counted as skipped). Prints one JSON line with what
// it saw: requests sent, statuses, latencies. Writes `ready` to stderr just before the first request, so
// a runner can start its other load at the same moment.
//
//   node bench/compute-load.mjs --port 3100 --rate 20 --duration 10 --n 1000000
//
// Every request stops at --timeout ms; the process ends at most --timeout ms after --duration.

import { Agent, request } from 'node:http';
import { parseArgs } from 'node:util';

const HOST = '127.0.0.1'; // never anything else

const { values } = parseArgs({
  options: {
    port: { type: 'string', default: '3100' },
    rate: { type: 'string', default: '20' },
    duration: { type: 'string', default: '10' },
    n: { type: 'string', default: '1000000' },
    'max-outstanding': { type: 'string', default: '4' },
    timeout: { type: 'string', default: '5000' },
  },
  strict: true,
});
const port = Number(values.port);
const rate = Number(values.rate);
const duration = Number(values.duration);
const maxOutstanding = Number(values['max-outstanding']);
const timeout = Number(values.timeout);
const path = `/compute?n=${Number(values.n)}`;
for (const [name, v] of Object.entries({ port, rate, duration, maxOutstanding, timeout }))
  if (!(v > 0)) throw new Error(`--${name} must be a positive number`);

const agent = new Agent({ keepAlive: true, maxSockets: maxOutstanding });
const latencies = [];
const statuses = {};
let sent = 0;
let skipped = 0;
let errors = 0;
let outstanding = 0;
const errorTexts = new Set();

function fire() {
  sent++;
  outstanding++;
  const t0 = performance.now();
  const done = (status) => {
    outstanding--;
    if (status === undefined) errors++;
    else {
      statuses[status] = (statuses[status] ?? 0) + 1;
      if (status === 200) latencies.push(performance.now() - t0);
    }
  };
  const req = request({ host: HOST, port, path, method: 'GET', agent, timeout }, (res) => {
    res.resume();
    res.once('end', () => done(res.statusCode));
    res.once('error', () => done(undefined));
  });
  req.once('timeout', () => req.destroy(new Error(`timeout after ${timeout} ms`)));
  req.once('error', (err) => {
    errorTexts.add(err.message);
    done(undefined);
  });
  req.end();
}

const interval = 1000 / rate;
const total = Math.round(duration * rate);
process.stderr.write('ready\n');
const start = performance.now();
for (let i = 0; i < total; i++) {
  // Ticks at fixed times from the start, whatever happened to the previous ones (open loop).
  const wait = start + i * interval - performance.now();
  if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
  if (outstanding >= maxOutstanding) skipped++;
  else fire();
}
const sendEnd = performance.now();
const deadline = sendEnd + timeout + 500;
while (outstanding > 0 && performance.now() < deadline) await new Promise((r) => setTimeout(r, 10));
agent.destroy();

latencies.sort((a, b) => a - b);
const pct = (p) =>
  latencies.length === 0
    ? null
    : latencies[Math.min(latencies.length - 1, Math.ceil(p * latencies.length) - 1)];
process.stdout.write(
  `${JSON.stringify({
    path,
    rate,
    duration,
    seconds: (sendEnd - start) / 1000 + interval / 1000,
    sent,
    skipped,
    ok: statuses[200] ?? 0,
    statuses,
    errors,
    errorTexts: [...errorTexts],
    unfinished: outstanding,
    p50: pct(0.5),
    p99: pct(0.99),
    max: latencies.at(-1) ?? null,
  })}\n`,
);
process.exit(0);
