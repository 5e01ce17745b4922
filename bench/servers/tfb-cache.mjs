// The TechEmpower "cached queries" test with World rows held in a plain in-process `Map`, for the servers
// that compare against weir's /cached-queries (node-cache.mjs, fastify-cache.mjs): one module, so that
// both make the same pg calls and only the HTTP side differs.
//
// The Map starts empty and fills as requests ask for rows: a miss reads the row from PostgreSQL with the
// same SQL as weir's reference service (examples/service/techempower.ts), as a named prepared statement
// through `pool.query({ name, text, values })` on a pg.Pool with weir's settings; concurrent misses of one
// id share one query (as weir's `cache.wrap()` does). Rows never expire and are never evicted: the table
// has 10,000 rows, and TechEmpower lets the cache be populated as needed. A hit answers the row object
// itself, shared by every request (weir's memory cache also hands out one read-only value).
import pg from 'pg';

export const WORLD_SIZE = 10_000;

/** The database from DATABASE_URL (a postgres:// URL), with weir's pool settings; DB_POOL connections. */
const pool = new pg.Pool({
  connectionString: process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/weir_bench_cache',
  max: Number(process.env.DB_POOL ?? 16),
  connectionTimeoutMillis: 10_000,
  // As weir sets it: no idle timer per query (weir closes idle connections with a sweep of its own).
  idleTimeoutMillis: 0,
  application_name: 'weir-bench',
});
// An idle connection that dies emits 'error' on the pool; weir ignores it the same way.
pool.on('error', () => {});

const SELECT_WORLD = 'SELECT id, randomnumber AS "randomNumber" FROM world WHERE id = $1';

const randomId = () => 1 + Math.floor(Math.random() * WORLD_SIZE);

/** The `count` rule, as `queries`: an integer clamped to 1…500; missing or unparsable → 1. */
export function countParam(value) {
  const n = Number.parseInt(value ?? '', 10);
  if (Number.isNaN(n) || n < 1) return 1;
  return n > 500 ? 500 : n;
}

const readWorld = (id) =>
  pool.query({ name: 'world', text: SELECT_WORLD, values: [id] }).then((r) => r.rows[0]);

/** The cache: id → World row. */
const worlds = new Map();
/** Rows being read from PostgreSQL: id → the promise of the row, shared by concurrent misses. */
const loading = new Map();

function load(id) {
  let row = loading.get(id);
  if (row === undefined) {
    row = readWorld(id).then(
      (world) => {
        worlds.set(id, world);
        loading.delete(id);
        return world;
      },
      (err) => {
        loading.delete(id);
        throw err;
      },
    );
    loading.set(id, row);
  }
  return row;
}

/** GET /db (the runner's readiness probe): one random row, uncached. */
export const db = () => readWorld(randomId());

/**
 * GET /cached-queries?count=N: N random rows from the Map, those it lacks read from PostgreSQL first. The
 * array itself when every row is a hit, a promise of it otherwise.
 */
export function cachedQueries(count) {
  const rows = new Array(count);
  const misses = [];
  for (let i = 0; i < count; i++) {
    const id = randomId();
    const world = worlds.get(id);
    if (world !== undefined) rows[i] = world;
    else
      misses.push(
        load(id).then((w) => {
          rows[i] = w;
        }),
      );
  }
  return misses.length === 0 ? rows : Promise.all(misses).then(() => rows);
}
