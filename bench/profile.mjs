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
import { mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { BENCH_DIR, HOST, portAnswers, ROOT, sleep } from './lib.mjs';

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
const profile = JSON.parse(readFileSync(join(dir, file), 'utf8'));

// Self time per node from the samples; total time by walking the tree.
const byId = new Map(profile.nodes.map((n) => [n.id, { ...n, self: 0 }]));
for (let i = 0; i < profile.samples.length; i++)
  byId.get(profile.samples[i]).self += profile.timeDeltas[i] ?? 0;
const parent = new Map();
for (const n of byId.values()) for (const c of n.children ?? []) parent.set(c, n.id);
const key = (n) => {
  const f = n.callFrame;
  const url = f.url.startsWith('file://') ? relative(ROOT, fileURLToPath(f.url)) : f.url;
  return `${f.functionName || '(anonymous)'}  ${url}${url ? `:${f.lineNumber + 1}` : ''}`;
};
const self = new Map();
const total = new Map();
let all = 0;
for (const n of byId.values()) {
  const k = key(n);
  self.set(k, (self.get(k) ?? 0) + n.self);
  all += n.self;
  // Charge this node's self time to each distinct function on its stack (once per function).
  const seen = new Set();
  for (let id = n.id; id !== undefined; id = parent.get(id)) {
    const kk = key(byId.get(id));
    if (seen.has(kk)) continue;
    seen.add(kk);
    total.set(kk, (total.get(kk) ?? 0) + n.self);
  }
}
const idle = [...self].filter(([k]) => k.startsWith('(idle)')).reduce((s, [, v]) => s + v, 0);
const busy = all - idle;
const pct = (v) => `${((v / busy) * 100).toFixed(1).padStart(5)} %`;

console.log(
  `\n${server} /${route}: ${rps} req/s under the profiler; ${(busy / 1e6).toFixed(1)} s busy of ${(all / 1e6).toFixed(1)} s sampled; percentages are of busy time.`,
);
console.log(`profile: ${relative(process.cwd(), join(dir, file))}\n`);
console.log(`top ${top} by self time:`);
for (const [k, v] of [...self]
  .filter(([k]) => !k.startsWith('(idle)'))
  .sort((a, b) => b[1] - a[1])
  .slice(0, top))
  console.log(`  ${pct(v)}  ${k}`);
const own = (k) => k.includes('dist/');
console.log(`\nweir's own functions (dist/) by self time:`);
for (const [k, v] of [...self]
  .filter(([k]) => own(k))
  .sort((a, b) => b[1] - a[1])
  .slice(0, top))
  console.log(`  ${pct(v)}  ${k}`);
console.log(`\nweir's own functions (dist/) by total time (self + callees):`);
for (const [k, v] of [...total]
  .filter(([k]) => own(k))
  .sort((a, b) => b[1] - a[1])
  .slice(0, top))
  console.log(`  ${pct(v)}  ${k}`);
