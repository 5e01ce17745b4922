// The HTTP side shared by the database-driver servers (node-pg, node-pg-clients, node-postgresjs): raw
// node:http with TechEmpower's /db and /queries, so that the driver is the only thing that differs.
import { createServer } from 'node:http';
import { countOf, notFound, send as sendAs } from './raw-http.mjs';

const send = (res, status, body, server) => sendAs(res, status, 'application/json', body, server);

export const SELECT_WORLD = 'SELECT id, randomnumber AS "randomNumber" FROM world WHERE id = $1';

/** Connection settings from the environment; the runner points them at its own database. */
export const db = {
  host: process.env.DB_HOST ?? '127.0.0.1',
  port: Number(process.env.DB_PORT ?? 5432),
  user: process.env.DB_USER ?? 'postgres',
  database: process.env.DB_NAME ?? 'weir_bench_drivers',
  poolSize: Number(process.env.DB_POOL ?? 16),
};

const WORLD_ROWS = 10_000;
const randomId = () => 1 + Math.floor(Math.random() * WORLD_ROWS);

/**
 * Serves /db and /queries with `findWorld(id)` (a Promise of { id, randomNumber }) on PORT. /stats gives
 * the requests completed so far, which the runner samples to see throughput change during a run.
 */
export function serve(name, findWorld) {
  const port = Number(process.env.PORT ?? 3000);
  const stats = { completed: 0, failed: 0 };

  const answer = (res, promise) =>
    promise.then(
      (value) => {
        send(res, 200, JSON.stringify(value), name);
        stats.completed++;
      },
      (err) => {
        send(res, 500, JSON.stringify({ error: String(err?.message ?? err) }), name);
        stats.failed++;
      },
    );

  const server = createServer((req, res) => {
    const url = req.url;
    if (url === '/db') {
      answer(res, findWorld(randomId()));
    } else if (url.startsWith('/queries')) {
      const n = countOf(url);
      const pending = new Array(n);
      for (let i = 0; i < n; i++) pending[i] = findWorld(randomId());
      answer(res, Promise.all(pending));
    } else if (url === '/stats') {
      send(res, 200, JSON.stringify(stats), name);
    } else {
      notFound(res, name);
    }
  });

  server.listen(port, '127.0.0.1', () => {
    console.log(`${name} listening on http://127.0.0.1:${port}`);
  });
}
