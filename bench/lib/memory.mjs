// Memory of a process from /proc (Linux): its resident set now (VmRSS) and the most it has held since it
// started (VmHWM, the "high water mark"), in MiB. The reports give a server's peak RSS as VmHWM read at the
// end of its measured run.

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

/** MiB as the reports write them: `61.2`, or `n/a`. */
export const fmtMiB = (n) => (n === undefined || n === null || !Number.isFinite(n) ? 'n/a' : n.toFixed(1));
