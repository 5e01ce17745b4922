#!/usr/bin/env node
// Rolling reload under steady load: the reference service started as `npm start` starts it with
// WEB_CONCURRENCY=2 (node scripts/start.mjs; SQLite files in a temporary folder, CACHE_URL=memory:), loaded
// by wrk (one thread, keep-alive connections) on GET --path in three phases, each its own wrk run:
//   before   --phase seconds of load;
//   during   --phase × 2 seconds of load, with SIGHUP sent to the primary 1 s in (both workers replaced
//            one at a time; the line "reload done" is awaited before this phase ends);
//   after    --phase seconds of load.
// For each phase: requests, req/s, non-2xx, socket errors, p50 and p99. Target: 0 non-2xx and 0 socket
// errors during the reload. wrk and the service share this machine's cores (say so with the numbers).
// Every process is stopped by PID; traffic goes to 127.0.0.1 only; each wrk run is bounded in time.
//
//   node bench/reload.mjs                       (about 40 s with the defaults)
//   node bench/reload.mjs --phase 10 --connections 64 --path /json --out /tmp/reload.md

import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { HOST, sleep } from './lib/common.mjs';
import { machineFacts } from './lib/machine.mjs';
import { startNpmService, wrkFigures } from './lib/npm-service.mjs';
import { cleanupOnExit, runBounded } from './lib/processes.mjs';

const { values } = parseArgs({
  options: {
    phase: { type: 'string', default: '8' },
    connections: { type: 'string', default: '32' },
    path: { type: 'string', default: '/json' },
    port: { type: 'string', default: '18181' },
    out: { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  },
});
if (values.help) {
  console.log(`node bench/reload.mjs [--phase S] [--connections N] [--path P] [--port N] [--out FILE]
  --phase S        seconds of the before and after runs; the run during the reload is twice as long (8)
  --connections N  wrk's keep-alive connections (32)
  --path P         the route loaded (/json)
  --port N         the service's port on 127.0.0.1 (18181)
  --out FILE       also write the Markdown table to FILE`);
  process.exit(0);
}
const phase = Number(values.phase);
const connections = Number(values.connections);
const port = Number(values.port);
if (!(phase > 0 && phase <= 60) || !(connections > 0 && connections <= 1024)) {
  console.error('--phase must be 1…60 seconds and --connections 1…1024');
  process.exit(2);
}

cleanupOnExit(); // a runner that fails leaves no service behind
const service = startNpmService({ port, env: { WEB_CONCURRENCY: '2' } });
const { stop } = service;
const out = () => service.output();

/** One wrk run of `seconds`; the numbers a row needs. */
async function load(seconds) {
  const args = [
    'wrk',
    '-t1',
    `-c${connections}`,
    `-d${seconds}s`,
    '--latency',
    `http://${HOST}:${port}${values.path}`,
  ];
  const { text } = await runBounded(args, seconds, 'wrk').done;
  return wrkFigures(text);
}

try {
  await service.waitFor(/weir: serving .* with 2 workers/, 120_000);
  const primaryPid = Number(/primary pid (\d+)/.exec(out())[1]);
  await load(2); // warm-up
  const before = await load(phase);
  const during = load(phase * 2);
  await sleep(1000);
  process.kill(primaryPid, 'SIGHUP');
  const reloadStart = Date.now();
  await service.waitFor(/reload done: 2 workers replaced/, phase * 2000);
  const reloadMs = Date.now() - reloadStart;
  const duringResult = await during;
  const after = await load(phase);
  const m = machineFacts();
  const row = (name, r) =>
    `| ${name} | ${r.requests} | ${Math.round(r.rps)} | ${r.non2xx} | ${r.socketErrors} | ${r.p50} | ${r.p99} |`;
  const report = [
    '# Rolling reload under load',
    '',
    `Machine: ${m.nproc} × ${m.cpuModel}, ${m.kernel}, Node ${m.node}, ${m.wrk}, commit ${m.commit}. wrk and the`,
    'service (a primary and 2 workers) share these cores.',
    `Command: \`node bench/reload.mjs --phase ${phase} --connections ${connections} --path ${values.path}\``,
    `(wrk -t1 -c${connections}, keep-alive; SIGHUP 1 s into "during"; both workers replaced in ${reloadMs} ms).`,
    '',
    '| phase | requests | req/s | non-2xx | socket errors | p50 | p99 |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: |',
    row(`before (${phase} s)`, before),
    row(`during reload (${phase * 2} s)`, duringResult),
    row(`after (${phase} s)`, after),
    '',
  ].join('\n');
  console.log(report);
  if (values.out) writeFileSync(values.out, report);
  const failed = duringResult.non2xx + duringResult.socketErrors;
  if (failed > 0) process.exitCode = 1;
} finally {
  await stop();
}
