#!/usr/bin/env node
// CPU profile of one benchmark server under wrk load: where does a request's time go?
//
//   node bench/profile.mjs                          (weir, /json, 3 s warm-up + 10 s profiled)
//   node bench/profile.mjs --server fastify --route plaintext --duration 5 --top 30
//
// Runs the server pinned to core 0 with `node --cpu-prof`, loads it with wrk pinned to core 1 (127.0.0.1
// only), stops it, and prints the functions with the most self time, then weir's own functions (files
// under dist/) by self and total time. The .cpuprofile lands in bench/results/raw/profiles/ (gitignored);
// open it in Chrome DevTools (Performance tab) or VS Code for the flame graph. Build weir first
// (`npm run build`, or `npm run bench` does it).

import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { BENCH_DIR, HOST, portAnswers, sleep, summarizeProfile } from './lib.mjs';

const { values } = parseArgs({
  options: {
    server: { type: 'string', default: 'weir' },
    route: { type: 'string', default: 'json' },
    duration: { type: 'string', default: '10' },
    warmup: { type: 'string', default: '3' },
    connections: { type: 'string', default: '64' },
    port: { type: 'string', default: '3190' },
    top: { type: 'string', default: '25' },
  },
});
const server = values.server;
const route = values.route;
const duration = Number(values.duration);
const warmup = Number(values.warmup);
const port = Number(values.port);
const top = Number(values.top);
if (!['weir', 'fastify', 'node'].includes(server)) throw new Error(`unknown --server ${server}`);
if (!['plaintext', 'json'].includes(route)) throw new Error(`unknown --route ${route}`);

const answers = () => portAnswers(port);

function wrk(seconds) {
  const args = [
    '-c',
    '1',
    'wrk',
    '-t1',
    `-c${values.connections}`,
    `-d${seconds}s`,
    `http://${HOST}:${port}/${route}`,
  ];
  const r = spawnSync('taskset', args, { encoding: 'utf8', timeout: (seconds + 30) * 1000 });
  if (r.status !== 0) throw new Error(`wrk failed: ${r.stdout}${r.stderr}`);
  return /Requests\/sec:\s+([\d.]+)/.exec(r.stdout)?.[1];
}

const dir = join(BENCH_DIR, 'results', 'raw', 'profiles');
mkdirSync(dir, { recursive: true });
const before = new Set(readdirSync(dir));
if (await answers()) throw new Error(`something already listens on ${HOST}:${port}`);

// SIGTERM → process.exit(0), so that --cpu-prof writes its file (a signal death writes nothing).
const onTerm = `data:text/javascript,process.on('SIGTERM',()=>process.exit(0))`;
const child = spawn(
  'taskset',
  [
    '-c',
    '0',
    process.execPath,
    '--cpu-prof',
    `--cpu-prof-dir=${dir}`,
    '--import',
    onTerm,
    join('servers', `${server}.mjs`),
  ],
  { cwd: BENCH_DIR, env: { ...process.env, PORT: String(port), NODE_ENV: 'production' }, stdio: 'inherit' },
);
const exited = new Promise((resolve) => child.once('exit', resolve));
for (let i = 0; !(await answers()); i++) {
  if (i > 150 || child.exitCode !== null) throw new Error(`${server} did not start`);
  await sleep(100);
}
if (warmup > 0) wrk(warmup);
const rps = wrk(duration);
child.kill('SIGTERM');
const killer = setTimeout(() => child.kill('SIGKILL'), 10_000);
await exited;
clearTimeout(killer);

const file = readdirSync(dir).find((f) => f.endsWith('.cpuprofile') && !before.has(f));
if (!file) throw new Error('no .cpuprofile was written');
console.log(`\n${server} /${route}: ${rps} req/s under the profiler`);
console.log(summarizeProfile(join(dir, file), { top, own: (url) => url.startsWith('dist/') }));
