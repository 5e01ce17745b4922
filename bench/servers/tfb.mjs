// The TechEmpower database tests as the weir reference service does them (examples/service/techempower.ts),
// for the servers that compare against it (fastify-db.mjs, node-db.mjs): the same SQL, the same pg.Pool
// settings as weir's PostgreSQL layer (src/db/postgres.ts), the same logic. Only the HTTP side differs.
import pg from 'pg';

export const WORLD_SIZE = 10_000;

/** The database from DATABASE_URL (a postgres:// URL), with weir's pool settings; DB_POOL connections. */
export const pool = new pg.Pool({
  connectionString: process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/weir_bench_tfb',
  max: Number(process.env.DB_POOL ?? 16),
  connectionTimeoutMillis: 10_000,
  idleTimeoutMillis: 30_000,
  application_name: 'weir-bench',
});
// An idle connection that dies emits 'error' on the pool; weir ignores it the same way.
pool.on('error', () => {});

// Named prepared statements, as weir sends every query: parsed and planned once per connection.
const SELECT_WORLD = 'SELECT id, randomnumber AS "randomNumber" FROM world WHERE id = $1';
const SELECT_FORTUNES = 'SELECT id, message FROM fortune';
const UPDATE_WORLDS = `
      UPDATE world SET randomnumber = u.n
      FROM (SELECT unnest($1::int[]) AS id, unnest($2::int[]) AS n) AS u
      WHERE world.id = u.id`;

const randomId = () => 1 + Math.floor(Math.random() * WORLD_SIZE);

/** The `queries` rule: an integer clamped to 1…500; missing or unparsable → 1. */
export function queriesParam(value) {
  const n = Number.parseInt(value ?? '', 10);
  if (Number.isNaN(n) || n < 1) return 1;
  return n > 500 ? 500 : n;
}

const readWorld = () =>
  pool.query({ name: 'world', text: SELECT_WORLD, values: [randomId()] }).then((r) => r.rows[0]);

const readWorlds = (count) => Promise.all(Array.from({ length: count }, readWorld));

const ESCAPES = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };
const escapeHtml = (text) => text.replace(/[&<>"']/g, (c) => ESCAPES[c]);

/** GET /db: one random row. */
export const db = readWorld;

/** GET /queries?queries=N: N random rows, read concurrently. */
export const queries = (count) => readWorlds(count);

/** GET /fortunes: the page, sorted and escaped on each request. */
export async function fortunes() {
  const { rows } = await pool.query({ name: 'fortunes', text: SELECT_FORTUNES, values: [] });
  rows.push({ id: 0, message: 'Additional fortune added at request time.' });
  rows.sort((a, b) => (a.message < b.message ? -1 : a.message > b.message ? 1 : 0));
  let html = '';
  for (const f of rows) html += `<tr><td>${f.id}</td><td>${escapeHtml(f.message)}</td></tr>`;
  return `<!DOCTYPE html><html><head><title>Fortunes</title></head><body><table><tr><th>id</th><th>message</th></tr>${html}</table></body></html>`;
}

/** GET /updates?queries=N: N rows read concurrently, new numbers written back in one statement (ids sorted). */
export async function updates(count) {
  const worlds = await readWorlds(count);
  for (const world of worlds) world.randomNumber = randomId();
  const sorted = [...new Map(worlds.map((w) => [w.id, w.randomNumber])).entries()].sort(
    (a, b) => a[0] - b[0],
  );
  await pool.query({
    name: 'update_worlds',
    text: UPDATE_WORLDS,
    values: [sorted.map(([id]) => id), sorted.map(([, n]) => n)],
  });
  return worlds;
}
