// One measured run of the overload benchmark: wrk's connections on GET /overload with latency recorded per
// status, the two probers beside them (prober.mjs), and what the kernel saw of the server's listen socket.
// Also the file-descriptor limit the 2,000-connection runs need. Traffic goes to 127.0.0.1 only.

import { spawn } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tsImport } from 'tsx/esm/api';
import { BENCH_DIR, HOST, sleep } from '../lib/common.mjs';
import { cpuSample, cpuStats } from '../lib/cpu.mjs';
import { runBounded, track } from '../lib/processes.mjs';

// weir bench's wrk engine records latency per status with a Lua script that needs one connection per wrk
// thread (see src/bench/wrk-script.ts); its script, arguments and reader are taken from their modules, as
// src/bench/index.ts does not publish them.
const { wrkScript } = await tsImport('../../src/bench/wrk-script.ts', import.meta.url);
const { wrkArgs, parseWrkRecord } = await tsImport('../../src/bench/wrk.ts', import.meta.url);

/** Writes weir bench's per-status Lua script for GET into `dir` (record.lua); returns its path. */
export function writeRecordScript(dir) {
  const record = join(dir, 'record.lua');
  writeFileSync(record, wrkScript({ method: 'GET', headers: [] }));
  return record;
}

/**
 * Writes the script wrk runs in one measured run, `base`.lua: a wrapper of weir bench's `record` script
 * (record.lua) that hands it only the responses completed inside the measured window, so that the
 * connections' ramp-up (wrk starts its threads one after another) stays out of the figures. The window
 * opens when the runner writes its start (CLOCK_MONOTONIC, µs) into `base`.window, and lasts `seconds`.
 * Per connection (one per wrk thread) the wrapper also keeps whether it was answered before the window
 * closed, and how long its request had been waiting when the window closed: wrk leaves requests without an
 * answer out of its figures, and under overload they are the longest waits of all. It prints, after weir
 * bench's lines:
 *   overload-bench u <connections> <never answered> <waiting at the close> <longest wait at the close, µs>
 * Returns { script, window } (their paths).
 */
export function writeRunScript(base, record, seconds) {
  const script = `${base}.lua`;
  const window = `${base}.window`;
  writeFileSync(
    script,
    WRAPPER.replaceAll('__RECORD__', JSON.stringify(record))
      .replaceAll('__WINDOW__', JSON.stringify(window))
      .replaceAll('__DURATION__', String(seconds * 1_000_000)),
  );
  return { script, window };
}

const WRAPPER = `-- bench/overload: weir bench's script (see src/bench/wrk-script.ts), given only the responses completed
-- inside the measured window, plus per connection whether it was answered before the window closed and how
-- long its request had waited when it closed (globals, read in done() by thread:get()).
dofile(__RECORD__)
local ffi = require("ffi")
local ts = ffi.new("weir_timespec")
local function now_us()
  ffi.C.clock_gettime(1, ts)
  return tonumber(ts.tv_sec) * 1000000 + math.floor(tonumber(ts.tv_nsec) / 1000)
end
-- The window's start, from the file the runner writes once every thread runs; looked for every 50 ms.
local function read_start()
  local f = io.open(__WINDOW__, "r")
  if f == nil then return nil end
  local start = f:read("*n")
  f:close()
  return start
end
local opens, closes, next_look = nil, nil, 0
local weir_request, weir_response, weir_setup, weir_done = request, response, setup, done
overload_answered = 0
overload_sent = -1
overload_waited = -1
function request()
  overload_sent = now_us()
  return weir_request()
end
function response(status, headers, body)
  local t = now_us()
  if opens == nil and t >= next_look then
    next_look = t + 50000
    opens = read_start()
    if opens ~= nil then closes = opens + __DURATION__ end
  end
  if opens ~= nil and t >= opens and t < closes then weir_response(status, headers, body) end
  if closes == nil or t < closes then
    overload_answered = overload_answered + 1
  elseif overload_sent < closes and overload_waited < 0 then
    overload_waited = closes - overload_sent
  end
  overload_sent = -1
end
local all = {}
function setup(thread)
  all[#all + 1] = thread
  return weir_setup(thread)
end
function done(summary, latency, requests)
  weir_done(summary, latency, requests)
  local closes_at = (read_start() or 0) + __DURATION__
  local never, waiting, longest = 0, 0, 0
  for _, thread in ipairs(all) do
    if thread:get("overload_answered") == 0 then never = never + 1 end
    local waited, sent = thread:get("overload_waited"), thread:get("overload_sent")
    if waited < 0 and sent >= 0 and sent < closes_at then waited = closes_at - sent end
    if waited >= 0 then
      waiting = waiting + 1
      if waited > longest then longest = waited end
    end
  end
  io.write(string.format("overload-bench u %d %d %d %d\\n", #all, never, waiting, longest))
end
`;

// ------------------------------------------------------------------------------------------- fd limit

/** The soft and hard limits of open files of this process, from /proc/self/limits. */
export function fdLimits() {
  const line = /^Max open files\s+(\S+)\s+(\S+)/m.exec(readFileSync('/proc/self/limits', 'utf8'));
  const read = (v) => (v === 'unlimited' ? Number.POSITIVE_INFINITY : Number(v));
  return { soft: read(line?.[1] ?? '1024'), hard: read(line?.[2] ?? '1024') };
}

/**
 * `argv` with its open-files limit raised to `need` when this process's soft limit is lower (`ulimit -n`
 * is per process, so the command runs as `sh -c 'ulimit -n <need> && exec "$@"'`); throws if the hard
 * limit is lower than `need`.
 */
export function withFdLimit(argv, need) {
  const { soft, hard } = fdLimits();
  if (soft >= need) return argv;
  if (hard < need)
    throw new Error(`${need} open files are needed, and the hard limit (ulimit -Hn) is ${hard}; raise it`);
  return ['sh', '-c', `ulimit -n ${need} && exec "$@"`, 'sh', ...argv];
}

// ------------------------------------------------------------------------------------ kernel counters

/** TcpExt's ListenOverflows and ListenDrops from /proc/net/netstat (machine-wide). */
export function listenCounters() {
  const lines = readFileSync('/proc/net/netstat', 'utf8').split('\n');
  const i = lines.findIndex((l) => l.startsWith('TcpExt:'));
  const names = lines[i].split(/\s+/);
  const values = lines[i + 1].split(/\s+/).map(Number);
  const get = (name) => values[names.indexOf(name)];
  return { overflows: get('ListenOverflows'), drops: get('ListenDrops') };
}

/**
 * The accept queue of the socket listening on 127.0.0.1:`port`: connections the kernel completed and the
 * server has not accepted yet (rx_queue of its /proc/net/tcp line), or undefined if none listens.
 */
export function acceptQueue(port) {
  const hex = port.toString(16).toUpperCase().padStart(4, '0');
  for (const line of readFileSync('/proc/net/tcp', 'utf8').split('\n')) {
    const f = line.trim().split(/\s+/);
    if (f[3] === '0A' && f[1]?.endsWith(`:${hex}`)) return Number.parseInt(f[4].split(':')[1], 16);
  }
  return undefined;
}

// ------------------------------------------------------------------------------------------ the prober

/**
 * Starts the probers (prober.mjs) pinned with `pin`, on `port`, sending for `seconds` once go() is called;
 * resolves once their keep-alive connection is open. `done` resolves to { fresh, keepAlive } probes; the
 * process is SIGKILLed if it outlives its bound.
 */
async function startProber(pin, { port, seconds, rate, timeout }) {
  const argv = [
    ...pin.wrk,
    process.execPath,
    join(BENCH_DIR, 'overload', 'prober.mjs'),
    `--port=${port}`,
    `--seconds=${seconds}`,
    `--rate=${rate}`,
    `--timeout=${timeout}`,
  ];
  const child = track(spawn(argv[0], argv.slice(1), { stdio: ['pipe', 'pipe', 'pipe'] }));
  let out = '';
  let err = '';
  child.stdout.on('data', (d) => {
    out += d;
  });
  child.stderr.on('data', (d) => {
    err += d;
  });
  let killer;
  const done = new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code, signal) => {
      clearTimeout(killer);
      if (code === 0) resolve(JSON.parse(out));
      else reject(new Error(`the prober exited with ${code ?? signal}:\n${err}`));
    });
  });
  done.catch(() => {}); // awaited by the caller; this keeps a failure before then from going unhandled
  const deadline = Date.now() + 15_000;
  while (!err.includes('ready')) {
    if (child.exitCode !== null) await done;
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`the prober's keep-alive connection did not open within 15 s:\n${err}`);
    }
    await sleep(50);
  }
  const go = () => {
    killer = setTimeout(() => child.kill('SIGKILL'), (seconds + timeout + 20) * 1000);
    child.stdin.end('go\n');
  };
  return { go, done };
}

// ---------------------------------------------------------------------------------------- the figures

/** The value at percentile `p` of the sorted `values` (nearest rank), or undefined for none. */
const rank = (values, p) =>
  values.length === 0
    ? undefined
    : values[Math.min(values.length - 1, Math.ceil((p / 100) * values.length) - 1)];

/** A prober's figures: its probes by outcome and the latency of its 2xx answers (ms). */
export function proberFigures(probes, loadEndAt) {
  const answered = probes.filter((p) => p.status !== undefined);
  const ok = answered.filter((p) => p.status >= 200 && p.status < 300);
  const latencies = ok.map((p) => p.answeredAt - p.sentAt).sort((a, b) => a - b);
  return {
    sent: probes.length,
    answered: answered.length,
    answeredDuringLoad: answered.filter((p) => p.answeredAt <= loadEndAt).length,
    ok: ok.length,
    s503: answered.filter((p) => p.status === 503).length,
    otherStatus: answered.length - ok.length - answered.filter((p) => p.status === 503).length,
    timeouts: probes.filter((p) => p.error === 'timeout').length,
    errors: probes.filter((p) => p.error !== undefined && p.error !== 'timeout').length,
    p50: rank(latencies, 50),
    p99: rank(latencies, 99),
    max: latencies.at(-1),
  };
}

/**
 * wrk's figures from its output (responses inside the `seconds` of the window only, see writeRunScript()):
 * goodput, the latency of 2xx answers (ms), counts per outcome. Socket errors and time-outs are wrk's own
 * counts over its whole run.
 */
export function wrkFigures(text, seconds) {
  const run = parseWrkRecord(text);
  const statuses = run.recorder.statuses();
  const count = (pick) =>
    Object.entries(statuses)
      .filter(([s]) => pick(Number(s)))
      .reduce((sum, [, n]) => sum + n, 0);
  const ok = count((s) => s >= 200 && s < 300);
  const s503 = count((s) => s === 503);
  const { p50, p99, max } = run.recorder.histogram('2xx').percentiles();
  return {
    responses: run.recorder.count,
    ok,
    goodput: ok / seconds,
    p50: ok > 0 ? p50 : undefined,
    p99: ok > 0 ? p99 : undefined,
    max: ok > 0 ? max : undefined,
    s503,
    otherStatus: run.recorder.count - ok - s503,
    socketErrors: run.errors.socket,
    timeouts: run.errors.timeouts,
    statuses,
    ...unanswered(text),
  };
}

/** The wrapper's line (see writeRunScript()). */
function unanswered(text) {
  const m = /^overload-bench u (\d+) (\d+) (\d+) (\d+)$/m.exec(text);
  if (!m)
    throw new Error(`wrk's output has no overload-bench line (did its script load?):\n${text.slice(0, 500)}`);
  return { neverAnswered: Number(m[2]), waitingAtClose: Number(m[3]), longestWaitMs: Number(m[4]) / 1000 };
}

// ------------------------------------------------------------------------------------------ one run

/** wrk's command line: `connections` (one thread each) for `seconds`, `script` if given, on GET /overload. */
function wrkCommand(pin, opts, connections, seconds, script) {
  const url = `http://${HOST}:${opts.port}/overload`;
  const args = script
    ? wrkArgs({ connections, durationMs: seconds * 1000, timeoutMs: opts.timeout * 1000, url }, script)
    : [`-t1`, `-c${connections}`, `-d${seconds}s`, url];
  // wrk holds a socket and an epoll descriptor per thread.
  return [...pin.wrk, ...withFdLimit(['wrk', ...args], 2 * connections + 256)];
}

/** A discarded warm-up: wrk -t1 with `connections` for `seconds`, no probers. */
export async function warmUp({ pin, opts, connections, seconds }) {
  await runBounded(wrkCommand(pin, opts, connections, seconds), seconds, 'wrk').done;
}

/** The number of threads of process `pid` (0 once it is gone). */
function threads(pid) {
  try {
    return readdirSync(`/proc/${pid}/task`).length;
  } catch {
    return 0;
  }
}

/**
 * One measured run against the server `serverPid` on `opts.port`. The probers start and open their
 * keep-alive connection; wrk starts (`connections`, a thread each, pinned with `pin.wrk`, --duration + 2 s
 * as it counts them); once all its threads run, the window opens for --duration s: the probers go (for
 * --duration - 1 s), and the CPU, the accept queue and ListenOverflows are read over the window. Raw
 * outputs go to `base`.txt, `base`-probes.json (and the script to `base`.lua). Resolves to { wrk, fresh,
 * keepAlive, acceptQueueMax, listenOverflows, rampSeconds, cpu }.
 */
export async function measure({ pin, opts, record, serverPid, connections, base }) {
  const { port, duration, timeout, rate } = opts;
  const prober = await startProber(pin, { port, seconds: Math.max(1, duration - 1), rate, timeout });
  const { script, window } = writeRunScript(base, record, duration);
  const argv = wrkCommand(pin, opts, connections, duration + 2, script);
  const wrk = runBounded(argv, duration + 2, 'wrk');
  wrk.done.catch(() => {}); // awaited below, after the window
  const t0 = performance.now();
  // wrk starts its threads one after another (each opens its connection as it starts), then its clock.
  while (threads(wrk.child.pid) < connections + 1 && performance.now() - t0 < 60_000) {
    if (wrk.child.exitCode !== null) await wrk.done; // it failed: say why
    await sleep(50);
  }
  const rampSeconds = (performance.now() - t0) / 1000;
  writeFileSync(window, `${process.hrtime.bigint() / 1000n}\n`); // CLOCK_MONOTONIC, as the script's
  const opensAt = performance.timeOrigin + performance.now();
  prober.go();
  const first = { cpu: cpuSample(serverPid, wrk.child.pid, {}), counters: listenCounters() };
  let acceptQueueMax = 0;
  const queueTimer = setInterval(() => {
    acceptQueueMax = Math.max(acceptQueueMax, acceptQueue(port) ?? 0);
  }, 250);
  await sleep(duration * 1000);
  clearInterval(queueTimer);
  const last = { cpu: cpuSample(serverPid, wrk.child.pid, {}), counters: listenCounters() };
  const { text } = await wrk.done;
  const closesAt = opensAt + duration * 1000;
  const probes = await prober.done;
  const cpu = cpuStats(first.cpu, last.cpu);
  const listenOverflows = last.counters.overflows - first.counters.overflows;
  writeFileSync(
    `${base}.txt`,
    `$ ${argv.join(' ')}\n${text}\n# window: ${duration} s from ${rampSeconds.toFixed(1)} s after wrk started; CPU, % of one core: ${JSON.stringify(cpu ?? {})}; accept queue max ${acceptQueueMax}; ListenOverflows +${listenOverflows}\n`,
  );
  writeFileSync(`${base}-probes.json`, JSON.stringify({ opensAt, closesAt, ...probes }));
  return {
    wrk: wrkFigures(text, duration),
    fresh: proberFigures(probes.fresh, closesAt),
    keepAlive: proberFigures(probes.keepAlive, closesAt),
    acceptQueueMax,
    listenOverflows,
    rampSeconds,
    cpu,
  };
}
