// CPU accounting from /proc (Linux): how much CPU a process, a thread, a core or the whole machine used over
// a window, in % of one core. On a shared machine this tells a slow server from a server that was starved.

import { readdirSync, readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { output } from './common.mjs';

let clkTck;
/** Clock ticks per second of /proc's CPU times. */
export function clockTicks() {
  if (clkTck === undefined) {
    const n = Number(output('getconf', ['CLK_TCK']));
    clkTck = Number.isFinite(n) && n > 0 ? n : 100;
  }
  return clkTck;
}

/** The fields after the name of a /proc/<pid>/stat or /proc/<pid>/task/<tid>/stat file (state first). */
function statFields(path) {
  const stat = readFileSync(path, 'utf8');
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
}

/** utime + stime of a /proc/<pid>/stat or /proc/<pid>/task/<tid>/stat file, in ticks. */
export function ticks(path) {
  try {
    const fields = statFields(path);
    return Number(fields[11]) + Number(fields[12]); // utime + stime
  } catch {
    return undefined;
  }
}

/**
 * utime and stime of process `pid` (all threads), in ticks: { user, sys }, the CPU in its own code and in
 * the kernel; NaNs where /proc has no such process.
 */
export function userSysTicks(pid) {
  try {
    const fields = statFields(`/proc/${pid}/stat`);
    return { user: Number(fields[11]), sys: Number(fields[12]) };
  } catch {
    return { user: Number.NaN, sys: Number.NaN };
  }
}

/**
 * utime + stime of process `pid` and of its descendants alive now (a primary and its workers), in ticks;
 * undefined when `pid` is gone.
 */
export function treeTicks(pid) {
  const own = ticks(`/proc/${pid}/stat`);
  if (own === undefined) return undefined;
  let sum = own;
  try {
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      const children = readFileSync(`/proc/${pid}/task/${tid}/children`, 'utf8').trim();
      for (const child of children === '' ? [] : children.split(' ')) sum += treeTicks(child) ?? 0;
    }
  } catch {
    // gone, or no children file (a kernel without it counts the process alone)
  }
  return sum;
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

/** `ticks` of CPU time over `seconds`, in % of one core. */
export const percentOfCore = (n, seconds) => (n / clockTicks() / seconds) * 100;

/**
 * The window between two samples ({ at: performance.now(), …ticks }): its `seconds`, and pct(key, field),
 * the ticks `key` (or their `field`, for a statTicks() pair: 'busy' or 'steal') used in between in % of
 * one core, undefined where a sample lacks them.
 */
export function cpuWindow(first, last) {
  const seconds = (last.at - first.at) / 1000;
  const value = (s, key, field) => (field === undefined ? s[key] : s[key]?.[field]);
  const pct = (key, field) => {
    const [a, b] = [value(first, key, field), value(last, key, field)];
    return a === undefined || b === undefined ? undefined : percentOfCore(b - a, seconds);
  };
  return { seconds, pct };
}

/** What measureWrk() samples: the server's, wrk's and core 0's ticks, and those of `more` (name → take()). */
export function cpuSample(serverPid, wrkPid, more) {
  const s = {
    at: performance.now(),
    server: treeTicks(serverPid),
    wrk: ticks(`/proc/${wrkPid}/stat`),
    core0: statTicks('cpu0'),
  };
  for (const [name, take] of Object.entries(more)) s[name] = take();
  return s;
}

/**
 * Percent of one core over the window between two cpuSample()s: the server's, wrk's, what else ran on
 * core 0 and the steal there, and the `more` figures.
 */
export function cpuStats(first, last) {
  const { seconds, pct } = cpuWindow(first, last);
  if (!first || !last || seconds < 1) return undefined;
  const server = pct('server');
  const busy = pct('core0', 'busy');
  const stats = {
    server,
    wrk: pct('wrk'),
    otherCore0: busy === undefined || server === undefined ? undefined : Math.max(0, busy - server),
    stealCore0: pct('core0', 'steal'),
  };
  for (const name of Object.keys(first))
    if (
      !['at', 'server', 'wrk', 'core0'].includes(name) &&
      first[name] !== undefined &&
      last[name] !== undefined
    )
      stats[name] = pct(name);
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
