// bench/startup.mjs's processes: the tree of a start (npm → sh → node, or node alone) from /proc, the
// service's node process in it, and stopping it by PID, every wait bounded.

import { readdirSync, readFileSync } from 'node:fs';
import { sleep } from '../lib.mjs';

/** How long a stopped service has to exit after SIGTERM before its tree gets SIGKILL, in ms. */
export const STOP_MS = 10_000;

/** The parent PID of every process, from /proc/<pid>/stat. */
function parents() {
  const parent = new Map();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      parent.set(Number(entry), Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]));
    } catch {
      // gone
    }
  }
  return parent;
}

/** `pid` and every process below it, parents first. */
export function tree(pid) {
  const children = new Map();
  for (const [child, parent] of parents()) {
    if (!children.has(parent)) children.set(parent, []);
    children.get(parent).push(child);
  }
  const found = [pid];
  for (let i = 0; i < found.length; i++) found.push(...(children.get(found[i]) ?? []));
  return found;
}

/** A process's command line as a list, or undefined once it is gone. */
function argvOf(pid) {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
  } catch {
    return undefined;
  }
}

/** Whether process `pid` still runs (a zombie, exited but not yet reaped, does not). */
function alive(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

/** The service's node process in the tree of `pid`: the one whose command line runs scripts/start.mjs. */
export const servicePid = (pid) =>
  tree(pid).find((p) => {
    const argv = argvOf(p);
    return argv !== undefined && /(^|\/)node$/.test(argv[0]) && argv.includes('scripts/start.mjs');
  });

/** Signals `pid` if it still runs; a process gone meanwhile is not an error. */
export function signal(pid, name) {
  try {
    process.kill(pid, name);
  } catch {
    // gone
  }
}

/** Waits up to `ms` until none of `pids` runs; resolves to whether they are all gone. */
async function gone(pids, ms) {
  const deadline = Date.now() + ms;
  while (pids.some(alive)) {
    if (Date.now() > deadline) return false;
    await sleep(20);
  }
  return true;
}

/**
 * Stops a start: SIGTERM to the service's node process (`npm start` does not pass a SIGTERM sent to npm on
 * to it: npm forwards it to its `sh -c`, which exits and leaves node running), or to the top process if no
 * service is found; SIGKILL to every process of the tree still running STOP_MS later. Bounded: resolves
 * once the tree is gone or, after the SIGKILL, 5 s later at most; then to whether SIGKILL was needed.
 */
export async function stop(top, service) {
  const pids = tree(top.pid);
  signal(service ?? top.pid, 'SIGTERM');
  if (await gone(pids, STOP_MS)) return false;
  for (const pid of pids) signal(pid, 'SIGKILL');
  if (!(await gone(pids, 5000)))
    throw new Error(`processes ${pids.filter(alive).join(', ')} outlived SIGKILL`);
  return true;
}
