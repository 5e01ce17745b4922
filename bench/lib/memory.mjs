// Memory of a process from /proc (Linux): its resident set now (VmRSS) and the most it has held since it
// started (VmHWM, the "high water mark"). The reports give a server's peak RSS as VmHWM read at the end of
// its measured run: in MiB (run.mjs, cache.mjs, startup.mjs) or MB (db.mjs).

import { readFileSync } from 'node:fs';

/** A field of /proc/<pid>/status in kB (VmRSS, VmHWM, …) as MiB, or undefined (no such process, not Linux). */
function statusMiB(pid, field) {
  try {
    const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : undefined;
  } catch {
    return undefined;
  }
}

/** The resident set of process `pid` now, in MiB (VmRSS), or undefined. */
export const rssMiB = (pid) => statusMiB(pid, 'VmRSS');

/** The largest resident set process `pid` has had since it started, in MiB (VmHWM), or undefined. */
export const peakRssMiB = (pid) => statusMiB(pid, 'VmHWM');

/** The same peak in MB (10^6 bytes), or undefined. */
export function peakRssMb(pid) {
  const mib = peakRssMiB(pid);
  return mib === undefined ? undefined : (mib * 1024 * 1024) / 1e6;
}

/** MiB as the reports write them: `61.2`, or `n/a`. */
export const fmtMiB = (n) => (n === undefined || n === null || !Number.isFinite(n) ? 'n/a' : n.toFixed(1));
