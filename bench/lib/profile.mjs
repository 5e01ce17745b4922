// CPU profiles (node --cpu-prof) of a benchmark server under load, taken and summed up as text: for
// bench/profile.mjs and the --profile of bench/db.mjs, bench/auth.mjs and bench/protection.mjs.

import { mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BENCH_DIR, ROOT } from './common.mjs';
import { stopServer } from './processes.mjs';

/** Where the .cpuprofile files go (gitignored), to open in Chrome DevTools or VS Code. */
const PROFILES = join(BENCH_DIR, 'results', 'raw', 'profiles');

/**
 * Profiles a server under load: `start(nodeArgs)` starts it with those node options (--cpu-prof into
 * results/raw/profiles/), `load(server)` loads it and resolves to its req/s; then the server is stopped
 * by SIGTERM, on which it exits so that the profile gets written. Resolves to { file (the main thread's
 * .cpuprofile), rps, log (the server's output) }.
 */
export async function profileServer(start, load) {
  mkdirSync(PROFILES, { recursive: true });
  const before = new Set(readdirSync(PROFILES));
  // SIGTERM → process.exit(0), so that --cpu-prof writes its file (a signal death writes nothing).
  const onTerm = `data:text/javascript,process.on('SIGTERM',()=>process.exit(0))`;
  const server = await start(['--cpu-prof', `--cpu-prof-dir=${PROFILES}`, '--import', onTerm]);
  let rps;
  try {
    rps = await load(server);
  } finally {
    await stopServer(server, 10_000);
  }
  // One file per thread (a worker pool, had one started, would write its own); the main thread's has the
  // lowest thread id.
  const file = readdirSync(PROFILES)
    .filter((f) => f.endsWith('.cpuprofile') && !before.has(f))
    .sort((a, b) => Number(a.split('.').at(-3)) - Number(b.split('.').at(-3)))[0];
  if (!file) throw new Error('no .cpuprofile was written');
  return { file: join(PROFILES, file), rps, log: server.log.join('').trim() };
}

/**
 * A .cpuprofile (node --cpu-prof) as text: the functions with the most self time, then the functions whose
 * file (relative to the repo) passes `own` — weir's own code — by self and by total time (self + callees).
 * Percentages are of busy (non-idle) time.
 */
export function summarizeProfile(file, { top = 25, own = (url) => url.startsWith('dist/') } = {}) {
  const profile = JSON.parse(readFileSync(file, 'utf8'));
  // Self time per node from the samples; total time by walking the tree.
  const byId = new Map(profile.nodes.map((n) => [n.id, { ...n, self: 0 }]));
  for (let i = 0; i < profile.samples.length; i++)
    byId.get(profile.samples[i]).self += profile.timeDeltas[i] ?? 0;
  const parent = new Map();
  for (const n of byId.values()) for (const c of n.children ?? []) parent.set(c, n.id);
  const urlOf = (n) =>
    n.callFrame.url.startsWith('file://') ? relative(ROOT, fileURLToPath(n.callFrame.url)) : n.callFrame.url;
  const key = (n) => {
    const url = urlOf(n);
    return `${n.callFrame.functionName || '(anonymous)'}  ${url}${url ? `:${n.callFrame.lineNumber + 1}` : ''}`;
  };
  const ownKeys = new Set();
  const self = new Map();
  const total = new Map();
  let all = 0;
  for (const n of byId.values()) {
    const k = key(n);
    if (own(urlOf(n))) ownKeys.add(k);
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
  const lines = [
    `${(busy / 1e6).toFixed(1)} s busy of ${(all / 1e6).toFixed(1)} s sampled; percentages are of busy time.`,
    `profile: ${relative(process.cwd(), file)}`,
    '',
  ];
  const list = (title, map, filter) => {
    lines.push(title);
    for (const [k, v] of [...map]
      .filter(([k]) => filter(k))
      .sort((a, b) => b[1] - a[1])
      .slice(0, top))
      lines.push(`  ${pct(v)}  ${k}`);
    lines.push('');
  };
  list(`top ${top} by self time:`, self, (k) => !k.startsWith('(idle)'));
  list("weir's own functions by self time:", self, (k) => ownKeys.has(k));
  list("weir's own functions by total time (self + callees):", total, (k) => ownKeys.has(k));
  return lines.join('\n');
}

/**
 * Profiles a server under load as profileServer() does (`start`, `load`), then prints its req/s under the
 * profiler, after `name`, and where its time went (summarizeProfile()).
 */
export async function printProfile(name, start, load) {
  const { file, rps } = await profileServer(start, load);
  console.log(`${name}: ${Math.round(rps)} req/s under --cpu-prof\n`);
  console.log(summarizeProfile(file));
}
