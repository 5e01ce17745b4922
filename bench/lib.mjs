// What the benchmark runners share (bench/run.mjs, bench/compute.mjs, bench/profile.mjs): paths, child
// processes (start, wait for the port, stop, kill on exit), wrk's output, CPU from /proc, the machine's
// facts and the parts of the Markdown report that are the same. Traffic goes to 127.0.0.1 only.

import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { createConnection } from 'node:net';
import { availableParallelism, cpus } from 'node:os';
import { basename, dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

export const BENCH_DIR = dirname(fileURLToPath(import.meta.url));
export const ROOT = dirname(BENCH_DIR);
export const HOST = '127.0.0.1'; // never anything else

// ---------------------------------------------------------------------------------------------- helpers

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

export function have(command) {
  return spawnSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' }).status === 0;
}

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

/** The order of `items` in a round: rotated by one every round, so drift of the machine favours none. */
export function rotation(items, round) {
  const shift = (round - 1) % items.length;
  return [...items.slice(shift), ...items.slice(0, shift)];
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
  return new Promise((resolve, reject) => {
    const req = request({ host: HOST, port, path, method: 'GET', agent: false, timeout }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk) => {
        body += chunk;
      });
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body }));
    });
    req.once('timeout', () => req.destroy(new Error('timeout')));
    req.once('error', reject);
    req.end();
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

/** Reads req/s, the latency percentiles, errors and request count out of wrk's `--latency` output. */
export function parseWrk(text) {
  const rps = /^Requests\/sec:\s+([\d.]+)/m.exec(text);
  if (!rps) throw new Error(`no Requests/sec line in wrk output:\n${text}`);
  const percentiles = wrkPercentiles(text) ?? {};
  if (percentiles['50%'] === undefined || percentiles['99%'] === undefined) {
    throw new Error(`no 50%/99% latency lines in wrk output (was --latency passed?):\n${text}`);
  }
  const { requests, socketErrors, socketErrorText, non2xx } = wrkCounts(text);
  return {
    rps: Number(rps[1]),
    p50: percentiles['50%'],
    p75: percentiles['75%'],
    p90: percentiles['90%'],
    p99: percentiles['99%'],
    requests,
    socketErrors,
    socketErrorText,
    non2xx,
  };
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

const UNIT_MS = { us: 0.001, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** A wrk duration (`812.00us`, `1.20ms`, `2.00s`, …) in ms. */
export function toMs(text) {
  const m = /^([\d.]+)(us|ms|s|m|h)$/.exec(text.trim());
  if (!m) throw new Error(`cannot read wrk duration "${text}"`);
  return Number(m[1]) * UNIT_MS[m[2]];
}

/** The `--latency` distribution of wrk's output in ms, by percentile ('50%': …), or undefined without one. */
export function wrkPercentiles(text) {
  const dist = /Latency Distribution\s*\n((?:\s+\d+%\s+\S+\s*\n)+)/.exec(text);
  if (!dist) return undefined;
  const percentiles = {};
  for (const line of dist[1].trim().split('\n')) {
    const [p, value] = line.trim().split(/\s+/);
    percentiles[p] = toMs(value);
  }
  return percentiles;
}

/** The request count and errors in wrk's output. */
export function wrkCounts(text) {
  const total = /^\s*(\d+) requests in/m.exec(text);
  const socket = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(text);
  const non2xx = /Non-2xx or 3xx responses: (\d+)/.exec(text);
  return {
    requests: total ? Number(total[1]) : undefined,
    socketErrors: socket ? socket.slice(1).reduce((sum, n) => sum + Number(n), 0) : 0,
    socketErrorText: socket ? socket[0] : '',
    non2xx: non2xx ? Number(non2xx[1]) : 0,
  };
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

/** The lower middle of the values that are numbers, or undefined if there are none. */
export function median(values) {
  const v = values.filter((x) => x !== undefined && x !== null && !Number.isNaN(x)).sort((a, b) => a - b);
  return v.length === 0 ? undefined : v[Math.floor((v.length - 1) / 2)];
}

export const fmtInt = (n) => (n === undefined ? 'n/a' : Math.round(n).toLocaleString('en-US'));
export const fmtPct = (n) => (n === undefined ? 'n/a' : `${Math.round(n)} %`);

/** The round whose req/s is the median (the lower middle one for an even count), with its latencies. */
export function medianRound(runs) {
  const sorted = [...runs].sort((a, b) => a.rps - b.rps);
  return sorted[Math.floor((sorted.length - 1) / 2)];
}

export const fmtMs = (n) => (n < 1 ? n.toFixed(3) : n < 10 ? n.toFixed(2) : n.toFixed(1));
export const fmtRatio = (n) => `${n.toFixed(2)}×`;

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
  const lines = [];
  const p = (s = '') => lines.push(s);
  const row = (cells) => p(`| ${cells.join(' | ')} |`);
  const write = (file) => {
    writeFileSync(file, lines.join('\n'));
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
