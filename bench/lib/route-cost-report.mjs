// The pieces of the reports of the runners that measure middleware on one route (auth.mjs,
// idempotency.mjs, protection.mjs) that are the same: the line logged after each run, the cells of a
// variant's row and the lines on the machine, the set-up and the waits.

import { machineFacts } from './machine.mjs';
import { medianOf } from './stats.mjs';

/** A figure with `digits` decimals, '–' where there is none. */
export const fmt = (x, digits = 1) => (x === undefined || Number.isNaN(x) ? '–' : x.toFixed(digits));

/** A CPU share in % of one core, rounded; '?' where there is none. */
export const share = (x) => (x === undefined || Number.isNaN(x) ? '?' : Math.round(x));

/**
 * The line logged after a measured run `r` (see costOfRun()) of variant `name`: req/s, p99, the server's
 * CPU per request (with `user`, its user time too), the CPU shares (written by `pct`), wrk's errors.
 */
export const runLine = (round, name, r, { user = false, pct = share } = {}) =>
  `round ${round + 1} ${name}: ${Math.round(r.rps)} req/s, p99 ${r.p99}, ${r.cpuUs.toFixed(1)} µs CPU/request${user ? ` (user ${r.userUs.toFixed(1)})` : ''}, ` +
  `CPU % server ${pct(r.shares?.server)} wrk ${pct(r.shares?.wrk)} others ${pct(r.shares?.other0)} / ${pct(r.shares?.other1)}, ` +
  `non-2xx ${r.non2xx}, socket errors ${r.socketErrors}`;

/** The median over the rounds `runs` of their `key`. */
export const medianBy = (runs, key) => medianOf(runs.map((r) => r[key]));

/** The sum over the rounds `runs` of their `key`. */
export const total = (runs, key) => runs.reduce((a, r) => a + r[key], 0);

/**
 * The middle round: the one whose req/s is the median of `runs`; with an even count, where none is, the
 * one after the middle.
 */
export function middleRun(runs) {
  const rps = medianBy(runs, 'rps');
  return runs.find((r) => r.rps === rps) ?? runs[Math.floor(runs.length / 2)];
}

/** The req/s of each round, rounded: `51234, 50120`. */
export const rpsPerRound = (runs) => runs.map((r) => Math.round(r.rps)).join(', ');

/**
 * req/s over that of the baseline's rounds `base` in the same round, and their median:
 * `0.98, 1.01 (median **0.99**)`, the median in bold unless `strong` is false.
 */
export function ratiosText(runs, base, strong = true) {
  const ratios = runs.map((r, i) => r.rps / base[i].rps);
  const median = `${strong ? '**' : ''}${medianOf(ratios).toFixed(2)}${strong ? '**' : ''}`;
  return `${ratios.map((x) => x.toFixed(2)).join(', ')} (median ${median})`;
}

/** The median over the rounds of `key` less the baseline's (`base`) in the same round. */
export const addedOver = (runs, base, key) => medianOf(runs.map((r, i) => r[key] - base[i][key]));

/** The cells of redis-server's CPU and of Redis's commands per request, medians ('–' without Redis). */
export function redisCells(variant, runs) {
  const redisCpu = variant.redis ? medianOf(runs.map((r) => r.redisCpuUs ?? Number.NaN)) : undefined;
  const commands = variant.redis ? medianBy(runs, 'redisCommands') : undefined;
  return `${fmt(redisCpu)} | ${fmt(commands, 2)}`;
}

/**
 * The cells that end a variant's row: the server's and wrk's CPU % in the middle round `mid`, the most
 * that anything else used of core 0 and of core 1 in any round (the shares written by `pct`), and the
 * non-2xx answers and socket errors of all rounds.
 */
export function sharesAndErrors(runs, mid, pct = share) {
  const most = (key) => pct(Math.max(...runs.map((r) => r.shares?.[key] ?? Number.NaN)));
  return (
    `${pct(mid.shares?.server)} / ${pct(mid.shares?.wrk)} | ${most('other0')} / ${most('other1')} | ` +
    `${total(runs, 'non2xx')} | ${total(runs, 'socketErrors')} |`
  );
}

/** The report's sentence on the machine and the checkout, with the Redis version `redis` if one was used. */
export function machineLine(redis) {
  const m = machineFacts();
  return `Machine: ${m.nproc} × ${m.cpuModel}, ${m.kernel}, Node ${m.node}, ${m.wrk}${redis ? `, Redis ${redis}` : ''}, commit ${m.commit}.`;
}

/**
 * The report's two lines on how servers/`server` and wrk ran (`pin`: pinning()), the second ending in
 * `end`.
 */
export const setupLines = (server, pin, { connections, duration }, end) => [
  `(servers/${server} from dist/, one process${pin.pinned ? ' pinned to core 0' : ''}; wrk -t1`,
  `-c${connections}${pin.pinned ? ' pinned to core 1' : ''}, keep-alive, ${duration} s a run after a 2 s warm-up${end}`,
];

/**
 * The report's two lines on the load average before the run (`load0`), how long it took from `started`
 * (ms) and how long it waited (`quiet`: quietWaits()).
 */
export const waitLines = (load0, started, quiet) => [
  `Load average before the run: ${load0}; the run took ${Math.round((Date.now() - started) / 1000)} s, of which it waited`,
  quiet.summary(),
];
