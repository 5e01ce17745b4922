// What the benchmark runners share (bench/run.mjs, bench/compute.mjs, bench/profile.mjs, bench/db.mjs,
// bench/cache.mjs, bench/queue.mjs): paths, child processes (start, wait for the port, stop, kill on exit),
// wrk's output, CPU from /proc, the machine's facts and the parts of the Markdown report that are the same;
// for the runners of the reference service (db.mjs, cache.mjs, queue.mjs), their command line or its flag
// readers, rounds, summary and common report parts, and the service's compiled build, its start, its
// TechEmpower answers and its PostgreSQL database. Reading wrk's output, the median, the rotation of the
// servers over the rounds and the way numbers are written come from weir bench (src/bench), loaded from
// source with tsx. Traffic goes to 127.0.0.1 only.

import { execFileSync, spawn, spawnSync } from 'node:child_process';
import {
  cpSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { request } from 'node:http';
import { createConnection } from 'node:net';
import { availableParallelism, cpus, loadavg } from 'node:os';
import { basename, dirname, join, relative, sep } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { tsImport } from 'tsx/esm/api';

// weir bench's modules, from source: a runner needs no build of weir for them (the servers it measures
// load no tsx; only this process does).
const weirBench = await tsImport('../src/bench/index.ts', import.meta.url);
export const {
  parseWrk,
  toMs,
  wrkCounts,
  wrkPercentiles,
  median,
  fmtInt,
  fmtMs,
  fmtPct,
  fmtRatio,
  rotation,
} = weirBench;

export const BENCH_DIR = dirname(fileURLToPath(import.meta.url));
export const ROOT = dirname(BENCH_DIR);
export const HOST = '127.0.0.1'; // never anything else

// ---------------------------------------------------------------------------------------------- helpers

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Whether `command` is on PATH. */
export const have = (command) => weirBench.findOnPath(command, process.env.PATH) !== undefined;

/** A command's stdout and stderr, trimmed. */
export function output(command, args, cwd) {
  const result = spawnSync(command, args, { encoding: 'utf8', cwd });
  return `${result.stdout ?? ''}${result.stderr ?? ''}`.trim();
}

/**
 * The command as it was typed, for the report: the runner at `url` (or `npm run <npmScript>`), its
 * arguments, and in front the env variables starting with `envPrefix`, if one is given.
 */
export function invocation(url, npmScript, envPrefix) {
  const knobs = envPrefix
    ? Object.entries(process.env)
        .filter(([name]) => name.startsWith(envPrefix))
        .map(([name, value]) => `${name}=${value} `)
        .join('')
    : '';
  const args = process.argv.slice(2).join(' ');
  const viaNpm = process.env.npm_lifecycle_event === npmScript;
  const file = fileURLToPath(url);
  const base = viaNpm ? `npm run ${npmScript}` : `node ${relative(process.cwd(), file) || basename(file)}`;
  return `${knobs}${base}${args ? (viaNpm ? ` -- ${args}` : ` ${args}`) : ''}`;
}

// -------------------------------------------------------------------------------------------- processes

/** Child processes still running, killed by PID if the runner exits early. */
const live = new Set();

export function track(child) {
  live.add(child);
  child.once('exit', () => live.delete(child));
  return child;
}

/** SIGKILL, by PID, to every tracked child process that is still running. */
export function killLive() {
  for (const child of live) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
}

/**
 * Every way out (fail(), a signal, an exception, the normal end) passes through 'exit': there the tracked
 * children are killed, then `cleanup` runs. SIGINT and SIGTERM exit with 130 and 143.
 */
export function cleanupOnExit(cleanup) {
  process.once('exit', () => {
    killLive();
    cleanup?.();
  });
  process.once('SIGINT', () => process.exit(130));
  process.once('SIGTERM', () => process.exit(143));
}

export function portAnswers(port) {
  return new Promise((resolve) => {
    const socket = createConnection({ host: HOST, port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/** One GET to 127.0.0.1, without keep-alive: { status, headers, body }. */
export function get(port, path, timeout = 2000) {
  return send(port, path, { method: 'GET', timeout });
}

/** One POST of JSON text `body` to 127.0.0.1, without keep-alive: { status, headers, body }. */
export function post(port, path, body, timeout = 5000) {
  return send(port, path, { method: 'POST', timeout, body: Buffer.from(body) });
}

function send(port, path, { method, timeout, body }) {
  const headers = body && { 'content-type': 'application/json', 'content-length': body.length };
  return new Promise((resolve, reject) => {
    const req = request({ host: HOST, port, path, method, agent: false, timeout, headers }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk) => {
        text += chunk;
      });
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: text }));
    });
    req.once('timeout', () => req.destroy(new Error('timeout')));
    req.once('error', reject);
    req.end(body);
  });
}

/**
 * Starts a server (`argv`, in bench/, with `env` added to the environment) and waits up to 15 s until
 * `port` answers and `probe` resolves. `name` names it in errors; its output goes to `log`. Resolves to
 * { child, exited, log, isDead }.
 */
export async function startServer({ name, argv, env, port, probe, log = [] }) {
  if (await portAnswers(port))
    throw new Error(`something already listens on ${HOST}:${port}; pick another --port`);
  const child = track(
    spawn(argv[0], argv.slice(1), {
      cwd: BENCH_DIR,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    }),
  );
  const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  child.stdout.on('data', (d) => log.push(String(d)));
  child.stderr.on('data', (d) => log.push(String(d)));
  let dead = false;
  void exited.then(() => {
    dead = true;
  });
  const server = { child, exited, log, isDead: () => dead };
  const deadline = Date.now() + 15_000;
  for (;;) {
    if (dead) throw new Error(`${name} exited during start-up:\n${log.join('')}`);
    if (await portAnswers(port)) {
      try {
        await probe();
        break;
      } catch {
        // listening but not answering yet
      }
    }
    if (Date.now() > deadline) {
      await stopServer(server);
      throw new Error(`${name} did not answer on ${HOST}:${port} within 15 s:\n${log.join('')}`);
    }
    await sleep(100);
  }
  return server;
}

/** SIGTERM by PID, then SIGKILL after 3 s; resolves once the process is gone. */
export async function stopServer({ child, exited }) {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
  await exited;
  clearTimeout(timer);
}

// --------------------------------------------------------------------------------------------------- wrk

/**
 * Runs wrk (`args`: the whole command line, pinning included), tracked and killed if it overruns its
 * `seconds` by 30 s. `done` resolves to { command, text } (stdout and stderr), or rejects on a non-zero exit.
 */
export function startWrk(args, seconds) {
  const child = track(spawn(args[0], args.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] }));
  let text = '';
  child.stdout.on('data', (d) => {
    text += d;
  });
  child.stderr.on('data', (d) => {
    text += d;
  });
  const timer = setTimeout(() => child.kill('SIGKILL'), (seconds + 30) * 1000);
  const done = new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      if (code !== 0) reject(new Error(`wrk exited with ${code ?? signal}:\n${text}`));
      else resolve({ command: args.join(' '), text });
    });
  });
  return { child, done };
}

/**
 * Runs wrk (`args`: the whole command line, pinning included), bounded in time (killed if it overruns by
 * 30 s). With `serverPid`, samples CPU use every 500 ms from 0.5 s in until wrk exits: the server's, wrk's
 * and core 0's (see cpuStats), plus one figure per entry of `more` (name → a function giving CPU ticks).
 * Resolves to { command, text, cpu }.
 */
export async function measureWrk(args, seconds, serverPid, more = {}) {
  const wrk = startWrk(args, seconds);
  let window;
  if (serverPid !== undefined) {
    const stop = sampleWindow(() => {
      const s = cpuSample(serverPid, wrk.child.pid, more);
      return s.wrk === undefined ? undefined : s; // wrk already gone: keep the previous sample
    });
    wrk.child.once('exit', () => {
      window = stop();
    });
  }
  const { command, text } = await wrk.done;
  return { command, text, cpu: window ? cpuStats(...window) : undefined };
}

// ------------------------------------------------------------------------------------------------- CPU

let clkTck;
/** Clock ticks per second of /proc's CPU times. */
export function clockTicks() {
  if (clkTck === undefined) {
    const n = Number(output('getconf', ['CLK_TCK']));
    clkTck = Number.isFinite(n) && n > 0 ? n : 100;
  }
  return clkTck;
}

/** utime + stime of a /proc/<pid>/stat or /proc/<pid>/task/<tid>/stat file, in ticks. */
export function ticks(path) {
  try {
    const stat = readFileSync(path, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(fields[11]) + Number(fields[12]); // utime + stime
  } catch {
    return undefined;
  }
}

/** Busy and steal ticks of one line of /proc/stat: 'cpu' (all cores) or 'cpu0', 'cpu1', … */
export function statTicks(cpu) {
  try {
    const line = readFileSync('/proc/stat', 'utf8')
      .split('\n')
      .find((l) => l.startsWith(`${cpu} `));
    const [user, nice, system, , , irq, softirq, steal] = line.trim().split(/\s+/).slice(1).map(Number);
    return { busy: user + nice + system + irq + softirq, steal };
  } catch {
    return undefined;
  }
}

/**
 * CPU ticks (utime + stime, all threads) of every process whose name (the `comm` of /proc/<pid>/stat) is
 * `name`: 'postgres' (postmaster and backends), 'redis-server', …
 */
export function processTicks(name) {
  let sum = 0;
  for (const pid of readdirSync('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      if (stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')')) === name)
        sum += ticks(`/proc/${pid}/stat`) ?? 0;
    } catch {
      // gone
    }
  }
  return sum;
}

/** Cores to pin to: the server on the first, wrk on the second. Falls back to no pinning on one core. */
export function pinning() {
  const n = availableParallelism();
  if (n >= 2) return { server: ['taskset', '-c', '0'], wrk: ['taskset', '-c', '1'], pinned: true };
  console.warn('bench: only one core: server and wrk share it, unpinned; numbers will be much lower');
  return { server: [], wrk: [], pinned: false };
}

// CPU accounting from /proc (Linux): how much of core 0 the server got, and what else ran there. On a
// shared machine this tells a slow server from a server that was starved.
function cpuSample(serverPid, wrkPid, more) {
  const s = {
    at: performance.now(),
    server: ticks(`/proc/${serverPid}/stat`),
    wrk: ticks(`/proc/${wrkPid}/stat`),
    core0: statTicks('cpu0'),
  };
  for (const [name, take] of Object.entries(more)) s[name] = take();
  return s;
}

/** Percent of one core over the window between two samples (the `more` figures too). */
function cpuStats(first, last) {
  const seconds = (last.at - first.at) / 1000;
  if (!first || !last || seconds < 1) return undefined;
  const pct = (n) => (n / clockTicks() / seconds) * 100;
  const server =
    last.server !== undefined && first.server !== undefined ? pct(last.server - first.server) : undefined;
  const wrk = last.wrk !== undefined && first.wrk !== undefined ? pct(last.wrk - first.wrk) : undefined;
  let otherCore0;
  let stealCore0;
  if (first.core0 && last.core0) {
    stealCore0 = pct(last.core0.steal - first.core0.steal);
    if (server !== undefined) otherCore0 = Math.max(0, pct(last.core0.busy - first.core0.busy) - server);
  }
  const stats = { server, wrk, otherCore0, stealCore0 };
  for (const name of Object.keys(first))
    if (
      !['at', 'server', 'wrk', 'core0'].includes(name) &&
      first[name] !== undefined &&
      last[name] !== undefined
    )
      stats[name] = pct(last[name] - first[name]);
  return stats;
}

/**
 * Samples with `take()` from 0.5 s on, every 500 ms (a sample it returns as undefined is dropped). The
 * function returned stops sampling and gives [first, last], or undefined with fewer than two samples.
 */
export function sampleWindow(take) {
  let first;
  let last;
  const tick = () => {
    const s = take();
    if (s === undefined) return;
    if (first === undefined) first = s;
    else last = s;
  };
  let interval;
  const start = setTimeout(() => {
    tick();
    interval = setInterval(tick, 500);
  }, 500);
  return () => {
    clearTimeout(start);
    clearInterval(interval);
    return first && last ? [first, last] : undefined;
  };
}

// ------------------------------------------------------------------------------------------------ report

/** The round whose req/s is the median (the lower middle one for an even count), with its latencies. */
export function medianRound(runs) {
  const sorted = [...runs].sort((a, b) => a.rps - b.rps);
  return sorted[Math.floor((sorted.length - 1) / 2)];
}

/** CPU, kernel, Node, wrk and the weir commit of this machine and checkout, for the report. */
export function machineFacts() {
  let cpuModel = cpus()[0]?.model ?? 'unknown';
  try {
    const m = /^model name\s*:\s*(.+)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'));
    if (m) cpuModel = m[1].trim();
  } catch {
    // not Linux
  }
  let commit = 'unknown';
  try {
    commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, encoding: 'utf8' }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--', 'src'], {
      cwd: ROOT,
      encoding: 'utf8',
    }).trim();
    if (dirty) commit += ' (src/ has uncommitted changes)';
  } catch {
    // not a git checkout
  }
  return {
    nproc: output('nproc', []) || String(availableParallelism()),
    cpuModel,
    kernel: output('uname', ['-sr']),
    node: process.version,
    wrk: output('wrk', ['-v'])
      .split('\n')[0]
      .replace(/\s*Copyright.*$/, ''),
    commit,
  };
}

/** A run's summary.json, with its dates as Dates again (for --rerender). */
export function readSummary(file) {
  const summary = JSON.parse(readFileSync(file, 'utf8'));
  return { ...summary, startedAt: new Date(summary.startedAt), finishedAt: new Date(summary.finishedAt) };
}

/**
 * A Markdown report being written: p(line), row(cells) for a table row, and write(file), which saves it
 * and lays it out with biome. `name` prefixes the warning if biome fails.
 */
export function markdown(name) {
  const { p, row, text } = weirBench.markdownWriter();
  const write = (file) => {
    writeFileSync(file, text());
    formatMarkdown(file, name);
  };
  return { p, row, write };
}

/**
 * The sections "Machine" and "Command" of a report. `tools` are [fact, value] rows before weir's, `more`
 * rows after it; `weir: null` leaves weir's row out (a run that measures no weir).
 */
export function machineAndCommand(
  p,
  { facts, startedAt, finishedAt, loadBefore, command },
  { tools = [], more = [], weir = 'built with `npm run build` (dist/)' } = {},
) {
  p('## Machine');
  p();
  p('| fact | value |');
  p('| --- | --- |');
  p(`| date | ${startedAt.toISOString()} (took ${Math.round((finishedAt - startedAt) / 1000)} s) |`);
  p(`| nproc | ${facts.nproc} |`);
  p(`| CPU | ${facts.cpuModel} |`);
  p(`| kernel | ${facts.kernel} |`);
  p(`| Node | ${facts.node} |`);
  p(`| wrk | ${facts.wrk} |`);
  for (const [fact, value] of tools) p(`| ${fact} | ${value} |`);
  if (weir !== null) p(`| weir | commit ${facts.commit}, ${weir} |`);
  for (const [fact, value] of more) p(`| ${fact} | ${value} |`);
  p(`| load average before the run | ${loadBefore.map((n) => n.toFixed(2)).join(', ')} |`);
  p();
  p('## Command');
  p();
  p('```sh');
  p(command);
  p('```');
  p();
}

/**
 * Lays the report out as the repo's formatter would, so `npm run lint` stays clean: biome formats Markdown
 * from 2.6 on; an older biome (the repo pins 2.5.15) ignores .md files, in `npm run lint` too, and the
 * report stays as written. Files outside the repo are left as written.
 */
export function formatMarkdown(file, name = 'bench') {
  const biome = join(ROOT, 'node_modules', '.bin', 'biome');
  if (!existsSync(biome) || relative(ROOT, file).startsWith('..')) return;
  const result = spawnSync(biome, ['format', '--write', file], { cwd: ROOT, encoding: 'utf8' });
  const ignored = /provided but ignored/.test(`${result.stdout}${result.stderr}`);
  if (result.status !== 0 && !ignored)
    console.warn(`${name}: biome could not format ${file}; left as written`);
}

// ----------------------------------------------------------------------------------------------- profiles

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

// -------------------------------------------------------------------------------------- reference service

// The runners of the reference service (examples/service) on the TechEmpower database tests: bench/db.mjs
// and bench/cache.mjs. It runs as compiled JavaScript under plain node, as in production: see buildService().
// Both have the same frame around what they measure, here: the command line (serviceCommandLine(), whose
// result, the runner, the other functions take), the build, the database, the rounds, the raw results and
// the summary, --rerender, and the parts of the report that are the same.

export const BUILD_DIR = join(BENCH_DIR, '.build');
export const SERVICE_DIR = join(BUILD_DIR, 'service');
/** The compiled service's entry point, as a server's argv (after node). */
export const SERVICE_ARGV = [join(SERVICE_DIR, 'main.js')];
/** How the service was built and run, for the report's weir row: see buildService(). */
export const SERVICE_BUILD =
  'the reference service compiled as for production: `npm run build` (dist/), examples/service compiled by `tsc` into bench/.build/service/ (its `weir`, `weir/db`, … imports resolved to dist/), run as `node bench/.build/service/main.js`';
/** Rows of the `world` table; ids are 1…WORLD_SIZE. */
export const WORLD_SIZE = 10_000;

/**
 * A runner's fail(message), which prints the message after `name` (bench:db, …) on stderr and exits 1, and
 * readers of its `flags` (parseArgs's values) that fail on a bad value: int(flag, min, max), an integer in
 * min…max, and list(flag, all), a comma list of items of `all` (all of them without the flag), in the order
 * of `all`.
 */
export function flagReaders(name, flags) {
  const fail = (message) => {
    console.error(`${name}: ${message}`);
    process.exit(1);
  };
  const int = (flag, min, max) => {
    const n = Number(String(flags[flag]).replace(/s$/, '')); // --duration 10s reads as 10
    if (!Number.isInteger(n) || n < min || n > max)
      fail(`--${flag} must be an integer from ${min} to ${max}`);
    return n;
  };
  const list = (flag, all) => {
    if (flags[flag] === undefined) return [...all];
    const picked = flags[flag].split(',').map((s) => s.trim());
    for (const item of picked) if (!all.includes(item)) fail(`unknown ${flag} "${item}" (${all.join(', ')})`);
    return all.filter((item) => picked.includes(item));
  };
  return { fail, int, list };
}

/**
 * The command line of bench/<script>.mjs, a runner of the reference service, parsed (strictly) and checked;
 * with -h, the help is printed and the process exits. Every runner takes --duration, --warmup,
 * --connections, --rounds, --servers (a comma list of `servers`), --pool, --pg, --database (default
 * `database`), --port (default `port`), --out (default bench/RESULTS-<script>.md) and --rerender. It adds
 * its own options, each `flag: { option, help, parse }`: `option` for parseArgs, `help` its line in the
 * help, `parse(runner)` its value in `opts` (options without one are only in `flags`). They stand in the
 * help and in `opts` in three places: `load` after --rounds (what is measured), `stores` after --database
 * (other servers the service uses), `modes` after --rerender (runs that are no benchmark). `notes` follow
 * the list in the help. Returns the runner: { script, name (bench:<script>, the prefix of its log lines),
 * flags, opts, fail(message), int(flag, min, max), list(flag, all) }.
 */
export function serviceCommandLine({
  script,
  servers,
  database,
  port,
  load = {},
  stores = {},
  modes = {},
  notes = '',
}) {
  const name = `bench:${script}`;
  const { values: flags } = parseArgs({
    options: {
      duration: { type: 'string', default: '15' },
      warmup: { type: 'string', default: '5' },
      connections: { type: 'string', default: '64' },
      rounds: { type: 'string', default: '3' },
      servers: { type: 'string' },
      pool: { type: 'string', default: '16' },
      pg: { type: 'string', default: 'postgres://postgres@127.0.0.1:5432' },
      database: { type: 'string', default: database },
      port: { type: 'string', default: port },
      out: { type: 'string', default: join(BENCH_DIR, `RESULTS-${script}.md`) },
      rerender: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
      ...Object.fromEntries(
        [load, stores, modes].flatMap((group) => Object.entries(group).map(([flag, o]) => [flag, o.option])),
      ),
    },
    strict: true,
  });
  const lines = (group) =>
    Object.values(group)
      .map((o) => `${o.help}\n`)
      .join('');
  if (flags.help) {
    process.stdout.write(`Usage: node bench/${script}.mjs [options]

  --duration <s>      measured run per server/route, seconds         default 15
  --warmup <s>        discarded warm-up before it (0 = none)         default 5
  --connections <n>   wrk connections (-c)                           default 64
  --rounds <n>        rounds; the median round is reported           default 3
${lines(load)}  --servers <list>    comma list of ${servers.join(',')}  default all
  --pool <n>          PostgreSQL connections per server (DB_POOL)    default 16 (weir's default)
  --pg <url>          PostgreSQL server, without a database          default postgres://postgres@127.0.0.1:5432
  --database <name>   database, dropped and recreated                default ${database}
${lines(stores)}  --port <n>          port the servers listen on (127.0.0.1)         default ${port}
  --out <file>        the report                                     default bench/RESULTS-${script}.md
  --rerender <file>   no run: rewrite the report from a run's results/raw/${script}-<timestamp>/summary.json
${lines(modes)}  -h, --help
${notes}`);
    process.exit(0);
  }

  const { fail, int, list } = flagReaders(name, flags);
  const runner = { script, name, flags, fail, int, list };
  const parsed = (group) =>
    Object.fromEntries(
      Object.entries(group)
        .filter(([, o]) => o.parse)
        .map(([flag, o]) => [flag, o.parse(runner)]),
    );
  runner.opts = {
    duration: int('duration', 1, 600),
    warmup: int('warmup', 0, 600),
    connections: int('connections', 1, 10_000),
    rounds: int('rounds', 1, 20),
    ...parsed(load),
    servers: list('servers', servers),
    pool: int('pool', 1, 1000),
    pg: flags.pg.replace(/\/+$/, ''),
    database: flags.database,
    ...parsed(stores),
    port: int('port', 1024, 65535),
    out: flags.out,
  };
  if (!/^[a-z_][a-z0-9_]*$/.test(runner.opts.database))
    fail('--database must be a plain lower-case identifier');
  if (!/^postgres(ql)?:\/\/[^/]*(127\.0\.0\.1|localhost)(:\d+)?$/.test(runner.opts.pg))
    fail('--pg must be a postgres:// URL on 127.0.0.1 or localhost, without a database');
  return runner;
}

/**
 * --rerender: rewrites the runner's report with `writeReport(summary)` from the summary.json of a run,
 * whose options it takes over (but for --out, given now).
 */
export function rerenderReport({ name, flags, opts }, writeReport) {
  const summary = readSummary(flags.rerender);
  Object.assign(opts, summary.opts, { out: opts.out });
  writeReport(summary);
  console.log(`${name}: rewrote ${opts.out} from ${flags.rerender}`);
}

/** Runs a build step in the repo root, its output shown; throws if it fails. `name` prefixes the log line. */
function runStep(name, command, args) {
  const shown = [command, ...args].map((a) => (a.startsWith('/') ? relative(ROOT, a) : a)).join(' ');
  console.log(`${name}: $ ${shown}`);
  const result = spawnSync(command, args, { cwd: ROOT, stdio: 'inherit' });
  if (result.status !== 0) throw new Error(`\`${shown}\` failed (${result.status ?? result.signal})`);
}

/**
 * Builds weir as a user deploys it: weir itself with `npm run build` (tsc -p tsconfig.build.json → dist/),
 * and the reference service (examples/service) compiled by tsc into bench/.build/service/ with the root
 * tsconfig's options (`./app.ts` imports become `./app.js`) but without the `weir-source` condition. Its
 * `import 'weir'` and `'weir/db'` must reach dist/: bench/ is a package of its own (bench/package.json,
 * "weir-bench"), so weir's self-reference does not work from there; bench/.build/node_modules/weir links to
 * the repo root instead, as `npm install` of a local weir would, and Node resolves it to dist/ through the
 * package's exports. The migrations and static files the service finds next to its modules
 * (database.ts's MIGRATIONS_DIR, app.ts's public/) are copied beside the compiled files. Checked here:
 * every weir entry point the compiled service imports (`weir`, `weir/db`, …) resolves to dist/. The
 * runner's name prefixes the log lines; if a step fails, the runner fails.
 */
export function buildService({ name, fail }) {
  try {
    compileService(name);
  } catch (err) {
    fail(err.message);
  }
}

function compileService(name) {
  runStep(name, 'npm', ['run', 'build', '--silent']);
  rmSync(BUILD_DIR, { recursive: true, force: true });
  mkdirSync(join(BUILD_DIR, 'node_modules'), { recursive: true });
  const json = (file, value) => writeFileSync(join(BUILD_DIR, file), `${JSON.stringify(value, null, 2)}\n`);
  json('package.json', { private: true, type: 'module' });
  json('tsconfig.json', {
    extends: '../../tsconfig.json',
    compilerOptions: {
      noEmit: false,
      rootDir: '../../examples/service',
      outDir: 'service',
      customConditions: [],
      declaration: false,
    },
    include: ['../../examples/service'],
  });
  symlinkSync(
    relative(join(BUILD_DIR, 'node_modules'), ROOT),
    join(BUILD_DIR, 'node_modules', 'weir'),
    'dir',
  );
  runStep(name, join(ROOT, 'node_modules', '.bin', 'tsc'), ['-p', join(BUILD_DIR, 'tsconfig.json')]);
  for (const dir of ['migrations', 'public'])
    cpSync(join(ROOT, 'examples', 'service', dir), join(SERVICE_DIR, dir), { recursive: true });
  // Every weir entry point the compiled service imports (`weir`, `weir/db`, …) must reach dist/, by Node's
  // own ESM resolver from a module in the service's folder, with no --conditions, as the server runs.
  const specifiers = new Set(['weir', 'weir/db']);
  for (const file of readdirSync(SERVICE_DIR).filter((f) => f.endsWith('.js')))
    for (const m of readFileSync(join(SERVICE_DIR, file), 'utf8').matchAll(
      /from\s*['"](weir(?:\/[\w-]+)*)['"]/g,
    ))
      specifiers.add(m[1]);
  const resolved = spawnSync(
    process.execPath,
    [
      '--input-type=module',
      '-e',
      `console.log(JSON.stringify(${JSON.stringify([...specifiers])}.map((s) => import.meta.resolve(s))))`,
    ],
    { cwd: SERVICE_DIR, encoding: 'utf8' },
  );
  let found;
  try {
    found = JSON.parse(resolved.stdout).map((url) => relative(ROOT, fileURLToPath(url)));
  } catch {
    throw new Error(
      `cannot resolve ${[...specifiers].join(', ')} from ${relative(ROOT, SERVICE_DIR)}:\n${resolved.stderr}`,
    );
  }
  const shown = [...specifiers].map((s, i) => `${s} → ${found[i]}`).join(', ');
  if (found.some((file) => !file.startsWith(`dist${sep}`)))
    throw new Error(`from ${relative(ROOT, SERVICE_DIR)}, not every weir import resolves to dist/: ${shown}`);
  console.log(`${name}: the compiled service imports weir from dist/: ${shown}`);
}

/**
 * Starts a TechEmpower server (`argv`: its script and arguments, run by this node after `extraArgs`),
 * pinned with `pin.server`, on 127.0.0.1:`port` with NODE_ENV=production and `env` added; ready once GET /db
 * answers 200. `label` names it in errors. Resolves as startServer() does.
 */
export function startTfbServer({ label, argv, pin, port, env, extraArgs = [] }) {
  return startServer({
    name: `${label} server`,
    argv: [...pin.server, process.execPath, ...extraArgs, ...argv],
    env: { PORT: String(port), HOST, NODE_ENV: 'production', ...env },
    port,
    probe: async () => {
      const res = await get(port, '/db', 5000);
      if (res.status !== 200) throw new Error(`status ${res.status}`);
    },
    log: [],
  });
}

/**
 * The checks of a server's answers before it is measured (`label` names it): `expect(path, inspect)` GETs
 * `path` from 127.0.0.1:`port` and keeps what `inspect(res)` finds wrong with the answer (a list, maybe
 * empty, or a promise of one) or the error it throws, with the start of the body; `add(problem)` keeps one
 * found otherwise; `done()` then throws naming every problem kept, if there is any.
 */
export function answerChecks(label, port) {
  const problems = [];
  return {
    async expect(path, inspect) {
      const res = await get(port, path, 10_000);
      try {
        const found = await inspect(res);
        if (found.length > 0) problems.push(`${path}: ${found.join(', ')}`);
      } catch (err) {
        problems.push(`${path}: ${err.message} (body ${JSON.stringify(res.body.slice(0, 200))})`);
      }
    },
    add(problem) {
      problems.push(problem);
    },
    done() {
      if (problems.length > 0) throw new Error(`${label} fails the checks:\n  ${problems.join('\n  ')}`);
    },
  };
}

/** What is wrong with a response: status, content type, the TechEmpower headers, Content-Length. */
export function headerProblems(res, type) {
  const problems = [];
  if (res.status !== 200) problems.push(`status ${res.status}`);
  if (!type.test(res.headers['content-type'] ?? ''))
    problems.push(`content-type ${res.headers['content-type']}`);
  for (const header of ['server', 'date', 'content-length'])
    if (!res.headers[header]) problems.push(`no ${header} header`);
  if (Number(res.headers['content-length']) !== Buffer.byteLength(res.body))
    problems.push(`content-length ${res.headers['content-length']} for ${Buffer.byteLength(res.body)} bytes`);
  return problems;
}

/** Whether `w` is a World row: exactly { id, randomNumber }, both integers in 1…WORLD_SIZE. */
export const isWorld = (w) =>
  w !== null &&
  typeof w === 'object' &&
  Object.keys(w).sort().join() === 'id,randomNumber' &&
  Number.isInteger(w.id) &&
  w.id >= 1 &&
  w.id <= WORLD_SIZE &&
  Number.isInteger(w.randomNumber) &&
  w.randomNumber >= 1 &&
  w.randomNumber <= WORLD_SIZE;

/** One query on a fresh connection to PostgreSQL at `url` (pg, from bench/node_modules, loaded on first use). */
export async function pgQuery(url, text, values) {
  const { default: pg } = await import('pg');
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await client.query(text, values);
  } finally {
    await client.end();
  }
}

/**
 * Before a run: checks that wrk and taskset are there, drops and recreates the runner's database (--pg,
 * --database), and lets the service create and seed it with its migrations: `start()` starts a server of
 * it, stopped as soon as it answers. Checks the rows seeded; resolves to PostgreSQL's version.
 */
export async function prepareServiceDatabase({ name, fail, opts }, start) {
  if (!have('wrk')) fail('wrk is required (apt-get install wrk)');
  if (!have('taskset')) fail('taskset (util-linux) is required');
  const admin = `${opts.pg}/postgres`;
  const version = (await pgQuery(admin, 'SHOW server_version')).rows[0].server_version;
  await pgQuery(admin, `DROP DATABASE IF EXISTS ${opts.database} WITH (FORCE)`);
  await pgQuery(admin, `CREATE DATABASE ${opts.database}`);
  console.log(
    `${name}: recreated ${opts.database} on PostgreSQL ${version}; migrating it with the weir service`,
  );
  await stopServer(await start());
  const { rows } = await pgQuery(
    `${opts.pg}/${opts.database}`,
    'SELECT (SELECT count(*) FROM world) AS w, (SELECT count(*) FROM fortune) AS f',
  );
  const [worlds, fortunes] = [Number(rows[0].w), Number(rows[0].f)];
  if (worlds !== WORLD_SIZE || fortunes !== 12)
    fail(`after migration: ${worlds} world rows and ${fortunes} fortunes, not ${WORLD_SIZE} and 12`);
  return version;
}

/**
 * wrk's command line, pinned with `pin.wrk`: one thread, the runner's --connections and --port, `seconds`,
 * `--latency`, GET `path`.
 */
export const wrkCommand = (pin, { connections, port }, seconds, path) => [
  ...pin.wrk,
  'wrk',
  '-t1',
  `-c${connections}`,
  `-d${seconds}s`,
  '--latency',
  `http://${HOST}:${port}${path}`,
];

/**
 * The start of a measured run: its raw folder, results/raw/<script>-<start time>/ (created), the load
 * average before it and the command as typed. Returns the frame of the run's summary: { facts, startedAt,
 * pin, loadBefore, rawDir, command }.
 */
export function beginRun({ script, name }, { facts, pin }) {
  const startedAt = new Date();
  const stamp = startedAt.toISOString().replace(/[:.]/g, '-');
  const rawDir = join(BENCH_DIR, 'results', 'raw', `${script}-${stamp}`);
  mkdirSync(rawDir, { recursive: true });
  const command = invocation(pathToFileURL(join(BENCH_DIR, `${script}.mjs`)), name);
  return { facts, startedAt, pin, loadBefore: loadavg(), rawDir, command };
}

/**
 * The rounds of a run (`run` from beginRun()): per round the runner's servers in rotated order, recorded in
 * the order it resolves to. Per server: `beforeStart(server)`, `start(server)`, `check(server)`, then per
 * route of `routesOf(server)` (GET `pathOf(route)`) a discarded warm-up of --warmup s (none for 0) and a
 * measured run of --duration s with the CPU of the server, wrk and `moreCpu` sampled (see measureWrk()),
 * each wrk output saved in the raw folder (r<round>-<server>-<route>-warmup.txt and …-<route>.txt); then
 * the server is stopped and `afterStop(server, round, server process)` runs. `counters` ({ key, title,
 * read(), change(server, before, after) }), if given, are read just before and after each measured run;
 * their change joins the run's raw file (as `# <title>: …`) and its result (as `key`). Each result, { round,
 * …parseWrk(), cpu, [key] }, goes to `record(server, route, result)`. Any error kills what still runs and
 * fails the runner.
 */
export async function runRounds(
  { fail, opts },
  { pin, rawDir },
  { start, check, routesOf, pathOf, moreCpu, beforeStart, counters, record, afterStop },
) {
  const wrk = (route, seconds) => wrkCommand(pin, opts, seconds, pathOf(route));
  const order = [];
  try {
    for (let round = 1; round <= opts.rounds; round++) {
      const servers = rotation(opts.servers, round);
      order.push(servers);
      for (const server of servers) {
        await beforeStart?.(server);
        const active = await start(server);
        try {
          await check(server);
          for (const route of routesOf(server)) {
            const base = join(rawDir, `r${round}-${server}-${route}`);
            if (opts.warmup > 0) {
              const warm = await measureWrk(wrk(route, opts.warmup), opts.warmup);
              writeFileSync(`${base}-warmup.txt`, `$ ${warm.command}\n${warm.text}`);
            }
            const before = await counters?.read();
            const run = await measureWrk(wrk(route, opts.duration), opts.duration, active.child.pid, moreCpu);
            const change = counters && (await counters.change(server, before, await counters.read()));
            writeFileSync(
              `${base}.txt`,
              `$ ${run.command}\n${run.text}\n# CPU, % of one core: ${JSON.stringify(run.cpu)}\n${counters ? `# ${counters.title}: ${JSON.stringify(change)}\n` : ''}`,
            );
            if (active.isDead()) throw new Error(`${server} died during the run:\n${active.log.join('')}`);
            const result = { round, ...parseWrk(run.text), cpu: run.cpu ?? {} };
            if (counters) result[counters.key] = change;
            record(server, route, result);
          }
        } finally {
          await stopServer(active);
          afterStop?.(server, round, active);
        }
      }
    }
  } catch (err) {
    killLive();
    fail(err instanceof Error ? err.message : String(err));
  }
  return order;
}

/**
 * The end of a run: its summary (`run` from beginRun(), the runner's options, the end time and `data`:
 * results, order, …) saved as summary.json in the raw folder, then the report written by
 * `writeReport(summary)` and shown.
 */
export function finishRun({ name, opts }, run, data, writeReport) {
  const { facts, startedAt, pin, loadBefore, rawDir, command } = run;
  const summary = {
    opts,
    facts,
    startedAt,
    finishedAt: new Date(),
    ...data,
    pin,
    loadBefore,
    rawDir,
    command,
  };
  writeFileSync(join(rawDir, 'summary.json'), JSON.stringify(summary, null, 2));
  writeReport(summary);
  console.log(`${name}: wrote ${relative(process.cwd(), opts.out)} and ${relative(process.cwd(), rawDir)}/`);
  console.log(readFileSync(opts.out, 'utf8'));
}

/**
 * CPU of everything else on the machine (other processes, kernel work charged to no process, the runner),
 * in % of one core: the machine's figure less the server's, wrk's and those of `processes` (keys of `c`,
 * taken off in that order; one below 0, another client's process that exited during the run, counts as 0).
 * Undefined without the machine's figure.
 */
export function otherCpu(c, processes) {
  if (c?.machine === undefined) return undefined;
  let rest = c.machine - (c.server ?? 0) - (c.wrk ?? 0);
  for (const key of processes) rest -= Math.max(0, c[key] ?? 0);
  return Math.max(0, rest);
}

/** The highest CPU figure `key` of the results `runs` (0 for a result without it). */
export const maxCpu = (runs, key) => Math.max(...runs.map((r) => r.cpu?.[key] ?? 0));

/**
 * The report's table of every measured run. `runs` are [cells that name the run, its result]; `lead`
 * heads those cells; the CPU columns are the server's, those of `processes` ([heading, key] …), wrk's, the
 * rest's (`other(cpu)`) and the whole machine's.
 */
export function runsTable(row, { lead, processes, other }, runs) {
  const head = [
    ...lead,
    'round',
    'req/s',
    'p50 ms',
    'p99 ms',
    'server CPU',
    ...processes.map(([heading]) => heading),
    'wrk CPU',
    'other CPU',
    'machine CPU',
    'socket errors',
    'non-2xx',
  ];
  row(head);
  row([...lead.map(() => '---'), ...Array(head.length - lead.length).fill('---:')]);
  for (const [cells, r] of runs) {
    const c = r.cpu ?? {};
    row([
      ...cells,
      r.round,
      fmtInt(r.rps),
      fmtMs(r.p50),
      fmtMs(r.p99),
      fmtPct(c.server),
      ...processes.map(([, key]) => fmtPct(c[key])),
      fmtPct(c.wrk),
      fmtPct(other(c)),
      fmtPct(c.machine),
      r.socketErrors,
      r.non2xx,
    ]);
  }
}

/**
 * The report's block "which ran, per server and route": the server's command line `server` after its
 * pinning, then wrk's for the warm-up and for the measured run (the request path left as <path>).
 */
export function commandsRun(p, pin, opts, server) {
  p('which ran, per server and route:');
  p();
  p('```sh');
  p(`${pin.server.join(' ')} ${server}`.trim());
  const wrk = (seconds) => wrkCommand(pin, opts, seconds, '<path>').join(' ');
  p(`${wrk(opts.warmup)}   # warm-up, discarded`);
  p(`${wrk(opts.duration)}   # measured`);
  p('```');
  p();
}

/**
 * The report's last caveats, on wrk: the errors it reported in `runs` ([what ran, its result] …), then the
 * most CPU it used.
 */
export function wrkCaveats(p, runs) {
  const errors = runs
    .filter(([, r]) => r.socketErrors > 0 || r.non2xx > 0)
    .map(([what, r]) => `${what} round ${r.round}: ${r.socketErrorText} non-2xx ${r.non2xx}`);
  p(
    errors.length > 0
      ? `- **wrk reported errors**: ${errors.join('; ')}.`
      : '- wrk reported no socket errors and no non-2xx responses in any measured run.',
  );
  const results = runs.map(([, r]) => r);
  p(`- wrk used at most ${fmtPct(maxCpu(results, 'wrk'))} of its core.`);
}

/** The version of package `name` installed in `dir`/node_modules, or 'n/a'. */
export const versionOf = (dir, name) => {
  try {
    return JSON.parse(readFileSync(join(dir, 'node_modules', name, 'package.json'), 'utf8')).version;
  } catch {
    return 'n/a';
  }
};
