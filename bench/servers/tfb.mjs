// The TechEmpower database tests as the weir reference service does them (examples/service/techempower.ts),
// for the servers that compare against it (fastify-db.mjs, node-db.mjs): the same SQL, the same pg.Pool
// settings as weir's PostgreSQL layer (src/db/postgres.ts), the same logic. Only the HTTP side differs.
//
// DB_PATH picks the pg calls each query makes:
//   weir        (default) weir's own path (src/db/postgres-state.ts, #take/#submit): pool.connect(callback)
//               for a client, `new pg.Query(text, values, callback)` with `.name` set, client.query(query),
//               and the client handed back from the query's callback with done(broken)
//   pool-query  pg's convenience call, pool.query({ name, text, values }): pg's own connect, promise and
//               copy of the config per query (the path weir measured as slower and left)
import pg from 'pg';

export const WORLD_SIZE = 10_000;

/** Which pg calls a query makes (see above). */
export const PATH = process.env.DB_PATH ?? 'weir';
if (PATH !== 'weir' && PATH !== 'pool-query')
  throw new Error(`DB_PATH must be weir or pool-query, not ${PATH}`);

/**
 * `int8` as a number, as weir's pool parses it (src/db/postgres.ts, typeParser()): weir hands pg this
 * getTypeParser, which pg calls once per column of every result; these tests read int4 and text only.
 */
function getTypeParser(oid, format) {
  if (format !== 'binary' && oid === 20) return Number;
  return pg.types.getTypeParser(oid, format);
}

/** The database from DATABASE_URL (a postgres:// URL), with weir's pool settings; DB_POOL connections. */
export const pool = new pg.Pool({
  connectionString: process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/weir_bench_tfb',
  max: Number(process.env.DB_POOL ?? 16),
  connectionTimeoutMillis: 10_000,
  // As weir sets it: no idle timer per query (weir closes idle connections with a sweep of its own).
  idleTimeoutMillis: 0,
  application_name: 'weir-bench',
  types: { getTypeParser },
});
// An idle connection that dies emits 'error' on the pool; weir ignores it the same way. A checked-out one
// emits it on the client, which weir listens to on every connection, so neither crashes the process.
pool.on('error', () => {});
pool.on('connect', (client) => client.on('error', () => {}));

/** A query as weir runs it: a pooled client, a named pg.Query on it, the client handed back when it settles. */
function weirPath(name, text, values) {
  return new Promise((resolve, reject) => {
    pool.connect((connectError, client, done) => {
      if (connectError) {
        reject(connectError);
        return;
      }
      const query = new pg.Query(text, values, (error, result) => {
        // An error the server reported leaves the connection usable; any other one (a socket) breaks it.
        done(error && !(error instanceof pg.DatabaseError) ? error : undefined);
        if (error) reject(error);
        else resolve(result);
      });
      query.name = name;
      client.query(query);
    });
  });
}

const poolQuery = (name, text, values) => pool.query({ name, text, values });

/** Runs the named prepared statement `name` (`text`) with `values`: resolves to pg's result. */
const run = PATH === 'weir' ? weirPath : poolQuery;

// Named prepared statements, as weir sends every query: parsed and planned once per connection.
const SELECT_WORLD = 'SELECT id, randomnumber AS "randomNumber" FROM world WHERE id = $1';
const SELECT_FORTUNES = 'SELECT id, message FROM fortune';
const UPDATE_WORLDS = `
      UPDATE world SET randomnumber = u.n
      FROM (SELECT unnest($1::int[]) AS id, unnest($2::int[]) AS n) AS u
      WHERE world.id = u.id`;
const NO_VALUES = [];

const randomId = () => 1 + Math.floor(Math.random() * WORLD_SIZE);

/** The `queries` rule: an integer clamped to 1…500; missing or unparsable → 1. */
export function queriesParam(value) {
  const n = Number.parseInt(value ?? '', 10);
  if (Number.isNaN(n) || n < 1) return 1;
  return n > 500 ? 500 : n;
}

const readWorld = () => run('world', SELECT_WORLD, [randomId()]).then((r) => r.rows[0]);

const readWorlds = (count) => Promise.all(Array.from({ length: count }, readWorld));

const ESCAPES = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };
const escapeHtml = (text) => text.replace(/[&<>"']/g, (c) => ESCAPES[c]);

/** GET /db: one random row. */
export const db = readWorld;

/** GET /queries?queries=N: N random rows, read concurrently. */
export const queries = (count) => readWorlds(count);

/** GET /fortunes: the page, sorted and escaped on each request. */
export async function fortunes() {
  const { rows } = await run('fortunes', SELECT_FORTUNES, NO_VALUES);
  rows.push({ id: 0, message: 'Additional fortune added at request time.' });
  rows.sort((a, b) => (a.message < b.message ? -1 : a.message > b.message ? 1 : 0));
  let html = '';
  for (const f of rows) html += `<tr><td>${f.id}</td><td>${escapeHtml(f.message)}</td></tr>`;
  return `<!DOCTYPE html><html><head><title>Fortunes</title></head><body><table><tr><th>id</th><th>message</th></tr>${html}</table></body></html>`;
}

/**
 * GET /updates?queries=N: N rows read concurrently, new numbers written back in one statement (ids sorted).
 * An id drawn twice gets one new number, as in the reference service, so every row answered is the one
 * stored.
 */
export async function updates(count) {
  const worlds = await readWorlds(count);
  const numbers = new Map();
  for (const world of worlds) {
    const n = numbers.get(world.id) ?? randomId();
    numbers.set(world.id, n);
    world.randomNumber = n;
  }
  const sorted = [...numbers.entries()].sort((a, b) => a[0] - b[0]);
  await run('update_worlds', UPDATE_WORLDS, [sorted.map(([id]) => id), sorted.map(([, n]) => n)]);
  return worlds;
}
