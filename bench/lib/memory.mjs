// Memory of a process from /proc (Linux): its peak resident set, for the reports' RSS columns.

import { readFileSync } from 'node:fs';

/**
 * The peak resident set size (VmHWM of /proc/<pid>/status: the most RAM the process has held at once since
 * it started) in MB (10^6 bytes), or undefined when the process is gone or /proc has no such line.
 */
export function peakRssMb(pid) {
  try {
    const kb = /^VmHWM:\s+(\d+)\s+kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
    return kb === undefined ? undefined : (Number(kb) * 1024) / 1e6;
  } catch {
    return undefined;
  }
}
