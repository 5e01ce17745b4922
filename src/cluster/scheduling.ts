/**
 * How a multi-process primary's connections reach its workers (`PrimaryOptions.scheduling`): the choice,
 * checked, and what the platform allows.
 */
import { readFileSync } from 'node:fs';
import { invalidOption } from '../errors.ts';

/**
 * How connections reach workers. `rr` (Node's default) hands each worker its next connection only once
 * the worker has acknowledged the previous one, so a storm of new connections reaches overloaded workers
 * over seconds; `none` and `reuseport` leave it to the kernel: `none` to whichever worker accepts first
 * (uneven when the workers are idle), `reuseport` by hash, evenly, but a worker that stops resets the
 * connections still queued on its socket unless Linux's `net.ipv4.tcp_migrate_req` is 1.
 */
export type Scheduling = 'rr' | 'none' | 'reuseport';

const SCHEDULINGS: readonly string[] = ['rr', 'none', 'reuseport'] satisfies Scheduling[];

/** Whether `value` names a scheduling (`rr`, `none` or `reuseport`). */
export function isScheduling(value: unknown): value is Scheduling {
  return typeof value === 'string' && SCHEDULINGS.includes(value);
}

/** Whether this Node on this platform can bind a port with SO_REUSEPORT (`listen({ reusePort })`). */
export function reusePortAvailable(
  version = process.versions.node,
  platform: NodeJS.Platform = process.platform,
): boolean {
  const [major = 0, minor = 0] = version.split('.').map(Number);
  const node = major > 23 || (major === 23 && minor >= 1) || (major === 22 && minor >= 12);
  return node && ['linux', 'freebsd', 'sunos', 'aix'].includes(platform);
}

export function checkScheduling(value: unknown): Scheduling {
  if (value === undefined) return 'rr';
  if (!isScheduling(value)) throw invalidOption('scheduling', 'rr, none or reuseport', value);
  if (value === 'reuseport' && !reusePortAvailable()) {
    throw invalidOption(
      'scheduling',
      `rr or none here: reuseport needs Node 22.12 or later on Linux or FreeBSD (this is Node ${process.versions.node} on ${process.platform})`,
      value,
    );
  }
  return value;
}

/**
 * Under `reuseport` on Linux, what a worker that stops (a reload, a stop) does to the connections queued
 * on its socket, when the kernel would reset them; `undefined` when it hands them to the other workers.
 */
export function reusePortWarning(): string | undefined {
  if (process.platform !== 'linux') return undefined;
  let migrate: string;
  try {
    migrate = readFileSync('/proc/sys/net/ipv4/tcp_migrate_req', 'utf8').trim();
  } catch {
    migrate = 'missing';
  }
  if (migrate === '1') return undefined;
  return (
    'weir: scheduling reuseport: a worker that stops (a reload, a stop) resets the connections still ' +
    'queued on its socket; set net.ipv4.tcp_migrate_req=1 (Linux 5.14 or later) to hand them to the ' +
    `other workers (it is ${migrate === 'missing' ? 'not there' : migrate})`
  );
}
