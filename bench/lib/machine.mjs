// The machine and the checkout a run happens on: their facts for the report, and the waits that keep a run
// from starting while another bench runner or a test run uses the cores, or while src/ is being edited.

import { execFileSync } from 'node:child_process';
import {
  cpSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { availableParallelism, cpus, loadavg } from 'node:os';
import { join, resolve } from 'node:path';
import { output, ROOT, sleep } from './common.mjs';

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

/** The load averages over 1, 5 and 15 minutes, as a report gives them: `0.52, 0.61, 0.70`. */
export const loadAverage = () =>
  loadavg()
    .map((n) => n.toFixed(2))
    .join(', ');

/** The filesystem type and device of the folder `dir` (`ext4 on /dev/vda`), from df. */
export function filesystemOf(dir) {
  const line = output('df', ['-T', dir]).split('\n')[1] ?? '';
  const [device, type] = line.split(/\s+/);
  return type ? `${type} on ${device}` : 'unknown';
}

/** Other benchmark runners and test runs: a measurement waits while one of them runs. */
const OTHER_RUNNERS =
  /(^|\/)(bench\/(run|db|cache|compute|db-drivers|profile|startup|overload|idempotency|deadlines|auth|protection|schemas)\.mjs|scripts\/test\.mjs)$/;

/** Node processes running another bench runner or the test suite, as "PID command". */
function otherRuns() {
  const found = [];
  for (const pid of readdirSync('/proc')) {
    if (!/^\d+$/.test(pid) || Number(pid) === process.pid) continue;
    try {
      const args = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
      if (!/(^|\/)node$/.test(args[0] ?? '')) continue;
      const cwd = readlinkSync(`/proc/${pid}/cwd`);
      if (args.includes('--test') || args.slice(1).some((arg) => OTHER_RUNNERS.test(resolve(cwd, arg))))
        found.push(`${pid} ${args.join(' ')}`);
    } catch {
      // gone, or not ours to read
    }
  }
  return found;
}

/**
 * Polls `busy()` every 5 s until it answers nothing (undefined), up to `seconds`, and then resolves to the
 * seconds waited; `busy()` answers why it is not time yet, which is shown once after `name`, or thrown at
 * the end.
 */
async function waitWhile(busy, { name, seconds }) {
  const t0 = Date.now();
  let shown = false;
  for (;;) {
    const reason = busy();
    if (reason === undefined) return (Date.now() - t0) / 1000;
    if (Date.now() - t0 > seconds * 1000) throw new Error(`still ${reason} after ${seconds} s`);
    if (!shown) console.log(`${name}: waiting: ${reason}`);
    shown = true;
    await sleep(5000);
  }
}

/** Waits (`limit`: { name, seconds }) while another bench runner or a test run runs; resolves to the seconds waited. */
export const waitForQuiet = (limit) =>
  waitWhile(() => {
    const others = otherRuns();
    return others.length > 0 ? `another bench runner or test run runs: ${others.join('; ')}` : undefined;
  }, limit);

/** The newest modification time (ms) of a file under `dir`. */
function newestChange(dir) {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true, recursive: true }))
    if (entry.isFile()) {
      try {
        newest = Math.max(newest, statSync(join(entry.parentPath ?? entry.path, entry.name)).mtimeMs);
      } catch {
        // removed meanwhile
      }
    }
  return newest;
}

/**
 * Waits (`limit` as for waitForQuiet()) until no file under src/ has changed for 60 s: a run that copies or
 * builds src/ next must not catch an edit in progress.
 */
export const waitForStableSource = (limit) =>
  waitWhile(() => {
    const age = (Date.now() - newestChange(join(ROOT, 'src'))) / 1000;
    return age < 60 ? `src/ changed ${Math.round(age)} s ago (it must rest for 60 s)` : undefined;
  }, limit);

/**
 * Copies src/ into `dir`/src, next to a package.json of type module and a link to the repo's node_modules,
 * so that it loads as src/ does: code run from this copy is not reached by edits made to the tree while a
 * run goes. Returns the copy's src/.
 */
export function snapshotSource(dir) {
  cpSync(join(ROOT, 'src'), join(dir, 'src'), { recursive: true });
  writeFileSync(join(dir, 'package.json'), '{ "private": true, "type": "module" }\n');
  symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'), 'dir');
  return join(dir, 'src');
}
