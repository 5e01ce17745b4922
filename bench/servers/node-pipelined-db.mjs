// An experiment for bench/db.mjs, not a peer of the same path: raw node:http whose /queries sends its N
// SELECTs pipelined on ONE connection, with postgres.js (the `postgres` package). Per request it reserves a
// connection of its pool (sql.reserve()), hands it every query at once (postgres.js writes them one after
// another without waiting for the answers, up to 100 in flight, the rest as answers come), and releases it
// when the last has answered. The pg path (weir's) instead spreads the N queries over the pool, one at a
// time per connection. /db is one query on the pool. DATABASE_URL, DB_POOL connections (named prepared
// statements, as weir's). Same headers as node-db.mjs.
import { createServer } from 'node:http';
import postgres from 'postgres';
import { countOf, notFound, sendJson } from './raw-http.mjs';

const port = Number(process.env.PORT ?? 3000);
const WORLD_SIZE = 10_000;

const sql = postgres(process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/weir_bench_tfb', {
  max: Number(process.env.DB_POOL ?? 16),
  prepare: true,
  connection: { application_name: 'weir-bench' },
  onnotice: () => {},
});

const randomId = () => 1 + Math.floor(Math.random() * WORLD_SIZE);

// The same text as weir's: postgres.js turns ${id} into $1 and prepares it once per connection.
const readWorld = (q) =>
  q`SELECT id, randomnumber AS "randomNumber" FROM world WHERE id = ${randomId()}`.then((rows) => rows[0]);

/** N rows, every query sent at once on one reserved connection. */
async function pipelined(count) {
  const connection = await sql.reserve();
  try {
    return await Promise.all(Array.from({ length: count }, () => readWorld(connection)));
  } finally {
    connection.release();
  }
}

const server = createServer((req, res) => {
  const url = req.url;
  const q = url.indexOf('?');
  const path = q === -1 ? url : url.slice(0, q);
  if (path === '/db') sendJson(res, readWorld(sql));
  else if (path === '/queries') sendJson(res, pipelined(countOf(url)));
  else notFound(res);
});

server.listen(port, '127.0.0.1', () => {
  console.log(`node:http + postgres.js, pipelined (db) listening on http://127.0.0.1:${port}`);
});
process.once('SIGTERM', () => {
  server.close();
  void sql.end({ timeout: 1 }).finally(() => process.exit(0));
});
