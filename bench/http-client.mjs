#!/usr/bin/env node
// weir's HTTP client against what it is built on: weir/http-client's get() (pool, breaker, retries,
// time limits, the body read whole) vs undici's request() on an Agent with the same connection limit vs
// Node's fetch(), each calling the same local upstream (a bare node:http server answering a 27-byte JSON
// body, pinned to core 1). Each contender runs in a process of its own pinned to core 0: --concurrency
// loops, each sending a call as soon as the last one answered, a 2 s warm-up, then --duration s measured
// (calls per second, and the p50 and p99 of one call's latency). Rounds rotate the order; ratios are
// ÷ undici within a round, reported as their median.
// Every process is stopped by PID; traffic goes to 127.0.0.1 only; each run is bounded in time.
//
//   node bench/http-client.mjs                        (3 rounds of 10 s)
//   node bench/http-client.mjs --rounds 1 --duration 3 --out bench/RESULTS-http-client.md

import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { HOST, ROOT } from './lib/common.mjs';
import { pinning } from './lib/cpu.mjs';
import { machineFacts } from './lib/machine.mjs';
import { cleanupOnExit, reap, spawnTracked, startServer, stopServer } from './lib/processes.mjs';
import { medianOf } from './lib/stats.mjs';

const CONTENDERS = ['weir', 'undici', 'fetch'];

const { values } = parseArgs({
  options: {
    rounds: { type: 'string', default: '3' },
    duration: { type: 'string', default: '10' },
    concurrency: { type: 'string', default: '32' },
    port: { type: 'string', default: '18191' },
    out: { type: 'string' },
    child: { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  },
});
if (values.help) {
  console.log(`node bench/http-client.mjs [--rounds N] [--duration S] [--concurrency C] [--out FILE]
  --rounds N         rounds, each running every contender once, in rotated order (3)
  --duration S       measured seconds of each run, after a 2 s warm-up (10)
  --concurrency C    calls in flight, and the connection limit of weir's and undici's pools (32)
  --port N           the upstream's port on 127.0.0.1 (18191)
  --out FILE         also write the Markdown report to FILE`);
  process.exit(0);
}
const rounds = Number(values.rounds);
const duration = Number(values.duration);
const concurrency = Number(values.concurrency);
const port = Number(values.port);
if (
  !(rounds >= 1 && rounds <= 10) ||
  !(duration >= 1 && duration <= 60) ||
  !(concurrency >= 1 && concurrency <= 256)
) {
  console.error('--rounds must be 1…10, --duration 1…60 seconds and --concurrency 1…256');
  process.exit(2);
}
const url = `http://${HOST}:${port}/`;

if (values.child !== undefined) {
  await runContender(values.child);
  process.exit(0);
}

/** In a child process: one contender's calls for 2 + `duration` s; prints { calls, rps, p50, p99, errors }. */
async function runContender(name) {
  let call;
  let close = async () => {};
  if (name === 'weir') {
    const { tsImport } = await import('tsx/esm/api');
    const { createHttpClient } = await tsImport('../src/http-client/index.ts', import.meta.url);
    const client = createHttpClient({ baseUrl: url, connections: concurrency });
    call = async () => (await client.get('/')).body.length;
    close = () => client.close();
  } else if (name === 'undici') {
    const { Agent, request } = await import('undici');
    const agent = new Agent({ connections: concurrency });
    call = async () => (await (await request(url, { dispatcher: agent })).body.arrayBuffer()).byteLength;
    close = () => agent.close();
  } else if (name === 'fetch') {
    call = async () => (await (await fetch(url)).arrayBuffer()).byteLength;
  } else {
    throw new Error(`unknown contender ${name}`);
  }
  const warmUntil = performance.now() + 2000;
  const endAt = warmUntil + duration * 1000;
  const latencies = [];
  let errors = 0;
  let cpuAtStart;
  const cpuTimer = setTimeout(() => {
    cpuAtStart = process.cpuUsage();
  }, 2000);
  const loop = async () => {
    for (let now = performance.now(); now < endAt; now = performance.now()) {
      try {
        await call();
        const done = performance.now();
        if (now >= warmUntil) latencies.push(done - now);
      } catch {
        errors++;
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, loop));
  clearTimeout(cpuTimer);
  const cpu = process.cpuUsage(cpuAtStart);
  await close();
  latencies.sort((a, b) => a - b);
  const at = (q) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? Number.NaN;
  console.log(
    JSON.stringify({
      calls: latencies.length,
      rps: latencies.length / duration,
      p50: at(0.5),
      p99: at(0.99),
      cpuUs: (cpu.user + cpu.system) / latencies.length,
      errors,
    }),
  );
}

const UPSTREAM = `require('node:http').createServer((req, res) => {
  res.writeHead(200, { 'content-type': 'application/json', 'content-length': '27' });
  res.end('{"message":"Hello, World!"}');
}).listen(${port}, '${HOST}');`;

const pin = pinning();
cleanupOnExit();
const upstream = await startServer({
  name: 'upstream',
  argv: [...pin.wrk, process.execPath, '-e', UPSTREAM],
  port,
  probe: async () => {
    const res = await fetch(url);
    await res.arrayBuffer();
  },
});

const results = new Map(CONTENDERS.map((name) => [name, []]));
try {
  for (let round = 0; round < rounds; round++) {
    const order = CONTENDERS.map((_, i) => CONTENDERS[(i + round) % CONTENDERS.length]);
    for (const name of order) {
      const argv = [
        ...pin.server,
        process.execPath,
        new URL(import.meta.url).pathname,
        '--child',
        name,
        '--duration',
        String(duration),
        '--concurrency',
        String(concurrency),
        '--port',
        String(port),
      ];
      const run = spawnTracked(argv, { cwd: ROOT });
      const timer = setTimeout(() => run.child.kill('SIGKILL'), (duration + 30) * 1000);
      const { code } = await run.exited;
      clearTimeout(timer);
      const text = run.log.join('');
      if (code !== 0) throw new Error(`${name} exited with ${code}:\n${text}`);
      const r = JSON.parse(
        text
          .trim()
          .split('\n')
          .findLast((line) => line.startsWith('{')),
      );
      results.get(name)[round] = r;
      console.log(
        `round ${round + 1} ${name}: ${Math.round(r.rps)} calls/s, p50 ${r.p50.toFixed(2)} ms, p99 ${r.p99.toFixed(2)} ms, ${r.errors} errors`,
      );
    }
  }
} finally {
  await stopServer(upstream);
  await reap(upstream, 1000);
}

const base = results.get('undici');
const lines = CONTENDERS.map((name) => {
  const runs = results.get(name);
  const rps = runs.map((r, i) => r.rps / base[i].rps);
  const p99 = runs.map((r, i) => r.p99 / base[i].p99);
  const cpu = medianOf(runs.map((r) => r.cpuUs));
  return (
    `| ${name} | ${runs.map((r) => Math.round(r.rps)).join(', ')} | **${medianOf(rps).toFixed(2)}** | ` +
    `${runs.map((r) => r.p99.toFixed(2)).join(', ')} | **${medianOf(p99).toFixed(2)}** | ${Math.round(cpu)} | ${runs.reduce((a, r) => a + r.errors, 0)} |`
  );
});
const m = machineFacts();
const report = [
  '# weir/http-client vs undici request() vs fetch()',
  '',
  `Machine: ${m.nproc} × ${m.cpuModel}, ${m.kernel}, Node ${m.node}, commit ${m.commit}.`,
  `Command: \`node bench/http-client.mjs --rounds ${rounds} --duration ${duration} --concurrency ${concurrency}\`: each`,
  `contender in its own process pinned to core 0 with ${concurrency} calls in flight (weir's and undici's pools limited`,
  `to ${concurrency} connections; fetch uses Node's global dispatcher), against a node:http upstream pinned to core 1`,
  'answering 27 bytes of JSON; a 2 s warm-up, then the measured run; rounds rotate the order. Ratios are ÷ undici',
  'within a round; their median is in bold. p99 is of one call, sending to body read. The undici contender',
  "reads its body with body.arrayBuffer(); weir's client reads it whole too, within maxBodyBytes. On a machine",
  'shared with other work, whole rounds move by a third: read the ratios within a round, not the raw numbers,',
  "and the client process's CPU time per call, which the neighbours disturb less.",
  '',
  '| client | calls/s per round | calls/s ÷ undici | p99 ms per round | p99 ÷ undici | client CPU µs per call (median) | errors |',
  '| --- | ---: | ---: | ---: | ---: | ---: | ---: |',
  ...lines,
  '',
].join('\n');
console.log(report);
if (values.out) writeFileSync(values.out, report);
