/**
 * The primary's pid file: claimed at start, released at exit, and read by `weir reload`.
 *
 * A primary killed with SIGKILL (or a host that lost power) leaves its file behind. The next primary
 * must neither refuse to start because of it nor take over a file a running primary still owns, and
 * `weir reload` must not send SIGHUP (which ends most processes) to whatever process reused the pid.
 * A pid counts as a running primary when the process exists and, where `/proc` tells, runs Node.
 */
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { WeirError } from '../errors.ts';

/** What a pid file says: no file, garbage, a pid no primary runs under (stale), or a running primary. */
export type PidFileState =
  | { kind: 'missing' }
  | { kind: 'invalid' }
  | { kind: 'stale'; pid: number }
  | { kind: 'running'; pid: number };

/** Reads `path` and checks the process it names. */
export function readPidFile(path: string): PidFileState {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { kind: 'missing' };
    throw err;
  }
  const pid = Number(text.trim());
  if (!Number.isInteger(pid) || pid <= 0) return { kind: 'invalid' };
  return isPrimaryAlive(pid) ? { kind: 'running', pid } : { kind: 'stale', pid };
}

/**
 * Writes this process's pid to `path`. A file left by a primary that no longer runs is taken over, with
 * `log` saying so.
 * @throws `WEIR_ERR_PID_FILE_TAKEN` when the file names another running primary.
 */
export function claimPidFile(path: string, log: (line: string) => void): void {
  const state = readPidFile(path);
  if (state.kind === 'running' && state.pid !== process.pid) {
    throw new WeirError(
      'WEIR_ERR_PID_FILE_TAKEN',
      `${path} names pid ${state.pid}, a running process: is another primary running? ` +
        'Stop it, or give this one another --pid-file',
    );
  }
  if (state.kind === 'stale') {
    log(
      `weir: ${path} named pid ${state.pid}, which is not running (a primary that was killed); taking it over`,
    );
  }
  writeFileSync(path, `${process.pid}\n`);
}

/** Removes `path` if it still names this process (a newer primary may have claimed it since). */
export function releasePidFile(path: string): void {
  try {
    if (Number(readFileSync(path, 'utf8').trim()) !== process.pid) return;
  } catch {
    return;
  }
  rmSync(path, { force: true });
}

function isPrimaryAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    // EPERM: the process exists but belongs to someone else; it is not ours to signal, but it is alive.
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  let cmdline: string;
  try {
    cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
  } catch {
    return true; // No /proc (macOS) or not readable: trust the signal check.
  }
  // A zombie or a pid reused by another program: only a Node process can be a weir primary.
  return /(^|[/\0])(node|nodejs|weir)[^/\0]*(\0|$)/.test(cmdline) || cmdline.includes(process.execPath);
}
