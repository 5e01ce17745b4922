// bench/db.mjs's servers: what each one is, the driver calls each of its queries makes (its query path), the
// routes it answers, and the comparisons the report makes between them.

import { join } from 'node:path';
import { BENCH_DIR, ROOT, SERVICE_ARGV } from '../lib.mjs';

export const ALL_ROUTES = ['db', 'queries', 'fortunes', 'updates'];

/**
 * The driver calls of one query, per path. Every PostgreSQL path uses named prepared statements (parsed and
 * planned once per connection) on a pool of --pool connections (16).
 */
export const PATHS = {
  weir: {
    label: 'pg, weir path',
    calls:
      "pg (node-postgres), as weir's PostgreSQL layer sends every query (src/db/postgres-state.ts, `#take`/`#submit`): `pool.connect(callback)` for a client, `new pg.Query(text, values, callback)` with `.name` set, `client.query(query)`, and the client handed back with `done()` from the query's callback; pg.Pool with weir's settings (max 16, connectionTimeoutMillis 10,000, idleTimeoutMillis 0: no idle timer per query, a `getTypeParser` hook)",
  },
  'weir-signal': {
    label: 'pg, weir path + signal',
    calls:
      "the weir path, each query under the request's signal (`db.with({ signal })`): weir adds an abort listener per query and, if it fires, rejects at once and sends PostgreSQL a CancelRequest for the running query",
  },
  'pool-query': {
    label: 'pg, pool.query',
    calls:
      "pg's convenience call `pool.query({ name, text, values })` on the same pool settings: pg's own promise, its connect and release, and a copy of the config into a new Query per query (the path weir measured as slower and left)",
  },
  pipelined: {
    label: 'postgres.js, pipelined',
    calls:
      'postgres.js (the `postgres` package, prepare: true, max 16): /queries reserves one connection (`sql.reserve()`), hands it the N `` sql`…` `` queries at once, which postgres.js writes one after another without waiting for answers (pipelined, up to 100 in flight), then `release()`; /db is one `` sql`…` `` on its pool',
  },
  sqlite: {
    label: 'better-sqlite3',
    calls:
      "better-sqlite3 through weir's SQLite engine: a statement prepared once per call site, run synchronously on the event loop",
  },
};

const service = (what) => ({ argv: SERVICE_ARGV, engine: 'postgres', path: 'weir', service: true, what });
const script = (file) => [join(BENCH_DIR, 'servers', file)];

/**
 * The servers, in the report's order. `path`: its query path (PATHS); `engine`: postgres or sqlite;
 * `routes`: the routes it answers when not all; `env`, `cwd`: how it starts; `service`: the reference
 * service (which reads no pool size); `experiment`: not a peer on the same path, reported apart.
 */
export const SERVERS = {
  weir: service(
    'the reference service (examples/service, its routes in `techempower.ts`) compiled by tsc into bench/.build/service/ and run as `node bench/.build/service/main.js`',
  ),
  'weir-start': {
    ...service(
      'the reference service started exactly as `npm start`: `node scripts/start.mjs` from the repo root (examples/service bundled once with weir from dist/ into .build/service/<hash>/)',
    ),
    label: 'weir npm start',
    argv: [join(ROOT, 'scripts', 'start.mjs')],
    cwd: ROOT,
  },
  'weir-app': {
    label: 'weir-app',
    argv: script('weir-db.mjs'),
    engine: 'postgres',
    path: 'weir',
    what: "[servers/weir-db.mjs](servers/weir-db.mjs): a weir `App` (default options) with the service's four routes and nothing else, from dist/; no signal on the queries, as in the service",
  },
  'weir-app-nolimit': {
    label: 'weir-app, no limiter',
    argv: script('weir-db.mjs'),
    env: { WEIR_OVERLOAD: 'off' },
    engine: 'postgres',
    path: 'weir',
    what: 'servers/weir-db.mjs with `WEIR_OVERLOAD=off`: the same App with `overload: false`',
  },
  'weir-signal': {
    label: 'weir-signal',
    argv: script('weir-db.mjs'),
    env: { WEIR_DB_CANCEL: 'signal' },
    engine: 'postgres',
    path: 'weir',
    what: 'servers/weir-db.mjs with `WEIR_DB_CANCEL=signal`: each request makes `ctx.signal` (aborted when its response closes), no query gets it: what the signal alone costs',
  },
  'weir-cancel': {
    label: 'weir-cancel',
    argv: script('weir-db.mjs'),
    env: { WEIR_DB_CANCEL: '1' },
    engine: 'postgres',
    path: 'weir-signal',
    what: "servers/weir-db.mjs with `WEIR_DB_CANCEL=1`: request cancellation on, as the service's POST /db does it: `gather(…, { signal: ctx.signal })` hands each lookup its signal (`db.with({ signal })`), the single queries run on `db.with(ctx)`",
  },
  fastify: {
    argv: script('fastify-db.mjs'),
    env: { DB_PATH: 'weir' },
    engine: 'postgres',
    path: 'weir',
    what: '[servers/fastify-db.mjs](servers/fastify-db.mjs): fastify 5, logger off, no schemas, the queries of [servers/tfb.mjs](servers/tfb.mjs) with `DB_PATH=weir`',
  },
  node: {
    label: 'node:http',
    argv: script('node-db.mjs'),
    env: { DB_PATH: 'weir' },
    engine: 'postgres',
    path: 'weir',
    what: '[servers/node-db.mjs](servers/node-db.mjs): a bare `createServer` listener, the queries of servers/tfb.mjs with `DB_PATH=weir`',
  },
  'fastify-pool-query': {
    label: 'fastify pool.query',
    argv: script('fastify-db.mjs'),
    env: { DB_PATH: 'pool-query' },
    engine: 'postgres',
    path: 'pool-query',
    what: 'servers/fastify-db.mjs with `DB_PATH=pool-query`',
  },
  'node-pool-query': {
    label: 'node:http pool.query',
    argv: script('node-db.mjs'),
    env: { DB_PATH: 'pool-query' },
    engine: 'postgres',
    path: 'pool-query',
    what: 'servers/node-db.mjs with `DB_PATH=pool-query`',
  },
  'weir-sqlite': {
    ...service('the reference service as the weir row, on a SQLite file in a temporary folder'),
    engine: 'sqlite',
    path: 'sqlite',
  },
  'node-pipelined': {
    label: 'node:http pipelined',
    argv: script('node-pipelined-db.mjs'),
    engine: 'postgres',
    path: 'pipelined',
    routes: ['queries'],
    experiment: true,
    what: '**experiment**: [servers/node-pipelined-db.mjs](servers/node-pipelined-db.mjs), a bare `createServer` listener whose /queries sends its N SELECTs pipelined on one connection (postgres.js); /queries only',
  },
};
for (const [name, s] of Object.entries(SERVERS)) s.label ??= name;

export const ALL_SERVERS = Object.keys(SERVERS);

/**
 * The server's query path. Runs from before the peers took weir's path (a summary whose facts have no
 * `peerPath`) ran fastify and node:http on pool.query.
 */
export const pathOfServer = (server, facts) =>
  facts.peerPath === undefined && (server === 'fastify' || server === 'node')
    ? 'pool-query'
    : SERVERS[server].path;

/** The routes `server` runs among `routes`. */
export const routesOfServer = (server, routes) =>
  SERVERS[server].routes ? routes.filter((r) => SERVERS[server].routes.includes(r)) : routes;

/**
 * The report's comparisons, [a, b, what a ÷ b shows, role]: `target` for the framework-cost target (same
 * path), `experiment` for the pipelining experiment.
 */
export const COMPARISONS = [
  ['weir', 'node', 'framework cost, same path', 'target'],
  ['weir', 'fastify', 'against fastify, same path', 'target'],
  ['weir', 'node-pool-query', "against node:http on pg's pool.query"],
  ['weir', 'fastify-pool-query', "against fastify on pg's pool.query"],
  ['node', 'node-pool-query', 'what the path is worth under node:http'],
  ['fastify', 'fastify-pool-query', 'what the path is worth under fastify'],
  ['weir-start', 'weir', '`npm start` against the bench build'],
  ['weir-app', 'weir', 'the four routes alone against the whole service'],
  ['weir-cancel', 'weir-app', 'request cancellation on against off'],
  ['weir-sqlite', 'weir', 'SQLite against PostgreSQL'],
  ['weir', 'node-pipelined', 'experiment: below 1× pipelining is ahead', 'experiment'],
  ['node', 'node-pipelined', 'experiment, both bare node:http: below 1× pipelining is ahead', 'experiment'],
];

/** Framework cost target: weir ÷ a peer on the same path ≥ this, at the interval's lower end. */
export const COST_TARGET = 0.95;
/** Memory target: weir's peak RSS ÷ node:http's ≤ this. */
export const RSS_TARGET = 1.25;
