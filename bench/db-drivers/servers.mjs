// The servers, routes and database of bench/db-drivers.mjs: one raw node:http server per PostgreSQL
// driver (servers/db-http.mjs), and how wrk loads them.

import { fmtInt, wrkCommand } from '../lib.mjs';

export const SERVERS = {
  pg: { file: 'node-pg.mjs', label: 'pg (Pool)' },
  'pg-clients': { file: 'node-pg-clients.mjs', label: 'pg (16 Clients, round-robin)' },
  postgresjs: { file: 'node-postgresjs.mjs', label: 'postgres.js' },
};
export const ALL_SERVERS = Object.keys(SERVERS);
export const ROUTES = { db: '/db', queries: '/queries?queries=20' };
export const DATABASE = 'weir_bench_drivers';
export const WORLD_ROWS = 10_000;
export const PIN = { server: ['taskset', '-c', '0'], wrk: ['taskset', '-c', '1'] };

/** wrk's command line, pinned to core 1: `connections`, `seconds`, GET `path` on --port. */
export const wrkArgs = (opts, path, connections, seconds) =>
  wrkCommand(PIN, { connections, port: opts.port }, seconds, path);

/** The req/s of a run's slices, as the log and the report give them. */
export const fmtSlices = (slices) => slices.map((s) => fmtInt(s.rps)).join(' · ');
